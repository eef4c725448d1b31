/**
 * Poller and consumer together, on in-memory fakes: the shelf must end as Clover says even when a
 * push is in flight while a poll runs, when a replacement item takes a deleted item's barcode, and
 * when Hipoink refuses the item that takes over a code.
 */
import { describe, expect, it, vi } from 'vitest';
import type { CloverClient } from '../../src/clover/client.ts';
import { CloverApiError, HipoinkApiError, HipoinkRejectedError } from '../../src/errors.ts';
import type { HipoinkClient } from '../../src/hipoink/client.ts';
import type { HipoinkProduct } from '../../src/hipoink/fields.ts';
import type { PushMessage } from '../../src/sync/messages.ts';
import { pollMerchant } from '../../src/sync/poll.ts';
import { pushChanges } from '../../src/sync/push.ts';
import type { TokenManager } from '../../src/sync/tokens.ts';
import { FakeMerchantStore, FakeProductStore, merchantRecord, RecordingQueue } from './fakes.ts';

type RawItem = Record<string, unknown> & { id: string; modifiedTime: number };

const T = 1_700_000_000_000;
const POLL_EVERY = 300_000;

const item = (id: string, over: Partial<RawItem> = {}): RawItem => ({
  id,
  name: `Item ${id}`,
  sku: `SKU-${id}`,
  price: 100,
  modifiedTime: T,
  ...over,
});

function store(items: RawItem[], opts: { refuse?: (p: HipoinkProduct) => boolean } = {}) {
  const catalog = new Map(items.map((i) => [i.id, i]));
  const failGetOnce = new Set<string>();
  let failCreateOnce = false;
  let failDeleteOf: string | undefined;
  const clover: CloverClient = {
    async listItems(_m, _t, q) {
      return [...catalog.values()]
        .filter((i) => q.modifiedSince === undefined || i.modifiedTime >= q.modifiedSince)
        .sort((a, b) => a.modifiedTime - b.modifiedTime || a.id.localeCompare(b.id))
        .slice(q.offset, q.offset + q.limit)
        .map((i) => ({ ...i }));
    },
    async getItem(_m, _t, id) {
      if (failGetOnce.delete(id)) throw new CloverApiError('Clover answered 503', { status: 503 });
      const i = catalog.get(id);
      return i ? { ...i } : null;
    },
    refreshTokens: async () => Promise.reject(new Error('not used')),
    recoverTokens: async () => Promise.reject(new Error('not used')),
  };
  const refuse = opts.refuse ?? (() => false);
  const shelf = new Map<string, HipoinkProduct>();
  // Runs once, in the middle of the next Hipoink delete call (a slow or retried request).
  let duringDelete: (() => Promise<void>) | undefined;
  const hipoink: HipoinkClient = {
    async create(_s, p) {
      if (refuse(p)) throw new HipoinkRejectedError('refused', 1, 'product refused');
      shelf.set(p.pc, p);
    },
    async createMultiple(_s, ps) {
      if (failCreateOnce) {
        failCreateOnce = false;
        throw new HipoinkApiError('Hipoink answered 503', { status: 503 });
      }
      if (ps.some(refuse)) throw new HipoinkRejectedError('refused', 1, 'a product is invalid');
      for (const p of ps) shelf.set(p.pc, p);
    },
    async deleteMultiple(_s, codes) {
      if (failDeleteOf !== undefined && codes.includes(failDeleteOf)) {
        failDeleteOf = undefined;
        throw new HipoinkApiError('Hipoink answered 503', { status: 503 });
      }
      const during = duringDelete;
      duringDelete = undefined;
      await during?.();
      for (const c of codes) shelf.delete(c);
      return codes.length;
    },
  };
  const merchants = new FakeMerchantStore(merchantRecord());
  const products = new FakeProductStore();
  const pushQueue = new RecordingQueue();
  const tokens: TokenManager = { accessToken: vi.fn(async () => 'token') };
  let clock = T;
  const pollDeps = {
    merchants,
    products,
    clover,
    tokens,
    pushQueue,
    settings: {
      pageLimit: 1000,
      overlapMs: 120_000,
      cleanupEveryPolls: 3,
      cleanupIntervalHours: 24,
      hipoinkChunkSize: 200,
      merchantRequestsPerSecond: 1000,
      storeWriteConcurrency: 16,
    },
    productCodePrecedence: ['sku', 'code', 'id'] as const,
    now: () => clock,
  };
  const pushDeps = {
    merchants,
    products,
    hipoink,
    settings: { hipoinkChunkSize: 200, storeWriteConcurrency: 16 },
  };
  const poll = (at: number) => {
    clock = at;
    return pollMerchant(pollDeps, {
      merchantId: 'M1',
      mode: 'incremental',
      requestedAt: at,
      reason: 'schedule',
    });
  };
  const queued = () => pushQueue.sent.splice(0).map((m) => m.body as PushMessage);
  /** Like one FIFO group: a message that fails is retried before the next one. */
  const push = async (messages = queued()) => {
    for (const body of messages) {
      for (let attempt = 1; ; attempt++) {
        try {
          await pushChanges(pushDeps, body);
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
        }
      }
    }
  };
  /**
   * Polls every 5 minutes (longer than the 2-minute re-read window), each followed by its pushes;
   * a poll that fails is simply followed by the next scheduled one.
   */
  const run = async (from: number, polls: number) => {
    for (let i = 0; i < polls; i++) {
      await poll(from + i * POLL_EVERY).catch(() => undefined);
      await push();
    }
  };
  return {
    catalog,
    shelf,
    products,
    pushDeps,
    merchants,
    poll,
    queued,
    push,
    run,
    duringDelete: (f: () => Promise<void>) => {
      duringDelete = f;
    },
    failGetOnce: (id: string) => failGetOnce.add(id),
    failNextCreate: () => {
      failCreateOnce = true;
    },
    /** The next delete naming this code answers 503 (or the Lambda stops before it). */
    failNextDeleteOf: (pc: string) => {
      failDeleteOf = pc;
    },
    hipoink,
  };
}

