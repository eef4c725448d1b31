/**
 * Key schema of the two DynamoDB tables. The CDK stack and the local stack both build
 * their tables from this, so the deployed and local shapes cannot drift apart.
 */
export const MERCHANTS_TABLE_KEYS = { partitionKey: 'merchantId' } as const;
export const PRODUCTS_TABLE_KEYS = { partitionKey: 'merchantId', sortKey: 'itemId' } as const;

/** Sort-key prefix of slot records (one per product code), beside the item records of the same merchant. */
export const SLOT_PREFIX = '#slot#';
/** DynamoDB refuses a sort key longer than this, in UTF-8 bytes. */
const SORT_KEY_MAX_BYTES = 1024;
/**
 * The longest product code (UTF-8 bytes) a slot can be keyed by. Clover puts no length on the
 * fields a code comes from; an item wanting a longer one is invalid, rather than a write that fails
 * every poll of its store.
 */
export const MAX_PRODUCT_CODE_BYTES = SORT_KEY_MAX_BYTES - SLOT_PREFIX.length;

/**
 * The merchants table's TTL attribute (Unix seconds). Only the connect flow's own records (invites,
 * used states; keys starting with '#') carry it: DynamoDB deletes them some time after it passes.
 * Every rule reads their times itself, so nothing depends on when the deletion happens.
 */
export const MERCHANTS_TABLE_TTL_ATTRIBUTE = 'expiresAtSeconds';
