import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Slot, Want } from '../domain/shelf.ts';
import { HipoinkProductSchema } from '../hipoink/fields.ts';
import * as z from '../zod.ts';
import { batchGetAll, ifWritten, queryAll, setExpression } from './dynamo.ts';
import { SLOT_PREFIX } from './tables.ts';

/** One Clover item as stored: the label it wants and what its last Clover version said. */
export const ItemRecordSchema = z.object({
  merchantId: z.string(),
  itemId: z.string(),
  status: z.enum(['active', 'removed', 'invalid']),
  removedReason: z.optional(z.enum(['hidden', 'deleted', 'gone', 'variable-price'])),
  invalidReason: z.optional(z.string()),
  /** The label of the last valid version (an invalid version keeps it; a removed item has none). */
  label: z.optional(HipoinkProductSchema),
  labelHash: z.optional(z.string()),
  /** Hash of the last version stored: an equal version is not written again. */
  stateHash: z.string(),
  modifiedTime: z.optional(z.number()),
  wantsSince: z.number(),
  updatedAt: z.number(),
});
export type ItemRecord = z.infer<typeof ItemRecordSchema>;

/**
 * Item records and wants an earlier version wrote carry `firstSeenAt` (when the item was first
 * stored) instead of `wantsSince`: it stands for it, so the owners of contested codes stay.
 */
const withWantsSince = (row: unknown) => {
  const r = (typeof row === 'object' && row !== null ? row : {}) as Record<string, unknown>;
  return 'wantsSince' in r ? r : { ...r, wantsSince: r.firstSeenAt ?? 0 };
};

const WantSchema = z.object({ label: HipoinkProductSchema, labelHash: z.string(), wantsSince: z.number() });
const SlotRecordSchema = z.looseObject({
  itemId: z.string(),
  held: z.optional(z.object({ label: HipoinkProductSchema, labelHash: z.string(), itemId: z.string() })),
  refused: z.optional(z.object({ labelHash: z.string(), reason: z.string(), itemId: z.string() })),
  touchedAt: z.optional(z.number()),
});

/** Sort key of a merchant's record of Hipoink calls under way (codes whose answer is not recorded). */
const CALLS_KEY = '#calls';
/** Sort-key prefix of the record of codes to delete from a Hipoink store the merchant leaves. */
const CLEAR_PREFIX = '#clear#';
/** Each wanter is an attribute of its own, so one update adds or drops it without reading the slot. */
const WANT_PREFIX = 'want:';

/** A string set as read (DynamoDB stores none empty: an absent one is no strings). */
const stringsOf = (set: unknown) => (set instanceof Set ? [...set].map(String) : []);

/** A slot record as the rules see it (`unsure` when its code is among the calls under way). */
function slotOf(record: Record<string, unknown>, unsure: ReadonlySet<string> = new Set()): Slot {
  const { itemId, held, refused, touchedAt, ...rest } = SlotRecordSchema.parse(record);
  const wanters = Object.entries(rest).flatMap(([name, want]) =>
    name.startsWith(WANT_PREFIX)
      ? [{ itemId: name.slice(WANT_PREFIX.length), ...WantSchema.parse(withWantsSince(want)) }]
      : [],
  );
  const code = itemId.slice(SLOT_PREFIX.length);
  return {
    code,
    wanters,
    held,
    refused,
    ...(touchedAt === undefined ? {} : { touchedAt }),
    ...(unsure.has(code) ? { unsure: true } : {}),
  };
}

/**
 * Where a store's items and slots live: one DynamoDB table keyed by merchant id, then by item id,
 * `#slot#` and the code, `#calls` (the codes with a Hipoink call under way), or `#clear#` and a
 * Hipoink store code (the codes to delete from a store the merchant leaves).
 */
