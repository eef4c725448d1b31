import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  BatchGetCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.ts';
import { exitCodeOf } from '../../src/cli/errors.ts';
import { main, NotFoundError, runCli, UsageError } from '../../src/cli/main.ts';
import { OPTIONS } from '../../src/cli/options.ts';
import type { Target } from '../../src/cli/target.ts';
import { slotCounts } from '../../src/domain/counts.ts';
import { waitForQueuesDrained } from '../../src/queues/depth.ts';
import type { MerchantRecord } from '../../src/store/merchants.ts';
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
      webUrl: 'http://web.test',
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

/** stdout and stderr apart, as a script reading --json sees them. */
const streams = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
};

// The stores' DynamoDB calls, answered from `records` (merchants); products and slots are empty.
const ddb = mockClient(DynamoDBDocumentClient);
let records: Map<string, MerchantRecord>;
beforeEach(() => {
  records = new Map();
  ddb.reset();
  ddb.on(GetCommand).callsFake((input: { Key: { merchantId: string } }) => {
    const r = records.get(input.Key.merchantId);
    return r ? { Item: structuredClone(r) } : {};
  });
  ddb.on(ScanCommand).callsFake(() => ({ Items: [...records.values()].map((r) => structuredClone(r)) }));
  ddb.on(QueryCommand).resolves({ Items: [] });
  ddb.on(BatchGetCommand).resolves({ Responses: {} });
  ddb
    .on(UpdateCommand)
    .callsFake(
      (input: { Key: { merchantId: string }; ExpressionAttributeValues?: Record<string, unknown> }) => {
        // What the CLI's own writes change: a state (`:s`) with its reason (`:r`), a store code (`:sc`).
        const r = records.get(input.Key.merchantId);
        const v = input.ExpressionAttributeValues ?? {};
        if (r && typeof v[':s'] === 'string') {
          r.state = v[':s'] as MerchantRecord['state'];
          if (typeof v[':r'] === 'string') r.stateReason = v[':r'];
          else delete r.stateReason;
        }
        if (r && typeof v[':sc'] === 'string') r.storeCode = v[':sc'];
        return { Attributes: structuredClone(r ?? merchantRecord()) };
      },
    );
  ddb.on(PutCommand).resolves({});
  ddb.on(DeleteCommand).resolves({});
});
afterEach(() => ddb.reset());