describe('the shelf ends as Clover says', () => {
  it('when an item is shown again while the push taking it down is in flight', async () => {
    const s = store([item('A'), item('B')]);
    await s.run(T + 1_000, 1);
    s.catalog.set('A', item('A', { hidden: true, modifiedTime: T + 10_000 }));
    await s.poll(T + POLL_EVERY);
    const removal = s.queued();
    // While that removal is calling Hipoink, A is shown again (same label as before) and polled;
    // B changes after it, so the cursor moves past A.
    s.catalog.set('A', item('A', { modifiedTime: T + 400_000 }));
    s.catalog.set('B', item('B', { price: 250, modifiedTime: T + 450_000 }));
    s.duringDelete(async () => {
      await s.poll(T + 2 * POLL_EVERY);
    });
    await s.push(removal);
    await s.push();
    await s.run(T + 3 * POLL_EVERY, 4);
    expect([...s.shelf.keys()].sort()).toEqual(['SKU-A', 'SKU-B']);
  });

  it('when a code changes X→Y→X while the push of Y is in flight', async () => {
    const s = store([item('A', { sku: 'X' }), item('B')]);
    await s.run(T + 1_000, 1);
    s.catalog.set('A', item('A', { sku: 'Y', modifiedTime: T + 10_000 }));
    await s.poll(T + POLL_EVERY);
    const change = s.queued();
    s.catalog.set('A', item('A', { sku: 'X', modifiedTime: T + 400_000 }));
    s.catalog.set('B', item('B', { price: 250, modifiedTime: T + 450_000 }));
    s.duringDelete(async () => {
      await s.poll(T + 2 * POLL_EVERY);
    });
    await s.push(change);
    await s.push();
    await s.run(T + 3 * POLL_EVERY, 4);
    expect([...s.shelf.keys()].sort()).toEqual(['SKU-B', 'X']);
  });

  it('when a new item takes the barcode of one deleted later: it gets the label once the old one is gone', async () => {
    const s = store([item('OLD', { sku: '0123456789012', price: 499 }), item('FUEL', { price: 359 })]);
    await s.run(T + 1_000, 1);
    s.catalog.set('NEW', item('NEW', { sku: '0123456789012', price: 549, modifiedTime: T + 60_000 }));
    s.catalog.delete('OLD');
    // Fuel prices keep changing, so the cursor moves on past NEW long before cleanup finds OLD gone.
    for (let i = 1; i <= 6; i++) {
      s.catalog.set('FUEL', item('FUEL', { price: 359 + i, modifiedTime: T + i * POLL_EVERY - 30_000 }));
      await s.run(T + i * POLL_EVERY, 1);
    }
    const [newRecord] = await s.products.get('M1', ['NEW']);
    expect(newRecord?.status).toBe('active');
    expect(s.shelf.get('0123456789012')?.pp).toBe('5.49');
  });

  it('when Hipoink refuses the item taking over a hidden item’s code: the hidden label still comes down', async () => {
    const s = store([item('OLD', { name: 'Marlboro Red', sku: 'UPC1', price: 1099 })], {
      refuse: (p) => p.pn.length > 40,
    });
    await s.run(T + 1_000, 1);
    s.catalog.set(
      'OLD',
      item('OLD', { name: 'Marlboro Red', sku: 'UPC1', hidden: true, modifiedTime: T + 60_000 }),
    );
    s.catalog.set(
      'NEW',
      item('NEW', {
        name: 'Marlboro Red Kings 20 ct Box - Carton of Ten Packs',
        sku: 'UPC1',
        modifiedTime: T + 61_000,
      }),
    );
    await s.run(T + POLL_EVERY, 3);
    const [newRecord] = await s.products.get('M1', ['NEW']);
    expect(newRecord?.rejectedReason).toBe('product refused');
    expect(s.shelf.has('UPC1')).toBe(false);
  });

  it('when the poll that freed a barcode fails before reading the item waiting for it', async () => {
    const s = store([item('OLD', { sku: '0123456789012', price: 499 }), item('FUEL', { price: 359 })]);
    await s.run(T + 1_000, 1);
    s.catalog.set('NEW', item('NEW', { sku: '0123456789012', price: 549, modifiedTime: T + 60_000 }));
    s.catalog.delete('OLD');
    // One transient Clover error on the waiter's read, right after the release.
    s.failGetOnce('NEW');
    for (let i = 1; i <= 8; i++) {
      s.catalog.set('FUEL', item('FUEL', { price: 359 + i, modifiedTime: T + i * POLL_EVERY - 30_000 }));
      await s.run(T + i * POLL_EVERY, 1);
    }
    const [newRecord] = await s.products.get('M1', ['NEW']);
    expect(newRecord?.status).toBe('active');
    expect(s.shelf.get('0123456789012')?.pp).toBe('5.49');
  });

  describe('when Hipoink refuses the item taking over a hidden item’s code', () => {
    const refuse = (p: HipoinkProduct) => p.pn.length > 40;
    const longName = 'Marlboro Red Kings 20 ct Box - Carton of Ten Packs';
    const hidden = { name: 'Marlboro Red', sku: 'UPC1', hidden: true };

    it('and the removal and the taker travel in different push messages', async () => {
      const s = store([item('OLD', { name: 'Marlboro Red', sku: 'UPC1', price: 1099 })], { refuse });
      await s.run(T + 1_000, 1);
      s.catalog.set('OLD', item('OLD', { ...hidden, modifiedTime: T + 60_000 }));
      await s.poll(T + POLL_EVERY); // queues OLD's removal, not pushed yet
      s.catalog.set(
        'NEW',
        item('NEW', { name: longName, sku: 'UPC1', modifiedTime: T + POLL_EVERY + 60_000 }),
      );
      await s.poll(T + 2 * POLL_EVERY); // NEW claims UPC1, queued behind the removal
      await s.push();
      await s.run(T + 3 * POLL_EVERY, 3);
      expect(s.shelf.has('UPC1')).toBe(false);
    });

    it('and the push carrying both is retried after a transient Hipoink error', async () => {
      const s = store([item('OLD', { name: 'Marlboro Red', sku: 'UPC1', price: 1099 })], { refuse });
      await s.run(T + 1_000, 1);
      s.catalog.set('OLD', item('OLD', { ...hidden, modifiedTime: T + 60_000 }));
      s.catalog.set('NEW', item('NEW', { name: longName, sku: 'UPC1', modifiedTime: T + 61_000 }));
      await s.poll(T + POLL_EVERY);
      s.failNextCreate(); // 503 after OLD's removal was recorded; the retry is refused
      await s.push();
      await s.run(T + 2 * POLL_EVERY, 3);
      const [newRecord] = await s.products.get('M1', ['NEW']);
      expect(newRecord?.rejectedReason).toBe('product refused');
      expect(s.shelf.has('UPC1')).toBe(false);
    });
  });
});

