import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloverSimulator, startCloverSimulator } from '../../../local/simulators/clover.ts';

let sim: CloverSimulator;
let clock = 1_800_000_000_000;
const M = 'OAUTHMERCHNT1';
const CALLBACK = 'http://127.0.0.1:9/clover/callback';

const exchange = (body: Record<string, string>) =>
  fetch(`${sim.url}/oauth/v2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const decide = (decision: string, extra: Record<string, string> = {}) =>
  fetch(`${sim.url}/oauth/v2/authorize`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: 'APP',
      redirect_uri: CALLBACK,
      state: 's.t',
      merchant_id: M,
      decision,
      ...extra,
    }),
  });

beforeAll(async () => {
  sim = await startCloverSimulator({
    appId: 'APP',
    appSecret: 'SECRET',
    rateLimits: false,
    now: () => clock,
    codeTtlSeconds: 60,
  });
  sim.addUnconnectedMerchant(M, [{ name: 'Tea', price: 150 }], 'Tea House');
});
afterAll(() => sim.stop());

describe('Clover simulator: connecting a merchant', () => {
  it('shows the signed-in merchant a consent page for a known app only', async () => {
    const url = `${sim.url}/oauth/v2/authorize?client_id=APP&redirect_uri=${encodeURIComponent(CALLBACK)}&state=s.t`;
    expect((await fetch(url)).status).toBe(401); // nobody signed in
    sim.signIn(M);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Tea House (OAUTHMERCHNT1)');
    expect(html).toMatch(/id="allow"/);
    expect(html).toMatch(/id="deny"/);
    expect((await fetch(url.replace('client_id=APP', 'client_id=OTHER'))).status).toBe(400);
    expect((await fetch(url.replace(encodeURIComponent(CALLBACK), 'relative'))).status).toBe(400);
    expect(
      (await fetch(url.replace(encodeURIComponent(CALLBACK), encodeURIComponent('http://[')))).status,
    ).toBe(400);
  });

  it("refuses consent for a redirect_uri outside the app's Site URL", async () => {
    sim.setSiteUrl('http://127.0.0.1:9/clover');
    try {
      const at = (uri: string) =>
        fetch(`${sim.url}/oauth/v2/authorize?client_id=APP&redirect_uri=${encodeURIComponent(uri)}`);
      expect((await at(CALLBACK)).status).toBe(200);
      expect((await at('http://127.0.0.1:9/clover')).status).toBe(200);
      for (const outside of ['http://127.0.0.1:9/cloverx/callback', 'http://127.0.0.1:8/clover/callback'])
        expect((await at(outside)).status).toBe(400);
      expect((await decide('allow', { redirect_uri: 'https://evil.example/clover/callback' })).status).toBe(
        400,
      );
    } finally {
      sim.setSiteUrl(undefined);
    }
  });

  it('redirects Allow with merchant_id, client_id, code and state; Deny with access_denied and state', async () => {
    const allowed = new URL((await decide('allow')).headers.get('location') ?? '');
    expect(`${allowed.origin}${allowed.pathname}`).toBe(CALLBACK);
    expect(allowed.searchParams.get('merchant_id')).toBe(M);
    expect(allowed.searchParams.get('client_id')).toBe('APP');
    expect(allowed.searchParams.get('state')).toBe('s.t');
    expect(allowed.searchParams.get('code')).toBeTruthy();
    const denied = new URL((await decide('deny')).headers.get('location') ?? '');
    expect(denied.searchParams.get('error')).toBe('access_denied');
    expect(denied.searchParams.get('state')).toBe('s.t');
    expect(denied.searchParams.has('code')).toBe(false);
  });

  it('exchanges a code once, for the app that holds the secret, before it expires', async () => {
    const code = sim.issueCode(M);
    expect((await exchange({ client_id: 'APP', client_secret: 'WRONG', code })).status).toBe(401);
    const ok = await exchange({ client_id: 'APP', client_secret: 'SECRET', code });
    expect(ok.status).toBe(200);
    const pair = (await ok.json()) as Record<string, unknown>;
    expect(Object.keys(pair).sort()).toEqual([
      'access_token',
      'access_token_expiration',
      'refresh_token',
      'refresh_token_expiration',
    ]);
    const again = await exchange({ client_id: 'APP', client_secret: 'SECRET', code });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant' });
    // The pair opens this merchant's items.
    const items = await fetch(`${sim.url}/v3/merchants/${M}/items`, {
      headers: { authorization: `Bearer ${pair.access_token}` },
    });
    expect(items.status).toBe(200);

    const late = sim.issueCode(M);
    clock += 61_000;
    expect((await exchange({ client_id: 'APP', client_secret: 'SECRET', code: late })).status).toBe(400);
  });
});
