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

export function createQueueSender(sqs: SQSClient, queueUrl: string): QueueSender {
  return {
    async send(messages) {
      for (const batch of chunked(messages, SQS_BATCH_LIMIT)) {
        let entries = batch.map((m, j) => ({
          Id: String(j),
          MessageBody: typeof m.body === 'string' ? m.body : JSON.stringify(m.body),
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
