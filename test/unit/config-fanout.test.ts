import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { InvalidMessageError, MerchantUnavailableError } from '../../src/errors.ts';
import { parseBackfillRequest, requestBackfill } from '../../src/sync/backfill.ts';
import { fanOut } from '../../src/sync/fanout.ts';
import { BackfillRequestSchema } from '../../src/sync/messages.ts';
import { FakeMerchantStore, merchantRecord, RecordingQueue } from './fakes.ts';

const env = {
  MERCHANTS_TABLE: 'm',
  PRODUCTS_TABLE: 'p',
  POLL_QUEUE_URL: 'q1',
  PUSH_QUEUE_URL: 'q2',
  APP_SECRET_ID: 's',
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
      productCodePrecedence: ['sku', 'code', 'id'],
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

  it('names the variable that is missing or wrong', () => {
    expect(() => loadConfig({ ...env, MERCHANTS_TABLE: undefined })).toThrow(/MERCHANTS_TABLE/);
    expect(() => loadConfig({ ...env, PRODUCT_CODE_PRECEDENCE: 'sku,barcode' })).toThrow(
      /PRODUCT_CODE_PRECEDENCE/,
    );
    expect(() => loadConfig({ ...env, CLOVER_API_BASE_URL: 'not a url' })).toThrow(/CLOVER_API_BASE_URL/);
  });
});

describe('fanOut', () => {
  const merchants = () =>
    new FakeMerchantStore(
      merchantRecord({ merchantId: 'A' }),
      merchantRecord({ merchantId: 'B', state: 'needs_reauth' }),
      merchantRecord({ merchantId: 'C', state: 'disabled' }),
    );

  it('queues one poll per active merchant in its own FIFO group; scheduled repeats in one interval collapse', async () => {
    const q = new RecordingQueue();
    const deps = { merchants: merchants(), pollQueue: q, pollIntervalSeconds: 120 };
    const r = await fanOut({ ...deps, now: () => 1_000_000 });
    expect(r).toEqual({
      queued: 1,
      skipped: { needs_reauth: 1, disabled: 1 },
      attention: { needsReauth: 1, refreshTokenExpiringSoon: 0, lastSyncFailed: 0 },
    });
    expect(q.sent[0]).toMatchObject({
      groupId: 'A',
      body: { merchantId: 'A', mode: 'incremental', reason: 'schedule' },
    });
    await fanOut({ ...deps, now: () => 1_050_000 });
    await fanOut({ ...deps, now: () => 1_200_000 });
    expect(q.sent[1]?.deduplicationId).toBe(q.sent[0]?.deduplicationId);
    expect(q.sent[2]?.deduplicationId).not.toBe(q.sent[0]?.deduplicationId);
  });

  it('counts the merchants an operator must act on: re-authorize, refresh token running out, last sync failed', async () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    const inDays = (d: number) => Math.floor(now / 1000) + d * 86_400;
    const store = new FakeMerchantStore(
      merchantRecord({ merchantId: 'SOON', refreshTokenExpiresAt: inDays(6.9) }),
      merchantRecord({ merchantId: 'LATER', refreshTokenExpiresAt: inDays(7.1), lastSyncStatus: 'ok' }),
      merchantRecord({ merchantId: 'FAILING', refreshTokenExpiresAt: inDays(30), lastSyncStatus: 'error' }),
      merchantRecord({ merchantId: 'PARTIAL', refreshTokenExpiresAt: inDays(30), lastSyncStatus: 'partial' }),
      merchantRecord({ merchantId: 'REAUTH1', state: 'needs_reauth', refreshTokenExpiresAt: inDays(1) }),
      merchantRecord({ merchantId: 'REAUTH2', state: 'needs_reauth', lastSyncStatus: 'error' }),
      // Switched off on purpose: nothing to act on, whatever its tokens or last sync say.
      merchantRecord({
        merchantId: 'OFF',
        state: 'disabled',
        refreshTokenExpiresAt: inDays(1),
        lastSyncStatus: 'error',
      }),
    );
    const r = await fanOut({
      merchants: store,
      pollQueue: new RecordingQueue(),
      pollIntervalSeconds: 120,
      now: () => now,
    });
    expect(r.queued).toBe(4);
    expect(r.attention).toEqual({ needsReauth: 2, refreshTokenExpiringSoon: 1, lastSyncFailed: 1 });
  });

  it('never collapses manual ticks', async () => {
    const q = new RecordingQueue();
    const deps = { merchants: merchants(), pollQueue: q, pollIntervalSeconds: 120, now: () => 5 };
    await fanOut(deps, { kind: 'manual', requestId: 'r1' });
    await fanOut(deps, { kind: 'manual', requestId: 'r2' });
    expect(q.sent[0]?.deduplicationId).not.toBe(q.sent[1]?.deduplicationId);
    expect(q.sent[0]?.body).toMatchObject({ reason: 'manual' });
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
