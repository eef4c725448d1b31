import { describe, expect, it } from 'vitest';
import { hashOf } from '../../src/domain/label.ts';
import { HipoinkApiError, HipoinkRequestRefusedError } from '../../src/errors.ts';
import { pushCodes } from '../../src/sync/push.ts';
import { FakeHipoink, FakeMerchantStore, FakeShelfStore, merchantRecord, outOfStepCodes } from './fakes.ts';

/** What a poll saves when an item wants `pc` with this price: its slots, then the item. */
async function want(shelf: FakeShelfStore, itemId: string, pc: string, price = '1.00') {
  const [before] = await shelf.getItems('M1', [itemId]);
  const label = { pc, pn: `Item ${itemId}`, pp: price };
  const labelHash = hashOf(label);
  await shelf.touchSlot('M1', pc, { want: { itemId, label, labelHash, wantsSince: 0 } });
  if (before?.label && before.label.pc !== pc) await shelf.touchSlot('M1', before.label.pc, { drop: itemId });
  await shelf.putItem({
    ...{ merchantId: 'M1', itemId, status: 'active', label, labelHash, stateHash: labelHash },
    ...{ modifiedTime: 1, wantsSince: 0, updatedAt: 0 },
  });
}

/** What a poll saves when an item is hidden. */
async function hide(shelf: FakeShelfStore, itemId: string) {
  const [before] = await shelf.getItems('M1', [itemId]);
  if (before?.label) await shelf.touchSlot('M1', before.label.pc, { drop: itemId });
  await shelf.putItem({
    ...{ merchantId: 'M1', itemId, status: 'removed', removedReason: 'hidden', stateHash: 'removed:hidden' },
    ...{ modifiedTime: 2, wantsSince: 0, updatedAt: 0 },
  });
}

function setup(chunk = 200) {
  const shelf = new FakeShelfStore();
  const hipoink = new FakeHipoink();
  const deps = {
    merchants: new FakeMerchantStore(merchantRecord()),
    shelf,
    hipoink,
    settings: { hipoinkChunkSize: chunk, storeWriteConcurrency: 16 },
  };
  const push = (codes: string[], over: { retryRefused?: boolean; repush?: boolean } = {}) =>
    pushCodes(deps, { merchantId: 'M1', codes, ...over });
  return { shelf, hipoink, deps, push };
}

