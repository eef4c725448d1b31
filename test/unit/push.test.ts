import { describe, expect, it } from 'vitest';
import { HipoinkApiError, HipoinkRejectedError, HipoinkRequestRefusedError } from '../../src/errors.ts';
import type { HipoinkClient } from '../../src/hipoink/client.ts';
import type { HipoinkProduct } from '../../src/hipoink/fields.ts';
import { pushNeed } from '../../src/store/products.ts';
import { pushChanges } from '../../src/sync/push.ts';
import { hashOf } from '../../src/sync/transform.ts';
import { FakeMerchantStore, FakeProductStore, merchantRecord } from './fakes.ts';

class RecordingHipoink implements HipoinkClient {
  calls: Array<{ op: string; codes: string[] }> = [];
  shelf = new Map<string, HipoinkProduct>();
  bad = new Set<string>();
  /** Codes Hipoink refuses to delete. */
  undeletable = new Set<string>();
  failWith?: Error;
  sameErrorForBad = false;
  /** Every request refused with one error, as with a wrong sign. */
  refuseEverything = false;
  /** Deleting a code it does not hold is refused (the reference does not say it is not). */
  refuseUnknownDelete = false;
  /** Creates refused for the request, deletes of unknown codes still answered (e.g. a wrong store code). */
  refuseCreates = false;
  private refuseRequest() {
    if (this.refuseEverything) throw new HipoinkRejectedError('refused', 10003, 'sign check failed');
  }
  async create(_s: string, p: HipoinkProduct) {
    this.calls.push({ op: 'create', codes: [p.pc] });
    this.refuseRequest();
    if (this.refuseCreates) throw new HipoinkRejectedError('refused', 40001, 'store not found');
    if (this.bad.has(p.pc))
      throw new HipoinkRejectedError(
        'refused',
        1,
        this.sameErrorForBad ? 'a product is invalid' : `bad product ${p.pc}`,
      );
    this.shelf.set(p.pc, p);
  }
  async createMultiple(_s: string, ps: readonly HipoinkProduct[]) {
    this.calls.push({ op: 'create_multiple', codes: ps.map((p) => p.pc) });
    if (this.failWith) throw this.failWith;
    this.refuseRequest();
    if (this.refuseCreates) throw new HipoinkRejectedError('refused', 40001, 'store not found');
    if (ps.some((p) => this.bad.has(p.pc)))
      throw new HipoinkRejectedError('refused', 1, 'a product is invalid');
    for (const p of ps) this.shelf.set(p.pc, p);
  }
  async deleteMultiple(_s: string, codes: readonly string[]) {
    this.calls.push({ op: 'del_multiple', codes: [...codes] });
    this.refuseRequest();
    if (this.refuseUnknownDelete && codes.some((c) => !this.shelf.has(c)))
      throw new HipoinkRejectedError('refused', 30002, 'product not found');
    if (codes.some((c) => this.undeletable.has(c)))
      throw new HipoinkRejectedError('refused', 30001, 'product is bound to a label');
    for (const c of codes) this.shelf.delete(c);
    return codes.length;
  }
}

async function activeItem(products: FakeProductStore, itemId: string, pc: string, price = '1.00') {
  const label = { pc, pn: `Item ${itemId}`, pp: price };
  return products.saveState('M1', itemId, {
    status: 'active',
    label,
    priceType: 'FIXED',
    available: true,
    stateHash: hashOf({ label, x: 1 }),
    labelHash: hashOf(label),
    modifiedTime: 1,
  });
}

function setup(chunk = 200) {
  const products = new FakeProductStore();
  const hipoink = new RecordingHipoink();
  const deps = {
    merchants: new FakeMerchantStore(merchantRecord()),
    products,
    hipoink,
    settings: { hipoinkChunkSize: chunk, storeWriteConcurrency: 16 },
  };
  return { products, hipoink, deps };
}

