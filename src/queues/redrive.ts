import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { chunked } from '../chunked.ts';
import { queueDepth } from './depth.ts';
import { SQS_BATCH_LIMIT } from './sqs.ts';

export interface DeadLetter {
  messageId: string;
  groupId?: string;
  receiveCount?: number;
  failureReason?: string;
  body: string;
}

const toDeadLetter = (m: Message): DeadLetter => ({
  messageId: m.MessageId ?? '',
  ...(m.Attributes?.MessageGroupId ? { groupId: m.Attributes.MessageGroupId } : {}),
  ...(m.Attributes?.ApproximateReceiveCount
    ? { receiveCount: Number(m.Attributes.ApproximateReceiveCount) }
    : {}),
  ...(m.MessageAttributes?.failureReason?.StringValue
    ? { failureReason: m.MessageAttributes.failureReason.StringValue }
    : {}),
  body: m.Body ?? '',
});

/**
 * Looks at what a dead-letter queue holds without taking it away: messages are received, then
 * made visible again at once so a redrive right after finds them.
 */
export async function peekDeadLetters(sqs: SQSClient, dlqUrl: string, max = 50): Promise<DeadLetter[]> {
  const seen = new Map<string, DeadLetter>();
  const handles: string[] = [];
  for (let round = 0; round < 10 && seen.size < max; round++) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 30,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    if (!out.Messages?.length) break;
    for (const m of out.Messages) {
      seen.set(m.MessageId ?? '', toDeadLetter(m));
      if (m.ReceiptHandle) handles.push(m.ReceiptHandle);
    }
  }
  for (const batch of chunked(handles, SQS_BATCH_LIMIT)) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: dlqUrl,
        Entries: batch.map((h, j) => ({ Id: String(j), ReceiptHandle: h, VisibilityTimeout: 0 })),
      }),
    );
  }
  return [...seen.values()];
}

/**
 * Sends the messages a dead-letter queue holds now back to their source queue, unchanged, and
 * removes each from the DLQ only once it is safely queued again. Messages that fail again and
 * return to the DLQ meanwhile are not moved a second time. Returns how many moved.
 */
export async function redriveDeadLetters(sqs: SQSClient, dlqUrl: string, sourceUrl: string): Promise<number> {
  const { visible } = await queueDepth(sqs, dlqUrl);
  let moved = 0;
  while (moved < visible) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: Math.min(10, visible - moved),
        VisibilityTimeout: 30,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (!out.Messages?.length) return moved;
    for (const m of out.Messages) {
      const fifo = sourceUrl.endsWith('.fifo');
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: sourceUrl,
          MessageBody: m.Body ?? '',
          ...(fifo
            ? {
                MessageGroupId: m.Attributes?.MessageGroupId ?? 'redrive',
                MessageDeduplicationId: `redrive-${m.MessageId}`,
              }
            : {}),
        }),
      );
      await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: m.ReceiptHandle }));
      moved++;
    }
  }
  return moved;
}
