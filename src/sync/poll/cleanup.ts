import type { ItemRecord } from '../../store/shelf.ts';
import type { PollContext } from './context.ts';
import { relist, saveFetched } from './save.ts';

/**
 * Items we hold that Clover no longer lists were deleted there (listings omit deleted items). Each
 * is confirmed with a GET before its label comes down, so an item a listing missed for any reason
 * never leaves the shelf by mistake.
 */
export async function removeGhosts(ctx: PollContext, present: ReadonlySet<string>) {
  const stored = await ctx.deps.shelf.listItems(ctx.merchant.merchantId);
  await confirmEach(
    ctx,
    stored.filter((r) => r.status !== 'removed' && !present.has(r.itemId)),
  );
}

/** Items Clover said were deleted (webhook notices): confirmed the same way before their labels go. */
export async function confirmGone(ctx: PollContext, itemIds: readonly string[]) {
  const stored = await ctx.deps.shelf.getItems(ctx.merchant.merchantId, itemIds);
  await confirmEach(
    ctx,
    stored.filter((r) => r.status !== 'removed' && !ctx.read.has(r.itemId)),
  );
}

async function confirmEach(ctx: PollContext, candidates: readonly ItemRecord[]) {
  for (const item of candidates) await saveFetched(ctx, item.itemId, await ctx.clover.get(item.itemId), item);
}

/**
 * Level-triggered repair: whatever is still out of step long after a poll changed it is taken up
 * again. An item whose poll stopped before its slots were written gets them written; a code whose
 * push was lost (it failed for good, or the poll stopped before queueing it) is queued again.
 */
export async function repairStale(ctx: PollContext, now: number) {
  const { deps, merchant } = ctx;
  const stale = await deps.shelf.outOfStepBefore(merchant.merchantId, now - deps.settings.repairAfterMs);
  for (const item of await deps.shelf.getItems(merchant.merchantId, stale.itemIds))
    if (item.outOfStepSince !== undefined) await (await relist(ctx, item))();
  for (const code of stale.codes) ctx.touched.add(code);
}
