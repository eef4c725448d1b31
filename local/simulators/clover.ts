/**
 * Clover REST simulator, faithful to the API as docs/clover.md describes it: expiring access tokens
 * (401), single-use refresh tokens, the recovery token, filters/order/paging on items, deleted
 * items never listed, and Clover's rate limits (50 req/s & 10 concurrent per app, 16 req/s & 5
 * concurrent per token) answered with 429. A concurrent-limit 429 carries `retry-after`; a request
 * that arrives in the same scope (the app, or that token) before it elapsed is counted as early and
 * lengthens the wait. It also plays Clover's side of connecting a merchant
 * (docs/clover-connect.md): a consent page at /oauth/v2/authorize for the merchant "signed in" to
 * the simulator, with Allow and Deny, and the code exchange at /oauth/v2/token (single-use,
 * expiring codes; client id and secret checked). Once its webhook address is set and verified
 * (`webhooks`), every item created, changed or deleted through it, and an app uninstall, is
 * posted there as Clover's webhook notice (clover-webhooks.ts). Control methods let tests edit the
 * catalog, inject faults and count requests; over HTTP under /_sim/: merchants (POST), and per
 * merchant merchants/ID/items[/ITEM] (GET, PUT, DELETE), expire-access-token, tokens, uninstall,
 * revoke-refresh-token (POST); sign-in, requests, stats; and the faults (JSON bodies) POST
 * fail-next {count, status, retryAfterSeconds?, enforce?} (item requests) and POST
 * rate-limit-every {n, retryAfterSeconds} (n 0: off).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { escapeHtml } from '../../src/web/pages.ts';
import { sendJson, startHttpServer } from '../aws/http.ts';
import { createWebhookSender, type NoticeType, type WebhookSenderOptions } from './clover-webhooks.ts';

export interface SimItem {
  id: string;
  name: string;
  alternateName?: string;
  code?: string;
  sku?: string;
  price: number;
  priceType: 'FIXED' | 'VARIABLE' | 'PER_UNIT';
  unitName?: string;
  cost?: number;
  hidden: boolean;
  available: boolean;
  isRevenue: boolean;
  stockCount?: number;
  modifiedTime: number;
  createdTime: number;
}
export type SimItemInput = Partial<SimItem> & { name?: string; price?: number };

export interface TokenPair {
  access_token: string;
  access_token_expiration: number;
  refresh_token: string;
  refresh_token_expiration: number;
}

export interface SimRequest {
  method: string;
  path: string;
  query: string;
  merchantId?: string;
  status: number;
  at: number;
  /** Sent before a retry-after this simulator gave (for the app, or for this token) had elapsed. */
  early?: true;
}

export interface CloverSimOptions {
  port?: number;
  host?: string;
  appId?: string;
  appSecret?: string;
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  rejectedRefreshStatus?: 400 | 401;
  rateLimits?: false | { appRps: number; appConcurrent: number; tokenRps: number; tokenConcurrent: number };
  now?: () => number;
  /**
   * Service time of every API request (a number, or a range drawn from uniformly per request),
   * spent while the request counts against the concurrency limits.
   */
  latencyMs?: number | { min: number; max: number };
  /** How long an authorization code can be exchanged (default 300 s). */
  codeTtlSeconds?: number;
  /** How webhook notices are batched and sent. */
  webhooks?: WebhookSenderOptions;
  /** The app's Site URL: consent is refused for a `redirect_uri` outside it (none set: any). */
  siteUrl?: string;
}

interface MerchantState {
  items: Map<string, SimItem>;
  /** The app is installed for this merchant (tokens were issued): its changes raise webhook notices. */
  installed: boolean;
  accessTokens: Map<string, number>; // token → expiry (s)
  refreshToken?: { value: string; expiresAt: number; issuedAt: number };
  recoveryToken?: string;
}

export type CloverSimulator = Awaited<ReturnType<typeof startCloverSimulator>>;

