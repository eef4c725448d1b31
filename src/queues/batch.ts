import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import { errorForLog, InvalidMessageError, isRetryable } from '../errors.ts';
import { logger } from '../observability.ts';
import type { QueueSender } from './sqs.ts';

export interface QueueBatchOptions<S extends z.ZodType> {
  schema: S;
  handle: (message: z.infer<S>, record: SQSRecord) => Promise<void>;
  /** Where permanently failing messages go at once, with their reason (no retry storm). */
  deadLetter: QueueSender | undefined;
}

/**
 * Runs one SQS batch from a FIFO queue with partial failures: a retryable failure reports the
 * record (and the rest of its message group, to keep order) for redelivery; a message that can
 * never succeed — bad JSON, wrong shape, permanent error — is moved to the dead-letter queue
 * straight away with its reason, logged once.
 */
export async function processQueueBatch<S extends z.ZodType>(
  event: SQSEvent,
  context: Context,
  options: QueueBatchOptions<S>,
): Promise<SQSBatchResponse> {
  const processor = new SqsFifoPartialProcessorAsync();
  const recordHandler = async (record: SQSRecord) => {
    let message: z.infer<S>;
    try {
      message = parseBody(options.schema, record.body);
    } catch (err) {
      await deadLetter(options.deadLetter, record, err);
      return;
    }
    try {
      await options.handle(message, record);
    } catch (err) {
      if (isRetryable(err)) {
        logger.warn('Message failed; it will be retried', {
          messageId: record.messageId,
          ...errorForLog(err),
        });
        throw err;
      }
      await deadLetter(options.deadLetter, record, err);
    }
  };
  return processPartialResponse(event, recordHandler, processor, {
    context,
    skipGroupOnError: true,
    throwOnFullBatchFailure: false,
  });
}

function parseBody<S extends z.ZodType>(schema: S, body: string): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InvalidMessageError('Message body is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    throw new InvalidMessageError(`Message does not match its schema: ${problems}`);
  }
  return parsed.data;
}

async function deadLetter(dlq: QueueSender | undefined, record: SQSRecord, err: unknown) {
  const reason = err instanceof Error ? err.message : String(err);
  logger.error('Message cannot succeed; moved to the dead-letter queue', {
    messageId: record.messageId,
    ...errorForLog(err),
  });
  if (!dlq) throw err; // Without a DLQ configured the queue's redrive policy takes over.
  await dlq.send([
    {
      // The original body, unchanged, so a redrive can send it back as it was.
      body: record.body,
      attributes: { failureReason: reason.slice(0, 1000), sourceMessageId: record.messageId },
      groupId: record.attributes.MessageGroupId ?? 'dead-letter',
      deduplicationId: `dlq-${record.messageId}`,
    },
  ]);
}
