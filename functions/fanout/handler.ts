import type { ScheduledEvent } from 'aws-lambda';
import { budgetLimits } from '../../src/clover/budgeted.ts';
import { METRIC } from '../../src/metric-names.ts';
import { logger, metrics } from '../../src/observability.ts';
import { lambdaHandler } from '../../src/runtime.ts';
import { type FanOutResult, fanOut } from '../../src/sync/fanout.ts';

/**
 * EventBridge schedule → one PollQueue message per active merchant whose poll time came; `esl-sync
 * tick` → one per active merchant.
 */
export const handler = lambdaHandler(
  async (event: ScheduledEvent | Record<string, never>, deps, context): Promise<FanOutResult> => {
    const scheduled = 'detail-type' in event && event['detail-type'] === 'Scheduled Event';
    const result = await fanOut(
      {
        merchants: deps.merchants,
        attention: deps.attention,
        pollQueue: deps.pollQueue,
        cadence: deps.config,
        fanOutPeriodSeconds: deps.config.fanOutPeriodSeconds,
        readRequestsPerSecond: budgetLimits(deps.config.cloverRequestsPerSecond).reads,
      },
      scheduled ? { kind: 'schedule' } : { kind: 'manual', requestId: context.awsRequestId },
    );
    metrics.addMetric(METRIC.merchantsQueued, 'Count', result.queued);
    // Published every tick, zeros included, so an alarm sees a cleared problem clear.
    metrics.addMetric(METRIC.merchantsNeedingReauth, 'Count', result.attention.needsReauth);
    metrics.addMetric(METRIC.refreshTokensExpiringSoon, 'Count', result.attention.refreshTokenExpiringSoon);
    metrics.addMetric(METRIC.merchantsLastSyncFailed, 'Count', result.attention.lastSyncFailed);
    metrics.addMetric(METRIC.merchantsAppUninstalled, 'Count', result.attention.appUninstalled);
    metrics.addMetric(METRIC.merchantsPushFailing, 'Count', result.attention.pushFailing);
    metrics.addMetric(METRIC.merchantsPending, 'Count', result.attention.pending);
    metrics.addMetric(METRIC.storesJoinedAttention, 'Count', result.joinedCount);
    if (result.joinedCount > 0)
      logger.warn('Stores joined a condition other stores were already in', {
        joined: result.joined,
        joinedCount: result.joinedCount,
      });
    if (result.joinedUnknown !== undefined)
      logger.warn('Stores joining a firing alarm could not be told', { reason: result.joinedUnknown });
    // At 100% or more the fleet asks for more polls than Clover allows: intervals are stretched.
    metrics.addMetric(METRIC.pollLoadPercent, 'Percent', result.load.percent);
    if (result.freshness) {
      metrics.addMetric(METRIC.lastPollAgeMax, 'Seconds', result.freshness.maxSeconds);
      metrics.addMetric(METRIC.lastPollAgeP95, 'Seconds', result.freshness.p95Seconds);
    }
    logger.info('Fan-out done', { ...result });
    return result;
  },
);