const ID_ALPHABET = 'ABCDEFGHJKMNPQRSTVWXYZ0123456789';
const newId = () => Array.from(randomBytes(13), (b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
// Token lengths vary on purpose: Clover says never to assume one.
const newToken = () => randomBytes(16 + Math.floor(Math.random() * 16)).toString('hex');

/** Clover's rule: a redirect_uri must be the Site URL or a path below it. */
function underSiteUrl(redirectUri: string, site: string) {
  const [uri, base] = [new URL(redirectUri), new URL(site)];
  const path = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
  return uri.origin === base.origin && (uri.pathname === base.pathname || uri.pathname.startsWith(path));
}

const FILTER_FIELDS = ['modifiedTime', 'price', 'hidden', 'id', 'name', 'sku', 'code'] as const;
const sleep = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

export async function startCloverSimulator(opts: CloverSimOptions = {}) {
  const now = opts.now ?? Date.now;
  const appId = opts.appId ?? 'DEMOAPP';
  const accessTtl = opts.accessTokenTtlSeconds ?? 1800;
  const refreshTtl = opts.refreshTokenTtlSeconds ?? 30 * 86_400;
  const limits =
    opts.rateLimits === false
      ? undefined
      : (opts.rateLimits ?? { appRps: 50, appConcurrent: 10, tokenRps: 16, tokenConcurrent: 5 });
  const merchants = new Map<string, MerchantState>();
  const tokenOwner = new Map<string, string>(); // access token → merchant
  const requests: SimRequest[] = [];
  const stats = {
    refreshCalls: 0,
    refreshSucceeded: 0,
    recoveryCalls: 0,
    codesIssued: 0,
    codeExchanges: 0,
    codesExchanged: 0,
  };
  const codeTtl = opts.codeTtlSeconds ?? 300;
  // Authorization codes not yet exchanged: code → merchant, client and expiry (s).
  const codes = new Map<string, { merchantId: string; clientId: string; expiresAt: number }>();
  const merchantNames = new Map<string, string>();
  // The merchant whose Clover session the browser has: the one the consent page authorizes.
  let signedIn: string | undefined;
  let siteUrl = opts.siteUrl;
  let failNext: { count: number; status: number; retryAfterSeconds?: number; enforce?: boolean } | undefined;
  let rateLimitEvery: { n: number; retryAfterSeconds: number; seen: number } | undefined;
  // A 429 carrying retry-after, per scope ('app' or 'token:<token>'): until when, and how long.
  const penalties = new Map<string, { until: number; seconds: number }>();
  const latency = () => {
    const l = opts.latencyMs;
    if (l === undefined) return 0;
    return typeof l === 'number' ? l : l.min + Math.random() * (l.max - l.min);
  };
  const hooks: {
    onItemsPage?: (ctx: { merchantId: string; offset: number; limit: number; page: SimItem[] }) => void;
  } = {};

  // Rate limiting: a one-second sliding window and an in-flight counter, per app and per token.
  const windows = new Map<string, number[]>();
  const concurrent = new Map<string, number>();
  const overRate = (key: string, rps: number) => {
    const t = now();
    const w = (windows.get(key) ?? []).filter((x) => t - x < 1000);
    windows.set(key, w);
    if (w.length >= rps) return true;
    w.push(t);
    return false;
  };

  const merchant = (id: string) => {
    let m = merchants.get(id);
    if (!m) {
      m = { items: new Map(), accessTokens: new Map(), installed: false };
      merchants.set(id, m);
    }
    return m;
  };

  const issueTokens = (merchantId: string): TokenPair => {
    const m = merchant(merchantId);
    const t = Math.floor(now() / 1000);
    const access = newToken();
    m.accessTokens.set(access, t + accessTtl);
    tokenOwner.set(access, merchantId);
    if (m.refreshToken) m.recoveryToken = m.refreshToken.value;
    m.refreshToken = { value: newToken(), expiresAt: t + refreshTtl, issuedAt: t };
    m.installed = true;
    return {
      access_token: access,
      access_token_expiration: t + accessTtl,
      refresh_token: m.refreshToken.value,
      refresh_token_expiration: t + refreshTtl,
    };
  };

  const webhooks = createWebhookSender({ ...opts.webhooks, now, appId });
  const notify = (merchantId: string, objectId: string, type: NoticeType) => {
    if (merchant(merchantId).installed) webhooks.notify({ merchantId, objectId, type, ts: now() });
  };

  /** Creates or changes an item; `quiet` (seeding a catalog) raises no webhook notice. */
  const upsertItem = (merchantId: string, input: SimItemInput, quiet = false): SimItem => {
    const m = merchant(merchantId);
    const existing = input.id ? m.items.get(input.id) : undefined;
    const t = now();
    const item: SimItem = {
      ...(existing ?? {
        id: input.id ?? newId(),
        name: 'Item',
        price: 0,
        priceType: 'FIXED' as const,
        hidden: false,
        available: true,
        isRevenue: true,
        createdTime: t,
      }),
      ...input,
      modifiedTime: input.modifiedTime ?? t,
    } as SimItem;
    m.items.set(item.id, item);
    if (!quiet) notify(merchantId, `I:${item.id}`, existing ? 'UPDATE' : 'CREATE');
    return { ...item };
  };

  const issueCode = (merchantId: string, clientId = appId): string => {
    const code = newToken();
    codes.set(code, { merchantId, clientId, expiresAt: Math.floor(now() / 1000) + codeTtl });
    stats.codesIssued++;
    return code;
  };

  const control = {
    addMerchant(merchantId: string, items: SimItemInput[] = []): TokenPair {
      for (const i of items) upsertItem(merchantId, i, true);
      return issueTokens(merchantId);
    },
    /** A merchant with a catalog but no token issued yet: one that has not connected the app. */
    addUnconnectedMerchant(merchantId: string, items: SimItemInput[] = [], name?: string) {
      merchant(merchantId);
      for (const i of items) upsertItem(merchantId, i, true);
      if (name) merchantNames.set(merchantId, name);
    },
    /**
     * The merchant uninstalls the app: its tokens stop working and Clover sends an `A:` DELETE notice.
     * Connecting again (the consent page) installs it again.
     */
    uninstallApp(merchantId: string) {
      const m = merchant(merchantId);
      if (!m.installed) return false;
      notify(merchantId, `A:${appId}`, 'DELETE');
      m.installed = false;
      for (const token of m.accessTokens.keys()) tokenOwner.delete(token);
      m.accessTokens.clear();
      m.refreshToken = undefined;
      m.recoveryToken = undefined;
      return true;
    },
    /** The app's webhook settings and deliveries (verification, batching, what was sent). */
    webhooks,
    /** Sends a notice as Clover would, whatever happened (tests: duplicates, reordering, false deletions). */
    notify(merchantId: string, objectId: string, type: NoticeType, ts = now()) {
      webhooks.notify({ merchantId, objectId, type, ts });
    },
    /** Sets the app's Site URL, as in the developer dashboard (undefined: any redirect_uri is taken). */
    setSiteUrl(url: string | undefined) {
      siteUrl = url;
    },
    /** The merchant the browser is signed in to Clover as (whose consent page /oauth/v2/authorize shows). */
    signIn(merchantId: string | undefined) {
      signedIn = merchantId;
    },
    /** An authorization code as Clover's consent would issue it (for tests that skip the browser). */
    issueCode,
    /** Every code not yet exchanged runs out now, as if the merchant took too long. */
    expireCodes() {
      for (const c of codes.values()) c.expiresAt = 0;
    },
    issueTokens,
    upsertItem,
    deleteItem(merchantId: string, itemId: string) {
      const deleted = merchant(merchantId).items.delete(itemId);
      if (deleted) notify(merchantId, `I:${itemId}`, 'DELETE');
      return deleted;
    },
    items(merchantId: string): SimItem[] {
      return [...merchant(merchantId).items.values()].map((i) => ({ ...i }));
    },
    expireAccessToken(merchantId: string) {
      const m = merchant(merchantId);
      for (const token of m.accessTokens.keys()) m.accessTokens.set(token, 0);
    },
    revokeRefreshToken(merchantId: string) {
      const m = merchant(merchantId);
      m.refreshToken = undefined;
      m.recoveryToken = undefined;
    },
    get requests() {
      return requests;
    },
    resetRequests() {
      requests.length = 0;
    },
    /** Forgets every pending retry-after, e.g. between two benchmark runs. */
    resetPenalties() {
      penalties.clear();
    },
    countItemRequests(merchantId?: string) {
      return requests.filter((r) => r.path.includes('/items') && (!merchantId || r.merchantId === merchantId))
        .length;
    },
    get refreshCalls() {
      return stats.refreshCalls;
    },
    get stats() {
      return { ...stats, itemRequests: control.countItemRequests() };
    },
    /**
     * The next `count` item requests answer `status`. With `enforce`, a retry-after is held
     * against the whole app as a real limit's is: requests before it elapses are early.
     */
    failNext(count: number, status: number, o: { retryAfterSeconds?: number; enforce?: boolean } = {}) {
      failNext = { count, status, ...o };
    },
    /** Requests sent before a retry-after (for their app or token) had elapsed. */
    countEarlyRequests() {
      return requests.filter((r) => r.early).length;
    },
    rateLimitEvery(n: number, retryAfterSeconds: number) {
      // Counted from now, so "every 4th" means the 4th, 8th, … request after this call.
      rateLimitEvery = n > 0 ? { n, retryAfterSeconds, seen: 0 } : undefined;
    },
    hooks,
  };

  const handle = async (req: IncomingMessage, body: string, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname;
    const merchantId = /^\/(?:v3|_sim)\/merchants\/([^/]+)/.exec(path)?.[1];
    let early = false;
    const reply = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      if (!path.startsWith('/_sim/')) {
        requests.push({
          method: req.method ?? 'GET',
          path,
          query: url.search,
          ...(merchantId ? { merchantId } : {}),
          status,
          at: now(),
          ...(early ? { early: true as const } : {}),
        });
      }
      sendJson(res, status, payload, headers);
    };
    /**
     * A request in a scope whose retry-after has not elapsed is early: refused again, and the
     * wait starts over (Clover: retrying before it elapses lengthens the wait).
     */
    const refuseEarly = (scopes: string[]) => {
      const t = now();
      const penalty = scopes.map((s) => penalties.get(s)).find((p) => p !== undefined && t < p.until);
      if (!penalty) return false;
      early = true;
      penalty.until = t + penalty.seconds * 1000;
      reply(
        429,
        { message: 'Too Many Requests' },
        { 'retry-after': String(penalty.seconds), ...rateHeaders('concurrent') },
      );
      return true;
    };
    if (path.startsWith('/_sim/')) return simControl(req, path, body, res);

    if (path === '/oauth/v2/authorize') return authorize(req, url, body, res, reply);

    let json: Record<string, unknown> = {};
    if (req.method === 'POST') {
      try {
        json = JSON.parse(body || '{}');
      } catch {
        return reply(400, { message: 'Malformed JSON' });
      }
    }

    if (req.method === 'POST' && path === '/oauth/v2/refresh') {
      stats.refreshCalls++;
      if (refuseEarly(['app'])) return;
      await sleep(latency());
      if (limits && overRate('app', limits.appRps))
        return reply(429, { message: 'Too Many Requests' }, rateHeaders('app'));
      if (json.client_id !== appId)
        return reply(400, { error: 'invalid_client', message: 'Unknown client_id' });
      const owner = [...merchants.entries()].find(([, m]) => m.refreshToken?.value === json.refresh_token);
      const m = owner?.[1];
      if (!owner || !m?.refreshToken || m.refreshToken.expiresAt <= Math.floor(now() / 1000)) {
        return reply(opts.rejectedRefreshStatus ?? 400, {
          error: 'invalid_grant',
          message: 'Invalid refresh token',
        });
      }
      stats.refreshSucceeded++;
      return reply(200, issueTokens(owner[0]));
    }

    if (req.method === 'POST' && path === '/oauth/v2/token') {
      stats.codeExchanges++;
      if (limits && overRate('app', limits.appRps))
        return reply(429, { message: 'Too Many Requests' }, rateHeaders('app'));
      if (!opts.appSecret || json.client_id !== appId || json.client_secret !== opts.appSecret) {
        return reply(401, { error: 'invalid_client', message: 'Unknown client_id or wrong client_secret' });
      }
      const code = typeof json.code === 'string' ? json.code : '';
      const issued = codes.get(code);
      // Single use: a code is gone once exchanged, whatever the outcome of the exchange.
      codes.delete(code);
      if (!issued || issued.clientId !== json.client_id || issued.expiresAt <= Math.floor(now() / 1000)) {
        return reply(400, { error: 'invalid_grant', message: 'Invalid authorization code' });
      }
      stats.codesExchanged++;
      return reply(200, issueTokens(issued.merchantId));
    }

    if (req.method === 'POST' && path === '/oauth/v2/recovery') {
      // Body shape is our assumption; Clover's tutorial names the endpoint and the token's role.
      stats.recoveryCalls++;
      if (!opts.appSecret || json.client_id !== appId || json.client_secret !== opts.appSecret) {
        return reply(401, { error: 'invalid_client', message: 'Recovery needs the app secret' });
      }
      const owner = [...merchants.entries()].find(
        ([, m]) => m.recoveryToken !== undefined && m.recoveryToken === json.recovery_token,
      );
      const issuedAt = owner?.[1].refreshToken?.issuedAt ?? 0;
      if (!owner || Math.floor(now() / 1000) - issuedAt > 14 * 86_400) {
        return reply(400, { error: 'invalid_grant', message: 'Invalid recovery token' });
      }
      return reply(200, issueTokens(owner[0]));
    }

    const itemsMatch = /^\/v3\/merchants\/([^/]+)\/items(?:\/([^/]+))?$/.exec(path);
    if (req.method === 'GET' && itemsMatch) {
      const [, mId = '', itemId] = itemsMatch;
      const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
      const m = merchants.get(mId);
      const expiry = token && m ? m.accessTokens.get(token) : undefined;
      if (
        !token ||
        !m ||
        tokenOwner.get(token) !== mId ||
        expiry === undefined ||
        expiry <= Math.floor(now() / 1000)
      ) {
        return reply(401, { message: '401 Unauthorized' });
      }

      if (refuseEarly(['app', `token:${token}`])) return;
      if (failNext && failNext.count > 0) {
        failNext.count--;
        const headers: Record<string, string> =
          failNext.retryAfterSeconds !== undefined
            ? { 'retry-after': String(failNext.retryAfterSeconds) }
            : {};
        // Enforced like a real limit: the whole app must wait (and early requests are counted).
        if (failNext.enforce && failNext.retryAfterSeconds !== undefined) {
          const seconds = failNext.retryAfterSeconds;
          penalties.set('app', { until: now() + seconds * 1000, seconds });
        }
        return reply(failNext.status, { message: `Injected ${failNext.status}` }, headers);
      }
      if (rateLimitEvery && ++rateLimitEvery.seen % rateLimitEvery.n === 0) {
        return reply(
          429,
          { message: 'Too Many Requests' },
          {
            'retry-after': String(rateLimitEvery.retryAfterSeconds),
            ...rateHeaders('concurrent'),
          },
        );
      }
      if (limits) {
        if (overRate('app', limits.appRps))
          return reply(429, { message: 'Too Many Requests' }, rateHeaders('app'));
        if (overRate(`token:${token}`, limits.tokenRps)) {
          return reply(429, { message: 'Too Many Requests' }, rateHeaders('token'));
        }
        const appFull = (concurrent.get('app') ?? 0) >= limits.appConcurrent;
        const tokenFull = (concurrent.get(token) ?? 0) >= limits.tokenConcurrent;
        if (appFull || tokenFull) {
          penalties.set(appFull ? 'app' : `token:${token}`, { until: now() + 1000, seconds: 1 });
          return reply(
            429,
            { message: 'Too Many Requests' },
            { 'retry-after': '1', ...rateHeaders('concurrent') },
          );
        }
      }
      concurrent.set('app', (concurrent.get('app') ?? 0) + 1);
      concurrent.set(token, (concurrent.get(token) ?? 0) + 1);
      try {
        await sleep(latency());
        if (itemId) {
          const item = m.items.get(itemId);
          return item ? reply(200, item) : reply(404, { message: 'Not Found' });
        }
        const listed = listItems(mId, m, url.searchParams);
        if ('error' in listed) {
          return reply(
            400,
            { message: listed.error },
            { 'X-Clover-Allowed-Filter-Fields': FILTER_FIELDS.join(',') },
          );
        }
        return reply(
          200,
          { elements: listed.page },
          { 'X-Clover-Allowed-Filter-Fields': FILTER_FIELDS.join(',') },
        );
      } finally {
        concurrent.set('app', (concurrent.get('app') ?? 1) - 1);
        concurrent.set(token, (concurrent.get(token) ?? 1) - 1);
      }
    }
    return reply(404, { message: 'Not Found' });
  };

  const rateHeaders = (kind: string): Record<string, string> => ({ 'X-RateLimit-Limit-Type': kind });

  /**
   * Clover's consent step. GET shows the signed-in merchant an Allow/Deny page; its form posts back
   * here, and the browser is redirected to `redirect_uri` with `merchant_id`, `client_id` and a code,
   * or, when denied, with `error=access_denied` (our assumption: docs/clover-connect.md). `state`
   * comes back unchanged either way.
   */
  const authorize = (
    req: IncomingMessage,
    url: URL,
    body: string,
    res: ServerResponse,
    reply: (status: number, payload: unknown) => void,
  ) => {
    const params = req.method === 'POST' ? new URLSearchParams(body) : url.searchParams;
    const clientId = params.get('client_id') ?? '';
    const redirectUri = params.get('redirect_uri') ?? '';
    const state = params.get('state');
    if (req.method !== 'GET' && req.method !== 'POST') return reply(405, { message: 'Method Not Allowed' });
    if (clientId !== appId) return html(res, 400, 'Unknown app', '<p>This app is not known to Clover.</p>');
    if (!/^https?:\/\/[^/]/.test(redirectUri) || !URL.canParse(redirectUri)) {
      return html(res, 400, 'Bad request', '<p>redirect_uri is missing or not an absolute URL.</p>');
    }
    if (siteUrl !== undefined && !underSiteUrl(redirectUri, siteUrl)) {
      return html(res, 400, 'Bad request', "<p>redirect_uri is not under the app's Site URL.</p>");
    }
    const merchantId = req.method === 'POST' ? params.get('merchant_id') : signedIn;
    if (!merchantId || !merchants.has(merchantId)) {
      return html(res, 401, 'Sign in to Clover', '<p>No merchant is signed in to the simulator.</p>');
    }
    if (req.method === 'GET') {
      const field = (name: string, value: string) =>
        `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
      const name = merchantNames.get(merchantId);
      return html(
        res,
        200,
        'Allow access?',
        `<p>The app <b>${escapeHtml(appId)}</b> asks to read the inventory of ` +
          `<b id="merchant">${escapeHtml(name ? `${name} (${merchantId})` : merchantId)}</b>.</p>` +
          `<form method="post" action="/oauth/v2/authorize">${field('client_id', clientId)}` +
          `${field('redirect_uri', redirectUri)}${state === null ? '' : field('state', state)}` +
          `${field('merchant_id', merchantId)}` +
          '<button type="submit" name="decision" value="allow" id="allow">Allow</button> ' +
          '<button type="submit" name="decision" value="deny" id="deny">Deny</button></form>',
      );
    }
    const back = new URL(redirectUri);
    if (params.get('decision') === 'allow') {
      back.searchParams.set('merchant_id', merchantId);
      back.searchParams.set('client_id', clientId);
      back.searchParams.set('code', issueCode(merchantId, clientId));
    } else {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The merchant denied access');
    }
    if (state !== null) back.searchParams.set('state', state);
    res.writeHead(302, { location: back.toString(), 'cache-control': 'no-store' });
    res.end();
  };

  const listItems = (mId: string, m: MerchantState, q: URLSearchParams) => {
    let items = [...m.items.values()];
    for (const f of q.getAll('filter')) {
      const match = /^(\w+)(>=|<=|!=|=|<|>)(.*)$/.exec(f);
      if (!match) return { error: `Invalid filter: ${f}` };
      const [, field = '', op, raw = ''] = match;
      if (!(FILTER_FIELDS as readonly string[]).includes(field))
        return { error: `Invalid filter field: ${field}` };
      const cmp = (v: unknown) => {
        const value = typeof v === 'number' ? Number(raw) : typeof v === 'boolean' ? raw === 'true' : raw;
        const a = v as number | string | boolean;
        switch (op) {
          case '=':
            return a === value;
          case '!=':
            return a !== value;
          case '<':
            return a < value;
          case '<=':
            return a <= value;
          case '>':
            return a > value;
          default:
            return a >= value;
        }
      };
      items = items.filter((i) => cmp(i[field as keyof SimItem]));
    }
    const orderBy = (q.get('orderBy') ?? '').trim();
    if (/^modifiedTime( ASC)?$/i.test(orderBy)) {
      items.sort(
        (a, b) =>
          a.modifiedTime - b.modifiedTime || a.createdTime - b.createdTime || a.id.localeCompare(b.id),
      );
    } else if (/^modifiedTime DESC$/i.test(orderBy)) {
      items.sort(
        (a, b) =>
          b.modifiedTime - a.modifiedTime || b.createdTime - a.createdTime || b.id.localeCompare(a.id),
      );
    } else {
      items.sort((a, b) => b.createdTime - a.createdTime || b.id.localeCompare(a.id));
    }
    const limit = Math.min(1000, Math.max(1, Number(q.get('limit') ?? 100) || 100));
    const offset = Math.max(0, Number(q.get('offset') ?? 0) || 0);
    const page = items.slice(offset, offset + limit);
    hooks.onItemsPage?.({ merchantId: mId, offset, limit, page });
    return { page };
  };

  const simControl = (req: IncomingMessage, path: string, body: string, res: ServerResponse) => {
    const parts = path.split('/').filter(Boolean).slice(1); // after _sim
    const json = () => (body ? JSON.parse(body) : {});
    if (req.method === 'POST' && parts.join('/') === 'merchants') {
      const { merchantId, items } = json();
      return sendJson(res, 200, control.addMerchant(merchantId, items));
    }
    if (parts[0] === 'merchants' && parts[1]) {
      const mId = parts[1];
      if (req.method === 'GET' && parts[2] === 'items' && !parts[3])
        return sendJson(res, 200, control.items(mId));
      if (req.method === 'PUT' && parts[2] === 'items' && parts[3]) {
        return sendJson(res, 200, control.upsertItem(mId, { ...json(), id: parts[3] }));
      }
      if (req.method === 'DELETE' && parts[2] === 'items' && parts[3]) {
        return sendJson(res, 200, { deleted: control.deleteItem(mId, parts[3]) });
      }
      if (req.method === 'POST' && parts[2] === 'expire-access-token') {
        control.expireAccessToken(mId);
        return sendJson(res, 200, { ok: true });
      }
      if (req.method === 'POST' && parts[2] === 'tokens') return sendJson(res, 200, control.issueTokens(mId));
      if (req.method === 'POST' && parts[2] === 'uninstall') {
        return sendJson(res, 200, { uninstalled: control.uninstallApp(mId) });
      }
      if (req.method === 'POST' && parts[2] === 'revoke-refresh-token') {
        control.revokeRefreshToken(mId);
        return sendJson(res, 200, { ok: true });
      }
    }
    // Faults, so an operator can drill an outage on `npm start` as the tests do in process.
    const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
    if (req.method === 'POST' && parts.join('/') === 'fail-next') {
      const { count, status, retryAfterSeconds, enforce } = json();
      const after = num(retryAfterSeconds);
      control.failNext(num(count) ?? 1, num(status) ?? 500, {
        ...(after === undefined ? {} : { retryAfterSeconds: after }),
        ...(enforce === true ? { enforce: true } : {}),
      });
      return sendJson(res, 200, { ok: true });
    }
    if (req.method === 'POST' && parts.join('/') === 'rate-limit-every') {
      const { n, retryAfterSeconds } = json();
      control.rateLimitEvery(num(n) ?? 0, num(retryAfterSeconds) ?? 1);
      return sendJson(res, 200, { ok: true });
    }
    if (req.method === 'POST' && parts.join('/') === 'sign-in') {
      control.signIn(json().merchantId);
      return sendJson(res, 200, { signedIn });
    }
    if (req.method === 'GET' && parts[0] === 'requests') return sendJson(res, 200, requests);
    if (req.method === 'GET' && parts[0] === 'stats') return sendJson(res, 200, control.stats);
    return sendJson(res, 404, { message: 'unknown simulator control route' });
  };

  const server = await startHttpServer(handle, opts.port ?? 0, opts.host ?? '127.0.0.1');
  const stop = async () => {
    webhooks.stop();
    await server.stop();
  };
  // Assigned onto `control` itself (not spread) so its live getters (requests, refreshCalls) keep working.
  return Object.assign(control, { url: server.url, stop });
}

function html(res: ServerResponse, status: number, title: string, content: string) {
  const page =
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(title)} · Clover (simulator)</title></head>` +
    `<body><main><h1>${escapeHtml(title)}</h1>${content}</main></body></html>`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(page),
    'cache-control': 'no-store',
  });
  res.end(page);
}
