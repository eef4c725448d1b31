import { countShelf, NO_COUNTS } from '../../domain/counts.ts';
import type { PushFlags } from '../../domain/shelf.ts';
import { MerchantUnavailableError } from '../../errors.ts';
import type { MerchantRecord, SyncCounts } from '../../store/merchants.ts';
import { barrierPush } from '../barrier.ts';
import type { PollMessage } from '../messages.ts';
import { cleanUpGhosts, confirmGone, reconcile } from './cleanup.ts';
import { cloverSession, type PollContext, type PollDeps } from './context.ts';
import { decideCodes } from './owners.ts';
import { queuePushes } from './queue.ts';
import { listAll, readItemsSince } from './read.ts';
import { applyDrops, savePage } from './save.ts';

export type { PollDeps } from './context.ts';
export { pushMessages } from './queue.ts';

export type PollResult =
  | {
      status: 'synced';
      merchantId: string;
      mode: 'incremental' | 'full';
      counts: SyncCounts;
      cleanedUp: boolean;
      /** Set when the read stopped early (items kept moving under it); the next poll goes on from there. */
      partial?: string;
    }
  | { status: 'skipped'; merchantId: string; reason: string }
  /** No poll: a queue barrier, passed on to the push queue (src/sync/barrier.ts). */
  | { status: 'barrier'; merchantId: string };

/**
 * Polls one merchant, in phases: read the items changed since its cursor (everything on the first
 * run or a backfill without `--since`) and save them page by page; repair what an earlier poll or
 * push left out of step (on a full sync, with ghost cleanup, after a poll stopped between its
 * writes, or after a push was set aside); confirm deleted items (webhook notices, ghost cleanup
 * when due); decide the codes items newly want or owners left; queue a push of every code this
 * poll touched or found out of step; move the cursor to the newest modifiedTime actually processed.
 * On failure the cursor stays where it was.
 */
