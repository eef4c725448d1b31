import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type DeleteCommand,
  DynamoDBDocumentClient,
  type PutCommand,
  type UpdateCommand,
} from '@aws-sdk/lib-dynamodb';

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

/** Sends a conditional write; true if it applied, false if its condition did not hold. */
export async function writeIf(
  doc: DynamoDBDocumentClient,
  command: UpdateCommand | PutCommand | DeleteCommand,
): Promise<boolean> {
  try {
    // The union of command types is not callable through send's overloads; each is a valid input.
    await doc.send(command as UpdateCommand);
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}

/** A conditional write's answer, or undefined when its condition did not hold. */
export async function ifWritten<T>(write: Promise<T>): Promise<T | undefined> {
  try {
    return await write;
  } catch (err) {
    if (isConditionFailure(err)) return undefined;
    throw err;
  }
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
