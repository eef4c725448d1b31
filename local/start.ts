/**
 * `npm start`: the whole pipeline on this machine. dynalite stands in for DynamoDB, fauxqs for
 * SQS, small local endpoints for Secrets Manager and Lambda's Invoke API; a local schedule and
 * SQS pumps call the very handlers Lambda runs, with Lambda-shaped events, through the real AWS
 * SDK clients pointed at those endpoints. Without CLOVER_API_BASE_URL / HIPOINK_BASE_URL it also
 * starts the bundled Clover and Hipoink simulators, seeded with demo stores.
 */

import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { dataDir, type LocalStackFile, runningLocalStackPid, stackFilePath } from '../src/cli/target.ts';
import { CONFIG_DEFAULTS, DEFAULT_PRODUCT_CODE_PRECEDENCE } from '../src/config.ts';
import { ENV, WEB_ENV } from '../src/env.ts';
import {
  FAN_OUT,
  FAN_OUT_PERIOD_SECONDS,
  POLLER,
  PUSH_CONSUMER,
  TOKEN_REFRESHER,
  visibilityTimeoutSeconds,
} from '../src/function-settings.ts';
import type { GrantedFunction } from '../src/grants.ts';
import { createSqsClient } from '../src/queues/sqs.ts';
import { createDocumentClient } from '../src/store/dynamo.ts';
import { createMerchantStore, merchantView } from '../src/store/merchants.ts';
import { createShelfStore } from '../src/store/shelf.ts';
import { createWebhookVerificationStore } from '../src/store/webhooks.ts';
import { WEBHOOK_PATH } from '../src/web/webhooks.ts';
import { lambdaContext } from './aws/context.ts';
import { ensureTables, startLocalDynamo } from './aws/dynamo.ts';
import { runAs } from './aws/iam.ts';
import { startLocalLambda } from './aws/lambda.ts';
import { type MeterReading, startServiceProcess } from './aws/meter.ts';
import { startQueuePump } from './aws/pump.ts';
import { scheduledEvent, startSchedule } from './aws/schedule.ts';
import { startLocalSecrets } from './aws/secrets.ts';
import { ensureQueues, startLocalSqs } from './aws/sqs.ts';
import { startLocalHttpApi } from './aws/web.ts';
import { clearLine, pushLine } from './push-line.ts';
import { startShelfServer } from './shelf/server.ts';
import { startCloverSimulator } from './simulators/clover.ts';
import { demoCatalog, demoStoreToConnect, startDemoActivity } from './simulators/demo.ts';
import { startHipoinkSimulator } from './simulators/hipoink.ts';

const REGION = 'us-east-1';
/** The local Secrets Manager's id for the state-signing key (a fresh random value each start). */
export const LOCAL_STATE_KEY_SECRET_ID = 'esl-sync/state-signing-key';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const DEFAULT_SIGN = '80805d794841f1b4';
/** The bundled Clover simulator's app secret, so connecting a store works with no settings. */
const DEMO_APP_SECRET = 'demo-app-secret-not-for-production';
/** The bundled Clover simulator's webhook auth code, so its notices are accepted with no settings. */
const DEMO_WEBHOOK_AUTH_CODE = 'demo-webhook-auth-code-not-for-production';

export interface LocalStackOptions {
  /** Seconds between polls of a merchant (the fan-out runs twice as often); 0 = only on demand (`esl-sync tick`). */
  intervalSeconds: number;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  /** Seconds between demo price changes in the bundled Clover simulator; 0 = none. */
  demoActivitySeconds: number;
  /** Seconds between runs of the backup token refresher; 0 = only on demand (`esl-sync tokens refresh`). */
  tokenRefreshSeconds: number;
  /** The bundled Clover simulator posts webhook notices to the web function (default true). */
  webhooks?: boolean;
  log: (line: string) => void;
  /** No `sync`/`labels` lines, and none of the merchant look-ups they need (the benchmark). */
  quiet?: boolean;
  /**
   * DynamoDB and SQS in memory, each in a process of its own, even with external simulators (the
   * benchmark: its state is thrown away, and its fleet keeps one event loop busy enough).
   */
  inMemoryState?: boolean;
  /** With `inMemoryState`: count every DynamoDB and SQS call (and DynamoDB's consumed capacity). */
  meter?: boolean;
  /** With no schedule (`intervalSeconds` 0): the poll interval a fan-out assumes (default 60). */
  pollIntervalSeconds?: number;
  /** false: nothing consumes the queues (the benchmark's fan-out of a fleet that does not exist in Clover). */
  pumps?: boolean;
}

