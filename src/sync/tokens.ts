import { randomUUID } from 'node:crypto';
import type { CloverClient } from '../clover/client.ts';
import {
  CloverApiError,
  CloverAppRefusedError,
  MerchantUnavailableError,
  RefreshRejectedError,
  TokenBusyError,
  TokenPersistError,
} from '../errors.ts';
import type { MerchantRecord, MerchantStore } from '../store/merchants.ts';

export interface TokenManagerDeps {
  merchants: MerchantStore;
  clover: Pick<CloverClient, 'refreshTokens' | 'recoverTokens'>;
  /** Clover app id (the OAuth client_id), read from the app secret. */
  appId: () => Promise<string>;
  /** Clover app secret, when configured: enables the recovery-token path. */
  appSecret?: () => Promise<string | undefined>;
  settings: { refreshThresholdSeconds: number; refreshLeaseMs: number; refreshWaitMs: number };
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Identifies this worker in the lease; unique per process by default. */
  owner?: string;
  onRefresh?: (merchantId: string) => void;
  onRecovery?: (merchantId: string) => void;
}

export interface TokenManager {
  /**
   * A usable access token for the merchant, refreshing it first when it expires within the
   * threshold. `rejected` is a token Clover just answered 401 for: a different stored token is
   * returned as is, the same one forces one refresh.
   */
  accessToken(merchantId: string, opts?: { rejected?: string }): Promise<string>;
}

/**
 * Single-flight refresh across every Lambda: a refresh token is single-use, so exactly one
 * worker may spend it. The winner takes a lease with a conditional write on the token version,
 * refreshes, and stores the new pair (with retries) before anyone uses it; everyone else waits
 * for the version to move and reuses the winner's token.
 */
