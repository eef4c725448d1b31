import { describe, expect, it, vi } from 'vitest';
import type { CloverClient, ListItemsQuery } from '../../src/clover/client.ts';
import { CloverApiError, CloverUnauthorizedError } from '../../src/errors.ts';
import { queuedWorkDone } from '../../src/sync/barrier.ts';
import {
  type PollMessage,
  PollMessageSchema,
  type PushMessage,
  PushMessageSchema,
} from '../../src/sync/messages.ts';
import { lowerBound, pollMerchant } from '../../src/sync/poll/index.ts';
import { pushCodes } from '../../src/sync/push.ts';
import type { TokenManager } from '../../src/sync/tokens.ts';
import { FakeHipoink, FakeMerchantStore, FakeShelfStore, merchantRecord, RecordingQueue } from './fakes.ts';

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
  let clock = 1_000_000;
  const shelf = new FakeShelfStore(() => clock);
  const pushQueue = new RecordingQueue();
  const tokens: TokenManager = { accessToken: vi.fn(async () => 'token') };
  const onInvalidItem = vi.fn();
  const deps = {
    merchants,
    shelf,
    clover: clover.client,
    tokens,
    pushQueue,
    settings,
    productCodePrecedence: ['sku', 'code', 'id'] as const,
    onInvalidItem,
    now: () => clock,
  };
  const hipoink = new FakeHipoink();
  const pushDeps = { merchants, shelf, hipoink, settings };
  /** The consumer: every queued message, in order. */
  const push = async () => {
    for (const m of pushQueue.sent.splice(0)) await pushCodes(pushDeps, m.body as PushMessage);
  };
  const advance = (ms: number) => {
    clock += ms;
  };
  /**
   * Runs `before` ahead of each later Clover list call, given the call's number from 1 (it may
   * throw); returns what puts the list calls back as they were.
   */
  const beforeEachList = (before: (call: number) => unknown) => {
    const list = deps.clover.listItems;
    let calls = 0;
    deps.clover = {
      ...deps.clover,
      listItems: async (m, t, q) => {
        await before(++calls);
        return list(m, t, q);
      },
    };
    return () => {
      deps.clover = { ...deps.clover, listItems: list };
    };
  };
  return {
    catalog,
    clover,
    merchants,
    shelf,
    pushQueue,
    tokens,
    deps,
    onInvalidItem,
    hipoink,
    push,
    advance,
    beforeEachList,
  };
}

/** A store of these items, polled and pushed once, whose reads come in pages of two. */
async function syncedInPagesOfTwo(items: RawItem[]) {
  const s = setup(items);
  s.deps.settings = { ...settings, pageLimit: 2 };
  await pollMerchant(s.deps, msg());
  await s.push();
  return s;
}

const pushedCodes = (q: RecordingQueue) => q.sent.flatMap((m) => (m.body as PushMessage).codes).sort();

