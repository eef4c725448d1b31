import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { runCli, UsageError } from '../../src/cli/main.ts';
import type { Target } from '../../src/cli/target.ts';
import { parseBackfillRequest, requestBackfill } from '../../src/sync/backfill.ts';
import { FakeMerchantStore, merchantRecord, RecordingQueue } from './fakes.ts';

const local = { region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } };

/** A target whose Lambda runs `run` in-process and reports a throw as Lambda does. No AWS is reached. */
function fakeTarget(run: (functionName: string, payload: unknown) => Promise<unknown>) {
  const invoked: Array<{ functionName: string; payload: unknown }> = [];
  const lambda = {
    send: async (cmd: InvokeCommand) => {
      const functionName = cmd.input.FunctionName ?? '';
      const payload: unknown = JSON.parse(new TextDecoder().decode(cmd.input.Payload as Uint8Array));
      invoked.push({ functionName, payload });
      try {
        return { Payload: Buffer.from(JSON.stringify(await run(functionName, payload))) };
      } catch (err) {
        const errorMessage = err instanceof Error ? err.message : String(err);
        return { FunctionError: 'Unhandled', Payload: Buffer.from(JSON.stringify({ errorMessage })) };
      }
    },
  } as unknown as LambdaClient;
  const target: Target = {
    kind: 'local',
    stack: {
      merchantsTable: 'm',
      productsTable: 'p',
      pollQueueUrl: 'http://q/poll',
      pushQueueUrl: 'http://q/push',
      pollDlqUrl: 'http://q/poll-dlq',
      pushDlqUrl: 'http://q/push-dlq',
      fanOutFunction: 'fan-out',
      backfillFunction: 'backfill',
      tokenRefresherFunction: 'token-refresher',
    },
    dynamodb: new DynamoDBClient(local),
    sqs: new SQSClient(local),
    lambda,
  };
  return { target, invoked };
}

const io = () => {
  const lines: string[] = [];
  return { lines, io: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) } };
};

