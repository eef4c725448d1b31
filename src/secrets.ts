import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient, type SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { CALL_CHECK, callCheck } from './call-check.ts';
import { MIN_STATE_KEY_LENGTH } from './connect/state.ts';
import { SecretUnusableError } from './errors.ts';
import * as z from './zod.ts';

/**
 * Two JSON secrets in Secrets Manager, so each function reads only the credentials it uses: the app
 * secret (Clover's app credentials) and the Hipoink secret (the sign). Their values are
 * credentials: never logged, never returned.
 */
/** What the CDK stack puts in a secret until an operator sets the real values. */
export const PLACEHOLDER = 'SET-ME';

const notPlaceholder = (where: string) =>
  z.refine<string>((value) => value !== PLACEHOLDER, `still the placeholder: put the real ${where}`);

export const AppSecretSchema = z.object({
  // Refusing the placeholder keeps a fresh deploy from sending a wrong client_id to Clover,
  // which would look like rejected refresh tokens and lock every merchant into needs_reauth.
  cloverAppId: z.string().check(z.minLength(1), notPlaceholder('values into the app secret')),
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
});
export type AppSecret = z.infer<typeof AppSecretSchema>;

/** The Hipoink secret: only the function that pushes labels reads it. */
export const HipoinkSecretSchema = z.object({
  hipoinkSign: z.string().check(z.minLength(1), notPlaceholder('sign into the Hipoink secret')),
});

export type AppSecretSource = () => Promise<AppSecret>;

/**
 * How long a warm function keeps using a secret it read: a changed secret reaches every function
 * within this time (the stack's descriptions of the secrets say so to operators).
 */
export const SECRET_CACHE_SECONDS = 300;

export interface SecretReadOptions {
  client?: SecretsManagerClient;
  maxAgeSeconds?: number;
}

/** The Secrets Manager client of a function's secret reads (the local stack checks each read's grant). */
export function secretsClient(config: SecretsManagerClientConfig = {}): SecretsManagerClient {
  const client = new SecretsManagerClient(config);
  const secret = (input: { SecretId?: unknown }) =>
    typeof input.SecretId === 'string' ? [input.SecretId] : [];
  client.middlewareStack.add(callCheck('secretsmanager', secret), CALL_CHECK);
  return client;
}

/** A secret's text through Powertools, cached across invocations for `maxAgeSeconds`. */
function secretText(secretId: string, what: string, opts: SecretReadOptions) {
  const provider = new SecretsProvider(opts.client ? { awsSdkV3Client: opts.client } : {});
  return async () => {
    const stored = await provider.get(secretId, { maxAge: opts.maxAgeSeconds ?? SECRET_CACHE_SECONDS });
    const text = stored instanceof Uint8Array ? new TextDecoder().decode(stored) : stored;
    if (typeof text !== 'string') throw new SecretUnusableError(`${what} ${secretId} has no value`);
    return text;
  };
}

/** A JSON secret read through Powertools and checked with `schema`, cached for `maxAgeSeconds`. */
function jsonSecretSource<S extends z.ZodMiniType>(
  secretId: string,
  what: string,
  example: string,
  schema: S,
  opts: SecretReadOptions,
): () => Promise<z.infer<S>> {
  const read = secretText(secretId, what, opts);
  return async () => {
    // Parsed here, not by Powertools' JSON transform: its error quotes part of the value it failed on.
    const text = await read();
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new SecretUnusableError(`${what} ${secretId} is not valid JSON: store ${example}`);
    }
    const parsed = schema.safeParse(raw);
    // Field names and schema messages only: none of these messages echo a value.
    if (!parsed.success) {
      const problems = z.issuesText(parsed.error.issues, 'secret');
      throw new SecretUnusableError(`${what} ${secretId} is not usable: ${problems}`);
    }
    return parsed.data;
  };
}

/** Reads the app secret (Clover's app credentials). */
export const appSecretSource = (secretId: string, opts: SecretReadOptions = {}): AppSecretSource =>
  jsonSecretSource(secretId, 'App secret', '{"cloverAppId": "…", …}', AppSecretSchema, opts);

/** Reads the Hipoink secret, for the sign of every Hipoink request. */
export const hipoinkSecretSource = (secretId: string, opts: SecretReadOptions = {}) =>
  jsonSecretSource(secretId, 'Hipoink secret', '{"hipoinkSign": "…"}', HipoinkSecretSchema, opts);

/**
 * The connect flow's state-signing key: its own secret, generated at deploy (a random string of at
 * least MIN_STATE_KEY_LENGTH characters). Only its length is ever mentioned in an error.
 */
export function stateKeySource(secretId: string, opts: SecretReadOptions = {}): () => Promise<string> {
  const read = secretText(secretId, 'State-signing key', opts);
  return async () => {
    const key = (await read()).trim();
    if (key.length < MIN_STATE_KEY_LENGTH) {
      throw new SecretUnusableError(
        `State-signing key ${secretId} is too short: it needs at least ${MIN_STATE_KEY_LENGTH} characters`,
      );
    }
    return key;
  };
}
