import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { HipoinkProductSchema } from '../hipoink/fields.ts';
import { isConditionFailure, setExpression, writeIf } from './dynamo.ts';

/** Stored state of one Clover item: what the shelf should show and what it shows now. */
export const ProductRecordSchema = z.object({
  merchantId: z.string(),
  itemId: z.string(),
  status: z.enum(['active', 'removed', 'invalid']),
  removedReason: z.enum(['hidden', 'deleted', 'gone', 'variable-price']).optional(),
  invalidReason: z.string().optional(),
  label: HipoinkProductSchema.optional(),
  priceType: z.string().optional(),
  unitCost: z.string().optional(),
  available: z.boolean().optional(),
  stateHash: z.string(),
  labelHash: z.string().optional(),
  modifiedTime: z.number().optional(),
  /** Hash of the label Hipoink holds for this item; absent when nothing is on the shelf. */
  pushedLabelHash: z.string().optional(),
  /** The product code Hipoink holds for this item; absent when nothing is on the shelf. */
  pushedPc: z.string().optional(),
  /**
   * Codes this item holds whose Hipoink product may still show another item's label (a late removal
   * left it, since this item had claimed the code): this item's push replaces or deletes them.
   */
  strayPcs: z.preprocess((v) => (v instanceof Set ? [...v] : v), z.array(z.string())).optional(),
  rejectedReason: z.string().optional(),
  rejectedLabelHash: z.string().optional(),
  updatedAt: z.number(),
});
export type ProductRecord = z.infer<typeof ProductRecordSchema>;

export type ProductState =
  | {
      status: 'active';
      label: NonNullable<ProductRecord['label']>;
      priceType: string;
      unitCost?: string;
      available: boolean;
      stateHash: string;
      labelHash: string;
      modifiedTime: number;
    }
  | { status: 'removed'; removedReason: NonNullable<ProductRecord['removedReason']>; modifiedTime?: number }
  | { status: 'invalid'; invalidReason: string; modifiedTime?: number };

/** `cleanup`: nothing of its own to show or remove, only stray codes to take down. */
export type PushNeed = 'upsert' | 'remove' | 'cleanup' | 'none';

/** Whether Hipoink differs from what the item should show. One rule, used by poller and consumer. */
export function pushNeed(record: ProductRecord, opts: { retryRejected?: boolean } = {}): PushNeed {
  const strays = (record.strayPcs?.length ?? 0) > 0;
  if (record.status === 'active' && record.label) {
    // A label Hipoink refused is not sent again until it changes, or a full resync asks for it.
    if (record.rejectedLabelHash === record.labelHash && !opts.retryRejected && !strays) return 'none';
    const stale = record.pushedLabelHash !== record.labelHash;
    const codeMoved = record.pushedPc !== undefined && record.pushedPc !== record.label.pc;
    return stale || codeMoved || strays ? 'upsert' : 'none';
  }
  if (record.status === 'removed') return record.pushedPc !== undefined || strays ? 'remove' : 'none';
  // An invalid item keeps whatever the shelf shows until Clover has a usable version again; its
  // stray codes, which it no longer claims, are taken down all the same.
  return strays ? 'cleanup' : 'none';
}

/** Hipoink holds this item's own label under `pc`: the code and the content it showed are recorded. */
export function showsCode(record: ProductRecord, pc: string): boolean {
  return record.pushedPc === pc && record.pushedLabelHash !== undefined;
}

/**
 * Sort-key prefix of code claims: one record per Hipoink product code in a store, naming the item
 * that shows it, so two Clover items with one code are noticed instead of overwriting each other.
 */
export const CODE_CLAIM_PREFIX = '#code#';

