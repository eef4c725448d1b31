import { describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, DEFAULT_SYNC_SETTINGS, loadConfig } from '../../src/config.ts';
import { InvalidMessageError, MerchantUnavailableError } from '../../src/errors.ts';
import type { AttentionRecord } from '../../src/store/attention.ts';
import type { MerchantRecord } from '../../src/store/merchants.ts';
import { ALARM_CLEARS_MS, storesJoined } from '../../src/sync/attention.ts';
import { parseBackfillRequest, requestBackfill } from '../../src/sync/backfill.ts';
import { fanOut, JOINS_TOLD } from '../../src/sync/fanout.ts';
import { BackfillRequestSchema } from '../../src/sync/messages.ts';
import { FakeMerchantStore, merchantRecord, RecordingQueue } from './fakes.ts';

const env = {
  MERCHANTS_TABLE: 'm',
  PRODUCTS_TABLE: 'p',
  POLL_QUEUE_URL: 'q1',
  PUSH_QUEUE_URL: 'q2',
  APP_SECRET_ID: 's',
  PRODUCT_CODE_PRECEDENCE: 'code,sku,id',
  HIPOINK_SECRET_ID: 'h',
  CLOVER_API_BASE_URL: 'https://api.clover.com/',
  HIPOINK_BASE_URL: 'https://esl.test//',
};

describe('loadConfig', () => {
  it('parses the environment with defaults', () => {
    const c = loadConfig(env);
    expect(c).toMatchObject({
      cloverApiBaseUrl: 'https://api.clover.com',
      hipoinkBaseUrl: 'https://esl.test',
      hipoinkClientId: 'default',
      pollIntervalSeconds: 120,
      productCodePrecedence: ['code', 'sku', 'id'],
      hipoinkChunkSize: 200,
      tokenRefreshThresholdMinutes: 15,
      tokenMaxAgeMinutes: 60,
      cloverRequestsPerSecond: 50,
      tokenRefreshBufferMinutes: 5,
      tokenRefreshIntervalMinutes: 10,
    });
    // A proactive buffer under one minute is refused, not silently used.
    expect(() => loadConfig({ ...env, TOKEN_REFRESH_BUFFER_MINUTES: '0.5' })).toThrow(
      /TOKEN_REFRESH_BUFFER_MINUTES/,
    );
    expect(() => loadConfig({ ...env, CLOVER_REQUESTS_PER_SECOND: '80' })).toThrow(
      /CLOVER_REQUESTS_PER_SECOND/,
    );
    expect(() => loadConfig({ ...env, HIPOINK_CHUNK_SIZE: '0' })).toThrow(/HIPOINK_CHUNK_SIZE/);
    expect(loadConfig({ ...env, PRODUCT_CODE_PRECEDENCE: 'code, id' }).productCodePrecedence).toEqual([
      'code',
      'id',
    ]);
  });

  it('takes the default for a variable left empty, as npm start leaves those its user did not set', () => {
    const names = {
      HIPOINK_CLIENT_ID: 'hipoinkClientId',
      SAFETY_POLL_INTERVAL_MINUTES: 'safetyPollIntervalMinutes',
      TOKEN_MAX_AGE_MINUTES: 'tokenMaxAgeMinutes',
      TOKEN_REFRESH_THRESHOLD_MINUTES: 'tokenRefreshThresholdMinutes',
      TOKEN_REFRESH_BUFFER_MINUTES: 'tokenRefreshBufferMinutes',
      HIPOINK_CHUNK_SIZE: 'hipoinkChunkSize',
      CLOVER_REQUESTS_PER_SECOND: 'cloverRequestsPerSecond',
    } as const;
    const empty = Object.fromEntries(Object.keys(names).map((n) => [n, '']));
    const c = loadConfig({ ...env, ...empty });
    for (const key of Object.values(names)) expect(c[key]).toBe(CONFIG_DEFAULTS[key]);
    // The sync settings' defaults are the same ones.
    expect(DEFAULT_SYNC_SETTINGS.hipoinkChunkSize).toBe(c.hipoinkChunkSize);
    expect(DEFAULT_SYNC_SETTINGS.refreshThresholdSeconds).toBe(c.tokenRefreshThresholdMinutes * 60);
  });

  it('names the variable that is missing or wrong', () => {
    expect(() => loadConfig({ ...env, MERCHANTS_TABLE: undefined })).toThrow(/MERCHANTS_TABLE/);
    expect(() => loadConfig({ ...env, PRODUCT_CODE_PRECEDENCE: 'sku,barcode' })).toThrow(
      /PRODUCT_CODE_PRECEDENCE/,
    );
    expect(() => loadConfig({ ...env, CLOVER_API_BASE_URL: 'not a url' })).toThrow(/CLOVER_API_BASE_URL/);
  });

  it('says what is wrong with a variable in plain English', () => {
    expect(() => loadConfig({ ...env, MERCHANTS_TABLE: undefined })).toThrow(
      'Invalid configuration: MERCHANTS_TABLE: Invalid input: expected string, received undefined',
    );
    expect(() => loadConfig({ ...env, CLOVER_REQUESTS_PER_SECOND: '80' })).toThrow(
      'Invalid configuration: CLOVER_REQUESTS_PER_SECOND: Too big: expected number to be <=50',
    );
  });
});

