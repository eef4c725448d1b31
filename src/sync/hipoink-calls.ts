import { chunked } from '../chunked.ts';
import type { SyncSettings } from '../config.ts';
import { HipoinkRejectedError, HipoinkRequestRefusedError } from '../errors.ts';
import type { HipoinkClient } from '../hipoink/client.ts';
import { type HipoinkProduct, PROBE_CODE } from '../hipoink/fields.ts';

/** What one push tells Hipoink's refusals with, and counts its calls in. */
export interface CallsContext {
  hipoink: HipoinkClient;
  merchantId: string;
  storeCode: string;
  settings: Pick<SyncSettings, 'hipoinkChunkSize'>;
  result: { hipoinkCalls: number };
  /** A label Hipoink is known to hold, exactly as it accepted it; none where the probe may only delete. */
  knownHeld: () => Promise<HipoinkProduct | undefined>;
  /** Hipoink refused to delete a code; it is passed over. */
  onRemovalRefused?: (info: { merchantId: string; storeCode: string; pc: string; reason: string }) => void;
}

/**
 * Hipoink calls for one push that tell request faults from product faults. Hipoink names no
 * product in its errors, so on the first refusal requests that cannot be wrong in content are
 * sent: a label Hipoink already holds, again exactly as it accepted it, and if Hipoink refuses that
 * too, a delete of a code no product has. Both refused, the request itself is at fault (sign, store
 * code, client id): the push fails retryably with nothing recorded, so the labels follow once it is
 * fixed. Where no label is known to be held (nothing held yet, every held code unsure, or a store
 * being cleared) the delete is sent alone, and counts only when refused with the same error (a
 * refusal to delete an unknown code is another).
 */
export function hipoinkCalls(ctx: CallsContext) {
  const { hipoink, storeCode, merchantId } = ctx;
  let requestChecked = false;
  /** One Hipoink call, counted: its refusal (error_code ≠ 0), or undefined when Hipoink took it. */
  const refusalOf = async (call: () => Promise<unknown>): Promise<HipoinkRejectedError | undefined> => {
    try {
      ctx.result.hipoinkCalls++;
      await call();
      return undefined;
    } catch (err) {
      if (!(err instanceof HipoinkRejectedError)) throw err;
      return err;
    }
  };
  /**
   * After a first refusal, requests that cannot be wrong in content: refused as well (see above), the
   * request itself is at fault and the push fails.
   */
  const assertRequestAccepted = async (refusal: HipoinkRejectedError) => {
    if (requestChecked) return;
    const held = await ctx.knownHeld();
    const heldTaken = held && (await refusalOf(() => hipoink.create(storeCode, held))) === undefined;
    // A held label refused does not blame the request alone (Hipoink may come to refuse a product it
    // once accepted); without one, nor does a delete of nothing refused with another error.
    const again = heldTaken
      ? undefined
      : await refusalOf(() => hipoink.deleteMultiple(storeCode, [PROBE_CODE]));
    if (again && (held || String(again.errorCode) === String(refusal.errorCode)))
      throw new HipoinkRequestRefusedError(
        `Hipoink refuses every request for store ${storeCode} (${refusalReason(refusal)}): a wrong sign, store code or client id, unless Hipoink itself is failing (it may answer an outage so)`,
        { merchantId, storeCode },
      );
    requestChecked = true;
  };
  return {
    /** True when Hipoink took the whole chunk; false when it refused some product in it. */
    async createAll(labels: HipoinkProduct[]): Promise<boolean> {
      const refusal = await refusalOf(() => hipoink.createMultiple(storeCode, labels));
      if (refusal) await assertRequestAccepted(refusal);
      return refusal === undefined;
    },
    /** Why Hipoink refused this one label, or undefined when it took it. */
    async createOne(label: HipoinkProduct): Promise<string | undefined> {
      const refusal = await refusalOf(() => hipoink.create(storeCode, label));
      return refusal && refusalReason(refusal);
    },
    /**
     * Deletes codes in chunks. A refused chunk is retried code by code; a code Hipoink refuses to
     * delete is reported and passed over, so it cannot hold back the rest of the message, and
     * returned, so it is not recorded as gone (a later push tries again).
     */
    async deleteCodes(pcs: readonly string[]): Promise<Set<string>> {
      const kept = new Set<string>();
      for (const chunk of chunked(pcs, ctx.settings.hipoinkChunkSize)) {
        const refusal = await refusalOf(() => hipoink.deleteMultiple(storeCode, chunk));
        if (refusal === undefined) continue;
        await assertRequestAccepted(refusal);
        for (const pc of chunk) {
          // A chunk of one was that code's own delete: it is not sent again.
          const single =
            chunk.length === 1 ? refusal : await refusalOf(() => hipoink.deleteMultiple(storeCode, [pc]));
          if (single === undefined) continue;
          kept.add(pc);
          ctx.onRemovalRefused?.({ merchantId, storeCode, pc, reason: refusalReason(single) });
        }
      }
      return kept;
    },
  };
}

const refusalReason = (err: HipoinkRejectedError) => err.errorMsg || `error_code ${err.errorCode}`;