describe('esl-sync backfill', () => {
  // The Lambda runs the core the Backfill handler runs: payload parsing, then the queueing.
  const backfillStack = (fields: Partial<MerchantRecord> = {}) => {
    const pollQueue = new RecordingQueue();
    const merchants = new FakeMerchantStore(merchantRecord({ merchantId: 'M', ...fields }));
    records.set('M', merchantRecord({ merchantId: 'M', ...fields }));
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

  it.each([
    [{ state: 'disabled' as const }, /merchant is disabled; `esl-sync merchants enable M` first/],
    [
      { state: 'needs_reauth' as const },
      /merchant is needs_reauth; re-authorize: `esl-sync merchants reconnect M`/,
    ],
    [
      { state: 'disabled' as const, tokensDeletedAt: 1 },
      /merchant is disabled; the Clover app was uninstalled .* `esl-sync merchants reconnect M`/,
    ],
  ])(
    'fails when the one store asked for is %j, saying what to do, queueing nothing',
    async (record, message) => {
      const { target, pollQueue } = backfillStack(record);
      const err = await runCli(
        ['backfill', '--merchant-id', 'M', '--wait'],
        io().io,
        async () => target,
      ).catch((e: unknown) => e);
      expect(exitCodeOf(err)).toBe(1);
      expect(String(err)).toMatch(message);
      expect(pollQueue.sent).toEqual([]);
    },
  );

  it.each([
    [{ state: 'needs_reauth' as const }, /M is not enabled: re-authorize: `esl-sync merchants reconnect M`/],
    [
      { state: 'disabled' as const, tokensDeletedAt: 1 },
      /M is not enabled: the Clover app was uninstalled .* `esl-sync merchants reconnect M` gives a link/,
    ],
  ])('refuses to enable a merchant only its owner can, %j, saying how', async (record, message) => {
    const { target, invoked } = backfillStack(record);
    const err = await runCli(['merchants', 'enable', 'M'], io().io, async () => target).catch(
      (e: unknown) => e,
    );
    expect(String(err)).toMatch(message);
    expect(records.get('M')?.state).toBe(record.state);
    expect(invoked).toEqual([]);
  });

  it('remembers through a disable that Clover refused the tokens: enable refuses, status and show say so', async () => {
    const refusedAt = Date.parse('2026-12-01T10:00:00Z');
    const { target, invoked } = backfillStack({
      state: 'needs_reauth',
      stateReason: 'Clover rejected the refresh token',
      tokensRefusedAt: refusedAt,
    });
    await runCli(['merchants', 'disable', 'M'], io().io, async () => target);
    expect(records.get('M')).toMatchObject({ state: 'disabled', tokensRefusedAt: refusedAt });
    const err = await runCli(['merchants', 'enable', 'M'], io().io, async () => target).catch(
      (e: unknown) => e,
    );
    expect(String(err)).toMatch(
      /M is not enabled: re-authorize: `esl-sync merchants reconnect M` gives a link to send the store \(Clover refused its tokens 2026-12-01T10:00:00.000Z; once it is used, `esl-sync merchants enable M` starts it\)/,
    );
    expect(records.get('M')?.state).toBe('disabled');
    expect(invoked).toEqual([]);
    // The stack status reads its queues from too.
    const full = fullStack().target;
    const status = streams();
    await main(['status'], status.io, async () => full);
    expect(status.out.join('\n')).toMatch(
      /M {2}store store-1 {2}disabled \(disabled by an operator\), needs re-authorization \(Clover refused its tokens 2026-12-01T10:00:00.000Z\)/,
    );
    expect(status.out).toContain(
      '  ! re-authorize: `esl-sync merchants reconnect M` gives a link to send the store (Clover refused its tokens 2026-12-01T10:00:00.000Z; once it is used, `esl-sync merchants enable M` starts it)',
    );
    const show = streams();
    await main(['merchants', 'show', 'M'], show.io, async () => full);
    expect(show.out[0]).toContain('needs re-authorization (Clover refused its tokens');
    // A backfill of it says how to start it, not to enable it.
    const backfill = await runCli(['backfill', '--merchant-id', 'M'], io().io, async () => target).catch(
      (e: unknown) => e,
    );
    expect(String(backfill)).toMatch(/M not resynced: .*; re-authorize: `esl-sync merchants reconnect M`/);
  });

  it('names an unknown merchant as not found, invoking nothing', async () => {
    const { target, invoked } = backfillStack();
    const err = await runCli(['backfill', '--merchant-id', 'NOPE'], io().io, async () => target).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotFoundError);
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
    [['merchants', 'show', 'A', 'B'], /merchants show: unexpected B/],
    [['merchants', 'show', '#attention'], /merchants show: a merchant id is Clover's, letters and digits/],
    [['merchants', 'disable', '#token-refresher'], /a merchant id is Clover's/],
    [['backfill', '--merchant-id', '#attention'], /--merchant-id: a merchant id is Clover's/],
    [
      ['merchants', 'add', '--merchant-id', '#attention', '--store-code', 's', '--tokens-file', 'f'],
      /merchants add: missing or invalid --merchant-id/,
    ],
    [['merchants', 'label', 'M'], /give one of --code CODE .* or --item ITEM_ID/],
    [['merchants', 'label', 'M', '--code', 'X', '--item', 'I'], /give one of --code CODE/],
    [['merchants', 'label', 'M', '--code', ''], /--code takes a product code/],
    [['merchants', 'label', 'M', '--code', '0123 '], /--code: a product code has no spaces at its ends/],
    [['merchants', 'label', 'M', '--code', '0123\n'], /--code: a product code has no spaces at its ends/],
    [['merchants', 'label', 'M', '--item', '#calls'], /--item takes a Clover item id/],
    [['merchants', 'label', 'M', '--item', '#slot#0123'], /--item takes a Clover item id/],
    [['merchants', 'label', 'M', '--item', ' '], /--item takes a Clover item id/],
    [['merchants', 'label', 'M', '--code', 'x'.repeat(1019)], /--code: a product code is at most 1018 bytes/],
    [['merchants', 'disable'], /merchants disable needs a merchant id/],
    [['merchants', 'configure'], /merchants configure needs a merchant id/],
    [['merchants', 'configure', 'M', '--field-map', 'f99=sku'], /invalid label rules/],
    [['merchants', 'configure', 'M', '--wait'], /nothing to configure: give --field-map/],
    [['dlq', 'discard', '--message-id', 'X'], /--queue poll\|push is required/],
    [['dlq', 'discard', '--queue', 'poll'], /--message-id ID\[,ID…\] is required/],
    [['dlq', 'discard', '--queue', 'poll', '--message-id', 'A,,B'], /--message-id ID\[,ID…\] is required/],
    [
      ['merchants', 'configure', 'M', '--field-map', 'f1=sku,f1=code'],
      /--field-map gives f1 more than one fact/,
    ],
    [['merchants', 'add', '--merchant-id', 'X'], /merchants add: missing or invalid --store-code/],
    [['tokens'], /unknown tokens command/],
    [['dlq', 'peek'], /unknown dlq command: peek/],
    [['webhooks'], /unknown webhooks command: \(none\)/],
    [['webhooks', 'verify'], /unknown webhooks command: verify/],
    [['dlq', 'list', '--queue', 'other'], /--queue is poll or push/],
    [['backfill'], /--merchant-id ID or --all/],
    [['tick', '--wait', '--timeout', 'abc'], /--timeout/],
    [['tick', '--wait', '--timeout', '0'], /--timeout/],
    [['tick', 'now'], /tick: unexpected now/],
    [['tick', '--bogus'], /unknown option --bogus/],
    [['tick', '--field-map', 'f1=sku'], /tick does not take --field-map/],
    [['status', '--wait'], /status does not take --wait/],
    [['backfill', '--all', '--wait', '--timeout=-5'], /--timeout/],
    [['stores'], /unknown stores command: \(none\)/],
    [['stores', 'invite'], /--store-code CODE is required/],
    [['stores', 'invite', '--store-code'], /--store-code needs a value/],
    [['tick', '--wait=yes'], /--wait takes no value/],
    [['status', '--json=true'], /--json takes no value/],
    // Node names a flag with a short form as '-h, --help': the message names the one typed.
    [['status', '--help=yes'], /: --help takes no value$/],
    [
      ['backfill', '--all', '--since', '-5'],
      /--since needs a value \(a value starting with "-" goes as --since=VALUE\)/,
    ],
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

describe('esl-sync tick --wait', () => {
  it('says when work waits in a dead-letter queue once the queues are drained, instead of only that all is done', async () => {
    const { target } = fullStack();
    const sqs = mockClient(target.sqs);
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: {} });
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: target.stack.pushDlqUrl })
      .resolves({ Attributes: { ApproximateNumberOfMessages: '2' } });
    const out = io();
    // Letters there before the tick are no failure of its own.
    expect(await runCli(['tick', '--wait'], out.io, async () => target)).toBe(0);
    expect(out.lines).toContain('tick: all polls and pushes done');
    expect(out.lines.filter((l) => l.includes('set aside'))).toEqual([
      expect.stringMatching(
        /^ {2}! 2 push message\(s\) set aside: `esl-sync dlq list --queue push` says why/,
      ),
    ]);
  });
});

describe('esl-sync tick --wait, when pushes fail for good while it waits', () => {
  it('does not call the fleet done: it says how many were set aside meanwhile, and where to look', async () => {
    const { target } = fullStack();
    const sqs = mockClient(target.sqs);
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: {} });
    // One letter was there before the tick; two more came while it waited.
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: target.stack.pushDlqUrl })
      .resolvesOnce({ Attributes: { ApproximateNumberOfMessages: '1' } })
      .resolves({ Attributes: { ApproximateNumberOfMessages: '3' } });
    const out = io();
    // A script waiting on the fleet is told: the output is shown, and the exit code is 1.
    expect(await runCli(['tick', '--wait'], out.io, async () => target)).toBe(1);
    expect(out.lines).not.toContain('tick: all polls and pushes done');
    expect(out.lines).toContain(
      'tick: every poll and push ended, but 2 failed for good while it waited and were set aside: `esl-sync status` says which stores, and why',
    );
  });
});

