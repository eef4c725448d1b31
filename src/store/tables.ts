/**
 * Key schema of the two DynamoDB tables. The CDK stack and the local stack both build
 * their tables from this, so the deployed and local shapes cannot drift apart.
 */
export const MERCHANTS_TABLE_KEYS = { partitionKey: 'merchantId' } as const;
export const PRODUCTS_TABLE_KEYS = { partitionKey: 'merchantId', sortKey: 'itemId' } as const;

/**
 * Sparse index of the products table: only slots marked out of step carry `outOfStepSince` (a
 * number), so asking it for a store's stale slots reads nothing while every label is in step.
 */
export const OUT_OF_STEP_INDEX = 'OutOfStep';
export const OUT_OF_STEP_INDEX_KEYS = { partitionKey: 'merchantId', sortKey: 'outOfStepSince' } as const;
