/** Shared set-up for integration tests: real dynalite-backed stores, and merchant token helpers. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ensureTables, startLocalDynamo } from '../../local/aws/dynamo.ts';
import { startCloverSimulator } from '../../local/simulators/clover.ts';
import { startHipoinkSimulator } from '../../local/simulators/hipoink.ts';
import { startLocalStack } from '../../local/start.ts';
import type { TokenPair } from '../../src/clover/schemas.ts';
import { createDocumentClient } from '../../src/store/dynamo.ts';
import { createMerchantStore, type MerchantStore } from '../../src/store/merchants.ts';
import { createShelfStore } from '../../src/store/shelf.ts';

/** In-memory dynalite with both tables, and the stores the handlers use on top of it. */
export async function startStateStores() {
  const dynamo = await startLocalDynamo({});
  const db = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: dynamo.endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await ensureTables(db, { merchantsTable: 'merchants', productsTable: 'products' });
  const doc = createDocumentClient(db);
  return {
    doc,
    merchants: createMerchantStore(doc, 'merchants'),
    shelf: createShelfStore(doc, 'products'),
    stop: () => dynamo.stop(),
  };
}

/** Makes the stored access token look expired, as it will once the clock passes its expiry. */
export async function expireStoredAccessToken(merchants: MerchantStore, merchantId: string, expiresAt = 1) {
  const m = await merchants.get(merchantId);
  if (!m?.storeCode) throw new Error(`no merchant ${merchantId} with a store code`);
  await merchants.upsert({
    merchantId,
    storeCode: m.storeCode,
    tokens: {
      access_token: m.accessToken,
      access_token_expiration: expiresAt,
      refresh_token: m.refreshToken,
      refresh_token_expiration: m.refreshTokenExpiresAt,
    },
  });
}

/** `esl-sync merchants add` arguments for a merchant and its token pair. */
export function merchantAddArgs(merchantId: string, storeCode: string, t: TokenPair): string[] {
  return [
    'merchants',
    'add',
    '--merchant-id',
    merchantId,
    '--store-code',
    storeCode,
    '--access-token',
    t.access_token,
    '--access-token-expiration',
    String(t.access_token_expiration),
    '--refresh-token',
    t.refresh_token,
    '--refresh-token-expiration',
    String(t.refresh_token_expiration),
  ];
}

/**
 * Keeps everything written to stdout and stderr (Powertools logs there) in `into`, still writing it
 * through; the returned function puts the original writers back.
 */
export function captureOutput(into: string[]): () => void {
  const original = {
    out: process.stdout.write.bind(process.stdout),
    err: process.stderr.write.bind(process.stderr),
  };
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    into.push(String(chunk));
    return original.out(chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    into.push(String(chunk));
    return original.err(chunk, ...rest);
  }) as typeof process.stderr.write;
  return () => {
    process.stdout.write = original.out;
    process.stderr.write = original.err;
  };
}

/**
 * The local stack on a data dir of its own, run on demand only (no schedule unless
 * `intervalSeconds` is given, no demo activity), against Clover and Hipoink simulators started as
 * independent servers. `env` adds local settings.
 */
export async function startSimulatedStack(opts: {
  appId: string;
  sign: string;
  intervalSeconds?: number;
  env?: Record<string, string>;
  log?: (line: string) => void;
}) {
  const dir = mkdtempSync(join(tmpdir(), 'esl-sync-stack-'));
  const clover = await startCloverSimulator({ appId: opts.appId });
  const hipoink = await startHipoinkSimulator({ sign: opts.sign });
  const stack = await startLocalStack({
    intervalSeconds: opts.intervalSeconds ?? 0,
    demoActivitySeconds: 0,
    tokenRefreshSeconds: 0,
    dataDir: dir,
    env: {
      CLOVER_API_BASE_URL: clover.url,
      HIPOINK_BASE_URL: hipoink.url,
      CLOVER_APP_ID: opts.appId,
      HIPOINK_SIGN: opts.sign,
      ...opts.env,
    },
    log: opts.log ?? (() => undefined),
  });
  return {
    dir,
    clover,
    hipoink,
    stack,
    async stop() {
      await stack.stop();
      await clover.stop();
      await hipoink.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
