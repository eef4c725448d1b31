import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from '../zod.ts';

/** Key of the fan-out's record of the stores each operator alarm counted (never a Clover merchant id). */
export const ATTENTION_KEY = '#attention';

/** The merchant ids each operator alarm counted, by alarm condition. */
const AttentionSetsSchema = z.record(z.string(), z.array(z.string()));
export type AttentionSets = z.infer<typeof AttentionSetsSchema>;
/** One run's count, and when it ran (Unix ms). */
const AttentionRecordSchema = z.object({ at: z.number(), sets: AttentionSetsSchema });
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
      return parsed.success ? { at: parsed.data.at, sets: parsed.data.sets } : undefined;
    },
    async record({ at, sets }) {
      await doc.send(new PutCommand({ TableName: tableName, Item: { ...Key, at, sets } }));
    },
  };
}
