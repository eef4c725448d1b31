import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Slot, Want } from '../domain/shelf.ts';
import { HipoinkProductSchema } from '../hipoink/fields.ts';
import * as z from '../zod.ts';
import { ifWritten, isConditionFailure, setExpression } from './dynamo.ts';
import { OUT_OF_STEP_INDEX } from './tables.ts';

/** One Clover item as stored: the label it wants and the facts kept beside it. */
export const ItemRecordSchema = z.object({
  merchantId: z.string(),
  itemId: z.string(),
  status: z.enum(['active', 'removed', 'invalid']),
  removedReason: z.optional(z.enum(['hidden', 'deleted', 'gone', 'variable-price'])),
  invalidReason: z.optional(z.string()),
  label: z.optional(HipoinkProductSchema),
  labelHash: z.optional(z.string()),
  priceType: z.optional(z.string()),
  unitCost: z.optional(z.string()),
  available: z.optional(z.boolean()),
  stateHash: z.string(),
  modifiedTime: z.optional(z.number()),
  firstSeenAt: z._default(z.number(), 0),
  /** Every code whose slot may name this item; exactly the code it wants once its slots are written. */
  listedUnder: z.optional(z.array(z.string())),
  /** Set while the item's slots may not say what its record says (a poll is writing them). */
  outOfStepSince: z.optional(z.number()),
  updatedAt: z.number(),
});
export type ItemRecord = z.infer<typeof ItemRecordSchema>;

/** The state a poll saves for an item. */
export type ItemState =
  | {
      status: 'active';
      label: NonNullable<ItemRecord['label']>;
      priceType: string;
      unitCost?: string;
      available: boolean;
      stateHash: string;
      labelHash: string;
      modifiedTime: number;
    }
  | { status: 'removed'; removedReason: NonNullable<ItemRecord['removedReason']>; modifiedTime?: number }
  | { status: 'invalid'; invalidReason: string; modifiedTime?: number };

export const stateHashOf = (state: ItemState): string =>
  state.status === 'active'
    ? state.stateHash
    : state.status === 'removed'
      ? `removed:${state.removedReason}`
      : `invalid:${state.invalidReason}`;

const WantSchema = z.object({ label: HipoinkProductSchema, labelHash: z.string(), firstSeenAt: z.number() });
const SlotRecordSchema = z.looseObject({
  itemId: z.string(),
  held: z.optional(z.object({ label: HipoinkProductSchema, labelHash: z.string(), itemId: z.string() })),
  refused: z.optional(z.object({ labelHash: z.string(), reason: z.string(), itemId: z.string() })),
  outOfStepSince: z.optional(z.number()),
});

/**
 * Out-of-step marks: when a poll changed a record, never equal to an earlier mark of the same store
 * object (a push clears only the mark it read, and one poll may change a slot twice in a
 * millisecond; a store's polls never overlap, so its marks all come from one process at a time).
 */
export function outOfStepMarks(now: () => number) {
  let last = 0;
  return () => {
    last = Math.max(now(), last + 1 / 1024);
    return last;
  };
}

/** Sort-key prefix of slot records, beside the item records of the same merchant. */
export const SLOT_PREFIX = '#slot#';
/** Sort key of a merchant's record of Hipoink calls under way (codes whose answer is not recorded). */
const CALLS_KEY = '#calls';
/** Each wanter is an attribute of its own, so one update adds or drops it without reading the slot. */
const WANT_PREFIX = 'want:';
const slotOf = (item: unknown): Slot => {
  const { itemId, held, refused, outOfStepSince, ...rest } = SlotRecordSchema.parse(item);
  const wanters = Object.entries(rest).flatMap(([name, want]) =>
    name.startsWith(WANT_PREFIX)
      ? [{ itemId: name.slice(WANT_PREFIX.length), ...WantSchema.parse(want) }]
      : [],
  );
  return { code: itemId.slice(SLOT_PREFIX.length), wanters, held, refused, outOfStepSince };
};

/** A slot's shelf side before and after a settle (absent: no record). */
export type SlotShelf = Pick<Slot, 'held' | 'refused' | 'outOfStepSince'>;
export interface SlotChange {
  before?: SlotShelf;
  after?: SlotShelf;
}

