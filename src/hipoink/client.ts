import { HipoinkApiError, HipoinkRejectedError, InvalidResponseError } from '../errors.ts';
import { isHttpError, isTimeoutError, lazyHttpClient, RETRIED_STATUS_CODES } from '../http.ts';
import {
  envelope,
  HIPOINK_PATHS,
  type HipoinkProduct,
  type HipoinkResponse,
  HipoinkResponseSchema,
} from './fields.ts';

export interface HipoinkClient {
  create(storeCode: string, product: HipoinkProduct): Promise<void>;
  createMultiple(storeCode: string, products: readonly HipoinkProduct[]): Promise<void>;
  deleteMultiple(storeCode: string, codes: readonly string[]): Promise<number | undefined>;
}

export interface HipoinkClientOptions {
  baseUrl: string;
  clientId: string;
  /** The integrator's sign: a credential, read from Secrets Manager, never logged. */
  sign: () => Promise<string>;
  timeoutMs?: number;
  retryLimit?: number;
  backoffLimitMs?: number;
  fetch?: typeof fetch;
}

export function createHipoinkClient(options: HipoinkClientOptions): HipoinkClient {
  const http = lazyHttpClient({
    prefixUrl: `${options.baseUrl}/api/${encodeURIComponent(options.clientId)}`,
    timeout: options.timeoutMs ?? 10_000,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    // Hipoink writes are upserts and deletes by code: repeating one is harmless, so POSTs retry.
    retry: {
      limit: options.retryLimit ?? 3,
      methods: ['post'],
      statusCodes: RETRIED_STATUS_CODES,
      afterStatusCodes: [429, 503],
      backoffLimit: options.backoffLimitMs ?? 5_000,
      jitter: true,
    },
  });

  const call = async (
    path: string,
    storeCode: string,
    body: Record<string, unknown>,
  ): Promise<HipoinkResponse> => {
    const sign = await options.sign();
    let raw: unknown;
    try {
      raw = await (await http()).post(path, { json: { ...envelope(storeCode, sign), ...body } }).json();
    } catch (err) {
      if (isHttpError(err)) {
        throw new HipoinkApiError(`Hipoink ${path} failed with HTTP ${err.response.status}`, {
          storeCode,
          operation: path,
          status: err.response.status,
        });
      }
      // `.json()` on a 200 body that is not JSON: its message quotes the body, which may echo the envelope.
      if (err instanceof SyntaxError) {
        throw new InvalidResponseError(`Hipoink ${path} answered a body that is not JSON`, {
          storeCode,
          operation: path,
        });
      }
      const message = isTimeoutError(err) ? 'timed out' : err instanceof Error ? err.message : String(err);
      throw new HipoinkApiError(`Hipoink ${path} failed: ${message}`, { storeCode, operation: path });
    }
    const parsed = HipoinkResponseSchema.safeParse(raw);
    if (!parsed.success) {
      throw new InvalidResponseError(`Hipoink ${path} answered an unexpected body`, {
        storeCode,
        operation: path,
      });
    }
    // Hipoink reports failures with HTTP 200 and a non-zero error_code; only a zero is success
    // (an empty or blank code, which Number() reads as 0, is not).
    const answered = String(parsed.data.error_code);
    const blank = answered.trim() === '';
    if (blank || Number(answered) !== 0) {
      // Hipoink's answer is shown to operators; should it ever echo the sign, the sign goes no further.
      const redact = (text: string) => (sign === '' ? text : text.split(sign).join('[sign]'));
      const code = redact(answered);
      const msg = redact(parsed.data.error_msg ?? '');
      throw new HipoinkRejectedError(
        `Hipoink ${path} refused the request: error_code ${blank ? JSON.stringify(code) : code} ${msg}`.trim(),
        code,
        msg,
        { storeCode, operation: path },
      );
    }
    return parsed.data;
  };

  return {
    async create(storeCode, product) {
      await call(HIPOINK_PATHS.create, storeCode, { ...product });
    },
    async createMultiple(storeCode, products) {
      await call(HIPOINK_PATHS.createMultiple, storeCode, { f1: products });
    },
    async deleteMultiple(storeCode, codes) {
      const res = await call(HIPOINK_PATHS.deleteMultiple, storeCode, { f1: codes });
      return res.count;
    },
  };
}
