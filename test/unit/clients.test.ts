import { describe, expect, it } from 'vitest';
import { createCloverClient, retryAfterMs } from '../../src/clover/client.ts';
import {
  CloverUnauthorizedError,
  HipoinkApiError,
  HipoinkRejectedError,
  InvalidResponseError,
  isRetryable,
  RefreshRejectedError,
} from '../../src/errors.ts';
import { createHipoinkClient } from '../../src/hipoink/client.ts';

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };
function fakeFetch(replies: Reply[]) {
  const requests: Request[] = [];
  const fn = (async (input: Request | string | URL, init?: RequestInit) => {
    const req = input instanceof Request ? input : new Request(input, init);
    requests.push(req.clone());
    const r = replies.shift() ?? { status: 500 };
    return new Response(r.body === undefined ? null : JSON.stringify(r.body), {
      status: r.status,
      headers: { 'content-type': 'application/json', ...r.headers },
    });
  }) as typeof fetch;
  return { fn, requests };
}
const TOKEN = 'secret-access-token-123';

describe('Clover client', () => {
  it('lists items with the modifiedTime filter, order, paging and a bearer token', async () => {
    const f = fakeFetch([{ status: 200, body: { elements: [{ id: 'A' }] } }]);
    const clover = createCloverClient({ baseUrl: 'https://clover.test', fetch: f.fn });
    expect(await clover.listItems('MID', TOKEN, { modifiedSince: 1234, limit: 1000, offset: 5 })).toEqual([
      { id: 'A' },
    ]);
    const url = new URL(f.requests[0]?.url ?? '');
    expect(url.pathname).toBe('/v3/merchants/MID/items');
    expect(url.searchParams.getAll('filter')).toEqual(['modifiedTime>=1234']);
    expect(url.searchParams.get('orderBy')).toBe('modifiedTime ASC');
    expect(url.searchParams.get('limit')).toBe('1000');
    expect(url.searchParams.get('offset')).toBe('5');
    expect(f.requests[0]?.headers.get('authorization')).toBe(`Bearer ${TOKEN}`);
  });

  it('maps 401 to CloverUnauthorizedError and 404 on one item to null, never echoing the token', async () => {
    const f = fakeFetch([
      { status: 401, body: { message: 'no' } },
      { status: 404, body: {} },
    ]);
    const clover = createCloverClient({ baseUrl: 'https://clover.test', fetch: f.fn, retryLimit: 0 });
    const err = await clover.listItems('MID', TOKEN, { limit: 10, offset: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloverUnauthorizedError);
    expect(JSON.stringify((err as CloverUnauthorizedError).toLog()) + String(err)).not.toContain(TOKEN);
    expect(await clover.getItem('MID', TOKEN, 'GONE')).toBeNull();
  });

  it('puts every attempt, ky’s retries included, through the gate, and reports each 429 before retrying', async () => {
    const f = fakeFetch([
      { status: 503 },
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 200, body: { elements: [] } },
    ]);
    const events: string[] = [];
    const clover = createCloverClient({
      baseUrl: 'https://clover.test',
      fetch: f.fn,
      backoffLimitMs: 1,
      gate: {
        beforeAttempt: async (kind) => void events.push(`take ${kind}`),
        rateLimited: async (ms) => void events.push(`429 ${ms}`),
      },
    });
    await clover.listItems('MID', TOKEN, { limit: 10, offset: 0 });
    expect(f.requests).toHaveLength(3);
    expect(events).toEqual(['take read', 'take read', '429 0', 'take read']);
  });

  it('takes a token refresh from the gate as a token request, once (never retried)', async () => {
    const f = fakeFetch([{ status: 429, headers: { 'retry-after': '3' } }]);
    const events: string[] = [];
    const clover = createCloverClient({
      baseUrl: 'https://clover.test',
      fetch: f.fn,
      gate: {
        beforeAttempt: async (kind) => void events.push(`take ${kind}`),
        rateLimited: async (ms) => void events.push(`429 ${ms}`),
      },
    });
    await expect(clover.refreshTokens('APP', 'RT', 'MID')).rejects.toThrow();
    expect(events).toEqual(['take token', '429 3000']);
  });

  it('reads retry-after as seconds or an HTTP date', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(1_000_000 + 5000).toUTCString(), 1_000_000)).toBe(5000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
    // A large number is a time in Unix seconds (as ky reads it), not a delay of decades.
    const now = Date.parse('2026-06-01T00:00:00Z');
    expect(retryAfterMs(String(now / 1000 + 7), now)).toBe(7000);
  });

  it('honours 429 + retry-after and then succeeds, counting the 429', async () => {
    const f = fakeFetch([
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 200, body: { elements: [] } },
    ]);
    const limited: string[] = [];
    const clover = createCloverClient({
      baseUrl: 'https://clover.test',
      fetch: f.fn,
      retryLimit: 2,
      onRateLimited: ({ merchantId }) => limited.push(merchantId),
    });
    expect(await clover.listItems('MID', TOKEN, { limit: 10, offset: 0 })).toEqual([]);
    expect(f.requests).toHaveLength(2);
    expect(limited).toEqual(['MID']);
  });

  it('names a 429 that outlasts the retries as Clover’s rate limit, still retryable', async () => {
    const f = fakeFetch([{ status: 429, headers: { 'retry-after': '0' } }]);
    const clover = createCloverClient({ baseUrl: 'https://clover.test', fetch: f.fn, retryLimit: 0 });
    const err = await clover.listItems('MID', TOKEN, { limit: 10, offset: 0 }).catch((e: unknown) => e);
    expect(String(err)).toMatch(/Clover listItems was refused for the rate limit \(HTTP 429/);
    expect(isRetryable(err)).toBe(true);
  });

  it('never retries a refresh (the token is single-use) and maps 400/401 to RefreshRejectedError', async () => {
    for (const status of [400, 401]) {
      const f = fakeFetch([{ status, body: { error: 'invalid_grant' } }]);
      const clover = createCloverClient({ baseUrl: 'https://clover.test', fetch: f.fn });
      const err = await clover.refreshTokens('APP', 'refresh-xyz', 'MID').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RefreshRejectedError);
      expect(isRetryable(err)).toBe(false);
      expect(String(err)).not.toContain('refresh-xyz');
      expect(f.requests).toHaveLength(1);
      expect(await f.requests[0]?.json()).toEqual({ client_id: 'APP', refresh_token: 'refresh-xyz' });
    }
    const f = fakeFetch([{ status: 503 }]);
    await createCloverClient({ baseUrl: 'https://clover.test', fetch: f.fn })
      .refreshTokens('APP', 'r', 'MID')
      .catch(() => undefined);
    expect(f.requests).toHaveLength(1);
  });

  it('calls a refresh token dead only when the answer says so, never on a bare 401, a page or a bad request', async () => {
    const answer = (status: number, body: string, type = 'application/json') =>
      (async () => new Response(body, { status, headers: { 'content-type': type } })) as typeof fetch;
    const refresh = (fetch: typeof globalThis.fetch) =>
      createCloverClient({ baseUrl: 'https://clover.test', fetch })
        .refreshTokens('APP', 'r', 'MID')
        .catch((e: unknown) => e);
    for (const dead of [
      answer(400, '{"error":"invalid_grant"}'),
      answer(401, '{"message":"Invalid refresh token"}'),
      answer(400, '{"error_description":"The refresh token has expired"}'),
    ])
      expect(await refresh(dead)).toBeInstanceOf(RefreshRejectedError);
    for (const notAboutTheToken of [
      answer(400, '{"error":"invalid_request","message":"client_id is required"}'),
      answer(401, '', 'text/plain'),
      answer(400, '<html><body>400 Bad Request</body></html>', 'text/html'),
    ]) {
      const err = await refresh(notAboutTheToken);
      expect(err).not.toBeInstanceOf(RefreshRejectedError);
      expect(String(err)).toMatch(/without saying the token is invalid/);
    }
  });

  it('treats a refused app (invalid_client) as configuration, not as a dead refresh token', async () => {
    const f = fakeFetch([{ status: 400, body: { error: 'invalid_client' } }]);
    const err = await createCloverClient({ baseUrl: 'https://clover.test', fetch: f.fn })
      .refreshTokens('WRONG', 'r', 'MID')
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(RefreshRejectedError);
    expect(String(err)).toMatch(/app credentials/);
  });

  it('rejects bodies it cannot understand', async () => {
    const f = fakeFetch([{ status: 200, body: { elements: 'nope' } }]);
    const clover = createCloverClient({ baseUrl: 'https://clover.test', fetch: f.fn });
    await expect(clover.listItems('MID', TOKEN, { limit: 1, offset: 0 })).rejects.toBeInstanceOf(
      InvalidResponseError,
    );
  });

  it('calls a 2xx that is not JSON (e.g. a proxy page) an invalid response, naming the operation', async () => {
    const html = (async () =>
      new Response('<html>maintenance</html>', {
        status: 200,
        headers: { 'content-type': 'text/html' },
      })) as typeof fetch;
    const clover = createCloverClient({ baseUrl: 'https://clover.test', fetch: html });
    const err = await clover.listItems('MID', TOKEN, { limit: 1, offset: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidResponseError);
    expect(String(err)).toMatch(/listItems.*not JSON/);
    expect(isRetryable(err)).toBe(true);
    await expect(clover.refreshTokens('APP', 'rt', 'MID')).rejects.toBeInstanceOf(InvalidResponseError);
  });
});

