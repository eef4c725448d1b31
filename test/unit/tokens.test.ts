import { describe, expect, it, vi } from 'vitest';
import type { TokenPair } from '../../src/clover/schemas.ts';
import {
  CloverApiError,
  CloverAppRefusedError,
  MerchantUnavailableError,
  RefreshRejectedError,
  TokenPersistError,
} from '../../src/errors.ts';
import type { AppSecret } from '../../src/secrets.ts';
import { createTokenManager } from '../../src/sync/tokens.ts';
import { FakeMerchantStore, merchantRecord } from './fakes.ts';

const notUsed = async (): Promise<TokenPair> => {
  throw new Error('recovery not expected');
};
const settings = { refreshThresholdSeconds: 900, refreshLeaseMs: 5_000, refreshWaitMs: 5_000 };
const nowS = () => Math.floor(Date.now() / 1000);

function setup(expiresInSeconds: number, refresh?: (token: string) => Promise<TokenPair>) {
  const store = new FakeMerchantStore(merchantRecord({ accessTokenExpiresAt: nowS() + expiresInSeconds }));
  let n = 0;
  const refreshTokens = vi.fn(
    refresh ??
      (async () => {
        n++;
        await new Promise((r) => setTimeout(r, 20));
        return {
          access_token: `access-${n}`,
          access_token_expiration: nowS() + 1800,
          refresh_token: `refresh-${n}`,
          refresh_token_expiration: nowS() + 86_400,
        };
      }),
  );
  const tokens = createTokenManager({
    merchants: store,
    clover: { refreshTokens: (_app, token) => refreshTokens(token), recoverTokens: notUsed },
    appId: async () => 'APP',
    settings,
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 5))),
  });
  return { store, tokens, refreshTokens };
}

