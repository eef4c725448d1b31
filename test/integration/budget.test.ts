/**
 * The app-wide Clover budget as two Lambdas share it: two clients, each with its own budget over
 * one dynalite table, against the Clover simulator over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloverSimulator, startCloverSimulator } from '../../local/simulators/clover.ts';
import { budgetGate, budgetLimits } from '../../src/clover/budgeted.ts';
import { createCloverClient } from '../../src/clover/client.ts';
import { createRequestBudget } from '../../src/store/budget.ts';
import { startStateStores } from './support.ts';

let state: Awaited<ReturnType<typeof startStateStores>>;
let clover: CloverSimulator;

beforeAll(async () => {
  state = await startStateStores();
  clover = await startCloverSimulator({ appId: 'APP', rateLimits: false });
});
afterAll(async () => {
  await clover?.stop();
  await state?.stop();
});

/** One "Lambda": its own budget object on the shared table, its own Clover client. */
function lambda() {
  const budget = createRequestBudget(state.doc, 'merchants');
  const client = createCloverClient({
    baseUrl: clover.url,
    backoffLimitMs: 200,
    gate: budgetGate(budget, budgetLimits(50)),
  });
  return { budget, client };
}

describe('app-wide Clover budget', () => {
  it('a 429 seen by one function holds the other’s next request until the retry-after', async () => {
    const tokens = clover.addMerchant('PAUSE0000001', [{ name: 'Soda', price: 199 }]);
    const [a, b] = [lambda(), lambda()];
    clover.resetRequests();
    // Clover refuses A's request with a 2 s retry-after it holds against the whole app.
    clover.failNext(1, 429, { retryAfterSeconds: 2, enforce: true });
    const first = a.client.listItems('PAUSE0000001', tokens.access_token, { limit: 10, offset: 0 });
    // B starts once A has heard the 429 (recorded in the shared budget record).
    await waitFor(async () => {
      const out = await state.doc.send(
        new (await import('@aws-sdk/lib-dynamodb')).GetCommand({
          TableName: 'merchants',
          Key: { merchantId: '#clover-request-budget' },
          ConsistentRead: true,
        }),
      );
      // The pause, not A's own place in the schedule (one step, a few ms ahead of the clock).
      return (out.Item?.nextRequestAt ?? 0) > Date.now() + 1000;
    });
    const second = b.client.listItems('PAUSE0000001', tokens.access_token, { limit: 10, offset: 0 });
    await Promise.all([first, second]);

    const [refused, ...after] = clover.requests;
    expect(refused?.status).toBe(429);
    expect(after).toHaveLength(2); // A's retry and B's request
    for (const r of after) {
      expect(r.status).toBe(200);
      expect(r.at - (refused?.at ?? 0)).toBeGreaterThanOrEqual(2000);
    }
    expect(clover.countEarlyRequests()).toBe(0);
  });

  it('gives up, rather than wait, when Clover asks for longer than a function can wait', async () => {
    const tokens = clover.addMerchant('PAUSE0000002', [{ name: 'Soda', price: 199 }]);
    const a = lambda();
    clover.resetRequests();
    clover.failNext(1, 429, { retryAfterSeconds: 60 });
    const query = { limit: 10, offset: 0 };
    // A's request is not retried: the poll fails, its cursor holds, and SQS brings it back later.
    await expect(a.client.listItems('PAUSE0000002', tokens.access_token, query)).rejects.toMatchObject({
      context: { status: 429 },
    });
    // B, in another function, is held by the same pause: it fails at once instead of sleeping 60 s,
    // without a retry, and books no place (the pause would otherwise grow with every refusal).
    const { DeleteCommand, GetCommand } = await import('@aws-sdk/lib-dynamodb');
    const budgetKey = { TableName: 'merchants', Key: { merchantId: '#clover-request-budget' } };
    const scheduled = async () =>
      (await state.doc.send(new GetCommand({ ...budgetKey, ConsistentRead: true }))).Item?.nextRequestAt;
    const paused = await scheduled();
    const budget = createRequestBudget(state.doc, 'merchants');
    let takes = 0;
    const b = createCloverClient({
      baseUrl: clover.url,
      backoffLimitMs: 200,
      gate: budgetGate(
        {
          take: (limit, maxWait) => {
            takes++;
            return budget.take(limit, maxWait);
          },
          pause: (until) => budget.pause(until),
        },
        budgetLimits(50),
      ),
    });
    await expect(b.listItems('PAUSE0000002', tokens.access_token, query)).rejects.toThrow(
      /Clover asked the app to wait more than 20 s/,
    );
    expect(takes).toBe(1);
    expect(await scheduled()).toBe(paused);
    expect(clover.requests.map((r) => r.status)).toEqual([429]);
    // The pause would hold the other tests' requests too.
    await state.doc.send(new DeleteCommand(budgetKey));
  });

  it('gives a retry its place in the budget like a first try', async () => {
    const tokens = clover.addMerchant('RETRY0000001', [{ name: 'Soda', price: 199 }]);
    const takes: string[] = [];
    const budget = createRequestBudget(state.doc, 'merchants');
    const counted = {
      take: async (limit: number) => {
        takes.push(`take ${limit}`);
        return budget.take(limit);
      },
      pause: (until: number) => budget.pause(until),
    };
    const client = createCloverClient({
      baseUrl: clover.url,
      backoffLimitMs: 50,
      gate: budgetGate(counted, budgetLimits(50)),
    });
    clover.failNext(2, 503);
    await client.listItems('RETRY0000001', tokens.access_token, { limit: 10, offset: 0 });
    expect(takes).toEqual(['take 40', 'take 40', 'take 40']);
  });

  it('spaces requests evenly at the limit across functions, never in bursts', async () => {
    const budgets = Array.from({ length: 4 }, () => createRequestBudget(state.doc, 'merchants'));
    const seconds: number[] = [];
    const started = Date.now();
    await Promise.all(
      budgets.map(async (budget) => {
        for (let i = 0; i < 10; i++) seconds.push((await budget.take(20)) ?? Number.NaN);
      }),
    );
    // Counted by the second each request was scheduled in (what it resolved to), not when a busy
    // machine woke it: 40 requests at 20/s never put more than 20 in one second.
    const perSecond = new Map<number, number>();
    for (const s of seconds) perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(20);
    expect(perSecond.size).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
