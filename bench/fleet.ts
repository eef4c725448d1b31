/**
 * `npm run bench -- --fleet N`: one Clover app serving N stores, tick by tick, with the real
 * handlers run by the local stack's pumps (the deployed concurrency settings) against the Clover
 * simulator enforcing Clover's per-app and per-token limits (rate and concurrency, 429 with
 * retry-after) at 100–300 ms per request, side by side with the old way of polling (old-way.ts)
 * on the same simulator and an identical fleet.
 *
 * Ticks, for each system: the initial load; a tick with nothing changed; a tick during which 2% of
 * the items change (spread over the time the unchanged tick took, each change committed up to 1 s
 * after its modifiedTime, as a late commit would); a catch-up tick with no new change. Changes not
 * on the shelf after the catch-up tick are missed: they stay wrong until the item changes again.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startCloverSimulator } from '../local/simulators/clover.ts';
import { startHipoinkSimulator } from '../local/simulators/hipoink.ts';
import { type StackReading, startLocalStack } from '../local/start.ts';
import { runCli } from '../src/cli/main.ts';
import { localTarget } from '../src/cli/target.ts';
import { centsToDollars } from '../src/domain/money.ts';
import { POLLER } from '../src/function-settings.ts';
import { waitForQueuesDrained } from '../src/queues/depth.ts';
import { createSqsClient } from '../src/queues/sqs.ts';
import { createDocumentClient } from '../src/store/dynamo.ts';
import { createMerchantStore } from '../src/store/merchants.ts';
import { forEachLimited } from '../src/sync/parallel.ts';
import { type BundleMeasure, measureBundles } from './bundles.ts';
import { createOldWayPoller } from './old-way.ts';

export interface FleetOptions {
  merchants: number;
  root: string;
  /** Where the JSON results and bundles go (ignored by git). */
  outDir: string;
  /** Run the old way too (default true). */
  oldWay: boolean;
  /** Measure bundle sizes and import times (default true). */
  bundles: boolean;
}

const SMALL_ITEMS = 50;
const BIG_ITEMS = 5000;
const CHANGE_SHARE = 0.02;
const LATE_COMMIT_MS = 1000;
const LATENCY = { min: 100, max: 300 };
const REQUESTS_PER_SECOND = 50;
/** Item reads get 80% of the app's budget (src/deps.ts); the floor is what they may use. */
const READ_BUDGET = Math.floor(REQUESTS_PER_SECOND * 0.8);

/** A small seeded generator, so both systems get the same fleet and the same changes. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface TickResult {
  system: 'ours' | 'old way';
  tick: string;
  merchants: number;
  drainMs: number;
  /** Until every label is in line (pushes done); ours only. */
  shelfMs?: number;
  cloverRequests: number;
  floorMs: number;
  drainRatio: number;
  rateLimited: number;
  earlyRequests: number;
  failedPolls?: number;
  changes: number;
  notOnShelf: number;
  hipoinkCalls?: number;
  perMerchant?: {
    dynamodbCalls: number;
    readUnits: number;
    writeUnits: number;
    sqsCalls: number;
    invocations: number;
    handlerMs: number;
  };
  reading?: StackReading;
}

const READ_OPS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan']);

