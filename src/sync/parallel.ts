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