/** Where a store's items and slots live (one DynamoDB table; see docs/design.md). */
export interface ShelfStore {
  getItems(merchantId: string, itemIds: readonly string[]): Promise<ItemRecord[]>;
  listItems(merchantId: string): Promise<ItemRecord[]>;
  /**
   * Writes the item's state when it differs and is not older; null when nothing was written.
   * `firstSeenAt` is kept from the first save; `relisting` marks the item out of step until
   * `settleItem`, because its slots are about to change.
   */
  saveItem(
    merchantId: string,
    itemId: string,
    state: ItemState,
    listing: { firstSeenAt: number; listedUnder: string[]; relisting: boolean },
  ): Promise<ItemRecord | null>;
  /** The item's slots say what its record says: it is listed under exactly these codes. */
  settleItem(merchantId: string, itemId: string, listedUnder: string[]): Promise<void>;
  /** The slots of these codes (unsure ones flagged); a code without a record is an empty slot. */
  getSlots(merchantId: string, codes: readonly string[]): Promise<Slot[]>;
  /**
   * Notes codes before a Hipoink call under them: until `endCalls`, what is recorded as held under
   * them is not trusted (the call may be carried out without its answer reaching us).
   */
  beginCalls(merchantId: string, codes: readonly string[]): Promise<void>;
  /** The calls under these codes were answered and what Hipoink holds is recorded. */
  endCalls(merchantId: string, codes: readonly string[]): Promise<void>;
  listSlots(merchantId: string): Promise<Slot[]>;
  /**
   * A poll changed what `code` should show: records or drops a wanter, and marks the slot out of
   * step. Says whether the slot was out of step already.
   */
  touchSlot(
    merchantId: string,
    code: string,
    change: { want: Want } | { drop: string },
  ): Promise<{ wasMarked: boolean }>;
  /**
   * What has been out of step since before `before` (Unix ms): codes whose push was lost or failed
   * for good, and items whose poll stopped before their slots were written.
   */
  outOfStepBefore(merchantId: string, before: number): Promise<{ codes: string[]; itemIds: string[] }>;
  /**
   * Records what Hipoink holds (or refused) under a slot's code after it answered, and clears the
   * out-of-step mark if it is still the one the push read in `slot` (a poll may have changed it since).
   */
  settleSlot(merchantId: string, slot: Slot, shelf: Pick<Slot, 'held' | 'refused'>): Promise<SlotChange>;
  /** Some label Hipoink holds, exactly as it accepted it (for the refusal probe). */
  findHeld(merchantId: string): Promise<NonNullable<Slot['held']> | undefined>;
  /** Deletes every item and slot of the merchant (it is being removed). */
  forget(merchantId: string): Promise<void>;
}

