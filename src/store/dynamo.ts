import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DeleteCommand,
  DynamoDBDocumentClient,
  type PutCommand,
  QueryCommand,
  type QueryCommandInput,
  type UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { CALL_CHECK, callCheck } from '../call-check.ts';
import { chunked } from '../chunked.ts';

export function createDocumentClient(
  client: DynamoDBClient = new DynamoDBClient({}),
): DynamoDBDocumentClient {
  const tables = (input: { TableName?: unknown; RequestItems?: object }) =>
    typeof input.TableName === 'string' ? [input.TableName] : Object.keys(input.RequestItems ?? {});
  // The item's partition key, marshalled or not (both tables are keyed by merchantId).
  const keys = (input: { Key?: Record<string, unknown>; Item?: Record<string, unknown> }) => {
    const key = (input.Key ?? input.Item)?.merchantId;
    const value = typeof key === 'object' && key !== null && 'S' in key ? key.S : key;
    return typeof value === 'string' ? [value] : [];
  };
  client.middlewareStack.add(callCheck('dynamodb', tables, keys), CALL_CHECK);
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

/**
 * Reads these keys with BatchGetItem, strongly consistent, 100 at a time; keys DynamoDB left
 * unprocessed are asked again after a short back-off.
 */
export async function batchGetAll(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Record<string, unknown>[],
): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  // BatchGetItem takes at most 100 keys.
  for (const batch of chunked(keys, 100)) {
    let pending: Record<string, unknown>[] = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 8) throw new Error(`DynamoDB left ${pending.length} read(s) unprocessed`);
      if (attempt > 0) await new Promise((r) => setTimeout(r, 25 * 2 ** Math.min(attempt, 5)));
      const out = await doc.send(
        new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }),
      );
      found.push(...(out.Responses?.[tableName] ?? []));
      pending = out.UnprocessedKeys?.[tableName]?.Keys ?? [];
    }
  }
  return found;
}

/** Every row a query finds, page by page. */
export async function* queryAll(doc: DynamoDBDocumentClient, input: QueryCommandInput) {
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const out = await doc.send(new QueryCommand({ ...input, ExclusiveStartKey }));
    yield* out.Items ?? [];
    ExclusiveStartKey = out.LastEvaluatedKey;
  } while (ExclusiveStartKey);
}
