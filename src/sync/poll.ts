import { randomUUID } from 'node:crypto';
import type { CloverClient } from '../clover/client.ts';
import { createPacer } from '../clover/pacing.ts';
import type { ProductCodeSource, SyncSettings } from '../config.ts';
import { CloverUnauthorizedError, MerchantUnavailableError } from '../errors.ts';
import type { QueueSender } from '../queues/sqs.ts';
import type { MerchantRecord, MerchantStore, SyncCounts } from '../store/merchants.ts';
import {
  type ProductRecord,
  type ProductState,
  type ProductStore,
  pushNeed,
  showsCode,
  stateHashOf,
} from '../store/products.ts';
import type { PollMessage } from './messages.ts';
import { readItemsSince } from './pages.ts';
import { forEachLimited, groupBySharedKeys } from './parallel.ts';
import type { TokenManager } from './tokens.ts';
import { type ItemOutcome, transformItem } from './transform.ts';

export interface PollDeps {
  merchants: MerchantStore;
  products: ProductStore;
  clover: CloverClient;
  tokens: TokenManager;
  pushQueue: QueueSender;
  settings: Pick<
    SyncSettings,
    | 'pageLimit'
    | 'overlapMs'
    | 'cleanupEveryPolls'
    | 'cleanupIntervalHours'
    | 'hipoinkChunkSize'
    | 'merchantRequestsPerSecond'
    | 'storeWriteConcurrency'
  >;
  productCodePrecedence: readonly ProductCodeSource[];
  now?: () => number;
  /** Told about every item Clover sent that we could not use (recorded and skipped). */
  onInvalidItem?: (info: { merchantId: string; itemId?: string; reason: string }) => void;
}

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
  | { status: 'skipped'; merchantId: string; reason: string };

const emptyCounts = (): SyncCounts => ({
  fetched: 0,
  changed: 0,
  removed: 0,
  invalid: 0,
  queuedForPush: 0,
  cloverRequests: 0,
});

/**
 * Polls one merchant: reads items changed since its cursor (everything on the first run or a
 * backfill), stores their state, queues the ones whose label must change, and moves the cursor
 * to the newest modifiedTime actually processed. On failure the cursor stays where it was.
 */
