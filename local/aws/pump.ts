import { createHash } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { lambdaContext } from './context.ts';

export interface QueuePumpOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  functionName: string;
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;
  batchSize: number;
  maxConcurrency: number;
  timeoutMs: number;
  waitTimeSeconds?: number;
  onError?: (err: unknown) => void;
}

/**
 * Lambda's SQS event source mapping with ReportBatchItemFailures, on loopback: receive a batch,
 * hand it to the handler as an SQSEvent, delete what succeeded. Failed records stay in the queue,
 * come back after the visibility timeout and reach the DLQ through the queue's redrive policy.
 */
export function startQueuePump(opts: QueuePumpOptions) {
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  const region = opts.queueArn.split(':')[3] ?? 'us-east-1';

  const deletions = new Set<Promise<void>>();
  /** Deletes what succeeded; like Lambda's event source, not inside the function's concurrency slot. */
  const settle = (messages: Message[], failed: Set<string>) => {
    const done = messages.filter((m) => m.MessageId && !failed.has(m.MessageId));
    if (done.length === 0) return;
    const p = opts.sqs
      .send(
        new DeleteMessageBatchCommand({
          QueueUrl: opts.queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      )
      .then(
        () => undefined,
        (err: unknown) => opts.onError?.(err),
      )
      .finally(() => deletions.delete(p));
    deletions.add(p);
  };

  const runBatch = async (messages: Message[]) => {
    const records = messages.map((m) => toRecord(m, opts.queueArn, region));
    let failed: Set<string>;
    try {
      const result = await withTimeout(
        opts.handler({ Records: records }, lambdaContext(opts.functionName, opts.timeoutMs)),
        opts.timeoutMs,
      );
      failed = new Set((result?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (err) {
      opts.onError?.(err);
      return; // A failed invocation deletes nothing, as on AWS.
    }
    settle(messages, failed);
  };

  const worker = async () => {
    while (!stopped) {
      try {
        const out = await opts.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: opts.queueUrl,
            MaxNumberOfMessages: opts.batchSize,
            WaitTimeSeconds: opts.waitTimeSeconds ?? 1,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
        );
        if (out.Messages?.length) await runBatch(out.Messages);
      } catch (err) {
        if (stopped) return;
        opts.onError?.(err);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };

  for (let i = 0; i < opts.maxConcurrency; i++) {
    const p = worker().finally(() => inFlight.delete(p));
    inFlight.add(p);
  }

  return {
    async stop() {
      stopped = true;
      await Promise.allSettled([...inFlight]);
      await Promise.allSettled([...deletions]);
    },
  };
}

function toRecord(m: Message, queueArn: string, region: string): SQSRecord {
  const a = m.Attributes ?? {};
  const attributes: SQSRecord['attributes'] = {
    ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
    SentTimestamp: a.SentTimestamp ?? String(Date.now()),
    SenderId: a.SenderId ?? 'AIDALOCAL',
    ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    ...(a.MessageGroupId ? { MessageGroupId: a.MessageGroupId } : {}),
    ...(a.MessageDeduplicationId ? { MessageDeduplicationId: a.MessageDeduplicationId } : {}),
    ...(a.SequenceNumber ? { SequenceNumber: a.SequenceNumber } : {}),
  };
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, v] of Object.entries(m.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: v.DataType ?? 'String',
      ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}),
      stringListValues: v.StringListValues ?? [],
      binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
    };
  }
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes,
    messageAttributes,
    md5OfBody:
      m.MD5OfBody ??
      createHash('md5')
        .update(m.Body ?? '')
        .digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Task timed out after ${ms / 1000} seconds`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