describe('pushCodes', () => {
  it('skips a push of a merchant removed since (a letter redriven later): no call, nothing recorded', async () => {
    const { deps, hipoink } = setup();
    const result = await pushCodes(deps, { merchantId: 'GONE', codes: ['PC-A'] });
    expect(result).toMatchObject({ skipped: 'unknown merchant', hipoinkCalls: 0 });
    expect(hipoink.calls).toEqual([]);
  });

  it('creates in chunks and then costs nothing for codes already in step', async () => {
    const { shelf, hipoink, push } = setup(200);
    const codes = Array.from({ length: 450 }, (_, i) => `PC-${i}`);
    for (const [i, pc] of codes.entries()) await want(shelf, `I${i}`, pc);
    expect(await push(codes)).toMatchObject({ upserted: 450, hipoinkCalls: 3 });
    expect(hipoink.calls.map((c) => c.op)).toEqual(['create_multiple', 'create_multiple', 'create_multiple']);
    expect(hipoink.shelf.size).toBe(450);
    expect(await outOfStepCodes(shelf, 'M1')).toEqual([]);

    hipoink.calls = [];
    expect((await push(codes)).hipoinkCalls).toBe(0);
  });

  it('pushes the stored state, so a stale or repeated message cannot undo a newer change', async () => {
    const { shelf, hipoink, push } = setup();
    await want(shelf, 'A', 'PC-A', '1.00');
    await want(shelf, 'A', 'PC-A', '2.00');
    await push(['PC-A']);
    await push(['PC-A', 'PC-A']);
    expect(hipoink.shelf.get('PC-A')?.pp).toBe('2.00');
    expect(hipoink.calls).toHaveLength(1);
  });

  it('takes down a code nobody wants any more, and calls nothing for a code never shown', async () => {
    const { shelf, hipoink, push } = setup();
    await want(shelf, 'A', 'PC-A');
    await push(['PC-A']);
    await hide(shelf, 'A');
    await hide(shelf, 'B');
    const result = await push(['PC-A', 'PC-B']);
    expect(hipoink.calls.at(-1)).toEqual({ op: 'del_multiple', codes: ['PC-A'] });
    expect(result.removed).toBe(1);
    // Recorded as holding nothing, so nothing is left to push.
    expect(await shelf.listSlots('M1')).toEqual([{ code: 'PC-A', wanters: [] }]);
  });

  it('moves a label to its new code, and two items swapping codes cost two creates and no delete', async () => {
    const { shelf, hipoink, push } = setup();
    await want(shelf, 'A', 'X');
    await want(shelf, 'B', 'Y');
    await push(['X', 'Y']);
    await want(shelf, 'A', 'Y');
    await want(shelf, 'B', 'X');
    hipoink.calls = [];
    await push(['X', 'Y']);
    expect(hipoink.calls).toEqual([{ op: 'create_multiple', codes: ['X', 'Y'] }]);
    expect(hipoink.shelf.get('X')?.pn).toBe('Item B');
    await want(shelf, 'A', 'Z');
    await push(['Y', 'Z']);
    expect([...hipoink.shelf.keys()].sort()).toEqual(['X', 'Z']);
  });

  it('shows the first of two items to want one code, whatever order the messages come in', async () => {
    const { shelf, hipoink, push } = setup();
    await want(shelf, 'B', 'X', '2.00');
    await want(shelf, 'A', 'X', '1.00');
    // Both wanted it since the same time here: the item id decides.
    await push(['X']);
    expect(hipoink.shelf.get('X')?.pn).toBe('Item A');
    await hide(shelf, 'A');
    await push(['X']);
    expect(hipoink.shelf.get('X')?.pn).toBe('Item B');
  });

  it('isolates a product Hipoink refuses: recorded with the reason, the others delivered', async () => {
    const { shelf, hipoink, push } = setup();
    for (const id of ['A', 'B', 'C']) await want(shelf, id, `PC-${id}`);
    hipoink.bad.add('PC-B');
    expect(await push(['PC-A', 'PC-B', 'PC-C'])).toMatchObject({ upserted: 2, rejected: 1 });
    expect([...hipoink.shelf.keys()].sort()).toEqual(['PC-A', 'PC-C']);
    const [b] = await shelf.getSlots('M1', ['PC-B']);
    expect(b?.refused).toMatchObject({ reason: 'bad product PC-B', itemId: 'B' });
    // A refused label is not sent again until it changes, or a full resync retries it.
    hipoink.calls = [];
    await push(['PC-B']);
    expect(hipoink.calls).toEqual([]);
    hipoink.bad.delete('PC-B');
    await push(['PC-B'], { retryRefused: true });
    expect(hipoink.shelf.has('PC-B')).toBe(true);
  });

  it('tells a refused request (wrong sign) from refused products: retried, nothing recorded', async () => {
    const { shelf, hipoink, push } = setup();
    const codes = ['PC-A', 'PC-B', 'PC-C'];
    for (const id of ['A', 'B', 'C']) await want(shelf, id, `PC-${id}`, '1.00');
    await push(codes);
    for (const id of ['A', 'B', 'C']) await want(shelf, id, `PC-${id}`, '2.00');
    hipoink.refuseEverything = true; // e.g. a mistyped or rotated sign
    const wrongSign = push(codes);
    await expect(wrongSign).rejects.toBeInstanceOf(HipoinkRequestRefusedError);
    await expect(wrongSign).rejects.toMatchObject({ retryable: true });
    expect((await shelf.getSlots('M1', codes)).map((s) => s.refused)).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    // The sign is fixed: the retried message delivers the new prices.
    hipoink.refuseEverything = false;
    await push(codes);
    expect([...hipoink.shelf.values()].map((p) => p.pp)).toEqual(['2.00', '2.00', '2.00']);
  });

  it('blames the request when Hipoink refuses a label it holds and then a delete of nothing, whatever their errors', async () => {
    const { shelf, hipoink, push } = setup();
    await want(shelf, 'A', 'PC-A', '1.00');
    await push(['PC-A']);
    await want(shelf, 'A', 'PC-A', '2.00');
    // Every create refused, and a delete of a code nobody has refused for a reason of its own.
    hipoink.refuseCreates = true;
    hipoink.refuseUnknownDelete = true;
    await expect(push(['PC-A'])).rejects.toBeInstanceOf(HipoinkRequestRefusedError);
    expect(hipoink.calls.slice(-3).map((c) => c.op)).toEqual(['create_multiple', 'create', 'del_multiple']);
    // Not the product's fault: nothing is recorded as refused, and the retry once fixed delivers it.
    expect((await shelf.getSlots('M1', ['PC-A']))[0]?.refused).toBeUndefined();
    hipoink.refuseCreates = false;
    await push(['PC-A']);
    expect(hipoink.shelf.get('PC-A')?.pp).toBe('2.00');
  });

  it('records on the store that its pushes fail, and since when, until one goes through', async () => {
    const { shelf, hipoink, deps, push } = setup();
    await want(shelf, 'A', 'PC-A', '1.00');
    hipoink.refuseEverything = true;
    await expect(push(['PC-A'])).rejects.toBeInstanceOf(HipoinkRequestRefusedError);
    const failed = await deps.merchants.get('M1');
    expect(failed?.lastPushError).toMatch(/Hipoink refuses every request for store/);
    const since = failed?.pushFailingSince;
    expect(since).toBeTypeOf('number');
    await expect(push(['PC-A'])).rejects.toBeInstanceOf(HipoinkRequestRefusedError);
    // Still failing: the time it started failing stays.
    expect((await deps.merchants.get('M1'))?.pushFailingSince).toBe(since);
    // A push that needs no Hipoink call proves nothing: the store still shows its pushes failing.
    await push([]);
    expect((await deps.merchants.get('M1'))?.pushFailingSince).toBe(since);
    // Nor does clearing a store it left: that is the move's to report, not this store's.
    await shelf.noteClear('M1', 'OLD', ['PC-A']);
    hipoink.refuseEverything = false;
    await pushCodes(deps, { merchantId: 'M1', codes: ['PC-A'], clearFrom: 'OLD' });
    expect((await deps.merchants.get('M1'))?.pushFailingSince).toBe(since);
    await push(['PC-A']);
    const fine = await deps.merchants.get('M1');
    expect(fine?.lastPushError).toBeUndefined();
    expect(fine?.pushFailingSince).toBeUndefined();
    // A failing clear of a store it left does not mark this store's pushes as failing.
    await deps.merchants.beginMove('M1', 'store-1', 'store-2', ['PC-A']);
    await shelf.noteClear('M1', 'store-1', ['PC-A']);
    hipoink.refuseEverything = true;
    await expect(
      pushCodes(deps, { merchantId: 'M1', codes: ['PC-A'], clearFrom: 'store-1' }),
    ).rejects.toThrow();
    expect((await deps.merchants.get('M1'))?.pushFailingSince).toBeUndefined();
  });

  it('keeps a removal to do while Hipoink refuses every request, and does it once the sign is fixed', async () => {
    const { shelf, hipoink, push } = setup();
    for (const id of ['A', 'B']) await want(shelf, id, `PC-${id}`);
    await push(['PC-A', 'PC-B']);
    await hide(shelf, 'A');
    hipoink.refuseEverything = true;
    await expect(push(['PC-A'])).rejects.toBeInstanceOf(HipoinkRequestRefusedError);
    expect((await shelf.getSlots('M1', ['PC-A']))[0]?.held).toBeDefined();
    hipoink.refuseEverything = false;
    await push(['PC-A']);
    expect([...hipoink.shelf.keys()]).toEqual(['PC-B']);
  });

  it('records products refused for one shared defect, and delivers the next chunk', async () => {
    const { shelf, hipoink, push } = setup(2);
    for (const id of ['A', 'B', 'C']) await want(shelf, id, `PC-${id}`);
    hipoink.bad.add('PC-A');
    hipoink.bad.add('PC-B');
    hipoink.sameErrorForBad = true; // Hipoink names no product: the same message alone as in the batch
    expect(await push(['PC-A', 'PC-B', 'PC-C'])).toMatchObject({ upserted: 1, rejected: 2 });
    expect([...hipoink.shelf.keys()]).toEqual(['PC-C']);
    const slots = await shelf.getSlots('M1', ['PC-A', 'PC-B']);
    expect(slots.map((s) => s.refused?.reason)).toEqual(['a product is invalid', 'a product is invalid']);
  });

  it('in a store with nothing on the shelf yet, a refused probe delete with another error means bad products', async () => {
    const { shelf, hipoink, push } = setup();
    for (const id of ['A', 'B']) await want(shelf, id, `PC-${id}`);
    hipoink.bad.add('PC-B');
    hipoink.refuseUnknownDelete = true;
    expect(await push(['PC-A', 'PC-B'])).toMatchObject({ upserted: 1, rejected: 1 });
    expect([...hipoink.shelf.keys()]).toEqual(['PC-A']);
  });

  it('probes with a label Hipoink holds, and does not blame the request when Hipoink now refuses it', async () => {
    const { shelf, hipoink, push } = setup();
    await want(shelf, 'A', 'PC-A');
    await push(['PC-A']);
    for (const id of ['B', 'C']) await want(shelf, id, `PC-${id}`);
    hipoink.bad.add('PC-A'); // accepted once, refused now (e.g. its label template was removed)
    hipoink.bad.add('PC-B');
    hipoink.calls = [];
    const result = await push(['PC-B', 'PC-C']);
    expect(hipoink.calls.map((c) => `${c.op} ${c.codes.join(',')}`)).toEqual([
      'create_multiple PC-B,PC-C',
      'create PC-A', // the probe: A's label again, as Hipoink accepted it
      'del_multiple __esl-sync-probe__', // refused, so: does Hipoink refuse even a delete of nothing?
      'create PC-B',
      'create PC-C',
    ]);
    expect(result).toMatchObject({ upserted: 1, rejected: 1 });
    expect(hipoink.shelf.has('PC-C')).toBe(true);
  });

  it('takes down another item’s label under a code whose new owner Hipoink refuses', async () => {
    const { shelf, hipoink, push } = setup();
    await want(shelf, 'A', 'X', '9.99');
    await push(['X']);
    await hide(shelf, 'A');
    await want(shelf, 'B', 'X', '1.00');
    hipoink.bad.add('X');
    await push(['X']);
    // Never the hidden item's price under the code B was refused.
    expect(hipoink.shelf.has('X')).toBe(false);
    // An owner's own older label stays when only its new version is refused, with no call at all...
    hipoink.bad.delete('X');
    await want(shelf, 'B', 'X', '2.00');
    await push(['X']);
    hipoink.refuse = (p) => p.pp === '3.00';
    await want(shelf, 'B', 'X', '3.00');
    hipoink.calls = [];
    await push(['X']);
    // The batch, the refusal probe (its own label as accepted), the label alone: nothing restored.
    expect(hipoink.calls.map((c) => c.op)).toEqual(['create_multiple', 'create', 'create']);
    expect(hipoink.shelf.get('X')).toMatchObject({ pn: 'Item B', pp: '2.00' });
    // ...and is sent again when a call under the code may have changed Hipoink unseen (a push that
    // stopped after its call left the code noted, and something else there).
    await want(shelf, 'B', 'X', '3.50');
    await shelf.beginCalls('M1', ['X']);
    hipoink.shelf.set('X', { pc: 'X', pn: 'Item Z', pp: '9.99' });
    hipoink.refuse = (p) => p.pp.startsWith('3.');
    await push(['X']);
    expect(hipoink.shelf.get('X')).toMatchObject({ pn: 'Item B', pp: '2.00' });
    const [x] = await shelf.getSlots('M1', ['X']);
    expect([x?.held?.label.pp, x?.refused?.itemId, x?.unsure]).toEqual(['2.00', 'B', undefined]);
    expect(await outOfStepCodes(shelf, 'M1')).toEqual([]);
  });

  it('passes over a code Hipoink refuses to delete, and still delivers the rest of the message', async () => {
    const { shelf, hipoink, deps } = setup();
    for (const id of ['A', 'B', 'D']) await want(shelf, id, `PC-${id}`);
    const codes = ['PC-A', 'PC-B', 'PC-D'];
    await pushCodes(deps, { merchantId: 'M1', codes });
    for (const id of ['A', 'D']) await hide(shelf, id);
    await want(shelf, 'B', 'PC-B', '2.00');
    hipoink.undeletable.add('PC-A');
    const refused: string[] = [];
    const result = await pushCodes(
      { ...deps, onRemovalRefused: ({ pc, reason }) => refused.push(`${pc}: ${reason}`) },
      { merchantId: 'M1', codes },
    );
    expect(refused).toEqual(['PC-A: product is bound to a label']);
    // Not recorded as gone: PC-A stays out of step, so a later push tries again.
    expect(result).toMatchObject({ upserted: 1, removed: 1 });
    expect((await shelf.getSlots('M1', ['PC-A']))[0]).toMatchObject({ held: { itemId: 'A' } });
    expect(await outOfStepCodes(shelf, 'M1')).toEqual(['PC-A']);
    expect(hipoink.shelf.get('PC-B')?.pp).toBe('2.00');
    expect(hipoink.shelf.has('PC-D')).toBe(false);
  });

  it('asks Hipoink once to delete a lone code it refuses, and counts only the codes a store move took away', async () => {
    const { shelf, hipoink, deps } = setup();
    for (const id of ['A', 'B']) await want(shelf, id, `PC-${id}`);
    await pushCodes(deps, { merchantId: 'M1', codes: ['PC-A', 'PC-B'] });
    await hide(shelf, 'A');
    hipoink.undeletable.add('PC-A');
    hipoink.calls = [];
    await pushCodes(deps, { merchantId: 'M1', codes: ['PC-A'] });
    // The delete, then the probe (the held label of PC-B again, then a delete of no product).
    expect(hipoink.calls.filter((c) => c.op === 'del_multiple' && c.codes.includes('PC-A'))).toHaveLength(1);

    await shelf.noteClear('M1', 'OLD', ['PC-A', 'PC-B']);
    const moved = await pushCodes(deps, { merchantId: 'M1', codes: ['PC-A', 'PC-B'], clearFrom: 'OLD' });
    expect(moved).toMatchObject({ storeCode: 'OLD', removed: 1 });
    expect(await shelf.clearState('M1', 'OLD')).toEqual({ pending: [], refused: ['PC-A'] });
    // Delivered again, it has nothing left to delete there.
    hipoink.calls = [];
    expect(await pushCodes(deps, { merchantId: 'M1', codes: ['PC-B'], clearFrom: 'OLD' })).toMatchObject({
      removed: 0,
    });
    expect(hipoink.calls).toEqual([]);
  });

  it('stopped by its timeout halfway (no `finally`), is redone from the chunk it was in, not from the start', async () => {
    const { shelf, hipoink, deps, push } = setup(2);
    const codes = ['PC-0', 'PC-1', 'PC-2', 'PC-3', 'PC-4', 'PC-5'];
    for (const [i, pc] of codes.entries()) await want(shelf, `I${i}`, pc);
    // Lambda stops the invocation during the second chunk's call: nothing after it runs.
    let stopped!: () => void;
    const killed = new Promise<void>((r) => {
      stopped = r;
    });
    const createMultiple = hipoink.createMultiple.bind(hipoink);
    deps.hipoink = Object.assign(Object.create(hipoink), {
      createMultiple: (store: string, labels: Parameters<typeof createMultiple>[1]) => {
        if (labels[0]?.pc !== 'PC-2') return createMultiple(store, labels);
        stopped();
        return new Promise(() => {});
      },
    });
    void push(codes);
    await killed;
    // The first chunk's answers are recorded and sure; the second chunk's codes stay unsure.
    expect([...(shelf.calls.get('M1') ?? [])].sort()).toEqual(['PC-2', 'PC-3']);
    expect(deps.merchants.records.get('M1')?.shelf?.onShelf).toBe(2);

    deps.hipoink = hipoink;
    hipoink.calls = [];
    expect(await push(codes)).toMatchObject({ upserted: 4 });
    expect(hipoink.calls.map((c) => c.codes)).toEqual([
      ['PC-2', 'PC-3'],
      ['PC-4', 'PC-5'],
    ]);
    expect(await outOfStepCodes(shelf, 'M1')).toEqual([]);
  });

  it('sends every label again on a repush, and lets transient failures propagate for the queue to retry', async () => {
    const { shelf, hipoink, push } = setup();
    await want(shelf, 'A', 'PC-A');
    await push(['PC-A']);
    hipoink.shelf.clear(); // a Hipoink server that lost its products
    await push(['PC-A'], { repush: true });
    expect(hipoink.shelf.has('PC-A')).toBe(true);

    await want(shelf, 'A', 'PC-A', '5.00');
    hipoink.failWith = new HipoinkApiError('503', { status: 503 });
    await expect(push(['PC-A'])).rejects.toBeInstanceOf(HipoinkApiError);
    expect(await outOfStepCodes(shelf, 'M1')).toEqual(['PC-A']);
  });
});
