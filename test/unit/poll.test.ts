import { describe, expect, it, vi } from 'vitest';
import type { CloverClient, ListItemsQuery } from '../../src/clover/client.ts';
import { CloverApiError, CloverUnauthorizedError } from '../../src/errors.ts';
import type { PollMessage } from '../../src/sync/messages.ts';
import { lowerBound, pollMerchant } from '../../src/sync/poll.ts';
import type { TokenManager } from '../../src/sync/tokens.ts';
import { FakeMerchantStore, FakeProductStore, merchantRecord, RecordingQueue } from './fakes.ts';

type RawItem = Record<string, unknown> & { id: string; modifiedTime: number };

function fakeClover(items: Map<string, RawItem>) {
  const listCalls: ListItemsQuery[] = [];
  const getCalls: string[] = [];
  const client: CloverClient = {
    async listItems(_m, _t, q) {
      listCalls.push(q);
      return [...items.values()]
        .filter((i) => q.modifiedSince === undefined || i.modifiedTime >= q.modifiedSince)
        .sort((a, b) => a.modifiedTime - b.modifiedTime || a.id.localeCompare(b.id))
        .slice(q.offset, q.offset + q.limit);
    },
    async getItem(_m, _t, id) {
      getCalls.push(id);
      return items.get(id) ?? null;
    },
    async refreshTokens() {
      throw new Error('not used');
    },
    async recoverTokens() {
      throw new Error('not used');
    },
  };
  return { client, listCalls, getCalls };
}

const settings = {
  pageLimit: 1000,
  overlapMs: 120_000,
  cleanupEveryPolls: 10,
  cleanupIntervalHours: 24,
  hipoinkChunkSize: 200,
  merchantRequestsPerSecond: 1000,
  storeWriteConcurrency: 16,
};
const msg = (mode: PollMessage['mode'] = 'incremental'): PollMessage => ({
  merchantId: 'M1',
  mode,
  requestedAt: Date.now(),
  reason: 'schedule',
});
const it0 = (id: string, over: Record<string, unknown> = {}): RawItem => ({
  id,
  name: `Item ${id}`,
  sku: `SKU-${id}`,
  price: 100,
  modifiedTime: 1000,
  ...over,
});

function setup(items: RawItem[], merchant = merchantRecord()) {
  const catalog = new Map(items.map((i) => [i.id, i]));
  const clover = fakeClover(catalog);
  const merchants = new FakeMerchantStore(merchant);
  const products = new FakeProductStore();
  const pushQueue = new RecordingQueue();
  const tokens: TokenManager = { accessToken: vi.fn(async () => 'token') };
  const onInvalidItem = vi.fn();
  const deps = {
    merchants,
    products,
    clover: clover.client,
    tokens,
    pushQueue,
    settings,
    productCodePrecedence: ['sku', 'code', 'id'] as const,
    onInvalidItem,
  };
  return { catalog, clover, merchants, products, pushQueue, tokens, deps, onInvalidItem };
}

const pushedIds = (q: RecordingQueue) =>
  q.sent.flatMap((m) => (m.body as { itemIds: string[] }).itemIds).sort();

