import { Token } from 'aws-cdk-lib';
import { ConfigSchema } from '../src/config.ts';
import { MAX_POLLER_CONCURRENCY, MIN_POLLER_CONCURRENCY, POLLER } from '../src/function-settings.ts';
import { StageSettingsError } from '../src/stage.ts';
import * as z from '../src/zod.ts';

export const CLOVER_REGIONS = ['na', 'eu', 'la'] as const;
export type CloverRegion = (typeof CLOVER_REGIONS)[number];
export const CLOVER_ENVIRONMENTS = ['sandbox', 'production'] as const;
export type CloverEnvironment = (typeof CLOVER_ENVIRONMENTS)[number];

function isHttpUrl(value: string): boolean {
  try {
    const { protocol, hostname } = new URL(value);
    return (protocol === 'https:' || protocol === 'http:') && hostname !== '';
  } catch {
    return false;
  }
}

/** The handlers' own rules (src/config.ts), so a value they would refuse at cold start fails the synth. */
const handlers = ConfigSchema.shape;

/**
 * What one deployed stack is told: committed per stage in config/<stage>.json, or given directly
 * to the stack (tests). Every key has the handlers' rule where they read it too; the stack adds
 * what only the infrastructure knows (schedules, concurrency, the Clover host).
 */
export const StageSettingsSchema = z
  .object({
    /** The Hipoink ESL server, e.g. https://esl.example-chain.com (no default: every stage has its own). */
    hipoinkBaseUrl: z
      .string({ error: 'required: the URL of this stage’s Hipoink ESL server' })
      .check(z.refine((v) => Token.isUnresolved(v) || isHttpUrl(v), 'must be an http(s) URL')),
    /** Hipoink `client_id` path segment. */
    hipoinkClientId: handlers.hipoinkClientId,
    /** Clover's sandbox or production hosts. */
    cloverEnvironment: z._default(
      z.enum(CLOVER_ENVIRONMENTS, { error: `must be one of ${CLOVER_ENVIRONMENTS.join(', ')}` }),
      'sandbox',
    ),
    /** Clover's production region (the sandbox has one host for all). */
    cloverRegion: z._default(
      z.enum(CLOVER_REGIONS, { error: `must be one of ${CLOVER_REGIONS.join(', ')}` }),
      'na',
    ),
    /** Seconds between scheduled polls; whole minutes, at least 60 (EventBridge's resolution). */
    pollIntervalSeconds: handlers.pollIntervalSeconds.check(
      z.refine((s) => s >= 60 && s % 60 === 0, 'must be a whole number of minutes (60, 120, …)'),
    ),
    /**
     * Concurrent poller invocations (each has one Clover request in flight at a time): 2 is SQS
     * event sources' minimum; above 10 the pollers alone would exceed Clover's 10 concurrent
     * requests per app.
     */
    pollerMaxConcurrency: z._default(
      z
        .number()
        .check(
          z.int(`must be a whole number between ${MIN_POLLER_CONCURRENCY} and ${MAX_POLLER_CONCURRENCY}`),
          z.minimum(
            MIN_POLLER_CONCURRENCY,
            `must be between ${MIN_POLLER_CONCURRENCY} and ${MAX_POLLER_CONCURRENCY}`,
          ),
          z.maximum(
            MAX_POLLER_CONCURRENCY,
            `must be between ${MIN_POLLER_CONCURRENCY} and ${MAX_POLLER_CONCURRENCY}`,
          ),
        ),
      POLLER.feed.maxConcurrency,
    ),
    /** Minutes between polls of a store whose webhook notices arrived within the last hour. */
    safetyPollIntervalMinutes: handlers.safetyPollIntervalMinutes,
    /** Minutes between runs of the backup token refresher (whole minutes 1–1440). */
    tokenRefreshIntervalMinutes: handlers.tokenRefreshIntervalMinutes.check(
      z.refine((m) => Number.isInteger(m) && m >= 1, 'must be a whole number from 1 to 1440'),
    ),
    /** The backup refresher also refreshes tokens last refreshed at least this many minutes ago. */
    tokenMaxAgeMinutes: handlers.tokenMaxAgeMinutes,
    /** Refresh access tokens expiring within this many minutes. */
    tokenRefreshThresholdMinutes: handlers.tokenRefreshThresholdMinutes,
    /** The backup refresher renews tokens before they come this close to expiry (1–120). */
    tokenRefreshBufferMinutes: handlers.tokenRefreshBufferMinutes,
    /** Products per Hipoink create_multiple / del_multiple call. */
    hipoinkChunkSize: handlers.hipoinkChunkSize,
    /** Clover requests per second for the whole app (Clover allows 50); item reads get 80% of it. */
    cloverRequestsPerSecond: handlers.cloverRequestsPerSecond,
    /** Which Clover fields the Hipoink product code comes from, in order, e.g. "code,sku,id" (required). */
    productCodePrecedence: handlers.productCodePrecedence,
    /** Email subscribed to the operator alarms' topic (optional; any SNS subscriber can be added). */
    alertEmail: z.optional(z.string()),
    /** A custom domain for the connect flow's web address, e.g. connect.example.com (with webCertificateArn). */
    webDomainName: z.optional(
      z
        .string()
        .check(
          z.refine(
            (v) => Token.isUnresolved(v) || /^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/i.test(v),
            'must be a host name such as connect.example.com',
          ),
        ),
    ),
    /** ARN of an ACM certificate in the stack's region covering webDomainName. */
    webCertificateArn: z.optional(z.string().check(z.minLength(1))),
  })
  .check(
    z.refine((s) => (s.webDomainName === undefined) === (s.webCertificateArn === undefined), {
      message: 'webDomainName and webCertificateArn go together: give both or neither',
      path: ['webDomainName'],
    }),
  );
export type StageSettingsInput = z.input<typeof StageSettingsSchema>;
export type StageSettings = z.output<typeof StageSettingsSchema>;

export const STAGE_SETTING_KEYS = Object.keys(StageSettingsSchema.shape) as Array<keyof StageSettingsInput>;

/** Zod's issues as `key: problem (got value)`, one line; unknown keys are named as such. */
export function describeIssues(issues: z.core.$ZodIssue[], given: Record<string, unknown>): string {
  const seen = new Set<string>();
  return issues
    .filter((i) => {
      // The first problem per key: zod also runs a key's later checks after one failed.
      const key = String(i.path[0] ?? '');
      if (i.code !== 'unrecognized_keys' && seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((i) => {
      if (i.code === 'unrecognized_keys') return `${i.keys.join(', ')}: not a stage setting`;
      const key = String(i.path[0] ?? 'settings');
      const value = given[key];
      return value === undefined ? `${key}: ${i.message}` : `${key}: ${i.message} (got ${String(value)})`;
    })
    .join('; ');
}

/**
 * The settings of one stack, checked and with defaults applied. Only the settings' own keys are
 * read from `given` (a stack's props also hold CDK's own).
 */
export function parseStageSettings(given: Record<string, unknown>, source = 'Stage settings'): StageSettings {
  const picked = Object.fromEntries(STAGE_SETTING_KEYS.map((k) => [k, given[k]]));
  const parsed = StageSettingsSchema.safeParse(picked);
  if (!parsed.success) {
    throw new StageSettingsError(
      `${source}: values the functions or the stack would refuse: ${describeIssues(parsed.error.issues, picked)}`,
    );
  }
  return parsed.data;
}
