import { ENV, WEB_ENV } from './env.ts';
import { RETRY_BASE_SECONDS } from './function-settings.ts';
import * as z from './zod.ts';

const PRODUCT_CODE_SOURCES = ['sku', 'code', 'id'] as const;
export type ProductCodeSource = (typeof PRODUCT_CODE_SOURCES)[number];

/**
 * The order the example stage and the local stack use: the barcode first, as labels are bound to
 * their products by scanning it.
 */
export const DEFAULT_PRODUCT_CODE_PRECEDENCE = 'code,sku,id';

/** A comma-separated order of Clover fields to take the product code from, as a list. */
export const productCodeOrder = z.transform((raw: string, ctx) => {
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const bad = parts.filter((p) => !(PRODUCT_CODE_SOURCES as readonly string[]).includes(p));
  if (parts.length === 0 || bad.length > 0) {
    ctx.issues.push({
      code: 'custom',
      message: `must list some of ${PRODUCT_CODE_SOURCES.join(', ')}`,
      input: raw,
    });
    return z.NEVER;
  }
  return parts as ProductCodeSource[];
});
/**
 * No default: a change moves every label to another product code (each product deleted under its
 * old code, which unbinds its label), so each stage names its own.
 */
const productCodePrecedence = z.pipe(
  z.string({
    error:
      `required: the Clover fields the product code is taken from, in order, e.g. "${DEFAULT_PRODUCT_CODE_PRECEDENCE}" ` +
      '(the barcode first). Keep the order a deployed stage already uses: one deployed without this ' +
      'setting used "sku,code,id"',
  }),
  productCodeOrder,
);

const url = z.pipe(
  z.url(),
  z.transform((u: string) => u.replace(/\/+$/, '')),
);

/**
 * The defaults of the settings a stage may leave out, stated once: the functions' configuration,
 * the sync settings and `npm start` (which leaves such a variable empty) all take them from here.
 */
export const CONFIG_DEFAULTS = {
  hipoinkClientId: 'default',
  pollIntervalSeconds: 120,
  safetyPollIntervalMinutes: 15,
  fanOutPeriodSeconds: 60,
  tokenMaxAgeMinutes: 60,
  tokenRefreshThresholdMinutes: 15,
  tokenRefreshBufferMinutes: 5,
  tokenRefreshIntervalMinutes: 10,
  hipoinkChunkSize: 200,
  retryBaseSeconds: RETRY_BASE_SECONDS,
  cloverRequestsPerSecond: 50,
} as const;
const D = CONFIG_DEFAULTS;

/** Everything the handlers read from the environment, parsed once per cold start. */
export const ConfigSchema = z.object({
  merchantsTable: z.string().check(z.minLength(1)),
  productsTable: z.string().check(z.minLength(1)),
  pollQueueUrl: z.string().check(z.minLength(1)),
  pushQueueUrl: z.string().check(z.minLength(1)),
  pollDlqUrl: z.optional(z.string().check(z.minLength(1))),
  pushDlqUrl: z.optional(z.string().check(z.minLength(1))),
  appSecretId: z.string().check(z.minLength(1)),
  hipoinkSecretId: z.string().check(z.minLength(1)),
  cloverApiBaseUrl: url,
  hipoinkBaseUrl: url,
  hipoinkClientId: z._default(z.string().check(z.minLength(1)), D.hipoinkClientId),
  pollIntervalSeconds: z._default(z.coerce.number().check(z.int(), z.positive()), D.pollIntervalSeconds),
  safetyPollIntervalMinutes: z._default(
    z.coerce.number().check(z.int(), z.minimum(1), z.maximum(1440)),
    D.safetyPollIntervalMinutes,
  ),
  // At most 2 min: a run looks 1.5 periods back, within SQS FIFO deduplication's 5 minutes.
  fanOutPeriodSeconds: z._default(
    z.coerce.number().check(z.positive(), z.maximum(120)),
    D.fanOutPeriodSeconds,
  ),
  tokenMaxAgeMinutes: z._default(z.coerce.number().check(z.int(), z.positive()), D.tokenMaxAgeMinutes),
  tokenRefreshThresholdMinutes: z._default(
    z.coerce.number().check(z.int(), z.minimum(1), z.maximum(120)),
    D.tokenRefreshThresholdMinutes,
  ),
  // Never plan a refresh closer than 1 minute to expiry.
  tokenRefreshBufferMinutes: z._default(
    z.coerce.number().check(z.minimum(1), z.maximum(120)),
    D.tokenRefreshBufferMinutes,
  ),
  tokenRefreshIntervalMinutes: z._default(
    z.coerce.number().check(z.positive(), z.maximum(1440)),
    D.tokenRefreshIntervalMinutes,
  ),
  hipoinkChunkSize: z._default(
    z.coerce.number().check(z.int(), z.minimum(1), z.maximum(1000)),
    D.hipoinkChunkSize,
  ),
  retryBaseSeconds: z._default(
    z.coerce.number().check(z.int(), z.minimum(1), z.maximum(900)),
    D.retryBaseSeconds,
  ),
  cloverRequestsPerSecond: z._default(
    z.coerce.number().check(z.int(), z.minimum(2), z.maximum(50)),
    D.cloverRequestsPerSecond,
  ),
  productCodePrecedence,
});
export type Config = z.infer<typeof ConfigSchema>;

