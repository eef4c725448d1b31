import { logger } from '../../src/observability.ts';
import { lambdaHandler } from '../../src/runtime.ts';
import { type BackfillResult, parseBackfillRequest, requestBackfill } from '../../src/sync/backfill.ts';

/** Invoked by hand: `{"merchantId": "..."}` or `{"all": true}` → queue a full resync. */
export const handler = lambdaHandler(async (event: unknown, deps): Promise<BackfillResult> => {
  const result = await requestBackfill(deps, parseBackfillRequest(event));
  logger.info('Backfill queued', { ...result });
  return result;
});
