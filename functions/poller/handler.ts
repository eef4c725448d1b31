import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { oneRequestAtATime } from '../../src/clover/budgeted.ts';
import { POLL_START_MARGIN_SECONDS } from '../../src/function-settings.ts';
import { METRIC } from '../../src/metric-names.ts';
import { logger, metrics } from '../../src/observability.ts';
import { processQueueBatch } from '../../src/queues/batch.ts';
import { lambdaHandler } from '../../src/runtime.ts';
import { PollMessageSchema } from '../../src/sync/messages.ts';
import { pollMerchant } from '../../src/sync/poll/index.ts';

/** PollQueue → poll each merchant's Clover items and queue label changes. */
export const handler = lambdaHandler((event: SQSEvent, deps, context): Promise<SQSBatchResponse> => {
  // This invocation's merchants are polled at once, its Clover requests one at a time.
  const clover = oneRequestAtATime(deps.clover);
  const tokens = deps.tokensFor(clover);
  return processQueueBatch(event, context, {
    schema: PollMessageSchema,
    deadLetter: deps.pollDeadLetter,
    retry: deps.pollRetry,
    parallelGroups: true,
    startMarginMs: POLL_START_MARGIN_SECONDS * 1000,
    handle: async (message) => {
      const result = await pollMerchant(
        {
          ...deps,
          clover,
          tokens,
          productCodePrecedence: deps.config.productCodePrecedence,
          onInvalidItem: (info) => {
            metrics.addMetric(METRIC.invalidCloverItem, 'Count', 1);
            logger.warn('Invalid Clover item recorded and skipped', info);
          },
        },
        message,
      );
      if (result.status === 'synced') {
        metrics.addMetric(METRIC.itemsChanged, 'Count', result.counts.changed);
        logger.info('Merchant synced', {
          merchantId: result.merchantId,
          mode: result.mode,
          ...result.counts,
          ...(result.partial === undefined ? {} : { partial: result.partial }),
        });
        if (result.partial !== undefined) metrics.addMetric(METRIC.partialRead, 'Count', 1);
      } else if (result.status === 'barrier') {
        logger.info('Queue barrier passed on to the push queue', { merchantId: result.merchantId });
      } else {
        metrics.addMetric(METRIC.merchantSkipped, 'Count', 1);
        logger.warn('Merchant skipped', { merchantId: result.merchantId, reason: result.reason });
      }
    },
  });
});
