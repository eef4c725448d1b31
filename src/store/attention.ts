import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from '../zod.ts';

/** Key of the fan-out's record of the stores each operator alarm counted (never a Clover merchant id). */
export const ATTENTION_KEY = '#attention';

/** The merchant ids each operator alarm counted, by alarm condition. */
const AttentionSetsSchema = z.record(z.string(), z.array(z.string()));
/**
 * One run's count and when it ran (Unix ms), when each condition last counted a store (its alarm
 * may still be firing a while after its count fell to none), and the conditions that counted too
 * many stores to keep their ids (their sets are left empty).
 */
const AttentionRecordSchema = z.object({
  at: z.number(),
  sets: AttentionSetsSchema,
  busyAt: z._default(z.record(z.string(), z.number()), {}),
  crowded: z._default(z.array(z.string()), []),
});
export type AttentionRecord = z.infer<typeof AttentionRecordSchema>;

/**
 * What the last fan-out counted, so the next one can tell a store that joined a condition other
 * stores were already in (whose alarm, already firing, sends nothing new).
 */
export interface AttentionLedger {
  last(): Promise<AttentionRecord | undefined>;
  record(run: AttentionRecord): Promise<void>;
}

export function createAttentionLedger(doc: DynamoDBDocumentClient, tableName: string): AttentionLedger {
  const Key = { merchantId: ATTENTION_KEY };
  return {
    async last() {
      const out = await doc.send(new GetCommand({ TableName: tableName, Key, ConsistentRead: true }));
      const parsed = AttentionRecordSchema.safeParse(out.Item);
      if (!parsed.success) return undefined;
      const { at, sets, busyAt, crowded } = parsed.data;
      return { at, sets, busyAt, crowded };
    },
    async record({ at, sets, busyAt, crowded }) {
      await doc.send(new PutCommand({ TableName: tableName, Item: { ...Key, at, sets, busyAt, crowded } }));
    },
  };
}
