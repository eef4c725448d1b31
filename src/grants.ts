/**
 * What each function may call on our tables, queues and secrets: the deployed stack grants exactly
 * this, and the local stack refuses any other DynamoDB, SQS or Secrets Manager call a handler makes,
 * as IAM would, so a call added without its grant fails in the tests and `npm start`, not first on
 * AWS. (Locally the sync functions share one cache of each secret: a read the cache answers is not
 * checked, but a function's first read of a secret it is not granted is refused.)
 */

import { ATTENTION_KEY } from './store/attention.ts';
import { REFRESHER_HEARTBEAT_KEY } from './store/heartbeat.ts';

/** The DynamoDB calls the stores make (src/store/*.ts), one per document-client command. */
export type TableAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'Scan'
  | 'UpdateItem'
  | 'PutItem'
  | 'DeleteItem';

/** The table calls each function's code path makes, per table. */
export const TABLE_ACCESS = {
  // merchants.list (its record of the stores each alarm counted: OWN_RECORDS).
  fanOut: { merchants: ['Scan'], products: [] },
  // merchants.get; startPoll, recordPoll, token lease/refresh and the Clover budget are updates
  // (the budget is read with a get when a pause refuses a wait). Shelf: item and slot batch reads, listings (queries), item records (puts), slot changes and
  // the calls record (updates).
  poller: {
    merchants: ['GetItem', 'UpdateItem'],
    products: ['BatchGetItem', 'PutItem', 'Query', 'UpdateItem'],
  },
  // merchants.get; its shelf counts, a queue barrier passed and its push failures (updates).
  // Shelf: batch reads, the refusal probe's listing (a query), a cleared store's pending codes (a
  // get), settling a slot and the calls record and the cleared codes (updates).
  pushConsumer: {
    merchants: ['GetItem', 'UpdateItem'],
    products: ['BatchGetItem', 'GetItem', 'Query', 'UpdateItem'],
  },
  // merchants.get and list.
  backfill: { merchants: ['GetItem', 'Scan'], products: [] },
  // merchants.list and get; token lease/refresh and the Clover budget are updates (and a get, as
  // for the poller); its heartbeat is a put (OWN_RECORDS).
  tokenRefresher: { merchants: ['GetItem', 'Scan', 'UpdateItem'], products: [] },
  // The connect flow: gets and conditional updates of merchants, invites, used states, the budget;
  // webhook notices: batch reads of their merchants, the notice time, an uninstall, the verification.
  web: { merchants: ['BatchGetItem', 'GetItem', 'UpdateItem'], products: [] },
} as const satisfies Record<string, Record<'merchants' | 'products', readonly TableAction[]>>;

export type GrantedFunction = keyof typeof TABLE_ACCESS;

/**
 * Calls a function may make on one record of its own in the merchants table, and no other (IAM's
 * `dynamodb:LeadingKeys`): a put there can never overwrite a merchant.
 */
export const OWN_RECORDS: Partial<Record<GrantedFunction, { key: string; actions: readonly TableAction[] }>> =
  {
    fanOut: { key: ATTENTION_KEY, actions: ['GetItem', 'PutItem'] },
    tokenRefresher: { key: REFRESHER_HEARTBEAT_KEY, actions: ['PutItem'] },
  };

/** The queues of the stack, by the names these lists use. */
export type QueueName = 'pollQueue' | 'pollDlq' | 'pushQueue' | 'pushDlq';

/**
 * The queues each function sends to. A function fed by a queue may also change the visibility of
 * the messages it received there (its event source's grant), to retry them later.
 */
export const QUEUE_SENDS = {
  fanOut: ['pollQueue'],
  // Pushes, and its own dead letters; never polls (a notice's poll is the web function's).
  poller: ['pushQueue', 'pollDlq'],
  pushConsumer: ['pushDlq'],
  backfill: ['pollQueue'],
  tokenRefresher: [],
  // Webhook notices queue polls.
  web: ['pollQueue'],
} as const satisfies Record<GrantedFunction, readonly QueueName[]>;
export const QUEUE_FEEDS: Partial<Record<GrantedFunction, QueueName>> = {
  poller: 'pollQueue',
  pushConsumer: 'pushQueue',
};

/** The stack's secrets: Clover's app credentials, the Hipoink sign, the connect flow's signing key. */
export type SecretName = 'app' | 'hipoink' | 'stateKey';

/** The secrets each function reads: the Hipoink sign only where labels are pushed. */
export const SECRET_READS = {
  fanOut: [],
  // Token refreshes need the app id (and the app secret for Clover's recovery path).
  poller: ['app'],
  pushConsumer: ['hipoink'],
  backfill: [],
  tokenRefresher: ['app'],
  // The code exchange and the webhook auth code; the connect flow's state-signing key.
  web: ['app', 'stateKey'],
} as const satisfies Record<GrantedFunction, readonly SecretName[]>;
