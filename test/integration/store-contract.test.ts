/**
 * The same calls on the in-memory fake (what unit tests run on) and on the real store over dynalite,
 * with the real one's behaviour as the expectation: unit tests must not pass only because of the fake.
 */
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_COUNTS, type ShelfCounts } from '../../src/domain/counts.ts';
import { ownerOf, type Slot, type Want } from '../../src/domain/shelf.ts';
import { ATTENTION_KEY, createAttentionLedger } from '../../src/store/attention.ts';
import { type MerchantRecord, type MerchantStore, merchantView } from '../../src/store/merchants.ts';
import { createShelfStore, type ItemRecord, type ShelfStore } from '../../src/store/shelf.ts';
import { MAX_PRODUCT_CODE_BYTES } from '../../src/store/tables.ts';
import { tellJoined } from '../../src/sync/attention.ts';
import { FakeMerchantStore, FakeShelfStore, merchantRecord } from '../unit/fakes.ts';
import { startStateStores } from './support.ts';

/** A token pair for the merchants these tests store (never used against Clover). */
const tokens = {
  access_token: 'a',
  access_token_expiration: 1,
  refresh_token: 'r',
  refresh_token_expiration: 1,
};

let real: Awaited<ReturnType<typeof startStateStores>>;
beforeAll(async () => {
  real = await startStateStores();
});
afterAll(async () => real?.stop());

/** The store's clock: every write it stamps carries this. */
const NOW = 1_700_000_000_000;
const label = (pc: string, pp = '1.00') => ({ pc, pn: 'N', pp });
const want = (itemId: string, pc: string, pp = '1.00'): Want => ({
  itemId,
  label: label(pc, pp),
  labelHash: `l-${itemId}-${pp}`,
  wantsSince: 1,
});
const held = (itemId: string, pc: string) => ({ label: label(pc), labelHash: `l-${itemId}-1.00`, itemId });
/** Wanters in item order (DynamoDB keeps no order among a record's attributes). */
const sorted = (slot: Slot | undefined) =>
  slot && { ...slot, wanters: [...slot.wanters].sort((a, b) => (a.itemId < b.itemId ? -1 : 1)) };

