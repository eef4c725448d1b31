export interface Pacer {
  /** Resolves once another request fits in the last second's allowance. */
  take(): Promise<void>;
}

/**
 * At most `perSecond` requests in any one-second window, within this process. Used per merchant
 * for Clover's per-token limit: one merchant's requests all come from the one poll that holds its
 * FIFO message group, so a process-local window is enough there (the app-wide limit needs the
 * shared DynamoDB budget instead).
 */
export function createPacer(
  perSecond: number,
  clock: { now: () => number; sleep: (ms: number) => Promise<void> } = {
    now: Date.now,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  },
): Pacer {
  if (!(perSecond >= 1)) throw new RangeError(`perSecond must be at least 1; got ${perSecond}`);
  const sent: number[] = [];
  return {
    async take() {
      for (;;) {
        const t = clock.now();
        while (sent.length > 0 && t - (sent[0] as number) >= 1000) sent.shift();
        if (sent.length < perSecond) {
          sent.push(t);
          return;
        }
        await clock.sleep(1000 - (t - (sent[0] as number)));
      }
    },
  };
}
