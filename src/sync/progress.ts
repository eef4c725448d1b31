/**
 * How far one store has got with work an operator asked for (a backfill, new label rules, a store
 * code), read from that store's own records only: its merchant record says whether a poll finished
 * after the request, and its slots say which codes are still to push. Waiting this way never
 * depends on other stores' traffic in the shared queues.
 */

import { isOutOfStep } from '../domain/shelf.ts';
import type { MerchantRecord, MerchantStore } from '../store/merchants.ts';
import type { ShelfStore } from '../store/shelf.ts';

export interface ProgressDeps {
  merchants: Pick<MerchantStore, 'get'>;
  shelf: Pick<ShelfStore, 'listSlots'>;
}

/** What was asked, and when (Unix ms, the clock the functions record with). */
export interface SyncRequest {
  at: number;
  /** A full sync (backfill): only a full sync finished after `at` counts. */
  full: boolean;
}

export interface StoreProgress {
  merchantId: string;
  /** Why this store cannot finish (removed, not active): waiting for it is pointless. */
  stuck?: string;
  /** A poll (a full one, for a full sync) finished after the request. */
  polled: boolean;
  lastSyncAt?: number;
  lastSyncStatus?: MerchantRecord['lastSyncStatus'];
  lastSyncError?: string;
  /** Items the last poll read, and how many of them had changed. */
  fetched?: number;
  changed?: number;
  /** Codes whose shelf is not yet what the code rule says. */
  toPush: number;
  /** Since when the store's pushes have failed, none going through, and the last error. */
  pushFailing?: { since: number; error: string };
  /** Polled, and nothing of the store is out of step. */
  clean: boolean;
}

/** One reading of a store's progress since `request`. */
export async function readStoreProgress(
  deps: ProgressDeps,
  merchantId: string,
  request: SyncRequest,
): Promise<StoreProgress> {
  const m = await deps.merchants.get(merchantId);
  if (!m) return { merchantId, stuck: 'it was removed', polled: false, toPush: 0, clean: false };
  const finished = request.full ? m.lastFullSyncAt : m.lastSyncAt;
  const polled = finished !== undefined && finished >= request.at;
  const toPush = (await deps.shelf.listSlots(merchantId)).filter((s) => isOutOfStep(s)).length;
  const progress: StoreProgress = {
    merchantId,
    polled,
    toPush,
    clean: polled && toPush === 0,
    ...(m.lastSyncAt === undefined ? {} : { lastSyncAt: m.lastSyncAt }),
    ...(m.lastSyncStatus === undefined ? {} : { lastSyncStatus: m.lastSyncStatus }),
    ...(m.lastSyncError === undefined ? {} : { lastSyncError: m.lastSyncError }),
    ...(m.lastSyncCounts ? { fetched: m.lastSyncCounts.fetched, changed: m.lastSyncCounts.changed } : {}),
    ...(m.pushFailingSince === undefined
      ? {}
      : { pushFailing: { since: m.pushFailingSince, error: m.lastPushError ?? 'unknown' } }),
  };
  // A store that is not active is never polled: its resync will not come.
  if (m.state !== 'active') progress.stuck = `it is ${m.state}${m.stateReason ? ` (${m.stateReason})` : ''}`;
  return progress;
}

/**
 * Whether a full sync of this store sends codes its slots do not show as out of step: a repush
 * sends every label, and a full sync tries refused labels again. Only the push queue being empty
 * shows those pushes done.
 */
export function fullSyncPushesSettledCodes(
  merchant: Pick<MerchantRecord, 'shelf'> | undefined,
  opts: { repush?: boolean },
): boolean {
  return opts.repush === true || (merchant?.shelf?.refused ?? 0) > 0;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Between readings (default 500 ms). */
  pollMs?: number;
  /** Every reading of the stores not yet done. */
  onProgress?: (progress: StoreProgress[]) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Resolves, with each store's last reading, once every store has shown a finished poll and nothing
 * out of step in two readings in a row (a push deletes its message just before the next one
 * starts). Throws when a store cannot finish, or at the timeout.
 */
export async function waitForStores(
  deps: ProgressDeps,
  merchantIds: readonly string[],
  request: SyncRequest,
  opts: WaitOptions,
): Promise<StoreProgress[]> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + opts.timeoutMs;
  const cleanReadings = new Map<string, number>();
  const last = new Map<string, StoreProgress>();
  for (;;) {
    const open = merchantIds.filter((id) => (cleanReadings.get(id) ?? 0) < 2);
    if (open.length === 0) return merchantIds.map((id) => last.get(id) as StoreProgress);
    const readings: StoreProgress[] = [];
    for (const id of open) {
      const p = await readStoreProgress(deps, id, request);
      if (p.stuck) throw new Error(`merchant ${id} cannot finish: ${p.stuck}`);
      cleanReadings.set(id, p.clean ? (cleanReadings.get(id) ?? 0) + 1 : 0);
      last.set(id, p);
      readings.push(p);
    }
    opts.onProgress?.(readings);
    if (merchantIds.every((id) => (cleanReadings.get(id) ?? 0) >= 2)) continue;
    if (now() >= deadline) {
      // A store clean in this reading only is still awaited: its second reading never came.
      const waiting = readings.filter((p) => (cleanReadings.get(p.merchantId) ?? 0) < 2);
      throw new Error(
        `Timed out after ${secondsText(opts.timeoutMs)}: ${waiting.map(describeAwaited).join('; ')}` +
          (waiting.some((p) => p.toPush > 0) ? ' (see status and dlq list)' : ''),
      );
    }
    await sleep(opts.pollMs ?? 500);
  }
}

/** A wait's length as the operator gave it, to the millisecond: `0.5 s`, never `1 s` or `0 s`. */
export const secondsText = (ms: number) => `${Math.round(ms) / 1000} s`;

/** What a wait that timed out still awaited of one store, in words. */
function describeAwaited(p: StoreProgress): string {
  if (!p.clean) return describeWait(p);
  return `${describeWait(p)} in the last reading only, not yet confirmed by a second (one push can end just before the next starts)`;
}

/** Where one store stands, in words. */
export function describeWait(p: StoreProgress): string {
  if (!p.polled) {
    const failed =
      p.lastSyncStatus === 'error' && p.lastSyncError ? ` (its last poll failed: ${p.lastSyncError})` : '';
    return `merchant ${p.merchantId} not polled since the request yet${failed}`;
  }
  const read =
    p.fetched === undefined ? 'polled' : `polled (fetched ${p.fetched}, changed ${p.changed ?? 0})`;
  if (p.clean) return `merchant ${p.merchantId} ${read}, every label in step`;
  // Codes still to push wait on pushes that fail: the wait may well end in its timeout.
  const failing = p.pushFailing
    ? ` (its pushes fail since ${new Date(p.pushFailing.since).toISOString()}: ${p.pushFailing.error})`
    : '';
  return `merchant ${p.merchantId} ${read}, ${p.toPush} code(s) still to push${failing}`;
}
