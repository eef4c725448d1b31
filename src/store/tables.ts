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
