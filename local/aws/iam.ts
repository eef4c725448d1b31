/**
 * IAM for the local stack's table calls. Each handler runs as its function, and a DynamoDB call the
 * deployed stack does not grant that function fails as AWS fails it (AccessDeniedException), so a
 * store call added without its grant shows in `npm start` and the tests, not first on AWS.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { checkTableCalls } from '../../src/store/dynamo.ts';
import { type FunctionWithTables, TABLE_ACCESS } from '../../src/store/tables.ts';

interface Caller {
  fn: FunctionWithTables;
  tables: { merchantsTable: string; productsTable: string };
  denied: (line: string) => void;
}
const caller = new AsyncLocalStorage<Caller>();

checkTableCalls((action, tables) => {
  const c = caller.getStore();
  if (!c) return; // not a handler: the operator's CLI or the local shelf page
  for (const table of tables) {
    const kind =
      table === c.tables.merchantsTable
        ? 'merchants'
        : table === c.tables.productsTable
          ? 'products'
          : undefined;
    const granted: readonly string[] = kind ? TABLE_ACCESS[c.fn][kind] : [];
    if (granted.includes(action)) continue;
    const message = `the ${c.fn} function is not granted dynamodb:${action} on table ${table} (TABLE_ACCESS)`;
    c.denied(message);
    throw Object.assign(new Error(message), { name: 'AccessDeniedException' });
  }
});

/** The handler, run as function `fn`: its table calls are held to that function's grants. */
export function runAs<E, C, R>(
  who: Caller,
  handler: (event: E, context: C) => Promise<R>,
): (event: E, context: C) => Promise<R> {
  return (event, context) => caller.run(who, () => handler(event, context));
}
