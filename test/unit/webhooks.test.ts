import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { APP_UNINSTALLED } from '../../src/connect/authorize.ts';
import { MerchantRecordSchema } from '../../src/store/merchants.ts';
import { PollMessageSchema } from '../../src/sync/messages.ts';
import { createWebApp, WEB_PATHS } from '../../src/web/app.ts';
import { HttpEventSchema, toWebRequest } from '../../src/web/event.ts';
import type { WebRequest } from '../../src/web/http.ts';
import { webhookResponse } from '../../src/web/webhooks.ts';
import {
  authCodeMatches,
  MAX_MERCHANTS_PER_REQUEST,
  MAX_WEBHOOK_BODY_BYTES,
  noticeAction,
  noticePolls,
  readNotices,
} from '../../src/webhooks/notices.ts';
import { receiveWebhook, type WebhookDeps } from '../../src/webhooks/receive.ts';
import { FakeMerchantStore, merchantRecord, RecordingQueue } from './fakes.ts';

const AUTH = 'clover-auth-code-7f3a';
const NOW = 1_800_000_000_000;

function world(...records: ReturnType<typeof merchantRecord>[]) {
  const merchants = new FakeMerchantStore(...records);
  const pollQueue = new RecordingQueue();
  const verifications: Array<{ code: string; at: number }> = [];
  const deps: WebhookDeps = {
    merchants,
    pollQueue,
    verifications: { record: async (code, at) => void verifications.push({ code, at }) },
    authCode: async () => AUTH,
    now: () => NOW,
  };
  /** `null`: no X-Clover-Auth header at all. */
  const send = (body: unknown, auth: string | null = AUTH) =>
    receiveWebhook(deps, {
      body: typeof body === 'string' ? body : JSON.stringify(body),
      authHeader: auth ?? undefined,
    });
  return { merchants, pollQueue, verifications, deps, send };
}

const notice = (objectId: string, type = 'UPDATE', ts = NOW - 1000) => ({ objectId, type, ts });
const body = (merchants: Record<string, unknown>) => ({ appId: 'APP', merchants });
const bodies = (sent: RecordingQueue) => sent.sent.map((m) => m.body as Record<string, unknown>);

