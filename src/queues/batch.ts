import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { errorForLog, InvalidMessageError, isRetryable } from '../errors.ts';
import { MAX_RECEIVES, retryDelaySeconds } from '../function-settings.ts';
import { logger } from '../observability.ts';
import * as z from '../zod.ts';
import type { QueueSender, RetryScheduler } from './sqs.ts';

export interface QueueBatchOptions<S extends z.ZodMiniType> {
  schema: S;
  handle: (message: z.infer<S>, record: SQSRecord) => Promise<void>;
  /** Where permanently failing messages go at once, with their reason (no retry storm). */
  deadLetter: QueueSender | undefined;
  /**
   * Told of a valid message set aside in the dead-letter queue, its work left undone. On its last
   * receive it is told before the batch starts: should it not end (Lambda stopped at its timeout, or
   * handed back unstarted), SQS sets it aside at the next receive with no code of ours running.
   */
  onSetAside?: (message: z.infer<S>) => Promise<void>;
  /** Brings failed messages back after a backoff instead of the queue's long visibility timeout. */
  retry?: RetryScheduler & { baseSeconds: number };
  /** Message groups (one merchant each) handled at once; one group's messages stay in order. */
  parallelGroups?: boolean;
  /**
   * A message is not started with less than this of the invocation left (ms): it is handed back
   * for a retry rather than cut off by the timeout with the rest of the batch.
   */
  startMarginMs?: number;
}

/** A message handed back unstarted because the invocation is running out of time. */
export class NotStartedError extends Error {}

/**
 * Runs one SQS batch from a FIFO queue with partial failures: a retryable failure reports the
 * record (and the rest of its message group, to keep order) for redelivery; a message that can
 * never succeed — bad JSON, wrong shape, permanent error — is moved to the dead-letter queue
 * straight away with its reason, logged once.
 */
export async function processQueueBatch<S extends z.ZodMiniType>(
  event: SQSEvent,
  context: Context,
  options: QueueBatchOptions<S>,
): Promise<SQSBatchResponse> {
  const margin = options.startMarginMs;
  /** Best effort, and before any letter is sent: should its send fail, SQS sets the message aside. */
  const noteSetAside = (record: SQSRecord, message: z.infer<S>) =>
    options.onSetAside?.(message).catch((e: unknown) =>
      logger.warn('Could not note a message set aside', {
        messageId: record.messageId,
        ...errorForLog(e),
      }),
    );
  // Every message on its last receive is noted before any message of the batch starts, not just
  // before its own: should the invocation end before it starts (Lambda stopped at its timeout in an
  // earlier message, or its group handed back after one failed), SQS sets it aside as well.
  if (options.onSetAside)
    await Promise.all(
      event.Records.filter(isLastReceive).map(async (record) => {
        let message: z.infer<S>;
        try {
          message = parseBody(options.schema, record.body);
        } catch {
          return; // dead-lettered with its reason when its turn comes
        }
        await noteSetAside(record, message);
      }),
    );
  const recordHandler = async (record: SQSRecord) => {
    let message: z.infer<S>;
    try {
      message = parseBody(options.schema, record.body);
    } catch (err) {
      await deadLetter(options.deadLetter, record, err);
      return;
    }
    const lastReceive = isLastReceive(record);
    if (margin !== undefined && context.getRemainingTimeInMillis() < margin) {
      if (!lastReceive)
        throw new NotStartedError('Not started: too little time left in this invocation; retried shortly');
      const late = new NotStartedError('too little time was left in the invocation');
      await deadLetter(
        options.deadLetter,
        record,
        late,
        `not started on its last receive (${MAX_RECEIVES}): `,
      );
      return;
    }
    try {
      await options.handle(message, record);
    } catch (err) {
      // On its last receive it goes to the dead-letter queue here, with its reason, rather than
      // being moved there by SQS at the next receive with none.
      if (isRetryable(err) && !lastReceive) {
        logger.warn('Message failed; it will be retried', {
          messageId: record.messageId,
          ...errorForLog(err),
        });
        throw err;
      }
      const tries = isRetryable(err) ? `failed on its last receive (${MAX_RECEIVES}): ` : '';
      if (!lastReceive) await noteSetAside(record, message);
      await deadLetter(options.deadLetter, record, err, tries);
    }
  };
  const run = (records: SQSRecord[]) =>
    processPartialResponse({ Records: records }, recordHandler, new SqsFifoPartialProcessorAsync(), {
      context,
      skipGroupOnError: true,
      throwOnFullBatchFailure: false,
    });
  const response: SQSBatchResponse = options.parallelGroups
    ? {
        batchItemFailures: (await Promise.all(byGroup(event.Records).map(run))).flatMap(
          (r) => r.batchItemFailures,
        ),
      }
    : await run(event.Records);
  if (options.retry) await scheduleRetries(options.retry, event, response);
  return response;
}

