import type { SyncSettings } from '../config.ts';
import { HipoinkRejectedError, MerchantUnavailableError } from '../errors.ts';
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

  // Codes to take down: removed items, and old codes of items whose code changed — but never a
  // code some item in this batch is about to show, nor one another item has claimed since (its
  // label is on the shelf under that code now; a late removal must not take it down).
  const wanted = new Set(upserts.map((u) => u.label.pc));
  const leaving = [
    ...removals.map((r) => ({ itemId: r.itemId, pc: r.pushedPc })),
    ...upserts.map((u) => ({ itemId: u.record.itemId, pc: u.record.pushedPc })),
  ].filter((x): x is { itemId: string; pc: string } => x.pc !== undefined && !wanted.has(x.pc));
  const parallel = deps.settings.storeWriteConcurrency;
  const free = new Array<string | undefined>(leaving.length);
  await forEachLimited(leaving, parallel, async ({ itemId, pc }, i) => {
    const holder = await deps.products.codeHolder(msg.merchantId, pc);
    if (holder === undefined || holder === itemId) free[i] = pc;
  });
  const codes = [...new Set(free.filter((pc): pc is string => pc !== undefined))];
  const size = deps.settings.hipoinkChunkSize;
  const deleteCodes = async (pcs: readonly string[]) => {
    for (let i = 0; i < pcs.length; i += size) {
      result.hipoinkCalls++;
      await deps.hipoink.deleteMultiple(storeCode, pcs.slice(i, i + size));
    }
  };

  await deleteCodes(codes);
  await forEachLimited(removals, parallel, async (r) => {
    await deps.products.markPushed(msg.merchantId, r.itemId, { removed: true });
    result.removed++;
  });

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
      // Hipoink refused the chunk without saying which product: send them one by one so one bad
      // product is marked rejected and the others still reach the shelf.
      for (const u of chunk) {
        try {
          result.hipoinkCalls++;
          await deps.hipoink.create(storeCode, u.label);
          await markUpserted(deps, msg.merchantId, u, result);
        } catch (single) {
          if (!(single instanceof HipoinkRejectedError)) throw single;
          result.rejected++;
          // An item taking over a code left the previous holder's label under it (its removal
          // does not delete a code someone else holds). Refused, it never replaced that label:
          // take it down rather than leave e.g. a hidden item's price on the shelf.
          const holder = await deps.products.codeHolder(msg.merchantId, u.label.pc);
          if (holder === u.record.itemId && u.record.pushedPc !== u.label.pc) orphaned.push(u.label.pc);
          const reason = single.errorMsg || `error_code ${single.errorCode}`;
          await deps.products.markRejected(msg.merchantId, u.record.itemId, u.labelHash, reason);
          deps.onRejected?.({ merchantId: msg.merchantId, itemId: u.record.itemId, pc: u.label.pc, reason });
        }
      }
    }
  }
  await deleteCodes(orphaned);
  return result;
}

async function markUpserted(deps: PushDeps, merchantId: string, u: Upsert, result: PushResult) {
  await deps.products.markPushed(merchantId, u.record.itemId, { pc: u.label.pc, labelHash: u.labelHash });
  result.upserted++;
}
