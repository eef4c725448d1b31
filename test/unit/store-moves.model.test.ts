/**
 * Store moves and removals as a model-based property: random Clover edits, polls and pushes, Hipoink
 * stores that fail or refuse for a while (from now or part-way through the next pushes), dead-lettered
 * pushes redriven at any later time, a push held in flight at any of its calls while edits, polls,
 * faults and the operator's commands go on, moves back and forth between three store codes, and
 * removals with the labels, each of which may fail (a removal given up: the operator enables the
 * merchant again, or runs it again later). Once the faults are fixed, the dead letters redriven and
 * every unfinished move run again (as the CLI tells an operator to), the merchant's store holds
 * exactly the owners' labels and every other store holds none of its codes; a removal with its
 * labels that succeeds, then or on the way, leaves every store empty.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextMerchantState } from '../../src/connect/authorize.ts';
import { ownerOf } from '../../src/domain/shelf.ts';
import { HipoinkApiError } from '../../src/errors.ts';
import type { PushMessage } from '../../src/sync/messages.ts';
import { moveStore, removeMerchant, type StoreChangeDeps } from '../../src/sync/stores.ts';
import { stepping, storesWorld } from './stores-world.ts';

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
  /** Once `after` more Hipoink calls there are answered (0: now; only a healthy store waits). */
  | { t: 'fault'; store: number; fault: (typeof FAULTS)[number]; after: number }
  /** A dead letter back in the queue, delivered now or later. */
  | { t: 'redrive'; pick: number; drain: boolean }
  /**
   * The next push starts and is held after its `pauseAt`-th call (one in flight ends first); with
   * none queued, a push of `codes` delivered again (pushes work from the stored state, so SQS may
   * deliver one twice).
   */
  | { t: 'start'; pauseAt: number; codes: number[] }
  | { t: 'resume' }
  /**
   * An operator's command; a push in flight goes on from the command's `release`-th store call
   * (0: once the command waits for queued work, as it always does before relying on it).
   */
  | { t: 'move'; to: number; release: number }
  /** Back to the store an unfinished move left (undoing a mistyped store code), or a move to `to`. */
  | { t: 'moveBack'; to: number; release: number }
  /** With the merchant's store failing as `fault` once `after` more calls there are answered. */
  | { t: 'remove'; release: number; fault: (typeof FAULTS)[number]; after: number }
  /** `merchants enable`: a removal given up, the operator keeps the merchant. */
  | { t: 'enable' };

