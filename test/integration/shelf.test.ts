/**
 * The shelf against real parts, driven through the CLI as an operator would: the local stack on
 * dynalite and fauxqs, with independent Clover and Hipoink simulators over HTTP. Barcodes that change
 * hands, and an operator moving, resending or removing a store's labels.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloverSimulator, startCloverSimulator } from '../../local/simulators/clover.ts';
import { type HipoinkSimulator, startHipoinkSimulator } from '../../local/simulators/hipoink.ts';
import { type LocalStack, startLocalStack } from '../../local/start.ts';
import { runCli } from '../../src/cli/main.ts';
import { localTarget } from '../../src/cli/target.ts';
import { createDocumentClient } from '../../src/store/dynamo.ts';
import { createMerchantStore } from '../../src/store/merchants.ts';
import { merchantAddArgs } from './support.ts';

const SIGN = 'shelf-sign-91c2';
let clover: CloverSimulator;
let hipoink: HipoinkSimulator;
let stack: LocalStack;
let dir: string;

async function cli(...args: string[]): Promise<string[]> {
  const out: string[] = [];
  await runCli(args, { out: (l) => out.push(l), err: (l) => out.push(l) }, async () => localTarget(dir));
  return out;
}

/** A store that has been synced once, with items last edited a day ago (outside the re-read window). */
async function syncedStore(merchantId: string, storeCode: string, items: Array<Record<string, unknown>>) {
  const dayAgo = Date.now() - 86_400_000;
  const tokens = clover.addMerchant(
    merchantId,
    items.map((i, n) => ({ price: 100 + n, modifiedTime: dayAgo + n, ...i })),
  );
  await cli(...merchantAddArgs(merchantId, storeCode, tokens));
  await cli('backfill', '--merchant-id', merchantId, '--wait');
}

const labels = (storeCode: string) =>
  Object.fromEntries([...hipoink.products(storeCode).values()].map((p) => [p.pc, p.pn]));

async function status(merchantId: string) {
  const [json] = [(await cli('merchants', 'show', merchantId, '--json')).join('\n')];
  return JSON.parse(json) as { products: { invalid: Array<{ itemId: string; reason: string }> } };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'esl-sync-shelf-'));
  clover = await startCloverSimulator({ appId: 'SHELFAPP' });
  hipoink = await startHipoinkSimulator({ sign: SIGN });
  stack = await startLocalStack({
    intervalSeconds: 0,
    demoActivitySeconds: 0,
    tokenRefreshSeconds: 0,
    dataDir: dir,
    env: {
      CLOVER_API_BASE_URL: clover.url,
      HIPOINK_BASE_URL: hipoink.url,
      CLOVER_APP_ID: 'SHELFAPP',
      HIPOINK_SIGN: SIGN,
    },
    log: () => undefined,
  });
});

