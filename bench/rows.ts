import {
  BatchWriteCommand,
  type BatchWriteCommandOutput,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';

/** Writes items 25 at a time (DynamoDB's batch), again until none is left unprocessed: benchmark set-up. */
export async function putRows(doc: DynamoDBDocumentClient, table: string, rows: Record<string, unknown>[]) {
  for (let i = 0; i < rows.length; i += 25) {
    let requests: NonNullable<BatchWriteCommandOutput['UnprocessedItems']>[string] | undefined = rows
      .slice(i, i + 25)
      .map((Item) => ({ PutRequest: { Item } }));
    while (requests && requests.length > 0) {
      const out: BatchWriteCommandOutput = await doc.send(
        new BatchWriteCommand({ RequestItems: { [table]: requests } }),
      );
      requests = out.UnprocessedItems?.[table];
    }
  }
}
