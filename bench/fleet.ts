/**
 * `npm run bench -- --fleet N`: one Clover app serving N stores, tick by tick, with the real
 * handlers run by the local stack's pumps (the deployed concurrency settings) against the Clover
 * simulator enforcing Clover's per-app and per-token limits (rate and concurrency, 429 with
 * retry-after) at 100–300 ms per request, side by side with the old way of polling (old-way.ts)
 * on the same simulator and an identical fleet.
 *
 * Set-up: every store has the same catalog (50 items; a few stores 5,000). Two template stores of
 * each system are synced for real (their first syncs are reported); every other store is then
 * given the state its template reached (its DynamoDB rows, its labels, the old way's memory), as if
 * it had synced the same catalog: a first sync of 65,000 items through dynalite takes this 2-core
 * machine many minutes, and is not what a tick measures. Ghost cleanup is spread: each tick about
 * a tenth of the stores are due for one, as in a fleet that has run for a while.
 *
 * Ticks, for each system: nothing changed; 2% of the items change during the tick (spread over the
 * time the unchanged tick took, each change committed up to 1 s after its modifiedTime, as a late
 * commit would be); a catch-up tick with no new change. What is not on the shelf after the catch-up
 * tick was missed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { startCloverSimulator } from '../local/simulators/clover.ts';
import { startHipoinkSimulator } from '../local/simulators/hipoink.ts';
import { type StackReading, startLocalStack } from '../local/start.ts';
import { runCli } from '../src/cli/main.ts';
import { localTarget } from '../src/cli/target.ts';
import { budgetLimits } from '../src/clover/budgeted.ts';
import type { TokenPair } from '../src/clover/schemas.ts';
import { centsToDollars } from '../src/domain/money.ts';
import { POLLER } from '../src/function-settings.ts';
import { waitForQueuesDrained } from '../src/queues/depth.ts';
import { createSqsClient } from '../src/queues/sqs.ts';
import { createDocumentClient } from '../src/store/dynamo.ts';
import { createMerchantStore } from '../src/store/merchants.ts';
import { MERCHANTS_TABLE_KEYS, PRODUCTS_TABLE_KEYS } from '../src/store/tables.ts';
import { forEachLimited } from '../src/sync/parallel.ts';
import { type BundleMeasure, measureBundles } from './bundles.ts';
import { costPerStore, type PerPoll, POLLS_PER_MONTH } from './cost.ts';
import { createOldWayPoller } from './old-way.ts';
import { putRows } from './rows.ts';
import { printSchedules, scheduleAt } from './scale.ts';

export interface FleetOptions {
  merchants: number;
  root: string;
  /** Where the JSON results and bundles go (ignored by git). */
  outDir: string;
  /** Run the old way too. */
  oldWay: boolean;
  /** Measure bundle sizes and import times. */
  bundles: boolean;
}

const SMALL_ITEMS = 50;
const BIG_ITEMS = 5000;
const CHANGE_SHARE = 0.02;
const LATE_COMMIT_MS = 1000;
const LATENCY = { min: 100, max: 300 };
const REQUESTS_PER_SECOND = 50;
/** The floor: what the budget lets item reads use (src/clover/budgeted.ts). */
const READ_BUDGET = budgetLimits(REQUESTS_PER_SECOND).reads;
/** Ghost cleanup runs every 10th poll; clones start at every step of that cycle. */
const CLEANUP_CYCLE = 10;
/** Merchant attributes a copy keeps its own of: who it is and its tokens. */
const OWN_ATTRIBUTES = new Set([
  MERCHANTS_TABLE_KEYS.partitionKey,
  'storeCode',
  'state',
  'accessToken',
  'accessTokenExpiresAt',
  'refreshToken',
  'refreshTokenExpiresAt',
  'previousRefreshToken',
  'tokenVersion',
  'refreshLeaseOwner',
  'refreshLeaseUntil',
  'createdAt',
  'updatedAt',
]);