afterAll(async () => {
  await stack?.stop();
  await clover?.stop();
  await hipoink?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a barcode let go by a deleted item', () => {
  it('reaches the item re-created under it at the next poll, with one extra Clover request', async () => {
    const M = 'SHELFRECREATE';
    await syncedStore(M, 'store-recreate', [
      { id: 'OLDCOLA000001', name: 'Cola 2L', sku: '049000050103' },
      { id: 'FUEL00000001', name: 'Unleaded', sku: 'FUEL-87' },
    ]);
    // A no-change tick costs exactly one Clover request: no contested code, no GET.
    clover.resetRequests();
    await cli('tick', '--wait');
    expect(clover.countItemRequests(M)).toBe(1);

    clover.deleteItem(M, 'OLDCOLA000001');
    clover.upsertItem(M, { id: 'NEWCOLA000001', name: 'Cola 2L (new)', sku: '049000050103', price: 329 });
    clover.resetRequests();
    await cli('tick', '--wait');
    expect(clover.countItemRequests(M)).toBe(2); // the read, and one GET of the old holder (404)
    expect(clover.requests.filter((r) => r.path.endsWith('/items/OLDCOLA000001'))).toHaveLength(1);
    expect(labels('store-recreate')['049000050103']).toBe('Cola 2L (new)');
    expect((await status(M)).products.invalid).toEqual([]);
  });

  it('reaches the other item when two items swap barcodes and one is deleted before the poll', async () => {
    const M = 'SHELFSWAPDEL1';
    await syncedStore(M, 'store-swap', [
      { id: 'ITEMA0000001', name: 'Item A', sku: 'SKU-X' },
      { id: 'ITEMB0000001', name: 'Item B', sku: 'SKU-Y' },
    ]);
    clover.upsertItem(M, { id: 'ITEMA0000001', sku: 'SKU-Y' });
    clover.upsertItem(M, { id: 'ITEMB0000001', sku: 'SKU-X' });
    clover.deleteItem(M, 'ITEMA0000001');
    await cli('tick', '--wait');
    expect(labels('store-swap')).toEqual({ 'SKU-X': 'Item B' });
  });

  it('stays with its holder while the holder exists, and the newcomer is reported', async () => {
    const M = 'SHELFCONTEST1';
    await syncedStore(M, 'store-contest', [
      { id: 'HOLDER000001', name: 'Holder', sku: 'SKU-C' },
      { id: 'OTHER0000001', name: 'Other', sku: 'SKU-O' }, // the newest: the holder is not re-read
    ]);
    clover.upsertItem(M, { id: 'NEWCOMER0001', name: 'Newcomer', sku: 'SKU-C', price: 555 });
    clover.resetRequests();
    await cli('tick', '--wait');
    expect(clover.countItemRequests(M)).toBe(2); // one GET confirms the holder still exists
    expect(labels('store-contest')).toEqual({ 'SKU-C': 'Holder', 'SKU-O': 'Other' });
    expect((await status(M)).products.invalid).toEqual([
      {
        itemId: 'NEWCOMER0001',
        name: 'Newcomer',
        reason: 'product code SKU-C is already used by Clover item HOLDER000001 ("Holder")',
      },
    ]);
    // A new price of the holder's is no new claim to the code: it keeps it, at that price.
    clover.upsertItem(M, { id: 'HOLDER000001', price: 777 });
    await cli('tick', '--wait');
    expect(labels('store-contest')).toEqual({ 'SKU-C': 'Holder', 'SKU-O': 'Other' });
    expect(hipoink.products('store-contest').get('SKU-C')?.pp).toBe('7.77');
    expect((await status(M)).products.invalid.map((i: { itemId: string }) => i.itemId)).toEqual([
      'NEWCOMER0001',
    ]);
    // The holder lets go: the newcomer takes the code in that poll.
    clover.upsertItem(M, { id: 'HOLDER000001', hidden: true });
    await cli('tick', '--wait');
    expect(labels('store-contest')).toEqual({ 'SKU-C': 'Newcomer', 'SKU-O': 'Other' });
    expect((await status(M)).products.invalid).toEqual([]);
  });
});

