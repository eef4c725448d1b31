/**
 * A store's shelf in numbers, as operators see it in `esl-sync status`: kept on the merchant record
 * by adding what each write changed, and counted afresh from all records at each ghost cleanup.
 */
import { blocked, type Item, isOutOfStep, ownerRefusal, type Slot } from './shelf.ts';

export interface ShelfCounts {
  items: number;
  removed: number;
  /** Items not shown for a reason of their own: invalid, or blocked by another item's code. */
  invalid: number;
  /** Codes Hipoink holds a label under. */
  onShelf: number;
  /** Codes whose recorded shelf is not what the code rule says (a push is due). */
  outOfStep: number;
  /** Codes whose owner's current label Hipoink refused. */
  refused: number;
}
export const NO_COUNTS: ShelfCounts = {
  items: 0,
  removed: 0,
  invalid: 0,
  onShelf: 0,
  outOfStep: 0,
  refused: 0,
};

/** What one item record adds to its store's counts. */
export const itemCounts = (item: Pick<Item, 'status'> | undefined): ShelfCounts => ({
  ...NO_COUNTS,
  items: +!!item,
  removed: +(item?.status === 'removed'),
  invalid: +(item?.status === 'invalid'),
});

/** What one slot adds to its store's counts, as recorded (a call under way does not count). */
export const slotCounts = (slot: Slot | undefined): ShelfCounts => ({
  ...NO_COUNTS,
  invalid: slot ? blocked(slot).length : 0,
  onShelf: +!!slot?.held,
  outOfStep: +(!!slot && isOutOfStep({ ...slot, unsure: false })),
  refused: +(!!slot && !!ownerRefusal(slot)),
});

/** `into` plus `sign` times each count of `counts`. */
export function addCounts(into: ShelfCounts, counts: ShelfCounts, sign = 1): ShelfCounts {
  for (const k of Object.keys(into) as Array<keyof ShelfCounts>) into[k] += sign * counts[k];
  return into;
}

/** How a store's counts move when one record's counts go from `before` to `after`. */
export const countChange = (before: ShelfCounts, after: ShelfCounts) => addCounts({ ...after }, before, -1);

/** A store's counts, counted afresh from all its records. */
export const countShelf = (items: readonly Item[], slots: readonly Slot[]) => {
  const sum = { ...NO_COUNTS };
  for (const item of items) addCounts(sum, itemCounts(item));
  for (const slot of slots) addCounts(sum, slotCounts(slot));
  return sum;
};
