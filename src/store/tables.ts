/**
 * Key schema of the two DynamoDB tables. The CDK stack and the local stack both build
 * their tables from this, so the deployed and local shapes cannot drift apart.
 */
export const MERCHANTS_TABLE_KEYS = { partitionKey: 'merchantId' } as const;
export const PRODUCTS_TABLE_KEYS = { partitionKey: 'merchantId', sortKey: 'itemId' } as const;
