/**
 * `npm run bench`: how long the local pipeline takes for the store sizes this product serves
 * (gas stations and convenience stores of 500–2,000 SKUs), and what each sync costs in Clover
 * requests and Hipoink calls. Local numbers (dynalite, fauxqs, simulators on one machine), not a
 * promise about AWS; the request counts are the same anywhere. Clover requests are counted for the
 * measured merchant only; Hipoink calls for the whole run (the other stores are unchanged). Every
 * item here was created moments before the first poll, so the next polls still re-read them
 * through the 2-minute late-commit window: in a store whose items did not all change in the last
 * two minutes a no-change tick is one request.
 */

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/cli/main.ts';
import { localTarget } from '../src/cli/target.ts';
import { merchantAddArgs, startSimulatedStack } from '../test/integration/support.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// `npm run bench -- --latency`: change → label latency with and without webhooks (bench/latency.ts).
if (process.argv.includes('--latency')) {
  await (await import('./latency.ts')).runLatencyBench();
  process.exit(0);
}
const ROOT = fileURLToPath(new URL('..', import.meta.url));

// `npm run bench -- --fleet [N] [--no-old-way] [--no-bundles]`: the fleet benchmark (fleet.ts);
// `npm run bench -- --fan-out [N]`: the fan-out over N merchants past the ceiling (scale.ts).
const args = process.argv.slice(2);
const count = (flag: string, fallback: number) => {
  const given = args[args.indexOf(flag) + 1];
  const n = given !== undefined && /^\d+$/.test(given) ? Number(given) : fallback;
  if (n < 10) throw new Error(`${flag} takes a number of merchants ≥ 10; got ${given}`);
  return n;
};
if (args.includes('--fan-out')) {
  const { runFanOutScale } = await import('./scale.ts');
  await runFanOutScale({ merchants: count('--fan-out', 20_000), outDir: join(ROOT, '.bench') });
  process.exit(0);
}
if (args.includes('--fleet')) {
  const merchants = count('--fleet', 1000);
  const { runFleet } = await import('./fleet.ts');
  await runFleet({
    merchants,
    root: ROOT,
    outDir: join(ROOT, '.bench'),
    oldWay: !args.includes('--no-old-way'),
    bundles: !args.includes('--no-bundles'),
  });
  process.exit(0);
}

const SIZES = (process.env.BENCH_SIZES ?? '500,2000').split(',').map(Number);
const world = await startSimulatedStack({ appId: 'BENCH', sign: 'bench' });
const { dir, clover, hipoink } = world;
const quiet = { out: () => undefined, err: () => undefined };
const cli = async (...args: string[]) => {
  const code = await runCli(args, quiet, async () => localTarget(dir));
  if (code !== 0) throw new Error(`esl-sync ${args.join(' ')} exited ${code}`);
};

async function measure(label: string, merchantId: string, run: () => Promise<void>) {
  clover.resetRequests();
  hipoink.resetCalls();
  const started = performance.now();
  await run();
  const ms = performance.now() - started;
  const calls = hipoink.calls.length;
  console.log(
    `${label.padEnd(42)} ${ms.toFixed(0).padStart(6)} ms  clover requests ${String(clover.countItemRequests(merchantId)).padStart(3)}  hipoink calls ${String(calls).padStart(3)}`,
  );
}

try {
  for (const size of SIZES) {
    const merchantId = `BENCH${String(size).padStart(8, '0')}`;
    // A store's steady state: items last edited over the past day, not all within the 2-minute
    // late-commit window the next poll re-reads (which would cost that poll more requests).
    const dayAgo = Date.now() - 86_400_000;
    const tokens = clover.addMerchant(
      merchantId,
      Array.from({ length: size }, (_, i) => ({
        name: `Item ${i}`,
        sku: `SKU-${i}`,
        price: 100 + i,
        modifiedTime: dayAgo + i * 1000,
      })),
    );
    await cli(...merchantAddArgs(merchantId, `store-${size}`, tokens));
    await measure(`first sync, ${size} SKUs (tick --wait)`, merchantId, () => cli('tick', '--wait'));
    await measure(`no-change tick, ${size} SKUs`, merchantId, () => cli('tick', '--wait'));
    const items = clover.items(merchantId).slice(0, 10);
    for (const item of items) clover.upsertItem(merchantId, { id: item.id, price: item.price + 1 });
    await measure(`10 price changes, ${size} SKUs`, merchantId, () => cli('tick', '--wait'));
    await measure(`backfill, ${size} SKUs`, merchantId, () =>
      cli('backfill', '--merchant-id', merchantId, '--wait'),
    );
  }
} finally {
  await world.stop();
}
