import { blockedReason, ownerOf } from '../../domain/shelf.ts';
import type { PollContext } from './context.ts';
import { reportInvalid, saveFetched } from './save.ts';

/**
 * Decides the codes items read in this poll newly want. Where the code rule gives such a code to an
 * item this poll did not read, that item may be deleted in Clover (deletions never show in a read),
 * so it is confirmed with one GET: gone, it lets the code go in this same poll. Items that still
 * lose their code to an existing item are reported.
 */
export async function decideCodes(ctx: PollContext) {
  const { deps, merchant, read } = ctx;
  const { merchantId } = merchant;
  for (const contested of await deps.shelf.getSlots(merchantId, [...ctx.newlyWanted])) {
    let slot = contested;
    const absent = ownerOf(slot);
    if (!absent || slot.wanters.length < 2) continue;
    if (!read.has(absent.itemId)) {
      const [stored] = await deps.shelf.getItems(merchantId, [absent.itemId]);
      if (stored) await saveFetched(ctx, absent.itemId, await ctx.clover.get(absent.itemId), stored);
      slot = (await deps.shelf.getSlots(merchantId, [slot.code]))[0] ?? slot;
    }
    const owner = ownerOf(slot);
    for (const w of slot.wanters)
      if (owner && w.itemId !== owner.itemId && read.has(w.itemId))
        reportInvalid(ctx, w.itemId, blockedReason(slot.code, owner.itemId));
  }
}