export interface ProductStore {
  /** Claims product code `pc` for `itemId`; returns the item that holds it afterwards. */
  claimCode(merchantId: string, pc: string, itemId: string, takeOverFrom?: string): Promise<string>;
  /** The item holding product code `pc`, if any. */
  codeHolder(merchantId: string, pc: string): Promise<string | undefined>;
  /**
   * Notes that `itemId` wants `pc`, which another item holds, so that it is looked at again when
   * the code is released. False when the claim is gone meanwhile (claim again instead).
   */
  awaitCode(merchantId: string, pc: string, itemId: string): Promise<boolean>;
  /**
   * Gives up `itemId`'s claim on `pc` (no-op when another item holds it); returns the items that
   * were waiting for the code. `keepWaiters` runs before the claim (which lists them) is deleted,
   * so a failure in between cannot lose them; the claim goes only with the waiters it was given.
   */
  releaseCode(
    merchantId: string,
    pc: string,
    itemId: string,
    keepWaiters?: (waiters: string[]) => Promise<void>,
  ): Promise<string[]>;
  /** Writes the item's state when it differs from the stored one; returns the record, or null if unchanged. */
  saveState(merchantId: string, itemId: string, state: ProductState): Promise<ProductRecord | null>;
  get(merchantId: string, itemIds: readonly string[]): Promise<ProductRecord[]>;
  list(merchantId: string): Promise<ProductRecord[]>;
  /** Some product Hipoink holds exactly as stored (its label pushed as it is now), if any. */
  findShown(merchantId: string): Promise<ProductRecord | undefined>;
  /** Records what Hipoink now holds for the item. */
  markPushed(
    merchantId: string,
    itemId: string,
    shelf: { pc: string; labelHash: string } | { removed: true },
  ): Promise<void>;
  markRejected(merchantId: string, itemId: string, labelHash: string, reason: string): Promise<void>;
  /**
   * Before its code is deleted in Hipoink: the item's label is no longer known to be on the shelf,
   * so if the work stops after the delete, the item is pushed again rather than thought in step.
   */
  markLabelLeaving(merchantId: string, itemId: string): Promise<void>;
  /** Hands a code whose Hipoink product may show another item's label to the item holding it. */
  addStrayCode(merchantId: string, itemId: string, pc: string): Promise<void>;
  /** The stray codes that were replaced, deleted or handed on. */
  clearStrayCodes(merchantId: string, itemId: string, pcs: readonly string[]): Promise<void>;
}

export const stateHashOf = (state: ProductState): string =>
  state.status === 'active'
    ? state.stateHash
    : state.status === 'removed'
      ? `removed:${state.removedReason}`
      : `invalid:${state.invalidReason}`;