describe('fanOut', () => {
  const merchants = () =>
    new FakeMerchantStore(
      merchantRecord({ merchantId: 'A' }),
      merchantRecord({ merchantId: 'B', state: 'needs_reauth' }),
      merchantRecord({ merchantId: 'C', state: 'disabled' }),
    );
  const schedule = {
    cadence: { pollIntervalSeconds: 120, safetyPollIntervalMinutes: 15 },
    fanOutPeriodSeconds: 60,
    readRequestsPerSecond: 40,
  };

  it('queues each active merchant once per interval, at its own phase; runs that see one poll time collapse', async () => {
    const q = new RecordingQueue();
    const deps = { merchants: merchants(), pollQueue: q, ...schedule };
    const results = [];
    // Ten minutes of runs, one a minute: each poll time of A lies in two runs' windows.
    for (let minute = 1; minute <= 10; minute++)
      results.push(await fanOut({ ...deps, now: () => 1_700_000_000_000 + minute * 60_000 }));
    expect(results[0]).toMatchObject({
      skipped: { needs_reauth: 1, disabled: 1 },
      attention: {
        needsReauth: 1,
        refreshTokenExpiringSoon: 0,
        lastSyncFailed: 0,
        appUninstalled: 0,
        pushFailing: 0,
        pending: 0,
      },
      load: { stretch: 1 },
      // Its listing gives the freshness gauges too: the active store only.
      freshness: { stores: 1 },
    });
    expect(new Set(q.sent.map((m) => m.groupId))).toEqual(new Set(['A']));
    expect(q.sent[0]).toMatchObject({ body: { merchantId: 'A', mode: 'incremental', reason: 'schedule' } });
    // What the FIFO queue keeps once it drops repeated deduplication ids: one poll every 2 minutes
    // over the 11 minutes the runs looked at.
    const kept = [...new Set(q.sent.map((m) => Number(String(m.deduplicationId).split('due-')[1])))];
    expect(kept.length).toBeGreaterThanOrEqual(5);
    expect(kept.length).toBeLessThanOrEqual(6);
    for (let i = 1; i < kept.length; i++) expect((kept[i] as number) - (kept[i - 1] as number)).toBe(120_000);
  });

  it('queues no scheduled poll for a store whose failed poll may still be retried, so its polls never pile up', async () => {
    const start = 1_700_000_000_000;
    // A store whose polls keep failing: each failed receive records the failure.
    const failedAt = (at: number) =>
      merchantRecord({ merchantId: 'A', lastSyncStatus: 'error', lastSyncAt: at });
    const q = new RecordingQueue();
    const runAt = async (now: number, record: MerchantRecord) =>
      fanOut({ merchants: new FakeMerchantStore(record), pollQueue: q, ...schedule, now: () => now });
    // AWS's backoffs: 30, 60, 120 and 240 s between receives; 6 minutes covers the longest.
    for (let minute = 1; minute <= 5; minute++) {
      const r = await runAt(start + minute * 60_000, failedAt(start));
      expect(r.skipped).toMatchObject({ retrying: 1 });
    }
    expect(q.sent).toEqual([]);
    // Dead-lettered after its last receive: the schedule takes the store up again.
    for (let minute = 7; minute <= 10; minute++) await runAt(start + minute * 60_000, failedAt(start));
    expect(q.sent.length).toBeGreaterThan(0);
    // A manual tick polls it at once, and a store whose last poll succeeded is never held back.
    q.sent.length = 0;
    await fanOut(
      {
        merchants: new FakeMerchantStore(failedAt(start)),
        pollQueue: q,
        ...schedule,
        now: () => start + 60_000,
      },
      { kind: 'manual', requestId: 'r0' },
    );
    expect(q.sent).toHaveLength(1);
  });

  it('counts the merchants an operator must act on: re-authorize, refresh token running out, last sync failed, waiting for a store code', async () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    const inDays = (d: number) => Math.floor(now / 1000) + d * 86_400;
    const store = new FakeMerchantStore(
      merchantRecord({ merchantId: 'SOON', refreshTokenExpiresAt: inDays(6.9) }),
      merchantRecord({ merchantId: 'LATER', refreshTokenExpiresAt: inDays(7.1), lastSyncStatus: 'ok' }),
      merchantRecord({
        merchantId: 'FAILING',
        refreshTokenExpiresAt: inDays(30),
        lastSyncStatus: 'error',
        syncFailingSince: now - 16 * 60_000,
      }),
      // Its polls have failed for 5 minutes only: a retry may still get through.
      merchantRecord({
        merchantId: 'HICCUP',
        refreshTokenExpiresAt: inDays(30),
        lastSyncStatus: 'error',
        syncFailingSince: now - 5 * 60_000,
      }),
      merchantRecord({
        merchantId: 'NOPUSH',
        refreshTokenExpiresAt: inDays(30),
        lastPushError: 'Hipoink refuses every request for store s',
        pushFailingSince: now - 16 * 60_000,
      }),
      // Failing for 5 minutes only: retries may still get through.
      merchantRecord({
        merchantId: 'BLIP',
        refreshTokenExpiresAt: inDays(30),
        lastPushError: 'Hipoink create_multiple failed with HTTP 503',
        pushFailingSince: now - 5 * 60_000,
      }),
      // Its reads have stopped short for 10 minutes: the next may finish.
      merchantRecord({
        merchantId: 'PARTIAL',
        refreshTokenExpiresAt: inDays(30),
        lastSyncStatus: 'partial',
        readIncompleteSince: now - 10 * 60_000,
      }),
      // For 31 minutes: its later changes wait unread, as a failing store's do.
      merchantRecord({
        merchantId: 'STUCK',
        refreshTokenExpiresAt: inDays(30),
        lastSyncStatus: 'partial',
        readIncompleteSince: now - 31 * 60_000,
      }),
      merchantRecord({ merchantId: 'REAUTH1', state: 'needs_reauth', refreshTokenExpiresAt: inDays(1) }),
      merchantRecord({ merchantId: 'REAUTH2', state: 'needs_reauth', lastSyncStatus: 'error' }),
      // Switched off on purpose: nothing to act on, whatever its tokens or last sync say.
      merchantRecord({
        merchantId: 'OFF',
        state: 'disabled',
        refreshTokenExpiresAt: inDays(1),
        lastSyncStatus: 'error',
      }),
      // Connected from Clover without an invite: it waits for a store code.
      merchantRecord({ merchantId: 'WAITING', state: 'pending', storeCode: undefined }),
      // Its owner uninstalled the app: its labels no longer follow Clover.
      merchantRecord({ merchantId: 'GONE', state: 'disabled', tokensDeletedAt: now - 60_000 }),
      // Uninstalled before it had a store: no labels to worry about.
      merchantRecord({
        merchantId: 'NEVERSTORE',
        state: 'disabled',
        storeCode: undefined,
        tokensDeletedAt: now - 60_000,
      }),
    );
    const r = await fanOut(
      { merchants: store, pollQueue: new RecordingQueue(), ...schedule, now: () => now },
      { kind: 'manual', requestId: 'r1' },
    );
    expect(r.queued).toBe(8);
    expect(r.attention).toEqual({
      needsReauth: 2,
      refreshTokenExpiringSoon: 1,
      lastSyncFailed: 2,
      appUninstalled: 1,
      pushFailing: 1,
      pending: 1,
    });
  });

  it('polls every active merchant on a manual tick, and never collapses two ticks', async () => {
    const q = new RecordingQueue();
    const deps = { merchants: merchants(), pollQueue: q, ...schedule, now: () => 5 };
    await fanOut(deps, { kind: 'manual', requestId: 'r1' });
    await fanOut(deps, { kind: 'manual', requestId: 'r2' });
    expect(q.sent).toHaveLength(2);
    expect(q.sent[0]?.deduplicationId).not.toBe(q.sent[1]?.deduplicationId);
    expect(q.sent[0]?.body).toMatchObject({ reason: 'manual' });
  });

  it('spreads a fleet’s polls over the interval instead of queueing them all at once', async () => {
    const fleet = Array.from({ length: 600 }, (_, i) => merchantRecord({ merchantId: `M${i}` }));
    const q = new RecordingQueue();
    const deps = { merchants: new FakeMerchantStore(...fleet), pollQueue: q, ...schedule };
    const start = 1_700_000_040_000;
    const firstSeen = new Map<string, number>();
    const newPerRun: number[] = [];
    for (let run = 0; run < 6; run++) {
      const before = firstSeen.size;
      await fanOut({ ...deps, now: () => start + run * 60_000 });
      for (const m of q.sent)
        if (!firstSeen.has(String(m.deduplicationId))) firstSeen.set(String(m.deduplicationId), run);
      newPerRun.push(firstSeen.size - before);
    }
    // After the first run (which also covers the minute before it), each run brings about half the
    // fleet: one minute's share of a two-minute interval, never the whole fleet at once.
    for (const n of newPerRun.slice(1)) {
      expect(n).toBeGreaterThan(600 * 0.4);
      expect(n).toBeLessThan(600 * 0.6);
    }
    // Every merchant polled once per interval: 6 minutes → 3 polls each (± the window's edges).
    const perMerchant = new Map<string, number>();
    for (const id of firstSeen.keys()) {
      const m = id.split(':')[0] as string;
      perMerchant.set(m, (perMerchant.get(m) ?? 0) + 1);
    }
    expect(perMerchant.size).toBe(600);
    expect(Math.min(...perMerchant.values())).toBeGreaterThanOrEqual(3);
    expect(Math.max(...perMerchant.values())).toBeLessThanOrEqual(4);
  });
});