export async function runFleet(opts: FleetOptions) {
  const n = opts.merchants;
  const big = Math.max(1, Math.round(n * 0.003));
  const started = Date.now();
  mkdirSync(opts.outDir, { recursive: true });
  const say = (line: string) => process.stdout.write(`${line}\n`);

  let bundles: BundleMeasure[] = [];
  if (opts.bundles) {
    bundles = await measureBundles(opts.root, join(opts.outDir, 'bundles'));
    say('bundle                 size   SDK import   our import (CPU)   medians of 7 fresh processes');
    for (const b of bundles) {
      say(
        `${b.handler.padEnd(16)} ${`${(b.bytes / 1024).toFixed(0)} KB`.padStart(9)} ${`${b.sdkImportMs.toFixed(0)} ms`.padStart(12)} ${`${b.ownImportMs.toFixed(0)} ms (${b.ownImportCpuMs.toFixed(0)} ms)`.padStart(18)}`,
      );
    }
  }

  const clover = await startCloverSimulator({ appId: 'FLEET', latencyMs: LATENCY });
  const hipoink = await startHipoinkSimulator({ sign: 'fleet' });
  const dir = join(opts.outDir, `state-${process.pid}`);
  const stack = await startLocalStack({
    intervalSeconds: 0,
    demoActivitySeconds: 0,
    tokenRefreshSeconds: 0,
    dataDir: dir,
    env: {
      CLOVER_API_BASE_URL: clover.url,
      HIPOINK_BASE_URL: hipoink.url,
      CLOVER_APP_ID: 'FLEET',
      HIPOINK_SIGN: 'fleet',
      CLOVER_REQUESTS_PER_SECOND: String(REQUESTS_PER_SECOND),
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
    log: () => undefined,
    quiet: true,
    meter: true,
    inMemoryState: true,
  });
  const quiet = { out: () => undefined, err: (line: string) => say(`cli: ${line}`) };
  const cli = (...args: string[]) => runCli(args, quiet, async () => localTarget(dir));
  const local = {
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
  const sqs = createSqsClient({ ...local, endpoint: stack.info.endpoints.sqs });
  const merchants = createMerchantStore(
    createDocumentClient(new DynamoDBClient({ ...local, endpoint: stack.info.endpoints.dynamodb })),
    stack.info.merchantsTable,
  );
  const old = createOldWayPoller({
    baseUrl: clover.url,
    appId: 'FLEET',
    workers: POLLER.feed.maxConcurrency,
  });

  const results: TickResult[] = [];
  try {
    // The fleet, twice: ours and an identical one for the old way (tokens are single-use, so the
    // two cannot share a merchant).
    const dayAgo = Date.now() - 86_400_000;
    const ids = Array.from({ length: n }, (_, i) => String(i).padStart(9, '0'));
    const bigEvery = Math.floor(n / big);
    const sizeOf = (i: number) => (i % bigEvery === 0 && i / bigEvery < big ? BIG_ITEMS : SMALL_ITEMS);
    const ours = (id: string) => `FLT${id}`;
    const theirs = (id: string) => `OLD${id}`;
    await forEachLimited(ids, 8, async (id) => {
      const size = sizeOf(Number(id));
      const items = Array.from({ length: size }, (_, k) => ({
        id: `I${id}${String(k).padStart(5, '0')}`,
        name: `Item ${k}`,
        sku: `SKU${id}-${k}`,
        price: 100 + k,
        modifiedTime: dayAgo + k * 10,
      }));
      const tokens = clover.addMerchant(ours(id), items);
      await merchants.upsert({ merchantId: ours(id), storeCode: `store-${id}`, tokens });
      old.add(theirs(id), clover.addMerchant(theirs(id), items));
    });
    say(`setup: ${s(Date.now() - started)}`);
    const totalItems = ids.reduce((sum, id) => sum + sizeOf(Number(id)), 0);
    say(
      `fleet: ${n} merchants (${n - big} × ${SMALL_ITEMS} items, ${big} × ${BIG_ITEMS.toLocaleString('en')}), ` +
        `${totalItems.toLocaleString('en')} items; Clover ${LATENCY.min}–${LATENCY.max} ms per request, ` +
        `limits 50/s and 10 concurrent per app, 16/s and 5 per token; our read budget ${READ_BUDGET}/s`,
    );

    // The same changes for both: 2% of the items, each at the same moment of its system's tick.
    const pick = random(42);
    const changes = Array.from({ length: Math.round(totalItems * CHANGE_SHARE) }, () => {
      const id = ids[Math.floor(pick() * n)] as string;
      return { id, item: Math.floor(pick() * sizeOf(Number(id))), at: pick(), lag: pick() * LATE_COMMIT_MS };
    }).sort((a, b) => a.at - b.at);
    const applyChanges = async (merchantOf: (id: string) => string, spreadMs: number, t0: number) => {
      for (const c of changes) {
        const wait = t0 + c.at * spreadMs - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const merchantId = merchantOf(c.id);
        const itemId = `I${c.id}${String(c.item).padStart(5, '0')}`;
        const current = clover.items(merchantId).find((i) => i.id === itemId);
        if (current)
          clover.upsertItem(merchantId, {
            id: itemId,
            price: current.price + 7,
            modifiedTime: Math.round(Date.now() - c.lag),
          });
      }
    };

    const notOnOurShelf = () => {
      let wrong = 0;
      for (const id of ids) {
        const shelf = hipoink.products(`store-${id}`);
        for (const item of clover.items(ours(id))) {
          if (item.hidden) continue;
          if (shelf.get(item.sku ?? '')?.pp !== centsToDollars(item.price)) wrong++;
        }
      }
      return wrong;
    };
    const notOnTheirShelf = () => {
      let wrong = 0;
      for (const id of ids) {
        const shelf = old.shelf(theirs(id));
        for (const item of clover.items(theirs(id)))
          if (!item.hidden && shelf.get(item.id) !== item.price) wrong++;
      }
      return wrong;
    };
    const limitsReading = () => ({
      cloverRequests: clover.requests.length,
      rateLimited: clover.requests.filter((r) => r.status === 429).length,
      earlyRequests: clover.countEarlyRequests(),
    });
    const settle = async () => {
      // Between ticks: Clover's one-second windows empty, nothing carried over.
      await new Promise((r) => setTimeout(r, 1100));
      clover.resetRequests();
      clover.resetPenalties();
      hipoink.resetCalls();
      stack.resetReading();
    };

    const ourTick = async (tick: string, during?: (t0: number) => Promise<void>) => {
      await settle();
      const t0 = Date.now();
      await cli('tick');
      const changing = during?.(t0);
      let reported = Date.now();
      await waitForQueuesDrained(sqs, [stack.info.pollQueueUrl, stack.info.pushQueueUrl], {
        timeoutMs: 30 * 60_000,
        pollMs: 200,
        onProgress: (depths) => {
          if (Date.now() - reported < 15_000) return;
          reported = Date.now();
          const [poll, push] = [...depths.values()].map((d) => d.visible + d.inFlight + d.delayed);
          say(`        … ${tick}: ${s(Date.now() - t0)}, ${poll} polls and ${push} pushes to go`);
        },
      });
      await changing;
      const reading = stack.reading();
      const poller = reading.invocations['esl-sync-poller'];
      const consumer = reading.invocations['esl-sync-push-consumer'];
      const limits = limitsReading();
      const drainMs = (poller?.lastEndedAt ?? t0) - t0;
      const floorMs = (limits.cloverRequests / READ_BUDGET) * 1000;
      const sum = (r: Record<string, number> | undefined, keep: (op: string) => boolean = () => true) =>
        Object.entries(r ?? {}).reduce((s, [op, v]) => s + (keep(op) ? v : 0), 0);
      const invocations = Object.values(reading.invocations);
      const result: TickResult = {
        system: 'ours',
        tick,
        merchants: n,
        drainMs,
        shelfMs: Math.max(poller?.lastEndedAt ?? t0, consumer?.lastEndedAt ?? t0) - t0,
        ...limits,
        floorMs,
        drainRatio: drainMs / floorMs,
        changes: during ? changes.length : 0,
        notOnShelf: notOnOurShelf(),
        hipoinkCalls: hipoink.calls.length,
        perMerchant: {
          dynamodbCalls: sum(reading.dynamodb?.calls) / n,
          readUnits: sum(reading.dynamodb?.capacityUnits, (op) => READ_OPS.has(op)) / n,
          writeUnits: sum(reading.dynamodb?.capacityUnits, (op) => !READ_OPS.has(op)) / n,
          sqsCalls: sum(reading.sqs?.calls) / n,
          invocations: invocations.reduce((s, i) => s + i.invocations, 0) / n,
          handlerMs: invocations.reduce((s, i) => s + i.handlerMs, 0) / n,
        },
        reading,
      };
      results.push(result);
      say(line(result));
      return result;
    };

    const oldTick = async (tick: string, during?: (t0: number) => Promise<void>) => {
      await settle();
      const t0 = Date.now();
      const changing = during?.(t0);
      const outcome = await old.tick();
      const drainMs = Date.now() - t0;
      await changing;
      const limits = limitsReading();
      const floorMs = (limits.cloverRequests / READ_BUDGET) * 1000;
      const result: TickResult = {
        system: 'old way',
        tick,
        merchants: n,
        drainMs,
        ...limits,
        floorMs,
        drainRatio: drainMs / floorMs,
        failedPolls: outcome.failedPolls,
        changes: during ? changes.length : 0,
        notOnShelf: notOnTheirShelf(),
      };
      results.push(result);
      say(line(result));
      return result;
    };

    await ourTick('initial load');
    const unchanged = await ourTick('unchanged');
    const spreadMs = Math.max(5_000, unchanged.drainMs);
    await ourTick('2% changed', (t0) => applyChanges(ours, spreadMs, t0));
    await ourTick('catch-up');
    if (opts.oldWay) {
      // A poll that failed (e.g. a 429) reads everything again next time: repeated until loaded.
      let failed = (await oldTick('initial load')).failedPolls ?? 0;
      for (let round = 0; failed > 0 && round < 5; round++) failed = (await old.tick()).failedPolls;
      await oldTick('unchanged');
      await oldTick('2% changed', (t0) => applyChanges(theirs, spreadMs, t0));
      await oldTick('catch-up');
      say('');
      say(sideBySide(results));
    }
    const file = join(
      opts.outDir,
      `fleet-${n}-${new Date(started).toISOString().replace(/[:.]/g, '-')}.json`,
    );
    writeFileSync(
      file,
      `${JSON.stringify({ merchants: n, bigStores: big, items: totalItems, changes: changes.length, readBudget: READ_BUDGET, latencyMs: LATENCY, bundles, ticks: results }, null, 2)}\n`,
    );
    say(`results: ${file} (${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
  } finally {
    await stack.stop();
    await clover.stop();
    await hipoink.stop();
  }
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function line(r: TickResult): string {
  const pm = r.perMerchant;
  const base =
    `${r.system.padEnd(7)} ${r.tick.padEnd(13)} drain ${s(r.drainMs).padStart(7)} (floor ${s(r.floorMs)}, ×${r.drainRatio.toFixed(2)})` +
    `  clover ${r.cloverRequests}  429s ${r.rateLimited}  early ${r.earlyRequests}` +
    `  changes ${r.changes}  not on shelf ${r.notOnShelf}`;
  if (!pm) return `${base}  failed polls ${r.failedPolls ?? 0}`;
  return (
    `${base}  shelf ${s(r.shelfMs ?? 0)}  hipoink ${r.hipoinkCalls}\n` +
    `        per merchant: dynamodb ${pm.dynamodbCalls.toFixed(1)} calls (${pm.readUnits.toFixed(1)} RCU, ${pm.writeUnits.toFixed(1)} WCU), ` +
    `sqs ${pm.sqsCalls.toFixed(1)}, lambda ${pm.invocations.toFixed(2)} invocations, ${pm.handlerMs.toFixed(0)} ms handler`
  );
}

function sideBySide(results: TickResult[]): string {
  const ticks = [...new Set(results.map((r) => r.tick))];
  const rows = [
    ['tick', 'measure', 'ours', 'old way', 'old ÷ ours'],
    ...ticks.flatMap((tick) => {
      const a = results.find((r) => r.system === 'ours' && r.tick === tick);
      const b = results.find((r) => r.system === 'old way' && r.tick === tick);
      if (!a || !b) return [];
      const ratio = (x: number, y: number) => (x === 0 ? (y === 0 ? '–' : '∞') : (y / x).toFixed(2));
      return [
        [
          tick,
          'Clover requests',
          String(a.cloverRequests),
          String(b.cloverRequests),
          ratio(a.cloverRequests, b.cloverRequests),
        ],
        ['', '429s', String(a.rateLimited), String(b.rateLimited), ratio(a.rateLimited, b.rateLimited)],
        [
          '',
          'sent before retry-after',
          String(a.earlyRequests),
          String(b.earlyRequests),
          ratio(a.earlyRequests, b.earlyRequests),
        ],
        ['', 'drain', s(a.drainMs), s(b.drainMs), ratio(a.drainMs, b.drainMs)],
        [
          '',
          'not on shelf after drain',
          String(a.notOnShelf),
          String(b.notOnShelf),
          ratio(a.notOnShelf, b.notOnShelf),
        ],
      ];
    }),
  ];
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ')).join('\n');
}
