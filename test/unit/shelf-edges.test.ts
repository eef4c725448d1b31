/**
 * Edges of the shelf model, each a sequence the property test in shelf.test.ts does not
 * generate (or generates too rarely to find).
 */
import { describe, expect, it } from 'vitest';
import type { ShelfCounts } from '../../src/domain/counts.ts';
import { HipoinkApiError } from '../../src/errors.ts';
import type { PushMessage } from '../../src/sync/messages.ts';
import { pushCodes } from '../../src/sync/push.ts';
import { moveStore, removeMerchant, retryRefusedClears } from '../../src/sync/stores.ts';
import { outOfStepCodes } from './fakes.ts';
import { createWorld, SETTINGS } from './shelf-world.ts';
import { storesWorld } from './stores-world.ts';

describe('a refused label over an out-of-step slot', () => {
  it('takes down the label a lost Hipoink answer left under the code (another item’s price)', async () => {
    const w = createWorld();
    const b = w.create('C0', 100);
    await w.poll();
    // Hipoink takes b's label under C0, but the answer is lost: nothing is recorded as held.
    await w.push(0, { hipoinkFault: 'lostAnswer' });
    expect(w.hipoink.shelf.get('C0')?.pn).toBe(`N${b}`);
    // Before the retry, b moves to C1 and a new item takes C0 with a name Hipoink refuses.
    w.recode(b, 'C1');
    const a = w.create('C0', 250);
    w.refusedName(a);
    await w.poll();
    await w.settle();
    // C0 is a's code; Hipoink refuses a's label, so it may show nothing, never b's price.
    expect(await w.check()).toEqual([]);
  });

  it('does not trust what is recorded as held when the slot is out of step (owner’s older label)', async () => {
    const w = createWorld();
    w.create('A0', 50); // another label on the shelf, the one the refusal probe resends
    const a = w.create('C0', 100);
    await w.poll();
    await w.drain(); // Hipoink holds a's label, recorded
    const b = w.create('C0', 200); // blocked: a wanted C0 first
    await w.poll();
    await w.drain();
    w.hide(a); // b owns C0 now
    await w.poll();
    await w.push(0, { hipoinkFault: 'lostAnswer' }); // b's label reaches Hipoink, answer lost
    expect(w.hipoink.shelf.get('C0')?.pn).toBe(`N${b}`);
    w.show(a); // a owns C0 again, with a label Hipoink refuses
    w.refusedName(a);
    await w.poll();
    await w.settle();
    expect(await w.check()).toEqual([]);
  });
});

describe('a refused owner replaced by a poll while its push runs', () => {
  /** C0: b owns it with a label Hipoink refuses, a's label is held; c wants it next. */
  async function refusedOwner() {
    const w = createWorld();
    const [a, b] = await w.onShelf(['C0', 100], ['C1', 200]);
    w.swap(b, a);
    const c = w.create('C0', 300);
    w.refusedName(b);
    await w.poll(); // a push of C0 is queued
    w.hide(b); // c owns C0 once a poll reads this
    return { w, a, c };
  }

  it('leaves the code noted as unsure and takes nothing down; the poll’s own push shows the new owner', async () => {
    const { w, c } = await refusedOwner();
    const queued = w.queue.length;
    await w.push(0, { besidePoll: 0 });
    expect(w.queue.length).toBe(queued); // the push is done; the poll beside queued C0 again
    expect(w.shelf.calls.get('M1')?.has('C0')).toBe(true);
    expect(w.hipoink.calls.filter((x) => x.op === 'del_multiple' && x.codes.includes('C0'))).toEqual([]);
    await w.drain();
    expect(w.shelf.calls.get('M1')?.has('C0')).toBe(false);
    expect(w.hipoink.shelf.get('C0')?.pn).toBe(`N${c}`);
    expect(await w.check()).toEqual([]);
  });

  it('leaves no other item’s label when the poll beside it stops at any write', async () => {
    for (let stopAt = 0; stopAt <= 6; stopAt++) {
      const { w } = await refusedOwner();
      w.shelf.interleave = {
        afterWrites: 0,
        run: async () => void (await w.poll({ failAfterWrites: stopAt })),
      };
      await w.push(0);
      await w.drain();
      await w.settle(2); // routine polls
      expect(await w.check(), `stopped after ${stopAt} writes`).toEqual([]);
    }
  });

  it('leaves the held label of an item that left the code until the ghost cleanup when the poll’s push is lost', async () => {
    const { w, a, c } = await refusedOwner();
    await w.push(0, { besidePoll: 0 });
    w.drop(-1); // the push the poll beside queued is lost for good
    await w.drain();
    expect(w.hipoink.shelf.get('C0')?.pn).toBe(`N${a}`); // a wants C1 now: another item's price
    await w.settle();
    expect(w.hipoink.shelf.get('C0')?.pn).toBe(`N${c}`);
    expect(await w.check()).toEqual([]);
  });
});

