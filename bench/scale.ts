/**
 * Past the ceiling. `npm run bench -- --fan-out N` (default 20,000): the real fan-out handler over
 * N merchant records in dynalite (scheduled runs and a manual tick; nothing polls them), timed
 * against its timeout. `scheduleAt` (also printed by every fleet run): what the fan-out's rules do
 * with 10,000 and 20,000 merchants over an hour of runs — how far intervals stretch, how many polls
 * each run queues, how often each store is polled — and how far webhooks' safety interval moves
 * the ceiling.
 */
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { scheduledEvent } from '../local/aws/schedule.ts';
import { startLocalStack } from '../local/start.ts';
import { budgetLimits } from '../src/clover/budgeted.ts';
import { FAN_OUT, FAN_OUT_PERIOD_SECONDS } from '../src/function-settings.ts';
import { queueDepth } from '../src/queues/depth.ts';
import { createSqsClient } from '../src/queues/sqs.ts';
import { createDocumentClient } from '../src/store/dynamo.ts';
import { createMerchantStore } from '../src/store/merchants.ts';
import { forEachLimited } from '../src/sync/parallel.ts';
import { type CadenceSettings, dueAt, dueWindow, fleetLoad } from '../src/sync/schedule.ts';
import { putRows } from './rows.ts';

const REQUESTS_PER_SECOND = 50;
const READS = budgetLimits(REQUESTS_PER_SECOND).reads;
const SETTINGS: CadenceSettings = { pollIntervalSeconds: 120, safetyPollIntervalMinutes: 15 };

export interface ScheduleOutcome {
  merchants: number;
  /** Share of the merchants whose webhook notices arrive (on the safety interval). */
  withWebhooks: number;
  loadPercent: number;
  stretch: number;
  /** Seconds between two polls of a store without webhooks, after the stretch. */
  intervalSeconds: number;
  /** New polls a fan-out run (every minute) queues: the most and the mean over the hour. */
  perRunMax: number;
  perRunMean: number;
  /** Polls per store in the hour: the fewest and the most. */
  pollsPerStoreMin: number;
  pollsPerStoreMax: number;
}

/** An hour of fan-out runs, one a minute, by the fan-out's own rules (dueAt, fleetLoad). */
export function scheduleAt(merchants: number, withWebhooks = 0): ScheduleOutcome {
  const t0 = 1_800_000_000_000;
  const fleet = Array.from({ length: merchants }, (_, i) => ({
    merchantId: `SCALE${String(i).padStart(8, '0')}`,
    state: 'active' as const,
    ...(i < merchants * withWebhooks ? { lastNoticeAt: t0 } : {}),
  }));
  const load = fleetLoad(fleet, t0, SETTINGS, READS);
  const seen = new Set<string>();
  const perStore = new Map<string, number>();
  const perRun: number[] = [];
  const periodMs = FAN_OUT_PERIOD_SECONDS * 1000;
  for (let t = t0 + periodMs; t <= t0 + 3_600_000; t += periodMs) {
    let queued = 0;
    for (const m of fleet) {
      // Notices keep arriving for the merchants that send them.
      const at = dueAt(
        m.lastNoticeAt ? { ...m, lastNoticeAt: t } : m,
        dueWindow(t, FAN_OUT_PERIOD_SECONDS),
        SETTINGS,
        load.stretch,
      );
      if (at === undefined || at <= t0 || seen.has(`${m.merchantId}:${at}`)) continue;
      seen.add(`${m.merchantId}:${at}`);
      queued++;
      perStore.set(m.merchantId, (perStore.get(m.merchantId) ?? 0) + 1);
    }
    perRun.push(queued);
  }
  // The first two runs only see part of a window (nothing was due before the hour began).
  const steady = perRun.slice(2);
  const counts = fleet.map((m) => perStore.get(m.merchantId) ?? 0);
  return {
    merchants,
    withWebhooks,
    loadPercent: load.percent,
    stretch: load.stretch,
    intervalSeconds: SETTINGS.pollIntervalSeconds * load.stretch,
    perRunMax: Math.max(...steady),
    perRunMean: steady.reduce((a, b) => a + b, 0) / steady.length,
    pollsPerStoreMin: Math.min(...counts),
    pollsPerStoreMax: Math.max(...counts),
  };
}

export function printSchedules(say: (line: string) => void, outcomes: ScheduleOutcome[]) {
  say(
    `schedule (2-min interval, 15-min safety interval, ${READS} reads/s, fan-out every ${FAN_OUT_PERIOD_SECONDS} s, one hour):`,
  );
  say('  merchants  webhooks  load   stretch  interval  polls/run (max, mean)  polls/store in the hour');
  for (const o of outcomes) {
    say(
      `  ${String(o.merchants).padStart(9)}  ${`${Math.round(o.withWebhooks * 100)}%`.padStart(8)}  ${`${o.loadPercent}%`.padStart(5)}  ${`×${o.stretch}`.padStart(7)}  ${`${o.intervalSeconds.toFixed(0)} s`.padStart(8)}  ${`${o.perRunMax}, ${o.perRunMean.toFixed(0)}`.padStart(21)}  ${o.pollsPerStoreMin}–${o.pollsPerStoreMax}`,
    );
  }
}

