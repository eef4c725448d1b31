/**
 * The same calls on the in-memory fake (what unit tests run on) and on the real store over dynalite,
 * with the real one's behaviour as the expectation: unit tests must not pass only because of the fake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_COUNTS, type ShelfCounts, type Slot } from '../../src/domain/shelf.ts';
import { type MerchantRecord, type MerchantStore, merchantView } from '../../src/store/merchants.ts';
import type { ShelfStore } from '../../src/store/shelf.ts';
import { FakeMerchantStore, FakeShelfStore, merchantRecord } from '../unit/fakes.ts';
import { startStateStores } from './support.ts';

let real: Awaited<ReturnType<typeof startStateStores>>;
beforeAll(async () => {
  real = await startStateStores();
});
afterAll(async () => real?.stop());

const label = (pc: string) => ({ pc, pn: 'N', pp: '1.00' });
const active = (pc: string, tag: string) => ({
  status: 'active' as const,
  label: label(pc),
  priceType: 'FIXED',
  available: true,
  unitCost: '0.50',
  stateHash: `s-${tag}`,
  labelHash: `l-${tag}`,
  modifiedTime: 2,
});
const listing = (listedUnder: string[], relisting = false) => ({ firstSeenAt: 7, listedUnder, relisting });
const want = (itemId: string, pc: string) => ({
  itemId,
  label: label(pc),
  labelHash: `l-${itemId}`,
  firstSeenAt: 1,
});

describe.each([
  ['fake', () => new FakeShelfStore() as ShelfStore],
  ['real', () => real.shelf],
])('%s shelf store', (name, make) => {
  const m = (t: string) => `${name}-${t}`;

  it('saveItem keeps the first-seen time, stores unitCost, and drops invalidReason when an item becomes valid', async () => {
    const s = make();
    await s.saveItem(m('s'), 'i1', { status: 'invalid', invalidReason: 'bad', modifiedTime: 1 }, listing([]));
    const saved = await s.saveItem(m('s'), 'i1', active('PC', 'b'), {
      ...listing(['PC'], true),
      firstSeenAt: 99,
    });
    expect(saved).toMatchObject({ unitCost: '0.50', firstSeenAt: 7, listedUnder: ['PC'] });
    expect(saved?.invalidReason).toBeUndefined();
    expect(saved?.outOfStepSince).toBeTypeOf('number');
    expect((await s.outOfStepBefore(m('s'), Number.MAX_SAFE_INTEGER)).itemIds).toEqual(['i1']);
    await s.settleItem(m('s'), 'i1', ['PC']);
    expect((await s.getItems(m('s'), ['i1']))[0]?.outOfStepSince).toBeUndefined();
    // An invalid version keeps the last valid label; a removal drops it.
    await s.saveItem(
      m('s'),
      'i1',
      { status: 'invalid', invalidReason: 'x', modifiedTime: 3 },
      listing(['PC']),
    );
    expect((await s.getItems(m('s'), ['i1']))[0]?.label).toEqual(label('PC'));
    await s.saveItem(
      m('s'),
      'i1',
      { status: 'removed', removedReason: 'hidden', modifiedTime: 4 },
      listing([]),
    );
    expect((await s.getItems(m('s'), ['i1']))[0]?.label).toBeUndefined();
  });

  it('touchSlot records and drops wanters, and marks the slot out of step each time', async () => {
    const s = make();
    expect(await s.touchSlot(m('t'), 'X', { drop: 'nobody' })).toEqual({ wasMarked: false });
    expect(await s.touchSlot(m('t'), 'X', { want: want('a', 'X') })).toEqual({ wasMarked: true });
    await s.touchSlot(m('t'), 'X', { want: want('b', 'X') });
    await s.touchSlot(m('t'), 'X', { drop: 'a' });
    const [slot] = await s.getSlots(m('t'), ['X']);
    expect(slot?.wanters).toEqual([want('b', 'X')]);
    expect((await s.outOfStepBefore(m('t'), Number.MAX_SAFE_INTEGER)).codes).toEqual(['X']);
    expect(await s.getSlots(m('t'), ['NONE'])).toEqual([{ code: 'NONE', wanters: [] }]);
  });

  it('settleSlot clears only the mark it read, and deletes a slot with nothing left to say', async () => {
    const s = make();
    await s.touchSlot(m('u'), 'X', { want: want('a', 'X') });
    const [read] = await s.getSlots(m('u'), ['X']);
    await s.touchSlot(m('u'), 'X', { want: want('a', 'X') }); // a poll changed it meanwhile
    const held = { label: label('X'), labelHash: 'l-a', itemId: 'a' };
    const change = await s.settleSlot(m('u'), read as Slot, { held });
    // Held now, and still out of step: a poll changed the slot after the push read it.
    expect(change.before?.held).toBeUndefined();
    expect(change.after).toMatchObject({ held, outOfStepSince: expect.any(Number) });
    const [after] = await s.getSlots(m('u'), ['X']);
    expect(after?.held).toEqual(held);
    expect(after?.outOfStepSince).toBeTypeOf('number');
    expect((await s.settleSlot(m('u'), after as Slot, { held })).after?.outOfStepSince).toBeUndefined();
    expect((await s.getSlots(m('u'), ['X']))[0]?.outOfStepSince).toBeUndefined();
    expect(await s.findHeld(m('u'))).toEqual(held);

    await s.touchSlot(m('u'), 'X', { drop: 'a' });
    const [empty] = await s.getSlots(m('u'), ['X']);
    const gone = await s.settleSlot(m('u'), empty as Slot, {});
    expect(gone).toMatchObject({ before: { held } });
    expect(gone.after).toBeUndefined();
    expect(await s.listSlots(m('u'))).toEqual([]);
  });

  it('lists items apart from slots', async () => {
    const s = make();
    await s.touchSlot(m('l'), 'X', { want: want('a', 'X') });
    await s.saveItem(m('l'), 'a', active('X', 'a'), listing(['X']));
    expect((await s.listItems(m('l'))).map((i) => i.itemId)).toEqual(['a']);
    expect((await s.listSlots(m('l'))).map((x) => x.code)).toEqual(['X']);
  });
});

describe.each([
  ['fake', () => new FakeMerchantStore(merchantRecord({ merchantId: 'fake-counts' }))],
  ['real', () => real.merchants],
])('%s merchant store shelf counts', (name, make) => {
  it('adds what each poll and push moved, and takes a count afresh over them', async () => {
    const store = make() as MerchantStore;
    const id = `${name}-counts`;
    if (name === 'real')
      await store.upsert({
        merchantId: id,
        storeCode: 'store-counts',
        tokens: {
          access_token: 'a',
          access_token_expiration: 1,
          refresh_token: 'r',
          refresh_token_expiration: 1,
        },
      });
    const change = (over: Partial<ShelfCounts>) => ({ ...NO_COUNTS, ...over });
    await store.addShelfCounts(id, change({ items: 3, outOfStep: 2 }));
    await store.addShelfCounts(id, change({ outOfStep: -2, onShelf: 2 }));
    const view = async () => merchantView((await store.get(id)) as MerchantRecord).shelf;
    expect(await view()).toMatchObject({ items: 3, onShelf: 2, outOfStep: 0 });
    await store.setShelfCounts(id, change({ items: 5, refused: 1 }));
    expect(await view()).toMatchObject({ items: 5, onShelf: 0, refused: 1, countedAt: expect.any(String) });
  });
});

describe.each([
  [
    'fake',
    () =>
      new FakeMerchantStore(
        merchantRecord({ merchantId: 'fake-notice' }),
        merchantRecord({ merchantId: 'fake-gone', authorizedAt: 1_000, previousRefreshToken: 'prev' }),
      ),
  ],
  ['real', () => real.merchants],
])('%s merchant store webhook notices', (name, make) => {
  const tokens = {
    access_token: 'a',
    access_token_expiration: 1,
    refresh_token: 'r',
    refresh_token_expiration: 1,
  };

  it('records the newest notice time of a known merchant only, and reads known merchants in a batch', async () => {
    const store = make() as FakeMerchantStore;
    const id = `${name}-notice`;
    if (name === 'real') await store.upsert({ merchantId: id, storeCode: 'store-n', tokens });
    expect(await store.recordNotice(id, 2_000)).toBe(true);
    expect(await store.recordNotice(id, 1_000)).toBe(false);
    expect(await store.recordNotice(id, 2_000)).toBe(false);
    expect(await store.recordNotice(`${name}-nobody`, 3_000)).toBe(false);
    expect((await store.get(id))?.lastNoticeAt).toBe(2_000);
    const found = await store.getMany([id, `${name}-nobody`, id]);
    expect([...found.keys()]).toEqual([id]);
    expect(found.get(id)?.lastNoticeAt).toBe(2_000);
  });

  it('deletes the tokens of a merchant as it was, unless it connected at or after the notice', async () => {
    const store = make() as FakeMerchantStore;
    const id = `${name}-gone`;
    if (name === 'real') await store.upsert({ merchantId: id, storeCode: 'store-g', tokens });
    const before = (await store.get(id)) as MerchantRecord;
    const connectedAt = before.authorizedAt ?? 0;
    const disable = { state: { state: 'disabled' as const, reason: 'app uninstalled' } };
    // A notice from before the last connection changes nothing, nor does a plan made on another record.
    expect(await store.deleteTokens(id, before, { ...disable, noticeTs: connectedAt })).toBe(false);
    expect(
      await store.deleteTokens(
        id,
        { ...before, tokenVersion: 99 },
        { ...disable, noticeTs: connectedAt + 1 },
      ),
    ).toBe(false);
    expect(await store.get(id)).toEqual(before);
    expect(await store.deleteTokens(id, before, { ...disable, noticeTs: connectedAt + 1 })).toBe(true);
    const after = (await store.get(id)) as MerchantRecord;
    expect(after).toMatchObject({
      state: 'disabled',
      stateReason: 'app uninstalled',
      accessToken: '',
      refreshToken: '',
      tokenVersion: before.tokenVersion + 1,
      tokensDeletedAt: expect.any(Number),
    });
    expect(after.previousRefreshToken).toBeUndefined();
    expect(merchantView(after).tokensDeletedAt).toEqual(expect.any(String));
  });
});
