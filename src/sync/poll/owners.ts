import { blocked, ownerOf, type Slot, type Want } from '../../domain/shelf.ts';
import type { PollContext } from './context.ts';
import { reportInvalid, saveFetched } from './save.ts';

/**
 * Decides the codes items newly want in this poll, and those whose owner left (and, after a poll
 * stopped before deciding, those it may have left undecided), last, once every item it reads or
 * fetches is saved. Where the code rule gives such a code to an item this poll did not read, that
 * item may be deleted in Clover (deletions never show in a read), so it is confirmed with one GET:
 * gone, it lets the code go in this same poll, to the next item in line, which is confirmed in turn.
 * A GET may show an item wanting another code: that code is decided in turn. Items read in this
 * poll that still lose their code to an existing item are reported.
 */
export async function decideCodes(ctx: PollContext) {
  const { deps, merchant, read } = ctx;
  const { merchantId } = merchant;
  const decided = new Map<string, Slot>();
  while (ctx.codesToDecide.size > 0) {
    const codes = [...ctx.codesToDecide];
    ctx.codesToDecide.clear();
    for (let slot of await deps.shelf.getSlots(merchantId, codes)) {
      for (let owner = ownerToConfirm(slot, read); owner; owner = ownerToConfirm(slot, read)) {
        const [stored] = await deps.shelf.getItems(merchantId, [owner.itemId]);
        await saveFetched(ctx, owner.itemId, await ctx.clover.get(owner.itemId), stored);
        slot = (await deps.shelf.getSlots(merchantId, [slot.code]))[0] ?? slot;
      }
      decided.set(slot.code, slot);
    }
  }
  for (const slot of decided.values())
    for (const b of blocked(slot)) if (read.has(b.itemId)) reportInvalid(ctx, b.itemId, b.reason);
}

/**
 * The code's owner when this poll did not read it. Asked for even where Hipoink is recorded to
 * show its label already: a push beside the poll may have put it there since its holder left.
 */
function ownerToConfirm(slot: Slot, read: ReadonlySet<string>): Want | undefined {
  const owner = ownerOf(slot);
  return owner && !read.has(owner.itemId) ? owner : undefined;
}