/** A small seeded generator, so both systems get the same changes. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

export interface TickResult {
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
  /** Of those, changes older than the system's cursor: it will not read them again. */
  lost: number;
  hipoinkCalls?: number;
  /** CPU the benchmark process (handlers, pumps, simulators, CLI) used during the tick, in cores. */
  benchCores?: number;
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
    say(
      'bundle                 size   SDK import   our import   its CPU (best)   medians of 9 fresh processes',
    );
    for (const b of bundles) {
      say(
        `${b.handler.padEnd(16)} ${`${(b.bytes / 1024).toFixed(0)} KB`.padStart(9)} ${`${b.sdkImportMs.toFixed(0)} ms`.padStart(12)} ${`${b.ownImportMs.toFixed(0)} ms`.padStart(12)} ${`${b.ownImportCpuMs.toFixed(0)} ms (${b.ownImportCpuBestMs.toFixed(0)} ms)`.padStart(16)}`,
      );
    }
  }

  // Tokens that outlive the run, so every tick compares alike (a store's refresh every ~15 minutes
  // with half-hour tokens is one request more per seven polls: docs/performance.md counts it).
  const clover = await startCloverSimulator({
    appId: 'FLEET',
    latencyMs: LATENCY,
    accessTokenTtlSeconds: 86_400,
  });
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
    meter: process.env.BENCH_METER !== 'off',
    inMemoryState: true,
  });
  const cliIo = { out: () => undefined, err: (line: string) => say(`cli: ${line}`) };
  const cli = (...args: string[]) => runCli(args, cliIo, async () => localTarget(dir));
  const aws = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
  const sqs = createSqsClient({ ...aws, endpoint: stack.info.endpoints.sqs });
  const doc = createDocumentClient(new DynamoDBClient({ ...aws, endpoint: stack.info.endpoints.dynamodb }));
  const merchants = createMerchantStore(doc, stack.info.merchantsTable);
  const old = createOldWayPoller({
    baseUrl: clover.url,
    appId: 'FLEET',
    workers: POLLER.feed.maxConcurrency,
  });

  const results: TickResult[] = [];
  try {
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
      await stack.resetReading();
    };

    /** A tick of ours: the fan-out (a manual tick: every merchant), then until the queues are empty. */
    async function drainedTick(
      start: () => Promise<void>,
      during?: (t0: number) => Promise<void>,
      label = 'tick',
    ) {
      await settle();
      const t0 = Date.now();
      const cpu0 = process.cpuUsage();
      await start();
      const changing = during?.(t0);
      let reported = Date.now();
      await waitForQueuesDrained(sqs, [stack.info.pollQueueUrl, stack.info.pushQueueUrl], {
        timeoutMs: 60 * 60_000,
        pollMs: 200,
        onProgress: (depths) => {
          if (Date.now() - reported < 15_000) return;
          reported = Date.now();
          const [poll, push] = [...depths.values()].map((d) => d.visible + d.inFlight + d.delayed);
          say(`        … ${label}: ${s(Date.now() - t0)}, ${poll} polls and ${push} pushes to go`);
        },
      });
      await changing;
      const reading = await stack.reading();
      const cpu = process.cpuUsage(cpu0);
      // How busy this process was: near 1 core, the handlers were short of CPU, not of Clover.
      const cores = (cpu.user + cpu.system) / 1000 / Math.max(1, Date.now() - t0);
      return { t0, reading, cores };
    }

    const ids = Array.from({ length: n }, (_, i) => String(i).padStart(9, '0'));
    const bigEvery = Math.floor(n / big);
    const sizeOf = (id: string) => {
      const i = Number(id);
      return i % bigEvery === 0 && i / bigEvery < big ? BIG_ITEMS : SMALL_ITEMS;
    };
    const ours = (id: string) => `FLT${id}`;
    const theirs = (id: string) => `OLD${id}`;
    const store = (id: string) => `store-${id}`;
    const templates = { [BIG_ITEMS]: ids[0] as string, [SMALL_ITEMS]: ids[1] as string };
    const templateOf = (id: string) => templates[sizeOf(id)] as string;
    const dayAgo = Date.now() - 86_400_000;
    const catalog = (size: number) =>
      Array.from({ length: size }, (_, k) => ({
        id: `ITEM${String(k).padStart(8, '0')}`,
        name: `Item ${k}`,
        sku: `SKU-${k}`,
        price: 100 + k,
        modifiedTime: dayAgo + k * 10,
      }));
    const catalogs = { [BIG_ITEMS]: catalog(BIG_ITEMS), [SMALL_ITEMS]: catalog(SMALL_ITEMS) };

    // Both fleets in Clover (tokens are single-use, so the two systems cannot share a merchant).
    const tokens = new Map<string, TokenPair>();
    const tokensOf = (id: string) => {
      const pair = tokens.get(id);
      if (!pair) throw new Error(`no tokens for ${id}`);
      return pair;
    };
    for (const id of ids) {
      tokens.set(id, clover.addMerchant(ours(id), catalogs[sizeOf(id)]));
      old.add(theirs(id), clover.addMerchant(theirs(id), catalogs[sizeOf(id)]));
    }

    // Ours: the templates synced for real, through the pipeline.
    const templateIds = Object.values(templates);
    for (const id of templateIds)
      await merchants.upsert({ merchantId: ours(id), storeCode: store(id), tokens: tokensOf(id) });
    // The old way's templates load meanwhile: both together send a few requests a second.
    const oldLoad = (async () => {
      const t0 = Date.now();
      for (let round = 0; round < 5; round++) {
        if ((await old.tick(templateIds.map(theirs))).failedPolls === 0) break;
      }
      return Date.now() - t0;
    })();
    const firstSync = await drainedTick(async () => void (await cli('tick')), undefined, 'first syncs');
    const firstSyncMs = Date.now() - firstSync.t0;
    const oldFirstSyncMs = await oldLoad;
    // Every other store: its template's rows and labels, with its own tokens.
    const template = new Map<string, { record: Record<string, unknown>; rows: Record<string, unknown>[] }>();
    for (const id of templateIds) {
      const record = (
        await doc.send(
          new GetCommand({ TableName: stack.info.merchantsTable, Key: { merchantId: ours(id) } }),
        )
      ).Item as Record<string, unknown>;
      template.set(id, { record, rows: await partition(ours(id)) });
    }
    await forEachLimited(
      ids.filter((id) => !templateIds.includes(id)),
      4,
      async (id) => {
        const from = template.get(templateOf(id));
        if (!from) throw new Error(`no template for ${id}`);
        await merchants.upsert({ merchantId: ours(id), storeCode: store(id), tokens: tokensOf(id) });
        await copySyncState(ours(id), from.record, Number(id) % CLEANUP_CYCLE);
        await putRows(
          doc,
          stack.info.productsTable,
          from.rows.map((row) => ({ ...row, [PRODUCTS_TABLE_KEYS.partitionKey]: ours(id) })),
        );
        hipoink.copyStore(store(templateOf(id)), store(id));
      },
    );
    // The old way's copies, the same way.
    for (const id of ids)
      if (!templateIds.includes(id))
        old.copyState(theirs(templateOf(id)), theirs(id), Number(id) % CLEANUP_CYCLE);

    const totalItems = ids.reduce((sum, id) => sum + sizeOf(id), 0);
    say(
      `fleet: ${n} merchants (${n - big} × ${SMALL_ITEMS} items, ${big} × ${BIG_ITEMS.toLocaleString('en')}), ` +
        `${totalItems.toLocaleString('en')} items; Clover ${LATENCY.min}–${LATENCY.max} ms per request, ` +
        `limits 50/s and 10 concurrent per app, 16/s and 5 per token; our read budget ${READ_BUDGET}/s`,
    );
    say(
      `first syncs of the templates (a ${BIG_ITEMS.toLocaleString('en')}- and a ${SMALL_ITEMS}-item store, at once): ` +
        `ours ${s(firstSyncMs)}, old way ${s(oldFirstSyncMs)}; the other stores copied from them; ` +
        `set-up ${s(Date.now() - started)} in all`,
    );

    // The same changes for both: 2% of the items, each at the same moment of its system's tick.
    // Items drawn evenly from every item of the fleet: a 5,000-item store gets 100 times the changes.
    const pick = random(42);
    const firstItem: number[] = [];
    let itemsBefore = 0;
    for (const id of ids) {
      firstItem.push(itemsBefore);
      itemsBefore += sizeOf(id);
    }
    const storeOfItem = (k: number) => {
      let lo = 0;
      let hi = ids.length - 1;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if ((firstItem[mid] as number) <= k) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    const changes = Array.from({ length: Math.round(totalItems * CHANGE_SHARE) }, () => {
      const k = Math.floor(pick() * totalItems);
      const index = storeOfItem(k);
      const id = ids[index] as string;
      return { id, item: k - (firstItem[index] as number), at: pick(), lag: pick() * LATE_COMMIT_MS };
    }).sort((a, b) => a.at - b.at);
    const applyChanges = async (merchantOf: (id: string) => string, spreadMs: number, t0: number) => {
      for (const c of changes) {
        const wait = t0 + c.at * spreadMs - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const merchantId = merchantOf(c.id);
        const itemId = `ITEM${String(c.item).padStart(8, '0')}`;
        const current = clover.items(merchantId).find((i) => i.id === itemId);
        if (current)
          clover.upsertItem(merchantId, {
            id: itemId,
            price: current.price + 7,
            modifiedTime: Math.round(Date.now() - c.lag),
          });
      }
    };

    /** Items whose label is not what Clover says; `lost`: of those, older than the reader's cursor. */
    const offShelf = (
      merchantOf: (id: string) => string,
      shows: (id: string, item: { id: string; sku?: string; price: number }) => boolean,
      cursor: (id: string) => number,
    ) => {
      let wrong = 0;
      let lost = 0;
      for (const id of ids) {
        for (const item of clover.items(merchantOf(id))) {
          if (item.hidden || shows(id, item)) continue;
          wrong++;
          if (item.modifiedTime < cursor(id)) lost++;
        }
      }
      return { notOnShelf: wrong, lost };
    };
    const cursors = new Map<string, number>();
    const ourShelf = async () => {
      for (const m of await merchants.list()) cursors.set(m.merchantId, m.cursor ?? 0);
      const shelves = new Map(ids.map((id) => [id, hipoink.products(store(id))]));
      return offShelf(
        ours,
        (id, item) => shelves.get(id)?.get(item.sku ?? '')?.pp === centsToDollars(item.price),
        // Ours re-reads 2 minutes behind its last poll: only what lies before that is never re-read.
        (id) => Math.min(cursors.get(ours(id)) ?? 0, Date.now() - 120_000),
      );
    };
    const theirShelf = () =>
      offShelf(
        theirs,
        (id, item) => old.shelf(theirs(id)).get(item.id) === item.price,
        (id) => old.cursor(theirs(id)),
      );
    const ourTick = async (tick: string, during?: (t0: number) => Promise<void>) => {
      const { t0, reading, cores } = await drainedTick(async () => void (await cli('tick')), during, tick);
      const poller = reading.invocations['esl-sync-poller'];
      const consumer = reading.invocations['esl-sync-push-consumer'];
      const limits = limitsReading();
      const drainMs = (poller?.lastEndedAt ?? t0) - t0;
      const floorMs = (limits.cloverRequests / READ_BUDGET) * 1000;
      const sum = (r: Record<string, number> | undefined, keep: (op: string) => boolean = () => true) =>
        Object.entries(r ?? {}).reduce((total, [op, v]) => total + (keep(op) ? v : 0), 0);
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
        ...(await ourShelf()),
        hipoinkCalls: hipoink.calls.length,
        benchCores: cores,
        perMerchant: {
          dynamodbCalls: sum(reading.dynamodb?.calls) / n,
          readUnits: sum(reading.dynamodb?.capacityUnits, (op) => READ_OPS.has(op)) / n,
          writeUnits: sum(reading.dynamodb?.capacityUnits, (op) => !READ_OPS.has(op)) / n,
          // Not the benchmark's own queue-depth readings (GetQueueAttributes) while it waits.
          sqsCalls: sum(reading.sqs?.calls, (op) => op !== 'GetQueueAttributes') / n,
          invocations: invocations.reduce((total, i) => total + i.invocations, 0) / n,
          handlerMs: invocations.reduce((total, i) => total + i.handlerMs, 0) / n,
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
        ...theirShelf(),
      };
      results.push(result);
      say(line(result));
      return result;
    };

    const unchanged = await ourTick('unchanged');
    const spreadMs = Math.max(5_000, unchanged.drainMs);
    await ourTick('2% changed', (t0) => applyChanges(ours, spreadMs, t0));
    await ourTick('catch-up');
    const costs = Object.fromEntries(
      results
        .filter((r) => r.system === 'ours' && r.reading)
        .map((r) => [r.tick, costPerStore(perPoll(r, n))]),
    );
    say(
      `cost per store per month at a 2-minute interval (${POLLS_PER_MONTH.toLocaleString('en')} polls; list prices in bench/cost.ts): ` +
        Object.entries(costs)
          .map(
            ([tick, c]) =>
              `${tick} $${c.total.toFixed(4)} (Lambda ${c.lambda.toFixed(4)}, DynamoDB ${c.dynamodb.toFixed(4)}, SQS ${c.sqs.toFixed(4)}, logs ${c.logs.toFixed(4)})`,
          )
          .join('; '),
    );
    const schedules = [
      scheduleAt(n),
      scheduleAt(10_000),
      scheduleAt(20_000),
      scheduleAt(20_000, 0.5),
      scheduleAt(20_000, 1),
    ];
    printSchedules(say, schedules);
    if (opts.oldWay) {
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
      `${JSON.stringify(
        {
          merchants: n,
          bigStores: big,
          items: totalItems,
          changes: changes.length,
          readBudget: READ_BUDGET,
          latencyMs: LATENCY,
          templateFirstSyncs: { oursMs: firstSyncMs, oldWayMs: oldFirstSyncMs },
          schedules,
          costs,
          bundles,
          ticks: results,
        },
        null,
        2,
      )}\n`,
    );
    say(`results: ${file} (${s(Date.now() - started)} in all)`);
  } finally {
    await stack.stop();
    await clover.stop();
    await hipoink.stop();
  }

  /** Every row of a merchant's partition of the products table. */
  async function partition(merchantId: string) {
    const rows: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await doc.send(
        new QueryCommand({
          TableName: stack.info.productsTable,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PRODUCTS_TABLE_KEYS.partitionKey },
          ExpressionAttributeValues: { ':pk': merchantId },
          ExclusiveStartKey: startKey,
        }),
      );
      rows.push(...((out.Items ?? []) as Record<string, unknown>[]));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return rows;
  }

  /** The template's sync state (cursor, counts, …) on a copy, at its own step of the cleanup cycle. */
  async function copySyncState(
    merchantId: string,
    record: Record<string, unknown>,
    pollsSinceCleanup: number,
  ) {
    const copied = Object.entries({ ...record, pollsSinceCleanup }).filter(([k]) => !OWN_ATTRIBUTES.has(k));
    await doc.send(
      new UpdateCommand({
        TableName: stack.info.merchantsTable,
        Key: { [MERCHANTS_TABLE_KEYS.partitionKey]: merchantId },
        UpdateExpression: `SET ${copied.map((_, i) => `#a${i} = :v${i}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(copied.map(([k], i) => [`#a${i}`, k])),
        ExpressionAttributeValues: Object.fromEntries(copied.map(([, v], i) => [`:v${i}`, v])),
      }),
    );
  }
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** One poll's worth of each system resource, from a tick of ours. */
function perPoll(r: TickResult, n: number): PerPoll {
  const inv = r.reading?.invocations ?? {};
  const pm = r.perMerchant;
  const poller = inv['esl-sync-poller'];
  const consumer = inv['esl-sync-push-consumer'];
  return {
    invocations: ((poller?.invocations ?? 0) + (consumer?.invocations ?? 0)) / n,
    pollerMs: (poller?.handlerMs ?? 0) / n,
    consumerMs: (consumer?.handlerMs ?? 0) / n,
    sqsCalls: pm?.sqsCalls ?? 0,
    readUnits: pm?.readUnits ?? 0,
    writeUnits: pm?.writeUnits ?? 0,
  };
}

