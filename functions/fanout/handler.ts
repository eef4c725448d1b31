import type { ScheduledEvent } from 'aws-lambda';
import { lambdaHandler } from '../../src/lambda.ts';
import { METRIC } from '../../src/metric-names.ts';
import { logger, metrics } from '../../src/observability.ts';
import type { MerchantRecord } from '../../src/store/merchants.ts';
import { type FanOutResult, fanOut } from '../../src/sync/fanout.ts';
import { pollFreshness } from '../../src/sync/freshness.ts';

/** EventBridge schedule (or `esl-sync tick`) → one PollQueue message per active merchant. */
export const handler = lambdaHandler(
  async (event: ScheduledEvent | Record<string, never>, deps, context): Promise<FanOutResult> => {
    const scheduled = 'detail-type' in event && event['detail-type'] === 'Scheduled Event';
    // The fan-out's own listing also gives the freshness gauges: no second scan of the merchants.
    let listed: MerchantRecord[] = [];
    const merchants = {
      list: async () => {
        listed = await deps.merchants.list();
        return listed;
      },
    };
    const result = await fanOut(
      { merchants, pollQueue: deps.pollQueue, pollIntervalSeconds: deps.config.pollIntervalSeconds },
      scheduled ? { kind: 'schedule' } : { kind: 'manual', requestId: context.awsRequestId },
    );
    const freshness = pollFreshness(listed, Date.now());
    metrics.addMetric(METRIC.merchantsQueued, 'Count', result.queued);
    // Published every tick, zeros included, so an alarm sees a cleared problem clear.
    metrics.addMetric(METRIC.merchantsNeedingReauth, 'Count', result.attention.needsReauth);
    metrics.addMetric(METRIC.refreshTokensExpiringSoon, 'Count', result.attention.refreshTokenExpiringSoon);
    metrics.addMetric(METRIC.merchantsLastSyncFailed, 'Count', result.attention.lastSyncFailed);
    if (freshness) {
      metrics.addMetric(METRIC.lastPollAgeMax, 'Seconds', freshness.maxSeconds);
      metrics.addMetric(METRIC.lastPollAgeP95, 'Seconds', freshness.p95Seconds);
    }
    logger.info('Fan-out done', { ...result, ...(freshness ? { freshness } : {}) });
    return result;
  },
);
