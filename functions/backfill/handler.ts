import type { Context } from 'aws-lambda';
import { logger } from '../../src/observability.ts';
import { runtimeDeps } from '../../src/runtime.ts';
import { type BackfillResult, parseBackfillRequest, requestBackfill } from '../../src/sync/backfill.ts';

/** Invoked by hand: `{"merchantId": "..."}` or `{"all": true}` → queue a full resync. */
export const handler = async (event: unknown, context: Context): Promise<BackfillResult> => {
  logger.addContext(context);
  const result = await requestBackfill(runtimeDeps(), parseBackfillRequest(event));
  logger.info('Backfill queued', { ...result });
  return result;
};
