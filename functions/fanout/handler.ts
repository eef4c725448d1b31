import type { Context, ScheduledEvent } from 'aws-lambda';
import { logger, metrics } from '../../src/observability.ts';
import { runtimeDeps } from '../../src/runtime.ts';
import { type FanOutResult, fanOut } from '../../src/sync/fanout.ts';

/** EventBridge schedule (or `esl-sync tick`) → one PollQueue message per active merchant. */
export const handler = async (
  event: ScheduledEvent | Record<string, never>,
  context: Context,
): Promise<FanOutResult> => {
  logger.addContext(context);
  const deps = runtimeDeps();
  const scheduled = 'detail-type' in event && event['detail-type'] === 'Scheduled Event';
  try {
    const result = await fanOut(
      {
        merchants: deps.merchants,
        pollQueue: deps.pollQueue,
        pollIntervalSeconds: deps.config.pollIntervalSeconds,
      },
      scheduled ? { kind: 'schedule' } : { kind: 'manual', requestId: context.awsRequestId },
    );
    metrics.addMetric('MerchantsQueued', 'Count', result.queued);
    logger.info('Fan-out done', { ...result });
    return result;
  } finally {
    metrics.publishStoredMetrics();
  }
};
