/**
 * The consumer against real parts: the shelf state in dynalite, labels on the Hipoink simulator
 * over HTTP. Delivery is at least once and out of order; Hipoink fails transiently.
 */

import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type HipoinkSimulator, startHipoinkSimulator } from '../../local/simulators/hipoink.ts';
import { hashOf } from '../../src/domain/label.ts';
import { createHipoinkClient } from '../../src/hipoink/client.ts';
import type { MerchantStore } from '../../src/store/merchants.ts';
import type { ShelfStore } from '../../src/store/shelf.ts';
import { pushMessages } from '../../src/sync/poll/index.ts';
import { pushCodes } from '../../src/sync/push.ts';
import { startStateStores } from './support.ts';

const SIGN = 'delivery-sign';
let state: Awaited<ReturnType<typeof startStateStores>>;
let hipoink: HipoinkSimulator;
let store: ShelfStore;
let merchants: MerchantStore;
let run = 0;

beforeAll(async () => {
  state = await startStateStores();
  ({ merchants, shelf: store } = state);
  hipoink = await startHipoinkSimulator({ sign: SIGN });
});
afterAll(async () => {
  await hipoink?.stop();
  await state?.stop();
});

/** A fresh merchant (and store) per test run, so runs cannot see each other's labels. */
async function freshMerchant() {
  const merchantId = `M${++run}`;
  const storeCode = `store-${run}`;
  await merchants.upsert({
    merchantId,
    storeCode,
    tokens: {
      access_token: 'a',
      access_token_expiration: 1,
      refresh_token: 'r',
      refresh_token_expiration: 1,
    },
  });
  return { merchantId, storeCode };
}

const deps = (chunk = 200) => ({
  merchants,
  shelf: store,
  hipoink: createHipoinkClient({
    baseUrl: hipoink.url,
    clientId: 'default',
    sign: async () => SIGN,
    backoffLimitMs: 20,
    retryLimit: 3,
  }),
  settings: { hipoinkChunkSize: chunk, storeWriteConcurrency: 16 },
});

type Version = { price: number; hidden: boolean };
/** What a poll writes for a new version of an item (each item has its own code here). */
async function applyVersion(merchantId: string, itemId: string, v: Version, modifiedTime: number) {
  const pc = `PC-${itemId}`;
  if (v.hidden) {
    await store.touchSlot(merchantId, pc, { drop: itemId });
    return;
  }
  const label = { pc, pn: `Item ${itemId}`, pp: (v.price / 100).toFixed(2) };
  await store.touchSlot(merchantId, pc, {
    want: { itemId, label, labelHash: hashOf(label), wantsSince: modifiedTime },
  });
}
const codes = (ids: readonly string[]) => ids.map((id) => `PC-${id}`);
const shelf = (storeCode: string) =>
  Object.fromEntries([...hipoink.products(storeCode).values()].map((p) => [p.pc, p.pp]));

beforeEach(() => {
  hipoink.failEvery(0);
  hipoink.resetCalls();
});

