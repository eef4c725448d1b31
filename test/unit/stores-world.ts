/**
 * One merchant's shelf over several Hipoink store codes, for store moves and removals: a Clover
 * catalog, the real poll and push over the in-memory stores, a push queue drained as SQS would (each
 * push tried 5 times, then dead-lettered), and one Hipoink per store code. One push at a time may
 * be held in flight at any of its calls (the merchant's FIFO group lets no other push of it start
 * meanwhile); draining the queue, or an operator's command waiting for queued work, lets it finish.
 */
import type { CloverClient } from '../../src/clover/client.ts';
import type { HipoinkClient } from '../../src/hipoink/client.ts';
import type { PushMessage } from '../../src/sync/messages.ts';
import { pollMerchant } from '../../src/sync/poll/index.ts';
import { pushCodes } from '../../src/sync/push.ts';
import type { StoreChangeDeps } from '../../src/sync/stores.ts';
import { FakeHipoink, FakeMerchantStore, FakeShelfStore, merchantRecord } from './fakes.ts';
import { SETTINGS } from './shelf-world.ts';

/** One merchant's catalog, the real poll and push over the in-memory stores, Hipoink per store code. */
export function storesWorld() {
  let clock = 1_700_000_000_000;
  const catalog = new Map<string, Record<string, unknown> & { id: string; modifiedTime: number }>();
  const clover: CloverClient = {
    async listItems(_m, _t, q) {
      return [...catalog.values()]
        .filter((i) => q.modifiedSince === undefined || i.modifiedTime >= q.modifiedSince)
        .sort((a, b) => a.modifiedTime - b.modifiedTime || (a.id < b.id ? -1 : 1))
        .slice(q.offset, q.offset + q.limit);
    },
    async getItem(_m, _t, id) {
      return catalog.get(id) ?? null;
    },
    refreshTokens: async () => Promise.reject(new Error('not used')),
    recoverTokens: async () => Promise.reject(new Error('not used')),
  };
  const stores = new Map<string, FakeHipoink>();
  const store = (code: string) => {
    if (!stores.has(code)) stores.set(code, new FakeHipoink());
    return stores.get(code) as FakeHipoink;
  };
  const hooks = {
    /** Before each Hipoink call to a store (a fault that sets in part-way through a push). */
    beforeCall: (_store: string) => {},
    /** As the consumer takes a push (the one running until the next is taken). */
    delivered: (_msg: PushMessage) => {},
  };
  const at = (s: string) => {
    hooks.beforeCall(s);
    return store(s);
  };
  const hipoink: HipoinkClient = {
    create: (s, p) => at(s).create(s, p),
    createMultiple: (s, ps) => at(s).createMultiple(s, ps),
    deleteMultiple: (s, cs) => at(s).deleteMultiple(s, cs),
  };
  const merchants = new FakeMerchantStore(merchantRecord());
  merchants.now = () => clock;
  const shelf = new FakeShelfStore(() => clock);
  const queue: PushMessage[] = [];
  const pushQueue = {
    send: async (ms: ReadonlyArray<{ body: unknown }>) =>
      void queue.push(...ms.map((m) => m.body as PushMessage)),
  };
  const pollDeps = {
    merchants,
    shelf,
    clover,
    tokens: { accessToken: async () => 'token' },
    pushQueue,
    settings: SETTINGS,
    productCodePrecedence: ['sku', 'code', 'id'] as const,
    now: () => clock,
  };
  const poll = (opts: { full?: boolean; repush?: boolean } = {}) => {
    clock += 30_000;
    return pollMerchant(pollDeps, {
      merchantId: 'M1',
      mode: opts.full ? 'full' : 'incremental',
      requestedAt: clock,
      reason: 'schedule',
      ...(opts.repush ? { repush: true } : {}),
    });
  };
  const pushOnce = (msg: PushMessage) => {
    hooks.delivered(msg);
    return pushCodes({ merchants, shelf, hipoink, settings: SETTINGS }, msg);
  };
  /** SQS's part: each queued push is tried up to 5 times, then dead-lettered. */
  const dlq: PushMessage[] = [];
  const attempts = new Map<PushMessage, number>();
  /**
   * A failed delivery: the message is its group's next again, or dead-lettered after 5 (the
   * consumer notes on the merchant that a push was set aside, as its handler does).
   */
  const failed = async (msg: PushMessage) => {
    const n = (attempts.get(msg) ?? 0) + 1;
    attempts.delete(msg);
    if (n === 5) {
      dlq.push(msg);
      if (msg.barrier === undefined) await merchants.notePushSetAside(msg.merchantId);
    } else {
      attempts.set(msg, n);
      queue.unshift(msg);
    }
  };
  let inFlight: { done: Promise<boolean>; msg: PushMessage; release: () => void } | undefined;
  /** Lets the push in flight go on; it runs beside whatever runs now. */
  const release = () => inFlight?.release();
  /** Lets the push in flight go on and waits for it (SQS delivers it again if it failed). */
  const finish = async () => {
    const p = inFlight;
    if (!p) return;
    p.release();
    const ok = await p.done;
    inFlight = undefined;
    if (ok) attempts.delete(p.msg);
    else await failed(p.msg);
  };
  /**
   * The consumer takes the merchant's next push and holds it after its `pauseAt`-th call (to the
   * merchant store, the shelf store or Hipoink), unless it ends first. A push in flight ends first:
   * the FIFO group delivers the next only then.
   */
  const startPush = async (pauseAt: number) => {
    await finish();
    const msg = queue.shift();
    if (!msg) return false;
    hooks.delivered(msg);
    let open = () => {};
    const gate = new Promise<void>((r) => {
      open = r;
    });
    let reached = () => {};
    const paused = new Promise<void>((r) => {
      reached = r;
    });
    let calls = 0;
    // Every call from the `pauseAt`-th on waits (the push's parallel writes too).
    const step = async () => {
      if (++calls < pauseAt) return;
      reached();
      await gate;
    };
    const done = pushCodes(
      {
        merchants: stepping(merchants, step),
        shelf: stepping(shelf, step),
        hipoink: stepping(hipoink, step),
        settings: SETTINGS,
      },
      msg,
    ).then(
      () => true,
      () => false,
    );
    inFlight = { done, msg, release: open };
    // Whether it is held (not done).
    return Promise.race([paused.then(() => true), done.then(() => false)]);
  };
  const drain = async () => {
    await finish();
    for (let msg = queue.shift(); msg; msg = queue.shift()) {
      const ok = await pushOnce(msg).then(
        () => true,
        () => false,
      );
      if (ok) attempts.delete(msg);
      else await failed(msg);
    }
  };
  const put = (id: string, over: Record<string, unknown>) => {
    clock += 1000;
    catalog.set(id, {
      id,
      name: `N${id}`,
      price: 100,
      hidden: false,
      ...catalog.get(id),
      ...over,
      modifiedTime: clock,
    });
  };
  const deps: StoreChangeDeps = {
    merchants,
    shelf,
    pushQueue,
    backfill: async (request) =>
      poll({ full: true, ...('repush' in request && request.repush ? { repush: true } : {}) }),
    settled: drain,
    hipoinkChunkSize: SETTINGS.hipoinkChunkSize,
  };
  return {
    poll,
    drain,
    put,
    deps,
    store,
    shelf,
    queue,
    dlq,
    pushOnce,
    merchants,
    hipoink,
    startPush,
    release,
    finish,
    hooks,
  };
}

/** `target` whose every method awaits `step()` once its call is done (before its caller goes on). */
export function stepping<T extends object>(target: T, step: () => Promise<void>): T {
  return new Proxy(target, {
    get(t, key) {
      const value: unknown = Reflect.get(t, key);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const out: unknown = await value.apply(t, args);
        await step();
        return out;
      };
    },
  });
}