export function createTokenManager(deps: TokenManagerDeps): TokenManager {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const owner = deps.owner ?? `worker-${randomUUID()}`;
  const { refreshThresholdSeconds, refreshLeaseMs, refreshWaitMs } = deps.settings;

  const fresh = (m: MerchantRecord) => m.accessTokenExpiresAt * 1000 - now() > refreshThresholdSeconds * 1000;

  const load = async (merchantId: string): Promise<MerchantRecord> => {
    const m = await deps.merchants.get(merchantId);
    if (!m) throw new MerchantUnavailableError('Unknown merchant', { merchantId });
    if (m.state !== 'active') {
      throw new MerchantUnavailableError(
        `Merchant is ${m.state}${m.stateReason ? `: ${m.stateReason}` : ''}`,
        {
          merchantId,
        },
      );
    }
    return m;
  };

  const persist = async (m: MerchantRecord, pair: Parameters<MerchantStore['saveRefreshedTokens']>[2]) => {
    let lastError: unknown;
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const saved = await deps.merchants.saveRefreshedTokens(
          m.merchantId,
          m.tokenVersion,
          pair,
          m.refreshToken,
        );
        // A write whose answer was lost (timeout after commit) fails its retry's condition: if
        // the stored pair is ours, it was stored.
        const stored = saved || (await deps.merchants.get(m.merchantId))?.refreshToken === pair.refresh_token;
        if (stored) {
          // A worker refused the token this pair was issued for may have marked the merchant
          // needs_reauth meanwhile; the pair proves it authorized. Retried with the rest.
          await deps.merchants.clearNeedsReauth(m.merchantId, m.tokenVersion + 1);
          return;
        }
        // Someone stored another pair for this version (a re-authorization, or a refresh that
        // outlived its lease): the one we hold may be the only valid one. Surface it loudly.
        throw new TokenPersistError('Another token pair was stored while Clover issued this one', {
          merchantId: m.merchantId,
          attempt,
        });
      } catch (err) {
        if (err instanceof TokenPersistError) throw err;
        lastError = err;
        await sleep(Math.min(2000, 100 * 2 ** attempt));
      }
    }
    throw new TokenPersistError(
      'Clover issued a new token pair but it could not be stored',
      { merchantId: m.merchantId, attempt: 5 },
      { cause: lastError },
    );
  };

  /**
   * Spends the recovery token: a new pair, or why recovery cannot help (Clover refused the token,
   * or answered our request with a client error: its shape is an assumption). A failure that may
   * pass (Clover down or busy) or a refused app (our credentials: fixed, recovery may still work)
   * fails this attempt, leaving the merchant as it is.
   */
  const recover = async (m: MerchantRecord, secret: string) => {
    try {
      return {
        pair: await deps.clover.recoverTokens(await deps.appId(), secret, m.refreshToken, m.merchantId),
      };
    } catch (err) {
      if (err instanceof RefreshRejectedError) return { failed: 'recovery was refused too' };
      if (err instanceof CloverApiError && !(err instanceof CloverAppRefusedError) && !err.retryable)
        return { failed: `recovery failed with HTTP ${err.context.status}` };
      throw err;
    }
  };

  /** What one look at the stored pair leads to. */
  type Next = { kind: 'use'; token: string } | { kind: 'wait' } | { kind: 'read again' };
  const use = (token: string): Next => ({ kind: 'use', token });

  /** One look at the stored pair: use it, spend its refresh token (if this worker wins the lease), or wait. */
  const decide = async (m: MerchantRecord, firstVersion: number, rejected?: string): Promise<Next> => {
    // The stored token will do: fresh enough, or not the one Clover just refused.
    const forced = rejected !== undefined && rejected === m.accessToken;
    if (!forced && (rejected !== undefined || fresh(m))) return use(m.accessToken);
    // Another worker refreshed while we waited: its token, even if Clover gave it a life shorter
    // than our threshold, rather than spending another single-use refresh token.
    if (m.tokenVersion > firstVersion && m.accessTokenExpiresAt * 1000 > now()) return use(m.accessToken);
    // Someone else holds the lease, or takes it first: wait for the pair they store.
    const leaseLive = m.refreshLeaseUntil !== undefined && m.refreshLeaseUntil >= now();
    if (
      leaseLive ||
      !(await deps.merchants.acquireRefreshLease(m.merchantId, owner, m.tokenVersion, refreshLeaseMs))
    )
      return { kind: 'wait' };
    return refresh(m);
  };

  /** This worker holds the lease: it spends the refresh token and stores the new pair before using it. */
  const refresh = async (m: MerchantRecord): Promise<Next> => {
    let pair: Awaited<ReturnType<CloverClient['refreshTokens']>>;
    try {
      deps.onRefresh?.(m.merchantId);
      pair = await deps.clover.refreshTokens(await deps.appId(), m.refreshToken, m.merchantId);
    } catch (err) {
      if (err instanceof RefreshRejectedError) return refused(m, err);
      await deps.merchants.releaseRefreshLease(m.merchantId, owner).catch(() => undefined);
      throw err;
    }
    await persist(m, pair);
    return use(pair.access_token);
  };

  /**
   * A step of handling a refusal that failed (a read, the secret, a recovery that may pass): the
   * lease goes, so the next attempt need not wait it out.
   */
  const leaseGoesIfFails = async <T>(m: MerchantRecord, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      await deps.merchants.releaseRefreshLease(m.merchantId, owner).catch(() => undefined);
      throw err;
    }
  };

  /** Clover refused the refresh token: another worker's new pair, a recovery, or re-authorization. */
  const refused = async (m: MerchantRecord, err: RefreshRejectedError): Promise<Next> => {
    const { merchantId } = m;
    // Another worker may have stored a new pair meanwhile (its refresh outlived its lease): use it.
    // Recovering with our stale token now would invalidate that pair.
    const current = await leaseGoesIfFails(m, () => deps.merchants.get(merchantId));
    if (current && current.tokenVersion !== m.tokenVersion) return { kind: 'read again' };
    // Clover may have rotated the pair while our write of the new one failed: the token we hold is
    // then the recovery token, which a high-trust app can exchange. Deployed wiring always passes
    // appSecret; only its value says whether one is configured.
    const secret = await leaseGoesIfFails(m, async () => deps.appSecret?.());
    const recovery = secret ? await leaseGoesIfFails(m, () => recover(m, secret)) : undefined;
    if (recovery?.pair) {
      await persist(m, recovery.pair);
      deps.onRecovery?.(m.merchantId);
      return use(recovery.pair.access_token);
    }
    // Only a pair that is still current when Clover refuses it means the merchant must
    // re-authorize: another worker may have rotated it a moment ago.
    const hint = recovery
      ? ` (${recovery.failed})`
      : ' (no Clover app secret is configured, so recovery was not tried)';
    const reason = `Clover rejected the refresh token (HTTP ${err.context.status ?? '?'}); the merchant must re-authorize the app${hint}`;
    if (
      !(await leaseGoesIfFails(m, () => deps.merchants.markNeedsReauth(merchantId, m.tokenVersion, reason)))
    )
      return { kind: 'read again' };
    throw new MerchantUnavailableError('Merchant needs re-authorization', { merchantId }, { cause: err });
  };

  return {
    async accessToken(merchantId, opts = {}) {
      const deadline = now() + refreshWaitMs;
      let firstVersion: number | undefined;
      for (let waits = 0; ; ) {
        const m = await load(merchantId);
        firstVersion ??= m.tokenVersion;
        const next = await decide(m, firstVersion, opts.rejected);
        if (next.kind === 'use') return next.token;
        if (next.kind === 'read again') continue;
        if (now() >= deadline)
          throw new TokenBusyError('Timed out waiting for another worker to refresh the token', {
            merchantId,
          });
        await sleep(Math.min(250, 25 * 2 ** Math.min(waits++, 4)));
      }
    },
  };
}