/** The message is on its last receive: at its next, SQS moves it to the dead-letter queue. */
function isLastReceive(record: SQSRecord): boolean {
  return Number(record.attributes.ApproximateReceiveCount) >= MAX_RECEIVES;
}

/**
 * Every reported record — the failed one and the rest of its group, skipped to keep order — gets
 * the backoff; a group comes back as soon as its first message does. Best effort: if SQS refuses,
 * the queue's own visibility timeout still brings the messages back.
 */
async function scheduleRetries(
  retry: RetryScheduler & { baseSeconds: number },
  event: SQSEvent,
  response: SQSBatchResponse,
) {
  const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
  const messages = event.Records.filter((r) => failed.has(r.messageId)).map((r) => ({
    receiptHandle: r.receiptHandle,
    seconds: retryDelaySeconds(Number(r.attributes.ApproximateReceiveCount), retry.baseSeconds),
  }));
  if (messages.length === 0) return;
  try {
    await retry.retryIn(messages);
  } catch (err) {
    logger.warn('Could not shorten the retry delay of failed messages', errorForLog(err));
  }
}

/** The records of each message group, in order; groups in the order they first appear. */
function byGroup(records: readonly SQSRecord[]): SQSRecord[][] {
  const groups = new Map<string, SQSRecord[]>();
  for (const r of records) {
    const id = r.attributes.MessageGroupId ?? r.messageId;
    groups.set(id, [...(groups.get(id) ?? []), r]);
  }
  return [...groups.values()];
}

function parseBody<S extends z.ZodMiniType>(schema: S, body: string): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InvalidMessageError('Message body is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = z.issuesText(parsed.error.issues, 'body');
    throw new InvalidMessageError(`Message does not match its schema: ${problems}`);
  }
  return parsed.data;
}

async function deadLetter(dlq: QueueSender | undefined, record: SQSRecord, err: unknown, prefix = '') {
  const reason = prefix + (err instanceof Error ? err.message : String(err));
  // A message out of tries may well pass later (a redrive), unlike one that can never succeed.
  logger.error(
    prefix
      ? 'Message failed on its last try; moved to the dead-letter queue'
      : 'Message cannot succeed; moved to the dead-letter queue',
    { messageId: record.messageId, ...errorForLog(err) },
  );
  if (!dlq) throw err; // Without a DLQ configured the queue's redrive policy takes over.
  await dlq.send([
    {
      // The original body, unchanged, so a redrive can send it back as it was.
      body: record.body,
      attributes: { failureReason: attributeText(reason, 1000), sourceMessageId: record.messageId },
      groupId: record.attributes.MessageGroupId ?? 'dead-letter',
      deduplicationId: `dlq-${record.messageId}`,
    },
  ]);
}

/**
 * Text SQS takes as a message attribute: at most `max` characters, none cut in half, and the
 * characters it refuses (controls, lone surrogates) as '?'. A reason it refused would fail the
 * letter's send, and the message would reach the dead-letter queue later, without its reason.
 */
function attributeText(text: string, max: number): string {
  let out = '';
  // By code point: a pair stays whole, and a lone surrogate is one character SQS refuses.
  for (const c of text) {
    const taken = /^[\t\n\r\u{20}-\u{D7FF}\u{E000}-\u{FFFD}\u{10000}-\u{10FFFF}]$/u.test(c) ? c : '?';
    if (out.length + taken.length > max) break;
    out += taken;
  }
  return out;
}
