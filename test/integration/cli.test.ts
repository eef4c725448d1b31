/**
 * The CLI against a local stack with independent Clover and Hipoink servers: a store's
 * `backfill --wait` follows that store's own records while another store keeps the queues busy,
 * `--json` gives one document on stdout, and the real `esl-sync` process exits with the codes
 * its help states.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloverSimulator } from '../../local/simulators/clover.ts';
import type { HipoinkSimulator } from '../../local/simulators/hipoink.ts';
import type { LocalStack } from '../../local/start.ts';
import { runCli } from '../../src/cli/main.ts';
import { localTarget } from '../../src/cli/target.ts';
import { queueDepth } from '../../src/queues/depth.ts';
import { merchantAddArgs, startSimulatedStack } from './support.ts';

const root = join(import.meta.dirname, '..', '..');
const SIGN = 'cli-test-sign-7c2e';
const A = 'CLIMERCHANTA1';
const B = 'CLIMERCHANTB2';

let world: Awaited<ReturnType<typeof startSimulatedStack>>;
let clover: CloverSimulator;
let hipoink: HipoinkSimulator;
let stack: LocalStack;
let dir: string;

/** Runs the CLI in-process; stdout and stderr apart. */
async function cli(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  await runCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, async () => localTarget(dir));
  return { out, err };
}

/** Runs the real `esl-sync` executable against this stack. */
function esl(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return eslWith({}, ...args);
}
/**
 * `esl` with another stdout: 'closed', a pipe whose reader has gone (as `| head -1` once it has its
 * line), or a file descriptor to write to.
 */
function eslWith(
  opts: { stdout?: 'closed' | number },
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(root, 'bin', 'esl-sync.mjs'), ...args], {
    cwd: root,
    env: { ...process.env, ESL_SYNC_DATA_DIR: dir },
    stdio: ['ignore', typeof opts.stdout === 'number' ? opts.stdout : 'pipe', 'pipe'],
  });
  if (opts.stdout === 'closed') child.stdout?.destroy();
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const shelf = (store: string) =>
  [...hipoink.products(store).values()].map((p) => `${p.pc} ${p.pn} ${p.pp}`).sort();
const expectedShelf = (merchantId: string) =>
  clover
    .items(merchantId)
    .filter((i) => !i.hidden)
    .map((i) => `${i.sku} ${i.name} ${(i.price / 100).toFixed(2)}`)
    .sort();

async function until(what: string, condition: () => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  world = await startSimulatedStack({ appId: 'CLIAPP', sign: SIGN });
  ({ clover, hipoink, stack, dir } = world);
  const catalog = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      name: `${prefix} item ${i}`,
      sku: `${prefix}-${i}`,
      price: 100 + i,
    }));
  clover.addMerchant(A, catalog('A', 12));
  clover.addMerchant(B, catalog('B', 12));
  for (const [merchantId, storeCode] of [
    [A, 'store-a'],
    [B, 'store-b'],
  ] as const)
    await cli(...merchantAddArgs(merchantId, storeCode, clover.issueTokens(merchantId)));
  await cli('tick', '--wait');
});

afterAll(() => world?.stop());