describe('stores joining a condition others were already in', () => {
  const schedule = {
    cadence: { pollIntervalSeconds: 120, safetyPollIntervalMinutes: 15 },
    fanOutPeriodSeconds: 60,
    readRequestsPerSecond: 40,
  };
  class MemoryLedger {
    run: AttentionRecord | undefined;
    /** 'read': the record cannot be read; 'write': it cannot be written. */
    broken?: 'read' | 'write';
    async last() {
      if (this.broken === 'read') throw new Error('DynamoDB unavailable');
      return this.run && structuredClone(this.run);
    }
    async record(run: AttentionRecord) {
      if (this.broken === 'write') throw new Error('Item size has exceeded the maximum allowed size');
      this.run = structuredClone(run);
    }
  }

  it('names only a store counted where others were counted at the last run, or shortly before', () => {
    const none = {
      needsReauth: [],
      refreshTokenExpiringSoon: [],
      lastSyncFailed: [],
      appUninstalled: [],
      pushFailing: [],
      pending: [],
    };
    const at = 10_000_000;
    const last = (sets: Record<string, string[]>, busyAt: Record<string, number> = {}) => ({
      at,
      sets,
      busyAt,
      crowded: [],
    });
    expect(storesJoined(undefined, { ...none, needsReauth: ['A'] }, at)).toEqual([]);
    expect(
      storesJoined(last({ needsReauth: ['A'] }), { ...none, needsReauth: ['A', 'B'], pending: ['C'] }, at),
    ).toEqual([{ kind: 'needsReauth', merchantId: 'B' }]);
    // A count that fell to none a minute ago: its alarm may not have cleared yet, so B is a join.
    const fell = last({ needsReauth: [] }, { needsReauth: at - 60_000 });
    expect(storesJoined(fell, { ...none, needsReauth: ['B'] }, at)).toEqual([
      { kind: 'needsReauth', merchantId: 'B' },
    ]);
    // Long enough ago, its alarm has cleared, and B makes it fire again: no join.
    const cleared = last({ needsReauth: [] }, { needsReauth: at - ALARM_CLEARS_MS - 1 });
    expect(storesJoined(cleared, { ...none, needsReauth: ['B'] }, at)).toEqual([]);
    expect(storesJoined(last({ needsReauth: ['A', 'B'] }), { ...none, needsReauth: ['B'] }, at)).toEqual([]);
  });

  it('tells each join once, from the last run only, and queues the polls whatever the ledger does', async () => {
    const store = new FakeMerchantStore(merchantRecord({ merchantId: 'A', state: 'needs_reauth' }));
    const ledger = new MemoryLedger();
    let clock = 1_000_000;
    const run = (q = new RecordingQueue()) =>
      fanOut({ merchants: store, pollQueue: q, attention: ledger, ...schedule, now: () => clock });
    const minute = async (q?: RecordingQueue) => {
      clock += 60_000;
      return run(q);
    };
    // The first run after a deploy has no last run to compare with.
    expect((await run()).joined).toEqual([]);
    expect(ledger.run).toMatchObject({ at: clock, sets: { needsReauth: ['A'] } });
    // A reconnects as B needs it: B joins a count that had A (its alarm may still be firing).
    store.records.set('A', merchantRecord({ merchantId: 'A', state: 'active' }));
    store.records.set('B', merchantRecord({ merchantId: 'B', state: 'needs_reauth' }));
    expect((await minute()).joined).toEqual([{ kind: 'needsReauth', merchantId: 'B' }]);
    store.records.set('C', merchantRecord({ merchantId: 'C', state: 'needs_reauth' }));
    expect((await minute()).joined).toEqual([{ kind: 'needsReauth', merchantId: 'C' }]);
    expect((await minute()).joined).toEqual([]);
    // After the fan-out stopped for a while, its record is no last run's: nothing is told from it.
    clock += 11 * 60_000;
    store.records.set('D', merchantRecord({ merchantId: 'D', state: 'needs_reauth' }));
    expect((await run()).joined).toEqual([]);
    // A record it cannot write still lets it tell what it found; one it cannot read, not.
    ledger.broken = 'write';
    store.records.set('E', merchantRecord({ merchantId: 'E', state: 'needs_reauth' }));
    expect(await minute()).toMatchObject({
      joined: [{ kind: 'needsReauth', merchantId: 'E' }],
      joinedUnknown: 'Item size has exceeded the maximum allowed size',
    });
    ledger.broken = 'read';
    const q = new RecordingQueue();
    expect(await minute(q)).toMatchObject({
      joined: [],
      joinedUnknown: 'DynamoDB unavailable',
      attention: { needsReauth: 4 },
    });
    expect(q.sent.map((m) => m.groupId)).toEqual(['A']);
  });

  it('names at most a bounded number of joins, and counts them all, when a whole fleet joins at once', async () => {
    const store = new FakeMerchantStore(merchantRecord({ merchantId: 'A', state: 'needs_reauth' }));
    const ledger = new MemoryLedger();
    const run = (at: number) =>
      fanOut({
        merchants: store,
        pollQueue: new RecordingQueue(),
        attention: ledger,
        ...schedule,
        now: () => at,
      });
    await run(1_000_000);
    const many = JOINS_TOLD + 50;
    for (let i = 0; i < many; i++) {
      const merchantId = `J${String(i).padStart(4, '0')}`;
      store.records.set(merchantId, merchantRecord({ merchantId, state: 'needs_reauth' }));
    }
    const result = await run(1_060_000);
    expect(result.joinedCount).toBe(many);
    expect(result.joined).toHaveLength(JOINS_TOLD);
    expect(new Set(result.joined.map((j) => j.merchantId)).size).toBe(JOINS_TOLD);
  });
});