export interface ShelfStore {
  getItems(merchantId: string, itemIds: readonly string[]): Promise<ItemRecord[]>;
  listItems(merchantId: string): Promise<ItemRecord[]>;
  /** Writes an item's record as given (only its store's poll writes items; polls never overlap). */
  putItem(record: ItemRecord): Promise<void>;
  /** The slots of these codes; a code without a record is an empty slot. */
  getSlots(merchantId: string, codes: readonly string[]): Promise<Slot[]>;
  listSlots(merchantId: string): Promise<Slot[]>;
  /**
   * A poll changed who wants `code`: records or drops one wanter, and notes `at` (when that poll
   * began) as the slot's `touchedAt`, where given. Returns the slot as it was.
   */
  touchSlot(
    merchantId: string,
    code: string,
    change: { want: Want } | { drop: string },
    at?: number,
  ): Promise<Slot>;
  /**
   * Records what Hipoink holds (or refused) under a code after it answered. Returns the slot as it
   * was, or undefined when it has no record (its merchant was removed meanwhile: nothing is written).
   */
  settleSlot(
    merchantId: string,
    code: string,
    shelf: Pick<Slot, 'held' | 'refused'>,
  ): Promise<Slot | undefined>;
  /**
   * Notes codes before a Hipoink call under them: until `endCalls`, what is recorded as held under
   * them is not trusted (the call may be carried out without its answer reaching us).
   */
  beginCalls(merchantId: string, codes: readonly string[]): Promise<void>;
  /** The calls under these codes were answered and what Hipoink holds is recorded. */
  endCalls(merchantId: string, codes: readonly string[]): Promise<void>;
  /**
   * Notes, afresh, the codes to delete from Hipoink store `storeCode` (one the merchant leaves):
   * each stays pending until a push has Hipoink's answer for it (`clearAnswered`).
   */
  noteClear(merchantId: string, storeCode: string, codes: readonly string[]): Promise<void>;
  /** Hipoink answered the deletes of these codes; it refused to delete those in `refused`. */
  clearAnswered(
    merchantId: string,
    storeCode: string,
    codes: readonly string[],
    refused: readonly string[],
  ): Promise<void>;
  /** The codes noted for deletion from `storeCode` still without an answer, and those refused. */
  clearState(merchantId: string, storeCode: string): Promise<{ pending: string[]; refused: string[] }>;
  /** Deletes every row of the merchant: items, slots, the calls record, cleared stores' records. */
  forget(merchantId: string): Promise<void>;
}

