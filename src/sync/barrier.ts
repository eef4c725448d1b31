/**
 * A queue barrier: waiting for the work queued for one merchant so far, without waiting for other
 * merchants' traffic in the shared queues. Both queues are FIFO with one group per merchant, so a
 * message reaches its handler only once every earlier message of its group is done (or
 * dead-lettered). The barrier goes through the poll queue, where the poller passes it on to the
 * push queue without polling (after every poll before it, so after every push those polls
 * queued), and the push consumer records it on the merchant once every push before it is done.
 */
import { randomUUID } from 'node:crypto';
import type { QueueSender } from '../queues/sqs.ts';
import type { MerchantStore } from '../store/merchants.ts';
import { pollMessage } from './fanout.ts';
import { secondsText } from './progress.ts';

export interface BarrierDeps {
  merchants: Pick<MerchantStore, 'get'>;
  pollQueue: QueueSender;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** The push message a barrier poll message becomes. */
export const barrierPush = (merchantId: string, barrier: string) => ({
  body: { merchantId, codes: [], barrier },
  groupId: merchantId,
  deduplicationId: `${merchantId}:barrier:${barrier}`,
});

/**
 * Resolves once every poll and push queued for these merchants before the call is done (or the
 * merchant is gone); throws at the timeout, e.g. while an earlier message of a group is retried.
 * The barriers of all the merchants go out at once and pass side by side.
 */
export async function queuedWorkDone(deps: BarrierDeps, merchantIds: readonly string[], timeoutMs: number) {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const waiting = new Map(merchantIds.map((id) => [id, randomUUID()]));
  await deps.pollQueue.send(
    [...waiting].map(([merchantId, barrier]) =>
      pollMessage(
        { merchantId },
        { mode: 'incremental', requestedAt: now(), reason: 'manual', barrier },
        `barrier:${barrier}`,
      ),
    ),
  );
  const deadline = now() + timeoutMs;
  for (;;) {
    for (const [merchantId, barrier] of waiting) {
      const m = await deps.merchants.get(merchantId);
      if (!m || m.barrierPassed === barrier) waiting.delete(merchantId);
    }
    if (waiting.size === 0) return;
    if (now() >= deadline)
      throw new Error(
        `Timed out after ${secondsText(timeoutMs)} waiting for the polls and pushes queued for ` +
          `merchant ${[...waiting.keys()].join(', ')} (one may be failing and retried: see status and dlq list)`,
      );
    await sleep(250);
  }
}
