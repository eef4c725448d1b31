import type { ScheduledEvent } from 'aws-lambda';
import { lambdaHandler } from '../../src/lambda.ts';
import { METRIC } from '../../src/metric-names.ts';
import { logger, metrics } from '../../src/observability.ts';
import { type FanOutResult, fanOut } from '../../src/sync/fanout.ts';

/** EventBridge schedule (or `esl-sync tick`) → one PollQueue message per active merchant. */
export const handler = lambdaHandler(
  async (event: ScheduledEvent | Record<string, never>, deps, context): Promise<FanOutResult> => {
    const scheduled = 'detail-type' in event && event['detail-type'] === 'Scheduled Event';
    const result = await fanOut(
      {
        merchants: deps.merchants,
        pollQueue: deps.pollQueue,
        pollIntervalSeconds: deps.config.pollIntervalSeconds,
      },
      scheduled ? { kind: 'schedule' } : { kind: 'manual', requestId: context.awsRequestId },
    );
    metrics.addMetric(METRIC.merchantsQueued, 'Count', result.queued);
    // Published every tick, zeros included, so an alarm sees a cleared problem clear.
    metrics.addMetric(METRIC.merchantsNeedingReauth, 'Count', result.attention.needsReauth);
    metrics.addMetric(METRIC.refreshTokensExpiringSoon, 'Count', result.attention.refreshTokenExpiringSoon);
    metrics.addMetric(METRIC.merchantsLastSyncFailed, 'Count', result.attention.lastSyncFailed);
    logger.info('Fan-out done', { ...result });
    return result;
  },
);
