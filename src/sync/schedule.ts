import { MAX_RECEIVES, retryDelaySeconds } from '../function-settings.ts';
import type { MerchantRecord } from '../store/merchants.ts';

/**
 * When each merchant is polled. Pure rules, no I/O: the fan-out asks `dueAt` about every merchant
 * on each run, and `status` shows which cadence applies.
 *
 * Each merchant is due at its own phase of its interval (a stable hash of its id), so a fleet's
 * polls spread evenly over the interval instead of all arriving at once; the fan-out runs more
 * often than the interval and queues the merchants whose poll time has come. When the fleet asks
 * for more polls than Clover's budget allows, every interval is stretched by the same factor: each
 * store is polled less often, none is left out.
 */

export interface CadenceSettings {
  /** The normal interval between polls of a merchant. */
  pollIntervalSeconds: number;
  /** The interval for a merchant whose webhook notices arrive: polling is only the safety net. */
  safetyPollIntervalMinutes: number;
  /** The first backoff of a failed message (it doubles per receive); AWS's by default. */
  retryBaseSeconds?: number;
}

/**
 * Whether a merchant's last poll failed so recently that the failed poll may still be retried in
 * its FIFO group: within one and a half times the longest backoff between two of its receives.
 * Scheduled polls would only queue up behind it, and a store whose polls keep failing drains them
 * far slower than the schedule adds them.
 */
export function pollRetrying(
  m: Pick<MerchantRecord, 'lastSyncStatus' | 'lastSyncAt'>,
  now: number,
  settings: Pick<CadenceSettings, 'retryBaseSeconds'>,
): boolean {
  const longestBackoffMs = retryDelaySeconds(MAX_RECEIVES - 1, settings.retryBaseSeconds) * 1000;
  return (
    m.lastSyncStatus === 'error' && m.lastSyncAt !== undefined && now - m.lastSyncAt < 1.5 * longestBackoffMs
  );
}

/** A valid webhook notice this recent puts its merchant on the safety interval. */
export const NOTICE_FRESH_MS = 60 * 60_000;

export type CadenceKind = 'normal' | 'safety';

/**
 * Which interval applies: the safety interval while webhook notices keep arriving, unless the last
 * poll failed. The polls notices queue are what keeps such a store fresh; once they fail (Clover
 * down), what they announced stays unread until the next poll, which must then come at the normal
 * interval, not up to a safety interval after Clover is back.
 */
export function cadenceKind(
  m: Pick<MerchantRecord, 'lastNoticeAt' | 'lastSyncStatus'>,
  now: number,
): CadenceKind {
  if (m.lastSyncStatus === 'error') return 'normal';
  return m.lastNoticeAt !== undefined && now - m.lastNoticeAt < NOTICE_FRESH_MS ? 'safety' : 'normal';
}

/** Seconds between this merchant's polls, before any stretch (never shorter than the normal interval). */
export function intervalSeconds(
  m: Pick<MerchantRecord, 'lastNoticeAt' | 'lastSyncStatus'>,
  now: number,
  settings: CadenceSettings,
): number {
  return cadenceKind(m, now) === 'safety'
    ? Math.max(settings.pollIntervalSeconds, settings.safetyPollIntervalMinutes * 60)
    : settings.pollIntervalSeconds;
}

/**
 * Where in every interval a merchant's poll falls, in [0, 1): a hash of its id (FNV-1a, then a
 * final mix so ids that differ in one character land far apart), so it never moves.
 */
export function phaseOf(merchantId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < merchantId.length; i++) {
    hash ^= merchantId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 2 ** 32;
}

/** A fan-out run looks at the poll times in (from, to]. */
export interface DueWindow {
  from: number;
  to: number;
}

/**
 * The poll times a scheduled run at `now` looks at: its period and half one more, so a run that
 * comes up to half a period late misses nothing. A poll time two runs see is one message: the
 * FIFO queue deduplicates it (the period stays far below SQS's 5-minute deduplication window).
 */
export function dueWindow(now: number, periodSeconds: number): DueWindow {
  return { from: now - 1.5 * periodSeconds * 1000, to: now };
}

/**
 * Is this merchant due in the window? It is when one of its poll times — its phase of every
 * (stretched) interval, counted from the epoch — falls in the window. Returns that poll time
 * (Unix ms; the same for every run that sees it, so it deduplicates), or undefined.
 */
export function dueAt(
  m: Pick<MerchantRecord, 'merchantId' | 'state' | 'lastNoticeAt' | 'lastSyncStatus'>,
  window: DueWindow,
  settings: CadenceSettings,
  stretch = 1,
): number | undefined {
  if (m.state !== 'active') return undefined;
  const intervalMs = Math.round(intervalSeconds(m, window.to, settings) * 1000 * stretch);
  const phase = Math.floor(phaseOf(m.merchantId) * intervalMs);
  const latest = Math.floor((window.to - phase) / intervalMs) * intervalMs + phase;
  return latest > window.from ? latest : undefined;
}

export interface FleetLoad {
  /** Polls per second the active merchants' intervals ask for. */
  demandPerSecond: number;
  /** Polls per second Clover's budget for item reads allows, at the fleet's requests per poll. */
  capacityPerSecond: number;
  /** Average Clover requests per poll, from each merchant's last poll (at least 1). */
  requestsPerPoll: number;
  /** Demand over capacity, as a percentage: at 100 or more the fleet has outgrown its interval. */
  percent: number;
  /** Every interval is multiplied by this (1 while the fleet fits; in steps of 1/8 above). */
  stretch: number;
}

/**
 * How much polling the fleet asks of Clover's budget. Beyond 100%, the stretch makes every
 * merchant's interval longer by the same factor, rounded up to eighths so it changes only when
 * the fleet grows or shrinks noticeably (a change moves poll times once).
 */
export function fleetLoad(
  merchants: ReadonlyArray<Pick<MerchantRecord, 'state' | 'lastNoticeAt' | 'lastSyncCounts'>>,
  now: number,
  settings: CadenceSettings,
  readRequestsPerSecond: number,
): FleetLoad {
  let demand = 0;
  let requests = 0;
  let polled = 0;
  for (const m of merchants) {
    if (m.state !== 'active') continue;
    // A store heard by webhook whose last poll failed asks for one poll sooner, not for the normal
    // interval for good: counted at its usual interval, a fleet-wide Clover outage does not stretch
    // every store's interval (nor fire FleetOutgrowsInterval) once Clover is back.
    demand += 1 / intervalSeconds({ lastNoticeAt: m.lastNoticeAt }, now, settings);
    if (m.lastSyncCounts) {
      requests += m.lastSyncCounts.cloverRequests;
      polled++;
    }
  }
  const requestsPerPoll = Math.max(1, polled > 0 ? requests / polled : 1);
  const capacity = readRequestsPerSecond / requestsPerPoll;
  const ratio = demand / capacity;
  return {
    demandPerSecond: demand,
    capacityPerSecond: capacity,
    requestsPerPoll,
    percent: Math.round(ratio * 100),
    stretch: ratio <= 1 ? 1 : Math.ceil(ratio * 8) / 8,
  };
}