describe('backfill --wait follows its own store', () => {
  it('returns once store A is done while store B keeps the queue busy, with A’s labels complete', async () => {
    expect(shelf('store-a')).toEqual(expectedShelf(A));
    expect(shelf('store-b')).toEqual(expectedShelf(B));

    // Store B's Hipoink stops answering; a resync of B leaves its push waiting on it.
    const held = hipoink.holdStore('store-b');
    try {
      const [b0] = clover.items(B);
      if (!b0) throw new Error('fixture');
      clover.upsertItem(B, { id: b0.id, price: b0.price + 50 });
      await cli('backfill', '--merchant-id', B);
      await until('store B’s push is waiting on Hipoink', () => hipoink.heldRequests('store-b') > 0);

      // Store A changes: a price, a new item, a deletion only a full resync finds.
      const [a0, a1] = clover.items(A);
      if (!a0 || !a1) throw new Error('fixture');
      clover.upsertItem(A, { id: a0.id, price: a0.price + 25 });
      clover.upsertItem(A, { name: 'A newcomer', sku: 'A-NEW', price: 999 });
      clover.deleteItem(A, a1.id);

      const { out, err } = await cli('backfill', '--merchant-id', A, '--wait', '--timeout', '180', '--json');
      // A's labels are complete when the command returns…
      expect(shelf('store-a')).toEqual(expectedShelf(A));
      expect(shelf('store-a')).toContain('A-NEW A newcomer 9.99');
      expect(shelf('store-a').some((l) => l.startsWith(`${a1.sku} `))).toBe(false);
      // …while B's push is still stuck in the queue.
      expect(hipoink.heldRequests('store-b')).toBeGreaterThan(0);
      const push = await queueDepth(localTarget(dir).sqs, stack.info.pushQueueUrl);
      expect(push.visible + push.inFlight + push.delayed).toBeGreaterThan(0);
      expect(shelf('store-b')).not.toEqual(expectedShelf(B));

      // stdout: one JSON document, A's record after its resync; its progress went to stderr.
      expect(out).toHaveLength(1);
      const result = JSON.parse(out[0] ?? '');
      expect(result.queued).toEqual([A]);
      expect(result.stores[0]).toMatchObject({ merchantId: A, lastSyncMode: 'full', lastSyncStatus: 'ok' });
      expect(Date.parse(result.stores[0].lastFullSyncAt)).toBeGreaterThanOrEqual(
        Date.parse(result.requestedAt),
      );
      expect(err.join('\n')).toMatch(
        new RegExp(`synced: merchant ${A} polled \\(fetched \\d+, changed \\d+\\), every label in step`),
      );
    } finally {
      held.release();
    }
    await cli('tick', '--wait');
    expect(shelf('store-b')).toEqual(expectedShelf(B));
  });

  it('merchants configure --wait follows that store too', async () => {
    const { out } = await cli('merchants', 'configure', A, '--field-map', 'f1=sku', '--wait');
    expect(out.join('\n')).toMatch(new RegExp(`\nsynced: merchant ${A} polled .*every label in step\n`));
    expect(out.at(-1)).toBe(`merchant ${A}: every label follows the new rules`);
    for (const label of hipoink.products('store-a').values()) expect(label.f1).toBe(label.pc);
  });
});

describe('--json', () => {
  it.each([
    [['status']],
    [['merchants', 'list']],
    [['merchants', 'show', A]],
    [['dlq', 'list']],
    [['dlq', 'redrive']],
    [['tokens', 'refresh']],
    [['tick', '--wait']],
    [['stores', 'invite', '--store-code', 'store-c']],
    [['merchants', 'disable', B]],
    [['merchants', 'enable', B]],
  ])('esl-sync %j --json: one JSON document on stdout', async (args) => {
    const { out } = await cli(...args, '--json');
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0] ?? '')).toBeTypeOf('object');
  });

  it('status carries each store’s shelf counts, kept on its record', async () => {
    const status = JSON.parse((await cli('status', '--json')).out[0] ?? '');
    const a = status.merchants.find((m: { merchantId: string }) => m.merchantId === A);
    expect(a.shelf).toMatchObject({ onShelf: expectedShelf(A).length, outOfStep: 0, refused: 0 });
    expect((await cli('status')).out.join('\n')).toContain(
      `  shelf: ${expectedShelf(A).length} on shelf, 0 to push`,
    );
  });
});