describe('parseBackfillRequest (the Backfill handler’s payload check)', () => {
  it('accepts Unix ms or an ISO time, and says which field is wrong otherwise', () => {
    expect(parseBackfillRequest({ merchantId: 'A', since: 1730419200000 })).toEqual({
      merchantId: 'A',
      since: 1730419200000,
    });
    expect(parseBackfillRequest({ all: true, since: '2026-11-01T00:00:00Z' })).toEqual({
      all: true,
      since: Date.parse('2026-11-01T00:00:00Z'),
    });
    const problem = (event: unknown) => {
      try {
        parseBackfillRequest(event);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidMessageError);
        return (err as Error).message;
      }
      throw new Error('expected a refusal');
    };
    expect(problem({ merchantId: 'A', since: '1730419200000' })).toMatch(/since: expected Unix ms/);
    expect(problem({ all: true, since: '2026-11-01' })).toMatch(/since: expected Unix ms/);
    expect(problem({ merchantId: '' })).toMatch(/merchantId: /);
    // The table's own records (the fan-out's ledger, the refresher's heartbeat) are no merchant.
    expect(problem({ merchantId: '#attention' })).toMatch(/merchantId: expected a Clover merchant id/);
    expect(problem({ all: false })).toMatch(/all: /);
    expect(problem({ merchantId: 'A', all: true })).toMatch(/Unrecognized key/);
  });
});