export async function pollMerchant(deps: PollDeps, msg: PollMessage): Promise<PollResult> {
  const now = deps.now ?? Date.now;
  const { merchantId } = msg;
  const skipped = (reason: string) => ({ status: 'skipped' as const, merchantId, reason });
  if (msg.barrier !== undefined) {
    await deps.pushQueue.send([barrierPush(merchantId, msg.barrier)]);
    return { status: 'barrier', merchantId };
  }
  let merchant: MerchantRecord | undefined;
  try {
    // Counted as begun before anything is read: a notice from now on queues a poll of its own.
    merchant = await deps.merchants.startPoll(merchantId);
  } catch (err) {
    // E.g. a merchant stored without a Clover token: skipped with the reason, never retried.
    if (err instanceof MerchantUnavailableError) return skipped(err.message);
    throw err;
  }
  if (!merchant) return skipped('unknown merchant');
  if (merchant.state !== 'active') return skipped(`merchant is ${merchant.state}`);

  const startedAt = now();
  const mode: 'full' | 'incremental' =
    msg.mode === 'full' || merchant.cursor === undefined ? 'full' : 'incremental';
  const counts: SyncCounts = {
    fetched: 0,
    changed: 0,
    removed: 0,
    invalid: 0,
    queuedForPush: 0,
    cloverRequests: 0,
  };
  let ctx: PollContext | undefined;
  // A full resync's pushes try refused labels again (`repush`: send every label again).
  const flags: PushFlags =
    mode === 'full' ? { retryRefused: true, ...(msg.repush ? { repush: true } : {}) } : {};
  const done = { queued: false, counted: false };
  try {
    const clover = cloverSession(deps, merchantId, counts);
    ctx = {
      deps,
      merchant,
      startedAt,
      clover,
      counts,
      read: new Set(),
      touched: new Set(),
      codesToDecide: new Set(),
      leaving: new Map(),
      shelfChange: { ...NO_COUNTS },
      readProgress: { complete: true },
    };
    // A full resync reads every item, or those modified since `msg.since` when one was given (from
    // the polls' own starting point if that is earlier: a backfill never skips what they have not
    // read yet); a merchant never synced gets everything whatever `since` says.
    const pollsFrom = lowerBound(merchant, deps.settings.overlapMs);
    const since =
      mode === 'full'
        ? merchant.cursor === undefined || msg.since === undefined
          ? undefined
          : Math.min(msg.since, pollsFrom)
        : pollsFrom;
    const progress = ctx.readProgress;
    let readUpTo: number | undefined;
    for await (const page of readItemsSince(clover.list, since, deps.settings.pageLimit, progress)) {
      counts.fetched += page.length;
      readUpTo = maxDefined(readUpTo, await savePage(ctx, page));
    }
    // A complete read moves the cursor to the newest modifiedTime processed (never backwards). A
    // read that stopped early puts it where the read verifiably got to, even below where it was,
    // so the next poll reads the rest; re-reading is cheap (content hashes).
    const cursor = progress.complete
      ? maxDefined(merchant.cursor, readUpTo)
      : (readUpTo ?? since ?? merchant.cursor);
    // Nor does such a read know who else may want a code an item left: no item leaves a code in
    // this poll (`touch`), and the store stays marked, so the next poll's repair makes the drops.

    // The repair reads every record of the store: on a full sync, with ghost cleanup, after a poll
    // stopped between its writes (records written whose slots were not), and after a push was set
    // aside in the dead-letter queue (its codes stay out of step: queued again, they follow once
    // Hipoink answers; set aside again, the next poll queues them again).
    const cleanupDue = mode === 'full' || isCleanupDue(merchant, deps.settings, startedAt);
    const repairDue =
      cleanupDue || merchant.shelfWritesUnfinished !== undefined || merchant.pushSetAsideAt !== undefined;
    const stored = repairDue ? await deps.shelf.listItems(merchantId) : undefined;
    if (stored) await reconcile(ctx, stored, flags);
    // Drops come only once every want is written: this read's, and those a stopped poll left out.
    await applyDrops(ctx);
    if (msg.confirmGone) await confirmGone(ctx, await deps.shelf.getItems(merchantId, msg.confirmGone));
    // Ghost cleanup needs a complete id listing; an incomplete one leaves it due for the next poll.
    let cleanedUp = false;
    if (stored && progress.complete && cleanupDue) {
      if (mode === 'full' && since === undefined) {
        await confirmGone(ctx, stored); // the read listed every item: those it did not are ghosts
        cleanedUp = true;
      } else {
        const listed = await listAll(clover.list, deps.settings.pageLimit);
        if (listed) await cleanUpGhosts(ctx, stored, listed);
        cleanedUp = listed !== undefined;
      }
    }
    await decideCodes(ctx);
    counts.queuedForPush = await queuePushes(ctx, flags);
    done.queued = true;
    if (stored && merchant.pushSetAsideAt !== undefined)
      await deps.merchants.pushesRequeued(merchantId, startedAt);

    // A cleanup counts the store afresh from all its records (listed again: this poll and pushes
    // beside it changed them since the repair's listing); other polls add what they changed.
    if (cleanedUp) {
      const [items, slots] = [await deps.shelf.listItems(merchantId), await deps.shelf.listSlots(merchantId)];
      await deps.merchants.setShelfCounts(merchantId, countShelf(items, slots));
    } else await deps.merchants.addShelfCounts(merchantId, ctx.shelfChange);
    done.counted = true;
    const partial = 'Clover items kept changing during the read; the rest is read on the next poll';
    const outcome = { mode, startedAt, counts, cleanedUp, ...(progress.complete ? {} : { partial }) };
    await deps.merchants.recordPoll(merchantId, {
      ...outcome,
      ...(cursor === undefined ? {} : { cursor }),
    });
    return { status: 'synced', merchantId, ...outcome };
  } catch (err) {
    // What was written before the failure still reaches the shelf now, and the counts once.
    // Refused labels are tried again; the repush itself waits for the attempt that succeeds (each
    // failed one would send the whole store again), and once it has noted its codes nothing is
    // pushed now: the push would send them all, and the retry again.
    if (ctx && !done.queued && !ctx.repushNoted)
      await queuePushes(ctx, flags.retryRefused ? { retryRefused: true } : {}).catch(() => undefined);
    if (ctx && !done.counted)
      await deps.merchants.addShelfCounts(merchantId, ctx.shelfChange).catch(() => undefined);
    const message = err instanceof Error ? err.message : String(err);
    await deps.merchants
      .recordPoll(merchantId, { mode, startedAt, counts, cleanedUp: false, error: message })
      .catch(() => undefined);
    if (err instanceof MerchantUnavailableError) return skipped(err.message);
    throw err;
  }
}

/**
 * Where the next read starts: the cursor, or further back when the last poll was recent enough
 * that an item committed late (clock skew, slow writes) could carry an older modifiedTime.
 */
export function lowerBound(
  merchant: Pick<MerchantRecord, 'cursor' | 'lastPollStartedAt'>,
  overlapMs: number,
) {
  const cursor = merchant.cursor ?? 0;
  if (merchant.lastPollStartedAt === undefined) return cursor;
  return Math.max(0, Math.min(cursor, merchant.lastPollStartedAt - overlapMs));
}

const maxDefined = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b);

function isCleanupDue(merchant: MerchantRecord, settings: PollDeps['settings'], now: number): boolean {
  if (merchant.pollsSinceCleanup + 1 >= settings.cleanupEveryPolls) return true;
  if (merchant.lastCleanupAt === undefined) return true;
  return now - merchant.lastCleanupAt >= settings.cleanupIntervalHours * 3_600_000;
}