describe('a code Hipoink once refused to delete', () => {
  it('is deleted once Hipoink takes deletes again (it is not recorded as gone)', async () => {
    const w = createWorld();
    const a = w.create('C0', 100);
    await w.poll();
    await w.drain();
    w.hide(a);
    await w.poll();
    w.hipoink.undeletable.add('C0'); // one refusal, e.g. a transient Hipoink-side error code
    await w.drain();
    w.hipoink.undeletable.clear();
    await w.settle();
    // Recorded as gone, the hidden item's label (and price) would stay on the shelf for good.
    expect(await w.check()).toEqual([]);
  });

  it('leaves no other item’s price when the owner’s label is refused and the old label cannot be deleted', async () => {
    const w = createWorld();
    const old = w.create('C0', 100);
    await w.poll();
    await w.drain();
    w.hide(old);
    const taker = w.create('C0', 200);
    w.refusedName(taker);
    await w.poll();
    w.hipoink.undeletable.add('C0');
    await w.drain();
    w.hipoink.undeletable.clear();
    await w.settle();
    expect(await w.check()).toEqual([]);
  });
});

describe('a repush', () => {
  it('cut short halfway (a push out of time) is redone from the chunk it was in, not from the start', async () => {
    const w = storesWorld();
    for (const id of ['A', 'B', 'C', 'D', 'E', 'F']) w.put(id, { sku: `C-${id}` });
    await w.poll({ full: true });
    await w.drain();
    // Hipoink lost its labels; the operator's repush. Each delivery of its push gets through two
    // chunks of two, then fails.
    w.store('store-1').shelf.clear();
    await w.poll({ full: true, repush: true });
    const sent: string[][] = [];
    for (let delivery = 0; delivery < 3 && w.queue.length > 0; delivery++) {
      let calls = 0;
      w.hooks.beforeCall = () => {
        if (++calls > 2) throw new Error('out of time');
      };
      const msg = w.queue[0] as PushMessage;
      const before = w.store('store-1').calls.length;
      const done = await w.pushOnce(msg).then(
        () => true,
        () => false,
      );
      sent.push(
        w
          .store('store-1')
          .calls.slice(before)
          .flatMap((c) => c.codes),
      );
      if (done) w.queue.shift();
    }
    w.hooks.beforeCall = () => {};
    // The second delivery sends only the third chunk, and is done.
    expect(sent).toEqual([
      ['C-A', 'C-B', 'C-C', 'C-D'],
      ['C-E', 'C-F'],
    ]);
    expect([...w.store('store-1').shelf.keys()].sort()).toEqual(['C-A', 'C-B', 'C-C', 'C-D', 'C-E', 'C-F']);
  });

  it('leaves a label Hipoink refuses, with nothing held, as refused: no delete, nothing out of step', async () => {
    const w = storesWorld();
    w.store('store-1').refuse = (p) => p.pn === 'NB';
    // Hipoink may refuse to delete a code it does not hold: a delete there would stay undone.
    w.store('store-1').refuseUnknownDelete = true;
    w.put('A', { sku: 'C0' });
    w.put('B', { sku: 'C1' });
    await w.poll({ full: true });
    await w.drain();
    w.store('store-1').calls = [];
    await w.poll({ full: true, repush: true });
    await w.drain();
    expect(w.store('store-1').calls.filter((c) => c.op === 'del_multiple')).toEqual([]);
    expect(await outOfStepCodes(w.shelf, 'M1')).toEqual([]);
  });

  it('whose poll fails to queue its pushes sends each label once, on the poll’s retry', async () => {
    const w = storesWorld();
    for (const id of ['A', 'B', 'C']) w.put(id, { sku: `C-${id}` });
    await w.poll({ full: true });
    await w.drain();
    w.store('store-1').shelf.clear();
    w.store('store-1').calls = [];
    // The poll's send of its pushes fails once (a later send gets through).
    const send = w.deps.pushQueue.send;
    w.deps.pushQueue.send = async () => {
      w.deps.pushQueue.send = send;
      throw new Error('SQS throttled');
    };
    await expect(w.poll({ full: true, repush: true })).rejects.toThrow('SQS throttled');
    await w.drain();
    await w.poll({ full: true, repush: true }); // SQS delivers the poll again
    await w.drain();
    const created = w.store('store-1').calls.flatMap((c) => (c.op.startsWith('create') ? c.codes : []));
    expect(created.sort()).toEqual(['C-A', 'C-B', 'C-C']);
  });
});