describe('requestBackfill', () => {
  it('queues a full resync for one merchant or every active one', async () => {
    const q = new RecordingQueue();
    const store = new FakeMerchantStore(
      merchantRecord({ merchantId: 'A' }),
      merchantRecord({ merchantId: 'B', state: 'needs_reauth' }),
    );
    const one = await requestBackfill({ merchants: store, pollQueue: q }, { merchantId: 'A' });
    expect(one.queued).toEqual(['A']);
    expect(q.sent[0]).toMatchObject({ groupId: 'A', body: { mode: 'full', reason: 'backfill' } });
    const all = await requestBackfill({ merchants: store, pollQueue: q }, { all: true });
    expect(all.queued).toEqual(['A']);
    expect(all.skipped).toEqual([{ merchantId: 'B', reason: 'merchant is needs_reauth' }]);
    const since = BackfillRequestSchema.parse({ merchantId: 'A', since: '2026-11-01T00:00:00Z' });
    await requestBackfill({ merchants: store, pollQueue: q }, since);
    expect(q.sent.at(-1)?.body).toMatchObject({ mode: 'full', since: Date.parse('2026-11-01T00:00:00Z') });
    expect(BackfillRequestSchema.safeParse({ merchantId: 'A', since: 'yesterday' }).success).toBe(false);
    await expect(
      requestBackfill({ merchants: store, pollQueue: q }, { merchantId: 'X' }),
    ).rejects.toBeInstanceOf(MerchantUnavailableError);
  });
});
