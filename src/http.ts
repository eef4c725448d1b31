import type { HTTPError, KyInstance, Options, TimeoutError } from 'ky';

/**
 * ky, loaded at the first HTTP request instead of at a cold start: importing it sets up Node's
 * fetch machinery, which a function that never calls Clover or Hipoink (fan-out, backfill) never
 * needs and the others need only once a request goes out. Bundled all the same (esbuild keeps a
 * dynamically imported module in the bundle and runs it on first use).
 */
let loading: Promise<typeof import('ky')> | undefined;

/** An HTTP client created on its first use, from ky loaded then. */
export function lazyHttpClient(options: Options): () => Promise<KyInstance> {
  let client: Promise<KyInstance> | undefined;
  return () => {
    loading ??= import('ky');
    client ??= loading.then((ky) => ky.default.create(options));
    return client;
  };
}

/** The answers the HTTP clients try again at once (a gateway's 501 or 505 will not change). */
export const RETRIED_STATUS_CODES = [408, 429, 500, 502, 503, 504];

// By name, not `instanceof`: a static import of ky's classes would load it at a cold start again.
export const isHttpError = (err: unknown): err is HTTPError =>
  err instanceof Error && err.name === 'HTTPError' && 'response' in err;
export const isTimeoutError = (err: unknown): err is TimeoutError =>
  err instanceof Error && err.name === 'TimeoutError';
