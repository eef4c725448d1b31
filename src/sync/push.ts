import type { SyncSettings } from '../config.ts';
import { addCounts, countChange, NO_COUNTS } from '../domain/counts.ts';
import { type Slot, type SlotAction, slotAction } from '../domain/shelf.ts';
import { HipoinkRejectedError, HipoinkRequestRefusedError, MerchantUnavailableError } from '../errors.ts';
import type { HipoinkClient } from '../hipoink/client.ts';
import { type HipoinkProduct, PROBE_CODE } from '../hipoink/fields.ts';
import type { MerchantStore } from '../store/merchants.ts';
import type { ShelfStore } from '../store/shelf.ts';
import type { PushMessage } from './messages.ts';
import { forEachLimited } from './parallel.ts';

export interface PushDeps {
  merchants: Pick<MerchantStore, 'get' | 'addShelfCounts'>;
  shelf: ShelfStore;
  hipoink: HipoinkClient;
  settings: Pick<SyncSettings, 'hipoinkChunkSize' | 'storeWriteConcurrency'>;
  onRejected?: (info: { merchantId: string; itemId: string; pc: string; reason: string }) => void;
  /** Hipoink refused to delete a code; it is passed over. */
  onRemovalRefused?: (info: { storeCode: string; pc: string; reason: string }) => void;
}

export interface PushResult {
  merchantId: string;
  storeCode: string;
  upserted: number;
  removed: number;
  rejected: number;
  hipoinkCalls: number;
}

type Create = { slot: Slot } & Extract<SlotAction, { kind: 'create' }>;

/**
 * Brings Hipoink in line with the stored *current* state, code by code: the owner's label where
 * Hipoink holds something else, nothing where nobody wants the code. It reads state at push time
 * rather than trusting the message, so duplicated, reordered or repeated messages are harmless, and
 * it records what Hipoink holds only after Hipoink answered, so work cut short is redone, not lost.
 */
export async function pushCodes(deps: PushDeps, msg: PushMessage): Promise<PushResult> {
  const { merchantId } = msg;
  const merchant = await deps.merchants.get(merchantId);
  if (!merchant) throw new MerchantUnavailableError('Unknown merchant', { merchantId });
  const { storeCode } = merchant;
  // Only a pending merchant has none, and pending merchants are never polled: nothing to push.
  if (storeCode === undefined)
    throw new MerchantUnavailableError('Merchant has no store code yet (pending)', { merchantId });
  const result: PushResult = { merchantId, storeCode, upserted: 0, removed: 0, rejected: 0, hipoinkCalls: 0 };
  if (msg.clearFrom !== undefined) {
    // A store this merchant leaves: its codes go, and a probe there may only delete.
    await refusalAware(deps, merchantId, msg.clearFrom, result, { probeWithHeld: false }).deleteCodes(
      msg.codes,
    );
    return { ...result, storeCode: msg.clearFrom, removed: msg.codes.length };
  }

  const creates: Create[] = [];
  const deletes: Slot[] = [];
  for (const slot of await deps.shelf.getSlots(merchantId, msg.codes)) {
    const action = slotAction(slot, msg);
    if (action.kind === 'create') creates.push({ slot, ...action });
    else if (action.kind === 'delete') deletes.push(slot);
  }
  const hipoink = refusalAware(deps, merchantId, storeCode, result);
  const shelfChange = { ...NO_COUNTS };
  /** Codes whose calls are answered and recorded: no longer unsure. */
  const settled: string[] = [];
  const settle = async (slot: Slot, { held, refused }: Pick<Slot, 'held' | 'refused'>) => {
    const before = await deps.shelf.settleSlot(merchantId, slot.code, { held, refused });
    if (before) addCounts(shelfChange, countChange(before, { ...before, held, refused }));
    settled.push(slot.code);
  };
  const parallel = deps.settings.storeWriteConcurrency;
  /**
   * Hipoink refused an owner's label. A refused label never leaves another item's price showing:
   * the owner's last label Hipoink accepted stays (if nothing may have changed it unseen); anything
   * else under the code comes down. A delete Hipoink refuses there leaves the slot for a later push.
   */
  const refused = async (c: Create, reason: string) => {
    const own = c.slot.held?.itemId === c.itemId && !c.slot.unsure ? c.slot.held : undefined;
    if (!own && (c.slot.held || c.slot.unsure) && (await hipoink.deleteCodes([c.slot.code])).size > 0) return;
    await settle(c.slot, { held: own, refused: { labelHash: c.labelHash, reason, itemId: c.itemId } });
    result.rejected++;
    deps.onRejected?.({ merchantId, itemId: c.itemId, pc: c.slot.code, reason });
  };
  const pushActions = async () => {
    // Noted before each call: a call carried out without its answer recorded leaves its codes unsure.
    await deps.shelf.beginCalls(
      merchantId,
      deletes.map((s) => s.code),
    );
    // A code Hipoink refused to delete stays as it is, out of step: the repair tries it again.
    const kept = await hipoink.deleteCodes(deletes.map((s) => s.code));
    await forEachLimited(
      deletes.filter((s) => !kept.has(s.code)),
      parallel,
      async (slot) => {
        await settle(slot, {});
        result.removed++;
      },
    );
    const shown = async (c: Create) => {
      await settle(c.slot, { held: { label: c.label, labelHash: c.labelHash, itemId: c.itemId } });
      result.upserted++;
    };
    const size = deps.settings.hipoinkChunkSize;
    for (let i = 0; i < creates.length; i += size) {
      const chunk = creates.slice(i, i + size);
      await deps.shelf.beginCalls(
        merchantId,
        chunk.map((c) => c.slot.code),
      );
      if (await hipoink.createAll(chunk.map((c) => c.label))) await forEachLimited(chunk, parallel, shown);
      else
        for (const c of chunk) {
          const refusal = await refusalOf(result, () => deps.hipoink.create(storeCode, c.label));
          if (refusal === undefined) await shown(c);
          else await refused(c, refusalReason(refusal));
        }
    }
  };
  try {
    await pushActions();
  } finally {
    // What this push settled moves the store's counts and is sure, even if it stopped halfway
    // (a code left noted costs one call more, counts lost stay wrong until the next count afresh).
    await deps.merchants.addShelfCounts(merchantId, shelfChange);
    await deps.shelf.endCalls(merchantId, settled);
  }
  return result;
}

