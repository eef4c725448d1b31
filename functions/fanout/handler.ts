import type { Context, ScheduledEvent } from 'aws-lambda';
import { logger, metrics } from '../../src/observability.ts';
import { runtimeDeps } from '../../src/runtime.ts';
import { fanOut, type FanOutResult } from '../../src/sync/fanout.ts';

/** EventBridge schedule (or `esl-sync tick`) → one PollQueue message per active merchant. */
export const handler = async (_event: ScheduledEvent | Record<string, never>, context: Context): Promise<FanOutResult> => {
  logger.addContext(context);
  const deps = runtimeDeps();
  try {
    const result = await fanOut({
      merchants: deps.merchants,
      pollQueue: deps.pollQueue,
      pollIntervalSeconds: deps.config.pollIntervalSeconds,
    });
    metrics.addMetric('MerchantsQueued', 'Count', result.queued);
    logger.info('Fan-out done', { ...result });
    return result;
  } finally {
    metrics.publishStoredMetrics();
  }
};