export function createShelfStore(doc: DynamoDBDocumentClient, tableName: string, now = Date.now): ShelfStore {
  const key = (merchantId: string, sortKey: string) => ({ merchantId, itemId: sortKey });
  const slotKey = (merchantId: string, code: string) => key(merchantId, `${SLOT_PREFIX}${code}`);
  /**
   * A merchant's item records, or its own rows (slots, the calls record, cleared stores' records):
   * those start with '#', which sorts before every Clover item id (letters and digits).
   */
  const rows = (merchantId: string, kind: 'items' | 'slots') =>
    queryAll(doc, {
      TableName: tableName,
      KeyConditionExpression: `merchantId = :m AND itemId ${kind === 'slots' ? '<' : '>'} :p`,
      ExpressionAttributeValues: { ':m': merchantId, ':p': '#\uffff' },
      ConsistentRead: true,
    });
  /** Slots from their records, flagged unsure by the calls record among them. */
  const slotsOf = (records: Record<string, unknown>[]) => {
    const unsure = new Set(stringsOf(records.find((r) => r.itemId === CALLS_KEY)?.codes));
    return records.filter((r) => String(r.itemId).startsWith(SLOT_PREFIX)).map((r) => slotOf(r, unsure));
  };
  /** A string set can be neither empty nor written empty: nothing to note is no write. */
  const changeCalls = async (merchantId: string, op: 'ADD' | 'DELETE', codes: readonly string[]) => {
    if (codes.length === 0) return;
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: key(merchantId, CALLS_KEY),
        UpdateExpression: `${op} codes :codes`,
        ExpressionAttributeValues: { ':codes': new Set(codes) },
      }),
    );
  };

  return {
    async getItems(merchantId, itemIds) {
      const keys = [...new Set(itemIds)].map((id) => key(merchantId, id));
      return (await batchGetAll(doc, tableName, keys)).map((i) => ItemRecordSchema.parse(withWantsSince(i)));
    },

    async listItems(merchantId) {
      const items: ItemRecord[] = [];
      for await (const i of rows(merchantId, 'items')) items.push(ItemRecordSchema.parse(withWantsSince(i)));
      return items;
    },

    async putItem(record) {
      await doc.send(new PutCommand({ TableName: tableName, Item: { ...record, updatedAt: now() } }));
    },

    async getSlots(merchantId, codes) {
      const keys = [key(merchantId, CALLS_KEY), ...[...new Set(codes)].map((c) => slotKey(merchantId, c))];
      const found = new Map((await batchGetAll(doc, tableName, keys)).map((r) => [r.itemId, r]));
      // A key without a record stands for its empty slot (and for an empty calls record).
      return slotsOf(keys.map((k) => found.get(k.itemId) ?? k));
    },

    async listSlots(merchantId) {
      const records: Record<string, unknown>[] = [];
      for await (const r of rows(merchantId, 'slots')) records.push(r);
      return slotsOf(records);
    },

    async touchSlot(merchantId, code, change, at) {
      const [itemId, want] = 'want' in change ? [change.want.itemId, change.want] : [change.drop, undefined];
      const sets = [...(want ? ['#w = :want'] : []), ...(at === undefined ? [] : ['touchedAt = :at'])];
      const values = {
        ...(want ? { ':want': { ...want, itemId: undefined } } : {}),
        ...(at === undefined ? {} : { ':at': at }),
      };
      const out = await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: slotKey(merchantId, code),
          // A want is stored without its item id: the attribute's name carries it.
          UpdateExpression: [
            ...(sets.length > 0 ? [`SET ${sets.join(', ')}`] : []),
            ...(want ? [] : ['REMOVE #w']),
          ].join(' '),
          ExpressionAttributeNames: { '#w': `${WANT_PREFIX}${itemId}` },
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
          ReturnValues: 'ALL_OLD',
        }),
      );
      return slotOf({ itemId: `${SLOT_PREFIX}${code}`, ...out.Attributes });
    },

    async settleSlot(merchantId, code, { held, refused }) {
      const set = setExpression({ held, refused, updatedAt: now() });
      const absent = [...(held ? [] : ['held']), ...(refused ? [] : ['refused'])];
      // Never recreates a slot deleted meanwhile (its merchant removed).
      const out = await ifWritten(
        doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: slotKey(merchantId, code),
            UpdateExpression: `SET ${set.expression}${absent.length ? ` REMOVE ${absent.join(', ')}` : ''}`,
            ConditionExpression: 'attribute_exists(itemId)',
            ExpressionAttributeNames: set.names,
            ExpressionAttributeValues: set.values,
            ReturnValues: 'ALL_OLD',
          }),
        ),
      );
      return out?.Attributes && slotOf(out.Attributes);
    },

    async noteClear(merchantId, storeCode, codes) {
      // A string set cannot be written empty: nothing to delete is a record without codes.
      const pending = codes.length > 0 ? { codes: new Set(codes) } : {};
      const Item = { ...key(merchantId, `${CLEAR_PREFIX}${storeCode}`), ...pending, updatedAt: now() };
      await doc.send(new PutCommand({ TableName: tableName, Item }));
    },

    async clearAnswered(merchantId, storeCode, codes, refused) {
      if (codes.length === 0) return;
      // Never recreates the record of a merchant removed meanwhile.
      await ifWritten(
        doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: key(merchantId, `${CLEAR_PREFIX}${storeCode}`),
            UpdateExpression: `DELETE codes :codes${refused.length > 0 ? ' ADD refused :refused' : ''}`,
            ConditionExpression: 'attribute_exists(itemId)',
            ExpressionAttributeValues: {
              ':codes': new Set(codes),
              ...(refused.length > 0 ? { ':refused': new Set(refused) } : {}),
            },
          }),
        ),
      );
    },

    async clearState(merchantId, storeCode) {
      const out = await doc.send(
        new GetCommand({
          TableName: tableName,
          Key: key(merchantId, `${CLEAR_PREFIX}${storeCode}`),
          ConsistentRead: true,
        }),
      );
      return { pending: stringsOf(out.Item?.codes), refused: stringsOf(out.Item?.refused) };
    },

    beginCalls: (merchantId, codes) => changeCalls(merchantId, 'ADD', codes),
    endCalls: (merchantId, codes) => changeCalls(merchantId, 'DELETE', codes),

    async forget(merchantId) {
      for (const kind of ['items', 'slots'] as const)
        for await (const row of rows(merchantId, kind))
          await doc.send(
            new DeleteCommand({ TableName: tableName, Key: key(merchantId, String(row.itemId)) }),
          );
    },
  };
}
