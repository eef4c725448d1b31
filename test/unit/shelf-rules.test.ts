import { describe, expect, it } from 'vitest';
import {
  ownerOf,
  type Slot,
  shelfReport,
  slotAction,
  type Want,
  wantedAfter,
} from '../../src/domain/shelf.ts';

const label = (pc: string, pp = '1.00') => ({ pc, pn: 'n', pp });
const want = (itemId: string, firstSeenAt: number, labelHash = `h-${itemId}`): Want => ({
  itemId,
  label: label('X'),
  labelHash,
  firstSeenAt,
});
const slot = (over: Partial<Slot> = {}): Slot => ({ code: 'X', wanters: [], ...over });

describe('the code rule', () => {
  it('gives a code to the first seen of the items that want it, the item id breaking ties', () => {
    expect(ownerOf(slot({ wanters: [want('B', 1), want('A', 2)] }))?.itemId).toBe('B');
    expect(ownerOf(slot({ wanters: [want('B', 1), want('A', 1)] }))?.itemId).toBe('A');
    expect(ownerOf(slot())).toBeUndefined();
  });
});

describe('what Hipoink must do under a code', () => {
  const held = { label: label('X'), labelHash: 'h-A', itemId: 'A' };
  it('shows the owner’s label where Hipoink holds something else, and nothing nobody wants', () => {
    expect(slotAction(slot({ wanters: [want('A', 1)] }))).toMatchObject({ kind: 'create', itemId: 'A' });
    expect(slotAction(slot({ wanters: [want('A', 1)], held }))).toEqual({ kind: 'none' });
    expect(slotAction(slot({ wanters: [want('B', 1)], held }))).toMatchObject({
      kind: 'create',
      itemId: 'B',
    });
    expect(slotAction(slot({ held }))).toEqual({ kind: 'delete' });
    expect(slotAction(slot())).toEqual({ kind: 'none' });
  });
  it('trusts what is recorded as held unless a call under the code may have changed Hipoink unseen', () => {
    const changed = { outOfStepSince: 5 };
    expect(slotAction(slot({ wanters: [want('A', 1)], held, ...changed }))).toEqual({ kind: 'none' });
    expect(slotAction(slot({ wanters: [want('A', 1)], held, unsure: true }))).toMatchObject({
      kind: 'create',
    });
    expect(slotAction(slot({ ...changed }))).toEqual({ kind: 'none' });
    expect(slotAction(slot({ unsure: true }))).toEqual({ kind: 'delete' });
    expect(slotAction(slot({ wanters: [want('A', 1)], held }), { repush: true })).toMatchObject({
      kind: 'create',
    });
  });
  it('does not send a refused label again until its slot changes or a full resync retries it', () => {
    const refused = { labelHash: 'h-A', reason: 'bad', itemId: 'A' };
    expect(slotAction(slot({ wanters: [want('A', 1)], refused }))).toEqual({ kind: 'none' });
    expect(slotAction(slot({ wanters: [want('A', 1)], refused }), { retryRefused: true })).toMatchObject({
      kind: 'create',
    });
    expect(slotAction(slot({ wanters: [want('A', 1, 'h-new')], refused }))).toMatchObject({ kind: 'create' });
  });
});

describe('what an item wants', () => {
  const before = {
    itemId: 'A',
    status: 'active' as const,
    label: label('X'),
    labelHash: 'hx',
    firstSeenAt: 1,
  };
  it('keeps the last valid label through an invalid version, and wants nothing once removed', () => {
    expect(wantedAfter(before, { kind: 'invalid', itemId: 'A', modifiedTime: 2, reason: 'no name' })).toEqual(
      {
        label: label('X'),
        labelHash: 'hx',
      },
    );
    expect(
      wantedAfter(before, { kind: 'remove', itemId: 'A', modifiedTime: 2, reason: 'hidden' }),
    ).toBeUndefined();
    expect(
      wantedAfter(undefined, { kind: 'invalid', itemId: 'A', modifiedTime: 2, reason: 'x' }),
    ).toBeUndefined();
  });
});

describe('the shelf report', () => {
  it('reports items that lose their code, and refused owners', () => {
    const items = [
      { itemId: 'A', status: 'active' as const, firstSeenAt: 1 },
      { itemId: 'B', status: 'active' as const, firstSeenAt: 2 },
      { itemId: 'C', status: 'invalid' as const, firstSeenAt: 3, invalidReason: 'price: negative' },
    ];
    const slots = [
      slot({
        wanters: [want('A', 1), want('B', 2)],
        held: { label: label('X'), labelHash: 'h-A', itemId: 'A' },
      }),
      slot({ code: 'Y', wanters: [want('D', 4)], refused: { labelHash: 'h-D', reason: 'bad', itemId: 'D' } }),
    ];
    expect(shelfReport(items, slots)).toEqual({
      counts: { items: 3, removed: 0, invalid: 1, onShelf: 1, outOfStep: 0, refused: 1 },
      invalid: [
        { itemId: 'C', reason: 'price: negative' },
        { itemId: 'B', reason: 'product code X is already used by Clover item A' },
      ],
      rejected: [{ itemId: 'D', reason: 'bad' }],
    });
  });
});
