/**
 * `npm run bench -- --latency`: how long a price changed in Clover takes to reach the shelf label,
 * with Clover's webhooks and with polling only, on the local stack (dynalite, fauxqs, the Clover
 * and Hipoink simulators, the real handlers). Two stores of 200 items; a clerk changes one price a
 * second, the stores taking turns, each change on an item not changed before in the run; the time
 * is from the change in the simulated Clover to the label on the simulated Hipoink server. Polls
 * run on the schedule in both runs (webhooks only add polls). Each run has its own two stores: a
 * store heard by notice is then polled on the safety interval, so the polling-only run uses stores
 * that never were. Also the webhook endpoint's own
 * response time: the simulator's deliveries, then single notices posted one after another.
 *
 * BENCH_LATENCY_CHANGES (default 50), BENCH_LATENCY_SPACING_MS (1000), BENCH_POLL_INTERVAL
 * (seconds, default 30) and BENCH_ENDPOINT_POSTS (200) change the sizes.
 */
import { verifyWebhook } from '../local/start.ts';
import { runCli } from '../src/cli/main.ts';
import { localTarget } from '../src/cli/target.ts';
import { createDocumentClient } from '../src/store/dynamo.ts';
import { createWebhookVerificationStore } from '../src/store/webhooks.ts';
import { WEBHOOK_PATH } from '../src/web/webhooks.ts';
import { merchantAddArgs, startSimulatedStack } from '../test/integration/support.ts';

const CHANGES = Number(process.env.BENCH_LATENCY_CHANGES ?? 50);
const SPACING_MS = Number(process.env.BENCH_LATENCY_SPACING_MS ?? 1000);
const INTERVAL_SECONDS = Number(process.env.BENCH_POLL_INTERVAL ?? 30);
const ENDPOINT_POSTS = Number(process.env.BENCH_ENDPOINT_POSTS ?? 200);
const AUTH = 'bench-webhook-auth-code';
/** Stores whose changes arrive by webhook, and stores only polled (never heard by notice). */
const HEARD = [
  { merchantId: 'LATENCYGAS001', storeCode: 'store-lat-1' },
  { merchantId: 'LATENCYMART02', storeCode: 'store-lat-2' },
];
const POLLED = [
  { merchantId: 'LATENCYGAS003', storeCode: 'store-lat-3' },
  { merchantId: 'LATENCYMART04', storeCode: 'store-lat-4' },
];
type Store = (typeof HEARD)[number];

