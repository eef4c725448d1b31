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
 * Receives what a dead-letter queue shows now (about `max` letters at most), deletes those
 * `discard` names, and makes every other one visible again at once, also when a call fails, so a
 * list or a redrive right after finds it. Returns the letters kept and the ids deleted.
 */
async function passOver(sqs: SQSClient, dlqUrl: string, max: number, discard: ReadonlySet<string>) {
  const kept = new Map<string, DeadLetter>();
  const deleted: string[] = [];
  const handles: string[] = [];
  try {
    const rounds = Math.max(10, Math.ceil(max / 10));
    // A discard stops once every letter it names is deleted.
    const more = () => kept.size < max && (discard.size === 0 || deleted.length < discard.size);
    for (let round = 0; round < rounds && more(); round++) {
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
        const id = m.MessageId ?? '';
        if (!discard.has(id) || deleted.includes(id)) {
          kept.set(id, toDeadLetter(m));
          if (m.ReceiptHandle) handles.push(m.ReceiptHandle);
          continue;
        }
        try {
          await sqs.send(new DeleteMessageCommand({ QueueUrl: dlqUrl, ReceiptHandle: m.ReceiptHandle }));
        } catch (err) {
          if (m.ReceiptHandle) handles.push(m.ReceiptHandle);
          throw err;
        }
        deleted.push(id);
      }
    }
  } finally {
    for (const batch of chunked(handles, SQS_BATCH_LIMIT)) {
      try {
        await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: dlqUrl,
            Entries: batch.map((h, j) => ({ Id: String(j), ReceiptHandle: h, VisibilityTimeout: 0 })),
          }),
        );
      } catch {
        // Best effort: a letter left hidden comes back by itself after the 30 s above.
      }
    }
  }
  return { kept: [...kept.values()], deleted };
}

/** Looks at what a dead-letter queue holds without taking it away. */
export async function peekDeadLetters(sqs: SQSClient, dlqUrl: string, max = 50): Promise<DeadLetter[]> {
  return (await passOver(sqs, dlqUrl, max, new Set())).kept;
}

/**
 * Deletes for good the dead letters with these message ids (as a peek shows them): letters that can
 * never succeed, which a redrive would only set aside again. Returns the ids deleted; an id not
 * found is already gone, or not shown to a receive now (a FIFO queue shows 10 of a store's at most,
 * and about 500 letters are looked at).
 */
export async function discardDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  messageIds: readonly string[],
): Promise<string[]> {
  return (await passOver(sqs, dlqUrl, 500, new Set(messageIds))).deleted;
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
