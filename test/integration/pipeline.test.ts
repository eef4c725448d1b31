/**
 * The whole pipeline against *independent* Clover and Hipoink servers (simulators started on
 * their own ports and handed to the local stack through CLOVER_API_BASE_URL / HIPOINK_BASE_URL),
 * driven through the CLI exactly as an operator would: merchants add → tick --wait.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CloverSimulator, startCloverSimulator } from '../../local/simulators/clover.ts';
import { type HipoinkSimulator, startHipoinkSimulator } from '../../local/simulators/hipoink.ts';
import { type LocalStack, startLocalStack } from '../../local/start.ts';
import { runCli } from '../../src/cli/main.ts';
import { localTarget } from '../../src/cli/target.ts';
import { METRIC } from '../../src/metric-names.ts';
import { metrics } from '../../src/observability.ts';
import { queueDepth } from '../../src/queues/depth.ts';
import { createAttentionLedger } from '../../src/store/attention.ts';
import { captureOutput, merchantAddArgs } from './support.ts';

const SIGN = 'test-sign-5b1f0c';
const A = 'MERCHANTAAAA1';
const B = 'MERCHANTBBBB2';
const DEAD = 'MERCHANTDEAD3';

let clover: CloverSimulator;
let hipoink: HipoinkSimulator;
let stack: LocalStack;
let dir: string;
const logged: string[] = [];

async function cli(...args: string[]): Promise<string[]> {
  const out: string[] = [];
  await runCli(args, { out: (l) => out.push(l), err: (l) => out.push(l) }, async () => localTarget(dir));
  logged.push(...out);
  return out;
}

async function addMerchant(merchantId: string, storeCode: string) {
  const t = clover.issueTokens(merchantId);
  await cli(...merchantAddArgs(merchantId, storeCode, t));
  return t;
}

/** Puts a message on a queue of the stack as is, as no function of ours would send it. */
async function sendRaw(queueUrl: (t: ReturnType<typeof localTarget>) => string, body: string, id: string) {
  const target = localTarget(dir);
  await target.sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl(target),
      MessageBody: body,
      MessageGroupId: id,
      MessageDeduplicationId: `${id}-1`,
    }),
  );
  return target;
}

const shelf = (store: string) =>
  [...hipoink.products(store).values()]
    .map((p) => ({ pc: p.pc, pn: p.pn, pp: p.pp, ...(p.pu ? { pu: p.pu } : {}) }))
    .sort((a, b) => a.pc.localeCompare(b.pc));

/** What the shelf must hold: exactly the non-hidden items, mapped by the rules in the README. */
const expectedShelf = (merchantId: string) =>
  clover
    .items(merchantId)
    .filter((i) => !i.hidden && i.price >= 0)
    .map((i) => ({
      pc: i.sku || i.code || i.id,
      pn: i.name,
      pp: (i.price / 100).toFixed(2),
      ...(i.priceType === 'PER_UNIT' && i.unitName ? { pu: i.unitName } : {}),
    }))
    .sort((a, b) => a.pc.localeCompare(b.pc));

let restoreOutput = () => {};

