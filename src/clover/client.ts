import {
  AuthorizationCodeRejectedError,
  CloverApiError,
  CloverAppRefusedError,
  CloverPausedError,
  CloverUnauthorizedError,
  InvalidResponseError,
  RefreshRejectedError,
} from '../errors.ts';
import { isHttpError, isTimeoutError, lazyHttpClient, RETRIED_STATUS_CODES } from '../http.ts';
import type * as z from '../zod.ts';
import { ItemsPageSchema, type TokenPair, TokenPairSchema } from './schemas.ts';

export interface ListItemsQuery {
  /** Items with modifiedTime >= this (Unix ms); omitted = every item. */
  modifiedSince?: number;
  limit: number;
  offset: number;
}

export interface CloverClient {
  /** One page of items ordered by modifiedTime ASC, as raw objects (validated by the caller, item by item). */
  listItems(merchantId: string, accessToken: string, query: ListItemsQuery): Promise<unknown[]>;
  /** One item, or null when Clover answers 404 (deleted). */
  getItem(merchantId: string, accessToken: string, itemId: string): Promise<unknown | null>;
  /** Exchanges a single-use refresh token for a new pair. Never retried automatically. */
  refreshTokens(clientId: string, refreshToken: string, merchantId: string): Promise<TokenPair>;
  /**
   * High-trust apps only: exchanges the refresh token *preceding* the current one (the recovery
   * token) for a new pair, for when Clover rotated the pair but the new one was lost.
   */
  recoverTokens(
    clientId: string,
    clientSecret: string,
    recoveryToken: string,
    merchantId: string,
  ): Promise<TokenPair>;
}

/** The authorization-code exchange of Clover's connect flow (high-trust apps). */
export interface CloverCodeExchange {
  /**
   * Exchanges a single-use authorization code for the merchant's first token pair. Never retried
   * automatically. A code Clover refuses is an AuthorizationCodeRejectedError; refused app
   * credentials are a CloverAppRefusedError.
   */
  exchangeCode(clientId: string, clientSecret: string, code: string, merchantId: string): Promise<TokenPair>;
}

export interface CloverClientOptions {
  baseUrl: string;
  timeoutMs?: number;
  /** Retries of idempotent GETs on 429/5xx; Retry-After is honoured, delays are jittered. */
  retryLimit?: number;
  /** Cap on backoff between retries (ms). */
  backoffLimitMs?: number;
  /** Observes every 429 (for metrics). */
  onRateLimited?: (info: { merchantId: string; retryAfter: string | null }) => void;
  /** Where every request attempt waits for its turn, and hears of every 429 (the app-wide budget). */
  gate?: RequestGate;
  fetch?: typeof fetch;
}

/**
 * What every attempt passes through: a first try and each retry alike takes its place before it
 * is sent, and every 429 is reported (with its retry-after, in ms) before any retry waits, so
 * the whole app can hold back, not only the request that was refused.
 */
export interface RequestGate {
  beforeAttempt(kind: 'read' | 'token'): Promise<void>;
  rateLimited(retryAfterMs: number | undefined): Promise<void>;
}

/**
 * The longest a request waits for Clover's retry-after (in ky and in the app-wide budget): a longer
 * one fails the attempt instead (the poll's cursor holds; SQS brings it back later). The poller's
 * timeout and its poll start margin budget for waits up to this.
 */
export const MAX_RETRY_AFTER_MS = 20_000;

/** From this on, a number in `retry-after` is a time (Unix seconds), not a delay: as ky reads it. */
const RETRY_AT_FROM_MS = Date.parse('2024-01-01');