export function createProductStore(
  doc: DynamoDBDocumentClient,
  tableName: string,
  now = Date.now,
): ProductStore {
  const key = (merchantId: string, itemId: string) => ({ merchantId, itemId });

  /**
   * Updates an item's push bookkeeping: only an item that exists (never creating a stub), always
   * stamping `updatedAt`. `set` joins that SET; `clauses` holds REMOVE, ADD or DELETE clauses.
   */
  const updateExisting = async (
    merchantId: string,
    itemId: string,
    change: { set?: string; clauses?: string; values?: Record<string, unknown> },
  ) => {
    const set = ['updatedAt = :now', ...(change.set ? [change.set] : [])].join(', ');
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: key(merchantId, itemId),
        UpdateExpression: `SET ${set}${change.clauses ? ` ${change.clauses}` : ''}`,
        ConditionExpression: 'attribute_exists(itemId)',
        ExpressionAttributeValues: { ...change.values, ':now': now() },
      }),
    );
  };

  /** A merchant's rows (products and code claims), page by page, strongly consistent. */
  async function* queryMerchant(
    merchantId: string,
    filter?: { expression: string; names: Record<string, string>; values: Record<string, unknown> },
  ) {
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await doc.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'merchantId = :m',
          ...(filter ? { FilterExpression: filter.expression, ExpressionAttributeNames: filter.names } : {}),
          ExpressionAttributeValues: { ':m': merchantId, ...filter?.values },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      yield* out.Items ?? [];
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }

  return {
    async saveState(merchantId, itemId, state) {
      const stateHash = stateHashOf(state);
      const attrs: Record<string, unknown> = {
        status: state.status,
        stateHash,
        updatedAt: now(),
        modifiedTime: state.modifiedTime,
      };
      const remove: string[] = [];
      if (state.status === 'active') {
        Object.assign(attrs, {
          label: state.label,
          labelHash: state.labelHash,
          priceType: state.priceType,
          unitCost: state.unitCost,
          available: state.available,
        });
        remove.push('invalidReason', 'removedReason');
        if (state.unitCost === undefined) remove.push('unitCost');
      } else if (state.status === 'removed') {
        attrs.removedReason = state.removedReason;
        remove.push('invalidReason');
      } else {
        attrs.invalidReason = state.invalidReason;
      }
      const set = setExpression(attrs);
      const removeNames: Record<string, string> = {};
      remove.forEach((name, i) => {
        removeNames[`#r${i}`] = name;
      });
      const removeClause = remove.length ? ` REMOVE ${Object.keys(removeNames).join(', ')}` : '';
      // Older Clover versions never overwrite newer ones; equal state is not rewritten.
      const mtGuard =
        state.modifiedTime === undefined ? '' : ' AND (attribute_not_exists(#mt) OR #mt <= :mt)';
      try {
        const out = await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: key(merchantId, itemId),
            UpdateExpression: `SET ${set.expression}${removeClause}`,
            ConditionExpression: `(attribute_not_exists(#sh) OR #sh <> :sh)${mtGuard}`,
            ExpressionAttributeNames: {
              ...set.names,
              ...removeNames,
              '#sh': 'stateHash',
              ...(mtGuard ? { '#mt': 'modifiedTime' } : {}),
            },
            ExpressionAttributeValues: {
              ...set.values,
              ':sh': stateHash,
              ...(mtGuard ? { ':mt': state.modifiedTime } : {}),
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return ProductRecordSchema.parse(out.Attributes);
      } catch (err) {
        if (isConditionFailure(err)) return null;
        throw err;
      }
    },

    async get(merchantId, itemIds) {
      const unique = [...new Set(itemIds)];
      const records: ProductRecord[] = [];
      for (let i = 0; i < unique.length; i += 100) {
        let keys: Record<string, unknown>[] | undefined = unique
          .slice(i, i + 100)
          .map((itemId) => key(merchantId, itemId));
        for (let attempt = 0; keys && keys.length > 0; attempt++) {
          const out = await doc.send(
            new BatchGetCommand({ RequestItems: { [tableName]: { Keys: keys, ConsistentRead: true } } }),
          );
          for (const item of out.Responses?.[tableName] ?? []) records.push(ProductRecordSchema.parse(item));
          keys = out.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined;
          if (keys?.length) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
        }
      }
      return records;
    },

    async list(merchantId) {
      const records: ProductRecord[] = [];
      for await (const item of queryMerchant(merchantId)) {
        if (String(item.itemId).startsWith(CODE_CLAIM_PREFIX)) continue;
        records.push(ProductRecordSchema.parse(item));
      }
      return records;
    },

    async findShown(merchantId) {
      // Strongly consistent (as every query here): right after a push, an eventually consistent
      // read could name a label that push just took down.
      const shown = queryMerchant(merchantId, {
        expression: '#status = :active AND pushedLabelHash = labelHash AND pushedPc = #label.pc',
        names: { '#status': 'status', '#label': 'label' },
        values: { ':active': 'active' },
      });
      for await (const item of shown) return ProductRecordSchema.parse(item);
      return undefined;
    },

    async claimCode(merchantId, pc, itemId, takeOverFrom) {
      const claimKey = key(merchantId, `${CODE_CLAIM_PREFIX}${pc}`);
      try {
        // An update, not a put: the claim keeps the list of items waiting for the code.
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: claimKey,
            UpdateExpression: 'SET #owner = :me, updatedAt = :now DELETE waiters :meSet',
            ConditionExpression: takeOverFrom
              ? '#owner = :prev'
              : 'attribute_not_exists(#owner) OR #owner = :me',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: {
              ':me': itemId,
              ':meSet': new Set([itemId]),
              ':now': now(),
              ...(takeOverFrom ? { ':prev': takeOverFrom } : {}),
            },
          }),
        );
        return itemId;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        const out = await doc.send(
          new GetCommand({ TableName: tableName, Key: claimKey, ConsistentRead: true }),
        );
        return String(out.Item?.owner ?? '');
      }
    },

    async codeHolder(merchantId, pc) {
      const out = await doc.send(
        new GetCommand({
          TableName: tableName,
          Key: key(merchantId, `${CODE_CLAIM_PREFIX}${pc}`),
          ConsistentRead: true,
        }),
      );
      return out.Item?.owner === undefined ? undefined : String(out.Item.owner);
    },

    async awaitCode(merchantId, pc, itemId) {
      return writeIf(
        doc,
        new UpdateCommand({
          TableName: tableName,
          Key: key(merchantId, `${CODE_CLAIM_PREFIX}${pc}`),
          UpdateExpression: 'ADD waiters :w',
          ConditionExpression: 'attribute_exists(#owner) AND #owner <> :me',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':w': new Set([itemId]), ':me': itemId },
        }),
      );
    },

    async releaseCode(merchantId, pc, itemId, keepWaiters) {
      const claimKey = key(merchantId, `${CODE_CLAIM_PREFIX}${pc}`);
      for (;;) {
        const claim = (
          await doc.send(new GetCommand({ TableName: tableName, Key: claimKey, ConsistentRead: true }))
        ).Item;
        if (claim?.owner !== itemId) return [];
        const waiters = claim.waiters instanceof Set ? [...claim.waiters].map(String) : [];
        if (waiters.length > 0) await keepWaiters?.(waiters);
        // Deleted only as read: a waiter added meanwhile, or a takeover, means reading it again.
        const deleted = await writeIf(
          doc,
          new DeleteCommand({
            TableName: tableName,
            Key: claimKey,
            ConditionExpression:
              waiters.length > 0
                ? '#owner = :me AND size(#waiters) = :n'
                : '#owner = :me AND attribute_not_exists(#waiters)',
            ExpressionAttributeNames: { '#owner': 'owner', '#waiters': 'waiters' },
            ExpressionAttributeValues: {
              ':me': itemId,
              ...(waiters.length > 0 ? { ':n': waiters.length } : {}),
            },
          }),
        );
        if (deleted) return waiters;
      }
    },

    async markPushed(merchantId, itemId, shelf) {
      await updateExisting(
        merchantId,
        itemId,
        'removed' in shelf
          ? { clauses: 'REMOVE pushedPc, pushedLabelHash, rejectedReason, rejectedLabelHash' }
          : {
              set: 'pushedPc = :pc, pushedLabelHash = :lh',
              clauses: 'REMOVE rejectedReason, rejectedLabelHash',
              values: { ':pc': shelf.pc, ':lh': shelf.labelHash },
            },
      );
    },

    async markLabelLeaving(merchantId, itemId) {
      await updateExisting(merchantId, itemId, { clauses: 'REMOVE pushedLabelHash' });
    },

    async addStrayCode(merchantId, itemId, pc) {
      await updateExisting(merchantId, itemId, {
        clauses: 'ADD strayPcs :pc',
        values: { ':pc': new Set([pc]) },
      });
    },

    async clearStrayCodes(merchantId, itemId, pcs) {
      if (pcs.length === 0) return;
      await updateExisting(merchantId, itemId, {
        clauses: 'DELETE strayPcs :pcs',
        values: { ':pcs': new Set(pcs) },
      });
    },

    async markRejected(merchantId, itemId, labelHash, reason) {
      await updateExisting(merchantId, itemId, {
        set: 'rejectedReason = :r, rejectedLabelHash = :lh',
        values: { ':r': reason, ':lh': labelHash },
      });
    },
  };
}
