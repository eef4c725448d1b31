import { describe, expect, it } from 'vitest';
import { createCloverClient } from '../../src/clover/client.ts';
import {
  AuthorizationCodeRejectedError,
  CloverApiError,
  CloverAppRefusedError,
  RefreshRejectedError,
} from '../../src/errors.ts';

/** Answers each request with the next reply and keeps the requests. */
function replies(...answers: Array<{ status: number; body?: unknown }>) {
  const requests: Request[] = [];
  const fetch = (async (input: Request | string | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    requests.push(request.clone());
    const a = answers.shift() ?? { status: 500 };
    return new Response(a.body === undefined ? null : JSON.stringify(a.body), {
      status: a.status,
      headers: { 'content-type': 'application/json' },
    });
  }) as typeof globalThis.fetch;
  return { fetch, requests };
}

const PAIR = {
  access_token: 'access-1',
  access_token_expiration: 1_900_000_000,
  refresh_token: 'refresh-1',
  refresh_token_expiration: 1_930_000_000,
};

describe('Clover code exchange', () => {
  it('posts client id, secret and code to /oauth/v2/token and returns the pair', async () => {
    const f = replies({ status: 200, body: PAIR });
    const client = createCloverClient({ baseUrl: 'https://clover.test', fetch: f.fetch });
    expect(await client.exchangeCode('APP', 'SECRET', 'CODE', 'M1')).toEqual(PAIR);
    expect(f.requests[0]?.url).toBe('https://clover.test/oauth/v2/token');
    expect(f.requests[0]?.method).toBe('POST');
    expect(await f.requests[0]?.json()).toEqual({ client_id: 'APP', client_secret: 'SECRET', code: 'CODE' });
  });

  it('calls a refused code rejected, and a refused app a configuration problem', async () => {
    const refused = async (status: number, body: unknown) =>
      createCloverClient({ baseUrl: 'https://clover.test', fetch: replies({ status, body }).fetch })
        .exchangeCode('APP', 'SECRET', 'CODE', 'M1')
        .catch((e: unknown) => e);
    for (const body of [{ error: 'invalid_grant' }, { message: 'Invalid authorization code' }, {}]) {
      const err = await refused(400, body);
      expect(err).toBeInstanceOf(AuthorizationCodeRejectedError);
      expect(err).not.toBeInstanceOf(RefreshRejectedError);
    }
    const app = await refused(401, { error: 'invalid_client' });
    expect(app).toBeInstanceOf(CloverAppRefusedError);
    expect(String(app)).not.toContain('SECRET');
  });

  it('never retries, not even a 503, and waits for the token budget first', async () => {
    const f = replies({ status: 503 }, { status: 200, body: PAIR });
    const taken: string[] = [];
    const client = createCloverClient({
      baseUrl: 'https://clover.test',
      fetch: f.fetch,
      retryLimit: 4,
      gate: { beforeAttempt: async (kind) => void taken.push(kind), rateLimited: async () => undefined },
    });
    const err = await client.exchangeCode('APP', 'SECRET', 'CODE', 'M1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloverApiError);
    expect(f.requests).toHaveLength(1);
    expect(taken).toEqual(['token']);
  });
});
