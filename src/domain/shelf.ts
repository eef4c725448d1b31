/**
 * The shelf rules, without I/O: which label an item wants, which item a product code belongs to,
 * and what Hipoink must do under one code. Words as defined in docs/design.md.
 */
import type { HipoinkProduct } from '../hipoink/fields.ts';

/** What we keep of one Clover item (the fields these rules read). */
export interface Item {
  itemId: string;
  status: 'active' | 'removed' | 'invalid';
  /** The label of its last valid Clover version; absent once removed (hidden, deleted, gone, variable-price). */
  label?: HipoinkProduct;
  labelHash?: string;
  /**
   * When a poll first saw the item want the code it wants now: of two items wanting one code, the
   * one that wanted it first gets it, so a code given to a second item by mistake takes no label.
   */
  wantsSince: number;
  invalidReason?: string;
}

/** An item wanting a code, as its slot records it: the label it wants and since when it wants the code. */
export interface Want {
  itemId: string;
  label: HipoinkProduct;
  labelHash: string;
  wantsSince: number;
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
  /**
   * When the last poll to change who wants the code began: newer than the store's mark, it may be
   * a poll that stopped before it decided the code.
   */
  touchedAt?: number;
}

/** The label an item wants on the shelf: none once removed; an invalid version keeps the last valid one. */
export function wantedLabel(item: Pick<Item, 'status' | 'label' | 'labelHash'> | undefined) {
  if (!item || item.status === 'removed' || !item.label || !item.labelHash) return undefined;
  return { label: item.label, labelHash: item.labelHash };
}

/**
 * How a slot's record of one item's want differs from the item's own record, which a poll writes
 * first (one stopped between the two writes leaves them apart): `want`, the slot lacks the want the
 * record has, or has it with another label or since; `drop`, the slot lists an item whose record
 * wants another code or none; undefined, they agree. The repair writes the slot from the record.
 */
export function wantDrift(
  slot: Pick<Slot, 'code' | 'wanters'>,
  itemId: string,
  record: Pick<Item, 'status' | 'label' | 'labelHash' | 'wantsSince'> | undefined,
): 'want' | 'drop' | undefined {
  const want = wantedLabel(record);
  const entry = slot.wanters.find((w) => w.itemId === itemId);
  if (want?.label.pc !== slot.code) return entry ? 'drop' : undefined;
  return entry?.labelHash === want.labelHash && entry.wantsSince === record?.wantsSince ? undefined : 'want';
}

/** The code rule: of the items that want a code, the one that wanted it first owns it; the item id breaks ties. */
export function ownerOf(slot: Pick<Slot, 'wanters'>): Want | undefined {
  return [...slot.wanters].sort((a, b) => a.wantsSince - b.wantsSince || (a.itemId < b.itemId ? -1 : 1))[0];
}

/** The slot after a poll added (or replaced) one item's want, or dropped an item. */
export function withWanter(slot: Slot, change: { want: Want } | { drop: string }): Slot {
  const id = 'want' in change ? change.want.itemId : change.drop;
  const others = slot.wanters.filter((w) => w.itemId !== id);
  return { ...slot, wanters: 'want' in change ? [...others, change.want] : others };
}

/** Hipoink's refusal of the owner's label as it is now (a refusal of an older label no longer counts). */
export function ownerRefusal(slot: Pick<Slot, 'wanters' | 'refused'>) {
  const owner = ownerOf(slot);
  return owner && slot.refused?.labelHash === owner.labelHash ? slot.refused : undefined;
}

/**
 * The owner's label as it is now was refused, and Hipoink does not hold it (it shows an older label
 * or none): no push sends it again by itself, yet the shelf is not what the code rule says.
 */
export function refusedOffShelf(slot: Pick<Slot, 'wanters' | 'refused' | 'held'>): boolean {
  const refusal = ownerRefusal(slot);
  return refusal !== undefined && slot.held?.labelHash !== refusal.labelHash;
}

export type SlotAction =
  | { kind: 'create'; label: HipoinkProduct; labelHash: string; itemId: string }
  | { kind: 'delete' }
  | { kind: 'none' };

export interface PushFlags {
  /** Send labels Hipoink refused once more (a full resync: the operator may have fixed Hipoink). */
  retryRefused?: boolean;
  /** Send every wanted label again whatever is recorded (a Hipoink server that lost its products). */
  repush?: boolean;
}

/**
 * What Hipoink must do under one code: show the owner's label where it holds something else, and
 * hold nothing where nobody wants the code. What is recorded as held is trusted unless a Hipoink
 * call under the code may have been carried out without its answer being recorded (a timeout, a
 * stopped Lambda): such a slot is pushed as if nothing were known. A label Hipoink refused is not
 * sent again until it changes or a full resync retries it.
 */
export function slotAction(slot: Slot, flags: PushFlags = {}): SlotAction {
  const owner = ownerOf(slot);
  if (!owner) return slot.held || slot.unsure ? { kind: 'delete' } : { kind: 'none' };
  const inStep = slot.held?.labelHash === owner.labelHash || (ownerRefusal(slot) && !flags.retryRefused);
  if (inStep && !slot.unsure && !flags.repush) return { kind: 'none' };
  return { kind: 'create', label: owner.label, labelHash: owner.labelHash, itemId: owner.itemId };
}

/** Out of step: Hipoink must still do something under the code. */
export const isOutOfStep = (slot: Slot, flags: PushFlags = {}) => slotAction(slot, flags).kind !== 'none';

/** The wanters of a code that do not get it, and why. */
export function blocked(slot: Pick<Slot, 'code' | 'wanters'>) {
  const owner = ownerOf(slot);
  if (!owner) return [];
  return slot.wanters
    .filter((w) => w.itemId !== owner.itemId)
    .map((w) => ({
      itemId: w.itemId,
      reason: `product code ${slot.code} is already used by Clover item ${owner.itemId} (${JSON.stringify(owner.label.pn)})`,
    }));
}

/** What operators are shown about a store's items: the ones not shown, and why. */
export function shelfReport(items: readonly Item[], slots: readonly Slot[]) {
  // Each named as its label names it, where it has one, so operators need not look ids up.
  const names = new Map(items.flatMap((i) => (i.label ? [[i.itemId, i.label.pn] as const] : [])));
  const named = ({ itemId, reason }: { itemId: string; reason: string }) => {
    const name = names.get(itemId);
    return name === undefined ? { itemId, reason } : { itemId, name, reason };
  };
  const invalid = items
    .filter((i) => i.status === 'invalid')
    .map((i) => ({ itemId: i.itemId, reason: i.invalidReason ?? 'invalid' }));
  const rejected = slots.flatMap((s) => ownerRefusal(s) ?? []);
  return { invalid: [...invalid, ...slots.flatMap(blocked)].map(named), rejected: rejected.map(named) };
}
