import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { MERCHANTS_TABLE_KEYS, PRODUCTS_TABLE_KEYS } from '../../src/store/tables.ts';

const require = createRequire(import.meta.url);
// dynalite is CommonJS and ships no types.
const dynalite = require('dynalite') as (opts: Record<string, unknown>) => import('node:http').Server;

/** DynamoDB on loopback (dynalite); `path` keeps the data in LevelDB across restarts. */
export async function startLocalDynamo(opts: { path?: string; port?: number } = {}) {
  const server = dynalite({ path: opts.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

/** Creates the two tables with the deployed key schema (src/store/tables.ts) unless they exist. */
export async function ensureTables(
  client: DynamoDBClient,
  names: { merchantsTable: string; productsTable: string },
) {
  const specs = [
    { name: names.merchantsTable, keys: [MERCHANTS_TABLE_KEYS.partitionKey] },
    { name: names.productsTable, keys: [PRODUCTS_TABLE_KEYS.partitionKey, PRODUCTS_TABLE_KEYS.sortKey] },
  ];
  for (const spec of specs) {
    try {
      await client.send(new DescribeTableCommand({ TableName: spec.name }));
      continue;
    } catch (err) {
      if (!(err instanceof ResourceNotFoundException)) throw err;
    }
    await client.send(
      new CreateTableCommand({
        TableName: spec.name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: spec.keys.map((k) => ({ AttributeName: k, AttributeType: 'S' as const })),
        KeySchema: spec.keys.map((k, i) => ({ AttributeName: k, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
      }),
    );
    for (let i = 0; i < 100; i++) {
      const out = await client.send(new DescribeTableCommand({ TableName: spec.name }));
      if (out.Table?.TableStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