describe('notice rules', () => {
  it('reads I: changes and deletions, A: uninstalls, and ignores other keys, events and forms', () => {
    expect(noticeAction(notice('I:ITEM1', 'CREATE', 5))).toEqual({ kind: 'changed', ts: 5 });
    expect(noticeAction(notice('I:ITEM1', 'UPDATE', 5))).toEqual({ kind: 'changed', ts: 5 });
    expect(noticeAction(notice('I:ITEM1', 'DELETE', 5))).toEqual({ kind: 'deleted', itemId: 'ITEM1', ts: 5 });
    expect(noticeAction(notice('A:APPID', 'DELETE', 5))).toEqual({ kind: 'uninstalled', ts: 5 });
    const ignored = (raw: unknown) => (noticeAction(raw) as { reason?: string }).reason;
    expect(ignored(notice('A:APPID', 'CREATE'))).toBe('event type');
    expect(ignored(notice('I:ITEM1', 'update'))).toBe('event type');
    for (const key of ['IS:ITEM1', 'IA:ITEM1', 'O:ORDER1', 'C:CUST', 'ITEM1'])
      expect(ignored(notice(key)), key).toBe('object key');
    for (const raw of [
      notice('I:'),
      notice('I:../../x'),
      notice('I:ÄBC'),
      notice(`I:${'A'.repeat(33)}`),
      notice('A:'),
      { objectId: 'I:ITEM1', type: 'UPDATE' },
      { objectId: 'I:ITEM1', type: 'UPDATE', ts: -1 },
      { objectId: 'I:ITEM1', type: 'UPDATE', ts: 1.5 },
      { objectId: 7, type: 'UPDATE', ts: 1 },
      null,
      'I:ITEM1',
    ])
      expect(ignored(raw), JSON.stringify(raw)).toBe('malformed');
  });

  it('sums each merchant’s notices, sets aside merchant keys that are no Clover id, refuses a body too wide', () => {
    const read = readNotices(
      body({
        M1: [
          notice('I:A', 'UPDATE', 10),
          notice('I:B', 'CREATE', 30),
          notice('I:C', 'DELETE'),
          notice('I:C', 'DELETE'),
        ],
        M2: [notice('A:APP', 'DELETE', 7), notice('O:X'), 'junk'],
        M3: 'not a list',
        'bad id!': [notice('I:A'), notice('I:B')],
      }),
    );
    expect(read).toEqual({
      ok: true,
      unreadable: 2,
      merchants: [
        { merchantId: 'M1', changedAt: 30, deleted: ['C'], uninstalls: 0, actionable: 4, ignored: {} },
        {
          merchantId: 'M2',
          uninstalledAt: 7,
          deleted: [],
          uninstalls: 1,
          actionable: 1,
          ignored: { 'object key': 1, malformed: 1 },
        },
        { merchantId: 'M3', deleted: [], uninstalls: 0, actionable: 0, ignored: { malformed: 1 } },
      ],
    });
    for (const bad of [null, [], 'x', {}, { merchants: [] }, { merchants: 'M1' }, { merchants: null }])
      expect(readNotices(bad), JSON.stringify(bad)).toEqual({ ok: false, problem: 'malformed' });
    const wide = Object.fromEntries(
      Array.from({ length: MAX_MERCHANTS_PER_REQUEST + 1 }, (_, i) => [`M${i}`, []]),
    );
    expect(readNotices(body(wide))).toEqual({ ok: false, problem: 'too-many-merchants' });
  });

  it('queues one poll per merchant until its next poll begins, and none for a change a finished poll read', () => {
    const summary = (changedAt: number) => ({
      merchantId: 'M1',
      changedAt,
      deleted: [],
      uninstalls: 0,
      actionable: 1,
      ignored: {},
    });
    // Notices recorded before the merchant's 8th poll began, whatever their times: one poll.
    const seven = { started: 7, cursor: NOW - 120_000 };
    const ids = Array.from(
      { length: 500 },
      (_, i) => noticePolls(summary(NOW - 60_000 + i * 100), NOW + i, seven)[0]?.deduplicationId,
    );
    expect(new Set(ids).size).toBe(1);
    const [first] = noticePolls(summary(NOW), NOW, seven);
    expect(first).toMatchObject({
      groupId: 'M1',
      body: { merchantId: 'M1', mode: 'incremental', reason: 'webhook', requestedAt: NOW },
    });
    expect(first?.body).not.toHaveProperty('confirmGone');
    // Once that poll began (and finished, having read up to NOW): a later change is another poll,
    // however close in time; a change it read (the rest of a burst, a notice sent twice) is none.
    const eight = { started: 8, cursor: NOW };
    expect(noticePolls(summary(NOW + 1), NOW + 5_000, eight)[0]?.deduplicationId).not.toBe(ids[0]);
    expect(noticePolls(summary(NOW), NOW + 5_000, eight)).toEqual([]);
    expect(noticePolls(summary(NOW), NOW, { started: 0 })).toHaveLength(1); // never polled
    expect(noticePolls({ ...summary(0), changedAt: undefined, actionable: 0 }, NOW, seven)).toEqual([]);
  });

  it('carries deleted items to confirm, 1,000 per poll, the same set always under one deduplication id', () => {
    const deleted = Array.from({ length: 2001 }, (_, i) => `ITEM${i}`);
    const polls = noticePolls(
      { merchantId: 'M1', deleted, uninstalls: 0, actionable: 2001, ignored: {} },
      NOW,
      { started: 7, cursor: NOW },
    );
    const gone = polls.map((p) => (p.body as { confirmGone: string[] }).confirmGone);
    expect(gone.map((g) => g.length)).toEqual([1000, 1000, 1]);
    expect(new Set(gone.flat())).toEqual(new Set(deleted));
    expect(new Set(polls.map((p) => p.deduplicationId)).size).toBe(3);
    const goneKey = (ids: string[], started: number) =>
      noticePolls({ merchantId: 'M1', deleted: ids, uninstalls: 0, actionable: 2, ignored: {} }, NOW, {
        started,
        cursor: NOW,
      })[0]?.deduplicationId;
    expect(goneKey(['B', 'A'], 7)).toBe(goneKey(['A', 'B'], 7));
    // A deletion said again once a poll began is polled again (a deletion moves no cursor).
    expect(goneKey(['A', 'B'], 8)).not.toBe(goneKey(['A', 'B'], 7));
  });

  it('compares the auth code exactly', () => {
    expect(authCodeMatches(AUTH, AUTH)).toBe(true);
    for (const given of [undefined, '', `${AUTH} `, AUTH.toUpperCase(), AUTH.slice(1), `${AUTH},${AUTH}`])
      expect(authCodeMatches(given, AUTH), String(given)).toBe(false);
  });
});