describe('merchants label', () => {
  it('tells which item a shared code shows, a refused label with its reason, an unanswered push, and an item that wants no label', async () => {
    const L = 'CLIMERCHANTL9';
    clover.addMerchant(L, [
      { name: 'L soda', sku: 'L-0', price: 199 },
      { name: 'L soda twin', sku: 'L-0', price: 299 },
      { name: 'L chips', sku: 'L-2', price: 99 },
    ]);
    hipoink.rejectProduct('L-2', 'price tag template missing');
    await cli(...merchantAddArgs(L, 'store-l', clover.issueTokens(L)));
    await cli('backfill', '--merchant-id', L, '--wait');
    const [soda, twin, chips] = clover.items(L);
    if (!soda || !twin || !chips) throw new Error('fixture');
    const label = async (...args: string[]) => (await cli('merchants', 'label', L, ...args)).out.join('\n');

    // Of the two items with code L-0, the one Hipoink shows is the one told to get it.
    const shown = hipoink.products('store-l').get('L-0');
    const [winner, loser] = shown?.pn === 'L soda' ? [soda, twin] : [twin, soda];
    const shared = await label('--code', 'L-0');
    expect(shared).toContain(`wanted by Clover item ${winner.id} since `);
    expect(shared).toMatch(
      new RegExp(`Clover item ${winner.id} since [^\\n]*: "${winner.name}" [\\d.]+ \\(gets it\\)`),
    );
    expect(shared).toContain(
      `: "${loser.name}" ${(loser.price / 100).toFixed(2)} (not shown: product code L-0 is already used by Clover item ${winner.id} ("${winner.name}"))`,
    );
    expect(shared).toContain(
      `Hipoink holds, as last recorded: "${winner.name}" ${(winner.price / 100).toFixed(2)} from Clover item ${winner.id}`,
    );
    expect(shared).toContain('in step: no push has anything to do here');

    // A label Hipoink refused: why, and that it is not sent again by itself.
    const refused = await label('--code', 'L-2');
    expect(refused).toContain('Hipoink holds, as last recorded: nothing');
    expect(refused).toContain(`Hipoink refused Clover item ${chips.id}'s label: `);
    expect(refused).toContain('price tag template missing');
    expect(refused).toContain(
      `refused: Hipoink does not show Clover item ${chips.id}'s label as it is now, and no push sends it again by itself`,
    );

    // A price change whose push Hipoink has not answered yet: out of step, the call unanswered.
    const held = hipoink.holdStore('store-l');
    try {
      clover.upsertItem(L, { id: winner.id, price: winner.price + 100 });
      await cli('backfill', '--merchant-id', L);
      await until('store L’s push is waiting on Hipoink', () => hipoink.heldRequests('store-l') > 0);
      const pending = JSON.parse(
        (await cli('merchants', 'label', L, '--item', winner.id, '--json')).out[0] ?? '',
      );
      expect(pending.item).toEqual({ itemId: winner.id, status: 'active', wantsCode: 'L-0' });
      expect(pending.slot).toMatchObject({ code: 'L-0', unanswered: true, next: 'create' });
      const text = await label('--item', winner.id);
      expect(text).toContain(`Clover item ${winner.id}: active: it wants product code L-0`);
      expect(text).toContain('a Hipoink call under it has no recorded answer yet');
      expect(text).toContain(`out of step: a push must show Clover item ${winner.id}'s label`);
    } finally {
      held.release();
    }
    await cli('tick', '--wait');
    expect(await label('--code', 'L-0')).toContain(
      `Hipoink holds, as last recorded: "${winner.name}" ${((winner.price + 100) / 100).toFixed(2)} from Clover item ${winner.id}`,
    );

    // Hidden, the winner wants no label; the other item gets the code, and Hipoink shows it.
    clover.upsertItem(L, { id: winner.id, hidden: true });
    await cli('backfill', '--merchant-id', L, '--wait');
    const gone = await label('--item', winner.id);
    expect(gone).toContain(`Clover item ${winner.id}: removed (hidden): it wants no label`);
    expect(gone).not.toContain('product code L-0:');
    expect(hipoink.products('store-l').get('L-0')?.pn).toBe(loser.name);
    expect(await label('--code', 'L-0')).toContain(`Clover item ${loser.id} since `);
    await expect(cli('merchants', 'label', L, '--item', 'NOSUCHITEM')).rejects.toThrow(
      /Clover item NOSUCHITEM is not among merchant CLIMERCHANTL9's items/,
    );
    await cli('merchants', 'remove', L, '--remove-labels');
  });
});

