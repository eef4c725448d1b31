import { createHash } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConnectDeps } from '../../src/connect/authorize.ts';
import { newNonce, signState } from '../../src/connect/state.ts';
import { METRIC } from '../../src/metric-names.ts';
import { logger, metrics } from '../../src/observability.ts';
import { appSecretSource, PLACEHOLDER, stateKeySource } from '../../src/secrets.ts';
import { createWebApp, respond, WEB_PATHS } from '../../src/web/app.ts';
import { buildWebDeps } from '../../src/web/deps.ts';
import { HttpEventSchema, toHttpResult, toWebRequest } from '../../src/web/event.ts';
import { MAX_QUERY_LENGTH, readQuery, type WebRequest } from '../../src/web/http.ts';
import { escapeHtml, PAGES, renderPage } from '../../src/web/pages.ts';
import { createRouter } from '../../src/web/router.ts';

const request = (path: string, rawQuery = '', method = 'GET'): WebRequest => ({
  method,
  path,
  rawQuery,
  domainName: 'web.test',
});

/** Deps that fail the test if a route touches them: requests refused up front must not. */
function untouchable(): ConnectDeps {
  const fail = () => {
    throw new Error('touched');
  };
  return {
    merchants: { get: fail, saveAuthorization: fail },
    invites: { get: fail, claim: fail, release: fail, complete: fail },
    states: { recordUse: fail },
    clover: { exchangeCode: fail, listItems: fail },
    app: fail,
    stateKey: fail,
    oauthBaseUrl: 'https://clover.test',
  };
}

