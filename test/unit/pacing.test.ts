import { describe, expect, it } from 'vitest';
import { createPacer } from '../../src/clover/pacing.ts';

function fakeClock() {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
}

describe('createPacer', () => {
  it('lets at most N requests into any one-second window, waiting only as long as needed', async () => {
    const clock = fakeClock();
    const pacer = createPacer(12, clock);
    const at: number[] = [];
    for (let i = 0; i < 40; i++) {
      await pacer.take();
      at.push(clock.now());
    }
    for (let i = 12; i < at.length; i++)
      expect((at[i] as number) - (at[i - 12] as number)).toBeGreaterThanOrEqual(1000);
    // No blind sleeping: 40 requests at 12/s fit in four windows.
    expect(at.at(-1)).toBe(3000);
  });

  it('refuses a rate below one request per second', () => {
    expect(() => createPacer(0)).toThrow(RangeError);
  });
});