describe('a Hipoink store another merchant already uses', () => {
  it('is refused to merchants add and merchants assign, changing nothing, unless --share-store', async () => {
    const C = 'CLIMERCHANTC3';
    clover.addMerchant(C, [{ name: 'C item', sku: 'A-0', price: 999 }]); // A-0 is also store A's code
    const add = merchantAddArgs(C, 'store-a', clover.issueTokens(C));
    await expect(cli(...add)).rejects.toThrow(
      /store store-a already shows the labels of merchant CLIMERCHANTA1: .*--share-store/,
    );
    await expect(cli('merchants', 'show', C)).rejects.toThrow(/unknown merchant/);
    await cli(...merchantAddArgs(C, 'store-c', clover.issueTokens(C)));
    await expect(cli('merchants', 'assign', C, '--store-code', 'store-b')).rejects.toThrow(
      /already shows the labels of merchant CLIMERCHANTB2/,
    );
    expect(JSON.parse((await cli('merchants', 'show', C, '--json')).out[0] ?? '')).toMatchObject({
      storeCode: 'store-c',
    });
    expect(shelf('store-a')).toEqual(expectedShelf(A));
    // Told the codes never overlap, the operator may share the store.
    const D = 'CLIMERCHANTD4';
    clover.addMerchant(D, []);
    await cli(...merchantAddArgs(D, 'store-a', clover.issueTokens(D)), '--share-store');
    expect(JSON.parse((await cli('merchants', 'show', D, '--json')).out[0] ?? '')).toMatchObject({
      storeCode: 'store-a',
    });
    for (const m of [C, D]) await cli('merchants', 'remove', m);
  });

  it('is refused to merchants retry-clear: a delete there could take the other merchant’s labels down', async () => {
    await expect(cli('merchants', 'retry-clear', A, '--store-code', 'store-b')).rejects.toThrow(
      /store store-b now shows the labels of merchant CLIMERCHANTB2: .*by hand/,
    );
    expect(shelf('store-b')).toEqual(expectedShelf(B));
  });
});

describe('merchants add', () => {
  it('refuses a token pair Clover does not accept for the merchant named, storing nothing and spending nothing', async () => {
    const [E, TYPO] = ['CLIMERCHANTE5', 'CLIMERCHANTE6'];
    clover.addMerchant(E, [{ name: 'E item', sku: 'E-0', price: 100 }]);
    const tokens = clover.issueTokens(E);
    const refreshesBefore = clover.refreshCalls;
    await expect(cli(...merchantAddArgs(TYPO, 'store-e', tokens))).rejects.toThrow(
      /Clover does not accept this access token for merchant CLIMERCHANTE6 .*: nothing stored/,
    );
    await expect(cli('merchants', 'show', TYPO)).rejects.toThrow(/unknown merchant/);
    expect(clover.refreshCalls).toBe(refreshesBefore);
    // The same pair under the right id is accepted, and syncs.
    await cli(...merchantAddArgs(E, 'store-e', tokens));
    await cli('backfill', '--merchant-id', E, '--wait');
    expect(shelf('store-e')).toEqual(['E-0 E item 1.00']);
    await cli('merchants', 'remove', E);
  });

  it('stores a pair whose access token has expired unchecked, with a warning: only a refresh proves it', async () => {
    const F = 'CLIMERCHANTF7';
    clover.addMerchant(F, [{ name: 'F item', sku: 'F-0', price: 100 }]);
    const tokens = { ...clover.issueTokens(F), access_token_expiration: Math.floor(Date.now() / 1000) - 60 };
    clover.expireAccessToken(F);
    const out = await cli(...merchantAddArgs(F, 'store-f', tokens));
    expect(out.err.join('\n')).toContain(
      'the access token has expired, so the pair was not checked with Clover',
    );
    await cli('backfill', '--merchant-id', F, '--wait');
    expect(shelf('store-f')).toEqual(['F-0 F item 1.00']);
    await cli('merchants', 'remove', F);
  });
});

describe('merchants remove', () => {
  it('deletes a merchant whose record cannot be read, leaving its labels, but refuses to guess where they are', async () => {
    const U = 'CLIMERCHANTU9';
    const target = localTarget(dir);
    const doc = DynamoDBDocumentClient.from(target.dynamodb);
    const { merchantsTable, productsTable } = target.stack;
    // A record without its Clover tokens (damaged by hand, say), and one item row of the store.
    const record = {
      merchantId: U,
      storeCode: 'store-u',
      state: 'active',
      tokenVersion: 0,
      createdAt: 1,
      updatedAt: 1,
    };
    await doc.send(new PutCommand({ TableName: merchantsTable, Item: record }));
    await doc.send(
      new PutCommand({
        TableName: productsTable,
        Item: { merchantId: U, itemId: 'ITEM1', status: 'removed' },
      }),
    );
    const stored = async () => {
      const m = await doc.send(
        new GetCommand({ TableName: merchantsTable, Key: { merchantId: U }, ConsistentRead: true }),
      );
      const rows = await doc.send(
        new QueryCommand({
          TableName: productsTable,
          KeyConditionExpression: 'merchantId = :m',
          ExpressionAttributeValues: { ':m': U },
        }),
      );
      return { merchant: m.Item !== undefined, rows: rows.Items?.length ?? 0 };
    };
    await expect(cli('merchants', 'show', U)).rejects.toThrow(
      /no usable Clover token is stored .*merchants remove/,
    );

    await expect(cli('merchants', 'remove', U, '--remove-labels')).rejects.toThrow(
      /Which store holds its labels cannot be read: without --remove-labels, it is deleted and its labels stay/,
    );
    expect(await stored()).toEqual({ merchant: true, rows: 1 });

    const removed = await cli('merchants', 'remove', U);
    expect(removed.out.join('\n')).toContain(
      `merchant ${U} removed: its tokens, items and sync state are deleted; its record could not be read`,
    );
    expect(await stored()).toEqual({ merchant: false, rows: 0 });
    await expect(cli('merchants', 'show', U)).rejects.toThrow(/unknown merchant/);
  });
});