function expectSecurityHeaders(headers: Record<string, string>) {
  expect(headers['content-security-policy']).toMatch(/default-src 'none'/);
  expect(headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
  expect(headers['content-security-policy']).not.toMatch(/unsafe-inline|script-src/);
  expect(headers).toMatchObject({
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
  });
}

describe('query rules', () => {
  const rules = { a: /^[a-z]{1,5}$/, b: /^\d+$/ };

  it('reads each parameter once in its form and ignores the ones the route does not read', () => {
    expect(readQuery('a=abc&b=12&other=%ZZ', rules)).toEqual({ ok: true, values: { a: 'abc', b: '12' } });
    expect(readQuery('', rules)).toEqual({ ok: true, values: {} });
  });

  it('refuses a parameter sent twice, one out of form, and an oversized query', () => {
    expect(readQuery('a=abc&a=def', rules)).toMatchObject({
      ok: false,
      problem: 'malformed',
      parameter: 'a',
    });
    for (const q of ['a=ABC', 'a=abcdefg', 'b=1%0A', 'a=%3Cscript%3E', 'a=', 'b=1e3'])
      expect(readQuery(q, rules), q).toMatchObject({ ok: false, problem: 'malformed' });
    expect(readQuery(`a=abc&x=${'y'.repeat(MAX_QUERY_LENGTH)}`, rules)).toEqual({
      ok: false,
      problem: 'too-long',
    });
  });
});

describe('router', () => {
  it('answers an unknown path with 404, another method with 405, and a throwing route with 500', async () => {
    const errors: string[] = [];
    const router = createRouter(
      [
        { method: 'GET', path: '/ok', name: 'ok', handle: async () => renderPage(PAGES.denied) },
        {
          method: 'GET',
          path: '/boom',
          name: 'boom',
          handle: async () => {
            throw new Error('secret-looking detail');
          },
        },
      ],
      { onError: (route) => errors.push(route) },
    );
    expect((await router(request('/ok'))).status).toBe(200);
    expect((await router(request('/nope'))).status).toBe(404);
    const wrong = await router(request('/ok', '', 'POST'));
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('GET');
    const boom = await router(request('/boom'));
    expect(boom.status).toBe(500);
    expect(boom.body).not.toContain('secret-looking detail');
    expect(errors).toEqual(['boom']);
    for (const r of [wrong, boom]) expectSecurityHeaders(r.headers);
  });
});

describe('web app routes', () => {
  const app = createWebApp(untouchable());

  it.each([
    [WEB_PATHS.connect, '', 400],
    [WEB_PATHS.connect, 'invite=a&invite=b', 400],
    [WEB_PATHS.connect, 'invite=<script>', 400],
    [WEB_PATHS.launch, 'merchant_id=not%20an%20id', 400],
    [WEB_PATHS.callback, '', 400],
    [WEB_PATHS.callback, 'merchant_id=M&client_id=A&code=c', 400],
    [WEB_PATHS.callback, 'merchant_id=M&client_id=A&state=s', 400],
    [WEB_PATHS.callback, 'merchant_id=M&client_id=A&code=c&code=d&state=s', 400],
    [WEB_PATHS.callback, 'merchant_id=M&client_id=A&code=c%00&state=s', 400],
    [WEB_PATHS.callback, `merchant_id=M&client_id=A&code=${'c'.repeat(600)}&state=s`, 400],
    [WEB_PATHS.callback, `merchant_id=M&code=c&state=s&pad=${'x'.repeat(MAX_QUERY_LENGTH)}`, 414],
    ['/clover/webhooks', '', 404],
  ])('%s?%s → %i, touching nothing', async (path, query, status) => {
    const response = await app(request(path, query));
    expect(response.status).toBe(status);
    expectSecurityHeaders(response.headers);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('shows the denial page for a consent Clover reports denied, touching nothing', async () => {
    const response = await app(request(WEB_PATHS.callback, 'error=access_denied&state=whatever'));
    expect(response.status).toBe(200);
    expect(response.body).toContain('You did not allow the connection');
  });
});

describe('pages', () => {
  it('escape what they show and name the store code on the connected page', () => {
    const page = respond({
      kind: 'connected',
      merchantId: 'M1',
      storeCode: '<b>x</b>',
      state: 'active',
      known: false,
    });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<code>&lt;b&gt;x&lt;/b&gt;</code>');
    expect(page.body).not.toContain('<b>x</b>');
    expect(escapeHtml(`"'&<>`)).toBe('&quot;&#39;&amp;&lt;&gt;');
    // Shown before Clover proved who signs in: another merchant's store is not given away.
    const conflict = respond({ kind: 'store-conflict', storeCode: 'store-1' });
    expect(conflict.status).toBe(409);
    expect(conflict.body).not.toContain('store-1');
  });

  it('give every outcome a phone-sized page with its status and the security headers', () => {
    for (const [kind, text] of Object.entries(PAGES)) {
      const page = renderPage(text);
      expect(page.status, kind).toBe(text.status);
      expect(page.body).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
      expect(page.body).not.toMatch(/<script|<link|<img|src=|https?:\/\//);
      expectSecurityHeaders(page.headers);
    }
    // The one inline stylesheet is allowed by its hash, which must match it.
    const page = renderPage(PAGES.denied);
    const style = /<style>(.*)<\/style>/s.exec(page.body)?.[1] ?? '';
    const hash = createHash('sha256').update(style).digest('base64');
    expect(page.headers['content-security-policy']).toContain(`'sha256-${hash}'`);
  });

  it('send a redirect with the same headers and nothing in its body', () => {
    const r = respond({ kind: 'redirect', location: 'https://clover.test/oauth/v2/authorize?x=1' });
    expect(r).toMatchObject({ status: 302, body: '' });
    expect(r.headers.location).toBe('https://clover.test/oauth/v2/authorize?x=1');
    expectSecurityHeaders(r.headers);
  });
});

describe('payload 2.0 events', () => {
  it('become web requests, and responses become results', () => {
    const event = HttpEventSchema.parse({
      version: '2.0',
      rawPath: '/clover/launch',
      rawQueryString: 'merchant_id=M1',
      requestContext: { domainName: 'abc.execute-api.test', http: { method: 'GET' } },
    });
    expect(toWebRequest(event)).toEqual({
      method: 'GET',
      path: '/clover/launch',
      rawQuery: 'merchant_id=M1',
      domainName: 'abc.execute-api.test',
      headers: {},
    });
    expect(toHttpResult({ status: 404, headers: { a: 'b' }, body: 'x' })).toEqual({
      statusCode: 404,
      headers: { a: 'b' },
      body: 'x',
    });
    expect(HttpEventSchema.safeParse({ version: '1.0', path: '/' }).success).toBe(false);
  });

  it('carry the body as text whether it came as text or base64-encoded, and headers in lower case', () => {
    const text = '{"merchants":{"M1":[{"objectId":"I:ÄBC","type":"UPDATE","ts":1}]}}';
    const base = {
      version: '2.0',
      rawPath: '/clover/webhooks',
      requestContext: { domainName: 'abc.execute-api.test', http: { method: 'POST' } },
    };
    const plain = toWebRequest(
      HttpEventSchema.parse({ ...base, headers: { 'X-Clover-Auth': 'a', 'x-clover-auth': 'b' }, body: text }),
    );
    expect(plain).toMatchObject({ body: text, headers: { 'x-clover-auth': 'a,b' } });
    const encoded = toWebRequest(
      HttpEventSchema.parse({
        ...base,
        body: Buffer.from(text, 'utf8').toString('base64'),
        isBase64Encoded: true,
      }),
    );
    expect(encoded.body).toBe(text);
  });
});

describe('without the Clover app secret', () => {
  it('shows "not set up" at the link and at the callback, logs why, and records nothing', async () => {
    const { newInvite } = await import('../../src/connect/invites.ts');
    const { signState, newNonce } = await import('../../src/connect/state.ts');
    const key = 'k'.repeat(40);
    const { id, invite } = newInvite({ storeCode: 's' }, { now: Date.now() });
    const outcomes: Array<{ outcome: string; reason?: unknown }> = [];
    const deps = {
      ...untouchable(),
      invites: {
        ...untouchable().invites,
        get: async () => invite,
      },
      merchants: { ...untouchable().merchants, get: async () => undefined },
      app: async () => ({ appId: 'APP' }),
      stateKey: async () => key,
      onOutcome: (_route: string, outcome: string, fields: Record<string, unknown>) =>
        outcomes.push({ outcome, reason: fields.reason }),
    };
    const app = createWebApp(deps);
    const start = await app(request(WEB_PATHS.connect, `invite=${id}`));
    expect(start.status).toBe(503);
    expect(start.body).toContain('Connecting stores is not set up yet');
    const state = signState(
      { nonce: newNonce(), expiresAt: Date.now() + 60_000, inviteKey: invite.key },
      key,
    );
    const callback = await app(
      request(
        WEB_PATHS.callback,
        new URLSearchParams({ merchant_id: 'M', client_id: 'APP', code: 'c', state }).toString(),
      ),
    );
    expect(callback.status).toBe(503);
    expect(outcomes).toEqual([
      { outcome: 'not-configured', reason: expect.stringMatching(/cloverAppSecret/) },
      { outcome: 'not-configured', reason: expect.stringMatching(/cloverAppSecret/) },
    ]);
  });
});

describe('with a secret the operator has not set up', () => {
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());
  const GOOD_KEY = 'k'.repeat(40);
  /** The web app over the real secret reads, each secret answering `values[id]` (or failing). */
  const appWith = (values: Record<string, string | Error>) => {
    sm.on(GetSecretValueCommand).callsFake((input: { SecretId: string }) => {
      const value = values[input.SecretId];
      if (value instanceof Error || value === undefined) throw value ?? new Error('no such secret');
      return { SecretString: value };
    });
    const client = new SecretsManagerClient({ region: 'us-east-1' });
    const outcomes: Array<{ route: string; outcome: string; reason?: unknown }> = [];
    const app = createWebApp({
      ...untouchable(),
      invites: { ...untouchable().invites, get: async () => undefined },
      app: async () => {
        const s = await appSecretSource('app', { client, maxAgeSeconds: 0 })();
        return { appId: s.cloverAppId, ...(s.cloverAppSecret ? { appSecret: s.cloverAppSecret } : {}) };
      },
      stateKey: stateKeySource('key', { client, maxAgeSeconds: 0 }),
      onOutcome: (route, outcome, fields) => outcomes.push({ route, outcome, reason: fields.reason }),
    });
    return { app, outcomes };
  };
  const callbackQuery = () =>
    new URLSearchParams({
      merchant_id: 'M',
      client_id: 'APP',
      code: 'c',
      state: signState({ nonce: newNonce(), expiresAt: Date.now() + 60_000 }, GOOD_KEY),
    }).toString();

  it('shows "not set up" at Clover’s launch and the callback when the app secret is still the placeholder, and logs which secret', async () => {
    const { app, outcomes } = appWith({ app: JSON.stringify({ cloverAppId: PLACEHOLDER }), key: GOOD_KEY });
    for (const page of [
      await app(request(WEB_PATHS.launch, 'merchant_id=M')),
      await app(request(WEB_PATHS.callback, callbackQuery())),
    ]) {
      expect(page.status).toBe(503);
      expect(page.body).toContain('Connecting stores is not set up yet');
    }
    expect(outcomes).toEqual([
      {
        route: 'launch',
        outcome: 'not-configured',
        reason: expect.stringMatching(/App secret app .*cloverAppId/),
      },
      {
        route: 'callback',
        outcome: 'not-configured',
        reason: expect.stringMatching(/App secret app .*cloverAppId/),
      },
    ]);
  });

  it('shows "not set up" when the state-signing key is too short, quoting no part of it', async () => {
    const secret = JSON.stringify({ cloverAppId: 'APP', cloverAppSecret: 'SECRET' });
    const { app, outcomes } = appWith({ app: secret, key: 'short-key' });
    for (const page of [
      await app(request(WEB_PATHS.launch, 'merchant_id=M')),
      await app(request(WEB_PATHS.callback, callbackQuery())),
    ])
      expect(page.status).toBe(503);
    expect(outcomes.map((o) => o.reason)).toEqual([
      expect.stringMatching(/State-signing key key is too short/),
      expect.stringMatching(/State-signing key key is too short/),
    ]);
    expect(JSON.stringify(outcomes)).not.toContain('short-key');
  });

  it('still answers with the error page when Secrets Manager cannot be read: that is no set-up to finish', async () => {
    const { app, outcomes } = appWith({ app: new Error('connect ETIMEDOUT'), key: GOOD_KEY });
    const page = await app(request(WEB_PATHS.launch, 'merchant_id=M'));
    expect(page.status).toBe(500);
    expect(outcomes).toEqual([]);
  });
});

describe('the web function’s reports', () => {
  it('counts a connection the app’s own set-up stopped, for its alarm, and no other outcome, nor a launch naming no merchant', () => {
    const added = vi.spyOn(metrics, 'addMetric').mockImplementation(() => metrics);
    const errors = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    try {
      const deps = buildWebDeps({
        merchantsTable: 'merchants',
        pollQueueUrl: 'http://127.0.0.1:9/queue/poll',
        appSecretId: 'app',
        cloverApiBaseUrl: 'http://127.0.0.1:9',
        cloverRequestsPerSecond: 50,
        cloverOauthBaseUrl: 'http://127.0.0.1:9',
        stateKeySecretId: 'key',
      });
      const reason = 'the app secret has no cloverAppSecret';
      deps.onOutcome?.('connect', 'not-configured', { reason });
      deps.onOutcome?.('launch', 'not-configured', { reason, merchantId: 'M' });
      // Clover's launch always names the merchant: one without is no store's, and is not counted.
      deps.onOutcome?.('launch', 'not-configured', { reason });
      deps.onOutcome?.('callback', 'denied', {});
      deps.onOutcome?.('callback', 'code-refused', {});
      const counted = added.mock.calls.filter(([name]) => name === METRIC.connectNotConfigured);
      expect(counted).toEqual([
        [METRIC.connectNotConfigured, 'Count', 1],
        [METRIC.connectNotConfigured, 'Count', 1],
      ]);
      expect(errors).toHaveBeenCalledTimes(3);
    } finally {
      vi.restoreAllMocks();
    }
  });
});