describe.each([
  ['fake', () => new FakeShelfStore(() => NOW) as ShelfStore],
  ['real', () => createShelfStore(real.doc, 'products', () => NOW)],
])('%s shelf store', (name, make) => {
  const m = (t: string) => `${name}-${t}`;

  it('putItem writes the whole record as given, stamped with its own clock, over what was there', async () => {
    const s = make();
    const invalid: ItemRecord = {
      merchantId: m('p'),
      itemId: 'i1',
      status: 'invalid',
      invalidReason: 'bad',
      label: undefined, // no valid version yet: nothing to keep
      stateHash: 'invalid:bad',
      modifiedTime: 1,
      wantsSince: 7,
      updatedAt: 0,
    };
    await s.putItem(invalid);
    expect(await s.getItems(m('p'), ['i1'])).toStrictEqual([
      {
        merchantId: m('p'),
        itemId: 'i1',
        status: 'invalid',
        invalidReason: 'bad',
        stateHash: 'invalid:bad',
        modifiedTime: 1,
        wantsSince: 7,
        updatedAt: NOW,
      },
    ]);
    // A valid version replaces the record: the invalid reason is gone with it.
    const active: ItemRecord = {
      merchantId: m('p'),
      itemId: 'i1',
      status: 'active',
      label: label('PC'),
      labelHash: 'l-b',
      stateHash: 's-b',
      modifiedTime: 2,
      wantsSince: 7,
      updatedAt: 0,
    };
    await s.putItem(active);
    expect(await s.getItems(m('p'), ['i1', 'unknown', 'i1'])).toStrictEqual([{ ...active, updatedAt: NOW }]);
    // A removal keeps no label.
    const { label: _, labelHash: __, ...rest } = active;
    const removed: ItemRecord = { ...rest, status: 'removed', removedReason: 'hidden', stateHash: 'r' };
    await s.putItem(removed);
    expect(await s.listItems(m('p'))).toStrictEqual([{ ...removed, updatedAt: NOW }]);
  });

  it('touchSlot records and drops one wanter, and returns the slot as it was', async () => {
    const s = make();
    expect(await s.touchSlot(m('t'), 'X', { want: want('a', 'X') })).toEqual({ code: 'X', wanters: [] });
    expect(await s.touchSlot(m('t'), 'X', { want: want('b', 'X') })).toEqual({
      code: 'X',
      wanters: [want('a', 'X')],
    });
    // Wanting again replaces the item's earlier want (a new price).
    expect(sorted(await s.touchSlot(m('t'), 'X', { want: want('a', 'X', '2.00') }))).toEqual({
      code: 'X',
      wanters: [want('a', 'X'), want('b', 'X')],
    });
    expect(sorted(await s.touchSlot(m('t'), 'X', { drop: 'b' }))).toEqual({
      code: 'X',
      wanters: [want('a', 'X', '2.00'), want('b', 'X')],
    });
    expect(await s.getSlots(m('t'), ['X'])).toEqual([{ code: 'X', wanters: [want('a', 'X', '2.00')] }]);
    // Dropping an item a slot does not name changes nothing it holds; a code never touched is empty.
    expect(await s.touchSlot(m('t'), 'X', { drop: 'nobody' })).toEqual({
      code: 'X',
      wanters: [want('a', 'X', '2.00')],
    });
    expect(await s.touchSlot(m('t'), 'Y', { drop: 'nobody' })).toEqual({ code: 'Y', wanters: [] });
    expect(await s.getSlots(m('t'), ['NONE'])).toEqual([{ code: 'NONE', wanters: [] }]);
  });

  it('touchSlot notes when the poll that touched a slot began, where given; a settle keeps it', async () => {
    const s = make();
    await s.touchSlot(m('at'), 'X', { want: want('a', 'X') }, 7);
    expect(await s.getSlots(m('at'), ['X'])).toEqual([
      { code: 'X', wanters: [want('a', 'X')], touchedAt: 7 },
    ]);
    const held = { label: want('a', 'X').label, labelHash: want('a', 'X').labelHash, itemId: 'a' };
    await s.settleSlot(m('at'), 'X', { held });
    await s.touchSlot(m('at'), 'X', { drop: 'b' }, 9);
    expect(await s.listSlots(m('at'))).toEqual([
      { code: 'X', wanters: [want('a', 'X')], held, touchedAt: 9 },
    ]);
    await s.touchSlot(m('at'), 'X', { drop: 'a' }); // none given: the time stays
    expect(await s.getSlots(m('at'), ['X'])).toEqual([{ code: 'X', wanters: [], held, touchedAt: 9 }]);
  });

  it('settleSlot records what Hipoink holds, keeps the wanters a poll wrote meanwhile, and never deletes a slot', async () => {
    const s = make();
    await s.touchSlot(m('u'), 'X', { want: want('a', 'X') });
    const [read] = await s.getSlots(m('u'), ['X']);
    await s.touchSlot(m('u'), 'X', { want: want('b', 'X') }); // a poll changed it after the push read it
    expect(sorted(await s.settleSlot(m('u'), 'X', { held: held('a', 'X') }))).toEqual({
      code: 'X',
      wanters: [want('a', 'X'), want('b', 'X')],
    });
    expect(read).toEqual({ code: 'X', wanters: [want('a', 'X')] });
    expect(sorted((await s.getSlots(m('u'), ['X']))[0])).toEqual({
      code: 'X',
      wanters: [want('a', 'X'), want('b', 'X')],
      held: held('a', 'X'),
    });
    // What is not given is no longer held or refused.
    const refused = { labelHash: 'l-b-2.00', reason: 'bad', itemId: 'b' };
    expect((await s.settleSlot(m('u'), 'X', { refused }))?.held).toEqual(held('a', 'X'));
    const [settled] = await s.getSlots(m('u'), ['X']);
    expect(settled?.refused).toEqual(refused);
    expect(settled?.held).toBeUndefined();
    // Wanted by nobody and holding nothing, the slot stays, saying so.
    await s.touchSlot(m('u'), 'X', { drop: 'a' });
    await s.touchSlot(m('u'), 'X', { drop: 'b' });
    expect(await s.settleSlot(m('u'), 'X', {})).toEqual({ code: 'X', wanters: [], refused });
    expect(await s.listSlots(m('u'))).toEqual([{ code: 'X', wanters: [] }]);
  });

  it('settleSlot on a code without a record writes nothing (its merchant was removed meanwhile)', async () => {
    const s = make();
    await s.touchSlot(m('f'), 'X', { want: want('a', 'X') });
    await s.forget(m('f'));
    expect(await s.settleSlot(m('f'), 'X', { held: held('a', 'X') })).toBeUndefined();
    expect(await s.settleSlot(m('f'), 'NEVER', {})).toBeUndefined();
    expect(await s.listSlots(m('f'))).toEqual([]);
  });

  it('getSlots and listSlots flag the codes of calls under way as unsure, until their calls end', async () => {
    const s = make();
    for (const code of ['X', 'Y']) await s.touchSlot(m('c'), code, { want: want('a', code) });
    await s.beginCalls(m('c'), ['X', 'Z']);
    await s.beginCalls(m('c'), []);
    await s.beginCalls(m('other'), ['Y']);
    expect(await s.getSlots(m('c'), ['X', 'Y', 'Z'])).toEqual([
      { code: 'X', wanters: [want('a', 'X')], unsure: true },
      { code: 'Y', wanters: [want('a', 'Y')] },
      { code: 'Z', wanters: [], unsure: true },
    ]);
    const listed = async () => (await s.listSlots(m('c'))).sort((a, b) => (a.code < b.code ? -1 : 1));
    // The calls record is neither an item nor a slot.
    expect(await listed()).toEqual([
      { code: 'X', wanters: [want('a', 'X')], unsure: true },
      { code: 'Y', wanters: [want('a', 'Y')] },
    ]);
    expect(await s.listItems(m('c'))).toEqual([]);
    await s.endCalls(m('c'), ['X']);
    expect((await listed()).map((x) => x.unsure)).toEqual([undefined, undefined]);
    expect((await s.getSlots(m('c'), ['Z']))[0]?.unsure).toBe(true);
    await s.endCalls(m('c'), ['Z', 'never-begun']);
    expect((await s.getSlots(m('c'), ['Z']))[0]?.unsure).toBeUndefined();
  });

  it('lists items apart from slots, and forgets both with the calls record', async () => {
    const s = make();
    await s.touchSlot(m('l'), 'X', { want: want('a', 'X') });
    await s.beginCalls(m('l'), ['X']);
    await s.putItem({
      merchantId: m('l'),
      itemId: 'a',
      status: 'active',
      label: label('X'),
      labelHash: 'l-a-1.00',
      stateHash: 's-a',
      wantsSince: 1,
      updatedAt: 0,
    });
    expect((await s.listItems(m('l'))).map((i) => i.itemId)).toEqual(['a']);
    expect((await s.listSlots(m('l'))).map((x) => x.code)).toEqual(['X']);
    await s.forget(m('l'));
    expect(await s.listItems(m('l'))).toEqual([]);
    expect(await s.listSlots(m('l'))).toEqual([]);
    expect(await s.getSlots(m('l'), ['X'])).toEqual([{ code: 'X', wanters: [] }]);
  });

  it('keeps the codes to delete from a store left pending until answered, afresh at each note', async () => {
    const s = make();
    const state = async () => {
      const { pending, refused } = await s.clearState(m('x'), 'old');
      return { pending: pending.sort(), refused: refused.sort() };
    };
    await s.clearAnswered(m('x'), 'old', ['A'], []); // nothing noted: nothing written
    expect(await state()).toEqual({ pending: [], refused: [] });
    await s.noteClear(m('x'), 'old', ['A', 'B', 'C']);
    await s.clearAnswered(m('x'), 'old', ['A', 'B'], ['B']);
    expect(await state()).toEqual({ pending: ['C'], refused: ['B'] });
    expect(await s.clearState(m('x'), 'other')).toEqual({ pending: [], refused: [] });
    await s.noteClear(m('x'), 'old', ['B']);
    expect(await state()).toEqual({ pending: ['B'], refused: [] });
    await s.clearAnswered(m('x'), 'old', ['B'], []);
    expect(await state()).toEqual({ pending: [], refused: [] });
    await s.noteClear(m('x'), 'old', ['D']);
    await s.forget(m('x'));
    await s.clearAnswered(m('x'), 'old', ['D'], ['D']); // a push redriven after the merchant went
    expect(await state()).toEqual({ pending: [], refused: [] });
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

  it('keeps the mark of a poll writing slots, and since when reads stop short, through failed or partial polls, until a complete poll succeeds', async () => {
    const store = make() as MerchantStore;
    const id = `${name}-counts`; // created by the test above
    const counts = { fetched: 0, changed: 0, removed: 0, invalid: 0, queuedForPush: 0, cloverRequests: 0 };
    const poll = { mode: 'incremental' as const, startedAt: 5, cleanedUp: false, counts };
    await store.markShelfWrites(id, 5);
    await store.recordPoll(id, { ...poll, error: 'DynamoDB unavailable' });
    expect((await store.get(id))?.shelfWritesUnfinished).toBe(5);
    // The poll retrying it marks too: the first unfinished poll's start stays.
    await store.markShelfWrites(id, 6);
    expect((await store.get(id))?.shelfWritesUnfinished).toBe(5);
    expect((await store.get(id))?.readIncompleteSince).toBeUndefined();
    await store.recordPoll(id, { ...poll, partial: 'read stopped early' });
    const stored = await store.get(id);
    expect(stored?.shelfWritesUnfinished).toBe(5);
    expect(stored?.readIncompleteSince).toBeTypeOf('number');
    // The run of short reads began with the first: neither a failed poll nor another partial one moves it.
    await new Promise((r) => setTimeout(r, 5));
    await store.recordPoll(id, { ...poll, error: 'Clover unavailable' });
    const failing = (await store.get(id))?.syncFailingSince;
    expect(failing).toBeTypeOf('number');
    // Failing polls keep the time the failures began; a poll that succeeds, even partly, ends them.
    await new Promise((r) => setTimeout(r, 5));
    await store.recordPoll(id, { ...poll, error: 'Clover unavailable' });
    expect((await store.get(id))?.syncFailingSince).toBe(failing);
    await store.recordPoll(id, { ...poll, partial: 'read stopped early' });
    expect((await store.get(id))?.syncFailingSince).toBeUndefined();
    expect((await store.get(id))?.readIncompleteSince).toBe(stored?.readIncompleteSince);
    await store.recordPoll(id, poll);
    expect((await store.get(id))?.shelfWritesUnfinished).toBeUndefined();
    expect((await store.get(id))?.readIncompleteSince).toBeUndefined();
    // A store enabled again starts a new run of polls: its old failures say nothing of them.
    await store.recordPoll(id, { ...poll, error: 'Merchant is disabled' });
    await store.recordPoll(id, { ...poll, partial: 'read stopped early' });
    await store.recordPoll(id, { ...poll, error: 'Merchant is disabled' });
    expect(await store.get(id)).toMatchObject({
      syncFailingSince: expect.any(Number),
      readIncompleteSince: expect.any(Number),
    });
    await store.setState(id, 'active');
    expect(await store.get(id)).not.toHaveProperty('syncFailingSince');
    expect(await store.get(id)).not.toHaveProperty('readIncompleteSince');
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
  it('records the newest notice time of a known merchant only, with the polls begun, and reads known merchants in a batch', async () => {
    const store = make() as FakeMerchantStore;
    const id = `${name}-notice`;
    if (name === 'real') await store.upsert({ merchantId: id, storeCode: 'store-n', tokens });
    expect(await store.recordNotice(id, 2_000)).toEqual({ started: 0 });
    expect(await store.recordNotice(id, 1_000)).toEqual({ started: 0 });
    expect(await store.recordNotice(`${name}-nobody`, 3_000)).toBeUndefined();
    expect((await store.get(id))?.lastNoticeAt).toBe(2_000);
    const counts = { fetched: 0, changed: 0, removed: 0, invalid: 0, queuedForPush: 0, cloverRequests: 0 };
    const outcome = { mode: 'incremental' as const, startedAt: 1, cleanedUp: false, counts, cursor: 1_500 };
    expect((await store.startPoll(id))?.pollsStarted).toBe(1);
    expect(await store.startPoll(`${name}-nobody`)).toBeUndefined();
    await store.recordPoll(id, outcome);
    const found = await store.getMany([id, `${name}-nobody`, id]);
    expect([...found.keys()]).toEqual([id]);
    expect(found.get(id)?.lastNoticeAt).toBe(2_000);
    expect(await store.recordNotice(id, 2_500)).toEqual({ started: 1, cursor: 1_500 });
    // A queue barrier passing is recorded on the merchant; a removed merchant is not written back.
    await store.passBarrier(id, 'b-1');
    expect((await store.get(id))?.barrierPassed).toBe('b-1');
    await store.passBarrier(`${name}-nobody`, 'b-2');
    expect(await store.get(`${name}-nobody`)).toBeUndefined();
    // A failing push is recorded with the time the failures began; one that goes through clears it.
    await store.recordPush(id, 'Hipoink down');
    const since = (await store.get(id))?.pushFailingSince;
    expect(since).toBeTypeOf('number');
    await store.recordPush(id, 'Hipoink still down');
    expect(await store.get(id)).toMatchObject({
      lastPushError: 'Hipoink still down',
      pushFailingSince: since,
    });
    await store.recordPush(id, undefined);
    expect((await store.get(id))?.lastPushError).toBeUndefined();
    expect((await store.get(id))?.pushFailingSince).toBeUndefined();
    await store.recordPush(`${name}-nobody`, 'x');
    expect(await store.get(`${name}-nobody`)).toBeUndefined();
    // A push set aside is noted until a poll that began after it repaired the store.
    await store.notePushSetAside(id);
    const setAside = (await store.get(id))?.pushSetAsideAt ?? 0;
    expect(setAside).toBeGreaterThan(0);
    await store.pushesRequeued(id, setAside - 1); // a poll begun before it: the note stays
    expect((await store.get(id))?.pushSetAsideAt).toBe(setAside);
    await store.pushesRequeued(id, setAside);
    expect((await store.get(id))?.pushSetAsideAt).toBeUndefined();
    await store.notePushSetAside(`${name}-nobody`);
    await store.pushesRequeued(`${name}-nobody`, Date.now());
    expect(await store.get(`${name}-nobody`)).toBeUndefined();
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

  it('keeps that Clover refused its tokens through a disable, until a new token pair is stored', async () => {
    const store = make() as FakeMerchantStore;
    const id = `${name}-refused`;
    if (name === 'fake') store.records.set(id, merchantRecord({ merchantId: id, storeCode: 'store-r' }));
    else await store.upsert({ merchantId: id, storeCode: 'store-r', tokens });
    const refusedAt = async () => (await store.get(id))?.tokensRefusedAt;
    const refuse = async () => {
      const v = (await store.get(id))?.tokenVersion ?? 0;
      expect(await store.markNeedsReauth(id, v, 'Clover rejected the refresh token')).toBe(true);
    };
    // A record without the field (as every earlier one) reads as never refused.
    expect(await refusedAt()).toBeUndefined();
    expect(merchantView((await store.get(id)) as MerchantRecord)).not.toHaveProperty('tokensRefusedAt');
    await refuse();
    const first = await refusedAt();
    expect(first).toBeTypeOf('number');
    await store.setState(id, 'disabled', 'disabled by an operator');
    await refuse(); // refused again (the same pair): the first refusal's time stays
    await store.setState(id, 'disabled', 'disabled by an operator');
    expect(await store.get(id)).toMatchObject({ state: 'disabled', tokensRefusedAt: first });
    expect(merchantView((await store.get(id)) as MerchantRecord).tokensRefusedAt).toEqual(expect.any(String));
    // Refused, it is not started again by a state write: only by a new token pair.
    expect(await store.setState(id, 'active')).toBe(false);
    expect(await store.get(id)).toMatchObject({ state: 'disabled' });
    // A refresh that stores a new pair ends it, as does one that lifts a needs_reauth set meanwhile.
    const v = (await store.get(id))?.tokenVersion ?? 0;
    expect(await store.saveRefreshedTokens(id, v, tokens, 'r')).toBe(true);
    expect(await refusedAt()).toBeUndefined();
    await refuse();
    expect(await store.clearNeedsReauth(id, v + 1)).toBe(true);
    expect(await refusedAt()).toBeUndefined();
    if (name === 'fake') return;
    // So do `merchants add` and the connect flow, which store a pair Clover gave for a new consent.
    await refuse();
    await store.upsert({ merchantId: id, storeCode: 'store-r', tokens });
    expect(await refusedAt()).toBeUndefined();
    await refuse();
    await store.setState(id, 'disabled', 'disabled by an operator');
    const basis = (await store.get(id)) as MerchantRecord;
    expect(await real.merchants.saveAuthorization(id, basis, { state: 'disabled' }, tokens)).toBe(true);
    expect(await store.get(id)).toMatchObject({ state: 'disabled', stateReason: 'disabled by an operator' });
    expect(await refusedAt()).toBeUndefined();
  });
});

describe('merchant store state (DynamoDB)', () => {
  it('keeps that Clover refused the tokens of a needs_reauth record written before the field, when it is disabled', async () => {
    const id = 'state-legacy-refused';
    await real.merchants.upsert({ merchantId: id, storeCode: 'store-l', tokens });
    // As an earlier version left it: needs_reauth, and no tokensRefusedAt.
    await real.doc.send(
      new UpdateCommand({
        TableName: 'merchants',
        Key: { merchantId: id },
        UpdateExpression: 'SET #state = :s, stateReason = :r',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':s': 'needs_reauth', ':r': 'Clover rejected the refresh token' },
      }),
    );
    expect(await real.merchants.setState(id, 'active')).toBe(false);
    expect(await real.merchants.setState(id, 'disabled', 'store closed')).toBe(true);
    expect(await real.merchants.get(id)).toMatchObject({
      state: 'disabled',
      tokensRefusedAt: expect.any(Number),
    });
    expect(await real.merchants.setState(id, 'active')).toBe(false);
    expect(await real.merchants.setState('state-nobody', 'disabled', 'x')).toBe(false);
  });
});

describe('fake merchant store state', () => {
  it('does as the DynamoDB one: an unknown merchant, and a needs_reauth record from before the field', async () => {
    const store = new FakeMerchantStore(
      merchantRecord({
        merchantId: 'legacy',
        state: 'needs_reauth',
        stateReason: 'Clover rejected the refresh token',
      }),
    );
    expect(await store.setState('state-nobody', 'disabled', 'x')).toBe(false);
    expect(await store.setState('legacy', 'active')).toBe(false);
    expect(await store.setState('legacy', 'disabled', 'store closed')).toBe(true);
    expect(await store.get('legacy')).toMatchObject({
      state: 'disabled',
      tokensRefusedAt: expect.any(Number),
    });
    expect(await store.setState('legacy', 'active')).toBe(false);
  });
});

describe('merchant store upsert (DynamoDB)', () => {
  it('refuses another store code for a merchant that has one: that is a move', async () => {
    await real.merchants.upsert({ merchantId: 'upsert-moved', storeCode: 'store-u1', tokens });
    await expect(
      real.merchants.upsert({ merchantId: 'upsert-moved', storeCode: 'store-u2', tokens }),
    ).rejects.toThrow(
      'Merchant upsert-moved shows its labels in another store than store-u2: that is a move',
    );
    expect(await real.merchants.get('upsert-moved')).toMatchObject({ storeCode: 'store-u1' });
  });
});

describe('records an earlier version wrote', () => {
  it('read its first-stored time as the time an item wants its code since, so owners stay', async () => {
    // That version stored `firstSeenAt` on items and on the wants in slots: B came first.
    const shelf = createShelfStore(real.doc, 'products', () => NOW);
    for (const [id, seen] of [
      ['B', 100],
      ['A', 200],
    ] as const) {
      await real.doc.send(
        new PutCommand({
          TableName: 'products',
          Item: {
            ...{ merchantId: 'old', itemId: id, status: 'active', label: label('X') },
            ...{ labelHash: `l-${id}-1.00`, stateHash: `s-${id}`, firstSeenAt: seen, updatedAt: 1 },
          },
        }),
      );
    }
    await real.doc.send(
      new PutCommand({
        TableName: 'products',
        Item: {
          merchantId: 'old',
          itemId: '#slot#X',
          'want:A': { label: label('X'), labelHash: 'l-A-1.00', firstSeenAt: 200 },
          'want:B': { label: label('X'), labelHash: 'l-B-1.00', firstSeenAt: 100 },
        },
      }),
    );
    const items = await shelf.listItems('old');
    expect(items.map((i) => [i.itemId, i.wantsSince])).toEqual([
      ['A', 200],
      ['B', 100],
    ]);
    const [slot] = await shelf.listSlots('old');
    expect(slot && ownerOf(slot)).toMatchObject({ itemId: 'B', wantsSince: 100 });
  });
});

describe('attention ledger (DynamoDB)', () => {
  it('keeps the last sets of stores each alarm counted, beside the merchants and never listed as one', async () => {
    const ledger = createAttentionLedger(real.doc, 'merchants');
    expect(await ledger.last()).toBeUndefined();
    const first = {
      at: 5,
      sets: { needsReauth: ['A', 'B'], pending: [] },
      busyAt: { needsReauth: 5 },
      crowded: [],
    };
    await ledger.record(first);
    expect(await ledger.last()).toEqual(first);
    const second = { at: 6, sets: { needsReauth: ['B'] }, busyAt: { needsReauth: 6 }, crowded: ['pending'] };
    await ledger.record(second);
    expect(await ledger.last()).toEqual(second);
    expect((await real.merchants.list()).map((m) => m.merchantId)).not.toContain(ATTENTION_KEY);
  });

  it('stays under the item size limit with a fleet-wide outage counting 20,000 stores in every condition', async () => {
    const ledger = createAttentionLedger(real.doc, 'merchants');
    const fleet = Array.from({ length: 20_000 }, (_, i) => `M${String(i).padStart(12, '0')}`);
    const kinds = [
      'needsReauth',
      'refreshTokenExpiringSoon',
      'lastSyncFailed',
      'appUninstalled',
      'pushFailing',
      'pending',
    ] as const;
    const all = Object.fromEntries(kinds.map((k) => [k, fleet])) as Record<(typeof kinds)[number], string[]>;
    // Every id kept, the record is over DynamoDB's limit: the cap is what lets it be written.
    await expect(ledger.record({ at: 1, sets: all, busyAt: {}, crowded: [] })).rejects.toThrow(/size/i);
    const at = Date.now();
    expect(await tellJoined(ledger, all, at)).toEqual({ joined: [] });
    expect((await ledger.last())?.crowded).toEqual([...kinds]);
    // One more store in a crowded condition is no news; a store in a condition under the cap is.
    const next = { ...all, pending: [...fleet.slice(0, 3)] };
    expect(
      await tellJoined(ledger, { ...next, pushFailing: [...fleet, 'NEW000000000'] }, at + 60_000),
    ).toEqual({
      joined: [],
    });
    const small = { ...next, pending: [...fleet.slice(0, 3), 'NEW000000000'] };
    expect(await tellJoined(ledger, small, at + 120_000)).toEqual({
      joined: [{ kind: 'pending', merchantId: 'NEW000000000' }],
    });
  });
});

describe('the longest product code (DynamoDB)', () => {
  it('keys a slot by a code of MAX_PRODUCT_CODE_BYTES, and DynamoDB refuses one byte more', async () => {
    // The limit must be DynamoDB's own: label tests only compare codes against the constant.
    // ASCII: dynalite counts a key's characters where DynamoDB counts its UTF-8 bytes.
    const shelf = createShelfStore(real.doc, 'products', () => NOW);
    const longest = 'C'.repeat(MAX_PRODUCT_CODE_BYTES);
    await shelf.touchSlot('longest', longest, { want: want('A', longest) });
    await shelf.beginCalls('longest', [longest]);
    expect((await shelf.listSlots('longest')).map((s) => [s.code, s.unsure])).toEqual([[longest, true]]);
    const over = `${longest}C`;
    await expect(shelf.touchSlot('longest', over, { want: want('A', over) })).rejects.toThrow(/1024 bytes/);
  });
});
