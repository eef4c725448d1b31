/**
 * The `labels …` line `npm start` prints for each push it ran. A push set aside in the dead-letter
 * queue returns to the pump as handled, like one that succeeded: only the codes' records tell them
 * apart, so the line is made from those, read after the push.
 */
import { isOutOfStep, type Slot } from '../src/domain/shelf.ts';

export function pushLine(
  storeCode: string | undefined,
  slots: readonly Slot[],
  lastPushError: string | undefined,
): string {
  const behind = slots.filter((s) => isOutOfStep(s)).length;
  const head = `labels store=${storeCode ?? '-'} codes=${slots.length}`;
  if (behind === 0) return `${head} brought in line with Clover`;
  const of = behind === slots.length ? '' : `${behind} of them `;
  const why = lastPushError === undefined ? '' : `: ${lastPushError}`;
  return `${head} ${of}not brought in line with Clover${why} (npx esl-sync status; a push set aside: npx esl-sync dlq list --queue push)`;
}