describe('token manager', () => {
  it('returns a token that expires in more than 15 minutes without refreshing', async () => {
    const { tokens, refreshTokens } = setup(16 * 60);
    expect(await tokens.accessToken('M1')).toBe('access-0');
    expect(refreshTokens).not.toHaveBeenCalled();
  });

  it('refreshes a token expiring within 15 minutes once, and stores the pair with the previous refresh token', async () => {
    const { tokens, store, refreshTokens } = setup(14 * 60);
    expect(await tokens.accessToken('M1')).toBe('access-1');
    expect(refreshTokens).toHaveBeenCalledTimes(1);
    expect(refreshTokens).toHaveBeenCalledWith('refresh-0');
    const m = store.records.get('M1');
    expect(m).toMatchObject({
      refreshToken: 'refresh-1',
      previousRefreshToken: 'refresh-0',
      tokenVersion: 2,
    });
    expect(m?.refreshLeaseOwner).toBeUndefined();
  });

  it('spends the refresh token exactly once for 50 concurrent callers, all of whom get the new token', async () => {
    const { tokens, refreshTokens } = setup(-10);
    const results = await Promise.all(Array.from({ length: 50 }, () => tokens.accessToken('M1')));
    expect(refreshTokens).toHaveBeenCalledTimes(1);
    expect(new Set(results)).toEqual(new Set(['access-1']));
  });

  it('spends one refresh even when Clover issues a token shorter-lived than the threshold', async () => {
    let n = 0;
    const { tokens, refreshTokens } = setup(-10, async () => {
      n++;
      await new Promise((r) => setTimeout(r, 20));
      return {
        access_token: `short-${n}`,
        access_token_expiration: nowS() + 600, // under the 900 s threshold
        refresh_token: `refresh-${n}`,
        refresh_token_expiration: nowS() + 86_400,
      };
    });
    const results = await Promise.all(Array.from({ length: 10 }, () => tokens.accessToken('M1')));
    expect(refreshTokens).toHaveBeenCalledTimes(1);
    expect(new Set(results)).toEqual(new Set(['short-1']));
  });

  it('also holds across separate workers (separate managers sharing the store)', async () => {
    const { store, refreshTokens } = setup(-10);
    const workers = Array.from({ length: 5 }, () =>
      createTokenManager({
        merchants: store,
        clover: { refreshTokens: (_a, t) => refreshTokens(t), recoverTokens: notUsed },
        appId: async () => 'APP',
        settings,
      }),
    );
    const results = await Promise.all(workers.flatMap((w) => [w.accessToken('M1'), w.accessToken('M1')]));
    expect(refreshTokens).toHaveBeenCalledTimes(1);
    expect(new Set(results).size).toBe(1);
  });

  it('marks the merchant needs_reauth when Clover rejects a refresh token that is still current', async () => {
    const { tokens, store } = setup(-10, async () => {
      throw new RefreshRejectedError('rejected', { status: 400 });
    });
    await expect(tokens.accessToken('M1')).rejects.toBeInstanceOf(MerchantUnavailableError);
    expect(store.records.get('M1')?.state).toBe('needs_reauth');
    expect(store.records.get('M1')?.stateReason).toMatch(/re-authorize/);
    // Later calls do not try again.
    await expect(tokens.accessToken('M1')).rejects.toBeInstanceOf(MerchantUnavailableError);
  });

  it('says no app secret is configured when the secret has none, wired as buildDeps wires it', async () => {
    const store = new FakeMerchantStore(merchantRecord({ accessTokenExpiresAt: nowS() - 10 }));
    const recoverTokens = vi.fn(notUsed);
    // buildDeps always passes appSecret: a reader of the secret's optional cloverAppSecret field.
    const secret = async (): Promise<AppSecret> => ({ cloverAppId: 'APP' });
    const tokens = createTokenManager({
      merchants: store,
      clover: {
        refreshTokens: async () => {
          throw new RefreshRejectedError('rejected', { status: 400 });
        },
        recoverTokens,
      },
      appId: async () => (await secret()).cloverAppId,
      appSecret: async () => (await secret()).cloverAppSecret,
      settings,
    });
    await expect(tokens.accessToken('M1')).rejects.toBeInstanceOf(MerchantUnavailableError);
    expect(store.records.get('M1')?.stateReason).toMatch(/no Clover app secret is configured/);
    expect(recoverTokens).not.toHaveBeenCalled();
  });

  describe('when Clover refuses the refresh token and recovery is tried', () => {
    const withRecovery = (recoverTokens: () => Promise<TokenPair>) => {
      const store = new FakeMerchantStore(merchantRecord({ accessTokenExpiresAt: nowS() - 10 }));
      const refreshTokens = vi.fn(async (): Promise<TokenPair> => {
        throw new RefreshRejectedError('rejected', { status: 400 });
      });
      const recover = vi.fn(recoverTokens);
      const tokens = createTokenManager({
        merchants: store,
        clover: { refreshTokens, recoverTokens: recover },
        appId: async () => 'APP',
        appSecret: async () => 'SECRET',
        settings,
      });
      return { store, tokens, refreshTokens, recover };
    };

    it.each([
      [
        'refused the recovery token too',
        new RefreshRejectedError('rejected', { status: 400 }),
        /recovery was refused too/,
      ],
      [
        'answered our request with a client error',
        new CloverApiError('bad request', { status: 400 }),
        /recovery failed with HTTP 400/,
      ],
      [
        'does not know the recovery path',
        new CloverApiError('not found', { status: 404 }),
        /recovery failed with HTTP 404/,
      ],
    ])('marks the merchant needs_reauth when Clover %s, saying why', async (_, refusal, reason) => {
      const { store, tokens, recover } = withRecovery(async () => Promise.reject(refusal));
      await expect(tokens.accessToken('M1')).rejects.toBeInstanceOf(MerchantUnavailableError);
      expect(recover).toHaveBeenCalledTimes(1);
      expect(store.records.get('M1')).toMatchObject({
        state: 'needs_reauth',
        stateReason: expect.stringMatching(reason),
      });
      // Later calls spend nothing more.
      await expect(tokens.accessToken('M1')).rejects.toBeInstanceOf(MerchantUnavailableError);
      expect(recover).toHaveBeenCalledTimes(1);
    });

    it.each([
      ['is down', new CloverApiError('unavailable', { status: 503 })],
      ['is busy', new CloverApiError('rate limited', { status: 429 })],
      ['cannot be reached', new CloverApiError('timed out', {})],
      ['times the request out (408)', new CloverApiError('request timeout', { status: 408 })],
      [
        'refuses our app credentials (fixed, recovery may still work)',
        new CloverAppRefusedError('invalid_client', { status: 401 }),
      ],
    ])('keeps the merchant as it is and gives the lease back when Clover %s', async (_, failure) => {
      const { store, tokens, refreshTokens, recover } = withRecovery(async () => Promise.reject(failure));
      await expect(tokens.accessToken('M1')).rejects.toBe(failure);
      expect(store.records.get('M1')).toMatchObject({ state: 'active' });
      expect(store.records.get('M1')?.refreshLeaseOwner).toBeUndefined();
      // The next attempt tries at once, without waiting out a lease.
      await expect(tokens.accessToken('M1')).rejects.toBe(failure);
      expect(refreshTokens).toHaveBeenCalledTimes(2);
      expect(recover).toHaveBeenCalledTimes(2);
    });
  });

  it('gives the lease back when the app secret cannot be read after a refusal', async () => {
    const store = new FakeMerchantStore(merchantRecord({ accessTokenExpiresAt: nowS() - 10 }));
    const unreadable = new Error('Secrets Manager unavailable');
    const tokens = createTokenManager({
      merchants: store,
      clover: {
        refreshTokens: async () => {
          throw new RefreshRejectedError('rejected', { status: 400 });
        },
        recoverTokens: notUsed,
      },
      appId: async () => 'APP',
      appSecret: async () => Promise.reject(unreadable),
      settings,
    });
    await expect(tokens.accessToken('M1')).rejects.toBe(unreadable);
    expect(store.records.get('M1')?.state).toBe('active');
    expect(store.records.get('M1')?.refreshLeaseOwner).toBeUndefined();
  });

  it('does not mark needs_reauth when another worker rotated the pair meanwhile', async () => {
    let store!: FakeMerchantStore;
    const ctx = setup(-10, async () => {
      const m = store.records.get('M1');
      if (m)
        Object.assign(m, { tokenVersion: 2, accessToken: 'rotated', accessTokenExpiresAt: nowS() + 3600 });
      throw new RefreshRejectedError('already used', { status: 401 });
    });
    store = ctx.store;
    expect(await ctx.tokens.accessToken('M1')).toBe('rotated');
    expect(store.records.get('M1')?.state).toBe('active');
  });

  it('forces one refresh when Clover rejected the current token, but not for an outdated one', async () => {
    const { tokens, refreshTokens } = setup(3600);
    expect(await tokens.accessToken('M1', { rejected: 'access-0' })).toBe('access-1');
    expect(refreshTokens).toHaveBeenCalledTimes(1);
    expect(await tokens.accessToken('M1', { rejected: 'access-0' })).toBe('access-1');
    expect(refreshTokens).toHaveBeenCalledTimes(1);
  });

  it('retries storing the new pair and then fails loudly', async () => {
    const ok = setup(-10);
    ok.store.failSaves = 2;
    expect(await ok.tokens.accessToken('M1')).toBe('access-1');

    const bad = setup(-10);
    bad.store.failSaves = 10;
    await expect(bad.tokens.accessToken('M1')).rejects.toBeInstanceOf(TokenPersistError);
  });

  it('waits for a live lease held elsewhere and reuses that worker’s token; takes over an expired one', async () => {
    const { tokens, store, refreshTokens } = setup(-10);
    const m = store.records.get('M1');
    if (!m) throw new Error('fixture');
    Object.assign(m, { refreshLeaseOwner: 'other', refreshLeaseUntil: Date.now() + 60_000 });
    setTimeout(() => {
      Object.assign(m, { tokenVersion: 2, accessToken: 'from-other', accessTokenExpiresAt: nowS() + 3600 });
      delete m.refreshLeaseOwner;
      delete m.refreshLeaseUntil;
    }, 30);
    expect(await tokens.accessToken('M1')).toBe('from-other');
    expect(refreshTokens).not.toHaveBeenCalled();

    Object.assign(m, {
      accessTokenExpiresAt: nowS() - 1,
      refreshLeaseOwner: 'dead',
      refreshLeaseUntil: Date.now() - 1,
    });
    expect(await tokens.accessToken('M1')).toBe('access-1');
  });

  it('never spends the recovery token when the refusal came from another worker having stored a new pair', async () => {
    const store = new FakeMerchantStore(merchantRecord({ accessTokenExpiresAt: nowS() - 10 }));
    const recoverTokens = vi.fn(notUsed);
    const tokens = createTokenManager({
      merchants: store,
      clover: {
        refreshTokens: async () => {
          // The other worker's refresh spent this token and stored its pair just before ours arrived.
          Object.assign(store.records.get('M1') ?? {}, {
            tokenVersion: 2,
            accessToken: 'stored-by-other',
            accessTokenExpiresAt: nowS() + 3600,
          });
          throw new RefreshRejectedError('already used', { status: 400 });
        },
        recoverTokens,
      },
      appId: async () => 'APP',
      appSecret: async () => 'APP-SECRET',
      settings,
    });
    expect(await tokens.accessToken('M1')).toBe('stored-by-other');
    // Recovering with the stale token would have issued a pair and invalidated the stored one.
    expect(recoverTokens).not.toHaveBeenCalled();
  });

  it('counts a pair as stored when the write committed but its answer was lost, and still lifts a needs_reauth set meanwhile', async () => {
    class AnswerLostOnce extends FakeMerchantStore {
      private lost = false;
      override async saveRefreshedTokens(...args: Parameters<FakeMerchantStore['saveRefreshedTokens']>) {
        const saved = await super.saveRefreshedTokens(...args);
        if (this.lost) return saved;
        this.lost = true;
        throw new Error('socket hang up');
      }
    }
    const store = new AnswerLostOnce(merchantRecord({ accessTokenExpiresAt: nowS() - 10 }));
    const tokens = createTokenManager({
      merchants: store,
      clover: {
        refreshTokens: async () => {
          // A worker whose lease this refresh outlived was refused the token we just spent.
          await store.markNeedsReauth('M1', 1, 'Clover rejected the refresh token');
          return {
            access_token: 'access-1',
            access_token_expiration: nowS() + 1800,
            refresh_token: 'refresh-1',
            refresh_token_expiration: nowS() + 86_400,
          };
        },
        recoverTokens: notUsed,
      },
      appId: async () => 'APP',
      settings,
      sleep: async () => undefined,
    });
    expect(await tokens.accessToken('M1')).toBe('access-1');
    expect(store.records.get('M1')).toMatchObject({
      refreshToken: 'refresh-1',
      tokenVersion: 2,
      state: 'active',
    });
    expect(store.records.get('M1')?.stateReason).toBeUndefined();
  });
});