describe('receiving a webhook', () => {
  it('records Clover’s verification code without auth, and queues nothing', async () => {
    const w = world(merchantRecord());
    expect(await w.send({ verificationCode: 'ab12-CD34' }, null)).toEqual({ kind: 'verification' });
    expect(w.verifications).toEqual([{ code: 'ab12-CD34', at: NOW }]);
    expect(w.pollQueue.sent).toEqual([]);
    // A field Clover may add beside the code does not make it a notice.
    expect(await w.send({ verificationCode: 'cd56', appId: 'APP' }, null)).toEqual({ kind: 'verification' });
    expect(w.verifications.at(-1)).toEqual({ code: 'cd56', at: NOW });
    // A body carrying notices is not a verification (and then needs auth).
    expect(await w.send({ verificationCode: 'x', merchants: {} }, null)).toMatchObject({
      kind: 'unauthorized',
    });
    expect(await w.send({ verificationCode: 'has space' }, null)).toMatchObject({
      kind: 'unauthorized',
    });
  });

  it('refuses a notice without the auth code, with a wrong one, or with none configured, writing nothing', async () => {
    const w = world(merchantRecord());
    const update = body({ M1: [notice('I:ITEM1'), notice('A:APP', 'DELETE')] });
    expect(await w.send(update, null)).toEqual({ kind: 'unauthorized', reason: 'missing' });
    expect(await w.send(update, 'nope')).toEqual({ kind: 'unauthorized', reason: 'wrong' });
    w.deps.authCode = async () => undefined;
    expect(await w.send(update)).toEqual({ kind: 'unauthorized', reason: 'not configured' });
    w.deps.authCode = async () => {
      throw new Error('Secrets Manager unavailable');
    };
    expect(await w.send(update)).toMatchObject({ kind: 'unavailable' });
    expect(w.pollQueue.sent).toEqual([]);
    expect(w.merchants.records.get('M1')).toEqual(merchantRecord());
  });

  it('refuses a body over 1 MB, one that is not JSON, and one that is not a notice', async () => {
    const w = world(merchantRecord());
    const big = JSON.stringify(body({ M1: [notice('I:ITEM1')], pad: 'x'.repeat(MAX_WEBHOOK_BODY_BYTES) }));
    expect(await w.send(big)).toEqual({ kind: 'too-large' });
    expect(await w.send('{"merchants":')).toEqual({ kind: 'malformed', problem: 'not JSON' });
    expect(await w.send('')).toEqual({ kind: 'malformed', problem: 'not JSON' });
    expect(await w.send({ merchants: ['M1'] })).toEqual({ kind: 'malformed', problem: 'not a notice' });
    expect(w.pollQueue.sent).toEqual([]);
  });

  it('queues a poll of each active merchant noticed, records the notice, and ignores the rest, counted', async () => {
    const w = world(
      merchantRecord({ merchantId: 'M1' }),
      merchantRecord({ merchantId: 'M2', state: 'needs_reauth' }),
    );
    const out = await w.send(
      body({
        M1: [notice('I:A'), notice('I:B', 'CREATE'), notice('IS:A'), notice('O:X')],
        M2: [notice('I:A')],
        UNKNOWN1: [notice('I:A'), notice('I:B')],
      }),
    );
    expect(out).toEqual({
      kind: 'received',
      accepted: 2,
      ignored: { 'object key': 2, 'merchant not active': 1, 'unknown merchant': 2 },
      pollsQueued: 1,
      uninstalled: [],
    });
    expect(bodies(w.pollQueue)).toEqual([
      { merchantId: 'M1', mode: 'incremental', requestedAt: NOW, reason: 'webhook' },
    ]);
    expect(w.merchants.records.get('M1')?.lastNoticeAt).toBe(NOW);
    expect(w.merchants.records.get('M2')?.lastNoticeAt).toBe(NOW);
    expect(w.merchants.records.has('UNKNOWN1')).toBe(false);
  });

  it('sends deleted items to be confirmed gone by the poll', async () => {
    const w = world(merchantRecord());
    await w.send(body({ M1: [notice('I:GONE1', 'DELETE'), notice('I:A')] }));
    expect(bodies(w.pollQueue)).toEqual([
      { merchantId: 'M1', mode: 'incremental', requestedAt: NOW, reason: 'webhook', confirmGone: ['GONE1'] },
    ]);
  });

  it('disables a merchant whose app was uninstalled and deletes its tokens, once', async () => {
    const w = world(merchantRecord({ authorizedAt: NOW - 60_000, previousRefreshToken: 'prev' }));
    const uninstall = body({ M1: [notice('A:APP', 'DELETE', NOW - 1000), notice('I:A')] });
    expect(await w.send(uninstall)).toMatchObject({ kind: 'received', accepted: 2, uninstalled: ['M1'] });
    const m = w.merchants.records.get('M1');
    expect(m).toMatchObject({
      state: 'disabled',
      stateReason: APP_UNINSTALLED,
      accessToken: '',
      refreshToken: '',
    });
    expect(m?.previousRefreshToken).toBeUndefined();
    expect(w.pollQueue.sent).toEqual([]);
    // Clover repeats it: nothing more happens.
    expect(await w.send(uninstall)).toMatchObject({ kind: 'received', uninstalled: [] });
  });

  it('keeps an operator’s disable and reason, and ignores an uninstall older than the last connection', async () => {
    const w = world(
      merchantRecord({ merchantId: 'M1', state: 'disabled', stateReason: 'closed for the season' }),
      merchantRecord({ merchantId: 'M2', authorizedAt: NOW - 500 }),
    );
    const out = await w.send(
      body({
        M1: [notice('A:APP', 'DELETE', NOW - 1000)],
        M2: [notice('A:APP', 'DELETE', NOW - 1000), notice('I:A', 'UPDATE', NOW - 100)],
      }),
    );
    expect(out).toMatchObject({ uninstalled: ['M1'], ignored: { 'stale uninstall': 1 }, pollsQueued: 1 });
    expect(w.merchants.records.get('M1')).toMatchObject({
      state: 'disabled',
      stateReason: 'closed for the season',
      accessToken: '',
    });
    expect(w.merchants.records.get('M2')).toMatchObject({ state: 'active', accessToken: 'access-0' });
  });
});