/**
 * Hipoink calls for one push that tell request faults from product faults. Hipoink names no
 * product in its errors, so on the first refusal requests that cannot be wrong in content are
 * sent: a label Hipoink already holds, again exactly as it accepted it, and if Hipoink refuses that
 * too, a delete of a code no product has. Both refused, the request itself is at fault (sign, store
 * code, client id): the push fails retryably with nothing recorded, so the labels follow once it is
 * fixed. A store with nothing on the shelf yet gets the delete alone, counted only when refused with
 * the same error (a refusal to delete an unknown code is another).
 */
function refusalAware(
  deps: PushDeps,
  merchantId: string,
  storeCode: string,
  result: PushResult,
  opts = { probeWithHeld: true },
) {
  let requestChecked = false;
  const deleteNothing = () => deps.hipoink.deleteMultiple(storeCode, [PROBE_CODE]);
  /** Whether Hipoink refuses requests that cannot be wrong in content, as it refused `refusal`. */
  const requestRefused = async (refusal: HipoinkRejectedError): Promise<boolean> => {
    const held = opts.probeWithHeld ? await deps.shelf.findHeld(merchantId) : undefined;
    if (held) {
      if ((await refusalOf(result, () => deps.hipoink.create(storeCode, held.label))) === undefined)
        return false;
      // Hipoink may come to refuse a product it once accepted: that alone does not blame the request.
      return (await refusalOf(result, deleteNothing)) !== undefined;
    }
    const again = await refusalOf(result, deleteNothing);
    return again !== undefined && String(again.errorCode) === String(refusal.errorCode);
  };
  const assertRequestAccepted = async (refusal: HipoinkRejectedError) => {
    if (requestChecked) return;
    if (await requestRefused(refusal)) {
      throw new HipoinkRequestRefusedError(
        `Hipoink refuses every request for store ${storeCode} (${refusalReason(refusal)}); check the sign, store code and client id`,
        { merchantId, storeCode },
      );
    }
    requestChecked = true;
  };
  const size = deps.settings.hipoinkChunkSize;
  return {
    /** True when Hipoink took the whole chunk; false when it refused some product in it. */
    async createAll(labels: HipoinkProduct[]): Promise<boolean> {
      const refusal = await refusalOf(result, () => deps.hipoink.createMultiple(storeCode, labels));
      if (refusal) await assertRequestAccepted(refusal);
      return refusal === undefined;
    },
    /**
     * Deletes codes in chunks. A refused chunk is retried code by code; a code Hipoink refuses to
     * delete is reported and passed over, so it cannot hold back the rest of the message, and
     * returned, so it is not recorded as gone (a later push tries again).
     */
    async deleteCodes(pcs: readonly string[]): Promise<Set<string>> {
      const kept = new Set<string>();
      for (let i = 0; i < pcs.length; i += size) {
        const chunk = pcs.slice(i, i + size);
        const refusal = await refusalOf(result, () => deps.hipoink.deleteMultiple(storeCode, chunk));
        if (refusal === undefined) continue;
        await assertRequestAccepted(refusal);
        for (const pc of chunk) {
          const single = await refusalOf(result, () => deps.hipoink.deleteMultiple(storeCode, [pc]));
          if (single === undefined) continue;
          kept.add(pc);
          deps.onRemovalRefused?.({ storeCode, pc, reason: refusalReason(single) });
        }
      }
      return kept;
    },
  };
}

/** One Hipoink call, counted: its refusal (error_code ≠ 0), or undefined when Hipoink took it. */
async function refusalOf(
  result: PushResult,
  call: () => Promise<unknown>,
): Promise<HipoinkRejectedError | undefined> {
  try {
    result.hipoinkCalls++;
    await call();
    return undefined;
  } catch (err) {
    if (!(err instanceof HipoinkRejectedError)) throw err;
    return err;
  }
}

const refusalReason = (err: HipoinkRejectedError) => err.errorMsg || `error_code ${err.errorCode}`;
