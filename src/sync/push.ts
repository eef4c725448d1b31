import type { SyncSettings } from '../config.ts';
import { HipoinkRejectedError, HipoinkRequestRefusedError, MerchantUnavailableError } from '../errors.ts';
import type { HipoinkClient } from '../hipoink/client.ts';
import { type HipoinkProduct, PROBE_CODE } from '../hipoink/fields.ts';
import type { MerchantStore } from '../store/merchants.ts';
import { type ProductRecord, type ProductStore, pushNeed, showsCode } from '../store/products.ts';
import type { PushMessage } from './messages.ts';
import { forEachLimited } from './parallel.ts';

export interface PushDeps {
  merchants: Pick<MerchantStore, 'get'>;
  products: ProductStore;
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

type Upsert = { record: ProductRecord; label: HipoinkProduct; labelHash: string };

/**
 * Brings the labels of the given items in line with their *current* stored state. Because it
 * reads state at push time rather than trusting the message, duplicated or reordered messages
 * are harmless, and an item already in step costs no Hipoink call.
 */
export async function pushChanges(deps: PushDeps, msg: PushMessage): Promise<PushResult> {
  const merchant = await deps.merchants.get(msg.merchantId);
  if (!merchant) throw new MerchantUnavailableError('Unknown merchant', { merchantId: msg.merchantId });
  const { storeCode } = merchant;
  // Only a pending merchant has none, and pending merchants are never polled: nothing to push.
  if (storeCode === undefined) {
    throw new MerchantUnavailableError('Merchant has no store code yet (pending)', {
      merchantId: msg.merchantId,
    });
  }
  const result: PushResult = {
    merchantId: msg.merchantId,
    storeCode,
    upserted: 0,
    removed: 0,
    rejected: 0,
    hipoinkCalls: 0,
  };

  const records = await deps.products.get(msg.merchantId, msg.itemIds);
  const upserts: Upsert[] = [];
  const removals: ProductRecord[] = [];
  const cleanups: ProductRecord[] = [];
  for (const record of records) {
    const need = pushNeed(record, { retryRejected: msg.retryRejected === true });
    if (need === 'upsert' && record.label && record.labelHash) {
      upserts.push({ record, label: record.label, labelHash: record.labelHash });
    } else if (need === 'remove') {
      removals.push(record);
    } else if (need === 'cleanup') {
      cleanups.push(record);
    }
  }
  const hipoink = refusalAware(deps, msg.merchantId, storeCode, result);

  // Codes to take down: removed items' codes, old codes of items whose code changed, and stray
  // codes (another item's label left under a code this item holds) — never a code some item in
  // this batch is about to show. A code another item has claimed since is not deleted (its label
  // is, or will be, on the shelf under it); it is handed to that item instead.
  const wanted = new Set(upserts.map((u) => u.label.pc));
  const handled = [...removals, ...upserts.map((u) => u.record), ...cleanups];
  const leaving = handled
    .flatMap((r) => [
      ...(r.pushedPc === undefined || r.status === 'invalid' ? [] : [{ itemId: r.itemId, pc: r.pushedPc }]),
      ...(r.strayPcs ?? []).map((pc) => ({ itemId: r.itemId, pc })),
    ])
    .filter((x) => !wanted.has(x.pc));
  const parallel = deps.settings.storeWriteConcurrency;
  const codes = await codesToDelete(deps, msg.merchantId, leaving);

  // Recorded before the delete: if the work stops after it, these items are pushed again.
  const losing = handled.filter((r) => r.pushedPc !== undefined && codes.includes(r.pushedPc));
  await forEachLimited(losing, parallel, (r) => deps.products.markLabelLeaving(msg.merchantId, r.itemId));
  await hipoink.deleteCodes(codes);
  await forEachLimited(removals, parallel, async (r) => {
    await deps.products.markPushed(msg.merchantId, r.itemId, { removed: true });
    result.removed++;
  });

  const size = deps.settings.hipoinkChunkSize;
  for (let i = 0; i < upserts.length; i += size) {
    const chunk = upserts.slice(i, i + size);
    if (await hipoink.createAll(chunk.map((u) => u.label))) {
      await forEachLimited(chunk, parallel, (u) => markUpserted(deps, msg.merchantId, u, result));
    } else {
      await upsertOneByOne(deps, msg.merchantId, storeCode, chunk, result, hipoink.deleteCodes);
    }
  }
  // Every stray code is now replaced (an upsert showing it), deleted or handed on.
  await forEachLimited(
    handled.filter((r) => r.strayPcs?.length),
    parallel,
    (r) => deps.products.clearStrayCodes(msg.merchantId, r.itemId, r.strayPcs ?? []),
  );
  return result;
}

/**
 * Hipoink refused a chunk, and the request itself is fine: it does not say which product it
 * refused, so each is sent alone; one bad product is marked rejected and the others still reach the
 * shelf.
 */
async function upsertOneByOne(
  deps: PushDeps,
  merchantId: string,
  storeCode: string,
  chunk: readonly Upsert[],
  result: PushResult,
  deleteCodes: (pcs: readonly string[]) => Promise<void>,
): Promise<void> {
  for (const u of chunk) {
    const error = await refusalOf(result, () => deps.hipoink.create(storeCode, u.label));
    if (error === undefined) {
      await markUpserted(deps, merchantId, u, result);
    } else {
      result.rejected++;
      // An item taking over a code left the previous holder's label under it (its removal
      // does not delete a code someone else holds). Refused, it never replaced that label:
      // take it down rather than leave e.g. a hidden item's price on the shelf.
      // The same when the item gave the code up meanwhile and nobody holds it: its removal was
      // held back because this item was to show the code.
      // Only a label this item is known to have put there (code and content recorded) is its own.
      // Deleted before the item is marked rejected: a retry after a failure in between still
      // sees the work (a rejected item is otherwise not pushed again).
      const holder = await deps.products.codeHolder(merchantId, u.label.pc);
      if ((holder === undefined || holder === u.record.itemId) && !showsCode(u.record, u.label.pc))
        await deleteCodes([u.label.pc]);
      const reason = refusalReason(error);
      await deps.products.markRejected(merchantId, u.record.itemId, u.labelHash, reason);
      deps.onRejected?.({ merchantId, itemId: u.record.itemId, pc: u.label.pc, reason });
    }
  }
}

/**
 * Hipoink calls for one push that tell request faults from product faults. Hipoink names no
 * product in its errors, so on the first refusal requests that cannot be wrong in content are
 * sent: a product Hipoink already holds, again exactly as it accepted it, and if Hipoink refuses
 * that too, a delete of a code no product has. Both refused, the request itself is at fault (sign,
 * store code, client id): the push fails retryably with nothing marked rejected or removed, so
 * the labels follow once it is fixed. A store with nothing on the shelf yet gets the delete alone,
 * counted only when refused with the same error (a refusal to delete an unknown code is another).
 */
function refusalAware(deps: PushDeps, merchantId: string, storeCode: string, result: PushResult) {
  let requestChecked = false;
  const deleteNothing = () => deps.hipoink.deleteMultiple(storeCode, [PROBE_CODE]);
  /** Whether Hipoink refuses requests that cannot be wrong in content, as it refused `refusal`. */
  const requestRefused = async (refusal: HipoinkRejectedError): Promise<boolean> => {
    const shown = (await deps.products.findShown(merchantId))?.label;
    if (shown) {
      if ((await refusalOf(result, () => deps.hipoink.create(storeCode, shown))) === undefined) return false;
      // Hipoink may come to refuse a product it once accepted: that alone does not blame the request.
      return (await refusalOf(result, deleteNothing)) !== undefined;
    }
    const refused = await refusalOf(result, deleteNothing);
    return refused !== undefined && String(refused.errorCode) === String(refusal.errorCode);
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
     * Deletes codes in chunks. A refused chunk is retried code by code, and a code Hipoink refuses
     * to delete is reported and passed over, so it cannot hold back the rest of the message.
     */
    async deleteCodes(pcs: readonly string[]) {
      for (let i = 0; i < pcs.length; i += size) {
        const chunk = pcs.slice(i, i + size);
        const refusal = await refusalOf(result, () => deps.hipoink.deleteMultiple(storeCode, chunk));
        if (refusal === undefined) continue;
        await assertRequestAccepted(refusal);
        for (const pc of chunk) {
          const single = await refusalOf(result, () => deps.hipoink.deleteMultiple(storeCode, [pc]));
          if (single) deps.onRemovalRefused?.({ storeCode, pc, reason: refusalReason(single) });
        }
      }
    },
  };
}

/**
 * Which leaving codes to delete. A code nobody else claims goes. A code another item claims stays
 * when that item is to show it: already showing it, its label replaced the old one; not yet, the
 * code is handed to it (`strayPcs`), so its push replaces the old label, or deletes it if the item
 * gives the code up first. A claim whose holder does not mean to show the code is stale: the
 * code goes.
 */
async function codesToDelete(
  deps: PushDeps,
  merchantId: string,
  leaving: ReadonlyArray<{ itemId: string; pc: string }>,
): Promise<string[]> {
  const holders = new Array<string | undefined>(leaving.length);
  await forEachLimited(leaving, deps.settings.storeWriteConcurrency, async ({ pc }, i) => {
    holders[i] = await deps.products.codeHolder(merchantId, pc);
  });
  const others = [
    ...new Set(holders.filter((h, i): h is string => h !== undefined && h !== leaving[i]?.itemId)),
  ];
  const holderRecords = new Map((await deps.products.get(merchantId, others)).map((r) => [r.itemId, r]));
  const codes = new Set<string>();
  for (const [i, { itemId, pc }] of leaving.entries()) {
    const holder = holders[i];
    const record = holder === undefined || holder === itemId ? undefined : holderRecords.get(holder);
    const meantToShow = record?.status === 'active' && record.label?.pc === pc;
    if (!record || !meantToShow) {
      codes.add(pc);
      continue;
    }
    if (!showsCode(record, pc)) await deps.products.addStrayCode(merchantId, record.itemId, pc);
  }
  return [...codes];
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

async function markUpserted(deps: PushDeps, merchantId: string, u: Upsert, result: PushResult) {
  await deps.products.markPushed(merchantId, u.record.itemId, { pc: u.label.pc, labelHash: u.labelHash });
  result.upserted++;
}