describe('esl-sync merchants label', () => {
  /** The products table's rows, by sort key, answered to BatchGet. */
  const productRows = (rows: Array<Record<string, unknown>>) => {
    const bySortKey = new Map(rows.map((r) => [String(r.itemId), { merchantId: 'M1', ...r }]));
    ddb
      .on(BatchGetCommand)
      .callsFake((input: { RequestItems: Record<string, { Keys: Array<{ itemId: string }> }> }) => ({
        Responses: Object.fromEntries(
          Object.entries(input.RequestItems).map(([table, { Keys }]) => [
            table,
            Keys.flatMap((k) => (bySortKey.has(k.itemId) ? [structuredClone(bySortKey.get(k.itemId))] : [])),
          ]),
        ),
      }));
  };
  const soda = (pp: string) => ({ pc: '0123', pn: 'Soda', pp });
  /** ITEM1's record: wanting the soda label at 2.49 (hash h2), or removed for `removed`. */
  const item1 = (removed?: 'gone' | 'hidden') =>
    removed
      ? {
          itemId: 'ITEM1',
          status: 'removed',
          removedReason: removed,
          stateHash: 'r',
          wantsSince: 2000,
          updatedAt: 2,
        }
      : {
          itemId: 'ITEM1',
          status: 'active',
          label: soda('2.49'),
          labelHash: 'h2',
          stateHash: 's2',
          wantsSince: 1000,
          updatedAt: 2,
        };
  /** Code 0123's record: Hipoink holds the soda at 1.99 (h1), from ITEM1; `want` is ITEM1's want as listed. */
  const slot0123 = (want: 'old' | 'new' | 'none', more: Record<string, unknown> = {}) => ({
    itemId: '#slot#0123',
    ...(want === 'none'
      ? {}
      : {
          'want:ITEM1':
            want === 'old'
              ? { label: soda('1.99'), labelHash: 'h1', wantsSince: 1000 }
              : { label: soda('2.49'), labelHash: 'h2', wantsSince: 1000 },
        }),
    held: { label: soda('1.99'), labelHash: 'h1', itemId: 'ITEM1' },
    ...more,
  });

  it('says how fresh its records are, and how to read Clover now', async () => {
    const { target } = fullStack();
    const lastSyncAt = records.get('M1')?.lastSyncAt ?? 0;
    const out = io();
    await runCli(['merchants', 'label', 'M1', '--code', '0123'], out.io, async () => target);
    expect(out.lines).toContain(
      `  as its last poll left its records (${new Date(lastSyncAt).toISOString()}): a Clover change since, or a deletion no webhook notice told of, shows after \`esl-sync backfill --merchant-id M1 --wait\``,
    );
  });

  it("tells an item's want its record has and the code's record does not list yet, not only that the code is in step", async () => {
    const { target } = fullStack();
    // A poll wrote the item's new price to its record, and stopped before writing the slot.
    productRows([item1(), slot0123('old')]);
    for (const args of [
      ['--item', 'ITEM1'],
      ['--code', '0123'],
    ]) {
      const out = io();
      await runCli(['merchants', 'label', 'M1', ...args], out.io, async () => target);
      const text = out.lines.join('\n');
      expect(text).toContain(
        "Clover item ITEM1's record wants this code with a label this code's record does not list yet",
      );
      expect(text).toContain('in step as the code is recorded, until then: no push has anything to do here');
    }
    const json = io();
    await runCli(['merchants', 'label', 'M1', '--code', '0123', '--json'], json.io, async () => target);
    expect(JSON.parse(json.lines[0] ?? '').slot.repair).toEqual([{ itemId: 'ITEM1', change: 'want' }]);
  });

  it('does not send the operator of a disabled store to a backfill it refuses, or to polls that do not come', async () => {
    const { target } = fullStack();
    const m1 = records.get('M1');
    if (m1) m1.state = 'disabled';
    // A price change its poll wrote before the store was disabled, not pushed yet.
    productRows([item1(), slot0123('new')]);
    const out = io();
    await runCli(['merchants', 'label', 'M1', '--code', '0123'], out.io, async () => target);
    const text = out.lines.join('\n');
    expect(text).toContain('merchant M1  store ');
    expect(text).toContain(
      'while disabled, no poll of the store reads Clover or queues a push, and a backfill is refused: `esl-sync merchants enable M1` first',
    );
    expect(text).toContain(
      "out of step: a push must show Clover item ITEM1's label; one on its way does, but no poll queues one until the store is active again",
    );
    expect(text).not.toMatch(/ghost cleanup|backfill --merchant-id M1` at once/);
  });

  it('does not call a code in step whose label Hipoink refused and does not show', async () => {
    const { target } = fullStack();
    // The price change Hipoink refused: it still holds the old label.
    productRows([
      item1(),
      slot0123('new', {
        refused: { labelHash: 'h2', reason: 'price tag template missing', itemId: 'ITEM1' },
      }),
    ]);
    const out = io();
    await runCli(['merchants', 'label', 'M1', '--code', '0123'], out.io, async () => target);
    const text = out.lines.join('\n');
    expect(text).toContain('Hipoink holds, as last recorded: "Soda" 1.99 from Clover item ITEM1');
    expect(text).not.toContain('in step: no push has anything to do here');
    expect(text).toContain(
      "refused: Hipoink does not show Clover item ITEM1's label as it is now, and no push sends it again by itself",
    );
    // Out of step is what status counts "to push": a refused code is counted as refused instead.
    const soda249 = { label: soda('2.49'), labelHash: 'h2', itemId: 'ITEM1', wantsSince: 1000 };
    expect(
      slotCounts({
        code: '0123',
        wanters: [soda249],
        held: { label: soda('1.99'), labelHash: 'h1', itemId: 'ITEM1' },
        refused: { labelHash: 'h2', reason: 'price tag template missing', itemId: 'ITEM1' },
      }),
    ).toMatchObject({ outOfStep: 0, refused: 1 });
    expect(text).not.toContain('out of step');
  });

  it("tells that the store's pushes are failing, before sending the operator to a push", async () => {
    const { target } = fullStack();
    const m1 = records.get('M1');
    if (m1) {
      m1.pushFailingSince = Date.parse('2026-01-01T00:00:00Z');
      m1.lastPushError = 'Hipoink product/create_multiple failed with HTTP 503';
    }
    productRows([item1(), slot0123('new')]);
    const out = io();
    await runCli(['merchants', 'label', 'M1', '--code', '0123'], out.io, async () => target);
    expect(out.lines.join('\n')).toContain(
      '! its labels are not reaching Hipoink (pushes failing since 2026-01-01T00:00:00.000Z: Hipoink product/create_multiple failed with HTTP 503)',
    );
    const json = io();
    await runCli(['merchants', 'label', 'M1', '--code', '0123', '--json'], json.io, async () => target);
    expect(JSON.parse(json.lines[0] ?? '')).toMatchObject({
      pushFailingSince: '2026-01-01T00:00:00.000Z',
      lastPushError: 'Hipoink product/create_multiple failed with HTTP 503',
    });
  });

  it('names the code Hipoink still holds the label of an item that wants none under, and what a push must do there', async () => {
    const { target } = fullStack();
    // Deleted in Clover: the poll took it off its code, and the push taking the label down has not passed.
    const rows = [item1('gone'), slot0123('none')];
    productRows(rows);
    ddb.on(QueryCommand).resolves({ Items: rows.slice(1).map((r) => ({ merchantId: 'M1', ...r })) });
    const out = io();
    await runCli(['merchants', 'label', 'M1', '--item', 'ITEM1'], out.io, async () => target);
    const text = out.lines.join('\n');
    expect(text).toContain(
      'Clover item ITEM1: removed (gone): it wants no label, yet Hipoink holds its label under product code 0123, as last recorded',
    );
    expect(text).toContain('Hipoink holds, as last recorded: "Soda" 1.99 from Clover item ITEM1');
    expect(text).toContain('out of step: a push must take the label off (no item wants the code)');
    const json = io();
    await runCli(['merchants', 'label', 'M1', '--item', 'ITEM1', '--json'], json.io, async () => target);
    expect(JSON.parse(json.lines[0] ?? '').item).toEqual({
      itemId: 'ITEM1',
      status: 'removed',
      removedReason: 'gone',
      labelHeldUnder: '0123',
    });
  });

  it('tells an item the code still lists whose record wants it no more', async () => {
    const { target } = fullStack();
    productRows([item1('hidden'), slot0123('old')]);
    const out = io();
    await runCli(['merchants', 'label', 'M1', '--code', '0123'], out.io, async () => target);
    expect(out.lines.join('\n')).toContain(
      "Clover item ITEM1's record no longer wants this code, which still lists it",
    );
  });

  it('names an item its store does not have as not found (exit 3)', async () => {
    const { target } = fullStack();
    const err = await runCli(
      ['merchants', 'label', 'M1', '--item', 'NOPE'],
      io().io,
      async () => target,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(String(err)).toMatch(/Clover item NOPE is not among merchant M1's items/);
    expect(exitCodeOf(err)).toBe(3);
  });
});

describe('esl-sync status: dead letters', () => {
  it('says what to do about letters waiting in a dead-letter queue, for each queue holding some', async () => {
    const { target } = fullStack();
    const sqs = mockClient(target.sqs);
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: {} });
    sqs
      .on(GetQueueAttributesCommand, { QueueUrl: target.stack.pushDlqUrl })
      .resolves({ Attributes: { ApproximateNumberOfMessages: '3' } });
    const out = io();
    await runCli(['status'], out.io, async () => target);
    const hints = out.lines.filter((l) => l.includes('set aside'));
    expect(hints).toEqual([
      expect.stringMatching(
        /^ {2}! 3 push message\(s\) set aside: `.*dlq list --queue push` says why; once the cause is fixed, `.*dlq redrive --queue push`/,
      ),
    ]);
  });

  it('counts the letters someone is listing (hidden for a while) as still waiting', async () => {
    const { target } = fullStack();
    const sqs = mockClient(target.sqs);
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: {} });
    sqs.on(GetQueueAttributesCommand, { QueueUrl: target.stack.pollDlqUrl }).resolves({
      Attributes: { ApproximateNumberOfMessages: '1', ApproximateNumberOfMessagesNotVisible: '4' },
    });
    const out = io();
    await runCli(['status'], out.io, async () => target);
    expect(out.lines.filter((l) => l.includes('set aside'))).toEqual([
      expect.stringMatching(/^ {2}! 5 poll message\(s\) set aside/),
    ]);
  });
});

/**
 * A stack where every command can run: two merchants (one active and synced long after any
 * request, one pending), functions answering as the real ones do, empty queues.
 */
function fullStack() {
  const synced = Date.now() + 60_000;
  records.set('M1', merchantRecord({ merchantId: 'M1', lastSyncAt: synced, lastFullSyncAt: synced }));
  // The pending one's first poll will have finished, too, by the time a wait looks.
  records.set(
    'P1',
    merchantRecord({ merchantId: 'P1', storeCode: undefined, state: 'pending', lastFullSyncAt: synced }),
  );
  const fake = fakeTarget(async (name, payload) => {
    if (name === 'fan-out') return { queued: 1, skipped: {}, attention: {} };
    if (name === 'token-refresher') return { checked: 1, refreshed: ['M1'], failed: [] };
    const p = payload as { merchantId?: string };
    return { queued: [p.merchantId ?? 'M1'], skipped: [], requestedAt: Date.now() };
  });
  const sqs = mockClient(fake.target.sqs);
  sqs.on(GetQueueAttributesCommand).resolves({ Attributes: {} });
  sqs.on(ReceiveMessageCommand).resolves({ Messages: [] });
  // One dead letter that can never succeed, for `dlq discard`.
  sqs
    .on(ReceiveMessageCommand, { QueueUrl: fake.target.stack.pollDlqUrl })
    .resolves({ Messages: [{ MessageId: 'MSG-1', ReceiptHandle: 'handle-1', Body: 'not json' }] });
  // Queued work is done at once: a queue barrier passes as soon as it is sent.
  sqs.on(SendMessageBatchCommand).callsFake((input: { Entries?: Array<{ MessageBody?: string }> }) => {
    for (const e of input.Entries ?? []) {
      const body = JSON.parse(e.MessageBody ?? '{}') as { merchantId?: string; barrier?: string };
      const record = body.merchantId ? records.get(body.merchantId) : undefined;
      if (record && body.barrier) records.set(record.merchantId, { ...record, barrierPassed: body.barrier });
    }
    return { Successful: [] };
  });
  return fake;
}

/** One valid command line per command, acting on the stack above. */
const EXAMPLES: Record<string, string[]> = {
  'stores invite': ['stores', 'invite', '--store-code', 'store-9'],
  'merchants reconnect': ['merchants', 'reconnect', 'M1'],
  'merchants assign': ['merchants', 'assign', 'P1', '--store-code', 'store-p', '--wait'],
  'merchants remove': ['merchants', 'remove', 'M1', '--remove-labels'],
  'merchants retry-clear': ['merchants', 'retry-clear', 'M1', '--store-code', 'store-old'],
  'merchants add': [
    'merchants',
    'add',
    '--merchant-id',
    'M1',
    '--store-code',
    'store-1',
    '--tokens-file',
    't.json',
  ],
  'merchants list': ['merchants', 'list'],
  'merchants show': ['merchants', 'show', 'M1'],
  'merchants label': ['merchants', 'label', 'M1', '--code', '0123'],
  'merchants disable': ['merchants', 'disable', 'M1', '--reason', 'closed'],
  'merchants enable': ['merchants', 'enable', 'M1'],
  'merchants configure': ['merchants', 'configure', 'M1', '--variable-price', 'remove', '--wait'],
  tick: ['tick', '--wait'],
  backfill: ['backfill', '--merchant-id', 'M1', '--wait'],
  status: ['status'],
  'tokens refresh': ['tokens', 'refresh'],
  'clover settings': ['clover', 'settings'],
  'webhooks verification-code': ['webhooks', 'verification-code'],
  'dlq list': ['dlq', 'list'],
  'dlq redrive': ['dlq', 'redrive'],
  'dlq discard': ['dlq', 'discard', '--queue', 'poll', '--message-id', 'MSG-1'],
};
const tokensFile = async () =>
  JSON.stringify({
    access_token: 'tok-ACCESS-1',
    access_token_expiration: 2_000_000_000,
    refresh_token: 'tok-REFRESH-1',
    refresh_token_expiration: 2_000_000_000,
  });

describe('--json on every command', () => {
  it('has an example for every command', () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(COMMANDS.map((c) => c.name).sort());
  });

  it.each(Object.entries(EXAMPLES))(
    '%s --json prints one JSON document on stdout and nothing else',
    async (_, args) => {
      const { target } = fullStack();
      const s = streams();
      expect(await main([...args, '--json'], { ...s.io, readInput: tokensFile }, async () => target)).toBe(0);
      expect(s.out).toHaveLength(1);
      const doc: unknown = JSON.parse(s.out[0] ?? '');
      expect(doc).toBeTypeOf('object');
      expect(s.out[0]).not.toMatch(/tok-(ACCESS|REFRESH)/);
      // The same command as text says something else than the JSON, on stdout.
      const text = streams();
      expect(await main(args, { ...text.io, readInput: tokensFile }, async () => fullStack().target)).toBe(0);
      expect(text.out.length).toBeGreaterThan(0);
      expect(() => JSON.parse(text.out.join('\n'))).toThrow();
    },
  );

  it('sends a wait’s progress to stderr with --json, to stdout without', async () => {
    const { target } = fullStack();
    const json = streams();
    await main(['backfill', '--merchant-id', 'M1', '--wait', '--json'], json.io, async () => target);
    expect(json.err.join('\n')).toMatch(/synced: merchant M1 polled/);
    const parsed = JSON.parse(json.out[0] ?? '');
    expect(parsed).toMatchObject({ queued: ['M1'], stores: [{ merchantId: 'M1' }] });
    const text = streams();
    await main(['backfill', '--merchant-id', 'M1', '--wait'], text.io, async () => fullStack().target);
    expect(text.out.join('\n')).toMatch(/synced: merchant M1 polled/);
    expect(text.err).toEqual([]);
  });
});

describe('esl-sync status', () => {
  it('reads one record per store and no store’s items or slots, printing the counts kept on it', async () => {
    const { target } = fullStack();
    const shelf = { items: 20, removed: 3, invalid: 1, onShelf: 15, outOfStep: 2, refused: 1 };
    records.set('M1', { ...(records.get('M1') as MerchantRecord), shelf, shelfCountedAt: 0 });
    const s = streams();
    await main(['status'], s.io, async () => target);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    expect(ddb.commandCalls(ScanCommand)).toHaveLength(1);
    expect(s.out).toContain(
      '  shelf: 15 on shelf, 2 to push, 1 refused, 1 invalid, 3 removed, of 20 item(s) (counted afresh 1970-01-01T00:00:00.000Z)',
    );
    expect(s.out).toContain(
      '  ! items whose labels do not show them as they are in Clover (invalid, or refused by Hipoink): `esl-sync merchants show M1` lists them with their reasons',
    );
  });

  it('never calls a refused label that still shows its last accepted version off the shelf', async () => {
    const { target } = fullStack();
    const shelf = { items: 2, removed: 0, invalid: 0, onShelf: 2, outOfStep: 0, refused: 1 };
    records.set('M1', { ...(records.get('M1') as MerchantRecord), shelf, shelfCountedAt: 0 });
    const s = streams();
    await main(['status'], s.io, async () => target);
    const out = s.out.join('\n');
    expect(out).toContain('  shelf: 2 on shelf, 0 to push, 1 refused');
    expect(out).not.toContain('not on the shelf');
    expect(out).toContain('refused by Hipoink): `esl-sync merchants show M1`');
  });

  it('says when a store is left half-moved, with the command that finishes the move', async () => {
    const { target } = fullStack();
    records.set('M1', {
      ...(records.get('M1') as MerchantRecord),
      storeCode: 'store-2',
      movingFrom: 'store-1',
    });
    const s = streams();
    await main(['status'], s.io, async () => target);
    expect(s.out.join('\n')).toContain(
      "  ! its labels are moving from store store-1 to store store-2, and store store-1's no longer follow Clover: unless that move is running now, `esl-sync merchants assign M1 --store-code store-2` finishes it",
    );
    const json = streams();
    await main(['merchants', 'show', 'M1', '--json'], json.io, async () => target);
    expect(JSON.parse(json.out.join('\n'))).toMatchObject({ storeCode: 'store-2', movingFrom: 'store-1' });
  });

  it('says when a store’s labels are not reaching Hipoink, since when and why', async () => {
    const { target } = fullStack();
    records.set('M1', {
      ...(records.get('M1') as MerchantRecord),
      lastPushError: 'Hipoink refuses every request for store store-1 (sign check failed)',
      pushFailingSince: Date.parse('2026-12-01T10:00:00Z'),
    });
    const s = streams();
    await main(['status'], s.io, async () => target);
    expect(s.out.join('\n')).toContain(
      "  ! its labels are not reaching Hipoink (pushes failing since 2026-12-01T10:00:00.000Z: Hipoink refuses every request for store store-1 (sign check failed)); pushes that may pass are retried, and the store's next poll queues any set aside again, so its labels follow at the first poll once Hipoink answers (`esl-sync tick` polls now); `esl-sync dlq list --queue push` shows the letters",
    );
    // Shown beside another hint too (a move to a store Hipoink refuses is when pushes fail), and by
    // merchants show.
    records.set('M1', { ...(records.get('M1') as MerchantRecord), movingFrom: 'store-0' });
    const both = streams();
    await main(['status'], both.io, async () => target);
    expect(both.out.join('\n')).toMatch(
      /not reaching Hipoink[\s\S]*its labels are moving from store store-0/,
    );
    const show = streams();
    await main(['merchants', 'show', 'M1'], show.io, async () => target);
    expect(show.out.join('\n')).toContain('its labels are not reaching Hipoink (pushes failing since');
  });

  it('says since when a store’s reads stop short, or its polls fail, while they do', async () => {
    const { target } = fullStack();
    const partial = 'Clover items kept changing during the read; the rest is read on the next poll';
    records.set('M1', {
      ...(records.get('M1') as MerchantRecord),
      lastSyncAt: Date.parse('2026-12-01T11:00:00Z'),
      lastSyncStatus: 'partial',
      lastSyncError: partial,
      readIncompleteSince: Date.parse('2026-12-01T10:00:00Z'),
    });
    const s = streams();
    await main(['status'], s.io, async () => target);
    expect(s.out.join('\n')).toContain(
      `last sync 2026-12-01T11:00:00.000Z partial since 2026-12-01T10:00:00.000Z (${partial})`,
    );
    // A failed poll in the run says since when polls fail, not since when reads stop short.
    records.set('M1', {
      ...(records.get('M1') as MerchantRecord),
      lastSyncStatus: 'error',
      lastSyncError: 'x',
      syncFailingSince: Date.parse('2026-12-01T10:30:00Z'),
    });
    const failed = streams();
    await main(['status'], failed.io, async () => target);
    expect(failed.out.join('\n')).toContain(
      'last sync 2026-12-01T11:00:00.000Z error since 2026-12-01T10:30:00.000Z (x)',
    );
  });
});

describe('a wait for the queues that times out', () => {
  it('says what it still waited for, even when both queues were empty once', async () => {
    const sqs = new SQSClient(local);
    const depths = mockClient(sqs);
    depths.on(GetQueueAttributesCommand).resolves({ Attributes: {} });
    await expect(
      waitForQueuesDrained(sqs, ['http://q/poll', 'http://q/push'], { timeoutMs: 0 }),
    ).rejects.toThrow(
      /^Timed out after 0 ms waiting for queues to drain: every queue empty in the last reading only, not yet confirmed by a second/,
    );
    depths.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '2' } });
    await expect(waitForQueuesDrained(sqs, ['http://q/push'], { timeoutMs: 0 })).rejects.toThrow(
      /drain: push \(visible 2, in flight 0, delayed 0\)$/,
    );
    depths.restore();
  });
});

describe('a Hipoink store in use', () => {
  it('refuses to give a merchant a store another merchant is still moving out of', async () => {
    const { target } = fullStack();
    // MOVER's labels stay in store-9 until its move to store-10 finishes (which deletes its codes there).
    const moving = { storeCode: 'store-10', movingFrom: 'store-9', movingCodes: ['C0'] };
    records.set('MOVER', merchantRecord({ merchantId: 'MOVER', ...moving }));
    const s = streams();
    const code = await main(
      ['merchants', 'assign', 'P1', '--store-code', 'store-9'],
      s.io,
      async () => target,
    );
    expect(code).toBe(1);
    expect(s.err.join('\n')).toMatch(/store store-9 already shows the labels of merchant MOVER/);
    expect(records.get('P1')?.storeCode).toBeUndefined();
  });
});

describe('exit codes', () => {
  const run = async (args: string[], resolve?: () => Promise<Target>) => {
    const s = streams();
    let looked = false;
    const code = await main(args, s.io, async () => {
      looked = true;
      return (resolve ?? (async () => fullStack().target))();
    });
    return { code, looked, ...s };
  };

  it('0 when the command did what it was asked', async () => {
    expect((await run(['status'])).code).toBe(0);
  });

  it.each([
    [['bogus']],
    [['tick', '--bogus']],
    [['tick', '--field-map', 'f1=sku']],
    [['stores', 'invite', '--store-code']],
    [['merchants', 'show']],
    [['merchants']],
    [['status', '--aws', '--stage', 'Bad_Stage']],
  ])('2 for a usage error %j, with a pointer to the help, before any stack is looked up', async (args) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.looked).toBe(false);
    expect(r.out).toEqual([]);
    expect(r.err.at(-1)).toMatch(/^Run `esl-sync (\w+ )*--help` for usage\.$/);
  });

  it('points a bad option value to its own command’s help', async () => {
    for (const [args, help] of [
      [['merchants', 'label', 'M1'], 'merchants label'],
      [['stores', 'invite'], 'stores invite'],
      [['dlq', 'list', '--queue', 'both'], 'dlq list'],
    ] as const) {
      const r = await run([...args]);
      expect(r.code).toBe(2);
      expect(r.err.at(-1)).toBe(`Run \`esl-sync ${help} --help\` for usage.`);
    }
  });

  it.each(
    COMMANDS.filter((c) => c.merchantId)
      .map((c) => [
        [
          ...c.name.split(' '),
          'NOPE',
          ...(c.options['store-code'] ? ['--store-code', 's'] : []),
          ...(c.options['variable-price'] ? ['--variable-price', 'base'] : []),
          ...(c.options.code ? ['--code', '0123'] : []),
        ],
      ])
      .concat([[['backfill', '--merchant-id', 'NOPE']]]),
  )('3 for an unknown merchant: %j', async (args) => {
    const r = await run(args);
    expect(r.code).toBe(3);
    expect(r.err[0]).toBe('esl-sync: unknown merchant NOPE');
    expect(r.out).toEqual([]);
  });

  it('1 for a failure: no stack, or a function that failed', async () => {
    const none = await run(['status'], () => Promise.reject(new Error('No local stack is running')));
    expect(none.code).toBe(1);
    expect(none.err).toEqual(['esl-sync: No local stack is running']);
    const { target } = fakeTarget(async () => {
      throw new Error('boom');
    });
    expect((await run(['tick'], async () => target)).code).toBe(1);
  });
});