export function createShelfStore(doc: DynamoDBDocumentClient, tableName: string, now = Date.now): ShelfStore {
  const key = (merchantId: string, sortKey: string) => ({ merchantId, itemId: sortKey });
  const slotKey = (merchantId: string, code: string) => key(merchantId, `${SLOT_PREFIX}${code}`);
  const outOfStepMark = outOfStepMarks(now);

  const batchGet = async (keys: Record<string, unknown>[]) => {
    const found: Record<string, unknown>[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Record<string, unknown>[] | undefined = keys.slice(i, i + 100);
      for (let attempt = 0; pending?.length; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
        const out = await doc.send(
          new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }),
        );
        found.push(...(out.Responses?.[tableName] ?? []));
        pending = out.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined;
      }
    }
    return found;
  };

  /** Every row a query finds, page by page. */
  async function* paged(input: QueryCommandInput) {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const out = await doc.send(new QueryCommand({ ...input, ExclusiveStartKey }));
      yield* out.Items ?? [];
      ExclusiveStartKey = out.LastEvaluatedKey;
    } while (ExclusiveStartKey);
  }

  /**
   * A merchant's rows of one kind, strongly consistent. Our own keys start with '#', which sorts
   * before every Clover item id (letters and digits), so items are the keys after '#…'.
   */
  const query = (merchantId: string, slots: boolean, filter?: string) =>
    paged({
      TableName: tableName,
      KeyConditionExpression: `merchantId = :m AND ${slots ? 'begins_with(itemId, :p)' : 'itemId > :p'}`,
      ...(filter ? { FilterExpression: filter } : {}),
      ExpressionAttributeValues: { ':m': merchantId, ':p': slots ? SLOT_PREFIX : '#\uffff' },
      ConsistentRead: true,
    });

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
      const found = await batchGet([...new Set(itemIds)].map((id) => key(merchantId, id)));
      return found.map((i) => ItemRecordSchema.parse(i));
    },

    async listItems(merchantId) {
      const items: ItemRecord[] = [];
      for await (const i of query(merchantId, false)) items.push(ItemRecordSchema.parse(i));
      return items;
    },

    async saveItem(merchantId, itemId, state, { firstSeenAt, listedUnder, relisting }) {
      const stateHash = stateHashOf(state);
      const t = now();
      const { status, modifiedTime } = state;
      const mark = relisting ? outOfStepMark() : undefined;
      const attrs: Record<string, unknown> = {
        ...{ status, stateHash, modifiedTime, listedUnder, outOfStepSince: mark, updatedAt: t },
      };
      const remove = ['invalidReason', 'removedReason'];
      if (state.status === 'active') {
        const { label, labelHash, priceType, unitCost, available } = state;
        Object.assign(attrs, { label, labelHash, priceType, unitCost, available });
        if (unitCost === undefined) remove.push('unitCost');
      } else if (state.status === 'removed') {
        attrs.removedReason = state.removedReason;
        remove.splice(1, 1, 'label', 'labelHash');
      } else {
        // An invalid version keeps the label of the last valid one.
        attrs.invalidReason = state.invalidReason;
        remove.splice(0, 1);
      }
      const set = setExpression(attrs);
      const names = Object.fromEntries(remove.map((name, i) => [`#r${i}`, name]));
      // Older Clover versions never overwrite newer ones; equal state is not rewritten.
      const newer = modifiedTime === undefined ? '' : ' AND (attribute_not_exists(#mt) OR #mt <= :mt)';
      try {
        const out = await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: key(merchantId, itemId),
            UpdateExpression: `SET ${set.expression}, firstSeenAt = if_not_exists(firstSeenAt, :t) REMOVE ${Object.keys(names).join(', ')}`,
            ConditionExpression: `(attribute_not_exists(#sh) OR #sh <> :sh)${newer}`,
            ExpressionAttributeNames: {
              ...{ ...set.names, ...names, '#sh': 'stateHash' },
              ...(newer ? { '#mt': 'modifiedTime' } : {}),
            },
            ExpressionAttributeValues: {
              ...set.values,
              ':sh': stateHash,
              ':t': firstSeenAt,
              ':mt': modifiedTime,
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return ItemRecordSchema.parse(out.Attributes);
      } catch (err) {
        if (isConditionFailure(err)) return null;
        throw err;
      }
    },

    async getSlots(merchantId, codes) {
      const unique = [...new Set(codes)];
      const keys = [key(merchantId, CALLS_KEY), ...unique.map((c) => slotKey(merchantId, c))];
      const records = await batchGet(keys);
      const calls = records.find((r) => r.itemId === CALLS_KEY)?.codes;
      const unsure = new Set(calls instanceof Set ? [...calls].map(String) : []);
      const found = new Map(
        records
          .filter((r) => r.itemId !== CALLS_KEY)
          .map(slotOf)
          .map((s) => [s.code, s]),
      );
      return unique.map((code) => ({
        ...(found.get(code) ?? { code, wanters: [] }),
        ...(unsure.has(code) ? { unsure: true } : {}),
      }));
    },

    async beginCalls(merchantId, codes) {
      await changeCalls(merchantId, 'ADD', codes);
    },

    async endCalls(merchantId, codes) {
      await changeCalls(merchantId, 'DELETE', codes);
    },

    async listSlots(merchantId) {
      const slots: Slot[] = [];
      for await (const s of query(merchantId, true)) slots.push(slotOf(s));
      return slots;
    },

    async touchSlot(merchantId, code, change) {
      const [id, want] = 'want' in change ? [change.want.itemId, change.want] : [change.drop, undefined];
      const { itemId: _, ...entry } = want ?? { itemId: '' };
      const out = await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: slotKey(merchantId, code),
          UpdateExpression: `SET outOfStepSince = :mark${want ? ', #w = :want' : ' REMOVE #w'}`,
          ExpressionAttributeNames: { '#w': `${WANT_PREFIX}${id}` },
          ExpressionAttributeValues: { ':mark': outOfStepMark(), ...(want ? { ':want': entry } : {}) },
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      return { wasMarked: out.Attributes?.outOfStepSince !== undefined };
    },

    async settleItem(merchantId, itemId, listedUnder) {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key(merchantId, itemId),
          UpdateExpression: 'SET listedUnder = :l, updatedAt = :now REMOVE outOfStepSince',
          ConditionExpression: 'attribute_exists(itemId)',
          ExpressionAttributeValues: { ':l': listedUnder, ':now': now() },
        }),
      );
    },

    async outOfStepBefore(merchantId, before) {
      const found = { codes: [] as string[], itemIds: [] as string[] };
      const stale = paged({
        TableName: tableName,
        IndexName: OUT_OF_STEP_INDEX,
        KeyConditionExpression: 'merchantId = :m AND outOfStepSince < :before',
        ExpressionAttributeValues: { ':m': merchantId, ':before': before },
      });
      for await (const { itemId } of stale) {
        const id = String(itemId);
        if (id.startsWith(SLOT_PREFIX)) found.codes.push(id.slice(SLOT_PREFIX.length));
        else found.itemIds.push(id);
      }
      return found;
    },

    async settleSlot(merchantId, slot, { held, refused }) {
      const Key = slotKey(merchantId, slot.code);
      // Only if no poll changed the slot since the push read it.
      const unchanged = {
        ConditionExpression: 'attribute_not_exists(outOfStepSince) OR outOfStepSince = :read',
        ExpressionAttributeValues: { ':read': slot.outOfStepSince ?? -1 },
      };
      const shelfOf = (attrs?: Record<string, unknown>) =>
        attrs ? slotOf({ ...attrs, itemId: Key.itemId }) : undefined;
      // Nothing held and nobody wanting the code: the slot has nothing left to say.
      if (!held && !refused && slot.wanters.length === 0) {
        const deleted = await ifWritten(
          doc.send(new DeleteCommand({ TableName: tableName, Key, ...unchanged, ReturnValues: 'ALL_OLD' })),
        );
        if (deleted) return { before: shelfOf(deleted.Attributes) };
      }
      const set = setExpression({ held, refused, updatedAt: now() });
      const absent = [...(held ? [] : ['held']), ...(refused ? [] : ['refused'])];
      // Never recreates a slot deleted meanwhile (its merchant removed): only an existing one is settled.
      const update = (clearMark: boolean) => {
        const remove = [...absent, ...(clearMark ? ['outOfStepSince'] : [])];
        const condition = `attribute_exists(itemId)${clearMark ? ` AND (${unchanged.ConditionExpression})` : ''}`;
        return new UpdateCommand({
          TableName: tableName,
          Key,
          UpdateExpression: `SET ${set.expression}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: set.names,
          ExpressionAttributeValues: {
            ...set.values,
            ...(clearMark ? unchanged.ExpressionAttributeValues : {}),
          },
          ReturnValues: 'ALL_OLD',
        });
      };
      const cleared = await ifWritten(doc.send(update(true)));
      const written = cleared ?? (await ifWritten(doc.send(update(false))));
      if (!written) return {};
      const before = shelfOf(written.Attributes);
      return {
        before,
        after: { held, refused, outOfStepSince: cleared ? undefined : before?.outOfStepSince },
      };
    },

    async forget(merchantId) {
      const keys: Record<string, unknown>[] = [];
      for (const slots of [false, true])
        for await (const row of query(merchantId, slots)) keys.push(key(merchantId, String(row.itemId)));
      keys.push(key(merchantId, CALLS_KEY));
      for (const k of keys) await doc.send(new DeleteCommand({ TableName: tableName, Key: k }));
    },

    async findHeld(merchantId) {
      for await (const s of query(merchantId, true, 'attribute_exists(held)')) return slotOf(s).held;
      return undefined;
    },
  };
}
