import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export function createDocumentClient(
  client: DynamoDBClient = new DynamoDBClient({}),
): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
}

export function isConditionFailure(err: unknown): boolean {
  return (
    err instanceof ConditionalCheckFailedException ||
    (err instanceof Error && err.name === 'ConditionalCheckFailedException')
  );
}

/** Builds `SET a = :a, b = :b` plus the name/value maps for a flat object of attributes. */
export function setExpression(
  values: Record<string, unknown>,
  prefix = 's',
): {
  expression: string;
  names: Record<string, string>;
  values: Record<string, unknown>;
} {
  const names: Record<string, string> = {};
  const vals: Record<string, unknown> = {};
  const parts: string[] = [];
  let i = 0;
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    names[`#${prefix}${i}`] = key;
    vals[`:${prefix}${i}`] = value;
    parts.push(`#${prefix}${i} = :${prefix}${i}`);
    i++;
  }
  return { expression: parts.join(', '), names, values: vals };
}
