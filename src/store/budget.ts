import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { writeIf } from './dynamo.ts';

/** Key of the shared request counter in the merchants table (never a Clover merchant id). */
export const BUDGET_KEY = '#clover-request-budget';

export interface RequestBudget {
  /**
   * Waits until this process may send one more Clover request in the current second without the
   * whole app (every Lambda together) exceeding `limit` requests in that second. Resolves to the
   * second (Unix s) the request was counted in, which may already be past when it resolves.
   */
  take(limit: number): Promise<number>;
}

/**
 * Clover allows 50 requests/s per app across all merchants. Lambdas cannot see each other, so
 * the count lives in one DynamoDB item per app: a one-second window with a conditional counter.
 * Polls take from a lower limit than token refreshes, leaving headroom for those.
 */
export function createRequestBudget(
  doc: DynamoDBDocumentClient,
  tableName: string,
  opts: { now?: () => number; sleep?: (ms: number) => Promise<void> } = {},
): RequestBudget {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const key = { merchantId: BUDGET_KEY };
  const attempt = (command: UpdateCommand) => writeIf(doc, command);
  return {
    async take(limit) {
      for (;;) {
        const second = Math.floor(now() / 1000);
        // A new second: open the window with this request.
        const opened = await attempt(
          new UpdateCommand({
            TableName: tableName,
            Key: key,
            UpdateExpression: 'SET windowStart = :s, used = :one',
            ConditionExpression: 'attribute_not_exists(windowStart) OR windowStart < :s',
            ExpressionAttributeValues: { ':s': second, ':one': 1 },
          }),
        );
        if (opened) return second;
        const counted = await attempt(
          new UpdateCommand({
            TableName: tableName,
            Key: key,
            UpdateExpression: 'ADD used :one',
            ConditionExpression: 'windowStart = :s AND used < :limit',
            ExpressionAttributeValues: { ':s': second, ':one': 1, ':limit': limit },
          }),
        );
        if (counted) return second;
        // This second is spent: wait for the next one, spread a little so waiters do not stampede.
        await sleep((second + 1) * 1000 - now() + Math.floor(Math.random() * 50));
      }
    },
  };
}