describe('a store whose tokens Clover refused', () => {
  it('is not started again by merchants disable then enable: only new tokens start it', async () => {
    const G = 'CLIMERCHANTG8';
    clover.addMerchant(G, [{ name: 'G item', sku: 'G-0', price: 100 }]);
    await cli(...merchantAddArgs(G, 'store-g', clover.issueTokens(G)));
    clover.revokeRefreshToken(G);
    clover.expireAccessToken(G);
    await cli('tick', '--wait');
    expect(JSON.parse((await cli('merchants', 'show', G, '--json')).out[0] ?? '')).toMatchObject({
      state: 'needs_reauth',
    });

    await cli('merchants', 'disable', G);
    const refreshesBefore = clover.refreshCalls;
    await expect(cli('merchants', 'enable', G)).rejects.toThrow(
      new RegExp(`${G} is not enabled: re-authorize: \`esl-sync merchants reconnect ${G}\``),
    );
    const status = (await cli('status')).out.join('\n');
    expect(status).toContain(
      `${G}  store store-g  disabled (disabled by an operator), needs re-authorization`,
    );
    expect(status).toContain(`  ! re-authorize: \`esl-sync merchants reconnect ${G}\``);
    await cli('tick', '--wait');
    expect(clover.refreshCalls).toBe(refreshesBefore);

    // A pair Clover gave afresh ends it: the store syncs.
    await cli(...merchantAddArgs(G, 'store-g', clover.issueTokens(G)));
    await cli('merchants', 'disable', G);
    await cli('merchants', 'enable', G);
    await cli('tick', '--wait');
    expect(shelf('store-g')).toEqual(['G-0 G item 1.00']);
    await cli('merchants', 'remove', G);
  });
});

describe('the esl-sync executable', () => {
  it('exits 0 with its result, 2 for a usage error, 3 for an unknown merchant', async () => {
    const ok = await esl('merchants', 'show', A, '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ merchantId: A, storeCode: 'store-a' });

    const unknown = await esl('merchants', 'show', 'NOSUCHMERCHANT');
    expect(unknown.code).toBe(3);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toBe('esl-sync: unknown merchant NOSUCHMERCHANT\n');
    // Clover's ids are in capitals: one typed in small letters is named with the id it likely meant.
    const lower = await esl('merchants', 'show', A.toLowerCase());
    expect(lower.code).toBe(3);
    expect(lower.stderr).toBe(`esl-sync: unknown merchant ${A.toLowerCase()} (did you mean ${A}?)\n`);

    const usage = await esl('tick', '--bogus');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/unknown option --bogus\nRun `esl-sync --help` for usage\.\n$/);

    const help = await esl('backfill', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: esl-sync backfill /);
  });

  it('ends quietly, with its own exit code, when the reader of its output stops early', async () => {
    for (const [args, code] of [
      [['status'], 0],
      [['--help'], 0],
      [['merchants', 'show', A, '--json'], 0],
      [['tick', '--bogus'], 2],
    ] as const) {
      const r = await eslWith({ stdout: 'closed' }, ...args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({
        args,
        code,
        stderr: code === 2 ? expect.stringMatching(/^esl-sync: unknown option --bogus\n/) : '',
      });
    }
  });

  it.skipIf(!existsSync('/dev/full'))('still fails loudly on any other write error', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const r = await eslWith({ stdout: full }, '--help');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/ENOSPC/);
    } finally {
      closeSync(full);
    }
  });
});