beforeAll(async () => {
  // Everything the handlers log (Powertools writes to stdout/stderr) is kept to check for secrets.
  restoreOutput = captureOutput(logged);
  dir = mkdtempSync(join(tmpdir(), 'esl-sync-pipeline-'));
  clover = await startCloverSimulator({ appId: 'TESTAPP' });
  hipoink = await startHipoinkSimulator({ sign: SIGN });
  clover.addMerchant(A, [
    { name: 'Regular Unleaded', sku: 'FUEL-REG', price: 389, priceType: 'PER_UNIT', unitName: 'gal' },
    { name: 'Cola 20oz', code: '049000028911', price: 229 },
    { name: 'Marlboro Red', sku: 'CIG-MR', price: 1099, hidden: true },
    { name: 'Deli sandwich', sku: 'DELI-1', price: 0, priceType: 'VARIABLE' },
    { name: 'Ice bag', price: 399, available: false },
  ]);
  clover.addMerchant(B, [
    { name: 'Diesel', sku: 'FUEL-DSL', price: 459, priceType: 'PER_UNIT', unitName: 'gal' },
    { name: 'Chips', sku: 'SN-1', price: 199 },
    { id: 'BADPRICE00001', name: 'Broken', sku: 'BAD-1', price: -100 },
  ]);
  clover.addMerchant(DEAD, [{ name: 'Gum', sku: 'GUM', price: 99 }]);
  stack = await startLocalStack({
    intervalSeconds: 0,
    demoActivitySeconds: 0,
    tokenRefreshSeconds: 0,
    dataDir: dir,
    env: {
      CLOVER_API_BASE_URL: clover.url,
      HIPOINK_BASE_URL: hipoink.url,
      CLOVER_APP_ID: 'TESTAPP',
      HIPOINK_SIGN: SIGN,
      POWERTOOLS_LOG_LEVEL: 'INFO',
    },
    log: (l) => logged.push(l),
  });
});