/** The real fan-out handler over `n` merchant records in dynalite. */
export async function runFanOutScale(opts: { merchants: number; outDir: string }) {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const n = opts.merchants;
  const stack = await startLocalStack({
    intervalSeconds: 0,
    pollIntervalSeconds: SETTINGS.pollIntervalSeconds,
    demoActivitySeconds: 0,
    tokenRefreshSeconds: 0,
    dataDir: join(opts.outDir, `state-${process.pid}`),
    env: {
      CLOVER_API_BASE_URL: 'http://127.0.0.1:9',
      HIPOINK_BASE_URL: 'http://127.0.0.1:9',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      CLOVER_REQUESTS_PER_SECOND: String(REQUESTS_PER_SECOND),
    },
    log: () => undefined,
    quiet: true,
    meter: true,
    inMemoryState: true,
    pumps: false,
  });
  try {
    const aws = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
    const doc = createDocumentClient(new DynamoDBClient({ ...aws, endpoint: stack.info.endpoints.dynamodb }));
    const sqs = createSqsClient({ ...aws, endpoint: stack.info.endpoints.sqs });
    const lambda = new LambdaClient({ ...aws, endpoint: stack.info.endpoints.lambda });
    const merchants = createMerchantStore(doc, stack.info.merchantsTable);
    const table = stack.info.merchantsTable;

    // One merchant record as `merchants add` writes it, copied n times with its own id.
    const expires = Math.floor(Date.now() / 1000) + 30 * 86_400;
    const pair = {
      access_token: 'a',
      access_token_expiration: expires,
      refresh_token: 'r',
      refresh_token_expiration: expires,
    };
    await merchants.upsert({ merchantId: 'SCALE00000000', storeCode: 'store-0', tokens: pair });
    const template = (
      await doc.send(new GetCommand({ TableName: table, Key: { merchantId: 'SCALE00000000' } }))
    ).Item as Record<string, unknown>;
    const ids = Array.from({ length: n }, (_, i) => `SCALE${String(i).padStart(8, '0')}`);
    const batches: string[][] = [];
    for (let i = 0; i < ids.length; i += 25) batches.push(ids.slice(i, i + 25));
    const written = Date.now();
    await forEachLimited(batches, 4, (batch) =>
      putRows(
        doc,
        table,
        batch.map((merchantId, i) => ({ ...template, merchantId, storeCode: `store-${i}` })),
      ),
    );
    say(
      `fan-out scale: ${n.toLocaleString('en')} merchant records written to dynalite in ${((Date.now() - written) / 1000).toFixed(1)} s`,
    );

    const invoke = async (payload: unknown) => {
      await stack.resetReading();
      const started = performance.now();
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: stack.info.fanOutFunction,
          Payload: Buffer.from(JSON.stringify(payload)),
        }),
      );
      const ms = performance.now() - started;
      const body = JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8') || 'null');
      if (out.FunctionError) throw new Error(`fan-out failed: ${body?.errorMessage}`);
      const reading = await stack.reading();
      return { ms, body, reading };
    };
    const ruleArn = 'arn:aws:events:us-east-1:000000000000:rule/esl-sync-poll-schedule';
    const runs = [];
    for (let i = 0; i < 3; i++) {
      const r = await invoke(scheduledEvent(ruleArn));
      runs.push(r);
      const sends = r.reading.sqs?.calls.SendMessageBatch ?? 0;
      say(
        `  scheduled run ${i + 1}: ${(r.ms / 1000).toFixed(1)} s (timeout ${FAN_OUT.timeoutSeconds} s), queued ${r.body.queued}, ` +
          `load ${r.body.load.percent}%, stretch ×${r.body.load.stretch}; ${r.reading.dynamodb?.calls.Scan ?? 0} scans, ${sends} SendMessageBatch`,
      );
    }
    const manual = await invoke({});
    say(
      `  manual tick (every merchant at once): ${(manual.ms / 1000).toFixed(1)} s, queued ${manual.body.queued}`,
    );
    const depth = await queueDepth(sqs, stack.info.pollQueueUrl);
    say(`  poll queue holds ${depth.visible} messages (nothing polls them here)`);
    return {
      merchants: n,
      scheduledRunsMs: runs.map((r) => r.ms),
      queued: runs.map((r) => r.body.queued),
      manualMs: manual.ms,
      load: runs[0]?.body.load,
    };
  } finally {
    await stack.stop();
  }
}
