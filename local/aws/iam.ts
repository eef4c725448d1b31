/**
 * IAM for the local stack. Each handler runs as its function, and a table, queue or secret call the
 * deployed stack does not grant that function (src/grants.ts) fails as AWS fails it
 * (AccessDeniedException), so a call added without its grant shows in `npm start` and the tests,
 * not first on AWS.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { type AwsCall, checkCalls } from '../../src/call-check.ts';
import {
  type GrantedFunction,
  OWN_RECORDS,
  QUEUE_FEEDS,
  QUEUE_SENDS,
  type QueueName,
  SECRET_READS,
  type SecretName,
  TABLE_ACCESS,
  type TableAction,
} from '../../src/grants.ts';

export interface Caller {
  fn: GrantedFunction;
  tables: { merchantsTable: string; productsTable: string };
  queueUrls: Record<QueueName, string>;
  secretIds: Record<SecretName, string>;
  denied: (line: string) => void;
}
const caller = new AsyncLocalStorage<Caller>();

/** Whether function `c.fn` may make this call on this table, queue or secret. */
function granted(c: Caller, call: AwsCall, resource: string): boolean {
  if (call.service === 'dynamodb') {
    const { merchantsTable, productsTable } = c.tables;
    const kind =
      resource === merchantsTable ? 'merchants' : resource === productsTable ? 'products' : undefined;
    if (kind === undefined) return false;
    if ((TABLE_ACCESS[c.fn][kind] as readonly string[]).includes(call.action)) return true;
    // Its own record only: every key the call names is that record's.
    const own = OWN_RECORDS[c.fn];
    const keys = call.keys ?? [];
    return (
      kind === 'merchants' &&
      own !== undefined &&
      own.actions.includes(call.action as TableAction) &&
      keys.length > 0 &&
      keys.every((k) => k === own.key)
    );
  }
  if (call.service === 'secretsmanager') {
    const secret = (Object.keys(c.secretIds) as SecretName[]).find((n) => c.secretIds[n] === resource);
    return secret !== undefined && (SECRET_READS[c.fn] as readonly string[]).includes(secret);
  }
  const queue = (Object.keys(c.queueUrls) as QueueName[]).find((q) => c.queueUrls[q] === resource);
  if (queue === undefined) return false;
  if (call.action.startsWith('SendMessage')) return (QUEUE_SENDS[c.fn] as readonly string[]).includes(queue);
  // What an event source grants the function it feeds, to hand messages back for a later retry.
  return call.action.startsWith('ChangeMessageVisibility') && QUEUE_FEEDS[c.fn] === queue;
}

checkCalls((call) => {
  const c = caller.getStore();
  if (!c) return; // not a handler: the operator's CLI, the queue pumps, the local shelf page
  for (const resource of call.resources) {
    if (granted(c, call, resource)) continue;
    const message = `the ${c.fn} function is not granted ${call.service}:${call.action} on ${resource} (src/grants.ts)`;
    c.denied(message);
    throw Object.assign(new Error(message), { name: 'AccessDeniedException' });
  }
});

/** The handler, run as function `who.fn`: its table and queue calls are held to that function's grants. */
export function runAs<E, C, R>(
  who: Caller,
  handler: (event: E, context: C) => Promise<R>,
): (event: E, context: C) => Promise<R> {
  return (event, context) => caller.run(who, () => handler(event, context));
}
