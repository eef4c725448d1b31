import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CloverSimulator,
  startCloverSimulator,
  type TokenPair,
} from '../../../local/simulators/clover.ts';

let sim: CloverSimulator;
let tokens: TokenPair;
const M = 'SIMMERCHANT01';

const get = (path: string, token = tokens.access_token) =>
  fetch(`${sim.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
const refresh = (refresh_token: string, client_id = 'APP') =>
  fetch(`${sim.url}/oauth/v2/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id, refresh_token }),
  });

beforeAll(async () => {
  sim = await startCloverSimulator({ appId: 'APP', appSecret: 'SECRET', rateLimits: false });
  tokens = sim.addMerchant(M, [
    { id: 'A', name: 'A', price: 100, modifiedTime: 10 },
    { id: 'B', name: 'B', price: 200, modifiedTime: 20 },
    { id: 'C', name: 'C', price: 300, modifiedTime: 20, hidden: true },
  ]);
});
afterAll(() => sim.stop());

describe('Clover simulator', () => {
  it('filters by modifiedTime, orders ASC and pages with limit/offset', async () => {
    const res = await get(
      `/v3/merchants/${M}/items?filter=modifiedTime>=20&orderBy=modifiedTime%20ASC&limit=1&offset=1`,
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as { elements: Array<{ id: string }> }).elements.map((i) => i.id)).toEqual([
      'C',
    ]);
    const all = await (await get(`/v3/merchants/${M}/items?orderBy=modifiedTime+ASC`)).json();
    expect((all as { elements: Array<{ id: string }> }).elements.map((i) => i.id)).toEqual(['A', 'B', 'C']);
    const bad = await get(`/v3/merchants/${M}/items?filter=color=red`);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-clover-allowed-filter-fields')).toContain('modifiedTime');
  });

  it('never lists deleted items and answers 404 for them', async () => {
    const d = sim.upsertItem(M, { name: 'Temp', price: 1 });
    sim.deleteItem(M, d.id);
    const list = (await (await get(`/v3/merchants/${M}/items`)).json()) as {
      elements: Array<{ id: string }>;
    };
    expect(list.elements.map((i) => i.id)).not.toContain(d.id);
    expect((await get(`/v3/merchants/${M}/items/${d.id}`)).status).toBe(404);
  });

  it('answers 401 for an unknown, foreign or expired access token', async () => {
    expect((await get(`/v3/merchants/${M}/items`, 'nope')).status).toBe(401);
    const other = sim.addMerchant('OTHER0000001');
    expect((await get(`/v3/merchants/${M}/items`, other.access_token)).status).toBe(401);
    sim.expireAccessToken('OTHER0000001');
    expect((await get('/v3/merchants/OTHER0000001/items', other.access_token)).status).toBe(401);
  });

  it('spends a refresh token once; the old access token lives until its own expiry', async () => {
    const first = await refresh(tokens.refresh_token);
    expect(first.status).toBe(200);
    const pair = (await first.json()) as TokenPair;
    expect(pair.refresh_token).not.toBe(tokens.refresh_token);
    expect(pair.access_token_expiration).toBeGreaterThan(Date.now() / 1000);
    const again = await refresh(tokens.refresh_token);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await get(`/v3/merchants/${M}/items`)).status).toBe(200);
    expect((await refresh(pair.refresh_token, 'WRONG')).status).toBe(400);
    tokens = pair;
  });

  it('exchanges the previous refresh token for a new pair through recovery with the app secret', async () => {
    const recovery = tokens.refresh_token;
    const next = (await (await refresh(tokens.refresh_token)).json()) as TokenPair;
    const post = (body: unknown) =>
      fetch(`${sim.url}/oauth/v2/recovery`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post({ client_id: 'APP', client_secret: 'WRONG', recovery_token: recovery })).status).toBe(
      401,
    );
    const ok = await post({ client_id: 'APP', client_secret: 'SECRET', recovery_token: recovery });
    expect(ok.status).toBe(200);
    tokens = (await ok.json()) as TokenPair;
    expect(tokens.refresh_token).not.toBe(next.refresh_token);
  });

  it('injects failures and 429 with retry-after on demand', async () => {
    sim.failNext(1, 503);
    expect((await get(`/v3/merchants/${M}/items`)).status).toBe(503);
    sim.rateLimitEvery(2, 3);
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const r = await get(`/v3/merchants/${M}/items`);
      statuses.push(r.status);
      if (r.status === 429) expect(r.headers.get('retry-after')).toBe('3');
    }
    expect(statuses.filter((s) => s === 429)).toHaveLength(2);
    sim.rateLimitEvery(0, 0);
  });

  it('takes the same faults, and a refused refresh token, over HTTP under /_sim/', async () => {
    const control = (path: string, body: unknown = {}) =>
      fetch(`${sim.url}/_sim/${path}`, { method: 'POST', body: JSON.stringify(body) });
    expect((await control('fail-next', { count: 1, status: 429, retryAfterSeconds: 2 })).status).toBe(200);
    const limited = await get(`/v3/merchants/${M}/items`);
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '2']);
    expect((await get(`/v3/merchants/${M}/items`)).status).toBe(200);
    expect((await control('rate-limit-every', { n: 1, retryAfterSeconds: 1 })).status).toBe(200);
    expect((await get(`/v3/merchants/${M}/items`)).status).toBe(429);
    await control('rate-limit-every', { n: 0 });
    expect((await get(`/v3/merchants/${M}/items`)).status).toBe(200);

    // A revoked refresh token shows only at the store's next refresh: its access token still reads
    // until it expires (the README's drill pairs the two controls).
    const pair = sim.addMerchant('REVOKED00001');
    expect((await control('merchants/REVOKED00001/revoke-refresh-token')).status).toBe(200);
    expect((await get('/v3/merchants/REVOKED00001/items', pair.access_token)).status).toBe(200);
    expect((await control('merchants/REVOKED00001/expire-access-token')).status).toBe(200);
    expect((await get('/v3/merchants/REVOKED00001/items', pair.access_token)).status).toBe(401);
    expect((await refresh(pair.refresh_token)).status).toBe(400);
  });
});

describe('Clover simulator rate limits', () => {
  it('answers 429 with retry-after beyond 5 concurrent requests per token', async () => {
    const limited = await startCloverSimulator({ latencyMs: 150 });
    try {
      const t = limited.addMerchant('RATE00000001', [{ name: 'x', price: 1 }]);
      const results = await Promise.all(
        Array.from({ length: 12 }, () =>
          fetch(`${limited.url}/v3/merchants/RATE00000001/items`, {
            headers: { authorization: `Bearer ${t.access_token}` },
          }),
        ),
      );
      const limitedOnes = results.filter((r) => r.status === 429);
      expect(limitedOnes.length).toBeGreaterThanOrEqual(7);
      expect(results.filter((r) => r.status === 200).length).toBeLessThanOrEqual(5);
      expect(limitedOnes[0]?.headers.get('retry-after')).toBeTruthy();
    } finally {
      await limited.stop();
    }
  });
});