/** A store whose two labels (item A under C0, item B under C1) are in Hipoink store store-1. */
async function twoLabels() {
  const w = storesWorld();
  w.put('A', { sku: 'C0' });
  w.put('B', { sku: 'C1' });
  await w.poll({ full: true });
  await w.drain();
  expect([...w.store('store-1').shelf.keys()].sort()).toEqual(['C0', 'C1']);
  return w;
}

describe('moving a store', () => {
  const codesIn = (w: Awaited<ReturnType<typeof twoLabels>>, store: string) =>
    [...w.store(store).shelf.keys()].sort();

  it('sends again, on the operator’s word, a delete the store it left refused, until Hipoink takes it', async () => {
    const w = await twoLabels();
    w.store('store-1').undeletable.add('C1'); // e.g. a product Hipoink keeps while a label is bound to it
    const moved = await moveStore(w.deps, 'M1', 'store-2');
    expect(moved).toMatchObject({ moved: true, cleared: { storeCode: 'store-1', deleted: 1, refused: 1 } });
    expect(codesIn(w, 'store-1')).toEqual(['C1']);
    await expect(retryRefusedClears(w.deps, 'M1', 'store-2')).rejects.toThrow(/shows its labels/);
    // Still refused: said so, and kept for the next try.
    expect(await retryRefusedClears(w.deps, 'M1', 'store-1')).toEqual({
      storeCode: 'store-1',
      deleted: 0,
      refused: 1,
      refusedCodes: ['C1'],
    });
    w.store('store-1').undeletable.clear(); // staff unbound the label
    expect(await retryRefusedClears(w.deps, 'M1', 'store-1')).toEqual({
      storeCode: 'store-1',
      deleted: 1,
      refused: 0,
      refusedCodes: [],
    });
    expect([codesIn(w, 'store-1'), codesIn(w, 'store-2')]).toEqual([[], ['C0', 'C1']]);
    expect(await retryRefusedClears(w.deps, 'M1', 'store-1')).toEqual({
      storeCode: 'store-1',
      deleted: 0,
      refused: 0,
      refusedCodes: [],
    });
  });

  it('keeps the old store’s labels when the new store refuses the products it showed', async () => {
    const w = await twoLabels();
    // Hipoink refuses every product there, yet deletes succeed: no code is out of step, as each
    // refusal is recorded, but the new store would show nothing where the old one showed a price.
    w.store('store-2').refuseCreates = true;
    const moved = await moveStore(w.deps, 'M1', 'store-2').catch((e: Error) => e.message);
    expect(moved).toMatch(/store store-2 has not received every label yet \(2 code\(s\)/);
    expect(codesIn(w, 'store-1')).toEqual(['C0', 'C1']);
    // Once the cause is fixed, the same command finishes the move.
    w.store('store-2').refuseCreates = false;
    expect(await moveStore(w.deps, 'M1', 'store-2')).toMatchObject({ moved: true });
    expect([codesIn(w, 'store-1'), codesIn(w, 'store-2')]).toEqual([[], ['C0', 'C1']]);
  });

  it('moves a store first given a store code Hipoink does not know, with nothing to delete there', async () => {
    const w = storesWorld();
    w.store('store-1').refuseEverything = true; // its store code mistyped from the start
    w.put('A', { sku: 'C0' });
    w.put('B', { sku: 'C1' });
    await w.poll({ full: true });
    await w.drain();
    expect(w.dlq.length).toBeGreaterThan(0); // every push there was refused
    w.dlq.length = 0;
    // Hipoink refused each request outright, so store-1 shows nothing of the merchant's: the move
    // finishes without a delete there, which Hipoink would refuse too.
    expect(await moveStore(w.deps, 'M1', 'store-2')).toMatchObject({
      moved: true,
      cleared: { storeCode: 'store-1', deleted: 0, refused: 0 },
    });
    expect(codesIn(w, 'store-2')).toEqual(['C0', 'C1']);
    expect(w.dlq).toEqual([]);
  });

  it('refuses a third store while a move is unfinished, and moves back to empty the store it left', async () => {
    const w = await twoLabels();
    w.store('store-typo').refuseEverything = true; // a store code mistyped
    await expect(moveStore(w.deps, 'M1', 'store-typo')).rejects.toThrow(/has not received every label/);
    expect(w.dlq.length).toBeGreaterThan(0); // the pushes to store-typo
    w.dlq.length = 0;
    // Taking store-2 now would forget store-1, which still shows the labels: refused.
    await expect(moveStore(w.deps, 'M1', 'store-2')).rejects.toThrow(
      /still moving from store store-1 to store store-typo: finish that move .* or move back \(--store-code store-1\)/,
    );
    // Moving back deletes there whatever may have reached it: refused, the command says what to do.
    await expect(moveStore(w.deps, 'M1', 'store-1')).rejects.toThrow(
      /store store-typo has not deleted .*a store Hipoink does not know.* is created in Hipoink first/,
    );
    w.dlq.length = 0;
    w.store('store-typo').refuseEverything = false; // created in Hipoink: the deletes there go through
    expect(await moveStore(w.deps, 'M1', 'store-1')).toMatchObject({ moved: true, from: 'store-typo' });
    expect(await moveStore(w.deps, 'M1', 'store-2')).toMatchObject({ moved: true, from: 'store-1' });
    expect([codesIn(w, 'store-1'), codesIn(w, 'store-2')]).toEqual([[], ['C0', 'C1']]);
    expect(w.dlq).toEqual([]);
  });

  it('never empties the store a merchant moved back to when a clear of it is delivered late', async () => {
    const w = await twoLabels();
    w.store('store-1').failWith = new HipoinkApiError('Hipoink answered HTTP 403', { status: 403 });
    await expect(moveStore(w.deps, 'M1', 'store-2')).rejects.toThrow(/store store-1 has not deleted 2 of 2/);
    w.store('store-1').failWith = undefined;
    expect(await moveStore(w.deps, 'M1', 'store-1')).toMatchObject({ moved: true, from: 'store-2' });
    // The clear of store-1 left in the dead-letter queue is redriven: store-1 is the merchant's again.
    await w.pushOnce(w.dlq.shift() as PushMessage);
    expect([codesIn(w, 'store-1'), codesIn(w, 'store-2')]).toEqual([['C0', 'C1'], []]);
  });

  it('moving back, takes down what the store showed before for an item hidden meanwhile', async () => {
    const w = await twoLabels();
    w.store('store-2').refuseCreates = true;
    await expect(moveStore(w.deps, 'M1', 'store-2')).rejects.toThrow(/has not received every label/);
    w.dlq.length = 0;
    w.put('B', { hidden: true }); // its label comes down in store-2, the store of the moment
    await w.poll();
    await w.drain();
    expect(await moveStore(w.deps, 'M1', 'store-1')).toMatchObject({ moved: true, from: 'store-2' });
    expect(codesIn(w, 'store-1')).toEqual(['C0']);
  });

  it('moves although the new store refuses a label the old store never showed', async () => {
    const w = await twoLabels();
    for (const s of ['store-1', 'store-2']) w.store(s).refuse = (p) => p.pn === 'NC';
    w.put('C', { sku: 'C2' });
    await w.poll(); // C2's push is queued, not yet delivered: store-1 never had C2
    expect(await moveStore(w.deps, 'M1', 'store-2')).toMatchObject({ moved: true });
    expect([codesIn(w, 'store-1'), codesIn(w, 'store-2')]).toEqual([[], ['C0', 'C1']]);
  });

  /**
   * The push consumer has taken `msg` and read the merchant (its store code) when the operator's
   * command starts; its Hipoink calls come later. The command's `settled()` waits for it, as the
   * real one does through SQS's count of messages in flight.
   */
  function pushInFlight(w: Awaited<ReturnType<typeof twoLabels>>, msg: PushMessage) {
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const merchants = {
      get: async (id: string) => {
        const m = await w.merchants.get(id);
        await gate;
        return m;
      },
      addShelfCounts: (id: string, c: ShelfCounts) => w.merchants.addShelfCounts(id, c),
      passBarrier: (id: string, barrier: string) => w.merchants.passBarrier(id, barrier),
      recordPush: (id: string, failure: string | undefined) => w.merchants.recordPush(id, failure),
    };
    const inFlight = pushCodes({ merchants, shelf: w.shelf, hipoink: w.hipoink, settings: SETTINGS }, msg);
    w.deps.settled = async () => {
      release();
      await inFlight;
      await w.drain();
    };
    return new Promise((r) => setImmediate(r)); // it has read the merchant
  }

  it('leaves nothing in the old store that a push running as the move began put there', async () => {
    const w = await twoLabels();
    w.put('C', { sku: 'C2' });
    await w.poll();
    await pushInFlight(w, w.queue.shift() as PushMessage); // it will create C2 in store-1
    expect(await moveStore(w.deps, 'M1', 'store-2')).toMatchObject({ moved: true });
    expect([codesIn(w, 'store-1'), codesIn(w, 'store-2')]).toEqual([[], ['C0', 'C1', 'C2']]);
  });

  it('shows the older label in the new store when a push running as the move began had it refused', async () => {
    const w = await twoLabels();
    for (const s of ['store-1', 'store-2']) w.store(s).refuse = (p) => p.pn === 'NC';
    w.put('B', { name: 'NC' }); // refused everywhere: store-1 keeps B's older label under C1
    await w.poll();
    await pushInFlight(w, w.queue.shift() as PushMessage);
    expect(await moveStore(w.deps, 'M1', 'store-2')).toMatchObject({ moved: true });
    expect([codesIn(w, 'store-1'), codesIn(w, 'store-2')]).toEqual([[], ['C0', 'C1']]);
  });

  it('never empties the store of a merchant kept after a removal failed, when that removal’s clear comes late', async () => {
    const w = await twoLabels();
    w.store('store-1').failWith = new HipoinkApiError('Hipoink answered HTTP 403', { status: 403 });
    await expect(removeMerchant(w.deps, 'M1', { removeLabels: true })).rejects.toThrow(
      /has not deleted 2 of 2/,
    );
    w.store('store-1').failWith = undefined;
    await w.merchants.setState('M1', 'active'); // the operator keeps the store after all
    // Days later, a redrive of the push dead-letter queue delivers the clear.
    await w.pushOnce(w.dlq.shift() as PushMessage);
    expect(codesIn(w, 'store-1')).toEqual(['C0', 'C1']);
  });

  it('shows every label again once a merchant is kept after its removal failed part-way', async () => {
    const w = await twoLabels();
    w.put('C', { sku: 'C2' });
    await w.poll();
    await w.drain();
    // Hipoink fails from the clear's second call on (chunks of two): C0 and C1 are gone, C2 is not.
    let calls = 0;
    w.hooks.beforeCall = (store) => {
      if (store === 'store-1' && ++calls === 2)
        w.store(store).failWith = new HipoinkApiError('Hipoink answered HTTP 403', { status: 403 });
    };
    await expect(removeMerchant(w.deps, 'M1', { removeLabels: true })).rejects.toThrow(
      /has not deleted 3 of 3/,
    );
    expect(codesIn(w, 'store-1')).toEqual(['C2']);
    // The operator keeps the store after all; Hipoink is fixed; a full resync runs.
    w.store('store-1').failWith = undefined;
    await w.merchants.setState('M1', 'active');
    await w.poll({ full: true });
    await w.drain();
    expect(codesIn(w, 'store-1')).toEqual(['C0', 'C1', 'C2']);
  });

  it.each([
    ['before its labels are taken down', 1],
    ['after its labels are taken down', 2],
  ])('keeps a merchant an operator enables while it is being removed, %s, with its labels', async (_, at) => {
    const w = await twoLabels();
    // `merchants enable` runs while the removal waits for queued work (its `at`-th wait).
    const settled = w.deps.settled;
    let waits = 0;
    w.deps.settled = async (merchantId) => {
      await settled(merchantId);
      if (++waits !== at) return;
      await w.merchants.setState('M1', 'active');
      await w.deps.backfill({ merchantId: 'M1' });
      await settled(merchantId);
    };
    await expect(removeMerchant(w.deps, 'M1', { removeLabels: true })).rejects.toThrow(
      /M1 was enabled while being removed \(it is active\): not removed/,
    );
    expect((await w.merchants.get('M1'))?.state).toBe('active');
    expect(codesIn(w, 'store-1')).toEqual(['C0', 'C1']);
  });

  it('keeps a merchant being removed while the push deleting its labels is in the dead-letter queue', async () => {
    const w = await twoLabels();
    w.store('store-1').failWith = new HipoinkApiError('Hipoink answered HTTP 403', { status: 403 });
    await expect(removeMerchant(w.deps, 'M1', { removeLabels: true })).rejects.toThrow(
      /store store-1 has not deleted 2 of 2 code\(s\).*dlq list/,
    );
    expect(w.dlq).toHaveLength(1);
    expect(w.merchants.records.get('M1')?.state).toBe('disabled'); // kept, and no longer synced
    // Fixed and redriven, the push deletes the labels; the same command then finishes.
    w.store('store-1').failWith = undefined;
    await w.pushOnce(w.dlq.shift() as PushMessage);
    expect(codesIn(w, 'store-1')).toEqual([]);
    w.store('store-1').undeletable.add('C1'); // …except a code Hipoink refuses to delete
    w.store('store-1').shelf.set('C1', { pc: 'C1', pn: 'stale', pp: '1.00' });
    const removed = await removeMerchant(w.deps, 'M1', { removeLabels: true });
    expect(removed.cleared).toEqual([{ storeCode: 'store-1', deleted: 1, refused: 1, refusedCodes: ['C1'] }]);
    expect(w.merchants.records.has('M1')).toBe(false);
  });

  it('keeps the old store’s labels while a push of the move sits in the dead-letter queue', async () => {
    const w = await twoLabels();
    w.deps.backfill = async () => {
      await w.poll({ full: true, repush: true });
      w.queue.length = 0; // its push failed before its first write until SQS gave up on it
    };
    const moved = await moveStore(w.deps, 'M1', 'store-2').catch((e: Error) => e.message);
    expect(moved).toMatch(/has not received every label/);
    expect(codesIn(w, 'store-1')).toEqual(['C0', 'C1']);
  });

  it('leaves no label behind in the old store when a removal was still on its way at the move', async () => {
    const w = await twoLabels();
    w.put('B', { hidden: true }); // its label must come down
    await w.poll(); // the push taking C1 down is queued, not yet delivered
    const moved = await moveStore(w.deps, 'M1', 'store-2');
    expect(moved).toMatchObject({ moved: true });
    expect(codesIn(w, 'store-2')).toEqual(['C0']);
    // Only the codes noted before the move are cleared there: once the removal reaches the new
    // store, C1's slot holds nothing, yet the old store still shows the hidden item's price.
    expect(codesIn(w, 'store-1')).toEqual([]);
  });
});

describe('shelf counts when a poll fails after adding them', () => {
  it('are added once when recording the poll fails after the counts were added', async () => {
    const w = createWorld();
    w.create('C0', 100);
    await w.poll(); // full: counted afresh
    await w.drain();
    w.create('C1', 200);
    const record = w.merchants.recordPoll.bind(w.merchants);
    let failures = 1;
    w.merchants.recordPoll = async (id, outcome) => {
      // DynamoDB throttles the poll's last write once (the counts were added just before it).
      if (outcome.error === undefined && failures-- > 0) throw new Error('ProvisionedThroughputExceeded');
      return record(id, outcome);
    };
    expect(await w.poll()).toBe(false); // the poll fails; SQS will deliver it again
    expect(await w.countsDrift()).toEqual([]);
  });
});

describe('a poll that fails after writing its items, then is delivered again', () => {
  it('queues the changed code when it fails, not only at the next ghost cleanup', async () => {
    const w = createWorld();
    const fuel = w.create('C0', 100);
    await w.poll();
    await w.drain();
    w.setPrice(fuel, 200);
    // The poll writes the item's slot and record, then fails before queueing (here reading the
    // slots of the codes it changed; a Clover 5xx in ghost cleanup's listing does the same). Its
    // redelivery finds the item as stored, so it changes and queues nothing.
    const read = w.shelf.getSlots.bind(w.shelf);
    let failures = 1;
    w.shelf.getSlots = async (m, codes) => {
      if (failures-- > 0) throw new Error('DynamoDB unavailable');
      return read(m, codes);
    };
    expect(await w.poll()).toBe(false);
    expect((await w.shelf.getItems('M1', [fuel]))[0]?.label?.pp).toBe('2.00');
    expect(w.queue.flatMap((m) => m.codes)).toEqual(['C0']);
    expect(await w.poll()).toBe(true); // SQS delivers the poll again 30 s later: it succeeds
    await w.drain();
    expect(w.hipoink.shelf.get('C0')?.pp).toBe('2.00');
  });
});

describe('a request Hipoink refuses outright', () => {
  it('does not make sure again the codes of a delete chunk Hipoink carried out before refusing the next', async () => {
    const w = createWorld(); // chunks of two
    const [a, b, c] = await w.onShelf(['C0', 100], ['C1', 200], ['C2', 300]);
    for (const id of [a, b, c]) w.hide(id);
    await w.poll(); // one push deletes C0, C1 (first chunk), then C2
    // Hipoink carries out the first chunk, then refuses every request (a sign rotated meanwhile).
    const onDelete = w.hipoink.onDelete;
    w.hipoink.onDelete = (held) => {
      onDelete?.(held);
      if (held.pc === 'C1') w.hipoink.refuseEverything = true;
    };
    await w.push(0);
    w.hipoink.onDelete = onDelete;
    expect([...w.hipoink.shelf.keys()]).toEqual(['C2']);
    // C0 and C1 are gone from Hipoink: made sure as held, their items' return would look in step.
    w.show(a);
    w.show(b);
    await w.poll();
    await w.settle();
    expect(await w.check()).toEqual([]);
  });

  it('keeps the repush’s mark when the push’s request is refused', async () => {
    const w = createWorld();
    const [a] = await w.onShelf(['C0', 100]);
    w.hipoink.shelf.clear(); // Hipoink lost its products
    w.setPrice(a, 200);
    await w.poll(); // push P of C0 queued: create 2.00 over held 1.00
    const orig = w.hipoink.createMultiple;
    w.hipoink.createMultiple = async (st, ps) => {
      w.hipoink.createMultiple = orig;
      // Beside P: the operator's repush notes C0 (held) unsure; the price edit is undone.
      await w.shelf.beginCalls('M1', ['C0']);
      w.setPrice(a, 100);
      await w.poll();
      w.hipoink.refuseEverything = true; // and P's request is refused outright
      return orig(st, ps);
    };
    await w.push(0);
    await w.settle();
    expect(await w.check()).toEqual([]);
  });
});

describe('a Hipoink outage that outlasts the retries of a push', () => {
  /** Two labels on store-1; then A's new price meets Hipoink down for good. */
  async function pushSetAside() {
    const w = await twoLabels();
    w.store('store-1').failWith = new HipoinkApiError('Hipoink answered HTTP 503', { status: 503 });
    w.put('A', { price: 250 });
    await w.poll();
    return w;
  }
  const priceOf = (w: ReturnType<typeof storesWorld>, code: string) => w.store('store-1').shelf.get(code)?.pp;

  it('brings a quiet store’s labels in line at its next poll once Hipoink answers, with no redrive', async () => {
    const w = await pushSetAside();
    await w.drain();
    expect(w.dlq).toHaveLength(1); // tried 5 times, set aside
    expect((await w.merchants.get('M1'))?.lastPushError).toMatch(/503/);
    w.store('store-1').failWith = undefined;
    await w.poll(); // nothing changed in Clover
    await w.drain();
    expect(priceOf(w, 'C0')).toBe('2.50');
    const record = await w.merchants.get('M1');
    expect([record?.lastPushError, record?.pushSetAsideAt]).toEqual([undefined, undefined]);
  });

  it('brings them in line at the next poll when a push queued before the failure went through first', async () => {
    const w = await pushSetAside();
    w.put('B', { price: 300 });
    await w.poll(); // queued behind A's push, before any push failed: it carries C1 only
    w.hooks.delivered = (msg) => {
      if (msg.codes.includes('C1')) w.store('store-1').failWith = undefined; // Hipoink is back
    };
    await w.drain();
    expect(w.dlq.map((m) => m.codes)).toEqual([['C0']]);
    // C1's push went through, so the store's pushes no longer fail; C0's was set aside.
    expect([priceOf(w, 'C0'), priceOf(w, 'C1')]).toEqual(['1.00', '3.00']);
    await w.poll();
    await w.drain();
    expect([priceOf(w, 'C0'), priceOf(w, 'C1')]).toEqual(['2.50', '3.00']);
  });

  it('queues a set-aside push’s codes again once per setting aside, not at every poll, while Hipoink stays down', async () => {
    const w = await pushSetAside();
    await w.drain(); // set aside: noted on the store
    expect((await w.merchants.get('M1'))?.pushSetAsideAt).toBeDefined();
    await w.poll(); // repairs: C0 is queued again, and the note goes
    expect(w.queue.map((m) => m.codes)).toEqual([['C0']]);
    expect((await w.merchants.get('M1'))?.pushSetAsideAt).toBeUndefined();
    // While that push is tried, routine polls (no ghost cleanup due) queue nothing more.
    const routine = [];
    for (let i = 0; i < 3; i++) routine.push(await w.poll());
    for (const p of routine.filter((r) => r.status === 'synced' && !r.cleanedUp))
      expect(p).toMatchObject({ counts: { queuedForPush: 0 } });
    expect(routine.filter((r) => r.status === 'synced' && !r.cleanedUp).length).toBeGreaterThan(0);
    await w.drain(); // set aside again: noted again, and the next poll queues it once more
    expect((await w.merchants.get('M1'))?.pushSetAsideAt).toBeDefined();
  });
});