/** The value below which `p` percent of the samples lie (nearest rank). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export async function runLatencyBench(log: (line: string) => void = console.log) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const world = await startSimulatedStack({
    appId: 'BENCH',
    sign: 'bench',
    intervalSeconds: INTERVAL_SECONDS,
    env: { CLOVER_WEBHOOK_AUTH_CODE: AUTH },
  });
  const { dir, clover, hipoink, stack } = world;
  const quiet = { out: () => undefined, err: () => undefined };
  const cli = (...args: string[]) => runCli(args, quiet, async () => localTarget(dir));
  const webhookUrl = `${stack.info.endpoints.web}${WEBHOOK_PATH}`;
  try {
    const dayAgo = Date.now() - 86_400_000;
    for (const s of [...HEARD, ...POLLED]) {
      const tokens = clover.addMerchant(
        s.merchantId,
        Array.from({ length: 200 }, (_, i) => ({
          name: `Item ${i}`,
          sku: `${s.storeCode}-${i}`,
          price: 1000 + i,
          modifiedTime: dayAgo + i * 1000,
        })),
      );
      await cli(...merchantAddArgs(s.merchantId, s.storeCode, tokens));
    }
    await cli('tick', '--wait');

    /** Changes one price a spacing apart, stores taking turns; resolves with each change's latency. */
    const run = async (stores: Store[]) => {
      const pending = stores.map((s) => clover.items(s.merchantId));
      const waits: Array<Promise<number>> = [];
      for (let n = 0; n < CHANGES; n++) {
        const s = stores[n % stores.length] as Store;
        const item = pending[n % stores.length]?.shift();
        if (!item?.sku) throw new Error('ran out of items to change');
        const price = item.price + 1 + (n % 50);
        const want = (price / 100).toFixed(2);
        const started = performance.now();
        clover.upsertItem(s.merchantId, { id: item.id, price });
        const sku = item.sku;
        waits.push(
          (async () => {
            const deadline = started + (3 * INTERVAL_SECONDS + 60) * 1000;
            while (hipoink.products(s.storeCode).get(sku)?.pp !== want) {
              if (performance.now() > deadline) return Number.NaN;
              await sleep(20);
            }
            return performance.now() - started;
          })(),
        );
        await sleep(SPACING_MS);
      }
      const all = await Promise.all(waits);
      return { latencies: all.filter((ms) => !Number.isNaN(ms)), missed: all.filter(Number.isNaN).length };
    };

    const verified = await verifyWebhook(clover, webhookUrl, AUTH, () =>
      createWebhookVerificationStore(
        createDocumentClient(localTarget(dir).dynamodb),
        stack.info.merchantsTable,
      ).last(),
    );
    if (!verified) throw new Error('the simulator could not verify the webhook address');
    const deliveredBefore = clover.webhooks.deliveries.length;
    const withWebhooks = await run(HEARD);
    const deliveries = clover.webhooks.deliveries.slice(deliveredBefore);
    clover.webhooks.configure(undefined);
    const pollingOnly = await run(POLLED);

    // The endpoint on its own: one notice per POST, one after another, each for a change in a new window.
    const direct: number[] = [];
    const statuses = new Map<number, number>();
    for (let n = 0; n < ENDPOINT_POSTS; n++) {
      const s = HEARD[n % HEARD.length] as Store;
      const body = JSON.stringify({
        appId: 'BENCH',
        merchants: { [s.merchantId]: [{ objectId: `I:BENCHITEM${n}`, type: 'UPDATE', ts: Date.now() }] },
      });
      const started = performance.now();
      const res = await fetch(webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-clover-auth': AUTH },
        body,
      });
      await res.arrayBuffer();
      direct.push(performance.now() - started);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }

    const row = (label: string, r: { latencies: number[]; missed: number }) =>
      `${label.padEnd(30)} p50 ${seconds(percentile(r.latencies, 50)).padStart(7)}   p95 ${seconds(percentile(r.latencies, 95)).padStart(7)}   max ${seconds(Math.max(...r.latencies)).padStart(7)}   (${r.latencies.length} changes${r.missed ? `, ${r.missed} not on the shelf in time` : ''})`;
    const ms = (samples: number[], p: number) => `${percentile(samples, p).toFixed(0)} ms`;
    log(
      `change → label, ${CHANGES} price changes ${SPACING_MS} ms apart over ${HEARD.length} stores a run; polls every ${INTERVAL_SECONDS} s (a store heard by notice: every 15 min)`,
    );
    log(row('with webhooks', withWebhooks));
    log(row('polling only', pollingOnly));
    const deliveryMs = deliveries.map((d) => d.ms);
    log(
      `webhook endpoint, simulator deliveries: ${deliveries.length} POSTs, statuses ${[...new Set(deliveries.map((d) => d.status))].join(',')}, ` +
        `p50 ${ms(deliveryMs, 50)}, p99 ${ms(deliveryMs, 99)}`,
    );
    log(
      `webhook endpoint, ${ENDPOINT_POSTS} notices posted one at a time: statuses ${[...statuses].map(([k, v]) => `${k}×${v}`).join(',')}, ` +
        `p50 ${ms(direct, 50)}, p95 ${ms(direct, 95)}, p99 ${ms(direct, 99)}, max ${ms(direct, 100)}`,
    );
    return { withWebhooks, pollingOnly, deliveries: deliveryMs, direct };
  } finally {
    await world.stop();
  }
}