/** Invocations of one function and the time its handler ran. */
export interface InvocationStats {
  invocations: number;
  records: number;
  handlerMs: number;
  /** Unix ms: when the first of these invocations started and the last one ended. */
  firstStartedAt: number;
  lastEndedAt: number;
}

export interface StackReading {
  invocations: Record<string, InvocationStats>;
  dynamodb?: MeterReading;
  sqs?: MeterReading;
}

export interface LocalStack {
  info: LocalStackFile;
  /** What the functions did since the last reset (DynamoDB and SQS calls only with `meter`). */
  reading(): Promise<StackReading>;
  resetReading(): Promise<void>;
  stop(): Promise<void>;
}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const { env, log } = opts;
  const stops: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => undefined);
  };
  const running = await runningLocalStackPid(opts.dataDir);
  if (running !== undefined)
    throw new Error(
      `A local stack is already running from ${opts.dataDir} (pid ${running}). Stop it first ` +
        `(Ctrl-C where it runs, or kill -TERM ${running}), or give this one its own ESL_SYNC_DATA_DIR.`,
    );
  try {
    const bundledClover = !env.CLOVER_API_BASE_URL;
    const bundledHipoink = !env.HIPOINK_BASE_URL;
    const simulated = bundledClover || bundledHipoink;
    mkdirSync(opts.dataDir, { recursive: true });

    // Required by the connect flow and the webhooks; only the bundled simulator has defaults.
    const appSecret = env.CLOVER_APP_SECRET || (bundledClover ? DEMO_APP_SECRET : undefined);
    const webhookAuthCode =
      env.CLOVER_WEBHOOK_AUTH_CODE || (bundledClover ? DEMO_WEBHOOK_AUTH_CODE : undefined);
    const clover = bundledClover
      ? await startCloverSimulator({ appId: env.CLOVER_APP_ID || 'DEMOAPP', appSecret })
      : undefined;
    if (clover) stops.push(() => clover.stop());
    const hipoink = bundledHipoink
      ? await startHipoinkSimulator({
          sign: env.HIPOINK_SIGN || DEFAULT_SIGN,
          clientId: env.HIPOINK_CLIENT_ID || CONFIG_DEFAULTS.hipoinkClientId,
        })
      : undefined;
    if (hipoink) stops.push(() => hipoink.stop());

    // A simulator forgets everything when it stops, so state kept beside it would describe labels and
    // tokens that no longer exist: with any bundled simulator the state is a fresh demo each start.
    const dbPath = join(opts.dataDir, simulated ? 'demo-dynamodb' : 'dynamodb');
    if (simulated) rmSync(dbPath, { recursive: true, force: true });
    // The benchmark's stand-ins run in processes of their own, metered there when asked.
    const services = opts.inMemoryState
      ? {
          dynamodb: await startServiceProcess('dynamodb', opts.meter === true),
          sqs: await startServiceProcess('sqs', opts.meter === true),
        }
      : undefined;
    if (services)
      stops.push(
        () => services.dynamodb.stop(),
        () => services.sqs.stop(),
      );
    const dynamo = services?.dynamodb ?? (await startLocalDynamo({ path: dbPath }));
    if (!services) stops.push(() => dynamo.stop());
    const sqsServer = services?.sqs ?? (await startLocalSqs());
    if (!services) stops.push(() => sqsServer.stop());

    const secretIds = {
      app: 'esl-sync/app',
      hipoink: 'esl-sync/hipoink',
      stateKey: LOCAL_STATE_KEY_SECRET_ID,
    };
    const secrets = await startLocalSecrets({
      [secretIds.app]: JSON.stringify({
        cloverAppId: env.CLOVER_APP_ID || 'DEMOAPP',
        ...(appSecret ? { cloverAppSecret: appSecret } : {}),
        ...(webhookAuthCode ? { cloverWebhookAuthCode: webhookAuthCode } : {}),
      }),
      [secretIds.hipoink]: JSON.stringify({ hipoinkSign: env.HIPOINK_SIGN || DEFAULT_SIGN }),
      // Generated at start, as the stack generates it at deploy: states from an earlier run are refused.
      [secretIds.stateKey]: randomBytes(32).toString('base64url'),
    });
    stops.push(() => secrets.stop());

    const tables = { merchantsTable: 'esl-sync-merchants', productsTable: 'esl-sync-products' };
    const dynamodb = new DynamoDBClient({
      region: REGION,
      credentials: CREDENTIALS,
      endpoint: dynamo.endpoint,
    });
    await ensureTables(dynamodb, tables);
    const sqs = createSqsClient({ region: REGION, credentials: CREDENTIALS, endpoint: sqsServer.endpoint });
    const queues = await ensureQueues(sqs, {
      pollVisibilitySeconds: visibilityTimeoutSeconds(POLLER),
      pushVisibilitySeconds: visibilityTimeoutSeconds(PUSH_CONSUMER),
    });

    // Each merchant is polled once per interval at its own phase; the fan-out runs twice per
    // interval (at most every minute, as deployed) and queues those whose time has come.
    const pollIntervalSeconds = Math.max(1, opts.intervalSeconds || opts.pollIntervalSeconds || 60);
    const fanOutPeriodSeconds = Math.min(FAN_OUT_PERIOD_SECONDS, pollIntervalSeconds / 2);
    // The handlers read the same variables the CDK stack sets on the Lambda functions, and the
    // AWS SDK's service-specific endpoint variables send their clients to the local stand-ins.
    Object.assign(process.env, {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      POWERTOOLS_LOG_LEVEL: env.POWERTOOLS_LOG_LEVEL || env.LOG_LEVEL || 'WARN',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_DEV: 'false',
      [ENV.merchantsTable]: tables.merchantsTable,
      [ENV.productsTable]: tables.productsTable,
      [ENV.pollQueueUrl]: queues.pollQueueUrl,
      [ENV.pushQueueUrl]: queues.pushQueueUrl,
      [ENV.pollDlqUrl]: queues.pollDlqUrl,
      [ENV.pushDlqUrl]: queues.pushDlqUrl,
      [ENV.appSecretId]: secretIds.app,
      [ENV.hipoinkSecretId]: secretIds.hipoink,
      [ENV.cloverApiBaseUrl]: clover?.url ?? env.CLOVER_API_BASE_URL,
      [ENV.hipoinkBaseUrl]: hipoink?.url ?? env.HIPOINK_BASE_URL,
      // Empty: the functions' own default applies (CONFIG_DEFAULTS), as it does on AWS.
      [ENV.hipoinkClientId]: env.HIPOINK_CLIENT_ID ?? '',
      [ENV.pollIntervalSeconds]: String(pollIntervalSeconds),
      [ENV.safetyPollIntervalMinutes]: env.SAFETY_POLL_INTERVAL_MINUTES ?? '',
      [ENV.fanOutPeriodSeconds]: String(fanOutPeriodSeconds),
      [ENV.productCodePrecedence]: env.PRODUCT_CODE_PRECEDENCE || DEFAULT_PRODUCT_CODE_PRECEDENCE,
      [ENV.tokenMaxAgeMinutes]: env.TOKEN_MAX_AGE_MINUTES ?? '',
      [ENV.tokenRefreshThresholdMinutes]: env.TOKEN_REFRESH_THRESHOLD_MINUTES ?? '',
      [ENV.tokenRefreshBufferMinutes]: env.TOKEN_REFRESH_BUFFER_MINUTES ?? '',
      [ENV.tokenRefreshIntervalMinutes]: String(Math.max(1, opts.tokenRefreshSeconds) / 60),
      [ENV.hipoinkChunkSize]: env.HIPOINK_CHUNK_SIZE ?? '',
      // Local queues have short visibility timeouts; keep retries as quick.
      [ENV.retryBaseSeconds]: env.RETRY_BASE_SECONDS || '2',
      [ENV.cloverRequestsPerSecond]: env.CLOVER_REQUESTS_PER_SECOND ?? '',
    });
    const { resetRuntimeDeps } = await import('../src/runtime.ts');
    resetRuntimeDeps();
    let invocations: Record<string, InvocationStats> = {};
    // Each handler's table, queue and secret calls are held to its function's grants, as IAM holds them on AWS; a
    // refusal is told on stderr whatever the log, as it means the stack's grants need a change.
    const denied = (line: string) => process.stderr.write(`local IAM: ${line}\n`);
    const queueUrls = {
      pollQueue: queues.pollQueueUrl,
      pollDlq: queues.pollDlqUrl,
      pushQueue: queues.pushQueueUrl,
      pushDlq: queues.pushDlqUrl,
    };
    const as = <E, C, R>(fn: GrantedFunction, handler: (event: E, context: C) => Promise<R>) =>
      runAs({ fn, tables, queueUrls, secretIds, denied }, handler);
    /** The handler, run as its function `fn` and counted: invocations, records and the time it ran. */
    const counted = <E, R>(
      name: string,
      fn: GrantedFunction,
      unchecked: (event: E, context: Context) => Promise<R>,
    ) => {
      const handler = as(fn, unchecked);
      return async (event: E, context: Context): Promise<R> => {
        const started = performance.now();
        const startedAt = Date.now();
        try {
          return await handler(event, context);
        } finally {
          const s = invocations[name] ?? {
            invocations: 0,
            records: 0,
            handlerMs: 0,
            firstStartedAt: startedAt,
            lastEndedAt: 0,
          };
          invocations[name] = s;
          s.invocations++;
          s.lastEndedAt = Date.now();
          const records = (event as { Records?: unknown[] } | undefined)?.Records;
          s.records += Array.isArray(records) ? records.length : 1;
          s.handlerMs += performance.now() - started;
        }
      };
    };
    const fanOut = counted(
      'esl-sync-fan-out',
      'fanOut',
      (await import('../functions/fanout/handler.ts')).handler,
    );
    const poller = counted(
      'esl-sync-poller',
      'poller',
      (await import('../functions/poller/handler.ts')).handler,
    );
    const consumer = counted(
      'esl-sync-push-consumer',
      'pushConsumer',
      (await import('../functions/consumer/handler.ts')).handler,
    );
    const backfill = counted(
      'esl-sync-backfill',
      'backfill',
      (await import('../functions/backfill/handler.ts')).handler,
    );
    const tokenRefresher = counted(
      'esl-sync-token-refresher',
      'tokenRefresher',
      (await import('../functions/token-refresher/handler.ts')).handler,
    );

    // The web function behind a local HTTP API; its public URL is known once it listens.
    const web = as('web', (await import('../functions/web/handler.ts')).handler);
    const { resetWebRuntimeDeps } = await import('../src/web/deps.ts');
    const webApi = await startLocalHttpApi('esl-sync-web', web, { port: webPort(env) });
    stops.push(() => webApi.stop());
    // As in the Clover app's settings: the connect flow's redirect_uri must lie under the Site URL.
    clover?.setSiteUrl(webApi.url);
    Object.assign(process.env, {
      [WEB_ENV.cloverOauthBaseUrl]: env.CLOVER_OAUTH_BASE_URL || clover?.url || env.CLOVER_API_BASE_URL,
      [WEB_ENV.stateKeySecretId]: secretIds.stateKey,
      [WEB_ENV.webBaseUrl]: webApi.url,
    });
    resetWebRuntimeDeps();

    const doc = createDocumentClient(dynamodb);
    const merchants = createMerchantStore(doc, tables.merchantsTable);
    const shelf = createShelfStore(doc, tables.productsTable);
    // The live shelf page: labels from the Hipoink simulator (an external Hipoink has no read API).
    const shelfPage = await startShelfServer({
      merchants,
      shelf,
      ...(hipoink ? { hipoinkSimulatorUrl: hipoink.url } : {}),
    });
    stops.push(() => shelfPage.stop());
    const functions = {
      'esl-sync-fan-out': fanOut,
      'esl-sync-backfill': backfill,
      'esl-sync-token-refresher': tokenRefresher,
    };
    const lambda = await startLocalLambda(functions as Parameters<typeof startLocalLambda>[0]);
    stops.push(() => lambda.stop());

    // Each Lambda's event source mapping, with the deployed settings.
    if (opts.pumps !== false) {
      const pollPump = startQueuePump({
        sqs,
        queueUrl: queues.pollQueueUrl,
        queueArn: queues.pollQueueArn,
        functionName: 'esl-sync-poller',
        ...POLLER.feed,
        timeoutMs: POLLER.timeoutSeconds * 1000,
        waitTimeSeconds: 1,
        handler: async (event, context) => {
          const result = await poller(event, context);
          if (opts.quiet) return result;
          for (const record of event.Records) {
            const merchantId = safeMerchantId(record.body);
            const m = merchantId ? await merchants.get(merchantId) : undefined;
            const { reason, barrier } = (safeJson(record.body) ?? {}) as {
              reason?: unknown;
              barrier?: unknown;
            };
            if (m && barrier === undefined)
              log(`${syncLine(merchantView(m))}${reason === 'webhook' ? ' (webhook)' : ''}`);
          }
          return result;
        },
      });
      stops.push(() => pollPump.stop());
      const pushPump = startQueuePump({
        sqs,
        queueUrl: queues.pushQueueUrl,
        queueArn: queues.pushQueueArn,
        functionName: 'esl-sync-push-consumer',
        ...PUSH_CONSUMER.feed,
        timeoutMs: PUSH_CONSUMER.timeoutSeconds * 1000,
        waitTimeSeconds: 1,
        handler: async (event, context) => {
          const result = await consumer(event, context);
          if (opts.quiet) return result;
          const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
          for (const record of event.Records) {
            if (failed.has(record.messageId)) continue;
            const body = safeJson(record.body) as
              | { merchantId?: string; codes?: unknown[]; barrier?: unknown; clearFrom?: unknown }
              | undefined;
            const merchant = body?.merchantId ? await merchants.get(body.merchantId) : undefined;
            if (merchant && body?.barrier === undefined) {
              const codes = (body?.codes ?? []).filter((c): c is string => typeof c === 'string');
              // A store left behind (or emptied for a removal) is told from its clear record.
              const clearFrom = typeof body?.clearFrom === 'string' ? body.clearFrom : undefined;
              log(
                clearFrom === undefined
                  ? pushLine(
                      merchant.storeCode,
                      await shelf.getSlots(merchant.merchantId, codes),
                      merchant.lastPushError,
                    )
                  : clearLine(clearFrom, codes, await shelf.clearState(merchant.merchantId, clearFrom)),
              );
            }
          }
          return result;
        },
      });
      stops.push(() => pushPump.stop());
    }

    if (clover) {
      for (const demo of demoCatalog()) {
        const tokens = clover.addMerchant(demo.merchantId, demo.items);
        await merchants.upsert({ merchantId: demo.merchantId, storeCode: demo.storeCode, tokens });
        log(
          `demo merchant ${demo.merchantId} → Hipoink store ${demo.storeCode} (${demo.items.length} items)`,
        );
      }
      // A store not yet connected: `esl-sync stores invite --store-code store-003` connects it.
      const cafe = demoStoreToConnect();
      clover.addUnconnectedMerchant(cafe.merchantId, cafe.items, cafe.name);
      clover.signIn(cafe.merchantId);
      log(
        `demo merchant ${cafe.merchantId} not connected yet (${cafe.items.length} items): ` +
          `npx esl-sync stores invite --store-code ${cafe.storeCode}, then open the link`,
      );
      if (opts.webhooks !== false && webhookAuthCode) {
        const url = `${webApi.url}${WEBHOOK_PATH}`;
        const verified = await verifyWebhook(clover, url, webhookAuthCode, () =>
          createWebhookVerificationStore(createDocumentClient(dynamodb), tables.merchantsTable).last(),
        );
        log(
          verified
            ? `webhooks: the Clover simulator posts its changes to ${url} (verified)`
            : `webhooks: ${url} could not be verified; labels follow Clover on each poll only`,
        );
      }
      if (opts.demoActivitySeconds > 0) {
        const activity = startDemoActivity(clover, {
          intervalMs: opts.demoActivitySeconds * 1000,
          onChange: (desc) => log(`clover: ${desc}`),
        });
        stops.push(() => activity.stop());
      }
    }

    const ruleArn = `arn:aws:events:${REGION}:000000000000:rule/esl-sync-poll-schedule`;
    // A failing run is printed, as CloudWatch would show it; the schedule goes on.
    const scheduleFailed = (what: string) => (err: unknown) =>
      log(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);
    const schedule = startSchedule(
      opts.intervalSeconds > 0 ? fanOutPeriodSeconds : 0,
      async () => {
        await fanOut(
          scheduledEvent(ruleArn),
          lambdaContext('esl-sync-fan-out', FAN_OUT.timeoutSeconds * 1000),
        );
      },
      scheduleFailed('fan-out'),
    );
    stops.push(() => schedule.stop());
    const refreshSchedule = startSchedule(
      opts.tokenRefreshSeconds,
      async () => {
        const result = await tokenRefresher(
          scheduledEvent(ruleArn),
          lambdaContext('esl-sync-token-refresher', TOKEN_REFRESHER.timeoutSeconds * 1000),
        );
        for (const id of result.refreshed) log(`token refreshed ${id} (backup refresher)`);
        for (const f of result.failed) log(`token refresh failed ${f.merchantId}: ${f.reason}`);
      },
      scheduleFailed('token refresher'),
    );
    stops.push(() => refreshSchedule.stop());

    const info: LocalStackFile = {
      pid: process.pid,
      endpoints: {
        dynamodb: dynamo.endpoint,
        sqs: sqsServer.endpoint,
        lambda: lambda.endpoint,
        web: webApi.url,
        shelf: shelfPage.url,
      },
      simulators: { ...(clover ? { clover: clover.url } : {}), ...(hipoink ? { hipoink: hipoink.url } : {}) },
      ...tables,
      pollQueueUrl: queues.pollQueueUrl,
      pushQueueUrl: queues.pushQueueUrl,
      pollDlqUrl: queues.pollDlqUrl,
      pushDlqUrl: queues.pushDlqUrl,
      fanOutFunction: 'esl-sync-fan-out',
      backfillFunction: 'esl-sync-backfill',
      tokenRefresherFunction: 'esl-sync-token-refresher',
      cloverApiBaseUrl: clover?.url ?? env.CLOVER_API_BASE_URL,
    };
    const file = stackFilePath(opts.dataDir);
    writeFileSync(file, `${JSON.stringify(info, null, 2)}\n`);
    stops.unshift(() => rmSync(file, { force: true }));
    const reading = async (): Promise<StackReading> => {
      const [dynamodb, sqsCalls] = await Promise.all([services?.dynamodb.reading(), services?.sqs.reading()]);
      return {
        invocations: structuredClone(invocations),
        ...(dynamodb ? { dynamodb } : {}),
        ...(sqsCalls ? { sqs: sqsCalls } : {}),
      };
    };
    const resetReading = async () => {
      invocations = {};
      await Promise.all([services?.dynamodb.reset(), services?.sqs.reset()]);
    };
    return { info, reading, resetReading, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * What an operator does in Clover's app settings, done for the simulator: set the webhook address,
 * let Clover send its verification request, read the code the web function recorded (as
 * `esl-sync webhooks verification-code` does) and enter it. True once notices flow.
 */
export async function verifyWebhook(
  clover: Awaited<ReturnType<typeof startCloverSimulator>>,
  url: string,
  authCode: string,
  recorded: () => Promise<{ code: string } | undefined>,
): Promise<boolean> {
  clover.webhooks.configure({ url, authCode });
  if ((await clover.webhooks.sendVerification()) !== 200) return false;
  const last = await recorded();
  return last !== undefined && clover.webhooks.confirm(last.code);
}

/** ESL_SYNC_WEB_PORT: the web function's loopback port (default: a free one). */
function webPort(env: NodeJS.ProcessEnv): number {
  const raw = env.ESL_SYNC_WEB_PORT;
  if (raw === undefined || raw === '') return 0;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`ESL_SYNC_WEB_PORT must be a port number (0–65535); got ${JSON.stringify(raw)}`);
  }
  return port;
}

function safeJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function safeMerchantId(body: string): string | undefined {
  const id = (safeJson(body) as { merchantId?: unknown } | undefined)?.merchantId;
  return typeof id === 'string' ? id : undefined;
}

function syncLine(v: ReturnType<typeof merchantView>): string {
  const c = v.lastSyncCounts;
  const counts = c
    ? `fetched=${c.fetched} changed=${c.changed} removed=${c.removed} invalid=${c.invalid} queued=${c.queuedForPush} clover_requests=${c.cloverRequests}`
    : '';
  const error = v.lastSyncStatus === 'error' ? ` error="${v.lastSyncError}"` : '';
  return `sync ${v.merchantId} store=${v.storeCode} state=${v.state} mode=${v.lastSyncMode ?? '-'} status=${v.lastSyncStatus ?? '-'} ${counts}${error}`;
}

async function main() {
  // Read first: a parent that ends while the stack starts must still be seen to have ended.
  const parent = process.ppid;
  // Node 20 is what this project's machines run; the SDK's notice about future versions is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { values } = parseArgs({
    options: {
      interval: { type: 'string' },
      'demo-activity': { type: 'string' },
      'token-refresh': { type: 'string' },
      webhooks: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'Usage: npm start -- [--interval SECONDS] [--demo-activity SECONDS] [--token-refresh SECONDS] [--webhooks on|off]\n' +
        '  --interval       seconds between scheduled polls (default 10; 0 = only on `esl-sync tick`)\n' +
        '  --demo-activity  seconds between demo price changes in the bundled Clover simulator (default 15; 0 = off)\n' +
        '  --token-refresh  seconds between backup token refresh runs (default 600; 0 = only on `esl-sync tokens refresh`)\n' +
        '  --webhooks       on (default): the bundled Clover simulator posts webhook notices for its changes; off: polling only\n',
    );
    return;
  }
  const intervalSeconds = secondsOption('interval', values.interval, 10);
  const demoActivitySeconds = secondsOption('demo-activity', values['demo-activity'], 15);
  const tokenRefreshSeconds = secondsOption('token-refresh', values['token-refresh'], 600);
  if (values.webhooks !== undefined && values.webhooks !== 'on' && values.webhooks !== 'off') {
    throw new Error(`--webhooks is on or off; got ${JSON.stringify(values.webhooks)}`);
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const stack = await startLocalStack({
    intervalSeconds,
    dataDir: dataDir(),
    env: process.env,
    demoActivitySeconds,
    tokenRefreshSeconds,
    webhooks: values.webhooks !== 'off',
    log,
  });
  const { simulators } = stack.info;
  log(
    `ready dynamodb=${stack.info.endpoints.dynamodb} sqs=${stack.info.endpoints.sqs} ` +
      `clover=${simulators.clover ?? process.env.CLOVER_API_BASE_URL} (${simulators.clover ? 'simulator' : 'external'}) ` +
      `hipoink=${simulators.hipoink ?? process.env.HIPOINK_BASE_URL} (${simulators.hipoink ? 'simulator' : 'external'}) ` +
      `web=${stack.info.endpoints.web} shelf=${stack.info.endpoints.shelf} interval=${intervalSeconds}s ` +
      '— open the shelf URL in a browser, or try: npx esl-sync status',
  );
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${signal})`);
    await stack.stop();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGHUP', () => void shutdown('SIGHUP'));
  // `npm start` runs this under a shell that a SIGTERM to npm kills without passing the signal on:
  // left without its parent, the stack stops as if it had been told to.
  setInterval(() => {
    if (process.ppid !== parent) void shutdown('its parent process ended');
  }, 1000).unref();
}

/** A seconds option: a number ≥ 0 (0 = off), or a clear error naming the option. */
function secondsOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < 0)
    throw new Error(`--${name} must be a number of seconds ≥ 0 (0 = off); got ${JSON.stringify(value)}`);
  return seconds;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('local/start.ts')) {
  main().catch((err) => {
    process.stderr.write(
      `esl-sync local stack failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  });
}
