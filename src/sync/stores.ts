/**
 * An operator's changes to where a merchant's labels live: moving them to another Hipoink store,
 * and removing a merchant. Both go through the push queue, so Hipoink is only ever called by the
 * push consumer (which holds the sign) and never at the same time as another push of that store.
 */
import { isOutOfStep, ownerOf } from '../domain/shelf.ts';
import { BEING_REMOVED, beingRemoved } from '../domain/stores.ts';
import { MerchantUnavailableError, UnusableMerchantRecordError } from '../errors.ts';
import type { QueueSender } from '../queues/sqs.ts';
import type { MerchantRecord, MerchantStore } from '../store/merchants.ts';
import type { ShelfStore } from '../store/shelf.ts';
import type { BackfillRequest } from './messages.ts';
import { pushMessages } from './poll/queue.ts';

export interface StoreChangeDeps {
  merchants: Pick<MerchantStore, 'get' | 'setState' | 'beginMove' | 'endMove' | 'remove'>;
  shelf: Pick<ShelfStore, 'listSlots' | 'forget' | 'beginCalls' | 'noteClear' | 'clearState'>;
  pushQueue: QueueSender;
  /** Queues a full resync (the Backfill function). */
  backfill: (request: BackfillRequest) => Promise<unknown>;
  /** Resolves once the merchant's polls and pushes queued so far are done (a queue barrier). */
  settled: (merchantId: string) => Promise<void>;
  hipoinkChunkSize: number;
  /** Told what is happening, step by step. */
  progress?: (line: string) => void;
}

async function mustGet(deps: StoreChangeDeps, merchantId: string): Promise<MerchantRecord> {
  const m = await deps.merchants.get(merchantId);
  if (!m) throw new MerchantUnavailableError('Unknown merchant', { merchantId });
  return m;
}

/** Throws unless the merchant is still disabled for its removal: an operator may have enabled it. */
async function stillBeingRemoved(deps: StoreChangeDeps, merchantId: string) {
  const m = await deps.merchants.get(merchantId);
  if (m && !beingRemoved(m))
    throw new Error(
      `merchant ${merchantId} was enabled while being removed (it is ${m.state}): not removed; ` +
        'run the same command again to remove it',
    );
}

/** Every code whose label may be in the merchant's store now: held, or under a call not answered. */
async function codesOnShelf(deps: StoreChangeDeps, merchantId: string) {
  const slots = await deps.shelf.listSlots(merchantId);
  return slots.filter((s) => s.held || s.unsure).map((s) => s.code);
}

/** What a store left was told: how many codes Hipoink deleted there, and refused to delete. */
export interface Cleared {
  storeCode: string;
  deleted: number;
  refused: number;
  /** The codes Hipoink refused to delete: their labels still show there. */
  refusedCodes: string[];
}

/**
 * Takes these codes off Hipoink store `storeCode` through the push queue. Throws, before the caller
 * forgets anything, unless the push had Hipoink's answer for every code: a push that ended in the
 * dead-letter queue leaves its codes pending. A code Hipoink refuses to delete is answered (and
 * reported by the push), as in any push.
 */
async function clearStore(
  deps: StoreChangeDeps,
  merchantId: string,
  storeCode: string,
  codes: string[],
): Promise<Cleared> {
  await deps.shelf.noteClear(merchantId, storeCode, codes);
  await deps.pushQueue.send(pushMessages(merchantId, codes, deps.hipoinkChunkSize, { clearFrom: storeCode }));
  await deps.settled(merchantId);
  const { pending, refused } = await deps.shelf.clearState(merchantId, storeCode);
  if (pending.length > 0)
    throw new Error(
      `store ${storeCode} has not deleted ${pending.length} of ${codes.length} code(s): the push deleting ` +
        'them failed (esl-sync dlq list says why). Fix the cause (a store Hipoink does not know, a mistyped ' +
        'store code moved back from, is created in Hipoink first), then run the same command again',
    );
  return {
    storeCode,
    deleted: codes.length - refused.length,
    refused: refused.length,
    refusedCodes: refused,
  };
}

/**
 * Sends again the deletes Hipoink refused in store `storeCode`, one the merchant moved away from
 * (a product bound to a label, say, that staff have since unbound). Not its own store, nor one a
 * move has still to empty (running the move again does that).
 */
export async function retryRefusedClears(
  deps: StoreChangeDeps,
  merchantId: string,
  storeCode: string,
): Promise<Cleared> {
  const m = await mustGet(deps, merchantId);
  if (storeCode === m.storeCode)
    throw new Error(
      `store ${storeCode} is where merchant ${merchantId} shows its labels: nothing is cleared there`,
    );
  if (storeCode === m.movingFrom)
    throw new Error(
      `merchant ${merchantId} is still moving from store ${storeCode}: run the move again ` +
        `(merchants assign ${merchantId} --store-code ${m.storeCode}) to empty it`,
    );
  const { refused } = await deps.shelf.clearState(merchantId, storeCode);
  if (refused.length === 0) return { storeCode, deleted: 0, refused: 0, refusedCodes: [] };
  return clearStore(deps, merchantId, storeCode, refused);
}

/**
 * How many codes keep the new store from taking over once the queued work is done: codes out of
 * step, and codes the old store showed (`shown`) for which the new store holds nothing because it
 * refused the owner's labels. A routine poll may have just changed some: they get a few rounds.
 */
