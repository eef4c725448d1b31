import { isOutOfStep, type PushFlags, type Slot, wantDrift, wantedLabel } from '../../domain/shelf.ts';
import type { ItemRecord } from '../../store/shelf.ts';
import type { PollContext } from './context.ts';
import { keyOf } from './read.ts';
import { applyDrops, saveFetched, savePage, touch } from './save.ts';

/**
 * Ghost cleanup: the items Clover no longer lists were deleted there; each is confirmed with a GET
 * before its label comes down. The listing comes after the read, so items it shows changed since
 * (newer than their records) are saved first: one may have taken the code a ghost leaves, and the
 * ghost's drop must find it wanting the code.
 */
export async function cleanUpGhosts(
  ctx: PollContext,
  stored: readonly ItemRecord[],
  listed: readonly unknown[],
) {
  const known = new Map(stored.map((r) => [r.itemId, r.modifiedTime ?? -1]));
  const changed = listed.filter((row) => {
    const { id, modifiedTime } = keyOf(row);
    return id !== undefined && (modifiedTime ?? Number.POSITIVE_INFINITY) > (known.get(id) ?? -1);
  });
  if (changed.length > 0) await savePage(ctx, changed);
  const present = new Set(listed.flatMap((row) => keyOf(row).id ?? []));
  const ghosts = stored.filter((r) => !present.has(r.itemId));
  await confirmGone(ctx, ghosts);
  // The codes the listing's changed items left (every want is written); a ghost's GET may have
  // applied them already.
  await applyDrops(ctx);
}

/**
 * Items Clover said were deleted (webhook notices) or no longer lists (ghosts): each not removed,
 * and not read in this poll already, is confirmed with a GET before its label comes down.
 */
export async function confirmGone(ctx: PollContext, stored: readonly ItemRecord[]) {
  for (const item of stored)
    if (item.status !== 'removed' && !ctx.read.has(item.itemId))
      await saveFetched(ctx, item.itemId, await ctx.clover.get(item.itemId), item);
}

/**
 * The repair, from the state as stored, with every record at hand: each slot is made to name exactly the items
 * whose records want its code, with the label they want (a poll stopped after writing records and
 * before their slots), and every code out of step gets a push (one lost for good, or never queued
 * because a poll stopped). Wants are written before drops, as a poll writes them.
 */
export async function reconcile(ctx: PollContext, stored: readonly ItemRecord[], flags: PushFlags) {
  const slots = await ctx.deps.shelf.listSlots(ctx.merchant.merchantId);
  const records = new Map(stored.map((r) => [r.itemId, r]));
  const byCode = new Map(slots.map((s) => [s.code, s]));
  for (const r of stored) {
    const want = wantedLabel(r);
    if (!want) continue;
    const slot = byCode.get(want.label.pc) ?? { code: want.label.pc, wanters: [] };
    if (wantDrift(slot, r.itemId, r) === 'want')
      await touch(ctx, want.label.pc, { want: { itemId: r.itemId, ...want, wantsSince: r.wantsSince } });
  }
  // Its drops include those the read left pending (each is of a code the item's record does not want).
  ctx.leaving.clear();
  // A poll that stopped (or a chain of them, since the first began: the mark) may have written a want
  // or drop and not decided its code: each code such a poll touched is decided now, its owner
  // confirmed if this poll did not read it. Codes no such poll touched (contested for long, or
  // waiting for a push) cost no GET.
  const markedAt = ctx.merchant.shelfWritesUnfinished;
  const undecided = (slot: Slot) => markedAt !== undefined && (slot.touchedAt ?? -1) >= markedAt;
  for (const slot of slots) {
    for (const w of slot.wanters)
      if (wantDrift(slot, w.itemId, records.get(w.itemId)) === 'drop')
        await touch(ctx, slot.code, { drop: w.itemId });
    if (isOutOfStep(slot, flags)) ctx.touched.add(slot.code);
    if (undecided(slot)) ctx.codesToDecide.add(slot.code);
  }
}
