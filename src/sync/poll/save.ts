import { addCounts, countChange, itemCounts, slotCounts } from '../../domain/counts.ts';
import { type ItemOutcome, transformItem } from '../../domain/label.ts';
import { ownerOf, type Want, wantedLabel, withWanter } from '../../domain/shelf.ts';
import type { ItemRecord } from '../../store/shelf.ts';
import { forEachLimited } from '../parallel.ts';
import type { PollContext } from './context.ts';

type Outcome = ItemOutcome & { itemId: string };

/**
 * Saves one page of items as Clover gave them; returns the newest modifiedTime on it. Stored
 * records are read first in one batch, so items re-read unchanged (overlap window, backfills) cost
 * no write.
 */
export async function savePage(ctx: PollContext, page: readonly unknown[]): Promise<number | undefined> {
  const latest = new Map<string, Outcome>();
  let newest: number | undefined;
  for (const raw of page) {
    const outcome = outcomeOf(ctx, raw);
    if (outcome.modifiedTime !== undefined) newest = Math.max(newest ?? 0, outcome.modifiedTime);
    if (outcome.itemId) latest.set(outcome.itemId, { ...outcome, itemId: outcome.itemId });
  }
  const stored = await ctx.deps.shelf.getItems(ctx.merchant.merchantId, [...latest.keys()]);
  await saveItems(ctx, [...latest.values()], stored);
  return newest;
}

/** Stores an item as a GET returned it (null: Clover answered 404, the item is gone); `before`: its record. */
export async function saveFetched(ctx: PollContext, itemId: string, raw: unknown, before?: ItemRecord) {
  const outcome =
    raw === null ? { kind: 'remove' as const, itemId, reason: 'gone' as const } : outcomeOf(ctx, raw);
  ctx.read.add(itemId);
  await saveItems(ctx, [{ ...outcome, itemId }], before ? [before] : []);
  await applyDrops(ctx);
}

/**
 * What a Clover item means for the shelf. An invalid one is reported when it is saved (once per
 * version, however often it is read again), or here when it has no id to save it under.
 */
function outcomeOf(ctx: PollContext, raw: unknown): ItemOutcome {
  const outcome = transformItem(raw, ctx.deps.productCodePrecedence, ctx.merchant.labelOptions);
  if (outcome.itemId) ctx.read.add(outcome.itemId);
  else if (outcome.kind === 'invalid') reportInvalid(ctx, undefined, outcome.reason);
  return outcome;
}

/**
 * Saves changed items (`stored`: the records of those stored before): first their records, then
 * each joins the slot of the code it now wants; it leaves the code it wanted only once every want
 * is written (`applyDrops`, after the read and the repair), so two items swapping codes never leave
 * a code both want wanted by nobody, which a push would delete, unbinding its label. The push reads
 * only slots; a poll stopped between these writes leaves the store marked
 * (`shelfWritesUnfinished`), and the next poll's repair finishes them from the records.
 */
async function saveItems(ctx: PollContext, outcomes: readonly Outcome[], stored: readonly ItemRecord[]) {
  const records = new Map(stored.map((r) => [r.itemId, r]));
  const changes = outcomes.flatMap((o) => changeOf(ctx, o, records.get(o.itemId)));
  if (changes.length === 0) return;
  await markWrites(ctx);
  const parallel = ctx.deps.settings.storeWriteConcurrency;
  await forEachLimited(changes, parallel, async ({ record, before, outcome }) => {
    await ctx.deps.shelf.putItem(record);
    addCounts(ctx.shelfChange, countChange(itemCounts(before), itemCounts(record)));
    if (outcome.kind === 'invalid') reportInvalid(ctx, record.itemId, outcome.reason);
    else ctx.counts.changed++;
    if (outcome.kind === 'remove') ctx.counts.removed++;
  });
  const wants = changes.flatMap(({ want }) => want ?? []);
  await forEachLimited(wants, parallel, (want) => touch(ctx, want.label.pc, { want }));
  // An item that wants a code again (a later version in the same read) no longer leaves it.
  for (const { record, want, drop } of changes) {
    const leaving = ctx.leaving.get(record.itemId) ?? new Set<string>();
    if (want) leaving.delete(want.label.pc);
    if (drop) ctx.leaving.set(record.itemId, leaving.add(drop));
  }
}

