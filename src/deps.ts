import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { budgetGate, budgetLimits } from './clover/budgeted.ts';
import { type CloverClient, type CloverClientOptions, createCloverClient } from './clover/client.ts';
import { type Config, DEFAULT_SYNC_SETTINGS, type SyncSettings } from './config.ts';
import { createHipoinkClient } from './hipoink/client.ts';
import { METRIC } from './metric-names.ts';
import { logger, metrics } from './observability.ts';
import { createQueueSender, createRetryScheduler, createSqsClient, type QueueSender } from './queues/sqs.ts';
import { type AppSecretSource, appSecretSource, hipoinkSecretSource, secretsClient } from './secrets.ts';
import { createAttentionLedger } from './store/attention.ts';
import { createRequestBudget } from './store/budget.ts';
import { createDocumentClient } from './store/dynamo.ts';
import { createRefresherHeartbeat } from './store/heartbeat.ts';
import { createMerchantStore } from './store/merchants.ts';
import { createShelfStore } from './store/shelf.ts';
import { createTokenManager } from './sync/tokens.ts';

/**
 * The Clover client every function uses: each request attempt — a first try or one of ky's
 * retries, item reads (80% of the app's rate) or token calls (the whole of it) — takes its place
 * in the app-wide budget, a 429 pauses the budget for every function, and 429s are counted.
 */
export function budgetedCloverClients(
  config: Pick<Config, 'cloverApiBaseUrl' | 'cloverRequestsPerSecond' | 'merchantsTable'>,
  doc: DynamoDBDocumentClient,
  http: Pick<CloverClientOptions, 'retryLimit' | 'timeoutMs'> = {},
) {
  const client = createCloverClient({
    ...http,
    baseUrl: config.cloverApiBaseUrl,
    onRateLimited: ({ merchantId }) => {
      metrics.addMetric(METRIC.cloverRateLimited, 'Count', 1);
      logger.warn('Clover answered 429', { merchantId });
    },
    gate: budgetGate(
      createRequestBudget(doc, config.merchantsTable),
      budgetLimits(config.cloverRequestsPerSecond),
    ),
  });
  return { clover: client, codeExchange: client };
}

/**
 * Wires the core to real AWS clients and HTTP clients from the parsed config. Handlers call it
 * once per cold start; tests build the same pieces by hand with their own fakes.
 */
export function buildDeps(
  config: Config,
  overrides: { secret?: AppSecretSource; settings?: Partial<SyncSettings> } = {},
) {
  const settings: SyncSettings = {
    ...DEFAULT_SYNC_SETTINGS,
    hipoinkChunkSize: config.hipoinkChunkSize,
    refreshThresholdSeconds: config.tokenRefreshThresholdMinutes * 60,
    ...overrides.settings,
  };
  const doc = createDocumentClient(new DynamoDBClient({}));
  const sqs = createSqsClient();
  const secrets = secretsClient();
  const secret = overrides.secret ?? appSecretSource(config.appSecretId, { client: secrets });
  const hipoinkSecret = hipoinkSecretSource(config.hipoinkSecretId, { client: secrets });
  const merchants = createMerchantStore(doc, config.merchantsTable, Date.now, (merchantId, reason) => {
    metrics.addMetric(METRIC.merchantUnusable, 'Count', 1);
    logger.warn('Merchant skipped: its stored record cannot be used', { merchantId, reason });
  });
  const shelf = createShelfStore(doc, config.productsTable);
  const { clover } = budgetedCloverClients(config, doc);
  /** Token handling over a given Clover client (a poller invocation brings its own, one request at a time). */
  const tokensFor = (client: CloverClient) =>
    createTokenManager({
      merchants,
      clover: client,
      appId: async () => (await secret()).cloverAppId,
      appSecret: async () => (await secret()).cloverAppSecret,
      onRecovery: (merchantId) => {
        metrics.addMetric(METRIC.tokenRecovered, 'Count', 1);
        logger.warn('Recovered a Clover token pair with the recovery token', { merchantId });
      },
      settings,
      onRefresh: (merchantId) => {
        metrics.addMetric(METRIC.tokenRefresh, 'Count', 1);
        logger.info('Refreshing Clover token', { merchantId });
      },
    });
  const tokens = tokensFor(clover);
  const hipoink = createHipoinkClient({
    baseUrl: config.hipoinkBaseUrl,
    clientId: config.hipoinkClientId,
    sign: async () => (await hipoinkSecret()).hipoinkSign,
  });
  return {
    config,
    settings,
    sqs,
    merchants,
    shelf,
    clover,
    tokens,
    tokensFor,
    hipoink,
    refresherHeartbeat: createRefresherHeartbeat(doc, config.merchantsTable),
    attention: createAttentionLedger(doc, config.merchantsTable),
    pollQueue: createQueueSender(sqs, config.pollQueueUrl),
    pushQueue: createQueueSender(sqs, config.pushQueueUrl),
    pollRetry: { ...createRetryScheduler(sqs, config.pollQueueUrl), baseSeconds: config.retryBaseSeconds },
    pushRetry: { ...createRetryScheduler(sqs, config.pushQueueUrl), baseSeconds: config.retryBaseSeconds },
    pollDeadLetter: config.pollDlqUrl ? deadLetterSender(sqs, config.pollDlqUrl) : undefined,
    pushDeadLetter: config.pushDlqUrl ? deadLetterSender(sqs, config.pushDlqUrl) : undefined,
  };
}
export type Deps = ReturnType<typeof buildDeps>;

/**
 * A dead-letter queue's sender that counts each letter it sends: its queue's alarm fires once while
 * letters wait, and this count is how a new letter is told then.
 */
function deadLetterSender(sqs: SQSClient, queueUrl: string): QueueSender {
  const sender = createQueueSender(sqs, queueUrl);
  return {
    async send(messages) {
      await sender.send(messages);
      metrics.addMetric(METRIC.messagesDeadLettered, 'Count', messages.length);
    },
  };
}
