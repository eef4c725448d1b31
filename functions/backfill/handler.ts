import type { Context } from 'aws-lambda';
import { InvalidMessageError } from '../../src/errors.ts';
import { logger } from '../../src/observability.ts';
import { runtimeDeps } from '../../src/runtime.ts';
import { type BackfillResult, requestBackfill } from '../../src/sync/backfill.ts';
import { BackfillRequestSchema } from '../../src/sync/messages.ts';

/** Invoked by hand: `{"merchantId": "..."}` or `{"all": true}` → queue a full resync. */
export const handler = async (event: unknown, context: Context): Promise<BackfillResult> => {
  logger.addContext(context);
  const parsed = BackfillRequestSchema.safeParse(event);
  if (!parsed.success) {
    throw new InvalidMessageError('Backfill expects {"merchantId": "<id>"} or {"all": true}');
  }
  const result = await requestBackfill(runtimeDeps(), parsed.data);
  logger.info('Backfill queued', { ...result });
  return result;
};
