import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from '../zod.ts';

/** Key of the token refresher's last-run record in the merchants table (never a Clover merchant id). */
export const REFRESHER_HEARTBEAT_KEY = '#token-refresher';

export const RefresherRunSchema = z.object({
  startedAt: z.number(),
  finishedAt: z.number(),
  /** The schedule it runs on, so a reader can tell a late heartbeat from a recent one. */
  intervalSeconds: z.number(),
  checked: z.number().check(z.int()),
  refreshed: z.number().check(z.int()),
  failed: z.number().check(z.int()),
});
export type RefresherRun = z.infer<typeof RefresherRunSchema>;

/**
 * Operators must see that the backup refresher runs (its last run and what it
 * did), but recording that must never break the refresh itself. Callers treat a failed write as a
 * warning only.
 */
export interface RefresherHeartbeat {
  record(run: RefresherRun): Promise<void>;
  last(): Promise<RefresherRun | undefined>;
}

export function createRefresherHeartbeat(doc: DynamoDBDocumentClient, tableName: string): RefresherHeartbeat {
  return {
    async record(run) {
      await doc.send(
        new PutCommand({ TableName: tableName, Item: { merchantId: REFRESHER_HEARTBEAT_KEY, ...run } }),
      );
    },
    async last() {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: { merchantId: REFRESHER_HEARTBEAT_KEY } }),
      );
      const parsed = RefresherRunSchema.safeParse(out.Item);
      return parsed.success ? parsed.data : undefined;
    },
  };
}

/** A run is late when more than two intervals (plus a minute of slack) passed since the last one. */
export function heartbeatLate(run: RefresherRun, now: number): boolean {
  return now - run.finishedAt > 2 * run.intervalSeconds * 1000 + 60_000;
}
