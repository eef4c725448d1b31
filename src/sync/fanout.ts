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

export function pollMessage(
  m: Pick<MerchantRecord, 'merchantId'>,
  msg: Omit<PollMessage, 'merchantId'>,
  key: string,
) {
  return {
    body: { merchantId: m.merchantId, ...msg },
    groupId: m.merchantId,
    deduplicationId: `${m.merchantId}:${key}`,
  };
}

/** What started a fan-out: the schedule, or a person (`esl-sync tick`, a manual invoke). */
export type FanOutTrigger = { kind: 'schedule' } | { kind: 'manual'; requestId: string };

/**
 * One poll message per active merchant. Scheduled fan-outs repeated within one interval (e.g. an
 * EventBridge event delivered twice) collapse through FIFO deduplication; a manual tick always polls.
 */
export async function fanOut(
  deps: FanOutDeps,
  trigger: FanOutTrigger = { kind: 'schedule' },
): Promise<FanOutResult> {
  const now = (deps.now ?? Date.now)();
  const key =
    trigger.kind === 'schedule'
      ? `tick-${Math.floor(now / (deps.pollIntervalSeconds * 1000))}`
      : `manual-${trigger.requestId}`;
  const skipped: Record<string, number> = {};
  const messages = [];
  for (const m of await deps.merchants.list()) {
    if (m.state !== 'active') {
      skipped[m.state] = (skipped[m.state] ?? 0) + 1;
      continue;
    }
    messages.push(pollMessage(m, { mode: 'incremental', requestedAt: now, reason: trigger.kind }, key));
  }
  await deps.pollQueue.send(messages);
  return { queued: messages.length, skipped };
}
