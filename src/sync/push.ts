import type { SyncSettings } from '../config.ts';
import { HipoinkRejectedError, HipoinkRequestRefusedError, MerchantUnavailableError } from '../errors.ts';
import type { HipoinkClient } from '../hipoink/client.ts';
import type { HipoinkProduct } from '../hipoink/fields.ts';
import type { MerchantStore } from '../store/merchants.ts';
import { type ProductRecord, type ProductStore, pushNeed } from '../store/products.ts';
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
  for (const record of records) {
    const need = pushNeed(record, { retryRejected: msg.retryRejected === true });
    if (need === 'upsert' && record.label && record.labelHash) {
      upserts.push({ record, label: record.label, labelHash: record.labelHash });
    } else if (need === 'remove') {
      removals.push(record);
    }
  }

  // Codes to take down: removed items' codes, old codes of items whose code changed, and stray
  // codes (another item's label left under a code this item holds) — never a code some item in
  // this batch is about to show. A code another item has claimed since is not deleted (its label
  // is, or will be, on the shelf under it); it is handed to that item instead.
  const wanted = new Set(upserts.map((u) => u.label.pc));
  const handled = [...removals, ...upserts.map((u) => u.record)];
  const leaving = handled
    .flatMap((r) => [
      ...(r.pushedPc === undefined ? [] : [{ itemId: r.itemId, pc: r.pushedPc, own: true }]),
      ...(r.strayPcs ?? []).map((pc) => ({ itemId: r.itemId, pc, own: false })),
    ])
    .filter((x) => !wanted.has(x.pc));
  const parallel = deps.settings.storeWriteConcurrency;
  const holders = new Array<string | undefined>(leaving.length);
  await forEachLimited(leaving, parallel, async ({ pc }, i) => {
    holders[i] = await deps.products.codeHolder(msg.merchantId, pc);
  });
  const codes = new Set<string>();
  const handOver = new Map<string, Set<string>>();
  leaving.forEach(({ itemId, pc }, i) => {
    const holder = holders[i];
    if (holder === undefined || holder === itemId) codes.add(pc);
    else handOver.set(holder, (handOver.get(holder) ?? new Set()).add(pc));
  });
  await handOverCodes(deps, msg.merchantId, handOver);

  // Recorded before the delete: if the work stops after it, these items are pushed again.
  const losing = handled.filter((r) => r.pushedPc !== undefined && codes.has(r.pushedPc));
  await forEachLimited(losing, parallel, (r) => deps.products.markLabelLeaving(msg.merchantId, r.itemId));
  await deleteCodes(deps, storeCode, [...codes], result);
  await forEachLimited(removals, parallel, async (r) => {
    await deps.products.markPushed(msg.merchantId, r.itemId, { removed: true });
    result.removed++;
  });

  const size = deps.settings.hipoinkChunkSize;
  const orphaned: string[] = [];
  for (let i = 0; i < upserts.length; i += size) {
    const chunk = upserts.slice(i, i + size);
    try {
      result.hipoinkCalls++;
      await deps.hipoink.createMultiple(
        storeCode,
        chunk.map((u) => u.label),
      );
      await forEachLimited(chunk, parallel, (u) => markUpserted(deps, msg.merchantId, u, result));
    } catch (err) {
      if (!(err instanceof HipoinkRejectedError)) throw err;
      orphaned.push(...(await upsertOneByOne(deps, msg.merchantId, storeCode, chunk, err, result)));
    }
  }
  await deleteCodes(deps, storeCode, orphaned, result);
  // Every stray code is now replaced (an upsert showing it), deleted or handed on.
  await forEachLimited(
    handled.filter((r) => r.strayPcs?.length),
    parallel,
    (r) => deps.products.clearStrayCodes(msg.merchantId, r.itemId, r.strayPcs ?? []),
  );
  return result;
}

/**
 * Hipoink refused a chunk without saying which product: each is sent alone, so one bad product is
 * marked rejected and the others still reach the shelf. When every product is refused alone too,
 * with the chunk's own error, the request is at fault (sign, store code), not the products.
 * Returns codes to take down: see below.
 */
