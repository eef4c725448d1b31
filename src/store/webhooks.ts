import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from '../zod.ts';

/**
 * The last webhook verification request Clover sent, in the merchants table under a key starting
 * with '#' (never a merchant): the operator copies its code into the app's settings in Clover.
 */
const VERIFICATION_KEY = '#clover-webhook-verification';

const VerificationRecordSchema = z.object({ code: z.string(), receivedAt: z.number() });
export type WebhookVerification = z.infer<typeof VerificationRecordSchema>;

export interface WebhookVerificationStore {
  /** Keeps this code as the last one received. */
  record(code: string, receivedAt: number): Promise<void>;
  last(): Promise<WebhookVerification | undefined>;
}

export function createWebhookVerificationStore(
  doc: DynamoDBDocumentClient,
  tableName: string,
): WebhookVerificationStore {
  return {
    async record(code, receivedAt) {
      // An update rather than a put, so the web function needs no PutItem on the merchants table.
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId: VERIFICATION_KEY },
          UpdateExpression: 'SET code = :c, receivedAt = :at',
          ExpressionAttributeValues: { ':c': code, ':at': receivedAt },
        }),
      );
    },
    async last() {
      const out = await doc.send(
        new GetCommand({ TableName: tableName, Key: { merchantId: VERIFICATION_KEY }, ConsistentRead: true }),
      );
      const parsed = VerificationRecordSchema.safeParse(out.Item);
      return parsed.success ? parsed.data : undefined;
    },
  };
}
