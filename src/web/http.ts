/**
 * The web function's own request and response shapes: what the routes see, whatever carried the
 * request (API Gateway's HTTP API, or the local stack's loopback server, both as payload 2.0).
 */
export interface WebRequest {
  method: string;
  /** The path without the query string, e.g. `/clover/callback`. */
  path: string;
  /** The query string as sent, without `?`. */
  rawQuery: string;
  /** Where the request arrived, e.g. `abc123.execute-api.us-east-1.amazonaws.com`. */
  domainName: string;
  /** Header names in lower case; a header sent twice has its values joined with commas. */
  headers?: Readonly<Record<string, string>>;
  /** The body as text (decoded when it came base64-encoded). */
  body?: string;
}

export interface WebResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A longer query string is refused before anything reads it (ours and Clover's are far shorter). */
export const MAX_QUERY_LENGTH = 2048;

/**
 * Sent with every response. No script, frame, image or outside resource is allowed, the one inline
 * stylesheet only by its hash; nothing is cached; no page may be framed; and no Referer leaves a
 * page, so the code in a callback's address cannot reach another site.
 */
export function securityHeaders(styleHash: string): Record<string, string> {
  return {
    'content-security-policy': [
      "default-src 'none'",
      `style-src '${styleHash}'`,
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'strict-transport-security': 'max-age=63072000; includeSubDomains',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  };
}

export type QueryResult<K extends string> =
  | { ok: true; values: Partial<Record<K, string>> }
  | { ok: false; problem: 'too-long' | 'malformed'; parameter?: string };

/**
 * The parameters a route reads, each at most once and in its expected form. Parameters the route
 * does not read are ignored (Clover may add some); one sent twice, or not in its form, makes the
 * whole request malformed rather than guessing which was meant.
 */
export function readQuery<K extends string>(rawQuery: string, rules: Record<K, RegExp>): QueryResult<K> {
  if (rawQuery.length > MAX_QUERY_LENGTH) return { ok: false, problem: 'too-long' };
  const params = new URLSearchParams(rawQuery);
  const values: Partial<Record<K, string>> = {};
  for (const [name, pattern] of Object.entries(rules) as Array<[K, RegExp]>) {
    const given = params.getAll(name);
    if (given.length === 0) continue;
    const [value] = given;
    if (given.length > 1 || value === undefined || !pattern.test(value)) {
      return { ok: false, problem: 'malformed', parameter: name };
    }
    values[name] = value;
  }
  return { ok: true, values };
}
