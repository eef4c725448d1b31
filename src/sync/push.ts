import { chunked } from '../chunked.ts';
import type { SyncSettings } from '../config.ts';
import { addCounts, countChange, NO_COUNTS, slotCounts } from '../domain/counts.ts';
import { ownerOf, type Slot, type SlotAction, slotAction } from '../domain/shelf.ts';
import { clearMayDelete } from '../domain/stores.ts';
import { HipoinkRequestRefusedError, MerchantUnavailableError } from '../errors.ts';
import type { MerchantRecord, MerchantStore } from '../store/merchants.ts';
import type { ShelfStore } from '../store/shelf.ts';
import { type CallsContext, hipoinkCalls } from './hipoink-calls.ts';
import type { PushMessage } from './messages.ts';
import { forEachLimited } from './parallel.ts';

export interface PushDeps extends Pick<CallsContext, 'hipoink' | 'onRemovalRefused'> {
  merchants: Pick<MerchantStore, 'get' | 'addShelfCounts' | 'passBarrier' | 'recordPush'>;
  shelf: ShelfStore;
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
  /** Why nothing was pushed: the merchant is no longer there (removed since the push was queued). */
  skipped?: string;
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
  const nothing = { merchantId, storeCode: '', upserted: 0, removed: 0, rejected: 0, hipoinkCalls: 0 };
  if (msg.barrier !== undefined) {
    await deps.merchants.passBarrier(merchantId, msg.barrier);
    return nothing;
  }
  const merchant = await deps.merchants.get(merchantId);
  // Removed since (a letter redriven later): its records went with it, and nothing is left to push,
  // so the push is dropped as its polls are, not set aside for someone to discard.
  if (!merchant) return { ...nothing, skipped: 'unknown merchant' };
  const { storeCode } = merchant;
  // Only a pending merchant has none, and pending merchants are never polled: nothing to push.
  if (storeCode === undefined)
    throw new MerchantUnavailableError('Merchant has no store code yet (pending)', { merchantId });
  // Whether the store's own labels reach Hipoink shows on it (status, the MerchantsPushFailing
  // alarm); a clear of a store it left is the move's or removal's to report.
  const ownStore = msg.clearFrom === undefined || msg.clearFrom === storeCode;
  let result: PushResult;
  try {
    result = await pushMerchant(deps, merchant, storeCode, msg);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (ownStore) await deps.merchants.recordPush(merchantId, why).catch(() => undefined);
    throw err;
  }
  // Only a push Hipoink answered shows it takes this store's requests again.
  if (ownStore && merchant.lastPushError !== undefined && result.hipoinkCalls > 0)
    await deps.merchants.recordPush(merchantId, undefined).catch(() => undefined);
  return result;
}