describe('an operator changing where a store’s labels live', () => {
  it('resends every label with backfill --repush (a Hipoink server that lost them)', async () => {
    const M = 'SHELFREPUSH01';
    await syncedStore(
      M,
      'store-repush',
      Array.from({ length: 5 }, (_, n) => ({ name: `Item ${n}`, sku: `RP-${n}` })),
    );
    for (const pc of Object.keys(labels('store-repush')))
      await fetch(`${hipoink.url}/api/default/product/del_multiple`, {
        method: 'POST',
        body: JSON.stringify({ store_code: 'store-repush', is_base64: '0', sign: SIGN, f1: [pc] }),
      });
    expect(labels('store-repush')).toEqual({});
    await cli('backfill', '--merchant-id', M, '--wait'); // the records say every label is there
    expect(labels('store-repush')).toEqual({});
    await cli('backfill', '--merchant-id', M, '--repush', '--wait');
    expect(Object.keys(labels('store-repush')).sort()).toEqual(['RP-0', 'RP-1', 'RP-2', 'RP-3', 'RP-4']);
  });

  it('moves every label to a new store code, and empties the old store only after', async () => {
    const M = 'SHELFMOVE0001';
    await syncedStore(M, 'store-old', [
      { name: 'Diesel', sku: 'FUEL-DSL' },
      { name: 'Chips', sku: 'SN-1' },
      { name: 'Cigarettes', sku: 'CIG-1', hidden: true },
    ]);
    const before = labels('store-old');
    expect(Object.keys(before).sort()).toEqual(['FUEL-DSL', 'SN-1']);
    const out = await cli('merchants', 'assign', M, '--store-code', 'store-new');
    expect(out.at(-1)).toMatch(/labels moved from store store-old to store store-new/);
    expect(out.at(-1)).toMatch(/store store-old: 2 code\(s\) deleted$/);
    expect(labels('store-new')).toEqual(before);
    expect(labels('store-old')).toEqual({});
    // From now on its changes reach the new store.
    clover.upsertItem(M, { sku: 'SN-2', name: 'Candy', price: 99 });
    await cli('tick', '--wait');
    expect(Object.keys(labels('store-new')).sort()).toEqual(['FUEL-DSL', 'SN-1', 'SN-2']);
  });

  it('removes a store: --remove-labels takes its labels off Hipoink, and its records and tokens go', async () => {
    const [KEEP, GONE] = ['SHELFKEEPS001', 'SHELFGONE0001'];
    await syncedStore(KEEP, 'store-keeps', [{ name: 'Water', sku: 'W-1' }]);
    await syncedStore(GONE, 'store-gone', [
      { name: 'Water', sku: 'W-1' },
      { name: 'Soda', sku: 'S-1' },
    ]);
    await cli('merchants', 'remove', KEEP);
    const removed = await cli('merchants', 'remove', GONE, '--remove-labels');
    expect(removed.at(-1)).toMatch(/store store-gone: 2 code\(s\) deleted\. /);
    expect(labels('store-keeps')).toEqual({ 'W-1': 'Water' });
    expect(labels('store-gone')).toEqual({});
    await expect(cli('merchants', 'show', GONE)).rejects.toThrow(/unknown merchant/);
    const listed = (await cli('merchants', 'list')).join('\n');
    expect(listed).not.toContain(GONE);
    expect(listed).not.toContain(KEEP);
  });

  it('names the labels Hipoink refused to take off a removed store, which nothing records any more', async () => {
    const BOUND = 'SHELFBOUND001';
    await syncedStore(BOUND, 'store-bound', [{ name: 'Ice', sku: 'ICE-1' }]);
    // Hipoink refuses the delete (a label still bound to the product, say); a probe shows the
    // request itself is fine.
    hipoink.errorCodeNext(1, 20009, 'product is bound to a label');
    const removed = await cli('merchants', 'remove', BOUND, '--remove-labels');
    expect(removed.at(-1)).toMatch(
      /store store-bound: 0 code\(s\) deleted, 1 Hipoink refused to delete \(LabelRemovalRefused\): ICE-1; nothing records them any more: take them off in Hipoink by hand\. /,
    );
    expect(labels('store-bound')).toEqual({ 'ICE-1': 'Ice' });
    await expect(cli('merchants', 'show', BOUND)).rejects.toThrow(/unknown merchant/);
  });

  it("removes a store while another store's polls keep failing and fill the poll queue", async () => {
    const [OTHER, FAILING, DONOR] = ['SHELFOTHER001', 'SHELFFAILS001', 'SHELFDONOR001'];
    await syncedStore(OTHER, 'store-other', [{ name: 'Tea', sku: 'T-1' }]);
    // Another merchant's tokens, stored past the CLI's check: Clover refuses them for this one, a
    // retryable failure.
    const target = await localTarget(dir);
    const merchants = createMerchantStore(createDocumentClient(target.dynamodb), target.stack.merchantsTable);
    await merchants.upsert({
      merchantId: FAILING,
      storeCode: 'store-fails',
      tokens: clover.addMerchant(DONOR, []),
    });
    for (let i = 0; i < 3; i++) await cli('backfill', '--merchant-id', FAILING);
    // Its group in the poll queue stays busy for longer than the removal may take.
    const removed = await cli('merchants', 'remove', OTHER, '--remove-labels', '--timeout', '20');
    expect(removed.at(-1)).toMatch(/store store-other: 1 code\(s\) deleted\. /);
    expect(labels('store-other')).toEqual({});
    await cli('merchants', 'remove', FAILING);
  }, 60_000);
});