/**
 * A `retry-after` header as milliseconds: delta-seconds, a time in Unix seconds, or an HTTP date;
 * undefined if absent or unreadable.
 */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds))
    return Math.max(0, seconds * 1000 >= RETRY_AT_FROM_MS ? seconds * 1000 - now : seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function createCloverClient(options: CloverClientOptions): CloverClient & CloverCodeExchange {
  const http = lazyHttpClient({
    prefixUrl: options.baseUrl,
    timeout: options.timeoutMs ?? 15_000,
    throwHttpErrors: true,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    hooks: {
      beforeRequest: options.gate
        ? [
            async (request) => {
              await options.gate?.beforeAttempt(request.method === 'GET' ? 'read' : 'token');
            },
          ]
        : [],
      afterResponse: options.gate
        ? [
            async (_request, _options, response) => {
              if (response.status === 429)
                await options.gate?.rateLimited(retryAfterMs(response.headers.get('retry-after')));
            },
          ]
        : [],
      // Count every 429, including the ones a retry later gets past (the last one is counted where
      // the error is mapped).
      beforeRetry: [
        ({ request, error }) => {
          if (isHttpError(error) && error.response.status === 429) {
            const merchantId = /\/merchants\/([^/]+)/.exec(new URL(request.url).pathname)?.[1] ?? 'unknown';
            options.onRateLimited?.({ merchantId, retryAfter: error.response.headers.get('retry-after') });
          }
        },
      ],
    },
    retry: {
      limit: options.retryLimit ?? 4,
      methods: ['get'],
      statusCodes: RETRIED_STATUS_CODES,
      afterStatusCodes: [413, 429, 503],
      // ky would retry after at most this even when Clover asks for longer; `shouldRetry` gives up
      // on such a 429 instead, and on a request the app-wide pause would hold longer.
      maxRetryAfter: MAX_RETRY_AFTER_MS,
      shouldRetry: ({ error }) =>
        error instanceof CloverPausedError ||
        (isHttpError(error) &&
          error.response.status === 429 &&
          (retryAfterMs(error.response.headers.get('retry-after')) ?? 0) > MAX_RETRY_AFTER_MS)
          ? false
          : undefined,
      backoffLimit: options.backoffLimitMs ?? 10_000,
      jitter: true,
    },
  });

  const wrap = async <T>(merchantId: string, operation: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw toCloverError(err, merchantId, operation, options.onRateLimited);
    }
  };

  const parse = <S extends z.ZodMiniType>(
    schema: S,
    body: unknown,
    merchantId: string,
    operation: string,
  ) => {
    const result = schema.safeParse(body);
    if (!result.success) {
      throw new InvalidResponseError(
        `Clover ${operation} answered an unexpected body: ${result.error.message}`,
        {
          merchantId,
          operation,
        },
      );
    }
    return result.data as z.infer<S>;
  };

  /**
   * Token endpoints spend single-use tokens or codes: never retried automatically. `refused` is the
   * error for an answer saying the token or code itself is no good.
   */
  const tokenCall = async (
    path: string,
    json: Record<string, string>,
    merchantId: string,
    operation: string,
    refused: (status: number, body: Record<string, unknown>) => Error | undefined,
  ) => {
    try {
      const body = await (await http()).post(path, { json, retry: 0 }).json();
      return parse(TokenPairSchema, body, merchantId, operation);
    } catch (err) {
      if (isHttpError(err) && (err.response.status === 400 || err.response.status === 401)) {
        const status = err.response.status;
        // A refused app (wrong client_id/secret) is our configuration, not the merchant's token:
        // it must not push the merchant into needs_reauth.
        const body = (await err.response.json().catch(() => ({}))) as Record<string, unknown>;
        if (body.error === 'invalid_client') {
          throw new CloverAppRefusedError(
            `Clover refused the app credentials at ${operation}: check the app secret`,
            { merchantId, operation, status },
          );
        }
        const rejection = refused(status, body);
        if (rejection) throw rejection;
        throw new CloverApiError(
          `Clover answered HTTP ${status} at ${operation} without saying the token is invalid`,
          { merchantId, operation, status },
        );
      }
      if (err instanceof InvalidResponseError) throw err;
      throw toCloverError(err, merchantId, operation);
    }
  };

  // Only an answer about the token itself means the merchant must re-authorize (reference); a
  // gateway's bare 401, an HTML page or a complaint about our request must not lock a healthy
  // merchant out.
  const tokenRejected =
    (operation: string, merchantId: string) => (status: number, body: Record<string, unknown>) =>
      rejectsTheToken(body)
        ? new RefreshRejectedError(`Clover rejected the token at ${operation} (HTTP ${status})`, {
            merchantId,
            operation,
            status,
          })
        : undefined;

  return {
    async listItems(merchantId, accessToken, query) {
      const search = new URLSearchParams();
      if (query.modifiedSince !== undefined) search.append('filter', `modifiedTime>=${query.modifiedSince}`);
      search.set('orderBy', 'modifiedTime ASC');
      search.set('limit', String(query.limit));
      search.set('offset', String(query.offset));
      const body = await wrap(merchantId, 'listItems', async () =>
        (await http())
          .get(`v3/merchants/${encodeURIComponent(merchantId)}/items`, {
            searchParams: search,
            headers: { authorization: `Bearer ${accessToken}` },
          })
          .json(),
      );
      return parse(ItemsPageSchema, body, merchantId, 'listItems').elements;
    },

    async getItem(merchantId, accessToken, itemId) {
      try {
        return await wrap(merchantId, 'getItem', async () =>
          (await http())
            .get(`v3/merchants/${encodeURIComponent(merchantId)}/items/${encodeURIComponent(itemId)}`, {
              headers: { authorization: `Bearer ${accessToken}` },
            })
            .json(),
        );
      } catch (err) {
        if (err instanceof CloverApiError && err.context.status === 404) return null;
        throw err;
      }
    },

    refreshTokens(clientId, refreshToken, merchantId) {
      return tokenCall(
        'oauth/v2/refresh',
        { client_id: clientId, refresh_token: refreshToken },
        merchantId,
        'refreshTokens',
        tokenRejected('refreshTokens', merchantId),
      );
    },

    recoverTokens(clientId, clientSecret, recoveryToken, merchantId) {
      // Body fields as our simulator models them; Clover's tutorial "Reauthenticate with a
      // recovery token" is the authority for the exact shape.
      return tokenCall(
        'oauth/v2/recovery',
        { client_id: clientId, client_secret: clientSecret, recovery_token: recoveryToken },
        merchantId,
        'recoverTokens',
        tokenRejected('recoverTokens', merchantId),
      );
    },

    exchangeCode(clientId, clientSecret, code, merchantId) {
      // Nothing is at stake but this one sign-in, so any 400/401 short of a refused app means the
      // code (used, expired, issued to another app) is no good: the merchant starts again.
      return tokenCall(
        'oauth/v2/token',
        { client_id: clientId, client_secret: clientSecret, code },
        merchantId,
        'exchangeCode',
        (status) =>
          new AuthorizationCodeRejectedError(`Clover refused the authorization code (HTTP ${status})`, {
            merchantId,
            operation: 'exchangeCode',
            status,
          }),
      );
    },
  };
}