export async function pollMerchant(deps: PollDeps, msg: PollMessage): Promise<PollResult> {
  const now = deps.now ?? Date.now;
  const { merchantId } = msg;
  let merchant: MerchantRecord | undefined;
  try {
    merchant = await deps.merchants.get(merchantId);
  } catch (err) {
    // E.g. a merchant stored without a Clover token: skipped with the reason, never retried.
    if (err instanceof MerchantUnavailableError)
      return { status: 'skipped', merchantId, reason: err.message };
    throw err;
  }
  if (!merchant) return { status: 'skipped', merchantId, reason: 'unknown merchant' };
  if (merchant.state !== 'active')
    return { status: 'skipped', merchantId, reason: `merchant is ${merchant.state}` };

  const startedAt = now();
  const mode = msg.mode === 'full' || merchant.cursor === undefined ? 'full' : 'incremental';
  const counts = emptyCounts();
  try {
    const session = cloverSession(deps, merchantId, counts);
    // A full resync reads every item, or those modified since `msg.since` when one was given.
    // A merchant never synced gets everything whatever `since` says.
    const since =
      mode === 'full'
        ? merchant.cursor === undefined
          ? undefined
          : msg.since
        : lowerBound(merchant, deps.settings.overlapMs);
    const readEverything = mode === 'full' && since === undefined;
    const touched = new Set<string>();
    // Items refused a product code another item held, whose holder has let it go (in this poll,
    // or in an earlier one that failed before reading them again).
    const released = new Set<string>(merchant.pendingCodeRechecks ?? []);
    const seen = new Set<string>();
    const progress = { complete: true };
    let readUpTo: number | undefined;

    for await (const page of readItemsSince(
      (q) => session.call((token) => deps.clover.listItems(merchantId, token, q)),
      since,
      deps.settings.pageLimit,
      progress,
    )) {
      counts.fetched += page.length;
      const outcomes = page.map((raw) =>
        transformItem(raw, deps.productCodePrecedence, merchant.labelOptions),
      );
      for (const outcome of outcomes) {
        if (outcome.itemId) seen.add(outcome.itemId);
        if (outcome.modifiedTime !== undefined) readUpTo = Math.max(readUpTo ?? 0, outcome.modifiedTime);
      }
      for (const id of await savePage(deps, merchantId, outcomes, counts, released)) touched.add(id);
    }

    // A complete read moves the cursor to the newest modifiedTime processed (never backwards). A
    // read that stopped early puts it where the read verifiably got to, even below where it was,
    // so the next poll reads the rest; re-reading is cheap (content hashes).
    const cursor = progress.complete
      ? maxDefined(merchant.cursor, readUpTo)
      : (readUpTo ?? since ?? merchant.cursor);
    const partial = progress.complete
      ? undefined
      : 'Clover items kept changing during the read; the rest is read on the next poll';

    // Ghost cleanup needs a complete id listing; an incomplete one leaves it due for the next poll.
    let cleanedUp = false;
    if (progress.complete && (mode === 'full' || isCleanupDue(merchant, deps.settings, startedAt))) {
      const present = readEverything ? seen : await listAllIds(deps, session, merchantId);
      if (present) {
        for (const id of await removeGhosts(deps, session, merchant, present, counts, released))
          touched.add(id);
        cleanedUp = true;
      }
    }
    const rechecked = await recheckCodeWaiters(deps, session, merchant, released, counts);
    for (const id of rechecked.toQueue) touched.add(id);

    // A full sync also re-queues anything still out of step (e.g. a push that ended in the DLQ).
    const toPush =
      mode === 'full'
        ? (await deps.products.list(merchantId))
            .filter((r) => pushNeed(r, { retryRejected: true }) !== 'none')
            .map((r) => r.itemId)
        : [...touched];
    await queuePushes(deps, merchantId, toPush, mode === 'full');
    counts.queuedForPush = toPush.length;
    await deps.merchants.clearCodeRechecks(merchantId, rechecked.checked);

    await deps.merchants.recordPoll(merchantId, {
      mode,
      startedAt,
      ...(cursor === undefined ? {} : { cursor }),
      counts,
      cleanedUp,
      ...(partial === undefined ? {} : { partial }),
    });
    return {
      status: 'synced',
      merchantId,
      mode,
      counts,
      cleanedUp,
      ...(partial === undefined ? {} : { partial }),
    };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await deps.merchants
      .recordPoll(merchantId, { mode, startedAt, counts, cleanedUp: false, error: message })
      .catch(() => undefined);
    if (err instanceof MerchantUnavailableError)
      return { status: 'skipped', merchantId, reason: err.message };
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

function isCleanupDue(
  merchant: MerchantRecord,
  settings: Pick<SyncSettings, 'cleanupEveryPolls' | 'cleanupIntervalHours'>,
  now: number,
): boolean {
  if (merchant.pollsSinceCleanup + 1 >= settings.cleanupEveryPolls) return true;
  if (merchant.lastCleanupAt === undefined) return true;
  return now - merchant.lastCleanupAt >= settings.cleanupIntervalHours * 3_600_000;
}

/**
 * Clover calls for one merchant with one token, paced under Clover's per-token rate; a 401 forces
 * one refresh and one retry.
 */
function cloverSession(deps: PollDeps, merchantId: string, counts: SyncCounts) {
  let token: string | undefined;
  const pacer = createPacer(deps.settings.merchantRequestsPerSecond);
  return {
    async call<T>(run: (token: string) => Promise<T>): Promise<T> {
      token ??= await deps.tokens.accessToken(merchantId);
      await pacer.take();
      counts.cloverRequests++;
      try {
        return await run(token);
      } catch (err) {
        if (!(err instanceof CloverUnauthorizedError)) throw err;
        token = await deps.tokens.accessToken(merchantId, { rejected: token });
        await pacer.take();
        counts.cloverRequests++;
        return run(token);
      }
    },
  };
}

/** The product state an item outcome stands for; undefined for an item without an id. */
function stateOf(outcome: ItemOutcome): ProductState | undefined {
  if (outcome.kind === 'invalid') {
    if (!outcome.itemId) return undefined;
    return {
      status: 'invalid',
      invalidReason: outcome.reason,
      ...(outcome.modifiedTime === undefined ? {} : { modifiedTime: outcome.modifiedTime }),
    };
  }
  if (outcome.kind === 'remove') {
    return { status: 'removed', removedReason: outcome.reason, modifiedTime: outcome.modifiedTime };
  }
  return {
    status: 'active',
    label: outcome.desired.label,
    priceType: outcome.desired.priceType,
    ...(outcome.desired.unitCost === undefined ? {} : { unitCost: outcome.desired.unitCost }),
    available: outcome.desired.available,
    stateHash: outcome.stateHash,
    labelHash: outcome.labelHash,
    modifiedTime: outcome.modifiedTime,
  };
}

/**
 * Stores one page of items. Their stored hashes are read first in batches, so items re-read
 * unchanged (overlap window, backfills) cost a cheap batch read instead of a failed conditional
 * write each; the write itself stays conditional for the races the read cannot see.
 */
async function savePage(
  deps: PollDeps,
  merchantId: string,
  outcomes: readonly ItemOutcome[],
  counts: SyncCounts,
  released: Set<string>,
): Promise<string[]> {
  const ids = outcomes.map((o) => o.itemId).filter((id): id is string => id !== undefined);
  const stored = new Map((await deps.products.get(merchantId, ids)).map((r) => [r.itemId, r]));
  const beforeOf = (o: ItemOutcome) => (o.itemId ? stored.get(o.itemId) : undefined);
  const queue = new Array<string | undefined>(outcomes.length);
  // Items touching a common product code (taking it or leaving it) are saved one after another in
  // Clover's order, so the earlier item wins a contested code as it would in a sequential run;
  // items with nothing in common are saved in parallel.
  const chains = groupBySharedKeys(
    outcomes.map((outcome, index) => ({ outcome, index })),
    ({ outcome }) => codeKeys(outcome, beforeOf(outcome)),
  );
  await forEachLimited(chains, deps.settings.storeWriteConcurrency, async (chain) => {
    for (const { outcome, index } of chain) {
      const before = beforeOf(outcome);
      const checked = await claimProductCode(deps, merchantId, outcome, before, released);
      const record = await saveOutcome(deps, merchantId, checked, counts, before);
      if (record ? mustQueue(record, before) : before && pushNeed(before) !== 'none')
        // Unchanged but not on the shelf yet (an earlier poll saved it, then failed before
        // queueing): queued again rather than left until the next edit.
        queue[index] = (record ?? before)?.itemId as string;
    }
  });
  return queue.filter((id): id is string => id !== undefined);
}

/** What a save of this item may contend for with others in its page: its id and both its codes. */
function codeKeys(outcome: ItemOutcome, before: ProductRecord | undefined): string[] {
  const keys = outcome.itemId ? [`item:${outcome.itemId}`] : [];
  if (before?.status === 'active' && before.label) keys.push(`pc:${before.label.pc}`);
  if (outcome.kind === 'label') keys.push(`pc:${outcome.desired.label.pc}`);
  return keys;
}

/**
 * Whether a saved change needs a push message: when the shelf must change, and also when the
 * state before was not on the shelf yet — a push of that state may be in flight, and when it
 * records its result the shelf may be behind this state although the fields read now say it is not.
 */
function mustQueue(saved: ProductRecord, before: ProductRecord | undefined): boolean {
  return pushNeed(saved) !== 'none' || (before !== undefined && pushNeed(before) !== 'none');
}

/**
 * One product code, one item. An item taking a code claims it; if another item still shows that
 * code, this one is recorded as invalid with the reason (reported, never flip-flopping the label
 * between the two). An item leaving a code gives its claim up.
 */
async function claimProductCode(
  deps: PollDeps,
  merchantId: string,
  outcome: ItemOutcome,
  before: ProductRecord | undefined,
  released: Set<string>,
): Promise<ItemOutcome> {
  if (!outcome.itemId) return outcome;
  const oldPc = before?.status === 'active' ? before.label?.pc : undefined;
  const newPc = outcome.kind === 'label' ? outcome.desired.label.pc : undefined;
  if (newPc !== undefined && newPc !== oldPc) {
    let holder = await deps.products.claimCode(merchantId, newPc, outcome.itemId);
    if (holder !== outcome.itemId) {
      const [other] = await deps.products.get(merchantId, [holder]);
      const stillShown = other?.status === 'active' && other.label?.pc === newPc;
      holder = stillShown ? holder : await deps.products.claimCode(merchantId, newPc, outcome.itemId, holder);
    }
    // Noted on the claim, so this item is looked at again when the holder lets the code go; if
    // the claim went away meanwhile, the code is free: claim it.
    if (holder !== outcome.itemId && !(await deps.products.awaitCode(merchantId, newPc, outcome.itemId)))
      holder = await deps.products.claimCode(merchantId, newPc, outcome.itemId);
    if (holder !== outcome.itemId) {
      return {
        kind: 'invalid',
        itemId: outcome.itemId,
        modifiedTime: outcome.modifiedTime,
        reason: `product code ${newPc} is already used by Clover item ${holder}`,
      };
    }
    // It had let the code go (invalid, removed) while its label stayed: another item may have
    // replaced or deleted that label since, so it is pushed again rather than thought in step.
    if (before && showsCode(before, newPc)) await deps.products.markLabelLeaving(merchantId, outcome.itemId);
  }
  if (oldPc !== undefined && oldPc !== newPc)
    await releaseCode(deps, merchantId, oldPc, outcome.itemId, released);
  return outcome;
}

/**
 * Gives up `itemId`'s claim on `pc`. The items that were waiting for the code are saved on the
 * merchant at once (so a poll failing later cannot lose them) and read again in this poll.
 */
async function releaseCode(
  deps: PollDeps,
  merchantId: string,
  pc: string,
  itemId: string,
  released: Set<string>,
) {
  const waiters = await deps.products.releaseCode(merchantId, pc, itemId, (ids) =>
    deps.merchants.addCodeRechecks(merchantId, ids),
  );
  for (const id of waiters) released.add(id);
}

/**
 * Stores an item as Clover just returned it (GET) over its stored record — code claim, then state —
 * and says whether a push message is needed.
 */
async function saveFetchedItem(
  deps: PollDeps,
  merchant: MerchantRecord,
  item: unknown,
  before: ProductRecord | undefined,
  counts: SyncCounts,
  released: Set<string>,
): Promise<boolean> {
  const outcome = transformItem(item, deps.productCodePrecedence, merchant.labelOptions);
  const claimed = await claimProductCode(deps, merchant.merchantId, outcome, before, released);
  const record = await saveOutcome(deps, merchant.merchantId, claimed, counts, before);
  return record !== null && mustQueue(record, before);
}

async function saveOutcome(
  deps: PollDeps,
  merchantId: string,
  outcome: ItemOutcome,
  counts: SyncCounts,
  before?: ProductRecord,
): Promise<ProductRecord | null> {
  if (outcome.kind === 'invalid') {
    counts.invalid++;
    deps.onInvalidItem?.({
      merchantId,
      ...(outcome.itemId ? { itemId: outcome.itemId } : {}),
      reason: outcome.reason,
    });
  }
  const state = stateOf(outcome);
  if (!state || !outcome.itemId) return null;
  if (before?.stateHash === stateHashOf(state)) return null;
  const record = await deps.products.saveState(merchantId, outcome.itemId, state);
  if (record && outcome.kind !== 'invalid') {
    counts.changed++;
    if (outcome.kind === 'remove') counts.removed++;
  }
  return record;
}

/** Every item id Clover lists, or undefined when the listing could not be completed. */
async function listAllIds(deps: PollDeps, session: ReturnType<typeof cloverSession>, merchantId: string) {
  const ids = new Set<string>();
  const progress = { complete: true };
  for await (const page of readItemsSince(
    (q) => session.call((token) => deps.clover.listItems(merchantId, token, q)),
    undefined,
    deps.settings.pageLimit,
    progress,
  )) {
    for (const raw of page) {
      const id = (raw as { id?: unknown } | null)?.id;
      if (typeof id === 'string') ids.add(id);
    }
  }
  return progress.complete ? ids : undefined;
}

/**
 * Items we hold that Clover no longer lists were deleted there (Clover's listings omit deleted
 * items). Each candidate is confirmed with a GET before its label is taken down, so an item a
 * listing missed for any reason is never removed from the shelf by mistake.
 */
async function removeGhosts(
  deps: PollDeps,
  session: ReturnType<typeof cloverSession>,
  merchant: MerchantRecord,
  present: ReadonlySet<string>,
  counts: SyncCounts,
  released: Set<string>,
): Promise<string[]> {
  const { merchantId } = merchant;
  const stored = await deps.products.list(merchantId);
  const candidates = stored.filter((r) => r.status !== 'removed' && !present.has(r.itemId));
  // Removals saved by an earlier cleanup whose push was never queued still need to reach the shelf.
  const removed: string[] = stored
    .filter((r) => r.status === 'removed' && pushNeed(r) !== 'none')
    .map((r) => r.itemId);
  for (const candidate of candidates) {
    const item = await session.call((token) => deps.clover.getItem(merchantId, token, candidate.itemId));
    if (item !== null) {
      if (await saveFetchedItem(deps, merchant, item, candidate, counts, released))
        removed.push(candidate.itemId);
      continue;
    }
    // Released first: saved as removed, the item is no longer a candidate, so a failure between
    // the two would keep the claim (and its waiters) for good.
    if (candidate.label) await releaseCode(deps, merchantId, candidate.label.pc, candidate.itemId, released);
    const record = await deps.products.saveState(merchantId, candidate.itemId, {
      status: 'removed',
      removedReason: 'gone',
    });
    if (record) {
      counts.changed++;
      counts.removed++;
      if (mustQueue(record, candidate)) removed.push(candidate.itemId);
    }
  }
  return removed;
}

/**
 * Items refused a product code because another item showed it are read again once that item lets
 * the code go (recoded, hidden, deleted), so a replacement item with the same barcode gets its
 * label without waiting for its own next edit. Re-checking can free further codes; each item is
 * read at most once per poll.
 */
async function recheckCodeWaiters(
  deps: PollDeps,
  session: ReturnType<typeof cloverSession>,
  merchant: MerchantRecord,
  released: Set<string>,
  counts: SyncCounts,
): Promise<{ toQueue: string[]; checked: string[] }> {
  const { merchantId } = merchant;
  const toQueue: string[] = [];
  const checked = new Set<string>();
  for (const itemId of released) {
    if (checked.has(itemId)) continue;
    checked.add(itemId);
    const item = await session.call((token) => deps.clover.getItem(merchantId, token, itemId));
    // Gone from Clover: ghost cleanup takes care of it.
    if (item === null) continue;
    const [before] = await deps.products.get(merchantId, [itemId]);
    if (await saveFetchedItem(deps, merchant, item, before, counts, released)) toQueue.push(itemId);
  }
  return { toQueue, checked: [...checked] };
}

/** Most item ids one push message may carry (PushMessageSchema). */
const MAX_IDS_PER_PUSH = 1000;

/**
 * Splits item ids into push messages whose sizes are whole multiples of the Hipoink chunk, so N
 * changed products cost ⌈N / chunk⌉ Hipoink calls however many messages carry them.
 */
export function pushMessages(
  merchantId: string,
  itemIds: readonly string[],
  chunk: number,
  retryRejected = false,
) {
  const size = Math.max(chunk, Math.floor(MAX_IDS_PER_PUSH / chunk) * chunk);
  const messages = [];
  for (let i = 0; i < itemIds.length; i += size) {
    messages.push({
      body: { merchantId, itemIds: itemIds.slice(i, i + size), ...(retryRejected ? { retryRejected } : {}) },
      groupId: merchantId,
      // Unique: a second change to the same items minutes later must not be dropped as a duplicate.
      deduplicationId: `${merchantId}:${randomUUID()}`,
    });
  }
  return messages;
}

async function queuePushes(
  deps: PollDeps,
  merchantId: string,
  itemIds: readonly string[],
  retryRejected: boolean,
) {
  await deps.pushQueue.send(pushMessages(merchantId, itemIds, deps.settings.hipoinkChunkSize, retryRejected));
}
