import type { QueueSender } from '../queues/sqs.ts';
import type { MerchantRecord, MerchantStore } from '../store/merchants.ts';
import type { PollMessage } from './messages.ts';

export interface FanOutDeps {
  merchants: Pick<MerchantStore, 'list'>;
  pollQueue: QueueSender;
  pollIntervalSeconds: number;
  now?: () => number;
}

export interface FanOutResult {
  queued: number;
  skipped: Record<string, number>;
}

export function pollMessage(m: Pick<MerchantRecord, 'merchantId'>, msg: Omit<PollMessage, 'merchantId'>, key: string) {
  return { body: { merchantId: m.merchantId, ...msg }, groupId: m.merchantId, deduplicationId: `${m.merchantId}:${key}` };
}

/** One poll message per active merchant; fan-outs repeated within one interval collapse (FIFO dedup). */
export async function fanOut(deps: FanOutDeps): Promise<FanOutResult> {
  const now = (deps.now ?? Date.now)();
  const slot = Math.floor(now / (deps.pollIntervalSeconds * 1000));
  const skipped: Record<string, number> = {};
  const messages = [];
  for (const m of await deps.merchants.list()) {
    if (m.state !== 'active') {
      skipped[m.state] = (skipped[m.state] ?? 0) + 1;
      continue;
    }
    messages.push(pollMessage(m, { mode: 'incremental', requestedAt: now, reason: 'schedule' }, `tick-${slot}`));
  }
  await deps.pollQueue.send(messages);
  return { queued: messages.length, skipped };
}