/** Parses the variables `names` maps to config keys with `schema`, naming the variable at fault. */
function parseEnv<S extends z.ZodMiniType>(
  schema: S,
  names: Record<string, string>,
  env: NodeJS.ProcessEnv,
): z.infer<S> {
  const raw = Object.fromEntries(
    Object.entries(names).map(([key, name]) => [key, env[name] === '' ? undefined : env[name]]),
  );
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${names[String(i.path[0])] ?? i.path.join('.')}: ${i.message}`)
      .join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return parsed.data;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(ConfigSchema, ENV, env);
}

/**
 * What the web function reads: the merchants table, the poll queue (webhook notices queue polls),
 * the secrets, Clover's two hosts, the budget.
 */
export const WebConfigSchema = z.extend(
  z.pick(ConfigSchema, {
    merchantsTable: true,
    pollQueueUrl: true,
    appSecretId: true,
    cloverApiBaseUrl: true,
    cloverRequestsPerSecond: true,
  }),
  {
    cloverOauthBaseUrl: url,
    stateKeySecretId: z.string().check(z.minLength(1)),
    webBaseUrl: z.optional(url),
  },
);
export type WebConfig = z.infer<typeof WebConfigSchema>;

export function loadWebConfig(env: NodeJS.ProcessEnv = process.env): WebConfig {
  return parseEnv(WebConfigSchema, { ...ENV, ...WEB_ENV }, env);
}

/** Tuning of the sync rules; defaults are the product's, tests shorten them. */
export interface SyncSettings {
  /** Refresh the access token when it expires within this many seconds (15 min by default). */
  refreshThresholdSeconds: number;
  /** How long a refresh lease is held before another worker may take over. */
  refreshLeaseMs: number;
  /** How long a worker waits for another worker's refresh before giving up for now. */
  refreshWaitMs: number;
  /** Clover page size (max 1000). */
  pageLimit: number;
  /** Re-read window behind the cursor, for items committed late with an older modifiedTime. */
  overlapMs: number;
  /** Ghost cleanup after this many polls without one (every 10th poll by default)... */
  cleanupEveryPolls: number;
  /** ...or after this many hours (24 by default). */
  cleanupIntervalHours: number;
  /** How many products one Hipoink create_multiple/del_multiple call carries. */
  hipoinkChunkSize: number;
  /** Clover requests per second for one merchant (Clover allows 16 per token; headroom kept). */
  merchantRequestsPerSecond: number;
  /** Product writes one poll or push keeps in flight (DynamoDB; each is a small conditional write). */
  storeWriteConcurrency: number;
}

export const DEFAULT_SYNC_SETTINGS: SyncSettings = {
  refreshThresholdSeconds: D.tokenRefreshThresholdMinutes * 60,
  // Well beyond one refresh (15 s HTTP timeout, a budget wait, the pair's write with retries), so
  // a lease only expires for a worker that died, never for one whose answer is still coming.
  refreshLeaseMs: 120_000,
  refreshWaitMs: 20_000,
  pageLimit: 1000,
  overlapMs: 2 * 60_000,
  cleanupEveryPolls: 10,
  cleanupIntervalHours: 24,
  hipoinkChunkSize: D.hipoinkChunkSize,
  merchantRequestsPerSecond: 12,
  storeWriteConcurrency: 16,
};
