import { chunked } from '../chunked.ts';
import { type QueueMessage, type QueueSender, SQS_BATCH_LIMIT } from '../queues/sqs.ts';
import type { AttentionLedger } from '../store/attention.ts';
import { type MerchantRecord, type MerchantStore, refreshTokenExpiringSoon } from '../store/merchants.ts';
import { type AttentionKind, type StoreJoined, tellJoined } from './attention.ts';
import { type PollFreshness, pollFreshness } from './freshness.ts';
import type { PollMessage } from './messages.ts';
import { forEachLimited } from './parallel.ts';
import {
  type CadenceSettings,
  cadenceKind,
  dueAt,
  dueWindow,
  type FleetLoad,
  fleetLoad,
  pollRetrying,
} from './schedule.ts';

export interface FanOutDeps {
  merchants: Pick<MerchantStore, 'list'>;
  /** Where the stores each alarm counted are kept between runs (absent: joins are not told). */
  attention?: AttentionLedger;
  pollQueue: QueueSender;
  cadence: CadenceSettings;
  /** How often the schedule runs the fan-out. */
  fanOutPeriodSeconds: number;
  /** Clover item reads per second the app-wide budget allows (the fleet's polling capacity). */
  readRequestsPerSecond: number;
  now?: () => number;
}

export interface FanOutResult {
  queued: number;
  skipped: Record<string, number>;
  /** Merchants someone has to act on, counted every tick so alarms can watch them. */
  attention: {
    /** The store must authorize the app again (its refresh token was refused). */
    needsReauth: number;
    /** Active, but the refresh token runs out within 7 days. */
    refreshTokenExpiringSoon: number;
    /** Active, and its polls have failed for SYNC_FAILING_ALERT_MS, or not read everything for READ_INCOMPLETE_ALERT_MS. */
    lastSyncFailed: number;
    /** Its owner uninstalled the Clover app (disabled, its tokens deleted). */
    appUninstalled: number;
    /** Active, and its pushes have failed, none going through, for PUSH_FAILING_ALERT_MS. */
    pushFailing: number;
    /** Connected without an invite: it waits for an operator to give it its Hipoink store code. */
    pending: number;
  };
  /** What the fleet's intervals ask of Clover's budget; at 100% or more it has outgrown them. */
  load: FleetLoad;
  /** Active merchants on the safety interval (their webhook notices arrive). */
  onSafetyInterval: number;
  /** How long ago the active stores last polled well; none without an active store. */
  freshness?: PollFreshness;
  /**
   * Stores counted now under a condition that counted others at the last run or shortly before: the
   * first `JOINS_TOLD`, so the result and its log line stay small in a fleet-wide outage.
   */
  joined: StoreJoined[];
  /** How many stores joined in all. */
  joinedCount: number;
  /** Why the stores joined could not be told (the ledger could not be read or written). */
  joinedUnknown?: string;
}

export function pollMessage(
  m: Pick<MerchantRecord, 'merchantId'>,
  msg: Omit<PollMessage, 'merchantId'>,
  key: string,
) {
  return {
    body: { merchantId: m.merchantId, ...msg },
    groupId: m.merchantId,
    deduplicationId: `${m.merchantId}:${key}`,
  };
}

/** What started a fan-out: the schedule, or a person (`esl-sync tick`, a manual invoke). */
export type FanOutTrigger = { kind: 'schedule' } | { kind: 'manual'; requestId: string };

/** The most joins one run names (a log event over CloudWatch's 256 KB is cut). */
export const JOINS_TOLD = 200;

/** Messages sent at once: a fan-out of thousands must finish well within its timeout. */
const SEND_CONCURRENCY = 8;

/** A store counts as one whose labels do not reach Hipoink once its pushes have failed this long. */
export const PUSH_FAILING_ALERT_MS = 15 * 60_000;

/**
 * A store whose polls stop short of the end this long (Clover keeps reordering a large group of
 * items changed at one instant) is counted with the failing ones: its later changes wait unread.
 */