afterAll(async () => {
  restoreOutput();
  await stack?.stop();
  await clover?.stop();
  await hipoink?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('vertical slice against independent Clover and Hipoink servers', () => {
  let tokensA: { access_token: string; refresh_token: string };

  it('merchants add → tick --wait leaves Hipoink holding exactly each store’s non-hidden items', async () => {
    tokensA = await addMerchant(A, 'store-a');
    await addMerchant(B, 'store-b');
    const dead = await addMerchant(DEAD, 'store-dead');
    clover.revokeRefreshToken(DEAD);
    clover.expireAccessToken(DEAD);

    await cli('tick', '--wait');

    expect(shelf('store-a')).toEqual(expectedShelf(A));
    expect(shelf('store-b')).toEqual(expectedShelf(B));
    expect(shelf('store-a')).toContainEqual({
      pc: 'FUEL-REG',
      pn: 'Regular Unleaded',
      pp: '3.89',
      pu: 'gal',
    });
    expect(shelf('store-a').map((p) => p.pc)).not.toContain('CIG-MR');
    expect(shelf('store-dead')).toEqual([]);

    const deadView = JSON.parse((await cli('merchants', 'show', DEAD, '--json')).join('\n'));
    expect(deadView.state).toBe('needs_reauth');
    expect(JSON.stringify(deadView)).not.toContain(dead.refresh_token);
  });

  it('a second tick with no changes makes one Clover request per merchant and no Hipoink call', async () => {
    clover.resetRequests();
    hipoink.resetCalls();
    const refreshesBefore = clover.refreshCalls;
    await cli('tick', '--wait');
    expect(clover.refreshCalls).toBe(refreshesBefore);
    expect(clover.countItemRequests(A)).toBe(1);
    expect(clover.countItemRequests(B)).toBe(1);
    expect(clover.countItemRequests(DEAD)).toBe(0); // needs_reauth merchants are skipped
    expect(hipoink.calls).toHaveLength(0);
  });

  it('a price change, a hide and a delete reach the shelf', async () => {
    const cola = clover.items(A).find((i) => i.name === 'Cola 20oz');
    const fuel = clover.items(A).find((i) => i.sku === 'FUEL-REG');
    if (!cola || !fuel) throw new Error('fixture missing');
    // Staff bound a shelf label to the fuel price; a price change must update it, not unbind it.
    hipoink.bindLabel('store-a', 'ESL-PUMP-1', 'FUEL-REG');
    clover.upsertItem(A, { id: fuel.id, price: 399 });
    clover.upsertItem(A, { id: cola.id, hidden: true });
    await cli('tick', '--wait');
    expect(hipoink.boundLabels('store-a').get('ESL-PUMP-1')).toBe('FUEL-REG');
    expect(shelf('store-a')).toContainEqual({
      pc: 'FUEL-REG',
      pn: 'Regular Unleaded',
      pp: '3.99',
      pu: 'gal',
    });
    expect(shelf('store-a').map((p) => p.pc)).not.toContain('049000028911');

    const chips = clover.items(B).find((i) => i.sku === 'SN-1');
    if (!chips) throw new Error('fixture missing');
    clover.deleteItem(B, chips.id);
    await cli('backfill', '--merchant-id', B, '--wait');
    expect(shelf('store-b')).toEqual(expectedShelf(B));
    expect(shelf('store-b').map((p) => p.pc)).not.toContain('SN-1');
  });

  it('a delete in Clover reaches the labels by the 10th poll, through ghost cleanup, without a backfill', async () => {
    const soda = clover.upsertItem(A, { name: 'Root beer 12oz', sku: 'BEV-RB', price: 149 });
    await cli('tick', '--wait');
    expect(shelf('store-a').map((p) => p.pc)).toContain('BEV-RB');
    clover.deleteItem(A, soda.id);
    const lastCleanup = async () =>
      JSON.parse((await cli('merchants', 'show', A, '--json')).join('\n')).lastCleanupAt as
        | string
        | undefined;
    const cleanupBefore = await lastCleanup();
    let polls = 0;
    while (shelf('store-a').some((p) => p.pc === 'BEV-RB') && polls < 10) {
      await cli('tick', '--wait');
      polls++;
    }
    expect(shelf('store-a').map((p) => p.pc)).not.toContain('BEV-RB');
    expect(polls).toBeGreaterThan(0);
    expect(polls).toBeLessThanOrEqual(10);
    // It was the cleanup that found it: a `modifiedTime` read never lists deleted items.
    expect(await lastCleanup()).not.toBe(cleanupBefore);
    expect(shelf('store-a')).toEqual(expectedShelf(A));
  });

  it('an expired access token costs exactly one refresh even when ticks and backfills run at once', async () => {
    clover.expireAccessToken(A);
    clover.expireAccessToken(B);
    const before = clover.refreshCalls;
    await Promise.all([
      cli('tick'),
      cli('backfill', '--merchant-id', A),
      cli('backfill', '--all'),
      cli('tick'),
    ]);
    await cli('tick', '--wait');
    expect(clover.refreshCalls - before).toBe(2); // one for A, one for B
    const status = JSON.parse((await cli('status', '--json')).join('\n'));
    const a = status.merchants.find((m: { merchantId: string }) => m.merchantId === A);
    expect(a.state).toBe('active');
    expect(shelf('store-a')).toEqual(expectedShelf(A));
  });

  it('applies a store’s label rules to every label after merchants configure', async () => {
    await cli(
      'merchants',
      'configure',
      A,
      '--field-map',
      'f1=priceType,f2=sku',
      '--variable-price',
      'remove',
      '--wait',
    );
    const labels = hipoink.products('store-a');
    expect(labels.get('FUEL-REG')).toMatchObject({ f1: 'PER_UNIT', f2: 'FUEL-REG' });
    expect(labels.has('DELI-1')).toBe(false); // the VARIABLE-price deli item
    await expect(cli('merchants', 'configure', A, '--field-map', 'f99=sku')).rejects.toThrow(
      /invalid label rules/,
    );
    await cli('merchants', 'configure', A, '--field-map', '', '--variable-price', 'base', '--wait');
    expect(hipoink.products('store-a').has('DELI-1')).toBe(true);
    expect(hipoink.products('store-a').get('FUEL-REG')?.f1).toBeUndefined();
  });

  it('shows a product Hipoink refuses as rejected in status, and still delivers the others', async () => {
    hipoink.rejectProduct('FUEL-DSL', 'label template missing');
    const diesel = clover.items(B).find((i) => i.sku === 'FUEL-DSL');
    if (!diesel) throw new Error('fixture missing');
    clover.upsertItem(B, { id: diesel.id, price: diesel.price + 10 });
    const soda = clover.upsertItem(B, { name: 'Soda', sku: 'BEV-1', price: 189 });
    await cli('tick', '--wait');
    // Status counts it; merchants show names it, with Hipoink's reason.
    const status = JSON.parse((await cli('status', '--json')).join('\n'));
    expect(status.merchants.find((m: { merchantId: string }) => m.merchantId === B).shelf).toMatchObject({
      refused: 1,
    });
    const b = JSON.parse((await cli('merchants', 'show', B, '--json')).join('\n'));
    expect(b.products.rejected).toEqual([
      { itemId: diesel.id, name: diesel.name, reason: expect.stringContaining('label template missing') },
    ]);
    expect(hipoink.products('store-b').get('BEV-1')).toMatchObject({ pn: soda.name, pp: '1.89' });
    expect(hipoink.products('store-b').get('FUEL-DSL')?.pp).toBe((diesel.price / 100).toFixed(2));

    // Hipoink is fixed: a tick leaves the refused label alone, a full resync tries it again.
    hipoink.acceptProduct('FUEL-DSL');
    await cli('tick', '--wait');
    expect(hipoink.products('store-b').get('FUEL-DSL')?.pp).toBe((diesel.price / 100).toFixed(2));
    await cli('backfill', '--merchant-id', B, '--wait');
    expect(hipoink.products('store-b').get('FUEL-DSL')?.pp).toBe(((diesel.price + 10) / 100).toFixed(2));
    const after = JSON.parse((await cli('merchants', 'show', B, '--json')).join('\n'));
    expect(after.products.rejected).toEqual([]);
    expect(after.shelf).toMatchObject({ refused: 0 });
  });

  it('records an invalid Clover item with its reason, skips it, and shows it in status', async () => {
    expect(shelf('store-b').map((p) => p.pc)).not.toContain('BAD-1');
    const b = JSON.parse((await cli('merchants', 'show', B, '--json')).join('\n'));
    expect(b.shelf).toMatchObject({ invalid: 1 });
    expect((await cli('status')).join('\n')).toMatch(
      new RegExp(
        `${B} .*\\n.*! items whose labels do not show them as they are in Clover .*: \`esl-sync merchants show ${B}\``,
      ),
    );
    expect(b.products.invalid).toEqual([
      { itemId: 'BADPRICE00001', reason: expect.stringMatching(/negative price/) },
    ]);
  });

  it('records an item whose product code is too long to store as invalid, and syncs the store’s other changes', async () => {
    // Clover sets no length on `code`; a slot is keyed by it, and DynamoDB refuses a key over 1 KB.
    const long = clover.upsertItem(B, {
      id: 'LONGCODE00001',
      name: 'Pasted',
      code: 'X'.repeat(1100),
      price: 100,
    });
    const diesel = clover.items(B).find((i) => i.sku === 'FUEL-DSL');
    if (!diesel) throw new Error('fixture missing');
    clover.upsertItem(B, { id: diesel.id, price: 479 });
    await cli('tick', '--wait', '--timeout', '30');
    const b = JSON.parse((await cli('merchants', 'show', B, '--json')).join('\n'));
    expect(b).toMatchObject({ lastSyncStatus: 'ok', shelf: { invalid: 2 } });
    expect(b.products.invalid).toContainEqual({
      itemId: long.id,
      reason: expect.stringMatching(/^product code: longer than \d+ bytes/),
    });
    expect(hipoink.products('store-b').get('FUEL-DSL')?.pp).toBe('4.79');

    // Corrected in Clover, it reaches the shelf like any item.
    clover.upsertItem(B, { id: long.id, code: 'PASTED-1' });
    await cli('tick', '--wait', '--timeout', '30');
    expect(hipoink.products('store-b').get('PASTED-1')).toMatchObject({ pn: 'Pasted', pp: '1.00' });
    const fixed = JSON.parse((await cli('merchants', 'show', B, '--json')).join('\n'));
    expect(fixed).toMatchObject({ lastSyncStatus: 'ok', shelf: { invalid: 1 } });
  });

  it('moves a malformed poll message straight to the dead-letter queue and keeps going', async () => {
    const target = await sendRaw((t) => t.stack.pollQueueUrl, '{"merchantId": 42}', 'garbage');
    const counted = vi.spyOn(metrics, 'addMetric');
    await cli('tick', '--wait');
    expect(await queueDepth(target.sqs, target.stack.pollDlqUrl)).toMatchObject({ visible: 1 });
    expect(shelf('store-a')).toEqual(expectedShelf(A));
    // Counted as it is set aside: the count tells a new letter while the queue's alarm fires.
    expect(counted).toHaveBeenCalledWith(METRIC.messagesDeadLettered, 'Count', 1);
    counted.mockRestore();
    // status says what waits there and what to do, for that queue only.
    const status = (await cli('status')).join('\n');
    expect(status).toMatch(/! 1 poll message\(s\) set aside: `[^`]*esl-sync dlq list --queue poll` says why/);
    expect(status).not.toMatch(/push message\(s\) set aside/);
  });

  it('lists dead letters with their reason and redrives them to their queue', async () => {
    const listed = JSON.parse((await cli('dlq', 'list', '--queue', 'poll', '--json')).join('\n'));
    expect(listed.poll.total).toBe(1);
    expect(listed.poll.letters).toEqual([
      expect.objectContaining({
        body: '{"merchantId": 42}',
        failureReason: expect.stringMatching(/merchantId/),
      }),
    ]);
    expect(await cli('dlq', 'redrive', '--queue', 'poll')).toEqual(['poll: 1 message(s) sent back']);
    const target = localTarget(dir);
    // Still malformed, so it comes straight back to the DLQ, and nothing else is disturbed.
    await cli('tick', '--wait');
    expect(await queueDepth(target.sqs, target.stack.pollDlqUrl)).toMatchObject({ visible: 1 });
  });

  it('redrives a push letter of a merchant removed since: skipped, not set aside again', async () => {
    const body = JSON.stringify({ merchantId: 'REMOVED000001', codes: ['049000028911'] });
    const target = await sendRaw((t) => t.stack.pushDlqUrl, body, 'removed');
    expect(await cli('dlq', 'redrive', '--queue', 'push')).toEqual(['push: 1 message(s) sent back']);
    await cli('tick', '--wait');
    expect(await queueDepth(target.sqs, target.stack.pushDlqUrl)).toMatchObject({ visible: 0 });
  });

  it('refuses merchants add with another store code for a merchant that has one, naming the move', async () => {
    const t = clover.issueTokens(A);
    await expect(cli(...merchantAddArgs(A, 'store-elsewhere', t))).rejects.toThrow(
      `Merchant ${A} shows its labels in another store than store-elsewhere: that is a move ` +
        `(\`esl-sync merchants assign ${A} --store-code store-elsewhere\`), nothing was saved`,
    );
    expect(JSON.parse((await cli('merchants', 'show', A, '--json')).join('\n'))).toMatchObject({
      storeCode: 'store-a',
    });
  });

  it('discards a dead letter that can never succeed, by the id dlq list shows, and keeps the others', async () => {
    const target = await sendRaw((t) => t.stack.pollDlqUrl, '{"merchantId": "kept"}', 'kept');
    const listed = JSON.parse((await cli('dlq', 'list', '--queue', 'poll', '--json')).join('\n'));
    const garbage = listed.poll.letters.find((l: { body: string }) => l.body === '{"merchantId": 42}');
    await expect(cli('dlq', 'discard', '--message-id', garbage.messageId)).rejects.toThrow(/--queue/);
    expect(await cli('dlq', 'discard', '--queue', 'poll', '--message-id', garbage.messageId)).toEqual([
      'poll: 1 message(s) discarded',
    ]);
    const left = JSON.parse((await cli('dlq', 'list', '--queue', 'poll', '--json')).join('\n'));
    expect(left.poll.letters.map((l: { body: string }) => l.body)).toEqual(['{"merchantId": "kept"}']);
    // Gone for good: asked again, it is named as not found, and nothing else goes.
    await expect(cli('dlq', 'discard', '--queue', 'poll', '--message-id', garbage.messageId)).rejects.toThrow(
      new RegExp(`0 discarded; not found .*${garbage.messageId}`),
    );
    expect(await queueDepth(target.sqs, target.stack.pollDlqUrl)).toMatchObject({ visible: 1 });
  });

  it('refreshes tokens that are due through the backup refresher, once each', async () => {
    clover.expireAccessToken(B);
    const { createMerchantStore } = await import('../../src/store/merchants.ts');
    const { createDocumentClient } = await import('../../src/store/dynamo.ts');
    const target = localTarget(dir);
    const store = createMerchantStore(createDocumentClient(target.dynamodb), target.stack.merchantsTable);
    const b = await store.get(B);
    if (!b?.storeCode) throw new Error('fixture');
    // B's stored token is about to expire; A's is fresh and was refreshed minutes ago.
    await store.upsert({
      merchantId: B,
      storeCode: b.storeCode,
      tokens: {
        access_token: b.accessToken,
        access_token_expiration: Math.floor(Date.now() / 1000) + 60,
        refresh_token: b.refreshToken,
        refresh_token_expiration: b.refreshTokenExpiresAt,
      },
    });
    const before = clover.refreshCalls;
    const out = await cli('tokens', 'refresh');
    expect(out[0]).toMatch(/2 checked, 1 refreshed, 0 failed/);
    expect(clover.refreshCalls - before).toBe(1);
    // Its heartbeat is visible to operators.
    expect((await cli('status')).join('\n')).toMatch(
      /token refresher: last run \S+ \(0 min ago\): 2 checked, 1 refreshed, 0 failed\n/,
    );
    await cli('tick', '--wait');
    expect(clover.refreshCalls - before).toBe(1);
    expect(shelf('store-b')).toEqual(expectedShelf(B));
  });

  it('skips a disabled merchant until it is enabled again', async () => {
    await cli('merchants', 'disable', B, '--reason', 'store closed for renovation');
    const shown = JSON.parse((await cli('merchants', 'show', B, '--json')).join('\n'));
    expect(shown).toMatchObject({ state: 'disabled', stateReason: 'store closed for renovation' });
    clover.resetRequests();
    await cli('tick', '--wait');
    expect(clover.countItemRequests(B)).toBe(0);
    expect(clover.countItemRequests(A)).toBe(1);
    expect(await cli('merchants', 'enable', B)).toEqual([`merchant ${B}: active, full resync queued`]);
    await cli('tick', '--wait');
    // The full resync enabling queued, and the tick's poll: one request each.
    expect(clover.countItemRequests(B)).toBe(2);
    const enabled = JSON.parse((await cli('merchants', 'show', B, '--json')).join('\n'));
    expect(Date.parse(enabled.lastFullSyncAt)).toBeGreaterThan(Date.now() - 60_000);
    await expect(cli('merchants', 'enable', DEAD)).rejects.toThrow(/not enabled: re-authorize: .*reconnect/);
    // The fan-out keeps the stores each alarm counted (its own record: the local IAM lets it).
    const { createDocumentClient } = await import('../../src/store/dynamo.ts');
    const target = localTarget(dir);
    const ledger = createAttentionLedger(createDocumentClient(target.dynamodb), target.stack.merchantsTable);
    expect((await ledger.last())?.sets.needsReauth).toEqual([DEAD]);
  });

  it('never prints or logs a token or the sign', () => {
    const text = logged.join('\n');
    expect(text).not.toContain(tokensA.access_token);
    expect(text).not.toContain(tokensA.refresh_token);
    expect(text).not.toContain(SIGN);
  });
});
