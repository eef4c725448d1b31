/**
 * The `labels …` line `npm start` prints for each push it ran. A push set aside in the dead-letter
 * queue returns to the pump as handled, like one that succeeded: only the codes' records tell them
 * apart, so the line is made from those, read after the push.
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
