import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ifWritten, writeIf } from './dynamo.ts';

/** Key of the shared request schedule in the merchants table (never a Clover merchant id). */
export const BUDGET_KEY = '#clover-request-budget';

export interface RequestBudget {
  /**
   * Waits until this process may send one more Clover request without the whole app (every Lambda
   * together) going faster than `limit` requests per second, and until no pause holds the app.
   * Resolves to the second (Unix s) the request was scheduled in; to undefined, at once and booking
   * nothing, when that would be more than `maxWaitMs` away (a pause holds the app that long).
   */
  take(limit: number, maxWaitMs?: number): Promise<number | undefined>;
  /**
   * Holds every function's next request until `untilMs` (Unix ms), e.g. a 429's retry-after. A
   * pause only ever grows: an earlier end than the one already scheduled changes nothing.
   */
  pause(untilMs: number): Promise<void>;
}

/**
 * Clover allows 50 requests/s per app across all merchants. Lambdas cannot see each other, so the
 * app's requests share one schedule in DynamoDB: the time from which the next request may go out.
 * Each request reserves the next place (that time, pushed on by 1/limit s) with one update, then
 * waits for it, so requests leave evenly spaced, never in bursts, and waiting costs no further
 * calls. A 429 pushes the schedule past its retry-after, which makes every function wait.
 * Item reads pass a lower limit than token refreshes (a longer step each), which keeps reads
 * under their share while a refresh between them stays within Clover's limit.
 */
export function createRequestBudget(
  doc: DynamoDBDocumentClient,
  tableName: string,
  opts: { now?: () => number; sleep?: (ms: number) => Promise<void> } = {},
): RequestBudget {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const key = { merchantId: BUDGET_KEY };
  const names = { '#next': 'nextRequestAt' };
  // Whether the schedule looked busy (ahead of the clock) last time: then pushing it on is tried
  // first, otherwise starting it afresh; either way one update in the usual case.
  let busy = false;

  /** The schedule is ahead of the clock, but no later than `latest`: take the next place after it. */
  const follow = async (t: number, step: number, latest: number): Promise<number | undefined> => {
    const bounded = Number.isFinite(latest);
    const out = await ifWritten(
      doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: 'SET #next = #next + :step',
          ConditionExpression: bounded ? '#next >= :t AND #next <= :latest' : '#next >= :t',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':step': step, ':t': t, ...(bounded ? { ':latest': latest } : {}) },
          ReturnValues: 'UPDATED_NEW',
        }),
      ),
    );
    return out && (out.Attributes?.nextRequestAt as number) - step;
  };
  /** The schedule is idle (behind the clock): this request goes now. */
  const restart = async (t: number, step: number): Promise<number | undefined> =>
    (await writeIf(
      doc,
      new UpdateCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression: 'SET #next = :after',
        ConditionExpression: 'attribute_not_exists(#next) OR #next < :t',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ':after': t + step, ':t': t },
      }),
    ))
      ? t
      : undefined;

  /** When the next request may go out, as the schedule now says. */
  const scheduledAt = async (): Promise<number> => {
    const out = await doc.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
    return Number(out.Item?.nextRequestAt ?? 0);
  };

  return {
    async take(limit, maxWaitMs = Number.POSITIVE_INFINITY) {
      const step = 1000 / limit;
      for (;;) {
        const t = now();
        const latest = t + maxWaitMs;
        const at = busy
          ? ((await follow(t, step, latest)) ?? (await restart(t, step)))
          : ((await restart(t, step)) ?? (await follow(t, step, latest)));
        if (at === undefined) {
          // Both refused: the schedule is later than the caller can wait (nothing was booked), or
          // it moved between the two updates (try again).
          if (Number.isFinite(latest) && (await scheduledAt()) > latest) return undefined;
          continue;
        }
        busy = at > t;
        const wait = at - now();
        if (wait > 0) await sleep(wait);
        return Math.floor(at / 1000);
      }
    },

    async pause(untilMs) {
      await writeIf(
        doc,
        new UpdateCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: 'SET #next = :until',
          ConditionExpression: 'attribute_not_exists(#next) OR #next < :until',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':until': untilMs },
        }),
      );
    },
  };
}
