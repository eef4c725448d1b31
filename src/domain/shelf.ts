/**
 * The shelf rules, without I/O: which label an item wants, which item a product code belongs to,
 * and what Hipoink must do under one code. Words as defined in docs/design.md.
 */
import type { HipoinkProduct } from '../hipoink/fields.ts';

/** What we keep of one Clover item (the fields these rules read). */
export interface Item {
  itemId: string;
  status: 'active' | 'removed' | 'invalid';
  /** The label of its last valid Clover version; absent once removed (hidden, deleted, gone). */
  label?: HipoinkProduct;
  labelHash?: string;
  /** When we first stored the item: of two items wanting one code, the earlier one gets it. */
  firstSeenAt: number;
  invalidReason?: string;
}

/** An item wanting a code, as its slot records it: the label it wants and when it was first seen. */
export interface Want {
  itemId: string;
  label: HipoinkProduct;
  labelHash: string;
  firstSeenAt: number;
}

/** One product code of a store: the items that want it, and what Hipoink holds under it. */
export interface Slot {
  code: string;
  wanters: Want[];
  /** The label Hipoink holds under the code, as it accepted it. */
  held?: { label: HipoinkProduct; labelHash: string; itemId: string };
  /** A label Hipoink refused under the code, and why. */
  refused?: { labelHash: string; reason: string; itemId: string };
  /** A Hipoink call under the code may have been carried out without its answer being recorded. */
  unsure?: boolean;
}

/** The label an item wants on the shelf: none once removed; an invalid version keeps the last valid one. */
export function wantedLabel(item: Pick<Item, 'status' | 'label' | 'labelHash'> | undefined) {
  if (!item || item.status === 'removed' || !item.label || !item.labelHash) return undefined;
  return { label: item.label, labelHash: item.labelHash };
}

/** The code rule: of the items that want a code, the one first seen owns it; the item id breaks ties. */
export function ownerOf(slot: Pick<Slot, 'wanters'>): Want | undefined {
  return [...slot.wanters].sort((a, b) => a.firstSeenAt - b.firstSeenAt || (a.itemId < b.itemId ? -1 : 1))[0];
}

export type SlotAction =
  | { kind: 'create'; label: HipoinkProduct; labelHash: string; itemId: string }
  | { kind: 'delete' }
  | { kind: 'none' };

/**
 * What Hipoink must do under one code: show the owner's label where it holds something else, and
 * hold nothing where nobody wants the code. A code is "out of step" exactly when this is not
 * `none`. What is recorded as held is trusted unless a Hipoink call under the code may have been
 * carried out without its answer being recorded (a timeout, a stopped Lambda): such a slot is
 * pushed as if nothing were known. A label Hipoink refused is not sent again until it changes or a
 * full resync retries it; `repush` sends everything again.
 */
export function slotAction(slot: Slot, opts: { retryRefused?: boolean; repush?: boolean } = {}): SlotAction {
  const owner = ownerOf(slot);
  const known = !slot.unsure && !opts.repush;
  if (!owner) return slot.held || !known ? { kind: 'delete' } : { kind: 'none' };
  const shown = slot.held?.labelHash === owner.labelHash;
  const refused = slot.refused?.labelHash === owner.labelHash && !opts.retryRefused;
  if (known && (shown || refused)) return { kind: 'none' };
  return { kind: 'create', label: owner.label, labelHash: owner.labelHash, itemId: owner.itemId };
}

/** Why an item that wants a code does not show it. */
export const blockedReason = (code: string, owner: string) =>
  `product code ${code} is already used by Clover item ${owner}`;

/** What operators are shown about a store's items: the ones not shown, and why. */
export function shelfReport(items: readonly Item[], slots: readonly Slot[]) {
  const invalid = items
    .filter((i) => i.status === 'invalid')
    .map((i) => ({ itemId: i.itemId, reason: i.invalidReason ?? 'invalid' }));
  const rejected: Array<{ itemId: string; reason: string }> = [];
  for (const slot of slots) {
    const owner = ownerOf(slot);
    for (const w of slot.wanters)
      if (owner && w.itemId !== owner.itemId)
        invalid.push({ itemId: w.itemId, reason: blockedReason(slot.code, owner.itemId) });
    if (owner && slot.refused?.labelHash === owner.labelHash)
      rejected.push({ itemId: owner.itemId, reason: slot.refused.reason });
  }
  return { invalid, rejected };
}