describe('help', () => {
  const help = async (args: string[]) => {
    const s = streams();
    const code = await main(args, s.io, () => Promise.reject(new Error('help looked a stack up')));
    return { code, text: s.out.join('\n'), err: s.err };
  };

  it.each(COMMANDS.map((c) => [c.name, c]))(
    'esl-sync %s --help: its own usage and options',
    async (name, c) => {
      const h = await help([...name.split(' '), '--help']);
      expect(h.code).toBe(0);
      expect(h.err).toEqual([]);
      expect(h.text.split('\n')[0]).toMatch(new RegExp(`^Usage: esl-sync ${name} `));
      expect(h.text).toContain(c.description.split(' ').slice(0, 4).join(' '));
      for (const option of [...Object.keys(c.options), 'json', 'aws', 'stage'])
        expect(h.text).toMatch(new RegExp(`^  --${option}\\b`, 'm'));
      // Options of other commands are not listed as its own.
      for (const option of Object.keys(OPTIONS).filter(
        (o) => !(o in c.options) && !['json', 'aws', 'stage', 'help'].includes(o),
      ))
        expect(h.text).not.toMatch(new RegExp(`^  --${option}\\b`, 'm'));
      expect(h.text).toMatch(
        /Exit codes:\n {2}0 {2}done\n {2}1 {2}failed.*\n {2}2 {2}usage.*\n {2}3 {2}not found: unknown merchant/,
      );
    },
  );

  it('takes --help wherever the command needs an argument it was not given', async () => {
    expect((await help(['merchants', 'assign', '--help'])).text).toMatch(
      /^Usage: esl-sync merchants assign ID --store-code CODE/,
    );
    expect((await help(['help', 'backfill'])).text).toMatch(/^Usage: esl-sync backfill /);
  });

  it('lists a group’s commands, and every command with the exit codes in the overview', async () => {
    const group = await help(['merchants', '--help']);
    expect(group.code).toBe(0);
    for (const c of COMMANDS.filter((c) => c.name.startsWith('merchants ')))
      expect(group.text).toContain(`esl-sync ${c.name}`);
    expect(group.text).not.toContain('esl-sync tick');
    for (const args of [['--help'], [], ['help']]) {
      const all = await help(args);
      expect(all.code).toBe(0);
      for (const c of COMMANDS) expect(all.text).toContain(`  ${c.name} `);
      expect(all.text).toMatch(
        /Exit codes:\n {2}0 {2}done\n {2}1 {2}failed.*\n {2}2 {2}usage.*\n {2}3 {2}not found: unknown merchant/,
      );
    }
  });
});

