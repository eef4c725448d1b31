import { describe, expect, it } from 'vitest';
import { budgetGate, budgetLimits, oneRequestAtATime } from '../../src/clover/budgeted.ts';
import type { CloverClient } from '../../src/clover/client.ts';

describe('oneRequestAtATime', () => {
  it('sends one request at a time however many polls ask at once, and a failure does not block the next', async () => {
    let inFlight = 0;
    let most = 0;
    const slow = async <T>(value: T, fail = false): Promise<T> => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      if (fail) throw new Error('HTTP 503');
      return value;
    };
    const client: CloverClient = {
      listItems: (m) => slow([m], m === 'FAIL'),
      getItem: (m) => slow(m),
      refreshTokens: () =>
        slow({
          access_token: 'a',
          access_token_expiration: 1,
          refresh_token: 'r',
          refresh_token_expiration: 1,
        }),
      recoverTokens: () =>
        slow({
          access_token: 'a',
          access_token_expiration: 1,
          refresh_token: 'r',
          refresh_token_expiration: 1,
        }),
    };
    const serial = oneRequestAtATime(client);
    const results = await Promise.allSettled([
      serial.listItems('A', 't', { limit: 1, offset: 0 }),
      serial.listItems('FAIL', 't', { limit: 1, offset: 0 }),
      serial.getItem('B', 't', 'i'),
      serial.refreshTokens('app', 'rt', 'C'),
    ]);
    expect(most).toBe(1);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  });
});

describe('budgetGate', () => {
  it('takes reads from their share and token calls from the whole limit; a 429 pauses until its retry-after', async () => {
    const calls: string[] = [];
    const gate = budgetGate(
      {
        take: async (limit) => {
          calls.push(`take ${limit}`);
          return 0;
        },
        pause: async (until) => void calls.push(`pause ${until}`),
      },
      budgetLimits(50),
      () => 1_000,
    );
    await gate.beforeAttempt('read');
    await gate.beforeAttempt('token');
    await gate.rateLimited(3_000);
    await gate.rateLimited(undefined);
    // One odd header does not stop the app for good: a pause is at most 5 minutes.
    await gate.rateLimited(30 * 24 * 3_600_000);
    expect(calls).toEqual(['take 40', 'take 50', 'pause 4000', 'pause 2000', `pause ${1_000 + 300_000}`]);
  });
});
