/**
 * The poller's Clover side against real parts: merchants and the shelf in dynalite, the Clover
 * simulator over HTTP (single-use refresh tokens, 429 + retry-after, edits during paging).
 */

import { PutCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloverSimulator, startCloverSimulator } from '../../local/simulators/clover.ts';
import { createCloverClient } from '../../src/clover/client.ts';
import { DEFAULT_SYNC_SETTINGS } from '../../src/config.ts';
import { createMerchantStore, type MerchantStore } from '../../src/store/merchants.ts';
import type { ShelfStore } from '../../src/store/shelf.ts';
import { fanOut } from '../../src/sync/fanout.ts';
import { pollMerchant } from '../../src/sync/poll/index.ts';
import { createTokenManager } from '../../src/sync/tokens.ts';
import { expireStoredAccessToken, startStateStores } from './support.ts';

let state: Awaited<ReturnType<typeof startStateStores>>;
let clover: CloverSimulator;
let merchants: MerchantStore;
let shelf: ShelfStore;

beforeAll(async () => {
  state = await startStateStores();
  ({ merchants, shelf } = state);
  clover = await startCloverSimulator({ appId: 'APP', appSecret: 'APP-SECRET', rateLimits: false });
});
afterAll(async () => {
  await clover?.stop();
  await state?.stop();
});

function pollDeps() {
  const client = createCloverClient({ baseUrl: clover.url, backoffLimitMs: 2_000, retryLimit: 6 });
  const tokens = createTokenManager({
    merchants,
    clover: client,
    appId: async () => 'APP',
    settings: DEFAULT_SYNC_SETTINGS,
  });
  const sent: unknown[] = [];
  return {
    deps: {
      merchants,
      shelf,
      clover: client,
      tokens,
      pushQueue: { send: async (m: readonly unknown[]) => void sent.push(...m) },
      settings: DEFAULT_SYNC_SETTINGS,
      productCodePrecedence: ['sku', 'code', 'id'] as const,
    },
    tokens,
    sent,
  };
}

async function addMerchant(merchantId: string, count: number, sameTime?: number) {
  const pair = clover.addMerchant(
    merchantId,
    Array.from({ length: count }, (_, i) => ({
      id: `${merchantId.slice(0, 4)}${String(i).padStart(9, '0')}`,
      name: `Item ${i}`,
      sku: `SKU-${i}`,
      price: 100 + i,
      ...(sameTime === undefined ? {} : { modifiedTime: sameTime }),
    })),
  );
  await merchants.upsert({ merchantId, storeCode: `store-${merchantId}`, tokens: pair });
}

/** Two polls: the first with the page hook (edits mid-read) installed, the second without. */
async function pollTwiceEditingTheFirst(deps: Parameters<typeof pollMerchant>[0], merchantId: string) {
  const msg = { merchantId, mode: 'incremental' as const, requestedAt: 0, reason: 'manual' as const };
  try {
    await pollMerchant(deps, msg);
    clover.hooks.onItemsPage = undefined;
    await pollMerchant(deps, msg);
  } finally {
    clover.hooks.onItemsPage = undefined;
  }
}

async function storedEqualsClover(merchantId: string) {
  const stored = new Map((await shelf.listItems(merchantId)).map((r) => [r.itemId, r]));
  for (const item of clover.items(merchantId)) {
    const r = stored.get(item.id);
    expect(r?.status, item.id).toBe(item.hidden ? 'removed' : 'active');
    if (!item.hidden) expect(r?.label?.pp, item.id).toBe((item.price / 100).toFixed(2));
  }
}