describe('status on a fleet', () => {
  it('names a failure several active stores share word for word once, before the stores', async () => {
    const { merchantView } = await import('../../src/store/merchants.ts');
    const { sharedFailureLines } = await import('../../src/cli/text.ts');
    const down = 'Clover refused the app credentials';
    const view = (merchantId: string, over: Partial<MerchantRecord>) =>
      merchantView(merchantRecord({ merchantId, ...over }));
    const views = [
      view('A', { lastSyncStatus: 'error', lastSyncError: down }),
      view('B', { lastSyncStatus: 'error', lastSyncError: down }),
      view('C', { lastSyncStatus: 'error', lastSyncError: down }),
      // A disabled store's last error is not the fleet's; a store's own error stays its own.
      view('D', { state: 'disabled', lastSyncStatus: 'error', lastSyncError: down }),
      view('E', { lastSyncStatus: 'error', lastSyncError: 'Clover answered 500' }),
      view('F', { pushFailingSince: 1, lastPushError: 'Hipoink answered 503' }),
      view('G', { pushFailingSince: 2, lastPushError: 'Hipoink answered 503' }),
      view('H', { lastPushError: 'Hipoink answered 503' }), // its pushes go through again
    ];
    expect(sharedFailureLines(views)).toEqual([
      `! 3 stores' polls fail alike: ${down}`,
      "! 2 stores' pushes fail alike: Hipoink answered 503",
    ]);
    expect(sharedFailureLines(views.slice(3))).toEqual([
      "! 2 stores' pushes fail alike: Hipoink answered 503",
    ]);
  });
});
