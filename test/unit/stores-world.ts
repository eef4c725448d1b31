/**
 * One merchant's shelf over several Hipoink store codes, for store moves and removals: a Clover
 * catalog, the real poll and push over the in-memory stores, a push queue drained as SQS would (each
 * push tried 5 times, then dead-lettered), and one Hipoink per store code.
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
  const hipoink: HipoinkClient = {
    create: (s, p) => store(s).create(s, p),
    createMultiple: (s, ps) => store(s).createMultiple(s, ps),
    deleteMultiple: (s, cs) => store(s).deleteMultiple(s, cs),
  };
  const merchants = new FakeMerchantStore(merchantRecord());
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
  const pushOnce = (msg: PushMessage) => pushCodes({ merchants, shelf, hipoink, settings: SETTINGS }, msg);
  /** SQS's part: each queued push is tried up to 5 times, then dead-lettered. */
  const dlq: PushMessage[] = [];
  const drain = async () => {
    for (let msg = queue.shift(); msg; msg = queue.shift()) {
      let attempts = 0;
      while (
        !(await pushOnce(msg).then(
          () => true,
          () => false,
        ))
      )
        if (++attempts === 5) {
          dlq.push(msg);
          break;
        }
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
  return { poll, drain, put, deps, store, shelf, queue, dlq, pushOnce, merchants, hipoink };
}
