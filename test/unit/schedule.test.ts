import { describe, expect, it } from 'vitest';
import {
  cadenceKind,
  dueAt,
  dueWindow,
  fleetLoad,
  intervalSeconds,
  NOTICE_FRESH_MS,
  phaseOf,
} from '../../src/sync/schedule.ts';
import { merchantRecord } from './fakes.ts';

const settings = { pollIntervalSeconds: 120, safetyPollIntervalMinutes: 15 };
const T0 = 1_700_000_000_000;

/** Poll times of `m` seen by runs every `periodMs` over `spanMs`, each run looking two periods back. */
function pollTimes(
  m: Parameters<typeof dueAt>[0],
  spanMs: number,
  stretch = 1,
  periodMs = 60_000,
  at: (m: Parameters<typeof dueAt>[0], t: number) => Parameters<typeof dueAt>[0] = (x) => x,
) {
  const seen = new Set<number>();
  for (let t = T0 + periodMs; t <= T0 + spanMs; t += periodMs) {
    const due = dueAt(at(m, t), dueWindow(t, periodMs / 1000), settings, stretch);
    if (due !== undefined && due > T0) seen.add(due);
  }
  return [...seen].sort((a, b) => a - b);
}

describe('poll schedule', () => {
  it('puts each merchant at a stable phase, spread evenly over the interval', () => {
    expect(phaseOf('MERCHANT0001')).toBe(phaseOf('MERCHANT0001'));
    const buckets = new Array(10).fill(0);
    for (let i = 0; i < 10_000; i++) buckets[Math.floor(phaseOf(`M${i}`) * 10)]++;
    for (const b of buckets) expect(b).toBeGreaterThan(900);
  });

  it('is due once per interval, at the same poll time for every run that sees it', () => {
    const m = merchantRecord({ merchantId: 'ONE' });
    const times = pollTimes(m, 3_600_000);
    expect(times.length).toBeGreaterThanOrEqual(29);
    expect(times.length).toBeLessThanOrEqual(30);
    for (let i = 1; i < times.length; i++)
      expect((times[i] as number) - (times[i - 1] as number)).toBe(120_000);
    expect(dueAt({ ...m, state: 'disabled' }, { from: T0, to: T0 + 3_600_000 }, settings)).toBeUndefined();
  });

  it('polls a merchant whose webhook notices arrive every 15 minutes, the others every 2', () => {
    const quiet = merchantRecord({ merchantId: 'QUIET' });
    const heard = merchantRecord({ merchantId: 'HEARD' });
    // A notice every 10 minutes keeps HEARD on the safety interval for the whole hour.
    const withNotices = (x: Parameters<typeof dueAt>[0], t: number) => ({
      ...x,
      lastNoticeAt: t - ((t - T0) % 600_000),
    });
    expect(pollTimes(quiet, 3_600_000).length).toBeGreaterThanOrEqual(29);
    const safety = pollTimes(heard, 3_600_000, 1, 60_000, withNotices);
    expect(safety.length).toBeGreaterThanOrEqual(3);
    expect(safety.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < safety.length; i++)
      expect((safety[i] as number) - (safety[i - 1] as number)).toBe(15 * 60_000);
  });

  it('polls a heard merchant whose last poll failed at the normal interval, until a poll succeeds', () => {
    // The polls its notices queued failed (Clover was down): what they announced is still unread,
    // and the safety interval would leave it so for up to 15 minutes once Clover is back.
    const heard = merchantRecord({ merchantId: 'HEARD', lastNoticeAt: T0, lastSyncStatus: 'error' });
    const times = pollTimes(heard, 30 * 60_000);
    expect(times.length).toBeGreaterThanOrEqual(14);
    for (let i = 1; i < times.length; i++)
      expect((times[i] as number) - (times[i - 1] as number)).toBe(120_000);
    expect(cadenceKind(heard, T0)).toBe('normal');
    expect(cadenceKind({ ...heard, lastSyncStatus: 'ok' }, T0)).toBe('safety');
  });

  it('falls back to the normal interval an hour after the last notice', () => {
    const now = T0;
    expect(cadenceKind({ lastNoticeAt: now - NOTICE_FRESH_MS + 1 }, now)).toBe('safety');
    expect(cadenceKind({ lastNoticeAt: now - NOTICE_FRESH_MS }, now)).toBe('normal');
    expect(cadenceKind({}, now)).toBe('normal');
    // A safety interval shorter than the normal one never polls more often.
    expect(intervalSeconds({ lastNoticeAt: now }, now, { ...settings, pollIntervalSeconds: 3600 })).toBe(
      3600,
    );
  });

  it('fits 4,800 merchants at 2 minutes into 40 reads/s, and says when the fleet outgrows that', () => {
    const fleet = (n: number, over: Partial<ReturnType<typeof merchantRecord>> = {}) =>
      Array.from({ length: n }, (_, i) => merchantRecord({ merchantId: `M${i}`, ...over }));
    expect(fleetLoad(fleet(4800), T0, settings, 40)).toMatchObject({ percent: 100, stretch: 1 });
    const beyond = fleetLoad(fleet(20_000), T0, settings, 40);
    expect(beyond.percent).toBe(417);
    expect(beyond.stretch).toBe(4.25);
    // Polls costing two requests each halve the capacity.
    const heavy = {
      lastSyncCounts: { fetched: 0, changed: 0, removed: 0, invalid: 0, queuedForPush: 0, cloverRequests: 2 },
    };
    expect(fleetLoad(fleet(2400, heavy), T0, settings, 40).percent).toBe(100);
    // Merchants heard through webhooks ask for 7.5 times fewer polls.
    expect(fleetLoad(fleet(20_000, { lastNoticeAt: T0 }), T0, settings, 40)).toMatchObject({
      percent: 56,
      stretch: 1,
    });
    // After a Clover outage each of them asks for one poll sooner, not for the normal interval for
    // good: the fleet is not stretched for it.
    expect(
      fleetLoad(fleet(20_000, { lastNoticeAt: T0, lastSyncStatus: 'error' }), T0, settings, 40),
    ).toMatchObject({ percent: 56, stretch: 1 });
  });

  it('beyond the ceiling polls every store less often, none starved, within the budget per run', () => {
    const n = 20_000;
    const fleet = Array.from({ length: n }, (_, i) => merchantRecord({ merchantId: `FLEET${i}` }));
    const { stretch } = fleetLoad(fleet, T0, settings, 40);
    const counts = new Map<string, number>();
    const firstSeen = new Set<string>();
    const newPerRun: number[] = [];
    for (let t = T0 + 60_000; t <= T0 + 3_600_000; t += 60_000) {
      let fresh = 0;
      for (const m of fleet) {
        const due = dueAt(m, dueWindow(t, 60), settings, stretch);
        if (due === undefined || due <= T0) continue;
        const id = `${m.merchantId}:${due}`;
        if (firstSeen.has(id)) continue;
        firstSeen.add(id);
        fresh++;
        counts.set(m.merchantId, (counts.get(m.merchantId) ?? 0) + 1);
      }
      newPerRun.push(fresh);
    }
    // Every store polled every 4.25 × 2 min = 510 s: 7 or 8 times in the hour, not 30, and not 0.
    expect(counts.size).toBe(n);
    expect(Math.min(...counts.values())).toBeGreaterThanOrEqual(7);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(8);
    // And each minute queues about what 40 reads/s can drain in a minute (2,400), not the fleet.
    for (const fresh of newPerRun.slice(2)) expect(fresh).toBeLessThanOrEqual(2400 * 1.05);
  });
});
