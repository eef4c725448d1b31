import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  SQSClient,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { CALL_CHECK, callCheck } from '../call-check.ts';
import { chunked } from '../chunked.ts';

/**
 * Requests go to the client's endpoint rather than the host inside each queue URL: on AWS both
 * are the regional SQS endpoint, and locally fauxqs's AWS-style queue URLs
 * (sqs.<region>.localhost) need not resolve.
 */
export function createSqsClient(config: SQSClientConfig = {}): SQSClient {
  const client = new SQSClient({ useQueueUrlAsEndpoint: false, ...config });
  const queue = (input: { QueueUrl?: unknown }) =>
    typeof input.QueueUrl === 'string' ? [input.QueueUrl] : [];
  client.middlewareStack.add(callCheck('sqs', queue), CALL_CHECK);
  return client;
}

export interface QueueMessage {
  body: unknown;
  /** FIFO only: messages of one group are delivered one at a time, in order. */
  groupId?: string;
  /** FIFO only: a second message with the same id within 5 minutes is dropped by SQS. */
  deduplicationId?: string;
  /** String message attributes (e.g. why a message was dead-lettered). */
  attributes?: Record<string, string>;
}

export interface QueueSender {
  send(messages: readonly QueueMessage[]): Promise<void>;
}

/** Most entries one SQS batch request takes. */
export const SQS_BATCH_LIMIT = 10;
/**
 * Most bytes of bodies and attributes one batch request sends (so one message too): SQS's limit for
 * years, now 1 MiB. Keeping to the older one costs only more requests for large messages.
 */
export const SQS_BATCH_BYTES = 256 * 1024;

/** A message's size as SQS counts it: its body, and each attribute's name, type and value. */
const sqsBytes = (body: string, attributes: Record<string, string> = {}) =>
  Object.entries(attributes).reduce(
    (n, [k, v]) => n + Buffer.byteLength(k) + 'String'.length + Buffer.byteLength(v),
    Buffer.byteLength(body),
  );

/** Messages in runs SQS takes in one batch request: by count, and by bytes. */
function batchesOf(messages: readonly QueueMessage[]) {
  const batches: Array<Array<QueueMessage & { text: string }>> = [];
  let bytes = 0;
  for (const m of messages) {
    const text = typeof m.body === 'string' ? m.body : JSON.stringify(m.body);
    const size = sqsBytes(text, m.attributes);
    const last = batches.at(-1);
    if (!last || last.length >= SQS_BATCH_LIMIT || bytes + size > SQS_BATCH_BYTES) {
      batches.push([{ ...m, text }]);
      bytes = size;
    } else {
      last.push({ ...m, text });
      bytes += size;
    }
  }
  return batches;
}

export function createQueueSender(sqs: SQSClient, queueUrl: string): QueueSender {
  return {
    async send(messages) {
      for (const batch of batchesOf(messages)) {
        let entries = batch.map((m, j) => ({
          Id: String(j),
          MessageBody: m.text,
          ...(m.attributes
            ? {
                MessageAttributes: Object.fromEntries(
                  Object.entries(m.attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]),
                ),
              }
            : {}),
          ...(m.groupId ? { MessageGroupId: m.groupId } : {}),
          ...(m.deduplicationId ? { MessageDeduplicationId: dedupId(m.deduplicationId) } : {}),
        }));
        for (let attempt = 0; entries.length > 0; attempt++) {
          const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
          const failed = new Set((out.Failed ?? []).map((f) => f.Id));
          if (failed.size === 0) break;
          if (attempt >= 4) {
            const reasons = (out.Failed ?? []).map((f) => f.Code).join(', ');
            throw new Error(`SQS refused ${failed.size} message(s) for ${queueUrl}: ${reasons}`);
          }
          entries = entries.filter((e) => failed.has(e.Id));
          await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        }
      }
    },
  };
}

export interface RetryScheduler {
  /** Makes received messages visible again after the given number of seconds. */
  retryIn(messages: ReadonlyArray<{ receiptHandle: string; seconds: number }>): Promise<void>;
}

export function createRetryScheduler(sqs: SQSClient, queueUrl: string): RetryScheduler {
  return {
    async retryIn(messages) {
      for (const batch of chunked(messages, SQS_BATCH_LIMIT)) {
        const out = await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: batch.map((m, j) => ({
              Id: String(j),
              ReceiptHandle: m.receiptHandle,
              VisibilityTimeout: m.seconds,
            })),
          }),
        );
        if (out.Failed?.length)
          throw new Error(`SQS refused ${out.Failed.length} visibility change(s) for ${queueUrl}`);
      }
    },
  };
}

/** SQS allows 128 characters [A-Za-z0-9 punctuation]; hash anything longer or unusual. */
function dedupId(raw: string): string {
  return /^[\w.:-]{1,128}$/.test(raw) ? raw : createHash('sha256').update(raw).digest('hex');
}