const release = fc.nat(4);
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('move' as const), to: fc.nat(2), release }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('moveBack' as const), to: fc.nat(2), release }), weight: 2 },
  {
    arbitrary: fc.record({
      t: fc.constant('fault' as const),
      store: fc.nat(2),
      fault: fc.constantFrom(...FAULTS),
      after: fc.constantFrom(0, 0, 1, 2, 3),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({ t: fc.constant('redrive' as const), pick: fc.nat(9), drain: fc.boolean() }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      t: fc.constant('start' as const),
      // Most often held right after reading the merchant (its store code).
      pauseAt: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 10 })),
      codes: fc.uniqueArray(fc.nat(3), { minLength: 1 }),
    }),
    weight: 4,
  },
  fc.constant({ t: 'resume' as const }),
  {
    arbitrary: fc.record({
      t: fc.constant('remove' as const),
      release,
      fault: fc.constantFrom<(typeof FAULTS)[number]>('http403', 'http403', 'refuseEverything', 'none'),
      after: fc.constantFrom(0, 0, 1, 2),
    }),
    weight: 2,
  },
  { arbitrary: fc.constant({ t: 'enable' as const }), weight: 2 },
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
  /** Per store, a fault that sets in after that many more Hipoink calls there. */
  const coming = new Map<string, { calls: number; fault: (typeof FAULTS)[number] }>();
  w.hooks.beforeCall = (store) => {
    const f = coming.get(store);
    if (f && f.calls-- <= 0) {
      coming.delete(store);
      setFault(store, f.fault);
    }
  };
  const healthy = (store: string) => {
    const h = w.store(store);
    return !h.failWith && !h.refuseEverything && !h.refuseCreates;
  };
  /**
   * Only a healthy store fails part-way through a push: one that changed how it fails between a
   * refused call and the probe after it would pass for refusing that product, a case of its own
   * (a delete refused for a product stays where it is, and is reported).
   */
  const fault = (store: string, f: (typeof FAULTS)[number], after: number) => {
    coming.delete(store);
    if (after > 0 && f !== 'none' && healthy(store)) coming.set(store, { calls: after, fault: f });
    else setFault(store, f);
  };
  /** Set by a removal, until the operator enables the merchant again. */
  let removing = false;
  /**
   * A clear delivered while the store it empties is the merchant's own, not being removed (after a
   * move back, or a removal given up), must delete nothing there: deleting unbinds the labels.
   */
  let forbidden: string | undefined;
  w.hooks.delivered = (msg) => {
    const own = w.merchants.records.get('M1')?.storeCode;
    forbidden = msg.clearFrom === own && !removing ? own : undefined;
  };
  const deletedInOwnStore: string[] = [];
  for (const s of STORES)
    w.store(s).onDelete = (held) => {
      if (s === forbidden) deletedInOwnStore.push(`${s} ${held.pc}`);
    };
  const redrive = (msg: PushMessage) => {
    // As `esl-sync dlq redrive`: once more through the queue; failing for good, back to the DLQ.
    w.queue.push(msg);
  };
  /** The operator's command's deps: from its `n`-th store call on, the push in flight goes on. */
  const commandDeps = (n: number): StoreChangeDeps => {
    let calls = 0;
    const step = async () => {
      if (++calls === n) w.release();
    };
    return { ...w.deps, merchants: stepping(w.deps.merchants, step), shelf: stepping(w.deps.shelf, step) };
  };
  const everyStoreEmpty = () => {
    for (const s of STORES) expect([s, [...w.store(s).shelf.keys()]]).toEqual([s, []]);
    expect(deletedInOwnStore).toEqual([]);
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
    else if (o.t === 'fault') fault(STORES[o.store] as string, o.fault, o.after);
    else if (o.t === 'redrive') {
      const [msg] = w.dlq.splice(o.pick % Math.max(1, w.dlq.length), 1);
      if (msg) redrive(msg);
      if (o.drain) await w.drain();
    } else if (o.t === 'start') {
      await w.finish();
      if (w.queue.length === 0) w.queue.push({ merchantId: 'M1', codes: o.codes.map((c) => `C${c}`) });
      await w.startPush(o.pauseAt);
    } else if (o.t === 'resume') await w.finish();
    else if (o.t === 'enable') {
      const m = await w.merchants.get('M1');
      if (m?.state === 'disabled') {
        removing = false;
        // As `merchants enable`: active again, then a full resync.
        await w.merchants.setState('M1', nextMerchantState(m.storeCode, undefined));
        await w.deps.backfill({ merchantId: 'M1' });
      }
    } else if (o.t === 'remove') {
      const m = await w.merchants.get('M1');
      if (m?.storeCode) fault(m.storeCode, o.fault, o.after);
      removing = true;
      const removed = await removeMerchant(commandDeps(o.release), 'M1', { removeLabels: true }).then(
        () => true,
        () => false,
      );
      if (removed) {
        everyStoreEmpty();
        return;
      }
    } else {
      const m = await w.merchants.get('M1');
      const from = m?.storeCode as string;
      const to = (o.t === 'moveBack' ? m?.movingFrom : undefined) ?? (STORES[o.to] as string);
      const shown = [...w.store(from).shelf.keys()];
      const moved = await moveStore(commandDeps(o.release), 'M1', to).catch(() => undefined);
      if (moved?.moved && moved.from === from) {
        // The old store is emptied only once the new one shows a label wherever it did.
        const owned = new Set((await w.shelf.listSlots('M1')).flatMap((s) => (ownerOf(s) ? [s.code] : [])));
        for (const code of shown.filter((c) => owned.has(c)))
          expect([code, w.store(to).shelf.has(code)]).toEqual([code, true]);
        expect([from, [...w.store(from).shelf.keys()]]).toEqual([from, []]);
      }
    }
  }
  // The push in flight ends; the operator fixes every fault, redrives the dead letters, keeps a
  // merchant whose removal was given up (unless removing it now), and runs an unfinished move again.
  await w.finish();
  coming.clear();
  for (const s of STORES) setFault(s, 'none');
  for (const msg of w.dlq.splice(0)) redrive(msg);
  await w.drain();
  if (removeAtEnd) {
    removing = true;
    await removeMerchant(w.deps, 'M1', { removeLabels: true });
    everyStoreEmpty();
    return;
  }
  const kept = await w.merchants.get('M1');
  if (kept?.state === 'disabled') {
    removing = false;
    await w.merchants.setState('M1', 'active');
  }
  const moving = (await w.merchants.get('M1'))?.movingFrom;
  const at = (await w.merchants.get('M1'))?.storeCode as string;
  if (moving !== undefined) expect(await moveStore(w.deps, 'M1', at)).toMatchObject({ moved: true });
  // A full resync tries the labels refused while a store refused them.
  await w.poll({ full: true });
  await w.drain();
  expect(w.dlq).toEqual([]);
  expect(deletedInOwnStore).toEqual([]);

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
