/**
 * A store's shelf in numbers, as operators see it in `esl-sync status`: kept on the merchant record
 * by adding what each write changed, and counted afresh from all records when a poll lists them.
 */
import { type Item, type Slot, slotAction } from './shelf.ts';

export interface ShelfCounts {
  items: number;
  removed: number;
  invalid: number;
  /** Codes Hipoink holds a label under. */
  onShelf: number;
  /** Codes whose recorded shelf is not what the code rule says (a push is due). */
  outOfStep: number;
  /** Codes under which Hipoink refused a label. */
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

/** What one item or slot record adds to its store's counts (a slot as recorded: unsure calls aside). */
export function countOf(record: Pick<Item, 'status'> | Omit<Slot, 'unsure'> | undefined): ShelfCounts {
  if (!record) return { ...NO_COUNTS };
  if ('status' in record)
    return {
      ...NO_COUNTS,
      items: 1,
      removed: +(record.status === 'removed'),
      invalid: +(record.status === 'invalid'),
    };
  const outOfStep = +(slotAction({ ...record, unsure: false }).kind !== 'none');
  return { ...NO_COUNTS, onShelf: +!!record.held, refused: +!!record.refused, outOfStep };
}

/** `into` plus `sign` times each count of `counts`. */
export function addCounts(into: ShelfCounts, counts: ShelfCounts, sign = 1): ShelfCounts {
  for (const k of Object.keys(into) as Array<keyof ShelfCounts>) into[k] += sign * counts[k];
  return into;
}

/** How a change of one record moves its store's counts. */
export const countChange = (before: Parameters<typeof countOf>[0], after: Parameters<typeof countOf>[0]) =>
  addCounts(countOf(after), countOf(before), -1);

/** A store's counts, counted afresh from all its records. */
export const countShelf = (items: readonly Item[], slots: readonly Slot[]) =>
  [...items, ...slots].reduce((sum, r) => addCounts(sum, countOf(r)), { ...NO_COUNTS });
