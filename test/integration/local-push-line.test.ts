/**
 * The `labels …` lines of the local stack: a push Hipoink failed until it was set aside in the
 * dead-letter queue is told as not brought in line, with its error, never as brought in line; once
 * Hipoink answers, the store's next poll brings it in line with no redrive. The clear of a store a
 * merchant leaves is told by that store, and as not taken off while its push is set aside.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/start.ts';
import { runCli } from '../../src/cli/main.ts';
import { localTarget } from '../../src/cli/target.ts';

let dir: string;
let stack: LocalStack;
const lines: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'esl-sync-push-line-'));
  // Polls only when told (`tick`), so no routine ghost cleanup can do what this file checks.
  stack = await startLocalStack({
    intervalSeconds: 0,
    demoActivitySeconds: 0,
    tokenRefreshSeconds: 0,
    webhooks: false,
    dataDir: dir,
    // The shortest backoff: a failing push is set aside after 1 + 2 + 4 + 8 s.
    env: { RETRY_BASE_SECONDS: '1' },
    log: (line) => lines.push(line),
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One fan-out, waiting until every poll and push it started has ended. */
const tick = () =>
  runCli(['tick', '--wait', '--timeout', '60'], { out: () => undefined, err: () => undefined }, async () =>
    localTarget(dir),
  );

async function until<T>(what: string, find: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const hit = find();
    if (hit !== undefined) return hit;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; lines:\n${lines.join('\n')}`);
}

describe('npm start labels lines', () => {
  it('tells a push set aside as not brought in line, with the error, and brings it in line at the next poll once Hipoink answers', async () => {
    const { clover, hipoink } = stack.info.simulators;
    if (!clover || !hipoink) throw new Error('bundled simulators expected');
    await tick(); // the stores' first sync
    await until('the first labels of store-001', () =>
      lines.find((l) => l.startsWith('labels store=store-001 ') && l.endsWith('brought in line with Clover')),
    );
    const items = (await (await fetch(`${clover}/_sim/merchants/DEMOGAS0000001/items`)).json()) as Array<{
      id: string;
      sku?: string;
      price: number;
    }>;
    const fuel = items.find((i) => i.sku === 'FUEL-87');
    if (!fuel) throw new Error('demo item FUEL-87 expected');
    await fetch(`${hipoink}/_sim/fail-every`, {
      method: 'POST',
      body: JSON.stringify({ n: 1, status: 503 }),
    });
    const from = lines.length;
    await fetch(`${clover}/_sim/merchants/DEMOGAS0000001/items/${fuel.id}`, {
      method: 'PUT',
      body: JSON.stringify({ price: fuel.price + 10 }),
    });
    await tick(); // its push fails until it is set aside
    const told = await until('the failed push’s labels line', () =>
      lines.slice(from).find((l) => l.startsWith('labels store=store-001 codes=1 ')),
    );
    expect(told).toContain(
      'not brought in line with Clover: Hipoink product/create_multiple failed with HTTP 503',
    );
    expect(told).toContain('dlq list --queue push');
    // Hipoink answers again: the store's next poll, a routine one (no ghost cleanup is due), queues
    // the code set aside again, with no redrive.
    const back = lines.length;
    await fetch(`${hipoink}/_sim/fail-every`, { method: 'POST', body: JSON.stringify({ n: 0 }) });
    await tick();
    await until('the set-aside code brought in line', () =>
      lines.slice(back).find((l) => l === 'labels store=store-001 codes=1 brought in line with Clover'),
    );
    const held = (await (await fetch(`${hipoink}/_sim/stores/store-001/products`)).json()) as Array<{
      pc: string;
      pp: string;
    }>;
    expect(held.find((p) => p.pc === 'FUEL-87')?.pp).toBe(((fuel.price + 10) / 100).toFixed(2));
  }, 120_000);

  it('tells the clear of a store a merchant leaves by that store, failed and then done', async () => {
    const { hipoink } = stack.info.simulators;
    if (!hipoink) throw new Error('bundled simulators expected');
    const only = (storeCodes?: string[]) =>
      fetch(`${hipoink}/_sim/only-stores`, {
        method: 'POST',
        body: JSON.stringify(storeCodes ? { storeCodes } : {}),
      });
    const assign = () =>
      runCli(
        ['merchants', 'assign', 'DEMOMART00002', '--store-code', 'store-102', '--timeout', '60'],
        { out: () => undefined, err: () => undefined },
        async () => localTarget(dir),
      );
    await tick(); // DEMOMART00002's labels in store-002
    // store-102 takes every label; store-002 refuses every request, so emptying it is set aside.
    await only(['store-001', 'store-102']);
    const from = lines.length;
    await expect(assign()).rejects.toThrow('store store-002 has not deleted');
    const failed = await until('the failed clear’s labels line', () =>
      lines.slice(from).find((l) => l.startsWith('labels store=store-002 ')),
    );
    expect(failed).toMatch(
      /^labels store=store-002 codes=\d+ not taken off: the push deleting them was set aside/,
    );
    await only();
    const again = lines.length;
    await assign();
    await until('the clear’s labels line', () =>
      lines.slice(again).find((l) => /^labels store=store-002 codes=\d+ taken off the store$/.test(l)),
    );
    expect(await (await fetch(`${hipoink}/_sim/stores/store-002/products`)).json()).toEqual([]);
  }, 120_000);
});