describe('esl-sync backfill', () => {
  // The Lambda runs the core the Backfill handler runs: payload parsing, then the queueing.
  const backfillStack = () => {
    const pollQueue = new RecordingQueue();
    const merchants = new FakeMerchantStore(merchantRecord({ merchantId: 'M' }));
    const fake = fakeTarget(async (_, payload) =>
      requestBackfill({ merchants, pollQueue }, parseBackfillRequest(payload)),
    );
    return { ...fake, pollQueue };
  };

  it('sends a digits-only --since as Unix ms, which the handler accepts', async () => {
    const { target, invoked, pollQueue } = backfillStack();
    const out = io();
    await runCli(['backfill', '--merchant-id', 'M', '--since', '1730419200000'], out.io, async () => target);
    expect(invoked).toEqual([
      { functionName: 'backfill', payload: { merchantId: 'M', since: 1730419200000 } },
    ]);
    expect(pollQueue.sent[0]?.body).toMatchObject({ merchantId: 'M', mode: 'full', since: 1730419200000 });
    expect(out.lines).toContain('backfill: queued 1 merchant(s) for a full resync');
  });

  it('sends an ISO --since as given', async () => {
    const { target, pollQueue } = backfillStack();
    await runCli(['backfill', '--all', '--since', '2026-11-01T00:00:00Z'], io().io, async () => target);
    expect(pollQueue.sent[0]?.body).toMatchObject({ since: Date.parse('2026-11-01T00:00:00Z') });
  });

  it.each([
    [['--merchant-id', 'M', '--since', '2026-11-01'], /--since/],
    [['--merchant-id', 'M', '--since', 'yesterday'], /--since/],
    [['--merchant-id', 'M', '--all'], /not both/],
    [[], /--merchant-id ID or --all/],
  ])('refuses backfill %j as a usage error, invoking nothing', async (args, message) => {
    const { target, invoked } = backfillStack();
    const err = await runCli(['backfill', ...args], io().io, async () => target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(String(err)).toMatch(message);
    expect(invoked).toEqual([]);
  });
});

describe('usage errors come before the stack is looked up', () => {
  const noStack = () => Promise.reject(new Error('No local stack is running'));

  it.each([
    [['foo'], /unknown command: foo/],
    [['toString'], /unknown command/],
    [['merchants'], /unknown merchants command: \(none\)/],
    [['merchants', 'explode', 'M'], /unknown merchants command: explode/],
    [['merchants', 'remove'], /merchants remove needs a merchant id/],
    [['merchants', 'show'], /merchants show needs a merchant id/],
    [['merchants', 'disable'], /merchants disable needs a merchant id/],
    [['merchants', 'configure'], /merchants configure needs a merchant id/],
    [['merchants', 'configure', 'M', '--field-map', 'f99=sku'], /invalid label rules/],
    [['merchants', 'add', '--merchant-id', 'X'], /merchants add: missing or invalid --store-code/],
    [['tokens'], /unknown tokens command/],
    [['dlq', 'peek'], /unknown dlq command: peek/],
    [['webhooks'], /unknown webhooks command: \(none\)/],
    [['webhooks', 'verify'], /unknown webhooks command: verify/],
    [['dlq', 'list', '--queue', 'other'], /--queue is poll or push/],
    [['backfill'], /--merchant-id ID or --all/],
    [['tick', '--wait', '--timeout', 'abc'], /--timeout/],
    [['tick', '--wait', '--timeout', '0'], /--timeout/],
    [['backfill', '--all', '--wait', '--timeout=-5'], /--timeout/],
    [['stores'], /unknown stores command: \(none\)/],
    [['stores', 'invite'], /--store-code CODE is required/],
    [['stores', 'invite', '--store-code', 'a b'], /--store-code: a store code is 1 to 64 printable/],
    [['stores', 'invite', '--store-code', 's', '--expires-in', '0'], /--expires-in takes a number of days/],
    [['stores', 'invite', '--store-code', 's', '--expires-in', '31'], /at most 30/],
    [['merchants', 'reconnect'], /merchants reconnect needs a merchant id/],
    [['merchants', 'assign', 'M'], /--store-code CODE is required/],
    [
      [
        'merchants',
        'add',
        '--merchant-id',
        'X',
        '--store-code',
        's',
        '--tokens-file',
        '-',
        '--refresh-token',
        'r',
      ],
      /--tokens-file replaces --refresh-token/,
    ],
    [
      [
        'merchants',
        'add',
        '--merchant-id',
        'X',
        '--store-code',
        's',
        '--tokens-file',
        '/nonexistent/tokens.json',
      ],
      /cannot read --tokens-file \/nonexistent\/tokens.json \(ENOENT\)/,
    ],
  ])('esl-sync %j', async (args, message) => {
    const err = await runCli(args, io().io, noStack).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(String(err)).toMatch(message);
  });

  it('looks the stack up for valid input', async () => {
    await expect(runCli(['merchants', 'show', 'M'], io().io, noStack)).rejects.toThrow(/No local stack/);
    await expect(runCli(['tick', '--timeout', '2.5'], io().io, noStack)).rejects.toThrow(/No local stack/);
  });

  it('never echoes a token value in a merchants add usage error', async () => {
    const args = ['merchants', 'add', '--merchant-id', 'X', '--access-token', 'tok-SECRET-1'];
    const err = await runCli(args, io().io, noStack).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(String(err)).not.toContain('tok-SECRET-1');
  });
});

describe('esl-sync dlq list', () => {
  it('tells how many letters a FIFO dead-letter queue holds when a peek can show only some', async () => {
    const { target } = fakeTarget(async () => undefined);
    const sqs = mockClient(target.sqs);
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '25' } });
    // One store's 25 letters: FIFO hands out 10 and holds the rest of the group back while they are out.
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: Array.from({ length: 10 }, (_, i) => ({
          MessageId: `m${i}`,
          ReceiptHandle: `h${i}`,
          Body: '{}',
          Attributes: { MessageGroupId: 'M1' },
        })),
      })
      .resolves({ Messages: [] });
    sqs.on(ChangeMessageVisibilityBatchCommand).resolves({});
    const out = io();
    await runCli(['dlq', 'list', '--queue', 'poll'], out.io, async () => target);
    expect(out.lines[0]).toBe('poll dead letters: 25 (showing 10; dlq redrive moves all)');
    expect(out.lines).toHaveLength(11);
  });
});