describe('pushChanges', () => {
  it('creates in chunks and then costs nothing for items already in step', async () => {
    const { products, hipoink, deps } = setup(200);
    const ids = Array.from({ length: 450 }, (_, i) => `I${i}`);
    for (const id of ids) await activeItem(products, id, `PC-${id}`);
    const first = await pushChanges(deps, { merchantId: 'M1', itemIds: ids });
    expect(first).toMatchObject({ upserted: 450, hipoinkCalls: 3 });
    expect(hipoink.calls.map((c) => c.op)).toEqual(['create_multiple', 'create_multiple', 'create_multiple']);
    expect(hipoink.shelf.size).toBe(450);

    hipoink.calls = [];
    const again = await pushChanges(deps, { merchantId: 'M1', itemIds: ids });
    expect(again.hipoinkCalls).toBe(0);
    expect(hipoink.calls).toEqual([]);
  });

  it('pushes the stored state, so a stale or repeated message cannot undo a newer change', async () => {
    const { products, hipoink, deps } = setup();
    await activeItem(products, 'A', 'PC-A', '1.00');
    await activeItem(products, 'A', 'PC-A', '2.00');
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A'] });
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A', 'A'] });
    expect(hipoink.shelf.get('PC-A')?.pp).toBe('2.00');
    expect(hipoink.calls).toHaveLength(1);
  });

  it('takes removed items off the shelf and forgets items never shown', async () => {
    const { products, hipoink, deps } = setup();
    await activeItem(products, 'A', 'PC-A');
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A'] });
    await products.saveState('M1', 'A', { status: 'removed', removedReason: 'hidden', modifiedTime: 2 });
    await products.saveState('M1', 'B', { status: 'removed', removedReason: 'hidden', modifiedTime: 2 });
    const result = await pushChanges(deps, { merchantId: 'M1', itemIds: ['A', 'B'] });
    expect(hipoink.calls.at(-1)).toEqual({ op: 'del_multiple', codes: ['PC-A'] });
    expect(result.removed).toBe(1);
    expect(hipoink.shelf.has('PC-A')).toBe(false);
    expect((await products.get('M1', ['A']))[0]?.pushedPc).toBeUndefined();
  });

  it('deletes the old code when an item’s code changes, unless another item now shows it', async () => {
    const { products, hipoink, deps } = setup();
    await activeItem(products, 'A', 'OLD');
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A'] });
    await activeItem(products, 'A', 'NEW');
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A'] });
    expect([...hipoink.shelf.keys()]).toEqual(['NEW']);

    await activeItem(products, 'A', 'NEWER');
    await activeItem(products, 'B', 'NEW');
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A', 'B'] });
    expect([...hipoink.shelf.keys()].sort()).toEqual(['NEW', 'NEWER']);
  });

  it('never takes down a code another item has claimed since (a late removal)', async () => {
    const { products, hipoink, deps } = setup();
    await activeItem(products, 'A', 'X');
    await products.claimCode('M1', 'X', 'A');
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A'] });
    // A is hidden and gives X up; B takes X and is pushed; A's removal arrives late.
    await products.saveState('M1', 'A', { status: 'removed', removedReason: 'hidden', modifiedTime: 2 });
    await products.releaseCode('M1', 'X', 'A');
    await products.claimCode('M1', 'X', 'B');
    await activeItem(products, 'B', 'X', '3.00');
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['B'] });
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A'] });
    expect(hipoink.shelf.get('X')?.pp).toBe('3.00');
    expect(hipoink.calls.some((c) => c.op === 'del_multiple')).toBe(false);
    expect((await products.get('M1', ['A']))[0]?.pushedPc).toBeUndefined();
  });

  it('isolates a product Hipoink refuses: marked rejected, the others delivered', async () => {
    const { products, hipoink, deps } = setup();
    for (const id of ['A', 'B', 'C']) await activeItem(products, id, `PC-${id}`);
    hipoink.bad.add('PC-B');
    const result = await pushChanges(deps, { merchantId: 'M1', itemIds: ['A', 'B', 'C'] });
    expect(result).toMatchObject({ upserted: 2, rejected: 1 });
    expect([...hipoink.shelf.keys()].sort()).toEqual(['PC-A', 'PC-C']);
    const [b] = await products.get('M1', ['B']);
    expect(b?.rejectedReason).toBe('bad product PC-B');
    // A rejected label is not retried until it changes.
    hipoink.calls = [];
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['B'] });
    expect(hipoink.calls).toEqual([]);
  });

  it('tells a refused request (wrong sign) from refused products: retried, nobody rejected', async () => {
    const { products, hipoink, deps } = setup();
    for (const id of ['A', 'B', 'C']) await activeItem(products, id, `PC-${id}`, '1.00');
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A', 'B', 'C'] });
    for (const id of ['A', 'B', 'C']) await activeItem(products, id, `PC-${id}`, '2.00');
    hipoink.refuseEverything = true; // e.g. a mistyped or rotated sign
    const wrongSign = pushChanges(deps, { merchantId: 'M1', itemIds: ['A', 'B', 'C'] });
    await expect(wrongSign).rejects.toBeInstanceOf(HipoinkRequestRefusedError);
    await expect(wrongSign).rejects.toMatchObject({ retryable: true });
    const records = await products.get('M1', ['A', 'B', 'C']);
    expect(records.map((r) => r.rejectedReason)).toEqual([undefined, undefined, undefined]);
    // The sign is fixed: the retried message delivers the new prices.
    hipoink.refuseEverything = false;
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A', 'B', 'C'] });
    expect([...hipoink.shelf.values()].map((p) => p.pp)).toEqual(['2.00', '2.00', '2.00']);
  });

  it('keeps a removal to do while Hipoink refuses every request, and does it once the sign is fixed', async () => {
    const { products, hipoink, deps } = setup();
    for (const id of ['A', 'B']) await activeItem(products, id, `PC-${id}`);
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A', 'B'] });
    await products.saveState('M1', 'A', { status: 'removed', removedReason: 'hidden', modifiedTime: 2 });
    hipoink.refuseEverything = true;
    await expect(pushChanges(deps, { merchantId: 'M1', itemIds: ['A'] })).rejects.toBeInstanceOf(
      HipoinkRequestRefusedError,
    );
    const [a] = await products.get('M1', ['A']);
    expect(a && pushNeed(a)).toBe('remove');
    hipoink.refuseEverything = false;
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A'] });
    expect([...hipoink.shelf.keys()]).toEqual(['PC-B']);
  });

  it('marks products refused for one shared defect rejected, and delivers the next chunk', async () => {
    const { products, hipoink, deps } = setup(2);
    for (const id of ['A', 'B', 'C']) await activeItem(products, id, `PC-${id}`);
    hipoink.bad.add('PC-A');
    hipoink.bad.add('PC-B');
    hipoink.sameErrorForBad = true; // Hipoink names no product: the same message alone as in the batch
    const result = await pushChanges(deps, { merchantId: 'M1', itemIds: ['A', 'B', 'C'] });
    expect(result).toMatchObject({ upserted: 1, rejected: 2 });
    expect([...hipoink.shelf.keys()]).toEqual(['PC-C']);
    const records = await products.get('M1', ['A', 'B']);
    expect(records.map((r) => r.rejectedReason)).toEqual(['a product is invalid', 'a product is invalid']);
  });

  it('in a store with nothing on the shelf yet, a refused probe delete with another error means bad products', async () => {
    const { products, hipoink, deps } = setup();
    for (const id of ['A', 'B']) await activeItem(products, id, `PC-${id}`);
    hipoink.bad.add('PC-B');
    hipoink.refuseUnknownDelete = true;
    const result = await pushChanges(deps, { merchantId: 'M1', itemIds: ['A', 'B'] });
    expect(result).toMatchObject({ upserted: 1, rejected: 1 });
    expect([...hipoink.shelf.keys()]).toEqual(['PC-A']);
  });

  it('probes with a product Hipoink holds, and does not blame the request when Hipoink now refuses that product', async () => {
    const { products, hipoink, deps } = setup();
    await activeItem(products, 'A', 'PC-A');
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A'] });
    for (const id of ['B', 'C']) await activeItem(products, id, `PC-${id}`);
    hipoink.bad.add('PC-A'); // accepted once, refused now (e.g. its label template was removed)
    hipoink.bad.add('PC-B');
    hipoink.calls = [];
    const result = await pushChanges(deps, { merchantId: 'M1', itemIds: ['B', 'C'] });
    expect(hipoink.calls.map((c) => `${c.op} ${c.codes.join(',')}`)).toEqual([
      'create_multiple PC-B,PC-C',
      'create PC-A', // the probe: A again, as Hipoink accepted it
      'del_multiple __esl-sync-probe__', // refused, so: does Hipoink refuse even a delete of nothing?
      'create PC-B',
      'del_multiple PC-B', // refused, it replaced no label: whatever was under its code goes
      'create PC-C',
    ]);
    expect(result).toMatchObject({ upserted: 1, rejected: 1 });
    expect(hipoink.shelf.has('PC-C')).toBe(true);
  });

  it('passes over a code Hipoink refuses to delete, and still delivers the rest of the message', async () => {
    const { products, hipoink, deps } = setup();
    for (const id of ['A', 'B', 'D']) await activeItem(products, id, `PC-${id}`);
    await pushChanges(deps, { merchantId: 'M1', itemIds: ['A', 'B', 'D'] });
    for (const id of ['A', 'D']) {
      await products.saveState('M1', id, { status: 'removed', removedReason: 'hidden', modifiedTime: 2 });
    }
    await activeItem(products, 'B', 'PC-B', '2.00');
    hipoink.undeletable.add('PC-A');
    const refused: string[] = [];
    const result = await pushChanges(
      { ...deps, onRemovalRefused: ({ pc, reason }) => refused.push(`${pc}: ${reason}`) },
      { merchantId: 'M1', itemIds: ['A', 'B', 'D'] },
    );
    expect(refused).toEqual(['PC-A: product is bound to a label']);
    expect(result).toMatchObject({ upserted: 1, removed: 2 });
    expect(hipoink.shelf.get('PC-B')?.pp).toBe('2.00');
    expect(hipoink.shelf.has('PC-D')).toBe(false);
  });

  it('lets transient failures propagate for the queue to retry', async () => {
    const { products, hipoink, deps } = setup();
    await activeItem(products, 'A', 'PC-A');
    hipoink.failWith = new HipoinkApiError('503', { status: 503 });
    await expect(pushChanges(deps, { merchantId: 'M1', itemIds: ['A'] })).rejects.toBeInstanceOf(
      HipoinkApiError,
    );
    expect((await products.get('M1', ['A']))[0]?.pushedPc).toBeUndefined();
  });
});
