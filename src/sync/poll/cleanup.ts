import { isOutOfStep, type PushFlags, wantedLabel } from '../../domain/shelf.ts';
import type { ItemRecord } from '../../store/shelf.ts';
import type { PollContext } from './context.ts';
import { saveFetched, touch } from './save.ts';

/**
 * Items we hold that Clover no longer lists were deleted there (listings omit deleted items). Each
 * is confirmed with a GET before its label comes down, so an item a listing missed for any reason
 * never leaves the shelf by mistake.
 */
export async function removeGhosts(
  ctx: PollContext,
  stored: readonly ItemRecord[],
  present: ReadonlySet<string>,
) {
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
 * Level-triggered repair, with every record at hand: each slot is made to name exactly the items
 * whose records want its code, with the label they want (a poll stopped between its writes, with
 * the item changed again in Clover before the retry, can leave a slot naming another version), and
 * every code out of step gets a push (one lost for good, or never queued because a poll stopped).
 */
export async function reconcile(ctx: PollContext, stored: readonly ItemRecord[], flags: PushFlags) {
  const { deps, merchant } = ctx;
  const wants = new Map(
    stored.flatMap((r) => {
      const want = wantedLabel(r);
      return want ? [[r.itemId, { itemId: r.itemId, ...want, firstSeenAt: r.firstSeenAt }] as const] : [];
    }),
  );
  const slots = new Map((await deps.shelf.listSlots(merchant.merchantId)).map((s) => [s.code, s]));
  for (const slot of slots.values()) {
    if (isOutOfStep(slot, flags)) ctx.touched.add(slot.code);
    for (const w of slot.wanters)
      if (wants.get(w.itemId)?.label.pc !== slot.code) await touch(ctx, slot.code, { drop: w.itemId });
  }
  for (const want of wants.values()) {
    const listed = slots.get(want.label.pc)?.wanters.find((w) => w.itemId === want.itemId);
    if (listed?.labelHash !== want.labelHash || listed.firstSeenAt !== want.firstSeenAt)
      await touch(ctx, want.label.pc, { want });
  }
}
