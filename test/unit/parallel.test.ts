import { describe, expect, it } from 'vitest';
import { chunked } from '../../src/chunked.ts';
import { forEachLimited } from '../../src/sync/parallel.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('forEachLimited', () => {
  it('runs every item, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await forEachLimited([5, 1, 4, 2, 3, 1, 2, 5], 3, async (ms, i) => {
      running++;
      most = Math.max(most, running);
      await tick(ms);
      running--;
      done.push(i);
    });
    expect(done.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it('after a failure starts nothing new, lets the running calls finish, then throws the first error', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const run = forEachLimited([0, 1, 2, 3, 4, 5], 2, async (_, i) => {
      started.push(i);
      if (i === 0) throw new Error('first');
      await tick(10);
      if (i === 1) throw new Error('second');
      finished.push(i);
    });
    await expect(run).rejects.toThrow('first');
    expect(started).toEqual([0, 1]);
    expect(finished).toEqual([]);
  });

  it('refuses a limit below one', async () => {
    await expect(forEachLimited([1], 0, async () => {})).rejects.toBeInstanceOf(RangeError);
  });
});

describe('chunked', () => {
  it('cuts a list into runs of the size, in order, the last shorter; refuses a size below 1', () => {
    expect(chunked([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunked([], 10)).toEqual([]);
    expect(() => chunked([1], 0)).toThrow(RangeError);
  });
});
