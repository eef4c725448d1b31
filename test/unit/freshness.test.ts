import { describe, expect, it } from 'vitest';
import { pollFreshness } from '../../src/sync/freshness.ts';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const minutesAgo = (m: number) => NOW - m * 60_000;
const store = (
  lastPollStartedAt: number | undefined,
  state: 'active' | 'needs_reauth' | 'disabled' = 'active',
) => ({
  state,
  lastPollStartedAt,
  createdAt: minutesAgo(600),
});

describe('pollFreshness (the fan-out’s freshness gauges)', () => {
  it('gives the stalest store’s age and the 95th percentile (nearest rank) in seconds', () => {
    // Twenty stores polled 1 … 20 minutes ago, in no particular order.
    const stores = [7, 3, 20, 1, 15, 2, 19, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18].map((m) =>
      store(minutesAgo(m)),
    );
    expect(pollFreshness(stores, NOW)).toEqual({ stores: 20, maxSeconds: 1200, p95Seconds: 1140 });
    // One store far behind moves the maximum, not the p95.
    stores.push(store(minutesAgo(90)));
    expect(pollFreshness(stores, NOW)).toEqual({ stores: 21, maxSeconds: 5400, p95Seconds: 1200 });
  });

  it('counts a store never synced from when it was added, and leaves out stores that are not active', () => {
    const result = pollFreshness(
      [
        store(minutesAgo(2)),
        store(undefined),
        store(minutesAgo(5000), 'needs_reauth'),
        store(minutesAgo(9000), 'disabled'),
      ],
      NOW,
    );
    expect(result).toEqual({ stores: 2, maxSeconds: 36_000, p95Seconds: 36_000 });
  });

  it('has nothing to say without an active store, and never reports a negative age', () => {
    expect(pollFreshness([], NOW)).toBeUndefined();
    expect(pollFreshness([store(minutesAgo(1), 'disabled')], NOW)).toBeUndefined();
    // A poll whose start is stamped a moment ahead of this clock.
    expect(pollFreshness([store(NOW + 1500)], NOW)).toEqual({ stores: 1, maxSeconds: 0, p95Seconds: 0 });
  });
});
