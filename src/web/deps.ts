import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadWebConfig, type WebConfig } from '../config.ts';
import { budgetedCloverClients } from '../deps.ts';
import { METRIC } from '../metric-names.ts';
import { logger, metrics } from '../observability.ts';
import { appSecretSource, stateKeySource } from '../secrets.ts';
import { createInviteStore, createStateLedger } from '../store/connect.ts';
import { createDocumentClient } from '../store/dynamo.ts';
import { createMerchantStore } from '../store/merchants.ts';
import type { WebAppDeps } from './app.ts';

/**
 * The web function's dependencies: the merchants table only (merchants, invites, used states, the
 * request budget), the app secret, the state-signing key and the budgeted Clover client. It has no
 * products table, no queue and no Hipoink.
 */
export function buildWebDeps(config: WebConfig): WebAppDeps {
  const doc = createDocumentClient(new DynamoDBClient({}));
  const secret = appSecretSource(config.appSecretId);
  // A browser waits on every call, and API Gateway gives up after 30 s: short timeouts, no retries
  // (the merchant can start again; the code exchange is never retried anyway).
  const { clover, codeExchange } = budgetedCloverClients(config, doc, { retryLimit: 0, timeoutMs: 8_000 });
  return {
    merchants: createMerchantStore(doc, config.merchantsTable),
    invites: createInviteStore(doc, config.merchantsTable),
    states: createStateLedger(doc, config.merchantsTable),
    clover: { listItems: clover.listItems, exchangeCode: codeExchange.exchangeCode },
    app: async () => {
      const s = await secret();
      return { appId: s.cloverAppId, ...(s.cloverAppSecret ? { appSecret: s.cloverAppSecret } : {}) };
    },
    stateKey: stateKeySource(config.stateKeySecretId),
    oauthBaseUrl: config.cloverOauthBaseUrl,
    ...(config.webBaseUrl ? { webBaseUrl: config.webBaseUrl } : {}),
    onWarning: (message, fields) => logger.warn(message, fields),
    onOutcome: (route, outcome, fields) => {
      if (outcome === 'connected') metrics.addMetric(METRIC.storesConnected, 'Count', 1);
      if (outcome === 'not-configured')
        logger.error('Connecting a store is not possible', { route, outcome, ...fields });
      else logger.info('Connect flow', { route, outcome, ...fields });
    },
  };
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
