import { type ItemOutcome, transformItem } from '../../domain/label.ts';
import { addCounts, countChange, wantedAfter, wantedLabel } from '../../domain/shelf.ts';
import { type ItemRecord, type ItemState, type ShelfStore, stateHashOf } from '../../store/shelf.ts';
import { forEachLimited } from '../parallel.ts';
import type { PollContext } from './context.ts';

/**
 * Saves one page of items as Clover gave them. Stored hashes are read first in one batch, so items
 * re-read unchanged (overlap window, backfills) cost no write. Items are saved in parallel: who gets
 * a contested code depends on the code rule, not on which write lands first. Every item gets the
 * code it wants before any item lets a code go, so two items swapping codes never leave a code both
 * want with nobody wanting it in between (a push then would delete it, unbinding its label).
 * Returns the newest modifiedTime on the page.
 */
export async function savePage(ctx: PollContext, page: readonly unknown[]): Promise<number | undefined> {
  const { merchant, deps } = ctx;
  const latest = new Map<string, ItemOutcome & { itemId: string }>();
  let newest: number | undefined;
  for (const raw of page) {
    const outcome = transformItem(raw, deps.productCodePrecedence, merchant.labelOptions);
    if (outcome.modifiedTime !== undefined) newest = Math.max(newest ?? 0, outcome.modifiedTime);
    if (outcome.kind === 'invalid') reportInvalid(ctx, outcome.itemId, outcome.reason);
    if (!outcome.itemId) continue;
    ctx.read.add(outcome.itemId);
    latest.set(outcome.itemId, { ...outcome, itemId: outcome.itemId });
  }
  const stored = new Map(
    (await deps.shelf.getItems(merchant.merchantId, [...latest.keys()])).map((r) => [r.itemId, r]),
  );
  const parallel = deps.settings.storeWriteConcurrency;
  const letGo: Array<() => Promise<void>> = [];
  await forEachLimited([...latest.values()], parallel, async (outcome) => {
    const rest = await saveItem(ctx, outcome, stored.get(outcome.itemId));
    if (rest) letGo.push(rest);
  });
  await forEachLimited(letGo, parallel, (rest) => rest());
  return newest;
}

/** Stores an item as a GET returned it (null: Clover answered 404, the item is gone). */
export async function saveFetched(ctx: PollContext, itemId: string, raw: unknown, before: ItemRecord) {
  ctx.read.add(itemId);
  const { deps, merchant } = ctx;
  const outcome: ItemOutcome =
    raw === null
      ? { kind: 'remove', itemId, reason: 'gone' }
      : transformItem(raw, deps.productCodePrecedence, merchant.labelOptions);
  if (outcome.kind === 'invalid') reportInvalid(ctx, itemId, outcome.reason);
  await (await saveItem(ctx, { ...outcome, itemId }, before))?.();
}

/**
 * One item's change. The push reads only slots, so every slot must name exactly the items that
 * want its code, with the label each wants. The item's record is written first, listing every code
 * whose slot may name it and marked out of step; then the slots; then the record is settled. A poll
 * stopped at any write leaves the item marked, and the next poll finishes the listing. Returns the
 * listing's second step (letting codes go), if any.
 */
async function saveItem(ctx: PollContext, outcome: ItemOutcome & { itemId: string }, before?: ItemRecord) {
  const { deps, merchant, counts } = ctx;
  const state = stateOf(outcome);
  if (before?.stateHash === stateHashOf(state))
    return before.outOfStepSince === undefined ? undefined : relist(ctx, before);
  // Never an older Clover version over a newer one (the store checks it too).
  if ((before?.modifiedTime ?? 0) > (outcome.modifiedTime ?? Number.POSITIVE_INFINITY)) return;
  const was = wantedLabel(before);
  const will = wantedAfter(before, outcome);
  const listed = before?.listedUnder ?? (was ? [was.label.pc] : []);
  const wants = will ? [will.label.pc] : [];
  const shelfChanges =
    before?.outOfStepSince !== undefined ||
    was?.labelHash !== will?.labelHash ||
    listed.join() !== wants.join();
  const saved = await deps.shelf.saveItem(merchant.merchantId, outcome.itemId, state, {
    firstSeenAt: before?.firstSeenAt ?? ctx.startedAt,
    listedUnder: [...new Set([...listed, ...wants])],
    relisting: shelfChanges,
  });
  if (!saved) return undefined;
  addCounts(ctx.shelfChange, countChange(before, saved));
  if (outcome.kind !== 'invalid') counts.changed++;
  if (outcome.kind === 'remove') counts.removed++;
  if (!shelfChanges) return undefined;
  return relist(ctx, saved, before?.outOfStepSince === undefined ? was?.labelHash : undefined);
}

/**
 * Writes an item's slots from its record, in two steps. This one has the code it wants name it with
 * its label (unless that label is the one already there, `listedHash`); the step it returns drops it
 * from every other code it was listed under and settles the record.
 */
export async function relist(ctx: PollContext, item: ItemRecord, listedHash?: string) {
  const { deps, merchant } = ctx;
  const { itemId, firstSeenAt } = item;
  const want = wantedLabel(item);
  const touch = async (code: string, change: Parameters<ShelfStore['touchSlot']>[2]) => {
    const { wasMarked } = await deps.shelf.touchSlot(merchant.merchantId, code, change);
    if (!wasMarked) ctx.shelfChange.outOfStep++;
    ctx.touched.add(code);
  };
  if (want && want.labelHash !== listedHash) {
    ctx.newlyWanted.add(want.label.pc);
    await touch(want.label.pc, { want: { itemId, ...want, firstSeenAt } });
  }
  return async () => {
    for (const code of item.listedUnder ?? [])
      if (code !== want?.label.pc) await touch(code, { drop: itemId });
    await deps.shelf.settleItem(merchant.merchantId, itemId, want ? [want.label.pc] : []);
  };
}

export function reportInvalid(ctx: PollContext, itemId: string | undefined, reason: string) {
  ctx.counts.invalid++;
  ctx.deps.onInvalidItem?.({ merchantId: ctx.merchant.merchantId, ...(itemId ? { itemId } : {}), reason });
}

/** The item state an outcome stands for. */
function stateOf(outcome: ItemOutcome): ItemState {
  if (outcome.kind === 'invalid')
    return { status: 'invalid', invalidReason: outcome.reason, modifiedTime: outcome.modifiedTime };
  if (outcome.kind === 'remove')
    return { status: 'removed', removedReason: outcome.reason, modifiedTime: outcome.modifiedTime };
  const { label, priceType, unitCost, available } = outcome.desired;
  const { stateHash, labelHash, modifiedTime } = outcome;
  return { status: 'active', label, priceType, unitCost, available, stateHash, labelHash, modifiedTime };
}
