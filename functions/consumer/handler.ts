import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { PUSH_START_MARGIN_SECONDS } from '../../src/function-settings.ts';
import { METRIC } from '../../src/metric-names.ts';
import { logger, metrics } from '../../src/observability.ts';
import { processQueueBatch } from '../../src/queues/batch.ts';
import { lambdaHandler } from '../../src/runtime.ts';
import { PushMessageSchema } from '../../src/sync/messages.ts';
import { pushCodes } from '../../src/sync/push.ts';

/** PushQueue → bring Hipoink's labels under the given product codes in line with their stored slots. */
export const handler = lambdaHandler(
  (event: SQSEvent, deps, context): Promise<SQSBatchResponse> =>
    processQueueBatch(event, context, {
      schema: PushMessageSchema,
      deadLetter: deps.pushDeadLetter,
      retry: deps.pushRetry,
      startMarginMs: PUSH_START_MARGIN_SECONDS * 1000,
      // Its codes stay out of step: the merchant's next poll queues them again. A clear of a store
      // it leaves is the move's or removal's to send again (that command, run again).
      onSetAside: (message) =>
        message.barrier === undefined && message.clearFrom === undefined
          ? deps.merchants.notePushSetAside(message.merchantId)
          : Promise.resolve(),
      handle: async (message) => {
        const result = await pushCodes(
          {
            ...deps,
            onRejected: (info) => {
              metrics.addMetric(METRIC.productRejected, 'Count', 1);
              logger.warn('Hipoink rejected a product', info);
            },
            onRemovalRefused: (info) => {
              metrics.addMetric(METRIC.labelRemovalRefused, 'Count', 1);
              logger.warn('Hipoink refused to delete a product code; passed over', info);
            },
          },
          message,
        );
        if (result.skipped) {
          logger.warn('Push skipped: nothing to push', {
            merchantId: result.merchantId,
            reason: result.skipped,
          });
          return;
        }
        metrics.addMetric(METRIC.labelsUpserted, 'Count', result.upserted);
        metrics.addMetric(METRIC.labelsRemoved, 'Count', result.removed);
        logger.info('Labels pushed', { ...result });
      },
    }),
);