describe('the shelf keeps a label whose code change is undone while its push is unfinished', () => {
  it('when the new code’s create fails after the old code was deleted', async () => {
    const s = store([item('A', { sku: 'W', price: 1099 })]);
    await s.run(T + 1_000, 1);
    s.catalog.set('A', item('A', { sku: 'X', price: 1099, modifiedTime: T + 10_000 }));
    await s.poll(T + POLL_EVERY);
    const recode = s.queued();
    s.failNextCreate(); // W is deleted, then X's create answers 503
    await expect(pushChanges(s.pushDeps, recode[0] as PushMessage)).rejects.toBeInstanceOf(HipoinkApiError);
    // While that message waits for its retry, the barcode edit is undone.
    s.catalog.set('A', item('A', { sku: 'W', price: 1099, modifiedTime: T + POLL_EVERY + 10_000 }));
    await s.poll(T + 2 * POLL_EVERY);
    await s.push([...recode, ...s.queued()]);
    await s.run(T + 3 * POLL_EVERY, 2);
    expect([...s.shelf.keys()]).toEqual(['W']);
    expect(s.shelf.get('W')?.pp).toBe('10.99');
  });

  it('when Hipoink refuses the label under the new code', async () => {
    const longName = 'Marlboro Red Kings 20 ct Box - Carton of Ten Packs';
    const s = store([item('A', { name: 'Marlboro Red', sku: 'W', price: 1099 })], {
      refuse: (p) => p.pn.length > 40,
    });
    await s.run(T + 1_000, 1);
    s.catalog.set('A', item('A', { name: longName, sku: 'X', price: 1099, modifiedTime: T + 10_000 }));
    await s.run(T + POLL_EVERY, 1);
    s.catalog.set(
      'A',
      item('A', { name: 'Marlboro Red', sku: 'W', price: 1099, modifiedTime: T + 2 * POLL_EVERY }),
    );
    await s.run(T + 2 * POLL_EVERY + 1_000, 2);
    expect([...s.shelf.keys()]).toEqual(['W']);
  });
});

