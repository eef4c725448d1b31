/**
 * The real DynamoDB adapters (dynalite): behaviour the in-memory fakes
 * (test/unit/fakes.ts) do not show, so the property test cannot see it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloverClient } from '../../src/clover/client.ts';
import { countChange, itemCounts, NO_COUNTS } from '../../src/domain/counts.ts';
import { pollMerchant } from '../../src/sync/poll/index.ts';
import { RecordingQueue } from '../unit/fakes.ts';
import { startStateStores } from './support.ts';

let real: Awaited<ReturnType<typeof startStateStores>>;
beforeAll(async () => {
  real = await startStateStores();
});
afterAll(async () => real?.stop());

const pair = {
  access_token: 'a',
  access_token_expiration: 4_000_000_000,
  refresh_token: 'r',
  refresh_token_expiration: 4_000_000_000,
};

describe('merchant shelf counts on DynamoDB', () => {
  it('addShelfCounts can move the item count (items is a DynamoDB reserved word)', async () => {
    await real.merchants.upsert({ merchantId: 'COUNTS1', storeCode: 's1', tokens: pair });
    // What savePage adds for one item stored for the first time.
    const change = countChange(itemCounts(undefined), itemCounts({ status: 'active' }));
    expect(change).toEqual({ ...NO_COUNTS, items: 1 });
    await real.merchants.addShelfCounts('COUNTS1', change);
    expect((await real.merchants.get('COUNTS1'))?.shelf?.items).toBe(1);
  });

  it('an incremental poll that finds a new Clover item succeeds and counts it', async () => {
    const M = 'COUNTSPOLL1';
    await real.merchants.upsert({ merchantId: M, storeCode: 's2', tokens: pair });
    const catalog = new Map<string, Record<string, unknown>>();
    const add = (id: string, modifiedTime: number) =>
      catalog.set(id, { id, name: `Item ${id}`, sku: `SKU-${id}`, price: 100, modifiedTime });
    const clover: CloverClient = {
      async listItems(_m, _t, q) {
        return [...catalog.values()]
          .filter((i) => q.modifiedSince === undefined || (i.modifiedTime as number) >= q.modifiedSince)
          .sort((a, b) => (a.modifiedTime as number) - (b.modifiedTime as number))
          .slice(q.offset, q.offset + q.limit);
      },
      async getItem(_m, _t, id) {
        return catalog.get(id) ?? null;
      },
      refreshTokens: async () => Promise.reject(new Error('not used')),
      recoverTokens: async () => Promise.reject(new Error('not used')),
    };
    let clock = 1_700_000_000_000;
    const deps = {
      merchants: real.merchants,
      shelf: real.shelf,
      clover,
      tokens: { accessToken: async () => 'token' },
      pushQueue: new RecordingQueue(),
      settings: {
        pageLimit: 100,
        overlapMs: 120_000,
        cleanupEveryPolls: 10,
        cleanupIntervalHours: 24,
        hipoinkChunkSize: 200,
        merchantRequestsPerSecond: 1000,
        storeWriteConcurrency: 4,
      },
      productCodePrecedence: ['sku', 'code', 'id'] as const,
      now: () => clock,
    };
    const poll = (mode: 'full' | 'incremental') =>
      pollMerchant(deps, { merchantId: M, mode, requestedAt: clock, reason: 'schedule' });
    add('ITEMA', clock - 1000);
    expect(await poll('full')).toMatchObject({ status: 'synced', cleanedUp: true }); // counts set afresh
    clock += 60_000;
    add('ITEMB', clock - 1000); // a new item, seen by an incremental poll (no cleanup due)
    const result = await poll('incremental').catch((err: Error) => err.message);
    expect(result).toMatchObject({ status: 'synced', cleanedUp: false });
    expect((await real.merchants.get(M))?.shelf?.items).toBe(2);
  });
});