describe('pollMerchant', () => {
  it('does a full sync first, then a no-change poll costs one Clover request and queues nothing', async () => {
    const s = setup([it0('A', { modifiedTime: 1000 }), it0('B', { modifiedTime: 2000 })]);
    const first = await pollMerchant(s.deps, msg());
    expect(first).toMatchObject({ status: 'synced', mode: 'full' });
    expect(s.clover.listCalls[0]?.modifiedSince).toBeUndefined();
    expect(s.merchants.records.get('M1')?.cursor).toBe(2000);
    expect(pushedIds(s.pushQueue)).toEqual(['A', 'B']);
    expect(s.pushQueue.sent[0]?.groupId).toBe('M1');
    // The consumer puts them on the shelf.
    for (const r of await s.products.list('M1')) {
      if (r.label && r.labelHash)
        await s.products.markPushed('M1', r.itemId, { pc: r.label.pc, labelHash: r.labelHash });
    }

    s.clover.listCalls.length = 0;
    s.pushQueue.sent.length = 0;
    const second = await pollMerchant(s.deps, msg());
    expect(second).toMatchObject({ status: 'synced', mode: 'incremental' });
    expect(s.clover.listCalls).toHaveLength(1);
    expect(s.clover.listCalls[0]?.modifiedSince).toBe(2000);
    expect(s.pushQueue.sent).toEqual([]);
  });

  it('never moves the cursor to wall-clock time and keeps it when a poll fails', async () => {
    const s = setup([it0('A', { modifiedTime: 5000 })]);
    await pollMerchant(s.deps, msg());
    expect(s.merchants.records.get('M1')?.cursor).toBe(5000);
    s.catalog.set('B', it0('B', { modifiedTime: 6000 }));
    const list = s.deps.clover.listItems;
    s.deps.clover = {
      ...s.deps.clover,
      listItems: async () => Promise.reject(new CloverApiError('boom', { status: 500 })),
    };
    await expect(pollMerchant(s.deps, msg())).rejects.toBeInstanceOf(CloverApiError);
    expect(s.merchants.records.get('M1')?.cursor).toBe(5000);
    expect(s.merchants.records.get('M1')?.lastSyncStatus).toBe('error');
    s.deps.clover = { ...s.deps.clover, listItems: list };
    await pollMerchant(s.deps, msg());
    expect(s.merchants.records.get('M1')?.cursor).toBe(6000);
  });

  it('when items keep moving during a backfill, stores what it verified, lowers the cursor to there and skips cleanup', async () => {
    const group = Array.from({ length: 30 }, (_, i) =>
      it0(`G${String(i).padStart(2, '0')}`, { modifiedTime: 10 }),
    );
    const later = [it0('Z1', { modifiedTime: 20 }), it0('Z2', { modifiedTime: 30 })];
    const s = setup([...group, ...later], merchantRecord({ cursor: 9000, lastCleanupAt: Date.now() }));
    s.deps.settings = { ...settings, pageLimit: 3 };
    // Before every page after the first, two items of the tie group already read are edited.
    const list = s.deps.clover.listItems;
    let clock = 100;
    s.deps.clover = {
      ...s.deps.clover,
      listItems: async (m, t, q) => {
        if (s.clover.listCalls.length > 0) {
          const moving = [...s.catalog.values()].filter((i) => i.modifiedTime === 10).slice(0, 2);
          for (const i of moving) s.catalog.set(i.id, { ...i, modifiedTime: clock++ });
        }
        return list(m, t, q);
      },
    };
    const result = await pollMerchant(s.deps, msg('full'));
    expect(result).toMatchObject({ status: 'synced', mode: 'full', cleanedUp: false });
    expect(result.status === 'synced' && result.partial).toMatch(/kept changing/);
    const after = s.merchants.records.get('M1');
    expect(after?.lastSyncStatus).toBe('partial');
    expect(after?.cursor).toBe(10);
    expect(s.clover.getCalls).toEqual([]);
    expect((await s.products.list('M1')).length).toBeLessThan(s.catalog.size);

    // Once the edits stop, the next poll reads on from there and nothing is missing.
    s.deps.clover = { ...s.deps.clover, listItems: list };
    const next = await pollMerchant(s.deps, msg());
    expect(next).toMatchObject({ status: 'synced', mode: 'incremental' });
    expect(next.status === 'synced' && next.partial).toBeFalsy();
    const stored = new Map((await s.products.list('M1')).map((r) => [r.itemId, r.status]));
    expect(stored.size).toBe(s.catalog.size);
    for (const id of s.catalog.keys()) expect(stored.get(id)).toBe('active');
  });

  it('records invalid items with their reason and still syncs the rest', async () => {
    const s = setup([it0('A'), it0('BAD', { name: '' }), it0('C', { price: -1 })]);
    const result = await pollMerchant(s.deps, msg());
    expect(result.status === 'synced' && result.counts).toMatchObject({ invalid: 2, fetched: 3 });
    expect(s.onInvalidItem).toHaveBeenCalledTimes(2);
    expect((await s.products.get('M1', ['BAD']))[0]).toMatchObject({
      status: 'invalid',
      invalidReason: expect.stringMatching(/name/),
    });
    expect(pushedIds(s.pushQueue)).toEqual(['A']);
  });

  it('queues a hidden item for removal only if it was ever on the shelf', async () => {
    const s = setup([it0('A'), it0('H', { hidden: true })]);
    await pollMerchant(s.deps, msg());
    expect(pushedIds(s.pushQueue)).toEqual(['A']);
    await s.products.markPushed('M1', 'A', { pc: 'SKU-A', labelHash: 'x' });
    s.pushQueue.sent.length = 0;
    s.catalog.set('A', it0('A', { hidden: true, modifiedTime: 9000 }));
    await pollMerchant(s.deps, msg());
    expect(pushedIds(s.pushQueue)).toEqual(['A']);
  });

  it('removes items gone from Clover only after a GET confirms the 404', async () => {
    const s = setup([it0('A'), it0('B')]);
    await pollMerchant(s.deps, msg());
    await s.products.markPushed('M1', 'A', { pc: 'SKU-A', labelHash: 'x' });
    await s.products.markPushed('M1', 'B', { pc: 'SKU-B', labelHash: 'x' });
    s.catalog.delete('A');
    // B vanishes from listings only (a listing hiccup): the GET still finds it.
    const realList = s.deps.clover.listItems;
    s.deps.clover = {
      ...s.deps.clover,
      listItems: async (m, t, q) => (await realList(m, t, q)).filter((i) => (i as RawItem).id !== 'B'),
    };
    s.pushQueue.sent.length = 0;
    await pollMerchant(s.deps, msg('full'));
    expect(s.clover.getCalls.sort()).toEqual(['A', 'B']);
    expect((await s.products.get('M1', ['A']))[0]).toMatchObject({
      status: 'removed',
      removedReason: 'gone',
    });
    expect((await s.products.get('M1', ['B']))[0]?.status).toBe('active');
    expect(pushedIds(s.pushQueue)).toContain('A');
  });

  it('resyncs from `since` on a backfill that names one, still finding deleted items', async () => {
    const s = setup([
      it0('OLD', { modifiedTime: 100 }),
      it0('NEW', { modifiedTime: 5000 }),
      it0('GONE', { modifiedTime: 200 }),
    ]);
    await pollMerchant(s.deps, msg());
    s.catalog.delete('GONE');
    s.clover.listCalls.length = 0;
    await pollMerchant(s.deps, { ...msg('full'), since: 4000 });
    expect(s.clover.listCalls[0]?.modifiedSince).toBe(4000);
    // The ghost check needs the full id list, since a partial read cannot prove absence.
    expect(s.clover.listCalls.some((q) => q.modifiedSince === undefined)).toBe(true);
    expect((await s.products.get('M1', ['GONE']))[0]).toMatchObject({
      status: 'removed',
      removedReason: 'gone',
    });
  });

  it('reports two items with one product code instead of flip-flopping the label', async () => {
    const s = setup([it0('A', { sku: 'SAME', modifiedTime: 1 }), it0('B', { sku: 'SAME', modifiedTime: 2 })]);
    await pollMerchant(s.deps, msg());
    expect((await s.products.get('M1', ['A']))[0]?.status).toBe('active');
    expect((await s.products.get('M1', ['B']))[0]).toMatchObject({
      status: 'invalid',
      invalidReason: 'product code SAME is already used by Clover item A',
    });
    expect(pushedIds(s.pushQueue)).toEqual(['A']);
    // B is edited again: still refused, A's label untouched.
    s.catalog.set('B', it0('B', { sku: 'SAME', price: 999, modifiedTime: 3 }));
    await pollMerchant(s.deps, msg());
    expect((await s.products.get('M1', ['B']))[0]?.status).toBe('invalid');
    // A moves to another code: B may take SAME on its next read.
    s.catalog.set('A', it0('A', { sku: 'OTHER', modifiedTime: 4 }));
    s.catalog.set('B', it0('B', { sku: 'SAME', price: 999, modifiedTime: 5 }));
    await pollMerchant(s.deps, msg());
    expect((await s.products.get('M1', ['A']))[0]?.label?.pc).toBe('OTHER');
    expect((await s.products.get('M1', ['B']))[0]).toMatchObject({ status: 'active', label: { pc: 'SAME' } });
  });

  it('saves a page in parallel, but items contending for a code in Clover’s order, whatever each write takes', async () => {
    const others = Array.from({ length: 40 }, (_, i) => it0(`N${i}`, { modifiedTime: 10 + i }));
    const s = setup([it0('A', { sku: 'X', modifiedTime: 1 }), ...others]);
    await pollMerchant(s.deps, msg());
    // A leaves X for Y; then B takes X, then C wants it too. A's and B's writes are the slow ones,
    // so saved in parallel C would claim X first.
    s.catalog.set('A', it0('A', { sku: 'Y', modifiedTime: 100 }));
    s.catalog.set('B', it0('B', { sku: 'X', modifiedTime: 101 }));
    s.catalog.set('C', it0('C', { sku: 'X', modifiedTime: 102 }));
    for (const o of others) s.catalog.set(o.id, { ...o, price: 200, modifiedTime: 103 });
    const slow: Record<string, number> = { A: 30, B: 15 };
    let inFlight = 0;
    let most = 0;
    for (const method of ['claimCode', 'releaseCode', 'saveState'] as const) {
      const real = s.products[method].bind(s.products) as (...a: unknown[]) => Promise<unknown>;
      (s.products as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, slow[String(args[method === 'saveState' ? 1 : 2])] ?? 1));
        try {
          return await real(...args);
        } finally {
          inFlight--;
        }
      };
    }
    await pollMerchant(s.deps, msg());
    expect(await s.products.codeHolder('M1', 'X')).toBe('B');
    expect((await s.products.get('M1', ['C']))[0]?.invalidReason).toBe(
      'product code X is already used by Clover item B',
    );
    expect((await s.products.get('M1', ['A']))[0]?.label?.pc).toBe('Y');
    expect((await s.products.get('M1', ['N39']))[0]?.label?.pp).toBe('2.00');
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(settings.storeWriteConcurrency);
  });

  it('queues changes an earlier poll saved but failed before queueing', async () => {
    const s = setup([
      it0('A', { modifiedTime: 1 }),
      it0('B', { modifiedTime: 2 }),
      it0('C', { modifiedTime: 3 }),
    ]);
    s.deps.settings = { ...settings, pageLimit: 2 };
    await pollMerchant(s.deps, msg());
    for (const id of ['A', 'B', 'C'])
      await s.products.markPushed('M1', id, { pc: `SKU-${id}`, labelHash: 'old' });
    for (const [id, t] of [
      ['A', 10],
      ['B', 11],
      ['C', 12],
    ] as const)
      s.catalog.set(id, it0(id, { price: 999, modifiedTime: t }));
    const list = s.deps.clover.listItems;
    let calls = 0;
    s.deps.clover = {
      ...s.deps.clover,
      listItems: async (m, t, q) => {
        if (++calls === 2) throw new CloverApiError('503', { status: 503 });
        return list(m, t, q);
      },
    };
    s.pushQueue.sent.length = 0;
    await expect(pollMerchant(s.deps, msg())).rejects.toBeInstanceOf(CloverApiError);
    expect(s.pushQueue.sent).toEqual([]);
    await pollMerchant(s.deps, msg());
    expect(pushedIds(s.pushQueue)).toEqual(['A', 'B', 'C']);
  });

  it('ignores `since` for a merchant never synced', async () => {
    const s = setup([it0('OLD', { modifiedTime: 100 })]);
    await pollMerchant(s.deps, { ...msg('full'), since: 4000 });
    expect(s.clover.listCalls[0]?.modifiedSince).toBeUndefined();
    expect((await s.products.get('M1', ['OLD']))[0]?.status).toBe('active');
  });

  it('runs ghost cleanup on every 10th poll after the last one, not before', async () => {
    const s = setup([it0('A')]);
    await pollMerchant(s.deps, msg()); // the first (full) sync is a cleanup
    for (let i = 1; i <= 9; i++) {
      s.clover.listCalls.length = 0;
      await pollMerchant(s.deps, msg());
      expect(s.clover.listCalls).toHaveLength(1);
    }
    s.clover.listCalls.length = 0;
    const tenth = await pollMerchant(s.deps, msg());
    expect(tenth.status === 'synced' && tenth.cleanedUp).toBe(true);
    expect(s.clover.listCalls).toHaveLength(2);
  });

  it('refreshes once and retries once when Clover answers 401', async () => {
    const s = setup([it0('A')]);
    let calls = 0;
    const realList = s.deps.clover.listItems;
    s.deps.clover = {
      ...s.deps.clover,
      listItems: async (m, t, q) => {
        if (calls++ === 0) throw new CloverUnauthorizedError('401', { status: 401 });
        return realList(m, t, q);
      },
    };
    await pollMerchant(s.deps, msg());
    expect(s.tokens.accessToken).toHaveBeenCalledWith('M1', { rejected: 'token' });
    expect(calls).toBe(2);
  });

  it('skips merchants that need re-authorization', async () => {
    const s = setup([it0('A')], merchantRecord({ state: 'needs_reauth' }));
    expect(await pollMerchant(s.deps, msg())).toMatchObject({ status: 'skipped' });
    expect(s.clover.listCalls).toHaveLength(0);
  });
});

describe('lowerBound', () => {
  it('re-reads the overlap window only while the cursor is recent', () => {
    expect(lowerBound({ cursor: 1_000_000, lastPollStartedAt: 1_050_000 }, 120_000)).toBe(930_000);
    expect(lowerBound({ cursor: 1_000_000, lastPollStartedAt: 9_000_000 }, 120_000)).toBe(1_000_000);
    expect(lowerBound({ cursor: 5 }, 120_000)).toBe(5);
  });
});