/** Drops items from the codes they left in this poll (and do not want again). */
export async function applyDrops(ctx: PollContext) {
  const drops = [...ctx.leaving].flatMap(([itemId, codes]) => [...codes].map((code) => ({ itemId, code })));
  ctx.leaving.clear();
  await forEachLimited(drops, ctx.deps.settings.storeWriteConcurrency, async ({ itemId, code }) => {
    await touch(ctx, code, { drop: itemId });
  });
}

/** One item's change: its new record, and the slots it joins (`want`) and leaves (`drop`). */
function changeOf(ctx: PollContext, outcome: Outcome, before: ItemRecord | undefined) {
  const record = recordOf(ctx, outcome, before);
  // Equal versions cost nothing; an older Clover version never overwrites a newer one.
  if (before?.stateHash === record.stateHash) return [];
  if ((before?.modifiedTime ?? 0) > (outcome.modifiedTime ?? Number.POSITIVE_INFINITY)) return [];
  const [was, will] = [wantedLabel(before), wantedLabel(record)];
  const want: Want | undefined =
    will && will.labelHash !== was?.labelHash
      ? { itemId: record.itemId, ...will, wantsSince: record.wantsSince }
      : undefined;
  const drop = was && was.label.pc !== will?.label.pc ? was.label.pc : undefined;
  return [{ outcome, before, record, want, drop }];
}

/**
 * A poll changed who wants `code`: the slot is written, counted and queued for a push. The code rule
 * looks again at a code an item starts to want (or wants with a new label), and at one whose owner
 * left: it passes to the next in line.
 */
export async function touch(ctx: PollContext, code: string, change: { want: Want } | { drop: string }) {
  await markWrites(ctx);
  if ('drop' in change && !ctx.readProgress.complete) return;
  const before = await ctx.deps.shelf.touchSlot(ctx.merchant.merchantId, code, change, ctx.startedAt);
  const after = withWanter(before, change);
  addCounts(ctx.shelfChange, countChange(slotCounts(before), slotCounts(after)));
  ctx.touched.add(code);
  if ('want' in change || (ownerOf(before)?.itemId === change.drop && after.wanters.length > 0))
    ctx.codesToDecide.add(code);
}

/** Before a poll's first write, the store's record is marked: until a poll succeeds, the next one repairs. */
async function markWrites(ctx: PollContext) {
  ctx.writesMarked ??= ctx.deps.merchants.markShelfWrites(ctx.merchant.merchantId, ctx.startedAt);
  await ctx.writesMarked;
}

export function reportInvalid(ctx: PollContext, itemId: string | undefined, reason: string) {
  ctx.counts.invalid++;
  ctx.deps.onInvalidItem?.({ merchantId: ctx.merchant.merchantId, ...(itemId ? { itemId } : {}), reason });
}

/** The record an outcome stands for; an invalid version keeps the label of the last valid one. */
function recordOf(ctx: PollContext, outcome: Outcome, before: ItemRecord | undefined): ItemRecord {
  const { itemId } = outcome;
  const modifiedTime = outcome.modifiedTime ?? before?.modifiedTime;
  // The item wants the code it wanted before since as long as before; any other code, from now.
  // An invalid version keeps the label, so the code, of the last valid one.
  const wanted = wantedLabel(before)?.label.pc;
  const code = outcome.kind === 'label' ? outcome.desired.label.pc : wanted;
  const wantsSince =
    before && outcome.kind !== 'remove' && code === wanted ? before.wantsSince : ctx.startedAt;
  const base = { merchantId: ctx.merchant.merchantId, itemId, modifiedTime, wantsSince, updatedAt: 0 };
  if (outcome.kind === 'label') {
    const { labelHash, stateHash } = outcome;
    return { ...base, status: 'active', label: outcome.desired.label, labelHash, stateHash };
  }
  if (outcome.kind === 'remove')
    return {
      ...base,
      status: 'removed',
      removedReason: outcome.reason,
      stateHash: `removed:${outcome.reason}`,
    };
  return {
    ...base,
    status: 'invalid',
    invalidReason: outcome.reason,
    label: before?.label,
    labelHash: before?.labelHash,
    stateHash: `invalid:${outcome.reason}`,
  };
}
