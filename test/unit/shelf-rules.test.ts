import { describe, expect, it } from 'vitest';
import { countShelf } from '../../src/domain/counts.ts';
import {
  ownerOf,
  refusedOffShelf,
  type Slot,
  shelfReport,
  slotAction,
  type Want,
  wantedLabel,
} from '../../src/domain/shelf.ts';

const label = (pc: string, pp = '1.00') => ({ pc, pn: 'n', pp });
const want = (itemId: string, wantsSince: number, labelHash = `h-${itemId}`): Want => ({
  itemId,
  label: label('X'),
  labelHash,
  wantsSince,
});
const slot = (over: Partial<Slot> = {}): Slot => ({ code: 'X', wanters: [], ...over });

describe('the code rule', () => {
  it('gives a code to the item that wanted it first, the item id breaking ties', () => {
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
    expect(slotAction(slot({ wanters: [want('A', 1)], held }))).toEqual({ kind: 'none' });
    expect(slotAction(slot({ wanters: [want('A', 1)], held, unsure: true }))).toMatchObject({
      kind: 'create',
    });
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
  it('tells a refused label the shelf does not show from one Hipoink holds all the same', () => {
    const refused = { labelHash: 'h-A', reason: 'bad', itemId: 'A' };
    const older = { label: label('X', '0.50'), labelHash: 'h-old', itemId: 'A' };
    expect(refusedOffShelf(slot({ wanters: [want('A', 1)], refused }))).toBe(true);
    expect(refusedOffShelf(slot({ wanters: [want('A', 1)], refused, held: older }))).toBe(true);
    expect(refusedOffShelf(slot({ wanters: [want('A', 1)], refused, held }))).toBe(false);
    // A refusal of a label the owner no longer wants is no refusal of what it wants now.
    expect(refusedOffShelf(slot({ wanters: [want('A', 1, 'h-new')], refused }))).toBe(false);
  });
});

describe('what an item wants', () => {
  const item = { status: 'active' as const, label: label('X'), labelHash: 'hx' };
  it('keeps the last valid label through an invalid version, and wants nothing once removed', () => {
    expect(wantedLabel(item)).toEqual({ label: label('X'), labelHash: 'hx' });
    // An invalid version's record keeps the label of the last valid one.
    expect(wantedLabel({ ...item, status: 'invalid' })).toEqual({ label: label('X'), labelHash: 'hx' });
    expect(wantedLabel({ status: 'invalid' })).toBeUndefined();
    expect(wantedLabel({ ...item, status: 'removed' })).toBeUndefined();
    expect(wantedLabel(undefined)).toBeUndefined();
  });
});

describe('the shelf report', () => {
  it('reports items that lose their code, and refused owners', () => {
    const items = [
      { itemId: 'A', status: 'active' as const, wantsSince: 1 },
      { itemId: 'B', status: 'active' as const, wantsSince: 2 },
      { itemId: 'C', status: 'invalid' as const, wantsSince: 3, invalidReason: 'price: negative' },
    ];
    const slots = [
      slot({
        wanters: [want('A', 1), want('B', 2)],
        held: { label: label('X'), labelHash: 'h-A', itemId: 'A' },
      }),
      slot({ code: 'Y', wanters: [want('D', 4)], refused: { labelHash: 'h-D', reason: 'bad', itemId: 'D' } }),
    ];
    const report = shelfReport(items, slots);
    expect(report).toEqual({
      invalid: [
        { itemId: 'C', reason: 'price: negative' },
        { itemId: 'B', reason: 'product code X is already used by Clover item A ("n")' },
      ],
      rejected: [{ itemId: 'D', reason: 'bad' }],
    });
    // The counts `status` shows say as much as the lists `merchants show` gives.
    expect(countShelf(items, slots)).toMatchObject({
      invalid: report.invalid.length,
      refused: report.rejected.length,
    });
  });
});

describe('the shelf counts', () => {
  it('count a code out of step exactly when Hipoink must do something under it, unsure calls aside', () => {
    const items = [
      { itemId: 'A', status: 'active' as const, wantsSince: 1 },
      { itemId: 'B', status: 'removed' as const, wantsSince: 2 },
      { itemId: 'C', status: 'invalid' as const, wantsSince: 3 },
    ];
    const heldBy = (itemId: string, code = 'X') => ({ label: label(code), labelHash: `h-${itemId}`, itemId });
    const slots = [
      slot({ wanters: [want('A', 1)], held: heldBy('A') }), // in step
      slot({ code: 'Y', wanters: [want('A', 1)] }), // to create
      slot({ code: 'Z', held: heldBy('B', 'Z') }), // to delete
      slot({ code: 'R', wanters: [want('D', 4)], refused: { labelHash: 'h-D', reason: 'bad', itemId: 'D' } }),
      slot({ code: 'E' }), // nobody wants it, nothing held
      // Counted as recorded: a call under way does not make a code out of step by itself.
      slot({ code: 'U', wanters: [want('A', 1)], held: heldBy('A', 'U'), unsure: true }),
    ];
    expect(countShelf(items, slots)).toEqual({
      items: 3,
      removed: 1,
      invalid: 1,
      onShelf: 3,
      outOfStep: 2,
      refused: 1,
    });
    for (const s of slots.slice(0, 5))
      expect(countShelf([], [s]).outOfStep).toBe(+(slotAction(s).kind !== 'none'));
  });
});
