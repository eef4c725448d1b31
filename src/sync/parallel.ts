/**
 * Runs `work` on every item with at most `limit` calls in flight. On a failure no new call starts;
 * the ones running are allowed to finish (no write is left half-observed), then the first error is
 * thrown.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  if (!(limit >= 1)) throw new RangeError(`limit must be at least 1; got ${limit}`);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        await work(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

/**
 * Splits items into groups that share no key, keeping each group in the input order: items with a
 * key in common (directly or through others) land in one group. Groups are ordered by their first item.
 */
export function groupBySharedKeys<T>(items: readonly T[], keysOf: (item: T) => Iterable<string>): T[][] {
  const parent = items.map((_, i) => i);
  const root = (i: number): number => {
    while (parent[i] !== i) {
      const up = parent[i] as number;
      parent[i] = parent[up] as number;
      i = up;
    }
    return i;
  };
  const owner = new Map<string, number>();
  items.forEach((item, i) => {
    for (const key of keysOf(item)) {
      const first = owner.get(key);
      if (first === undefined) owner.set(key, i);
      else {
        const [a, b] = [root(first), root(i)];
        // The smaller index stays the root, so a group is found under its first item.
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
      }
    }
  });
  const groups = new Map<number, T[]>();
  items.forEach((item, i) => {
    const r = root(i);
    const group = groups.get(r);
    if (group) group.push(item);
    else groups.set(r, [item]);
  });
  return [...groups.values()];
}