describe('a merchant whose tokens were deleted', () => {
  const stored = {
    merchantId: 'M1',
    storeCode: 's',
    state: 'disabled',
    stateReason: APP_UNINSTALLED,
    accessTokenExpiresAt: 1,
    refreshTokenExpiresAt: 2,
    tokenVersion: 3,
    tokensDeletedAt: NOW,
    createdAt: 0,
    updatedAt: 0,
  };

  it('reads without tokens while disabled, and is unusable when active', () => {
    expect(MerchantRecordSchema.parse(stored)).toMatchObject({ accessToken: '', refreshToken: '' });
    expect(MerchantRecordSchema.safeParse({ ...stored, state: 'active' }).success).toBe(false);
    const { tokensDeletedAt: _, ...withoutMark } = stored;
    expect(MerchantRecordSchema.safeParse(withoutMark).success).toBe(false);
  });
});

describe('the webhook route', () => {
  const request = (over: Partial<WebRequest> & { auth?: string } = {}): WebRequest => ({
    method: 'POST',
    path: WEB_PATHS.webhooks,
    rawQuery: '',
    domainName: 'web.test',
    headers: over.auth === undefined ? {} : { 'x-clover-auth': over.auth },
    body: JSON.stringify(body({ M1: [notice('I:A')] })),
    ...over,
  });
  const appFor = (w: ReturnType<typeof world>, onError: (err: unknown) => void = () => undefined) =>
    createWebApp(
      {
        merchants: w.merchants as never,
        invites: {} as never,
        states: {} as never,
        clover: {} as never,
        app: async () => ({ appId: 'APP' }),
        stateKey: async () => 'k',
        oauthBaseUrl: 'https://clover.test',
        webhooks: w.deps,
      },
      { onError: (_route, err) => onError(err) },
    );

  it('answers each outcome with its status, a short JSON body and the security headers', async () => {
    const w = world(merchantRecord());
    const app = appFor(w);
    const ok = await app(request({ auth: AUTH }));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ ok: true });
    expect(ok.headers).toMatchObject({
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    expect((await app(request())).status).toBe(401);
    expect((await app(request({ auth: AUTH, body: '[' }))).status).toBe(400);
    expect((await app(request({ auth: AUTH, body: 'x'.repeat(MAX_WEBHOOK_BODY_BYTES + 1) }))).status).toBe(
      413,
    );
    expect((await app(request({ method: 'GET' }))).status).toBe(405);
    for (const kind of ['too-many-merchants', 'unavailable'] as const)
      expect(webhookResponse({ kind, reason: 'x' } as never).status).toBe(kind === 'unavailable' ? 503 : 413);
  });

  it('answers 503 when the queue or the table fails, and tells the error hook', async () => {
    const w = world(merchantRecord());
    w.deps.pollQueue = {
      send: async () => {
        throw new Error('SQS unavailable');
      },
    };
    const errors: unknown[] = [];
    const res = await appFor(w, (err) => errors.push(err))(request({ auth: AUTH }));
    expect(res.status).toBe(503);
    expect(errors).toHaveLength(1);
  });

  it('never answers 5xx nor queues a poll without the auth code, whatever the body and headers (fuzzed)', {
    timeout: 60_000,
  }, async () => {
    const json = fc.jsonValue({ maxDepth: 4 });
    const noticeLike = fc.record({
      objectId: fc.oneof(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.constantFrom('I:', 'A:', 'I:ITEM1', 'A:APP', 'IS:X', ':', 'I:I:I', `I:${'Z'.repeat(40)}`),
      ),
      type: fc.oneof(fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'delete', ''), fc.string()),
      ts: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)),
    });
    const list = fc.oneof(
      fc.array(noticeLike, { maxLength: 30 }),
      json,
      fc.array(fc.constant(notice('I:A')), { minLength: 500, maxLength: 3000 }),
    );
    const bodyArb = fc.oneof(
      json.map((v) => JSON.stringify(v)),
      fc
        .dictionary(fc.oneof(fc.constant('M1'), fc.string({ unit: 'grapheme', maxLength: 20 })), list)
        .map((m) => JSON.stringify({ appId: 'APP', merchants: m })),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.constant(undefined),
    );
    const headers = fc.dictionary(
      fc.oneof(
        fc.constantFrom('x-clover-auth', 'X-Clover-Auth', 'content-type'),
        fc.string({ maxLength: 20 }),
      ),
      fc.string({ unit: 'binary', maxLength: 60 }),
    );
    await fc.assert(
      fc.asyncProperty(bodyArb, headers, fc.boolean(), fc.boolean(), async (text, random, base64, signed) => {
        const w = world(merchantRecord());
        const given = signed ? { ...random, 'X-Clover-Auth': AUTH } : random;
        const event = HttpEventSchema.parse({
          version: '2.0',
          rawPath: WEB_PATHS.webhooks,
          headers: given,
          ...(text === undefined
            ? {}
            : {
                body: base64 ? Buffer.from(text, 'utf8').toString('base64') : text,
                isBase64Encoded: base64,
              }),
          requestContext: { domainName: 'web.test', http: { method: 'POST' } },
        });
        const req = toWebRequest(event);
        const authorized = req.headers?.['x-clover-auth'] === AUTH;
        const res = await appFor(w)(req);
        expect(res.status).toBeLessThan(500);
        if (!authorized) {
          expect([400, 401, 413]).toContain(res.status);
          expect(w.pollQueue.sent).toEqual([]);
          expect(w.merchants.records.get('M1')?.lastNoticeAt).toBeUndefined();
        } else {
          expect([200, 400, 413]).toContain(res.status);
          // Only the one known merchant can be polled, with a message the poller accepts.
          for (const m of w.pollQueue.sent) expect(PollMessageSchema.parse(m.body).merchantId).toBe('M1');
        }
      }),
      { numRuns: 300 },
    );
  });
});