describe('a late removal of a code another item took', () => {
  it('leaves no label behind when that item gives the code up before its own push lands', async () => {
    const s = store([item('A', { sku: 'X', price: 1099 })]);
    await s.run(T + 1_000, 1);
    s.catalog.set('A', item('A', { sku: 'X', price: 1099, hidden: true, modifiedTime: T + 10_000 }));
    await s.poll(T + POLL_EVERY);
    const removal = s.queued(); // waits, e.g. on a retry backoff
    s.catalog.set('B', item('B', { sku: 'X', price: 549, modifiedTime: T + POLL_EVERY + 10_000 }));
    await s.poll(T + 2 * POLL_EVERY); // B claims X
    const takeover = s.queued();
    await s.push(removal); // X is B's now: not deleted
    // B's push fails for now; meanwhile B's barcode is corrected to Y.
    s.failNextCreate();
    await expect(pushChanges(s.pushDeps, takeover[0] as PushMessage)).rejects.toBeInstanceOf(HipoinkApiError);
    s.catalog.set('B', item('B', { sku: 'Y', price: 549, modifiedTime: T + 2 * POLL_EVERY + 10_000 }));
    await s.poll(T + 3 * POLL_EVERY);
    await s.push([...takeover, ...s.queued()]);
    await s.run(T + 4 * POLL_EVERY, 2);
    expect(Object.fromEntries([...s.shelf].map(([pc, p]) => [pc, p.pn]))).toEqual({ Y: 'Item B' });
    // and nothing is left to do
    expect((await s.products.get('M1', ['A', 'B'])).map((r) => r.strayPcs)).toEqual([undefined, undefined]);
  });

  it('leaves the taker’s label alone when the taker’s push landed first', async () => {
    const s = store([item('A', { sku: 'X', price: 1099 })]);
    await s.run(T + 1_000, 1);
    s.catalog.set('A', item('A', { sku: 'X', price: 1099, hidden: true, modifiedTime: T + 10_000 }));
    await s.poll(T + POLL_EVERY);
    const removal = s.queued();
    s.catalog.set('B', item('B', { sku: 'X', price: 549, modifiedTime: T + POLL_EVERY + 10_000 }));
    await s.poll(T + 2 * POLL_EVERY);
    await s.push(s.queued()); // B's label goes up under X first
    await s.push(removal);
    await s.run(T + 3 * POLL_EVERY, 2);
    expect(Object.fromEntries([...s.shelf].map(([pc, p]) => [pc, p.pp]))).toEqual({ X: '5.49' });
    expect((await s.products.get('M1', ['B']))[0]?.strayPcs).toBeUndefined();
  });

  it('takes the code down when the item it was handed to turns invalid before its push', async () => {
    const s = store([item('A', { sku: 'X', price: 1099 })]);
    await s.run(T + 1_000, 1);
    s.catalog.set('A', item('A', { sku: 'X', price: 1099, hidden: true, modifiedTime: T + 10_000 }));
    await s.poll(T + POLL_EVERY);
    const removal = s.queued();
    s.catalog.set('B', item('B', { sku: 'X', price: 549, modifiedTime: T + POLL_EVERY + 10_000 }));
    await s.poll(T + 2 * POLL_EVERY);
    const takeover = s.queued();
    await s.push(removal); // X is B's: handed to B
    s.catalog.set(
      'B',
      item('B', { name: '', sku: 'X', price: 549, modifiedTime: T + 2 * POLL_EVERY + 10_000 }),
    );
    await s.poll(T + 3 * POLL_EVERY); // B is invalid and gives X up
    await s.push([...takeover, ...s.queued()]);
    await s.run(T + 4 * POLL_EVERY, 2);
    const [b] = await s.products.get('M1', ['B']);
    expect(b?.status).toBe('invalid');
    expect([...s.shelf.keys()]).toEqual([]);
    expect(b?.strayPcs).toBeUndefined();
  });

  it('deletes a code whose claim was left by a failed save, even when the holder is in the same message', async () => {
    const s = store([item('A', { sku: 'Y', price: 1099 }), item('B', { sku: 'W', price: 549 })]);
    await s.run(T + 1_000, 1);
    s.catalog.set('A', item('A', { sku: 'Y', price: 1099, hidden: true, modifiedTime: T + 10_000 }));
    s.catalog.set('B', item('B', { sku: 'Y', price: 549, modifiedTime: T + 20_000 }));
    const real = s.products.saveState.bind(s.products);
    let failed = false;
    s.products.saveState = async (m, id, st) => {
      if (id === 'B' && !failed) {
        failed = true; // B claimed Y, then its state write failed
        throw new Error('DynamoDB InternalServerError');
      }
      return real(m, id, st);
    };
    await expect(s.poll(T + POLL_EVERY)).rejects.toThrow();
    s.catalog.set('B', item('B', { sku: 'Z', price: 549, modifiedTime: T + POLL_EVERY + 10_000 }));
    s.catalog.set('C', item('C', { sku: 'V', price: 199, modifiedTime: T + POLL_EVERY + 20_000 }));
    await s.run(T + 2 * POLL_EVERY, 4);
    expect(Object.fromEntries([...s.shelf].map(([pc, p]) => [pc, p.pn]))).toEqual({
      Z: 'Item B',
      V: 'Item C',
    });
    expect((await s.products.get('M1', ['B']))[0]?.strayPcs).toBeUndefined();
  });
});