/** The push of one merchant's codes, its record read. */
async function pushMerchant(
  deps: PushDeps,
  merchant: MerchantRecord,
  storeCode: string,
  msg: PushMessage,
): Promise<PushResult> {
  const { merchantId } = merchant;
  const result: PushResult = { merchantId, storeCode, upserted: 0, removed: 0, rejected: 0, hipoinkCalls: 0 };
  const calls = (store: string, knownHeld: CallsContext['knownHeld']) =>
    hipoinkCalls({ ...deps, merchantId, storeCode: store, result, knownHeld });
  if (msg.clearFrom !== undefined) {
    // A store this merchant leaves: the codes still noted to delete there go, and a probe there may
    // only delete. The answers are recorded, so the operator's command knows the store was cleared.
    if (!clearMayDelete(merchant, msg.clearFrom)) return { ...result, storeCode: msg.clearFrom };
    const pending = new Set((await deps.shelf.clearState(merchantId, msg.clearFrom)).pending);
    const codes = msg.codes.filter((code) => pending.has(code));
    // In its own store (it is being removed) the slots no longer say what Hipoink holds: noted as
    // under a call, they are pushed again should the operator keep the merchant after all.
    if (msg.clearFrom === storeCode) await deps.shelf.beginCalls(merchantId, codes);
    const kept = await calls(msg.clearFrom, async () => undefined).deleteCodes(codes);
    await deps.shelf.clearAnswered(merchantId, msg.clearFrom, codes, [...kept]);
    return { ...result, storeCode: msg.clearFrom, removed: codes.length - kept.size };
  }

  const creates: Create[] = [];
  const deletes: string[] = [];
  const slots = await deps.shelf.getSlots(merchantId, msg.codes);
  for (const slot of slots) {
    const action = slotAction(slot, msg);
    if (action.kind === 'create') creates.push({ slot, ...action });
    else if (action.kind === 'delete') deletes.push(slot.code);
  }
  // The probe resends a label Hipoink is known to hold: preferably under a code this push creates
  // anyway (as now recorded), otherwise under one with no call under way (it may differ unseen).
  const hipoink = calls(storeCode, async () => {
    const codes = creates.map((c) => c.slot.code);
    const creating = (await deps.shelf.getSlots(merchantId, codes)).find((s) => s.held);
    if (creating) return creating.held?.label;
    return (await deps.shelf.listSlots(merchantId)).find((s) => s.held && !s.unsure)?.held?.label;
  });
  let shelfChange = { ...NO_COUNTS };
  /** Codes whose calls are answered and recorded: no longer unsure. */
  const settled: string[] = [];
  /**
   * What is settled so far moves the store's counts and is sure. Done after the deletes and after
   * each chunk of creates, not only at the end: a push that Lambda stops at its timeout does not run
   * `finally`, and its redo then starts after the last chunk done instead of sending the whole
   * message again, never finishing.
   */
  const checkpoint = async () => {
    const [change, codes] = [shelfChange, settled.splice(0)];
    shelfChange = { ...NO_COUNTS };
    await deps.merchants.addShelfCounts(merchantId, change);
    await deps.shelf.endCalls(merchantId, codes);
  };
  const settle = async (code: string, { held, refused }: Pick<Slot, 'held' | 'refused'>) => {
    const before = await deps.shelf.settleSlot(merchantId, code, { held, refused });
    if (before)
      addCounts(shelfChange, countChange(slotCounts(before), slotCounts({ ...before, held, refused })));
    settled.push(code);
  };
  const parallel = deps.settings.storeWriteConcurrency;
  const shown = async (c: Create) => {
    await settle(c.slot.code, { held: { label: c.label, labelHash: c.labelHash, itemId: c.itemId } });
    result.upserted++;
  };
  /**
   * Sends one label of a chunk Hipoink refused, alone. Should Hipoink refuse it too, a refused label
   * never leaves another item's price showing: the owner's last label Hipoink accepted stays (sent
   * again where a call may have changed it unseen); anything else under the code comes down, unless
   * a poll gave the code to another label meanwhile (the push it queued shows that one instead). A
   * delete Hipoink refuses there leaves the slot for a later push.
   */
  const createAlone = async (c: Create) => {
    const reason = await hipoink.createOne(c.label);
    if (reason === undefined) return shown(c);
    let own = c.slot.held?.itemId === c.itemId ? c.slot.held : undefined;
    if (own && c.slot.unsure && (await hipoink.createOne(own.label)) !== undefined) own = undefined;
    if (!own && (c.slot.held || c.slot.unsure)) {
      const [current] = await deps.shelf.getSlots(merchantId, [c.slot.code]);
      if (current && ownerOf(current)?.labelHash !== c.labelHash) return;
      if ((await hipoink.deleteCodes([c.slot.code])).size > 0) return;
    }
    await settle(c.slot.code, { held: own, refused: { labelHash: c.labelHash, reason, itemId: c.itemId } });
    result.rejected++;
    deps.onRejected?.({ merchantId, itemId: c.itemId, pc: c.slot.code, reason });
  };
  /** The chunk of creates under way (none while deleting). */
  let chunk: Create[] = [];
  try {
    // Noted before each call: a call carried out without its answer recorded leaves its codes unsure.
    await deps.shelf.beginCalls(merchantId, deletes);
    // A code Hipoink refused to delete stays as it is, out of step: the repair tries it again.
    const kept = await hipoink.deleteCodes(deletes);
    const gone = deletes.filter((code) => !kept.has(code));
    await forEachLimited(gone, parallel, (code) => settle(code, {}));
    result.removed = gone.length;
    await checkpoint();
    for (chunk of chunked(creates, deps.settings.hipoinkChunkSize)) {
      const codes = chunk.map((c) => c.slot.code);
      await deps.shelf.beginCalls(merchantId, codes);
      if (await hipoink.createAll(chunk.map((c) => c.label))) await forEachLimited(chunk, parallel, shown);
      else for (const c of chunk) await createAlone(c);
      await checkpoint();
    }
  } catch (err) {
    // Hipoink refused the request itself (sign, store code): answered, and nothing was done, so
    // a code of the chunk under way sure to hold nothing before the call (as read at the start)
    // still does. A store code Hipoink never knew then holds no code it may show, and a move away
    // from it has nothing to delete there. Only those: a code recorded as held may have been noted
    // unsure meanwhile by another (a repush, a move), and ending the call would drop that note; a
    // code deleted may hold something (that is why it is deleted), and a delete's earlier chunk
    // Hipoink took holds nothing any more. Left unsure, such a code costs one call more.
    if (err instanceof HipoinkRequestRefusedError)
      settled.push(...chunk.filter((c) => !c.slot.unsure && !c.slot.held).map((c) => c.slot.code));
    throw err;
  } finally {
    // Also when the push failed halfway (a code left noted costs one call more; counts lost when
    // Lambda stops it stay wrong until the store is next counted afresh).
    await checkpoint();
  }
  return result;
}