describe('Hipoink client', () => {
  const SIGN = 'sign-abc-987';
  const make = (replies: Reply[]) => {
    const f = fakeFetch(replies);
    const client = createHipoinkClient({
      baseUrl: 'https://esl.test',
      clientId: 'default',
      sign: async () => SIGN,
      fetch: f.fn,
      retryLimit: 2,
      backoffLimitMs: 1,
    });
    return { f, client };
  };

  it('sends the envelope and the products in f1', async () => {
    const { f, client } = make([{ status: 200, body: { error_code: 0, error_msg: 'success' } }]);
    await client.createMultiple('store-1', [{ pc: 'A', pn: 'Cola', pp: '2.29' }]);
    expect(new URL(f.requests[0]?.url ?? '').pathname).toBe('/api/default/product/create_multiple');
    expect(await f.requests[0]?.json()).toEqual({
      store_code: 'store-1',
      is_base64: '0',
      sign: SIGN,
      f1: [{ pc: 'A', pn: 'Cola', pp: '2.29' }],
    });
  });

  it('treats error_code ≠ 0 under HTTP 200 as a permanent failure, without the sign in the message', async () => {
    const echo = make([{ status: 200, body: { error_code: 1, error_msg: `bad sign ${SIGN}` } }]);
    const echoed: unknown = await echo.client.deleteMultiple('s', ['A']).catch((e: unknown) => e);
    if (!(echoed instanceof HipoinkRejectedError)) throw new Error('expected a HipoinkRejectedError');
    expect(String(echoed) + echoed.errorMsg).not.toContain(SIGN);
    // Nor in its code, should Hipoink ever put it there.
    const inCode = make([{ status: 200, body: { error_code: `E-${SIGN}`, error_msg: '' } }]);
    const coded: unknown = await inCode.client.deleteMultiple('s', ['A']).catch((e: unknown) => e);
    if (!(coded instanceof HipoinkRejectedError)) throw new Error('expected a HipoinkRejectedError');
    expect(`${String(coded)} ${coded.errorCode} ${coded.errorMsg}`).not.toContain(SIGN);
    expect(String(coded)).toContain('error_code E-[sign]');
    const { client } = make([{ status: 200, body: { error_code: 20001, error_msg: 'pn is required' } }]);
    const err = await client.createMultiple('s', [{ pc: 'A', pn: 'x', pp: '1.00' }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HipoinkRejectedError);
    expect((err as HipoinkRejectedError).errorMsg).toBe('pn is required');
    expect(isRetryable(err)).toBe(false);
    expect(String(err)).not.toContain(SIGN);
    // Only a zero is success: an empty code is no promise the products were taken.
    for (const error_code of ['', ' ']) {
      const blank = make([{ status: 200, body: { error_code, error_msg: 'unknown' } }]);
      await expect(blank.client.deleteMultiple('s', ['A'])).rejects.toBeInstanceOf(HipoinkRejectedError);
    }
  });

  it('accepts a success whose other fields have types the reference does not promise', async () => {
    const { client } = make([
      { status: 200, body: { error_code: '0', error_msg: null, count: '2' } },
      { status: 200, body: { error_code: 0, count: 'two' } },
    ]);
    expect(await client.deleteMultiple('s', ['A', 'B'])).toBe(2);
    expect(await client.deleteMultiple('s', ['A', 'B'])).toBeUndefined();
  });

  it('calls a 200 that is not JSON an invalid response, quoting none of the body', async () => {
    const text = (async () =>
      new Response(SIGN, {
        status: 200,
        headers: { 'content-type': 'text/plain' },
      })) as typeof fetch;
    const client = createHipoinkClient({
      baseUrl: 'https://esl.test',
      clientId: 'default',
      sign: async () => SIGN,
      fetch: text,
    });
    const err = await client.deleteMultiple('s', ['A']).catch((e: unknown) => e);
    expect(String(err) + JSON.stringify((err as InvalidResponseError).toLog?.())).not.toContain('sign-abc');
    expect(err).toBeInstanceOf(InvalidResponseError);
    expect(String(err)).toMatch(/del_multiple.*not JSON/);
    expect(isRetryable(err)).toBe(true);
  });

  it('retries 5xx, and a 400 is permanent', async () => {
    const ok = make([{ status: 503 }, { status: 200, body: { error_code: 0, count: 2 } }]);
    expect(await ok.client.deleteMultiple('s', ['A', 'B'])).toBe(2);
    expect(ok.f.requests).toHaveLength(2);
    const bad = make([{ status: 400 }]);
    const err = await bad.client.deleteMultiple('s', ['A']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HipoinkApiError);
    expect(isRetryable(err)).toBe(false);
  });
});
