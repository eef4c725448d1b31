import { errorForLog } from '../errors.ts';
import type { RefresherHeartbeat } from '../store/heartbeat.ts';
import type { MerchantRecord, MerchantStore } from '../store/merchants.ts';
import type { TokenManager } from './tokens.ts';

export interface BackupRefreshDeps {
  merchants: Pick<MerchantStore, 'list'>;
  tokens: TokenManager;
  settings: {
    refreshThresholdSeconds: number;
    tokenMaxAgeMinutes: number;
    /** The proactive buffer: refresh before the token comes this close to expiry (≥ 1 min). */
    refreshBufferMinutes: number;
    /** Minutes between two runs of the refresher. */
    intervalMinutes: number;
  };
  /** Where each run leaves its last-run record for operators (`esl-sync status`). */
  heartbeat?: Pick<RefresherHeartbeat, 'record'>;
  now?: () => number;
}

export interface BackupRefreshResult {
  checked: number;
  refreshed: string[];
  failed: Array<{ merchantId: string; reason: string }>;
  /** Set when the last-run record could not be written; the refreshes themselves stand. */
  heartbeatError?: string;
}

/**
 * How close to expiry a token may get before this run must refresh it: the refresh threshold, or
 * the proactive buffer counted from the next run, whichever is earlier: a run that skips a
 * token must not leave it to enter the buffer before the following run looks again.
 */
export function refreshWindowMs(settings: BackupRefreshDeps['settings']): number {
  const buffer = Math.max(1, settings.refreshBufferMinutes);
  return Math.max(settings.refreshThresholdSeconds * 1000, (settings.intervalMinutes + buffer) * 60_000);
}

/**
 * A token is due when it expires within `refreshWindowMs` or was last refreshed (or issued) at
 * least `tokenMaxAgeMinutes` ago. Keeps merchants that are rarely polled — or whose
 * polls keep failing — from running into an expired token or refresh token.
 */
export function refreshDue(m: MerchantRecord, settings: BackupRefreshDeps['settings'], now: number): boolean {
  if (m.state !== 'active') return false;
  if (m.accessTokenExpiresAt * 1000 - now <= refreshWindowMs(settings)) return true;
  const since = m.lastRefreshAt ?? m.updatedAt;
  return now - since >= settings.tokenMaxAgeMinutes * 60_000;
}

/**
 * The scheduled backup to on-demand refresh. It goes through the same single-flight token
 * manager as the pollers, so it can never spend a refresh token another worker is spending.
 * One merchant's failure is recorded and the others still run.
 */
export async function refreshDueTokens(deps: BackupRefreshDeps): Promise<BackupRefreshResult> {
  const clock = deps.now ?? Date.now;
  const now = clock();
  const result: BackupRefreshResult = { checked: 0, refreshed: [], failed: [] };
  for (const m of await deps.merchants.list()) {
    if (m.state !== 'active') continue;
    result.checked++;
    if (!refreshDue(m, deps.settings, now)) continue;
    try {
      // Naming the current token as rejected forces exactly one refresh, unless another worker
      // already replaced it — then its new token is simply returned.
      await deps.tokens.accessToken(m.merchantId, { rejected: m.accessToken });
      result.refreshed.push(m.merchantId);
    } catch (err) {
      const info = errorForLog(err);
      result.failed.push({ merchantId: m.merchantId, reason: String(info.reason) });
    }
  }
  try {
    await deps.heartbeat?.record({
      startedAt: now,
      finishedAt: clock(),
      intervalSeconds: deps.settings.intervalMinutes * 60,
      checked: result.checked,
      refreshed: result.refreshed.length,
      failed: result.failed.length,
    });
  } catch (err) {
    result.heartbeatError = String(errorForLog(err).reason);
  }
  return result;
}