describe('pollMerchant', () => {
  it('does a full sync first, then a no-change poll costs one Clover request and queues nothing', async () => {
    const s = setup([it0('A', { modifiedTime: 1000 }), it0('B', { modifiedTime: 2000 })]);
    const first = await pollMerchant(s.deps, msg());
    expect(first).toMatchObject({ status: 'synced', mode: 'full' });
    expect(s.clover.listCalls[0]?.modifiedSince).toBeUndefined();
    expect(s.merchants.records.get('M1')?.cursor).toBe(2000);
    expect(pushedCodes(s.pushQueue)).toEqual(['SKU-A', 'SKU-B']);
    expect(s.pushQueue.sent[0]?.groupId).toBe('M1');
    await s.push();

    s.clover.listCalls.length = 0;
    s.advance(600_000);
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
    let clock = 100;
    const stopEdits = s.beforeEachList((call) => {
      if (call === 1) return;
      const moving = [...s.catalog.values()].filter((i) => i.modifiedTime === 10).slice(0, 2);
      for (const i of moving) s.catalog.set(i.id, { ...i, modifiedTime: clock++ });
    });
    const result = await pollMerchant(s.deps, msg('full'));
    expect(result).toMatchObject({ status: 'synced', mode: 'full', cleanedUp: false });
    expect(result.status === 'synced' && result.partial).toMatch(/kept changing/);
    const after = s.merchants.records.get('M1');
    expect(after?.lastSyncStatus).toBe('partial');
    expect(after?.cursor).toBe(10);
    expect(s.clover.getCalls).toEqual([]);
    expect((await s.shelf.listItems('M1')).length).toBeLessThan(s.catalog.size);

    // Once the edits stop, the next poll reads on from there and nothing is missing.
    stopEdits();
    const next = await pollMerchant(s.deps, msg());
    expect(next).toMatchObject({ status: 'synced', mode: 'incremental' });
    expect(next.status === 'synced' && next.partial).toBeFalsy();
    const stored = new Map((await s.shelf.listItems('M1')).map((r) => [r.itemId, r.status]));
    expect(stored.size).toBe(s.catalog.size);
    for (const id of s.catalog.keys()) expect(stored.get(id)).toBe('active');
  });

  it('records invalid items with their reason and still syncs the rest', async () => {
    const s = setup([it0('A'), it0('BAD', { name: '' }), it0('C', { price: -1 })]);
    const result = await pollMerchant(s.deps, msg());
    expect(result.status === 'synced' && result.counts).toMatchObject({ invalid: 2, fetched: 3 });
    expect(s.onInvalidItem).toHaveBeenCalledTimes(2);
    expect((await s.shelf.getItems('M1', ['BAD']))[0]).toMatchObject({
      status: 'invalid',
      invalidReason: expect.stringMatching(/name/),
    });
    expect(pushedCodes(s.pushQueue)).toEqual(['SKU-A']);
  });

  it('reports an invalid item once per version, however often a poll reads it again', async () => {
    const s = setup([it0('A'), it0('BAD', { name: '' })]);
    await pollMerchant(s.deps, msg());
    s.advance(30_000);
    // Within the overlap window the next poll reads both items again, unchanged.
    const again = await pollMerchant(s.deps, msg());
    expect(again.status === 'synced' && again.counts).toMatchObject({ fetched: 2, invalid: 0 });
    // A backfill reads everything again: still nothing new to report.
    expect(await pollMerchant(s.deps, msg('full'))).toMatchObject({ counts: { fetched: 2, invalid: 0 } });
    expect(s.onInvalidItem).toHaveBeenCalledTimes(1);
    // A new invalid version is a new report.
    s.catalog.set('BAD', it0('BAD', { price: -1, modifiedTime: 2000 }));
    expect(await pollMerchant(s.deps, msg())).toMatchObject({ counts: { invalid: 1 } });
    expect(s.onInvalidItem).toHaveBeenLastCalledWith(
      expect.objectContaining({ itemId: 'BAD', reason: expect.stringMatching(/price/) }),
    );
  });

  it('keeps the last valid label of an item whose new version is invalid', async () => {
    const s = setup([it0('A', { price: 250 })]);
    await pollMerchant(s.deps, msg());
    await s.push();
    s.catalog.set('A', it0('A', { name: '', price: 999, modifiedTime: 9000 }));
    await pollMerchant(s.deps, msg());
    expect(s.pushQueue.sent).toEqual([]);
    expect((await s.shelf.getItems('M1', ['A']))[0]).toMatchObject({
      status: 'invalid',
      label: { pp: '2.50' },
    });
    expect(s.hipoink.shelf.get('SKU-A')?.pp).toBe('2.50');
  });

  it('queues a hidden item’s code, which its push takes off the shelf', async () => {
    const s = setup([it0('A'), it0('H', { hidden: true })]);
    await pollMerchant(s.deps, msg());
    expect(pushedCodes(s.pushQueue)).toEqual(['SKU-A']);
    await s.push();
    s.catalog.set('A', it0('A', { hidden: true, modifiedTime: 9000 }));
    await pollMerchant(s.deps, msg());
    expect(pushedCodes(s.pushQueue)).toEqual(['SKU-A']);
    await s.push();
    expect(s.hipoink.shelf.size).toBe(0);
  });

  it('removes items gone from Clover only after a GET confirms the 404', async () => {
    const s = setup([it0('A'), it0('B')]);
    await pollMerchant(s.deps, msg());
    await s.push();
    s.catalog.delete('A');
    // B vanishes from listings only (a listing hiccup): the GET still finds it.
    const realList = s.deps.clover.listItems;
    s.deps.clover = {
      ...s.deps.clover,
      listItems: async (m, t, q) => (await realList(m, t, q)).filter((i) => (i as RawItem).id !== 'B'),
    };
    await pollMerchant(s.deps, msg('full'));
    expect(s.clover.getCalls.sort()).toEqual(['A', 'B']);
    expect((await s.shelf.getItems('M1', ['A']))[0]).toMatchObject({
      status: 'removed',
      removedReason: 'gone',
    });
    expect((await s.shelf.getItems('M1', ['B']))[0]?.status).toBe('active');
    await s.push();
    expect([...s.hipoink.shelf.keys()]).toEqual(['SKU-B']);
  });

  it('confirms the items a webhook said were deleted, and removes only those Clover no longer has', async () => {
    const s = setup([it0('A'), it0('B'), it0('K', { modifiedTime: 2000 })]);
    await pollMerchant(s.deps, msg());
    await s.push();
    s.catalog.delete('A');
    s.clover.getCalls.length = 0;
    await pollMerchant(s.deps, { ...msg(), reason: 'webhook', confirmGone: ['A', 'B', 'NEVER-SEEN'] });
    expect(s.clover.getCalls.sort()).toEqual(['A', 'B']);
    await s.push();
    expect([...s.hipoink.shelf.keys()].sort()).toEqual(['SKU-B', 'SKU-K']);
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
    expect((await s.shelf.getItems('M1', ['GONE']))[0]).toMatchObject({
      status: 'removed',
      removedReason: 'gone',
    });
  });

  it('gives a code two items want to the one that wanted it first, reports the other, and hands it over when the owner leaves', async () => {
    const s = setup([it0('A', { sku: 'SAME', modifiedTime: 1 })]);
    await pollMerchant(s.deps, msg());
    s.advance(1000);
    s.catalog.set('B', it0('B', { sku: 'SAME', price: 999, modifiedTime: 2 }));
    await pollMerchant(s.deps, msg());
    expect(s.onInvalidItem).toHaveBeenCalledWith({
      merchantId: 'M1',
      itemId: 'B',
      reason: 'product code SAME is already used by Clover item A ("Item A")',
    });
    await s.push();
    expect(s.hipoink.shelf.get('SAME')?.pn).toBe('Item A');
    // A moves to another code: B gets SAME in the same poll, without being read again.
    s.catalog.set('A', it0('A', { sku: 'OTHER', modifiedTime: 4 }));
    await pollMerchant(s.deps, msg());
    await s.push();
    expect(s.hipoink.shelf.get('SAME')).toMatchObject({ pn: 'Item B', pp: '9.99' });
    expect(s.hipoink.shelf.get('OTHER')?.pn).toBe('Item A');
  });

  it('keeps a label with its item when a clerk gives its code by mistake to an item synced with it', async () => {
    // Both come in one first sync; the mistyped item's id sorts first.
    const s = setup([it0('FUEL', { sku: 'FUEL-87', price: 389 }), it0('AQUA', { sku: 'WATER', price: 199 })]);
    await pollMerchant(s.deps, msg());
    await s.push();
    s.advance(60_000);
    s.catalog.set('AQUA', it0('AQUA', { sku: 'FUEL-87', price: 199, modifiedTime: 2000 }));
    await pollMerchant(s.deps, msg());
    await s.push();
    expect(s.hipoink.shelf.get('FUEL-87')).toMatchObject({ pn: 'Item FUEL', pp: '3.89' });
    expect(s.onInvalidItem).toHaveBeenLastCalledWith(
      expect.objectContaining({
        itemId: 'AQUA',
        reason: expect.stringMatching(/already used by Clover item FUEL/),
      }),
    );
  });

  it('gives a deleted item’s barcode to the item replacing it in one poll, with one GET', async () => {
    const s = setup([it0('A', { sku: 'BAR', modifiedTime: 1 }), it0('K', { modifiedTime: 1 })]);
    await pollMerchant(s.deps, msg());
    await s.push();
    s.advance(1000);
    s.catalog.delete('A');
    s.catalog.set('N', it0('N', { sku: 'BAR', price: 555, modifiedTime: 2 }));
    s.clover.getCalls.length = 0;
    const result = await pollMerchant(s.deps, msg());
    expect(s.clover.getCalls).toEqual(['A']);
    expect(result.status === 'synced' && result.counts.cloverRequests).toBe(2);
    expect(s.onInvalidItem).not.toHaveBeenCalled();
    await s.push();
    expect(s.hipoink.shelf.get('BAR')).toMatchObject({ pn: 'Item N', pp: '5.55' });
  });

  it('writes nothing for a version it already has, and never an older Clover version over a newer one', async () => {
    const s = setup([it0('A', { price: 200, modifiedTime: 2000 }), it0('B', { modifiedTime: 2000 })]);
    await pollMerchant(s.deps, msg());
    await s.push();
    const writes: string[] = [];
    const [touchSlot, putItem] = [s.shelf.touchSlot.bind(s.shelf), s.shelf.putItem.bind(s.shelf)];
    s.shelf.touchSlot = async (m, code, change) => {
      writes.push(`slot ${code}`);
      return touchSlot(m, code, change);
    };
    s.shelf.putItem = async (record) => {
      writes.push(`item ${record.itemId}`);
      return putItem(record);
    };
    // A backfill reads both again: A as an older version (a lagging Clover read), B unchanged.
    s.catalog.set('A', it0('A', { price: 100, modifiedTime: 1500 }));
    s.advance(60_000);
    expect(await pollMerchant(s.deps, msg('full'))).toMatchObject({ status: 'synced', cleanedUp: true });
    expect(writes).toEqual([]);
    expect((await s.shelf.getItems('M1', ['A']))[0]).toMatchObject({
      modifiedTime: 2000,
      label: { pp: '2.00' },
    });
    await s.push();
    expect(s.hipoink.shelf.get('SKU-A')?.pp).toBe('2.00');
    // A newer version is written.
    s.catalog.set('A', it0('A', { price: 300, modifiedTime: 3000 }));
    await pollMerchant(s.deps, msg());
    expect(writes).toEqual(['item A', 'slot SKU-A']);
    await s.push();
    expect(s.hipoink.shelf.get('SKU-A')?.pp).toBe('3.00');
  });

  it('saves a page in parallel: who gets a contested code does not depend on which write lands first', async () => {
    const others = Array.from({ length: 40 }, (_, i) => it0(`N${i}`, { modifiedTime: 10 + i }));
    const s = setup([it0('A', { sku: 'X', modifiedTime: 1 }), ...others]);
    await pollMerchant(s.deps, msg());
    // A leaves X for Y; B and C both take X. Their writes take different times.
    s.catalog.set('A', it0('A', { sku: 'Y', modifiedTime: 100 }));
    s.catalog.set('B', it0('B', { sku: 'X', modifiedTime: 101 }));
    s.catalog.set('C', it0('C', { sku: 'X', modifiedTime: 102 }));
    for (const o of others) s.catalog.set(o.id, { ...o, price: 200, modifiedTime: 103 });
    const slow: Record<string, number> = { A: 30, B: 15 };
    let inFlight = 0;
    let most = 0;
    /** Each slot and item write takes its item's time; writes in flight are counted. */
    const delayed = async <T>(itemId: string, write: () => Promise<T>) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, slow[itemId] ?? 1));
      try {
        return await write();
      } finally {
        inFlight--;
      }
    };
    const [touchSlot, putItem] = [s.shelf.touchSlot.bind(s.shelf), s.shelf.putItem.bind(s.shelf)];
    s.shelf.touchSlot = (m, code, change) =>
      delayed('want' in change ? change.want.itemId : change.drop, () => touchSlot(m, code, change));
    s.shelf.putItem = (record) => delayed(record.itemId, () => putItem(record));
    await pollMerchant(s.deps, msg());
    await s.push();
    expect(s.hipoink.shelf.get('X')?.pn).toBe('Item B');
    expect(s.onInvalidItem).toHaveBeenCalledWith(
      expect.objectContaining({
        itemId: 'C',
        reason: 'product code X is already used by Clover item B ("Item B")',
      }),
    );
    expect(s.hipoink.shelf.get('Y')?.pn).toBe('Item A');
    expect(s.hipoink.shelf.get('SKU-N39')?.pp).toBe('2.00');
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(settings.storeWriteConcurrency);
  });

  it('keeps the code of an item read twice in one read, recoded and then back to its old code', async () => {
    const s = await syncedInPagesOfTwo([
      it0('A', { modifiedTime: 1000 }),
      it0('X', { modifiedTime: 2000 }),
      it0('C', { modifiedTime: 3000 }),
    ]);
    s.advance(600_000);
    s.catalog.set('X', it0('X', { sku: 'NEW', modifiedTime: 4000 }));
    // The clerk puts the old code back while the read is between its pages.
    s.beforeEachList((call) => call === 2 && s.catalog.set('X', it0('X', { modifiedTime: 5000 })));
    await pollMerchant(s.deps, msg());
    await s.push();
    const [slot] = await s.shelf.getSlots('M1', ['SKU-X']);
    expect(slot?.wanters.map((w) => w.itemId)).toEqual(['X']);
    expect(s.hipoink.shelf.has('SKU-X')).toBe(true);
  });

  it('queues at once what a failing poll saved before it failed, and the rest at the next poll', async () => {
    const s = await syncedInPagesOfTwo([
      it0('A', { modifiedTime: 1 }),
      it0('B', { modifiedTime: 2 }),
      it0('C', { modifiedTime: 3 }),
    ]);
    for (const [id, t] of [
      ['A', 10],
      ['B', 11],
      ['C', 12],
    ] as const)
      s.catalog.set(id, it0(id, { price: 999, modifiedTime: t }));
    s.beforeEachList((call) => {
      if (call === 2) throw new CloverApiError('503', { status: 503 });
    });
    await expect(pollMerchant(s.deps, msg())).rejects.toBeInstanceOf(CloverApiError);
    // The first page was saved before the second failed: its codes are queued all the same.
    expect(pushedCodes(s.pushQueue)).toEqual(['SKU-A', 'SKU-B']);
    await s.push();
    s.advance(60_000);
    await pollMerchant(s.deps, msg());
    expect(pushedCodes(s.pushQueue)).toEqual(['SKU-C']);
    await s.push();
    expect([...s.hipoink.shelf.values()].map((p) => p.pp)).toEqual(['9.99', '9.99', '9.99']);
  });

  it('queues what a failing full resync saved flagged to try refused labels again, and leaves the repush to the retry', async () => {
    const s = await syncedInPagesOfTwo([
      it0('A', { modifiedTime: 1 }),
      it0('B', { modifiedTime: 2 }),
      it0('C', { modifiedTime: 3 }),
    ]);
    s.beforeEachList((call) => {
      if (call === 2) throw new CloverApiError('503', { status: 503 });
    });
    s.catalog.set('B', it0('B', { price: 999, modifiedTime: 2 }));
    await expect(pollMerchant(s.deps, { ...msg('full'), repush: true })).rejects.toBeInstanceOf(
      CloverApiError,
    );
    expect(s.pushQueue.sent.map((m) => m.body)).toEqual([
      expect.objectContaining({ codes: ['SKU-B'], retryRefused: true }),
    ]);
    expect(s.pushQueue.sent[0]?.body).not.toHaveProperty('repush');
  });

  it('counts itself as begun before it reads Clover, whatever becomes of it, so a notice during it gets a poll of its own', async () => {
    const s = setup([it0('A', { modifiedTime: 1000 })]);
    const before = await s.merchants.recordNotice('M1', 1);
    let during: Awaited<ReturnType<typeof s.merchants.recordNotice>>;
    const stop = s.beforeEachList(async () => {
      during ??= await s.merchants.recordNotice('M1', 2);
    });
    await pollMerchant(s.deps, msg());
    stop();
    expect([before?.started, during?.started]).toEqual([0, 1]);
    // A poll that is skipped (the store was disabled meanwhile) counts as begun too.
    await s.merchants.setState('M1', 'disabled');
    expect(await pollMerchant(s.deps, msg())).toMatchObject({ status: 'skipped' });
    expect((await s.merchants.recordNotice('M1', 3))?.started).toBe(2);
  });

  it('reads from the cursor on a backfill from a time after it: nothing the polls have not read is skipped', async () => {
    const s = setup([it0('A', { modifiedTime: 1000 })]);
    await pollMerchant(s.deps, msg());
    s.catalog.set('MISSED', it0('MISSED', { sku: 'SKU-M', modifiedTime: 2000 }));
    s.catalog.set('A', it0('A', { price: 150, modifiedTime: 9000 }));
    s.clover.listCalls.length = 0;
    await pollMerchant(s.deps, { ...msg('full'), since: 5000 });
    expect(s.clover.listCalls[0]?.modifiedSince).toBeLessThanOrEqual(1000);
    expect((await s.shelf.getItems('M1', ['MISSED']))[0]?.status).toBe('active');
    expect((await s.merchants.get('M1'))?.cursor).toBe(9000);
  });

  it('ignores `since` for a merchant never synced', async () => {
    const s = setup([it0('OLD', { modifiedTime: 100 })]);
    await pollMerchant(s.deps, { ...msg('full'), since: 4000 });
    expect(s.clover.listCalls[0]?.modifiedSince).toBeUndefined();
    expect((await s.shelf.getItems('M1', ['OLD']))[0]?.status).toBe('active');
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
    s.beforeEachList((call) => {
      calls = call;
      if (call === 1) throw new CloverUnauthorizedError('401', { status: 401 });
    });
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

describe('a queue barrier (what moving or removing a store waits for)', () => {
  it('passes only once the pushes queued before it are done, without polling Clover or calling Hipoink', async () => {
    const s = setup([it0('A'), it0('B')]);
    await pollMerchant(s.deps, msg());
    const pollQueue = new RecordingQueue();
    let passed = false;
    const waiting = queuedWorkDone(
      { merchants: s.merchants, pollQueue, sleep: async () => {} },
      ['M1'],
      60_000,
    ).then(() => {
      passed = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    // The barrier's poll message reaches the poller behind the poll before it.
    const [barrierPoll] = pollQueue.sent;
    const listsBefore = s.clover.listCalls.length;
    const startedBefore = (await s.merchants.get('M1'))?.pollsStarted;
    expect(await pollMerchant(s.deps, barrierPoll?.body as PollMessage)).toEqual({
      status: 'barrier',
      merchantId: 'M1',
    });
    expect(s.clover.listCalls.length).toBe(listsBefore);
    expect((await s.merchants.get('M1'))?.pollsStarted).toBe(startedBefore);
    // In the push queue it stands behind the poll's own push: not passed until that is done.
    expect(s.pushQueue.sent.map((m) => (m.body as PushMessage).barrier !== undefined)).toEqual([false, true]);
    await new Promise((r) => setTimeout(r, 20));
    expect(passed).toBe(false);
    await s.push();
    await waiting;
    expect(passed).toBe(true);
    expect(s.hipoink.calls.map((c) => c.op)).toEqual(['create_multiple']);
  });

  it('is a message of its own: one carrying work as well, or a push carrying no code, is refused', () => {
    const poll = { merchantId: 'M1', mode: 'incremental', requestedAt: 0, reason: 'manual' };
    expect(PollMessageSchema.safeParse({ ...poll, barrier: 'b' }).success).toBe(true);
    expect(PollMessageSchema.safeParse({ ...poll, barrier: 'b', confirmGone: ['I1'] }).success).toBe(false);
    expect(PollMessageSchema.safeParse({ ...poll, mode: 'full', barrier: 'b' }).success).toBe(false);
    expect(PushMessageSchema.safeParse({ merchantId: 'M1', codes: [], barrier: 'b' }).success).toBe(true);
    expect(PushMessageSchema.safeParse({ merchantId: 'M1', codes: ['A'], barrier: 'b' }).success).toBe(false);
    expect(
      PushMessageSchema.safeParse({ merchantId: 'M1', codes: [], clearFrom: 's', barrier: 'b' }).success,
    ).toBe(false);
    expect(PushMessageSchema.safeParse({ merchantId: 'M1', codes: [] }).success).toBe(false);
  });

  it('gives up at its timeout, naming the merchant, while work before it is still being retried', async () => {
    const merchants = new FakeMerchantStore(merchantRecord());
    let clock = 0;
    const deps = {
      merchants,
      pollQueue: new RecordingQueue(),
      now: () => clock,
      sleep: async (ms: number) => {
        clock += ms;
      },
    };
    // Barriers of several stores go out at once; the one of a store gone meanwhile counts as passed.
    await expect(queuedWorkDone(deps, ['M1', 'M2'], 5_000)).rejects.toThrow(
      /Timed out after 5 s waiting for the polls and pushes queued for merchant M1 \(/,
    );
    expect(deps.pollQueue.sent.map((m) => m.groupId)).toEqual(['M1', 'M2']);
    // A timeout under a second reads as given.
    await expect(queuedWorkDone(deps, ['M1'], 200)).rejects.toThrow(/^Timed out after 0\.2 s waiting/);
    // A merchant removed meanwhile has nothing left to wait for.
    merchants.records.delete('M1');
    await expect(queuedWorkDone(deps, ['M1'], 5_000)).resolves.toBeUndefined();
  });
});

describe('a push set aside (pushSetAsideAt)', () => {
  /** Two items polled, never pushed: both codes out of step; the store noted as having a push set aside. */
  async function outOfStepAndNoted() {
    const s = setup([it0('A', { modifiedTime: 1000 }), it0('B', { modifiedTime: 2000 })]);
    s.merchants.now = () => 1_000_000;
    await pollMerchant(s.deps, msg());
    s.pushQueue.sent.length = 0;
    s.advance(600_000);
    await s.merchants.notePushSetAside('M1');
    s.advance(60_000);
    return s;
  }

  it('a routine poll repairs, queues the codes and clears the note', async () => {
    const s = await outOfStepAndNoted();
    const r = await pollMerchant(s.deps, msg());
    expect(r).toMatchObject({ status: 'synced', cleanedUp: false });
    expect(pushedCodes(s.pushQueue)).toEqual(['SKU-A', 'SKU-B']);
    expect(s.merchants.records.get('M1')?.pushSetAsideAt).toBeUndefined();
  });

  it('a poll whose read stops early still repairs and clears the note', async () => {
    const s = await outOfStepAndNoted();
    const group = Array.from({ length: 30 }, (_, i) =>
      it0(`G${String(i).padStart(2, '0')}`, { modifiedTime: 3000 }),
    );
    for (const g of group) s.catalog.set(g.id, g);
    s.deps.settings = { ...settings, pageLimit: 3 };
    let t = 2500;
    s.beforeEachList((call) => {
      if (call === 1) return;
      const moving = [...s.catalog.values()].filter((i) => i.modifiedTime === 3000).slice(0, 2);
      for (const i of moving) s.catalog.set(i.id, { ...i, modifiedTime: t++ });
    });
    const r = await pollMerchant(s.deps, msg());
    expect(r.status === 'synced' && r.partial).toMatch(/kept changing/);
    expect(pushedCodes(s.pushQueue)).toEqual(expect.arrayContaining(['SKU-A', 'SKU-B']));
    expect(s.merchants.records.get('M1')?.pushSetAsideAt).toBeUndefined();
  });

  it('a push set aside during the poll, after it began, keeps its note for the next poll', async () => {
    const s = await outOfStepAndNoted();
    s.merchants.now = () => 10_000_000; // stamped after this poll's start
    s.beforeEachList(() => s.merchants.notePushSetAside('M1'));
    await pollMerchant(s.deps, msg());
    expect(s.merchants.records.get('M1')?.pushSetAsideAt).toBe(10_000_000);
  });

  it('a poll that fails after its repair and queue has queued the codes (its note may go)', async () => {
    const s = await outOfStepAndNoted();
    const orig = s.merchants.addShelfCounts.bind(s.merchants);
    let failed = false;
    s.merchants.addShelfCounts = async (...a) => {
      if (!failed) {
        failed = true;
        throw new Error('throttled');
      }
      return orig(...a);
    };
    // Fails after queueing (counts): the note is already gone, the codes queued.
    await expect(pollMerchant(s.deps, msg())).rejects.toThrow('throttled');
    expect(pushedCodes(s.pushQueue)).toEqual(['SKU-A', 'SKU-B']);
  });
});