async function upsertOneByOne(
  deps: PushDeps,
  merchantId: string,
  storeCode: string,
  chunk: readonly Upsert[],
  chunkError: HipoinkRejectedError,
  result: PushResult,
): Promise<string[]> {
  const refused: Array<{ u: Upsert; error: HipoinkRejectedError }> = [];
  for (const u of chunk) {
    try {
      result.hipoinkCalls++;
      await deps.hipoink.create(storeCode, u.label);
      await markUpserted(deps, merchantId, u, result);
    } catch (single) {
      if (!(single instanceof HipoinkRejectedError)) throw single;
      refused.push({ u, error: single });
    }
  }
  const sameAsChunk = (e: HipoinkRejectedError) =>
    String(e.errorCode) === String(chunkError.errorCode) && e.errorMsg === chunkError.errorMsg;
  if (chunk.length > 1 && refused.length === chunk.length && refused.every((r) => sameAsChunk(r.error))) {
    throw new HipoinkRequestRefusedError(
      `Hipoink refused all ${chunk.length} products with the same error (${chunkError.errorMsg || `error_code ${chunkError.errorCode}`}); check the sign, store code and client id`,
      { merchantId, storeCode },
    );
  }
  const orphaned: string[] = [];
  for (const { u, error } of refused) {
    result.rejected++;
    // An item taking over a code left the previous holder's label under it (its removal
    // does not delete a code someone else holds). Refused, it never replaced that label:
    // take it down rather than leave e.g. a hidden item's price on the shelf.
    const holder = await deps.products.codeHolder(merchantId, u.label.pc);
    if (holder === u.record.itemId && u.record.pushedPc !== u.label.pc) orphaned.push(u.label.pc);
    const reason = error.errorMsg || `error_code ${error.errorCode}`;
    await deps.products.markRejected(merchantId, u.record.itemId, u.labelHash, reason);
    deps.onRejected?.({ merchantId, itemId: u.record.itemId, pc: u.label.pc, reason });
  }
  return orphaned;
}

/**
 * Deletes codes in chunks. A refused chunk is retried code by code, and a code Hipoink refuses to
 * delete is reported and passed over (most likely it holds no such product any more), so it
 * cannot hold back the rest of the message.
 */
async function deleteCodes(deps: PushDeps, storeCode: string, pcs: readonly string[], result: PushResult) {
  const size = deps.settings.hipoinkChunkSize;
  for (let i = 0; i < pcs.length; i += size) {
    const chunk = pcs.slice(i, i + size);
    try {
      result.hipoinkCalls++;
      await deps.hipoink.deleteMultiple(storeCode, chunk);
    } catch (err) {
      if (!(err instanceof HipoinkRejectedError)) throw err;
      for (const pc of chunk) {
        try {
          result.hipoinkCalls++;
          await deps.hipoink.deleteMultiple(storeCode, [pc]);
        } catch (single) {
          if (!(single instanceof HipoinkRejectedError)) throw single;
          deps.onRemovalRefused?.({
            storeCode,
            pc,
            reason: single.errorMsg || `error_code ${single.errorCode}`,
          });
        }
      }
    }
  }
}

/** Codes another item now holds go to that item, unless its own label is already under them. */
async function handOverCodes(deps: PushDeps, merchantId: string, handOver: Map<string, Set<string>>) {
  if (handOver.size === 0) return;
  const holders = await deps.products.get(merchantId, [...handOver.keys()]);
  for (const holder of holders) {
    for (const pc of handOver.get(holder.itemId) ?? []) {
      if (holder.pushedPc === pc && holder.pushedLabelHash !== undefined) continue;
      await deps.products.addStrayCode(merchantId, holder.itemId, pc);
    }
  }
}

async function markUpserted(deps: PushDeps, merchantId: string, u: Upsert, result: PushResult) {
  await deps.products.markPushed(merchantId, u.record.itemId, { pc: u.label.pc, labelHash: u.labelHash });
  result.upserted++;
}