describe('push consumer against the Hipoink simulator', () => {
  it('converges with every 3rd Hipoink call failing 5xx', async () => {
    const { merchantId, storeCode } = await freshMerchant();
    const ids = Array.from({ length: 30 }, (_, i) => `I${i}`);
    for (const id of ids) await applyVersion(merchantId, id, { price: 100, hidden: false }, 1);
    hipoink.failEvery(3, 503);
    for (let i = 0; i < ids.length; i += 5) {
      await pushCodes(deps(2), { merchantId, codes: codes(ids.slice(i, i + 5)) });
    }
    expect(Object.keys(shelf(storeCode))).toHaveLength(30);
    expect(hipoink.calls.some((c) => c.httpStatus === 503)).toBe(true);
  });

  it('costs ⌈2000/chunk⌉ create calls for 2,000 changed products, and none for a second delivery', async () => {
    for (const chunk of [200, 300]) {
      const { merchantId, storeCode } = await freshMerchant();
      const ids = Array.from({ length: 2000 }, (_, i) => `P${i}`);
      await Promise.all(ids.map((id) => applyVersion(merchantId, id, { price: 250, hidden: false }, 1)));
      hipoink.resetCalls();
      // The poller's own message split, then the consumer, one message at a time.
      const messages = pushMessages(merchantId, codes(ids), chunk);
      for (const m of messages) await pushCodes(deps(chunk), m.body);
      const creates = hipoink.calls.filter((c) => c.path === 'product/create_multiple');
      expect(creates).toHaveLength(Math.ceil(2000 / chunk));
      expect(Object.keys(shelf(storeCode))).toHaveLength(2000);
      hipoink.resetCalls();
      for (const m of messages) await pushCodes(deps(chunk), m.body);
      expect(hipoink.calls).toHaveLength(0);
    }
  }, 180_000);

  it('ends in the same state for shuffled and duplicated deliveries as for in-order single delivery', async () => {
    const version = fc.record({ price: fc.integer({ min: 0, max: 999 }), hidden: fc.boolean() });
    const change = fc.record({ item: fc.integer({ min: 0, max: 4 }), version });
    await fc.assert(
      fc.asyncProperty(
        fc.array(change, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { minLength: 0, maxLength: 40 }),
        async (changes, schedule) => {
          const { merchantId, storeCode } = await freshMerchant();
          // Deliveries happen at random points after their change, some twice, in any order.
          const pending: string[][] = [];
          let next = 0;
          for (const pick of schedule) {
            if (pick % 3 === 0 && next < changes.length) {
              const c = changes[next] as (typeof changes)[number];
              next++;
              await applyVersion(merchantId, `I${c.item}`, c.version, next);
              pending.push([`I${c.item}`]);
            } else if (pending.length > 0) {
              const i = pick % pending.length;
              await pushCodes(deps(), { merchantId, codes: codes(pending[i] as string[]) });
              if (pick % 2 === 0) pending.splice(i, 1); // otherwise it will be delivered again
            }
          }
          for (; next < changes.length; next++) {
            const c = changes[next] as (typeof changes)[number];
            await applyVersion(merchantId, `I${c.item}`, c.version, next + 1);
            pending.push([`I${c.item}`]);
          }
          for (const ids of pending.reverse()) await pushCodes(deps(), { merchantId, codes: codes(ids) });

          const expected: Record<string, string> = {};
          const latest = new Map<number, Version>();
          for (const c of changes) latest.set(c.item, c.version);
          for (const [item, v] of latest) if (!v.hidden) expected[`PC-I${item}`] = (v.price / 100).toFixed(2);
          expect(shelf(storeCode)).toEqual(expected);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('delivers the others when Hipoink refuses one product, and records why', async () => {
    const { merchantId, storeCode } = await freshMerchant();
    for (const id of ['A', 'B', 'C']) await applyVersion(merchantId, id, { price: 100, hidden: false }, 1);
    hipoink.rejectProduct('PC-B', 'template has no price field');
    const result = await pushCodes(deps(), { merchantId, codes: codes(['A', 'B', 'C']) });
    expect(result).toMatchObject({ upserted: 2, rejected: 1 });
    expect(Object.keys(shelf(storeCode)).sort()).toEqual(['PC-A', 'PC-C']);
    const [b] = await store.getSlots(merchantId, ['PC-B']);
    expect(b?.refused?.reason).toContain('template has no price field');
  });

  it('tells a refused product from a refused request, on dynalite and the simulator', async () => {
    const { merchantId, storeCode } = await freshMerchant();
    await applyVersion(merchantId, 'A', { price: 100, hidden: false }, 1);
    await pushCodes(deps(), { merchantId, codes: ['PC-A'] });
    // Hipoink now refuses A (shown) and B; C is fine: products at fault, not the request.
    hipoink.rejectProduct('PC-A', 'unknown template');
    hipoink.rejectProduct('PC-B', 'unknown template');
    for (const id of ['B', 'C']) await applyVersion(merchantId, id, { price: 200, hidden: false }, 2);
    const result = await pushCodes(deps(), { merchantId, codes: ['PC-B', 'PC-C'] });
    expect(result).toMatchObject({ upserted: 1, rejected: 1 });
    expect(shelf(storeCode)['PC-C']).toBe('2.00');
    hipoink.acceptProduct('PC-A');
    hipoink.acceptProduct('PC-B');
    // A wrong sign: every request refused alike. Retried, nothing marked rejected.
    await applyVersion(merchantId, 'C', { price: 300, hidden: false }, 3);
    const wrongSign = {
      ...deps(),
      hipoink: createHipoinkClient({
        baseUrl: hipoink.url,
        clientId: 'default',
        sign: async () => 'typo',
        retryLimit: 0,
      }),
    };
    await expect(pushCodes(wrongSign, { merchantId, codes: ['PC-C'] })).rejects.toMatchObject({
      code: 'HIPOINK_REQUEST_REFUSED',
      retryable: true,
    });
    expect((await store.getSlots(merchantId, ['PC-C']))[0]?.refused).toBeUndefined();
    await pushCodes(deps(), { merchantId, codes: ['PC-C'] });
    expect(shelf(storeCode)['PC-C']).toBe('3.00');
  });

  it('tells a mistyped store code (a store Hipoink does not have) as a refused request: retried, nothing recorded', async () => {
    const { merchantId, storeCode } = await freshMerchant();
    await applyVersion(merchantId, 'A', { price: 100, hidden: false }, 1);
    hipoink.onlyStores([`${storeCode}-real`]);
    try {
      await expect(pushCodes(deps(), { merchantId, codes: ['PC-A'] })).rejects.toMatchObject({
        code: 'HIPOINK_REQUEST_REFUSED',
        retryable: true,
        message: expect.stringContaining(`store ${storeCode}`),
      });
      const [a] = await store.getSlots(merchantId, ['PC-A']);
      expect(a?.refused).toBeUndefined();
      expect(a?.held).toBeUndefined();
      // Hipoink gets the store: the retried message delivers the label.
      hipoink.onlyStores([storeCode]);
      await pushCodes(deps(), { merchantId, codes: ['PC-A'] });
      expect(shelf(storeCode)['PC-A']).toBe('1.00');
    } finally {
      hipoink.onlyStores(undefined);
    }
  });
});
