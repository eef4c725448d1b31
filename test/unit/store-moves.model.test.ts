/**
 * Store moves and removals as a model-based property: random Clover edits, polls and pushes, Hipoink
 * stores that fail or refuse for a while, dead-lettered pushes redriven at any later time, and moves
 * back and forth between three store codes, each of which may fail. Once the faults are fixed, the
 * dead letters redriven and every unfinished move run again (as the CLI tells an operator to), the
 * merchant's store holds exactly the owners' labels and every other store holds none of its codes;
 * a removal with its labels then leaves every store empty.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ownerOf } from '../../src/domain/shelf.ts';
import { HipoinkApiError } from '../../src/errors.ts';
import type { PushMessage } from '../../src/sync/messages.ts';
import { moveStore, removeMerchant } from '../../src/sync/stores.ts';
import { storesWorld } from './stores-world.ts';

/** Sequences per run; more with STORE_MOVES_RUNS. */
const RUNS = Number(process.env.STORE_MOVES_RUNS ?? 1000);
const STORES = ['store-1', 'store-2', 'store-3'];
const ITEMS = ['A', 'B', 'C'];
const FAULTS = ['none', 'http403', 'refuseEverything', 'refuseCreates'] as const;

type Op =
  | { t: 'put'; item: number; code: number; price: number }
  | { t: 'hide'; item: number }
  | { t: 'poll' }
  | { t: 'drain' }
  | { t: 'fault'; store: number; fault: (typeof FAULTS)[number] }
  | { t: 'redrive'; pick: number }
  | { t: 'move'; to: number }
  /** Back to the store an unfinished move left (undoing a mistyped store code), or a move to `to`. */
  | { t: 'moveBack'; to: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('move' as const), to: fc.nat(2) }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('moveBack' as const), to: fc.nat(2) }), weight: 2 },
  {
    arbitrary: fc.record({
      t: fc.constant('fault' as const),
      store: fc.nat(2),
      fault: fc.constantFrom(...FAULTS),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ t: fc.constant('redrive' as const), pick: fc.nat(9) }), weight: 2 },
  fc.record({
    t: fc.constant('put' as const),
    item: fc.nat(2),
    code: fc.nat(3),
    price: fc.integer({ min: 1, max: 9 }),
  }),
  fc.record({ t: fc.constant('hide' as const), item: fc.nat(2) }),
  fc.constant({ t: 'poll' as const }),
  fc.constant({ t: 'drain' as const }),
);

async function run(ops: Op[], removeAtEnd: boolean) {
  const w = storesWorld();
  const setFault = (store: string, fault: (typeof FAULTS)[number]) => {
    const h = w.store(store);
    h.failWith =
      fault === 'http403' ? new HipoinkApiError('Hipoink answered HTTP 403', { status: 403 }) : undefined;
    h.refuseEverything = fault === 'refuseEverything';
    h.refuseCreates = fault === 'refuseCreates';
  };
  const redrive = async (msg: PushMessage) => {
    // As `esl-sync dlq redrive`: once more through the queue; failing for good, back to the DLQ.
    w.queue.push(msg);
    await w.drain();
  };
  // Two labels on the shelf of store-1 to begin with.
  w.put('A', { sku: 'C0' });
  w.put('B', { sku: 'C1' });
  await w.poll({ full: true });
  await w.drain();
  for (const o of ops) {
    if (o.t === 'put')
      w.put(ITEMS[o.item] as string, { sku: `C${o.code}`, price: o.price * 100, hidden: false });
    else if (o.t === 'hide') w.put(ITEMS[o.item] as string, { hidden: true });
    else if (o.t === 'poll') await w.poll();
    else if (o.t === 'drain') await w.drain();
    else if (o.t === 'fault') setFault(STORES[o.store] as string, o.fault);
    else if (o.t === 'redrive') {
      const [msg] = w.dlq.splice(o.pick % Math.max(1, w.dlq.length), 1);
      if (msg) await redrive(msg);
    } else {
      const m = await w.merchants.get('M1');
      const from = m?.storeCode as string;
      const to = (o.t === 'moveBack' ? m?.movingFrom : undefined) ?? (STORES[o.to] as string);
      const shown = [...w.store(from).shelf.keys()];
      const moved = await moveStore(w.deps, 'M1', to).catch(() => undefined);
      if (moved?.moved && moved.from === from) {
        // The old store is emptied only once the new one shows a label wherever it did.
        const owned = new Set((await w.shelf.listSlots('M1')).flatMap((s) => (ownerOf(s) ? [s.code] : [])));
        for (const code of shown.filter((c) => owned.has(c)))
          expect([code, w.store(to).shelf.has(code)]).toEqual([code, true]);
        expect([from, [...w.store(from).shelf.keys()]]).toEqual([from, []]);
      }
    }
  }
  // The operator fixes every fault, redrives the dead letters, and runs an unfinished move again.
  for (const s of STORES) setFault(s, 'none');
  for (const msg of w.dlq.splice(0)) await redrive(msg);
  const moving = (await w.merchants.get('M1'))?.movingFrom;
  const at = (await w.merchants.get('M1'))?.storeCode as string;
  if (moving !== undefined) expect(await moveStore(w.deps, 'M1', at)).toMatchObject({ moved: true });
  // A full resync tries the labels refused while a store refused them.
  await w.poll({ full: true });
  await w.drain();
  expect(w.dlq).toEqual([]);

  if (removeAtEnd) {
    await removeMerchant(w.deps, 'M1', { removeLabels: true });
    for (const s of STORES) expect([s, [...w.store(s).shelf.keys()]]).toEqual([s, []]);
    return;
  }
  const expected = new Map<string, string>();
  for (const slot of await w.shelf.listSlots('M1')) {
    const owner = ownerOf(slot);
    if (owner) expected.set(slot.code, `${owner.label.pn} ${owner.label.pp}`);
  }
  for (const s of STORES) {
    const held = new Map([...w.store(s).shelf].map(([code, p]) => [code, `${p.pn} ${p.pp}`]));
    expect([s, Object.fromEntries(held)]).toEqual([s, s === at ? Object.fromEntries(expected) : {}]);
  }
}

describe('store moves and removals', () => {
  it(
    'end with the labels in the merchant’s store only, whatever fails on the way (property)',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 30 }), fc.boolean(), (ops, removeAtEnd) =>
          run(ops, removeAtEnd),
        ),
        { numRuns: RUNS },
      );
    },
    Math.max(120_000, RUNS * 400),
  );
});
