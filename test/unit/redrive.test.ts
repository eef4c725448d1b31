import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { discardDeadLetters, peekDeadLetters } from '../../src/queues/redrive.ts';
import { createQueueSender, SQS_BATCH_BYTES, SQS_BATCH_LIMIT } from '../../src/queues/sqs.ts';
import { pushMessages } from '../../src/sync/poll/queue.ts';

const sqs = mockClient(SQSClient);
afterEach(() => sqs.reset());

const DLQ = 'http://q/poll-dlq.fifo';
const letter = (id: string) => ({ MessageId: id, ReceiptHandle: `handle-${id}`, Body: `{"id":"${id}"}` });
/** The handles made visible again, in order. */
const released = () =>
  sqs
    .commandCalls(ChangeMessageVisibilityBatchCommand)
    .flatMap((c) => c.args[0].input.Entries ?? [])
    .map((e) => e.ReceiptHandle);

describe('dead letters', () => {
  it('a peek shows each letter once and makes every one it received visible again', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [letter('a'), letter('b')] })
      .resolvesOnce({ Messages: [letter('a')] })
      .resolves({ Messages: [] });
    const seen = await peekDeadLetters(new SQSClient({ region: 'us-east-1' }), DLQ);
    expect(seen.map((l) => l.messageId)).toEqual(['a', 'b']);
    expect(released()).toEqual(['handle-a', 'handle-b', 'handle-a']);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });

  it('a discard stops receiving once every letter it names is deleted', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [letter('keep'), letter('drop')] })
      .resolves({ Messages: [letter('later')] });
    sqs.on(DeleteMessageCommand).resolves({});
    const client = new SQSClient({ region: 'us-east-1' });
    expect(await discardDeadLetters(client, DLQ, ['drop'])).toEqual(['drop']);
    expect(sqs.commandCalls(ReceiveMessageCommand)).toHaveLength(1);
    expect(released()).toEqual(['handle-keep']);
  });

  it('a discard deletes only the letters named, and releases the others even when a delete fails', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [letter('keep'), letter('drop'), letter('fails')] })
      .resolves({ Messages: [] });
    sqs
      .on(DeleteMessageCommand, { ReceiptHandle: 'handle-fails' })
      .rejects(new Error('SQS unavailable'))
      .on(DeleteMessageCommand, { ReceiptHandle: 'handle-drop' })
      .resolves({});
    const client = new SQSClient({ region: 'us-east-1' });
    await expect(discardDeadLetters(client, DLQ, ['drop', 'fails'])).rejects.toThrow('SQS unavailable');
    expect(sqs.commandCalls(DeleteMessageCommand).map((c) => c.args[0].input.ReceiptHandle)).toEqual([
      'handle-drop',
      'handle-fails',
    ]);
    // The one kept and the one whose delete failed are visible again at once; the deleted one is not.
    expect(released()).toEqual(['handle-keep', 'handle-fails']);
  });
});

describe('sending to a queue', () => {
  it('batches messages by count and by bytes: a batch SQS would refuse as too long is split', async () => {
    sqs.on(SendMessageBatchCommand).resolves({ Failed: [] });
    const big = (i: number) => ({
      body: { n: i, pad: 'x'.repeat(90 * 1024) },
      groupId: 'M1',
      deduplicationId: `d${i}`,
    });
    const small = (i: number) => ({ body: { n: i }, groupId: 'M2', deduplicationId: `s${i}` });
    await createQueueSender(new SQSClient({ region: 'us-east-1' }), 'http://q/push.fifo').send([
      ...Array.from({ length: 5 }, (_, i) => big(i)),
      ...Array.from({ length: 12 }, (_, i) => small(i)),
    ]);
    const batches = sqs.commandCalls(SendMessageBatchCommand).map((c) => c.args[0].input.Entries ?? []);
    for (const entries of batches) {
      expect(entries.length).toBeLessThanOrEqual(SQS_BATCH_LIMIT);
      const bytes = entries.reduce((n, e) => n + Buffer.byteLength(e.MessageBody ?? ''), 0);
      expect(bytes).toBeLessThanOrEqual(SQS_BATCH_BYTES);
    }
    // Every message once, in order (one FIFO group's order is kept).
    const sent = batches.flat().map((e) => JSON.parse(e.MessageBody ?? '{}').n);
    expect(sent).toEqual([0, 1, 2, 3, 4, ...Array.from({ length: 12 }, (_, i) => i)]);
    // Two 90 KiB messages fill a batch; small ones join a batch up to ten entries.
    expect(batches.map((b) => b.length)).toEqual([2, 2, 10, 3]);
  });

  it('splits a push of long product codes into messages SQS takes, whole chunks where a chunk fits', () => {
    const longCode = (i: number) => `${String(i).padStart(6, '0')}${'9'.repeat(1012)}`;
    const codes = Array.from({ length: 1000 }, (_, i) => longCode(i));
    const messages = pushMessages('M1', codes, 200);
    for (const m of messages) {
      expect(Buffer.byteLength(JSON.stringify(m.body))).toBeLessThanOrEqual(SQS_BATCH_BYTES);
      expect(m.body.codes.length % 200).toBe(0);
    }
    expect(messages.flatMap((m) => m.body.codes)).toEqual(codes);
    // Short codes still go 1,000 to a message.
    expect(
      pushMessages(
        'M1',
        codes.map((_, i) => `C${i}`),
        200,
      ).map((m) => m.body.codes.length),
    ).toEqual([1000]);
    // A chunk too big for one message is split further.
    const huge = pushMessages('M1', codes, 1000);
    expect(huge.every((m) => Buffer.byteLength(JSON.stringify(m.body)) <= SQS_BATCH_BYTES)).toBe(true);
    expect(huge.flatMap((m) => m.body.codes)).toEqual(codes);
  });
});