export const READ_INCOMPLETE_ALERT_MS = 30 * 60_000;
/** A store counts as failing once its polls have failed this long (a retry may still get through). */
export const SYNC_FAILING_ALERT_MS = 15 * 60_000;
const syncFailing = (m: Pick<MerchantRecord, 'readIncompleteSince' | 'syncFailingSince'>, now: number) =>
  (m.syncFailingSince !== undefined && now - m.syncFailingSince >= SYNC_FAILING_ALERT_MS) ||
  (m.readIncompleteSince !== undefined && now - m.readIncompleteSince >= READ_INCOMPLETE_ALERT_MS);

/**
 * A scheduled run queues the active merchants whose poll time (`dueAt`) fell within its window
 * (`dueWindow`): a poll time seen by two runs (or by an event delivered twice) is one message,
 * deduplicated by the FIFO queue. A manual tick polls every active merchant now.
 */
export async function fanOut(
  deps: FanOutDeps,
  trigger: FanOutTrigger = { kind: 'schedule' },
): Promise<FanOutResult> {
  const now = (deps.now ?? Date.now)();
  const window = dueWindow(now, deps.fanOutPeriodSeconds);
  const skipped: Record<string, number> = {};
  const flagged: Record<AttentionKind, string[]> = {
    needsReauth: [],
    refreshTokenExpiringSoon: [],
    lastSyncFailed: [],
    appUninstalled: [],
    pushFailing: [],
    pending: [],
  };
  const all = await deps.merchants.list();
  const load = fleetLoad(all, now, deps.cadence, deps.readRequestsPerSecond);
  const messages: QueueMessage[] = [];
  let onSafetyInterval = 0;
  for (const m of all) {
    const flag = (kind: AttentionKind) => flagged[kind].push(m.merchantId);
    if (m.state === 'needs_reauth') flag('needsReauth');
    if (m.state === 'pending') flag('pending');
    // Its owner uninstalled the app: its labels keep their last prices until someone acts.
    if (m.tokensDeletedAt !== undefined && m.storeCode !== undefined) flag('appUninstalled');
    if (m.state !== 'active') {
      skipped[m.state] = (skipped[m.state] ?? 0) + 1;
      continue;
    }
    if (refreshTokenExpiringSoon(m, now)) flag('refreshTokenExpiringSoon');
    if (syncFailing(m, now)) flag('lastSyncFailed');
    if (m.pushFailingSince !== undefined && now - m.pushFailingSince >= PUSH_FAILING_ALERT_MS)
      flag('pushFailing');
    if (cadenceKind(m, now) === 'safety') onSafetyInterval++;
    if (trigger.kind === 'manual') {
      messages.push(
        pollMessage(
          m,
          { mode: 'incremental', requestedAt: now, reason: 'manual' },
          `manual-${trigger.requestId}`,
        ),
      );
      continue;
    }
    // A failing store's poll is still being retried: another would only wait behind it.
    if (pollRetrying(m, now, deps.cadence)) {
      skipped.retrying = (skipped.retrying ?? 0) + 1;
      continue;
    }
    const due = dueAt(m, window, deps.cadence, load.stretch);
    if (due !== undefined)
      messages.push(
        pollMessage(m, { mode: 'incremental', requestedAt: now, reason: 'schedule' }, `due-${due}`),
      );
  }
  // Every message is its own merchant's (FIFO group), so batches may go in parallel.
  await forEachLimited(chunked(messages, SQS_BATCH_LIMIT), SEND_CONCURRENCY, (batch) =>
    deps.pollQueue.send(batch),
  );
  const freshness = pollFreshness(all, now);
  const attention = Object.fromEntries(
    Object.entries(flagged).map(([kind, ids]) => [kind, ids.length]),
  ) as Record<AttentionKind, number>;
  const { joined, ...told } = await tellJoined(deps.attention, flagged, now);
  return {
    queued: messages.length,
    skipped,
    attention,
    load,
    onSafetyInterval,
    ...(freshness ? { freshness } : {}),
    joined: joined.slice(0, JOINS_TOLD),
    joinedCount: joined.length,
    ...told,
  };
}