describe('polling Clover', () => {
  it('syncs a group of items sharing one modifiedTime that is larger than a page completely (150 items, pages of 100)', async () => {
    // A bulk import at Clover's page limit (1,000) works the same; a smaller page keeps the test quick.
    await addMerchant('TIES00000001', 150, 1_700_000_000_000);
    const { deps } = pollDeps();
    deps.settings = { ...DEFAULT_SYNC_SETTINGS, pageLimit: 100 };
    clover.resetRequests();
    const result = await pollMerchant(deps, {
      merchantId: 'TIES00000001',
      mode: 'incremental',
      requestedAt: 0,
      reason: 'manual',
    });
    expect(result).toMatchObject({ status: 'synced', counts: { changed: 150 } });
    expect(clover.countItemRequests('TIES00000001')).toBe(2);
    await storedEqualsClover('TIES00000001');
  }, 180_000);

  it('first sync of exactly 2 full pages costs 3 item requests (the third proves the end), 2 items fewer cost 2; then a no-change poll costs 1 and no refresh', async () => {
    // No count in Clover's answers: a second full page cannot tell whether one more item exists, so
    // 3 requests is the minimum for exactly 2 pages. Pages of 100 here (Clover allows 1,000; the
    // benchmark syncs 2,000 SKUs at that size): 200 items cost 3, and 198 the most two read.
    const longAgo = Date.now() - 86_400_000;
    for (const [merchantId, size, expected] of [
      ['SKUS00000200', 200, 3],
      ['SKUS00000198', 198, 2],
    ] as const) {
      const pair = clover.addMerchant(
        merchantId,
        Array.from({ length: size }, (_, i) => ({
          id: `${merchantId.slice(-4)}${String(i).padStart(9, '0')}`,
          name: `Item ${i}`,
          sku: `SKU-${i}`,
          price: 100 + i,
          modifiedTime: longAgo + i,
        })),
      );
      await merchants.upsert({ merchantId, storeCode: `store-${merchantId}`, tokens: pair });
      const { deps } = pollDeps();
      deps.settings = { ...DEFAULT_SYNC_SETTINGS, pageLimit: 100 };
      const msg = { merchantId, mode: 'incremental' as const, requestedAt: 0, reason: 'manual' as const };
      clover.resetRequests();
      const first = await pollMerchant(deps, msg);
      expect(first).toMatchObject({ status: 'synced', mode: 'full', counts: { changed: size } });
      expect(clover.countItemRequests(merchantId), merchantId).toBe(expected);
      expect((await shelf.listItems(merchantId)).length).toBe(size);

      clover.resetRequests();
      const refreshesBefore = clover.refreshCalls;
      const second = await pollMerchant(deps, msg);
      expect(second).toMatchObject({ status: 'synced', mode: 'incremental', counts: { changed: 0 } });
      expect(clover.countItemRequests(merchantId)).toBe(1);
      expect(clover.refreshCalls).toBe(refreshesBefore);
    }
  }, 60_000);

  it("keeps one merchant's requests under Clover's per-token rate: 60 ghost confirmations, no 429", async () => {
    // A simulator that enforces Clover's limits (16 req/s and 5 concurrent per token).
    const limited = await startCloverSimulator({ appId: 'APP' });
    try {
      const merchantId = 'RATE00000001';
      const pair = limited.addMerchant(
        merchantId,
        Array.from({ length: 80 }, (_, i) => ({
          id: `RATE${String(i).padStart(9, '0')}`,
          name: `Item ${i}`,
          price: 100 + i,
        })),
      );
      await merchants.upsert({ merchantId, storeCode: `store-${merchantId}`, tokens: pair });
      const client = createCloverClient({ baseUrl: limited.url, retryLimit: 6 });
      const deps = {
        ...pollDeps().deps,
        clover: client,
        tokens: createTokenManager({
          merchants,
          clover: client,
          appId: async () => 'APP',
          settings: DEFAULT_SYNC_SETTINGS,
        }),
      };
      const msg = { merchantId, mode: 'full' as const, requestedAt: 0, reason: 'backfill' as const };
      await pollMerchant(deps, msg);
      for (const item of limited.items(merchantId).slice(0, 60)) limited.deleteItem(merchantId, item.id);
      limited.resetRequests();
      const result = await pollMerchant(deps, msg);
      expect(result).toMatchObject({ status: 'synced', counts: { removed: 60 } });
      const gets = limited.requests.filter((r) => /\/items\/./.test(r.path));
      expect(gets).toHaveLength(60);
      expect(limited.requests.filter((r) => r.status === 429)).toEqual([]);
    } finally {
      await limited.stop();
    }
  });

  it('skips a merchant stored without a token, with the reason, while fan-out and the others go on', async () => {
    const own = await startStateStores();
    try {
      const unusable: string[] = [];
      const store = createMerchantStore(own.doc, 'merchants', Date.now, (id, reason) =>
        unusable.push(`${id}: ${reason}`),
      );
      await own.doc.send(
        new PutCommand({
          TableName: 'merchants',
          Item: {
            merchantId: 'NOTOKEN00001',
            storeCode: 'store-x',
            state: 'active',
            tokenVersion: 0,
            createdAt: 1,
            updatedAt: 1,
          },
        }),
      );
      const pair = clover.addMerchant('GOODTOKEN001', [{ id: 'GOOD00000001', name: 'Soda', price: 199 }]);
      await store.upsert({ merchantId: 'GOODTOKEN001', storeCode: 'store-good', tokens: pair });

      const pollQueue = {
        sent: [] as Array<{ body: unknown }>,
        send: async (m: readonly { body: unknown }[]) => void pollQueue.sent.push(...m),
      };
      const fanned = await fanOut(
        {
          merchants: store,
          pollQueue,
          cadence: { pollIntervalSeconds: 120, safetyPollIntervalMinutes: 15 },
          fanOutPeriodSeconds: 60,
          readRequestsPerSecond: 40,
        },
        { kind: 'manual', requestId: 'r1' },
      );
      expect(fanned.queued).toBe(1);
      expect(pollQueue.sent.map((m) => (m.body as { merchantId: string }).merchantId)).toEqual([
        'GOODTOKEN001',
      ]);
      expect(unusable).toEqual([
        expect.stringMatching(/^NOTOKEN00001: no usable Clover token is stored \(accessToken/),
      ]);

      const client = createCloverClient({ baseUrl: clover.url });
      const deps = {
        ...pollDeps().deps,
        merchants: store,
        shelf: own.shelf,
        tokens: createTokenManager({
          merchants: store,
          clover: client,
          appId: async () => 'APP',
          settings: DEFAULT_SYNC_SETTINGS,
        }),
      };
      const msg = (merchantId: string) => ({
        merchantId,
        mode: 'full' as const,
        requestedAt: 0,
        reason: 'backfill' as const,
      });
      const skipped = await pollMerchant(deps, msg('NOTOKEN00001'));
      expect(skipped).toMatchObject({
        status: 'skipped',
        reason: expect.stringMatching(/no usable Clover token/),
      });
      expect(await pollMerchant(deps, msg('GOODTOKEN001'))).toMatchObject({
        status: 'synced',
        counts: { changed: 1 },
      });
    } finally {
      await own.stop();
    }
  });

  it('converges although items are edited while pages are read (moved to the end of the order)', async () => {
    await addMerchant('EDIT00000001', 250);
    const { deps } = pollDeps();
    deps.settings = { ...DEFAULT_SYNC_SETTINGS, pageLimit: 40 };
    let edits = 0;
    clover.hooks.onItemsPage = ({ merchantId }) => {
      if (merchantId !== 'EDIT00000001' || edits >= 12) return;
      const items = clover.items(merchantId);
      const victim = items[(edits * 37) % items.length];
      if (victim)
        clover.upsertItem(merchantId, { id: victim.id, price: victim.price + 1000, hidden: edits % 4 === 0 });
      edits++;
    };
    await pollTwiceEditingTheFirst(deps, 'EDIT00000001');
    expect(edits).toBeGreaterThanOrEqual(5); // edits really happened between page reads
    await storedEqualsClover('EDIT00000001');
  });

  it('stops a read the edits keep invalidating, records it as partial, and the next poll completes it', async () => {
    const tie = 1_700_000_000_000;
    await addMerchant('MOVE00000001', 60, tie);
    const { deps } = pollDeps();
    deps.settings = { ...DEFAULT_SYNC_SETTINGS, pageLimit: 5 };
    // After every page, the two first items of the tie group (already read) are edited away.
    clover.hooks.onItemsPage = ({ merchantId }) => {
      if (merchantId !== 'MOVE00000001') return;
      const group = clover
        .items(merchantId)
        .filter((i) => i.modifiedTime === tie)
        .sort((a, b) => a.createdTime - b.createdTime || a.id.localeCompare(b.id));
      for (const item of group.slice(0, 2))
        clover.upsertItem(merchantId, { id: item.id, price: item.price + 1 });
    };
    const msg = {
      merchantId: 'MOVE00000001',
      mode: 'incremental' as const,
      requestedAt: 0,
      reason: 'manual' as const,
    };
    try {
      const first = await pollMerchant(deps, msg);
      expect(first).toMatchObject({ status: 'synced', cleanedUp: false });
      expect(first.status === 'synced' && first.partial).toMatch(/kept changing/);
      const stored = await merchants.get('MOVE00000001');
      expect(stored).toMatchObject({ lastSyncStatus: 'partial', cursor: tie });
      expect(stored?.lastFullSyncAt).toBeUndefined();
    } finally {
      clover.hooks.onItemsPage = undefined;
    }
    const second = await pollMerchant(deps, msg);
    expect(second.status === 'synced' && second.partial).toBeUndefined();
    expect((await merchants.get('MOVE00000001'))?.lastSyncStatus).toBe('ok');
    await storedEqualsClover('MOVE00000001');
  });

  it('spends one refresh for 50 concurrent token requests of an expired token; all get the new token', async () => {
    await addMerchant('RACE00000001', 1);
    clover.expireAccessToken('RACE00000001');
    await expireStoredAccessToken(merchants, 'RACE00000001');
    const before = clover.refreshCalls;
    const workers = Array.from({ length: 5 }, () => pollDeps().tokens);
    const tokens = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        (workers[i % 5] as (typeof workers)[number]).accessToken('RACE00000001'),
      ),
    );
    expect(clover.refreshCalls - before).toBe(1);
    expect(new Set(tokens).size).toBe(1);
    const res = await fetch(`${clover.url}/v3/merchants/RACE00000001/items`, {
      headers: { authorization: `Bearer ${tokens[0]}` },
    });
    expect(res.status).toBe(200);
  });

  it('converges with 429 + retry-after on every 4th request and never asks again before retry-after elapsed', async () => {
    await addMerchant('SLOW00000001', 1000);
    const { deps } = pollDeps();
    deps.settings = { ...DEFAULT_SYNC_SETTINGS, pageLimit: 100 }; // ~11 requests, so every 4th is hit
    clover.resetRequests();
    clover.rateLimitEvery(4, 1);
    try {
      const result = await pollMerchant(deps, {
        merchantId: 'SLOW00000001',
        mode: 'incremental',
        requestedAt: 0,
        reason: 'manual',
      });
      expect(result.status).toBe('synced');
    } finally {
      clover.rateLimitEvery(0, 0);
    }
    await storedEqualsClover('SLOW00000001');
    const requests = clover.requests.filter((r) => r.merchantId === 'SLOW00000001');
    expect(requests.some((r) => r.status === 429)).toBe(true);
    requests.forEach((r, i) => {
      const next = requests[i + 1];
      if (r.status === 429 && next) expect(next.at - r.at).toBeGreaterThanOrEqual(1000);
    });
  });

  describe('when Clover rotated the pair but our write of it failed', () => {
    async function lostWrite(merchantId: string, appSecret: string | undefined) {
      await addMerchant(merchantId, 1);
      await expireStoredAccessToken(merchants, merchantId);
      const client = createCloverClient({ baseUrl: clover.url });
      const settings = { ...DEFAULT_SYNC_SETTINGS, refreshLeaseMs: 100, refreshWaitMs: 2_000 };
      // The write of the new pair dies, every time, as if DynamoDB were unreachable.
      const broken = {
        ...merchants,
        saveRefreshedTokens: async () => Promise.reject(new Error('write killed')),
      };
      const dying = createTokenManager({
        merchants: broken,
        clover: client,
        appId: async () => 'APP',
        settings,
        sleep: async () => {},
      });
      await expect(dying.accessToken(merchantId)).rejects.toThrow(/could not be stored/);
      await new Promise((r) => setTimeout(r, 150)); // the dead worker's lease runs out
      return createTokenManager({
        merchants,
        clover: client,
        appId: async () => 'APP',
        // As buildDeps wires it: always a function, resolving to undefined when none is configured.
        appSecret: async () => appSecret,
        settings,
      });
    }

    it('recovers through /oauth/v2/recovery when the app secret is configured', async () => {
      const tokens = await lostWrite('LOST00000001', 'APP-SECRET');
      const token = await tokens.accessToken('LOST00000001');
      const res = await fetch(`${clover.url}/v3/merchants/LOST00000001/items`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      expect((await merchants.get('LOST00000001'))?.state).toBe('active');
    });

    it('otherwise marks the merchant needs_reauth with the reason', async () => {
      const tokens = await lostWrite('LOST00000002', undefined);
      await expect(tokens.accessToken('LOST00000002')).rejects.toThrow(/re-authorization/);
      const m = await merchants.get('LOST00000002');
      expect(m?.state).toBe('needs_reauth');
      expect(m?.stateReason).toMatch(/no Clover app secret is configured/);
    });
  });

  it('keeps the pair Clover issued to a worker whose answer came after its lease ran out', async () => {
    const merchantId = 'SLOWLEASE001';
    await addMerchant(merchantId, 1);
    await expireStoredAccessToken(merchants, merchantId);
    const client = createCloverClient({ baseUrl: clover.url });
    // A lease far shorter than one refresh, to force the overlap the default lease (2 min) prevents.
    const settings = { ...DEFAULT_SYNC_SETTINGS, refreshLeaseMs: 100, refreshWaitMs: 2_000 };
    const slow = createTokenManager({
      merchants,
      clover: {
        ...client,
        refreshTokens: async (...args) => {
          const pair = await client.refreshTokens(...args);
          await new Promise((r) => setTimeout(r, 400)); // Clover answered; the answer is slow to arrive
          return pair;
        },
      },
      appId: async () => 'APP',
      settings,
    });
    const late = createTokenManager({ merchants, clover: client, appId: async () => 'APP', settings });
    const succeededBefore = clover.stats.refreshSucceeded;
    const first = slow.accessToken(merchantId);
    await new Promise((r) => setTimeout(r, 200));
    // The second worker takes the expired lease; Clover refuses the token the first one spent.
    await expect(late.accessToken(merchantId)).rejects.toThrow(/re-authorization/);
    const token = await first;
    expect(clover.stats.refreshSucceeded - succeededBefore).toBe(1);
    const stored = await merchants.get(merchantId);
    expect(stored).toMatchObject({ state: 'active', accessToken: token });
    expect(stored?.stateReason).toBeUndefined();
    // And Clover still honours the stored refresh token: nobody is locked out.
    await expect(client.refreshTokens('APP', stored?.refreshToken ?? '', merchantId)).resolves.toMatchObject({
      access_token: expect.any(String),
    });
  });

  it('keeps every worker together within the app-wide request budget', async () => {
    const { createRequestBudget } = await import('../../src/store/budget.ts');
    const grants: number[] = [];
    const late: number[] = [];
    const workers = Array.from({ length: 4 }, () => createRequestBudget(state.doc, 'merchants'));
    const started = Date.now();
    await Promise.all(
      workers.map(async (budget) => {
        for (let i = 0; i < 8; i++) {
          // Counted by the window the budget granted: a grant decided late in one second can
          // resolve in the next, so the time it resolves says nothing about the window.
          const second = (await budget.take(10)) ?? Number.NaN;
          late.push(Math.floor(Date.now() / 1000) - second);
          grants.push(second);
        }
      }),
    );
    const perSecond = new Map<number, number>();
    for (const second of grants) perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    expect(grants).toHaveLength(32);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(10);
    // Every grant is for the second it was decided in: never a later one, and never long ago.
    expect(Math.min(...late)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...late)).toBeLessThanOrEqual(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000); // 32 requests at 10/s need at least 3 windows
    expect(await merchants.list()).not.toContainEqual(
      expect.objectContaining({ merchantId: '#clover-request-budget' }),
    );
  });

  it('converges after two polls for random catalogs and random edits interleaved with page reads (property)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 3, max: 40 }),
        fc.array(
          fc.record({
            page: fc.nat({ max: 12 }),
            pick: fc.nat(),
            hide: fc.boolean(),
            bump: fc.integer({ min: 1, max: 500 }),
          }),
          {
            maxLength: 15,
          },
        ),
        fc.boolean(),
        async (size, pageLimit, edits, sameTime) => {
          const merchantId = `PROP${String(++run).padStart(9, '0')}`;
          await addMerchant(merchantId, size, sameTime ? 1_700_000_000_000 : undefined);
          const { deps } = pollDeps();
          deps.settings = { ...DEFAULT_SYNC_SETTINGS, pageLimit };
          let pageReads = 0;
          clover.hooks.onItemsPage = ({ merchantId: m }) => {
            if (m !== merchantId) return;
            const items = clover.items(m);
            for (const e of edits.filter((x) => x.page === pageReads)) {
              const victim = items[e.pick % Math.max(1, items.length)];
              if (victim)
                clover.upsertItem(m, { id: victim.id, price: victim.price + e.bump, hidden: e.hide });
            }
            pageReads++;
          };
          await pollTwiceEditingTheFirst(deps, merchantId);
          await storedEqualsClover(merchantId);
        },
      ),
      { numRuns: 15 },
    );
  });
});
