/**
 * The stores the operator alarms count, between fan-out runs: an alarm on a count notifies only
 * when it starts firing, so a store that joins a count other stores are in is told apart here.
 */
import type { AttentionLedger, AttentionRecord } from '../store/attention.ts';
import type { FanOutResult } from './fanout.ts';

export type AttentionKind = keyof FanOutResult['attention'];
export interface StoreJoined {
  kind: AttentionKind;
  merchantId: string;
}

/** How long an alarm on a store count may still be firing after the count fell to none. */
export const ALARM_CLEARS_MS = 10 * 60_000;

/**
 * The most stores a condition's record keeps by id. One counting more has a fleet-wide cause (an
 * outage): its alarm fires for it, and single stores joining are no news. Kept under DynamoDB's
 * item size limit (400 KB) with every condition full.
 */
export const ATTENTION_IDS_KEPT = 2_000;

/**
 * The stores that joined a condition which counted other stores at the last run, or within
 * ALARM_CLEARS_MS before it: the alarm on that count may be firing still, and then it sends nothing
 * for them. None for a condition that counted more stores than its record keeps.
 */
export function storesJoined(
  previous: AttentionRecord | undefined,
  current: Record<AttentionKind, string[]>,
  now: number,
) {
  const joined: StoreJoined[] = [];
  if (!previous) return joined;
  for (const [kind, ids] of Object.entries(current) as Array<[AttentionKind, string[]]>) {
    if (previous.crowded.includes(kind)) continue;
    const before = new Set(previous.sets[kind] ?? []);
    const busy =
      before.size > 0 || now - (previous.busyAt[kind] ?? Number.NEGATIVE_INFINITY) <= ALARM_CLEARS_MS;
    if (!busy) continue;
    for (const merchantId of ids) if (!before.has(merchantId)) joined.push({ kind, merchantId });
  }
  return joined;
}

/** A record older than this is no last run's (the fan-out stopped a while): no join is told from it. */
const LEDGER_STALE_MS = 10 * 60_000;

/**
 * Compares what this run counted with the last run's record, and keeps this run's (rewritten each
 * run: its time shows it current). Its failure never fails the fan-out (its polls are queued
 * already); it is reported beside the joins found.
 */
export async function tellJoined(
  ledger: AttentionLedger | undefined,
  flagged: Record<AttentionKind, string[]>,
  now: number,
): Promise<Pick<FanOutResult, 'joined' | 'joinedUnknown'>> {
  if (!ledger) return { joined: [] };
  let joined: StoreJoined[] = [];
  try {
    const previous = await ledger.last();
    const current = previous && now - previous.at <= LEDGER_STALE_MS ? previous : undefined;
    joined = storesJoined(current, flagged, now);
    const busyAt = { ...current?.busyAt };
    for (const [kind, ids] of Object.entries(flagged)) if (ids.length > 0) busyAt[kind] = now;
    const crowded = Object.entries(flagged).flatMap(([kind, ids]) =>
      ids.length > ATTENTION_IDS_KEPT ? [kind] : [],
    );
    const sets = Object.fromEntries(
      Object.entries(flagged).map(([kind, ids]) => [kind, crowded.includes(kind) ? [] : ids]),
    );
    await ledger.record({ at: now, sets, busyAt, crowded });
    return { joined };
  } catch (err) {
    return { joined, joinedUnknown: err instanceof Error ? err.message : String(err) };
  }
}
