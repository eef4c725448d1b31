/**
 * The rule of a store move or removal, without I/O: where a clear (the push that takes a merchant's
 * codes off a Hipoink store it leaves) may delete.
 */

/** Why a merchant being removed is disabled: only then may a clear delete in its own store. */
export const BEING_REMOVED = 'being removed by an operator';

/**
 * Whether a clear of Hipoink store `storeCode` may delete there now: not in the store the merchant
 * shows its labels in (a clear delivered late, the merchant moved back or kept), unless it is being
 * removed.
 */
export const clearMayDelete = (
  m: { storeCode?: string | undefined; state: string; stateReason?: string | undefined },
  storeCode: string,
) => storeCode !== m.storeCode || beingRemoved(m);

/** The merchant is disabled for its removal (and nobody enabled it meanwhile). */
export const beingRemoved = (m: { state: string; stateReason?: string | undefined }) =>
  m.state === 'disabled' && m.stateReason === BEING_REMOVED;
