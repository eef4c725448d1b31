import type { MerchantRecord } from '../store/merchants.ts';

/** How far behind Clover the active stores' labels may be, from their last successful polls. */
export interface PollFreshness {
  /** Active stores counted. */
  stores: number;
  /** Age of the stalest store's last successful poll, in whole seconds. */
  maxSeconds: number;
  /** 95% of the stores polled successfully more recently than this (nearest rank), in whole seconds. */
  p95Seconds: number;
}

/**
 * The age of each active store's last successful poll (counted from when that poll started, the
 * point its labels are in step with), or, for a store never synced, from when it was added.
 * Stores that are not active are left out: they are not polled on purpose, and have their own
 * alarms (re-authorization) or none (disabled). Undefined when no store is active.
 */
export function pollFreshness(
  merchants: ReadonlyArray<Pick<MerchantRecord, 'state' | 'lastPollStartedAt' | 'createdAt'>>,
  now: number,
): PollFreshness | undefined {
  const ages = merchants
    .filter((m) => m.state === 'active')
    .map((m) => Math.max(0, Math.floor((now - (m.lastPollStartedAt ?? m.createdAt)) / 1000)))
    .sort((a, b) => a - b);
  const max = ages.at(-1);
  if (max === undefined) return undefined;
  const p95 = ages[Math.ceil(0.95 * ages.length) - 1] ?? max;
  return { stores: ages.length, maxSeconds: max, p95Seconds: p95 };
}
