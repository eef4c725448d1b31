import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MIN_STATE_KEY_LENGTH } from './connect/state.ts';
import * as z from './zod.ts';

/** The app secret in Secrets Manager. Its values are credentials: never logged, never returned. */
/** What the CDK stack puts in the secret until an operator sets the real values. */
export const PLACEHOLDER_APP_ID = 'SET-ME';

export const AppSecretSchema = z.object({
  // Refusing the placeholder keeps a fresh deploy from sending a wrong client_id to Clover,
  // which would look like rejected refresh tokens and lock every merchant into needs_reauth.
  cloverAppId: z.string().check(
    z.minLength(1),
    z.refine(
      (id) => id !== PLACEHOLDER_APP_ID,
      'still the placeholder: put the real values into the app secret',
    ),
  ),
  /**
   * Only high-trust apps hold it: the connect flow needs it for Clover's code exchange, and it
   * enables Clover's recovery-token path.
   */
  cloverAppSecret: z.optional(z.string().check(z.minLength(1))),
  /**
   * The Clover Auth Code of the app's webhook settings: every notice carries it in `X-Clover-Auth`.
   * Without it every notice is refused (polling still syncs).
   */
  cloverWebhookAuthCode: z.optional(z.string().check(z.minLength(1))),
  hipoinkSign: z.string().check(z.minLength(1)),
});
export type AppSecret = z.infer<typeof AppSecretSchema>;

export type AppSecretSource = () => Promise<AppSecret>;

/**
 * How long a warm function keeps using the app secret it read: a changed secret reaches every
 * function within this time (the stack's description of the secret says so to operators).
 */
export const APP_SECRET_CACHE_SECONDS = 300;

interface SecretReadOptions {
  client?: SecretsManagerClient;
  maxAgeSeconds?: number;
}

/** A secret's text through Powertools, cached across invocations for `maxAgeSeconds`. */
function secretText(secretId: string, what: string, opts: SecretReadOptions) {
  const provider = new SecretsProvider(opts.client ? { awsSdkV3Client: opts.client } : {});
  return async () => {
    const stored = await provider.get(secretId, { maxAge: opts.maxAgeSeconds ?? APP_SECRET_CACHE_SECONDS });
    const text = stored instanceof Uint8Array ? new TextDecoder().decode(stored) : stored;
    if (typeof text !== 'string') throw new Error(`${what} ${secretId} has no value`);
    return text;
  };
}

/** Reads the app secret through Powertools, cached across invocations for `maxAgeSeconds`. */
export function appSecretSource(secretId: string, opts: SecretReadOptions = {}): AppSecretSource {
  const read = secretText(secretId, 'App secret', opts);
  return async () => {
    // Parsed here, not by Powertools' JSON transform: its error quotes part of the value it failed on.
    const text = await read();
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new Error(
        `App secret ${secretId} is not valid JSON: store {"cloverAppId": "…", "hipoinkSign": "…"}`,
      );
    }
    const parsed = AppSecretSchema.safeParse(raw);
    // Field names and schema messages only: none of these messages echo a value.
    if (!parsed.success) {
      const problems = parsed.error.issues
        .map((i) => `${i.path.join('.') || 'secret'}: ${i.message}`)
        .join('; ');
      throw new Error(`App secret ${secretId} is not usable: ${problems}`);
    }
    return parsed.data;
  };
}

/**
 * The connect flow's state-signing key: its own secret, generated at deploy (a random string of at
 * least MIN_STATE_KEY_LENGTH characters). Only its length is ever mentioned in an error.
 */
export function stateKeySource(secretId: string, opts: SecretReadOptions = {}): () => Promise<string> {
  const read = secretText(secretId, 'State-signing key', opts);
  return async () => {
    const key = (await read()).trim();
    if (key.length < MIN_STATE_KEY_LENGTH) {
      throw new Error(
        `State-signing key ${secretId} is too short: it needs at least ${MIN_STATE_KEY_LENGTH} characters`,
      );
    }
    return key;
  };
}
