/**
 * The `labels …` lines `npm start` prints for each push it ran. A push set aside in the dead-letter
 * queue returns to the pump as handled, like one that succeeded: only the records tell them apart,
 * so each line is made from those, read after the push.
 */
import { isOutOfStep, ownerRefusal, refusedOffShelf, type Slot } from '../src/domain/shelf.ts';

export function pushLine(
  storeCode: string | undefined,
  slots: readonly Slot[],
  lastPushError: string | undefined,
): string {
  const behind = slots.filter((s) => isOutOfStep(s)).length;
  const head = `labels store=${storeCode ?? '-'} codes=${slots.length}`;
  const ofThem = (n: number) => (n === slots.length ? '' : `${n} of them `);
  if (behind === 0) {
    // In step as the push rules go, yet not shown: Hipoink refused the owner's label as it is now.
    const refused = slots.filter(refusedOffShelf);
    const [first] = refused;
    if (first === undefined) return `${head} brought in line with Clover`;
    const rest = refused.length === slots.length ? '' : ', the rest brought in line with Clover';
    return `${head} ${ofThem(refused.length)}refused by Hipoink (${ownerRefusal(first)?.reason}): not shown, and not sent again until the item changes or a backfill${rest} (npx esl-sync status)`;
  }
  const why = lastPushError === undefined ? '' : `: ${lastPushError}`;
  return `${head} ${ofThem(behind)}not brought in line with Clover${why} (npx esl-sync status; a push set aside: npx esl-sync dlq list --queue push)`;
}

/**
 * The `labels …` line of a push that takes a merchant's codes off a store it leaves (a move) or is
 * removed from: it names that store, not the merchant's, and tells the codes the store's clear
 * record still lists (a push set aside: the move or removal stops there) or that Hipoink refused to
 * delete (their labels still show there).
 */
export function clearLine(
  storeCode: string,
  codes: readonly string[],
  state: { pending: readonly string[]; refused: readonly string[] },
): string {
  const head = `labels store=${storeCode} codes=${codes.length}`;
  const ofThem = (n: number) => (n === codes.length ? '' : `${n} of them `);
  const pending = codes.filter((c) => state.pending.includes(c)).length;
  if (pending > 0)
    return `${head} ${ofThem(pending)}not taken off: the push deleting them was set aside (npx esl-sync dlq list --queue push says why; once fixed, the same merchants command again), or the merchant's labels live in that store again`;
  const refused = codes.filter((c) => state.refused.includes(c)).length;
  if (refused > 0) {
    const rest = refused === codes.length ? '' : ', the rest taken off';
    return `${head} ${ofThem(refused)}refused by Hipoink to delete: their labels still show there${rest}`;
  }
  return `${head} taken off the store`;
}
