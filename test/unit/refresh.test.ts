import { describe, expect, it, vi } from 'vitest';
import { MerchantUnavailableError } from '../../src/errors.ts';
import { heartbeatLate, type RefresherRun } from '../../src/store/heartbeat.ts';
import { refreshDue, refreshDueTokens } from '../../src/sync/refresh.ts';
import type { TokenManager } from '../../src/sync/tokens.ts';
import { FakeMerchantStore, merchantRecord } from './fakes.ts';

const settings = {
  refreshThresholdSeconds: 900,
  tokenMaxAgeMinutes: 60,
  refreshBufferMinutes: 5,
  intervalMinutes: 10,
};
const NOW = 1_800_000_000_000;

describe('backup token refresh', () => {
  it('is due at ≤ 15 min to expiry or ≥ 60 min since the last refresh', () => {
    const fresh = { accessTokenExpiresAt: NOW / 1000 + 3600, lastRefreshAt: NOW - 59 * 60_000 };
    expect(refreshDue(merchantRecord(fresh), settings, NOW)).toBe(false);
    expect(
      refreshDue(merchantRecord({ ...fresh, accessTokenExpiresAt: NOW / 1000 + 900 }), settings, NOW),
    ).toBe(true);
    expect(refreshDue(merchantRecord({ ...fresh, lastRefreshAt: NOW - 60 * 60_000 }), settings, NOW)).toBe(
      true,
    );
    expect(
      refreshDue(
        merchantRecord({ ...fresh, lastRefreshAt: undefined, updatedAt: NOW - 61 * 60_000 }),
        settings,
        NOW,
      ),
    ).toBe(true);
    expect(
      refreshDue(merchantRecord({ ...fresh, state: 'needs_reauth', accessTokenExpiresAt: 0 }), settings, NOW),
    ).toBe(false);
  });

  it('refreshes before the token enters the proactive buffer by the next run, never planning under 1 min', () => {
    const expiringIn = (minutes: number) =>
      merchantRecord({ accessTokenExpiresAt: (NOW + minutes * 60_000) / 1000, lastRefreshAt: NOW });
    // Runs every 30 min with a 5-min buffer: a token 34 min from expiry would be 4 min from it at
    // the next run, inside the buffer, so this run takes it; at 36 min the next run still can.
    const slow = { ...settings, intervalMinutes: 30 };
    expect(refreshDue(expiringIn(34), slow, NOW)).toBe(true);
    expect(refreshDue(expiringIn(36), slow, NOW)).toBe(false);
    // The threshold still applies when it is the larger window (10 + 5 < 15).
    expect(refreshDue(expiringIn(14), settings, NOW)).toBe(true);
    expect(refreshDue(expiringIn(16), settings, NOW)).toBe(false);
    // A buffer configured under the 1-minute minimum counts as 1 minute.
    const tight = { ...settings, refreshThresholdSeconds: 0, intervalMinutes: 1, refreshBufferMinutes: 0 };
    expect(refreshDue(expiringIn(1.9), tight, NOW)).toBe(true);
    expect(refreshDue(expiringIn(2.1), tight, NOW)).toBe(false);
  });

  it('leaves a heartbeat of every run, and a heartbeat it cannot write never fails the run', async () => {
    const store = new FakeMerchantStore(
      merchantRecord({ merchantId: 'DUE', accessTokenExpiresAt: NOW / 1000 + 60 }),
      merchantRecord({ merchantId: 'FINE', accessTokenExpiresAt: NOW / 1000 + 7200, lastRefreshAt: NOW }),
    );
    const tokens: TokenManager = { accessToken: vi.fn(async () => 'new') };
    const runs: RefresherRun[] = [];
    const result = await refreshDueTokens({
      merchants: store,
      tokens,
      settings,
      now: () => NOW,
      heartbeat: { record: async (run) => void runs.push(run) },
    });
    expect(runs).toEqual([
      { startedAt: NOW, finishedAt: NOW, intervalSeconds: 600, checked: 2, refreshed: 1, failed: 0 },
    ]);
    expect(result.heartbeatError).toBeUndefined();
    expect(heartbeatLate(runs[0] as RefresherRun, NOW + 20 * 60_000)).toBe(false);
    expect(heartbeatLate(runs[0] as RefresherRun, NOW + 22 * 60_000)).toBe(true);

    const broken = await refreshDueTokens({
      merchants: store,
      tokens,
      settings,
      now: () => NOW,
      heartbeat: { record: async () => Promise.reject(new Error('ProvisionedThroughputExceeded')) },
    });
    expect(broken).toMatchObject({ refreshed: ['DUE'], heartbeatError: 'ProvisionedThroughputExceeded' });
  });

  it('forces one refresh per due merchant through the token manager; a failure does not stop the others', async () => {
    const store = new FakeMerchantStore(
      merchantRecord({ merchantId: 'DUE', accessToken: 'old-due', accessTokenExpiresAt: NOW / 1000 + 60 }),
      merchantRecord({ merchantId: 'BROKEN', accessTokenExpiresAt: NOW / 1000 + 60 }),
      merchantRecord({ merchantId: 'FINE', accessTokenExpiresAt: NOW / 1000 + 7200, lastRefreshAt: NOW }),
      merchantRecord({ merchantId: 'OFF', state: 'disabled' }),
    );
    const accessToken = vi.fn(async (id: string) => {
      if (id === 'BROKEN')
        throw new MerchantUnavailableError('Merchant needs re-authorization', { merchantId: id });
      return 'new';
    });
    const tokens: TokenManager = { accessToken };
    const result = await refreshDueTokens({ merchants: store, tokens, settings, now: () => NOW });
    expect(result).toEqual({
      checked: 3,
      refreshed: ['DUE'],
      failed: [{ merchantId: 'BROKEN', reason: 'Merchant needs re-authorization' }],
    });
    expect(accessToken).toHaveBeenCalledWith('DUE', { rejected: 'old-due' });
    expect(accessToken).not.toHaveBeenCalledWith('FINE', expect.anything());
  });
});