async function behindAfterSettling(deps: StoreChangeDeps, merchantId: string, shown: ReadonlySet<string>) {
  let behind = 0;
  for (let round = 0; round < 3; round++) {
    await deps.settled(merchantId);
    const slots = await deps.shelf.listSlots(merchantId);
    const lost = (s: (typeof slots)[number]) => shown.has(s.code) && ownerOf(s) !== undefined && !s.held;
    behind = slots.filter((s) => isOutOfStep(s) || lost(s)).length;
    if (behind === 0) break;
  }
  return behind;
}

/**
 * Moves a merchant's labels to store `to`. The codes its labels are under are noted first; the new
 * store then receives every label (a full resync sending every label again), and only once no code
 * is left out of step is the old store emptied of the noted codes, so the new store is never
 * without labels and nothing is left behind. A move cut short is finished by running it again.
 */
export async function moveStore(deps: StoreChangeDeps, merchantId: string, to: string) {
  const m = await mustGet(deps, merchantId);
  // A third store would take the place of the one still to be emptied, which would then never be.
  if (m.movingFrom !== undefined && to !== m.storeCode && to !== m.movingFrom)
    throw new Error(
      `merchant ${merchantId} is still moving from store ${m.movingFrom} to store ${m.storeCode}: ` +
        `finish that move (--store-code ${m.storeCode}) or move back (--store-code ${m.movingFrom}) first`,
    );
  const from = m.storeCode === to ? m.movingFrom : m.storeCode;
  if (from === undefined || from === to) return { from, to, moved: false as const };
  if (m.state !== 'active')
    throw new MerchantUnavailableError(`Merchant is ${m.state}: only an active merchant's labels move`, {
      merchantId,
    });
  const changed = `merchant ${merchantId} changed store meanwhile; see merchants show ${merchantId}`;
  const before = m.storeCode === to ? (m.movingCodes ?? []) : await codesOnShelf(deps, merchantId);
  if (!(await deps.merchants.beginMove(merchantId, from, to, before))) throw new Error(changed);
  // A push that read the old store code before the move began may still add labels there: once it
  // is done, what the old store may show is noted again, for good.
  await deps.settled(merchantId);
  const noted = [...new Set([...before, ...(await codesOnShelf(deps, merchantId))])];
  if (!(await deps.merchants.beginMove(merchantId, from, to, noted))) throw new Error(changed);
  // What is recorded as held is the old store's: each code stays out of step until a push records
  // what the new store holds, so a push lost on the way shows as a code left behind. Moving back,
  // the codes it showed before are too: a code nobody wants any more is deleted there.
  const showedBefore = to === m.movingFrom ? (m.movingCodes ?? []) : [];
  await deps.shelf.beginCalls(merchantId, [...noted, ...showedBefore]);
  deps.progress?.(`sending every label to store ${to}`);
  await deps.backfill({ merchantId, repush: true });
  const behind = await behindAfterSettling(deps, merchantId, new Set(noted));
  if (behind > 0)
    throw new Error(
      `store ${to} has not received every label yet (${behind} code(s) out of step or refused there); ` +
        `store ${from} keeps its labels. Fix the cause (status, dlq list), then run the same command again`,
    );
  deps.progress?.(`emptying store ${from}`);
  const cleared = await clearStore(deps, merchantId, from, noted);
  await deps.merchants.endMove(merchantId);
  return { from, to, moved: true as const, cleared };
}

/**
 * Offboards a merchant: it stops syncing at once; with `removeLabels` its labels leave its Hipoink
 * store (and a store a move cut short left behind); then its items, slots and record (its tokens,
 * the previous refresh token included) are deleted. Kept: the labels (without `removeLabels`) and
 * the app's installation in Clover.
 */
export async function removeMerchant(
  deps: StoreChangeDeps,
  merchantId: string,
  opts: { removeLabels: boolean },
) {
  const m = await mustGet(deps, merchantId).catch((err: unknown) => {
    if (!(err instanceof UnusableMerchantRecordError)) throw err;
    if (opts.removeLabels)
      throw new UnusableMerchantRecordError(
        `${err.message}. Which store holds its labels cannot be read: without --remove-labels, ` +
          'it is deleted and its labels stay',
        { merchantId },
      );
    return undefined;
  });
  if (m === undefined) {
    // A record nothing can sync must not stay for good: it goes, with its items and slots.
    await deps.shelf.forget(merchantId);
    await deps.merchants.remove(merchantId);
    return { storeCode: undefined, cleared: [], unreadable: true };
  }
  if (!(await deps.merchants.setState(merchantId, 'disabled', BEING_REMOVED)))
    throw new MerchantUnavailableError('Unknown merchant (removed meanwhile)', { merchantId });
  // A poll already running may still queue pushes: they land before the labels are taken down.
  await deps.settled(merchantId);
  const cleared: Cleared[] = [];
  if (opts.removeLabels && m.storeCode !== undefined) {
    deps.progress?.(`taking its labels off store ${m.storeCode}`);
    const codes = await codesOnShelf(deps, merchantId);
    // A clear that deleted nothing because the merchant was enabled meanwhile is no failed push.
    const own = await clearStore(deps, merchantId, m.storeCode, codes).catch(async (err: unknown) => {
      await stillBeingRemoved(deps, merchantId);
      throw err;
    });
    cleared.push(own);
  }
  if (opts.removeLabels && m.movingFrom !== undefined)
    cleared.push(await clearStore(deps, merchantId, m.movingFrom, m.movingCodes ?? []));
  // Enabled meanwhile (to keep the store after all), it stays, and its resync restores its labels.
  await stillBeingRemoved(deps, merchantId);
  await deps.shelf.forget(merchantId);
  await deps.merchants.remove(merchantId);
  return { storeCode: m.storeCode, cleared, unreadable: false };
}