describe('after a third review', () => {
  const longName = 'Marlboro Red Kings 20 ct Box - Carton of Ten Packs';
  const refuse = (p: { pn: string }) => p.pn.length > 40;
  const shelfNames = (s: ReturnType<typeof store>) =>
    Object.fromEntries([...s.shelf].map(([pc, p]) => [pc, p.pn]));
  /** A shows X on the shelf; then A is hidden and B, whose label Hipoink refuses, takes X (not polled yet). */
  const hiddenAndTakenByRefused = async () => {
    const s = store([item('A', { name: 'Marlboro Red', sku: 'X', price: 1099 })], { refuse });
    await s.run(T + 1_000, 1);
    s.catalog.set('A', item('A', { name: 'Marlboro Red', sku: 'X', hidden: true, modifiedTime: T + 60_000 }));
    s.catalog.set('B', item('B', { name: longName, sku: 'X', modifiedTime: T + 61_000 }));
    return s;
  };

  it('a refused taker recoded while its push runs leaves no hidden item’s label under the code', async () => {
    const s = await hiddenAndTakenByRefused();
    await s.poll(T + POLL_EVERY); // A removed, B claims X: one message {A, B}
    const m = s.queued();
    s.catalog.set('B', item('B', { name: longName, sku: 'Y', modifiedTime: T + POLL_EVERY + 60_000 }));
    s.duringDelete(async () => {
      await s.poll(T + 2 * POLL_EVERY); // B gives X up while the push is under way
    });
    await s.push(m);
    await s.push();
    await s.run(T + 3 * POLL_EVERY, 4);
    expect(shelfNames(s)).toEqual({});
  });

  it('the same when the poll stopped between giving the code up and saving the taker', async () => {
    const s = await hiddenAndTakenByRefused();
    await s.poll(T + POLL_EVERY);
    const m = s.queued();
    s.catalog.set('B', item('B', { name: longName, sku: 'Y', modifiedTime: T + POLL_EVERY + 60_000 }));
    const real = s.products.saveState.bind(s.products);
    let once = true;
    s.products.saveState = async (mId, id, st) => {
      if (id === 'B' && once) {
        once = false;
        throw new Error('DynamoDB InternalServerError');
      }
      return real(mId, id, st);
    };
    await expect(s.poll(T + 2 * POLL_EVERY)).rejects.toThrow();
    await s.push(m);
    await s.run(T + 3 * POLL_EVERY, 4);
    expect(shelfNames(s)).toEqual({});
  });

  it('an item fixed after another item used and dropped its code gets its label back', async () => {
    const s = store([item('A', { sku: 'X', price: 1099 })]);
    await s.run(T + 1_000, 1);
    s.catalog.set('A', item('A', { sku: 'X', price: 1099, cost: -5, modifiedTime: T + 10_000 })); // invalid
    s.catalog.set('B', item('B', { sku: 'X', price: 549, modifiedTime: T + 20_000 })); // takes X
    await s.run(T + POLL_EVERY, 1);
    expect(shelfNames(s)).toEqual({ X: 'Item B' });
    s.catalog.set(
      'B',
      item('B', { sku: 'X', price: 549, hidden: true, modifiedTime: T + POLL_EVERY + 10_000 }),
    );
    await s.run(T + 2 * POLL_EVERY, 1); // X deleted
    s.catalog.set(
      'A',
      item('A', { sku: 'X', price: 1099, cost: 5, modifiedTime: T + 2 * POLL_EVERY + 10_000 }),
    );
    await s.run(T + 3 * POLL_EVERY, 4);
    expect(shelfNames(s)).toEqual({ X: 'Item A' });
  });

  it('an item fixed while another item shows its code takes it over, not that item’s label', async () => {
    const s = store([item('A', { sku: 'X', price: 1099 })]);
    await s.run(T + 1_000, 1);
    s.catalog.set('A', item('A', { sku: 'X', price: 1099, cost: -5, modifiedTime: T + 10_000 }));
    s.catalog.set('B', item('B', { sku: 'X', price: 549, modifiedTime: T + 20_000 }));
    await s.run(T + POLL_EVERY, 1);
    s.catalog.set('A', item('A', { sku: 'X', price: 1099, cost: 5, modifiedTime: T + POLL_EVERY + 10_000 }));
    await s.run(T + 2 * POLL_EVERY, 1); // A waits for X
    s.catalog.set(
      'B',
      item('B', { sku: 'X', price: 549, hidden: true, modifiedTime: T + 2 * POLL_EVERY + 10_000 }),
    );
    await s.run(T + 3 * POLL_EVERY, 4);
    expect(Object.fromEntries([...s.shelf].map(([pc, p]) => [pc, p.pp]))).toEqual({ X: '10.99' });
  });

  it('ghost cleanup failing between a deleted item and its code still lets the waiting item take it', async () => {
    const s = store([item('OLD', { sku: '0123456789012', price: 499 }), item('FUEL', { price: 359 })]);
    await s.run(T + 1_000, 1);
    s.catalog.set('NEW', item('NEW', { sku: '0123456789012', price: 549, modifiedTime: T + 60_000 }));
    s.catalog.delete('OLD');
    const real = s.products.releaseCode.bind(s.products);
    let once = true;
    s.products.releaseCode = async (m, pc, id, keep) => {
      if (id === 'OLD' && once) {
        once = false; // the release fails once, during ghost cleanup
        throw new Error('DynamoDB ProvisionedThroughputExceeded');
      }
      return real(m, pc, id, keep);
    };
    for (let i = 1; i <= 8; i++) {
      s.catalog.set('FUEL', item('FUEL', { price: 359 + i, modifiedTime: T + i * POLL_EVERY - 30_000 }));
      await s.run(T + i * POLL_EVERY, 1);
    }
    expect(s.shelf.get('0123456789012')?.pp).toBe('5.49');
    expect(s.shelf.size).toBe(2);
  });

  it('a failure recording who waits for a code loses no waiter', async () => {
    const s = store([item('OLD', { sku: '0123456789012', price: 499 }), item('FUEL', { price: 359 })]);
    await s.run(T + 1_000, 1);
    s.catalog.set('NEW', item('NEW', { sku: '0123456789012', price: 549, modifiedTime: T + 60_000 }));
    s.catalog.set('FUEL', item('FUEL', { price: 360, modifiedTime: T + POLL_EVERY - 30_000 }));
    await s.run(T + POLL_EVERY, 1);
    expect((await s.products.get('M1', ['NEW']))[0]?.status).toBe('invalid');
    s.catalog.set(
      'OLD',
      item('OLD', { sku: '0123456789012', price: 499, hidden: true, modifiedTime: T + POLL_EVERY + 60_000 }),
    );
    const real = s.merchants.addCodeRechecks.bind(s.merchants);
    let once = true;
    s.merchants.addCodeRechecks = async (m, ids) => {
      if (once) {
        once = false;
        throw new Error('DynamoDB ThrottlingException');
      }
      return real(m, ids);
    };
    for (let i = 2; i <= 9; i++) {
      s.catalog.set('FUEL', item('FUEL', { price: 359 + i, modifiedTime: T + i * POLL_EVERY - 30_000 }));
      await s.run(T + i * POLL_EVERY, 1);
    }
    expect(s.shelf.get('0123456789012')?.pp).toBe('5.49');
  });

  it('a refused taker’s old label still comes down when the push fails right after the refusal', async () => {
    const s = await hiddenAndTakenByRefused();
    s.catalog.set('C', item('C', { name: 'Camel', sku: 'Z', modifiedTime: T + 62_000 }));
    await s.poll(T + POLL_EVERY); // one message {A, B, C}
    s.failNextDeleteOf('X'); // the delete of X answers 503: the message is retried
    await s.push();
    await s.run(T + 2 * POLL_EVERY, 3);
    expect((await s.products.get('M1', ['B']))[0]?.rejectedReason).toBe('product refused');
    expect(shelfNames(s)).toEqual({ Z: 'Camel' });
  });

  it('the same when a later product of the chunk fails after the refusal', async () => {
    const s = await hiddenAndTakenByRefused();
    s.catalog.set('C', item('C', { name: 'Camel', sku: 'Z', modifiedTime: T + 62_000 }));
    await s.poll(T + POLL_EVERY);
    const create = s.hipoink.create.bind(s.hipoink);
    let once = true;
    s.hipoink.create = async (st, p) => {
      if (p.pc === 'Z' && once) {
        once = false;
        throw new HipoinkApiError('Hipoink answered 503', { status: 503 });
      }
      return create(st, p);
    };
    await s.push();
    await s.run(T + 2 * POLL_EVERY, 3);
    expect(shelfNames(s)).toEqual({ Z: 'Camel' });
  });

  it('a refused item taking back a code it once showed takes down the label another item left', async () => {
    const s = store([item('B', { name: 'Marlboro Red', sku: 'X', price: 1099 })], { refuse });
    await s.run(T + 1_000, 1);
    s.catalog.set('B', item('B', { name: 'Marlboro Red', sku: 'X', cost: -5, modifiedTime: T + 10_000 }));
    s.catalog.set('A', item('A', { name: 'Camel Blue', sku: 'X', price: 999, modifiedTime: T + 20_000 }));
    await s.run(T + POLL_EVERY, 1);
    expect(shelfNames(s)).toEqual({ X: 'Camel Blue' });
    s.catalog.set(
      'B',
      item('B', { name: longName, sku: 'X', cost: 5, modifiedTime: T + POLL_EVERY + 10_000 }),
    );
    await s.run(T + 2 * POLL_EVERY, 1); // B waits for X
    s.catalog.set(
      'A',
      item('A', { name: 'Camel Blue', sku: 'X', hidden: true, modifiedTime: T + 2 * POLL_EVERY + 10_000 }),
    );
    await s.run(T + 3 * POLL_EVERY, 4);
    expect((await s.products.get('M1', ['B']))[0]?.rejectedReason).toBe('product refused');
    expect(shelfNames(s)).toEqual({});
  });
});
