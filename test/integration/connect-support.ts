/**
 * Set-up shared by the connect-flow tests: the local stack against independent Clover and Hipoink
 * simulators, the CLI, a record of everything printed or logged (to scan for secrets), and a
 * snapshot of what the flow may change (merchants and invites).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import {
  type CloverSimulator,
  type SimItemInput,
  startCloverSimulator,
} from '../../local/simulators/clover.ts';
import type { WebhookSenderOptions } from '../../local/simulators/clover-webhooks.ts';
import { type HipoinkSimulator, startHipoinkSimulator } from '../../local/simulators/hipoink.ts';
import { LOCAL_STATE_KEY_SECRET_ID, type LocalStack, startLocalStack } from '../../local/start.ts';
import { runCli } from '../../src/cli/main.ts';
import { localTarget } from '../../src/cli/target.ts';
import { waitForQueuesDrained } from '../../src/queues/depth.ts';
import { createInviteStore } from '../../src/store/connect.ts';
import { createDocumentClient } from '../../src/store/dynamo.ts';
import { createMerchantStore } from '../../src/store/merchants.ts';
import { createShelfStore } from '../../src/store/shelf.ts';
import { captureOutput } from './support.ts';

export const APP_ID = 'CONNECTAPP';
export const APP_SECRET = 'connect-app-secret-4f1c9e';
export const SIGN = 'connect-sign-77aa10';
/** The Clover Auth Code of the simulated app's webhooks (in the app secret as cloverWebhookAuthCode). */
export const WEBHOOK_AUTH = 'connect-webhook-auth-5e2b91';

