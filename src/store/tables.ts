/**
 * Key schema of the two DynamoDB tables. The CDK stack and the local stack both build
 * their tables from this, so the deployed and local shapes cannot drift apart.
 */
export const MERCHANTS_TABLE_KEYS = { partitionKey: 'merchantId' } as const;
export const PRODUCTS_TABLE_KEYS = { partitionKey: 'merchantId', sortKey: 'itemId' } as const;

/**
 * The merchants table's TTL attribute (Unix seconds). Only the connect flow's own records (invites,
 * used states; keys starting with '#') carry it: DynamoDB deletes them some time after it passes.
 * Every rule reads their times itself, so nothing depends on when the deletion happens.
 */
export const MERCHANTS_TABLE_TTL_ATTRIBUTE = 'expiresAtSeconds';

/** The DynamoDB calls the stores make (src/store/*.ts), one per document-client command. */
export type TableAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'Scan'
  | 'UpdateItem'
  | 'PutItem'
  | 'DeleteItem';

/**
 * The table calls each function's code path makes, per table: the deployed stack grants exactly
 * these, and the local stack refuses any other call of a handler as IAM would, so a store call
 * added without its grant fails in the tests and `npm start`, not first on AWS.
 */
export const TABLE_ACCESS = {
  // merchants.list.
  fanOut: { merchants: ['Scan'], products: [] },
  // merchants.get; startPoll, recordPoll, token lease/refresh and the Clover budget are updates.
  // Shelf: item and slot batch reads, listings (queries), item records (puts), slot changes and
  // the calls record (updates).
  poller: {
    merchants: ['GetItem', 'UpdateItem'],
    products: ['BatchGetItem', 'PutItem', 'Query', 'UpdateItem'],
  },
  // merchants.get, and its shelf counts (updates). Shelf: batch reads, the refusal probe's listing
  // (a query), a cleared store's pending codes (a get), settling a slot and the calls record and
  // the cleared codes (updates).
  pushConsumer: {
    merchants: ['GetItem', 'UpdateItem'],
    products: ['BatchGetItem', 'GetItem', 'Query', 'UpdateItem'],
  },
  // merchants.get and list.
  backfill: { merchants: ['GetItem', 'Scan'], products: [] },
  // merchants.list and get; token lease/refresh and the Clover budget are updates; its heartbeat
  // is a put.
  tokenRefresher: { merchants: ['GetItem', 'PutItem', 'Scan', 'UpdateItem'], products: [] },
  // The connect flow: gets and conditional updates of merchants, invites, used states, the budget;
  // webhook notices: batch reads of their merchants, the notice time, an uninstall, the verification.
  web: { merchants: ['BatchGetItem', 'GetItem', 'UpdateItem'], products: [] },
} as const satisfies Record<string, Record<'merchants' | 'products', readonly TableAction[]>>;
export type FunctionWithTables = keyof typeof TABLE_ACCESS;