function line(r: TickResult): string {
  const pm = r.perMerchant;
  const base =
    `${r.system.padEnd(7)} ${r.tick.padEnd(11)} drain ${s(r.drainMs).padStart(7)} (floor ${s(r.floorMs)}, ×${r.drainRatio.toFixed(2)})` +
    `  clover ${r.cloverRequests}  429s ${r.rateLimited}  early ${r.earlyRequests}` +
    `  changes ${r.changes}  not on shelf ${r.notOnShelf} (lost ${r.lost})`;
  if (!pm) return `${base}  failed polls ${r.failedPolls ?? 0}`;
  return (
    `${base}  shelf ${s(r.shelfMs ?? 0)}  hipoink ${r.hipoinkCalls}  (this process: ${(r.benchCores ?? 0).toFixed(2)} CPU cores)\n` +
    `        per merchant: dynamodb ${pm.dynamodbCalls.toFixed(1)} calls (${pm.readUnits.toFixed(1)} RCU, ${pm.writeUnits.toFixed(1)} WCU), ` +
    `sqs ${pm.sqsCalls.toFixed(1)}, lambda ${pm.invocations.toFixed(2)} invocations, ${pm.handlerMs.toFixed(0)} ms handler`
  );
}

function sideBySide(results: TickResult[]): string {
  const measures: Array<[string, (r: TickResult) => number, (v: number) => string]> = [
    ['Clover requests', (r) => r.cloverRequests, String],
    ['429s', (r) => r.rateLimited, String],
    ['sent before retry-after', (r) => r.earlyRequests, String],
    ['drain', (r) => r.drainMs, s],
    ['not on shelf after drain', (r) => r.notOnShelf, String],
    ['… of them lost (before cursor)', (r) => r.lost, String],
  ];
  const ratio = (x: number, y: number) => (x === 0 ? (y === 0 ? '–' : '∞') : (y / x).toFixed(2));
  const rows = [['tick', 'measure', 'ours', 'old way', 'old ÷ ours']];
  for (const tick of new Set(results.map((r) => r.tick))) {
    const a = results.find((r) => r.system === 'ours' && r.tick === tick);
    const b = results.find((r) => r.system === 'old way' && r.tick === tick);
    if (!a || !b) continue;
    measures.forEach(([name, get, show], i) => {
      rows.push([i === 0 ? tick : '', name, show(get(a)), show(get(b)), ratio(get(a), get(b))]);
    });
  }
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ')).join('\n');
}
