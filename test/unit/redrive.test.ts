import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { discardDeadLetters, peekDeadLetters } from '../../src/queues/redrive.ts';

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
