import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadWebConfig, type WebConfig } from '../config.ts';
import { budgetedCloverClients } from '../deps.ts';
import { METRIC } from '../metric-names.ts';
import { logger, metrics } from '../observability.ts';
import { createQueueSender, createSqsClient } from '../queues/sqs.ts';
import { appSecretSource, secretsClient, stateKeySource } from '../secrets.ts';
import { createInviteStore, createStateLedger } from '../store/connect.ts';
import { createDocumentClient } from '../store/dynamo.ts';
import { createMerchantStore } from '../store/merchants.ts';
import { createWebhookVerificationStore } from '../store/webhooks.ts';
import type { WebhookOutcome } from '../webhooks/receive.ts';
import type { WebAppDeps } from './app.ts';

/**
 * The web function's dependencies: the merchants table only (merchants, invites, used states, the
 * request budget, the webhook verification), the poll queue (webhook notices, a store connected),
 * the app secret, the state-signing key and the budgeted Clover client. It has no products table
 * and no Hipoink.
 */
export function buildWebDeps(config: WebConfig): WebAppDeps {
  const doc = createDocumentClient(new DynamoDBClient({}));
  const secrets = secretsClient();
  const secret = appSecretSource(config.appSecretId, { client: secrets });
  const merchants = createMerchantStore(doc, config.merchantsTable, Date.now, (merchantId, reason) =>
    logger.warn('Webhook notice for a merchant whose record cannot be used', { merchantId, reason }),
  );
  // A browser waits on every call, and API Gateway gives up after 30 s: short timeouts, no retries
  // (the merchant can start again; the code exchange is never retried anyway).
  const { clover, codeExchange } = budgetedCloverClients(config, doc, { retryLimit: 0, timeoutMs: 8_000 });
  const pollQueue = createQueueSender(createSqsClient(), config.pollQueueUrl);
  return {
    merchants,
    invites: createInviteStore(doc, config.merchantsTable),
    states: createStateLedger(doc, config.merchantsTable),
    clover: { listItems: clover.listItems, exchangeCode: codeExchange.exchangeCode },
    app: async () => {
      const s = await secret();
      return { appId: s.cloverAppId, ...(s.cloverAppSecret ? { appSecret: s.cloverAppSecret } : {}) };
    },
    stateKey: stateKeySource(config.stateKeySecretId, { client: secrets }),
    oauthBaseUrl: config.cloverOauthBaseUrl,
    ...(config.webBaseUrl ? { webBaseUrl: config.webBaseUrl } : {}),
    onWarning: (message, fields) => logger.warn(message, fields),
    pollQueue,
    onOutcome: (route, outcome, fields) => {
      if (outcome === 'connected') metrics.addMetric(METRIC.storesConnected, 'Count', 1);
      if (outcome === 'not-configured') {
        // Clover's launch always names the merchant: a launch without one is no store's (a crawler).
        if (route !== 'launch' || fields.merchantId !== undefined)
          metrics.addMetric(METRIC.connectNotConfigured, 'Count', 1);
        logger.error('Connecting a store is not possible', { route, outcome, ...fields });
      } else logger.info('Connect flow', { route, outcome, ...fields });
    },
    webhooks: {
      merchants,
      verifications: createWebhookVerificationStore(doc, config.merchantsTable),
      pollQueue,
      authCode: async () => (await secret()).cloverWebhookAuthCode,
    },
    onWebhook: reportWebhook,
  };
}

/** One log line and the metrics for each webhook request: counts, reasons and merchant ids only. */
export function reportWebhook(outcome: WebhookOutcome): void {
  switch (outcome.kind) {
    case 'received': {
      const ignored = Object.values(outcome.ignored).reduce((a, b) => a + (b ?? 0), 0);
      metrics.addMetric(METRIC.webhookNoticesAccepted, 'Count', outcome.accepted);
      metrics.addMetric(METRIC.webhookNoticesIgnored, 'Count', ignored);
      const { kind: _, ...fields } = outcome;
      logger.info('Webhook notices received', fields);
      for (const merchantId of outcome.uninstalled)
        logger.warn('The Clover app was uninstalled: merchant disabled, its tokens deleted', { merchantId });
      return;
    }
    case 'verification':
      // The code itself is the operator's to read (`esl-sync webhooks verification-code`), never logged.
      logger.info('Webhook verification request recorded');
      return;
    case 'unauthorized':
      metrics.addMetric(METRIC.webhookRequestsRefused, 'Count', 1);
      if (outcome.reason === 'not configured')
        logger.error('Webhook notice refused: cloverWebhookAuthCode is not set in the app secret');
      else logger.warn('Webhook request refused', { reason: `X-Clover-Auth ${outcome.reason}` });
      return;
    case 'unavailable':
      logger.error('Webhook notice not handled: the app secret cannot be read', { reason: outcome.reason });
      return;
    default:
      metrics.addMetric(METRIC.webhookRequestsInvalid, 'Count', 1);
      logger.warn('Webhook request is not a notice', { outcome: outcome.kind });
  }
}

let cached: WebAppDeps | undefined;

/** Built once per cold start. */
export function webRuntimeDeps(): WebAppDeps {
  cached ??= buildWebDeps(loadWebConfig());
  return cached;
}

/** For the local stack and tests: the next call builds them again from the environment. */
export function resetWebRuntimeDeps(): void {
  cached = undefined;
}