export interface ConnectWorld {
  clover: CloverSimulator;
  hipoink: HipoinkSimulator;
  stack: LocalStack;
  dir: string;
  /** Every CLI line, log line and page body seen, for the secret scan. */
  seen: string[];
  cli(...args: string[]): Promise<string[]>;
  stores(): {
    merchants: ReturnType<typeof createMerchantStore>;
    shelf: ReturnType<typeof createShelfStore>;
    invites: ReturnType<typeof createInviteStore>;
  };
  /** Merchants and invites as stored once no poll or push runs (used-state and budget records left out: bookkeeping). */
  snapshot(): Promise<unknown[]>;
  /** The values no page, log line or output may contain (besides codes and tokens the test tracks). */
  secrets(): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startConnectWorld(
  opts: { cloverWebhooks?: WebhookSenderOptions } = {},
): Promise<ConnectWorld> {
  const seen: string[] = [];
  // Everything the handlers log (Powertools writes to stdout/stderr) is kept for the scan.
  const restoreOutput = captureOutput(seen);

  const dir = mkdtempSync(join(tmpdir(), 'esl-sync-connect-'));
  const clover = await startCloverSimulator({
    appId: APP_ID,
    appSecret: APP_SECRET,
    rateLimits: false,
    ...(opts.cloverWebhooks ? { webhooks: opts.cloverWebhooks } : {}),
  });
  const hipoink = await startHipoinkSimulator({ sign: SIGN });
  const stack = await startLocalStack({
    intervalSeconds: 0,
    demoActivitySeconds: 0,
    tokenRefreshSeconds: 0,
    dataDir: dir,
    env: {
      CLOVER_API_BASE_URL: clover.url,
      HIPOINK_BASE_URL: hipoink.url,
      CLOVER_APP_ID: APP_ID,
      CLOVER_APP_SECRET: APP_SECRET,
      CLOVER_WEBHOOK_AUTH_CODE: WEBHOOK_AUTH,
      HIPOINK_SIGN: SIGN,
      POWERTOOLS_LOG_LEVEL: 'INFO',
    },
    log: (l) => seen.push(l),
  });
  // As the app's settings at Clover would: the connect flow's redirect_uri must lie under it.
  clover.setSiteUrl(stack.info.endpoints.web);

  const stores = () => {
    const target = localTarget(dir);
    const doc = createDocumentClient(target.dynamodb);
    return {
      merchants: createMerchantStore(doc, target.stack.merchantsTable),
      shelf: createShelfStore(doc, target.stack.productsTable),
      invites: createInviteStore(doc, target.stack.merchantsTable),
    };
  };

  return {
    clover,
    hipoink,
    stack,
    dir,
    seen,
    async cli(...args) {
      const out: string[] = [];
      try {
        await runCli(args, { out: (l) => out.push(l), err: (l) => out.push(l) }, async () =>
          localTarget(dir),
        );
      } finally {
        seen.push(...out);
      }
      return out;
    },
    stores,
    async snapshot() {
      const target = localTarget(dir);
      // A poll or push still running (an earlier connection's) would change the records under it.
      await waitForQueuesDrained(target.sqs, [target.stack.pollQueueUrl, target.stack.pushQueueUrl], {
        timeoutMs: 60_000,
        pollMs: 100,
      });
      const doc = createDocumentClient(target.dynamodb);
      const items: Array<Record<string, unknown>> = [];
      for (const table of [target.stack.merchantsTable, target.stack.productsTable]) {
        const out = await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
        items.push(...(out.Items ?? []));
      }
      return items
        .filter((i) => !/^#(oauth-state#|clover-request-budget)/.test(String(i.merchantId)))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    },
    async secrets() {
      // The local stack generated its state-signing key; read it as the web function does.
      const key = await new SecretsManagerClient({}).send(
        new GetSecretValueCommand({ SecretId: LOCAL_STATE_KEY_SECRET_ID }),
      );
      return [APP_SECRET, SIGN, key.SecretString ?? 'missing-key', WEBHOOK_AUTH];
    },
    async stop() {
      restoreOutput();
      await stack.stop();
      await clover.stop();
      await hipoink.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A catalog for a store that connects during a test. */
export function cafeItems(): SimItemInput[] {
  return [
    { name: 'Espresso', sku: 'ESP', price: 249 },
    { name: 'Croissant', sku: 'CRO', price: 329 },
    { name: 'Orange juice', code: '048500001516', price: 359 },
    { name: 'Gift card', sku: 'GIFT', price: 0, priceType: 'VARIABLE', hidden: true },
  ];
}

/** The labels a store must show for a merchant's catalog (the README's mapping, non-hidden items). */
export function expectedShelf(clover: CloverSimulator, merchantId: string) {
  return clover
    .items(merchantId)
    .filter((i) => !i.hidden)
    .map((i) => ({ pc: i.sku || i.code || i.id, pn: i.name, pp: (i.price / 100).toFixed(2) }))
    .sort((a, b) => a.pc.localeCompare(b.pc));
}

export function shelf(hipoink: HipoinkSimulator, store: string) {
  return [...hipoink.products(store).values()]
    .map((p) => ({ pc: p.pc, pn: p.pn, pp: p.pp }))
    .sort((a, b) => a.pc.localeCompare(b.pc));
}

/** Every occurrence of any of `values` in `texts` (values shorter than 8 characters are not secrets here). */
export function leaks(texts: readonly string[], values: readonly string[]): string[] {
  const all = texts.join('\n');
  return values.filter((v) => v.length >= 8 && all.includes(v));
}

export interface Page {
  status: number;
  body: string;
  headers: Headers;
  url: string;
}

async function open(url: string, init: RequestInit = {}): Promise<Page> {
  const res = await fetch(url, { ...init, redirect: 'manual' });
  return { status: res.status, body: await res.text(), headers: res.headers, url };
}

/**
 * A browser's walk without a browser: our link → Clover's consent page → Allow or Deny → the
 * callback Clover redirects to. Returns each step (the callback URL carries Clover's code).
 */
export async function walk(
  world: { clover: { url: string } },
  link: string,
  decision: 'allow' | 'deny' = 'allow',
) {
  const start = await open(link);
  const authorize = start.headers.get('location');
  if (start.status !== 302 || !authorize) return { start };
  const consent = await open(authorize);
  const fields = Object.fromEntries(
    [...consent.body.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)].map((m) => [
      m[1] as string,
      (m[2] as string).replace(/&amp;/g, '&'),
    ]),
  );
  const answer = await open(`${world.clover.url}/oauth/v2/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, decision }).toString(),
  });
  const callbackUrl = answer.headers.get('location') ?? '';
  const callback = await open(callbackUrl);
  return { start, authorize, consent, callbackUrl, callback };
}

/** Opens a URL as a browser would, without following a redirect. */
export const openPage = open;

export function h1(body: string): string {
  return /<h1>(.*?)<\/h1>/s.exec(body)?.[1]?.replace(/<[^>]+>/g, '') ?? '';
}