/** An invalid_grant-style answer: Clover says the refresh/recovery token itself is no good. */
function rejectsTheToken(body: Record<string, unknown>): boolean {
  const code = [body.error, body.code].find((v) => typeof v === 'string');
  if (typeof code === 'string' && /^invalid_(grant|token)$/i.test(code)) return true;
  const text = [body.message, body.error_description].filter((v) => typeof v === 'string').join(' ');
  return /\b(refresh|recovery)[ _]?token\b.*\b(invalid|expired|revoked|used|unknown)\b|\b(invalid|expired|revoked|unknown)\b.*\b(refresh|recovery)[ _]?token\b/i.test(
    text,
  );
}

function toCloverError(
  err: unknown,
  merchantId: string,
  operation: string,
  onRateLimited?: CloverClientOptions['onRateLimited'],
): Error {
  if (isHttpError(err)) {
    const status = err.response.status;
    if (status === 429) onRateLimited?.({ merchantId, retryAfter: err.response.headers.get('retry-after') });
    if (status === 401) {
      return new CloverUnauthorizedError(`Clover rejected the access token during ${operation}`, {
        merchantId,
        operation,
        status,
      });
    }
    // Said as what it is: operators read it in status, where "failed" would send them to Clover's health.
    const what =
      status === 429
        ? 'was refused for the rate limit (HTTP 429: the app asked more of Clover than it allows)'
        : `failed with HTTP ${status}`;
    return new CloverApiError(`Clover ${operation} ${what}`, {
      merchantId,
      operation,
      status,
    });
  }
  // `.json()` on a 2xx body that is not JSON (a proxy's error page, a truncated reply).
  if (err instanceof SyntaxError) {
    return new InvalidResponseError(`Clover ${operation} answered a body that is not JSON`, {
      merchantId,
      operation,
    });
  }
  if (isTimeoutError(err)) {
    return new CloverApiError(`Clover ${operation} timed out`, { merchantId, operation });
  }
  if (err instanceof CloverApiError || err instanceof InvalidResponseError) return err;
  // Network failures carry the URL but never the Authorization header; keep only the message.
  const message = err instanceof Error ? err.message : String(err);
  return new CloverApiError(`Clover ${operation} failed: ${message}`, { merchantId, operation });
}
