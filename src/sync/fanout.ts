import type { QueueSender } from '../queues/sqs.ts';
import { type MerchantRecord, type MerchantStore, refreshTokenExpiringSoon } from '../store/merchants.ts';
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
  /** Merchants someone has to act on, counted every tick so alarms can watch them. */
  attention: {
    /** The store must authorize the app again (its refresh token was refused). */
    needsReauth: number;
    /** Active, but the refresh token runs out within 7 days. */
    refreshTokenExpiringSoon: number;
    /** Active, and its last poll failed. */
    lastSyncFailed: number;
  };
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
  const attention = { needsReauth: 0, refreshTokenExpiringSoon: 0, lastSyncFailed: 0 };
  const messages = [];
  for (const m of await deps.merchants.list()) {
    if (m.state === 'needs_reauth') attention.needsReauth++;
    if (m.state !== 'active') {
      skipped[m.state] = (skipped[m.state] ?? 0) + 1;
      continue;
    }
    if (refreshTokenExpiringSoon(m, now)) attention.refreshTokenExpiringSoon++;
    if (m.lastSyncStatus === 'error') attention.lastSyncFailed++;
    messages.push(pollMessage(m, { mode: 'incremental', requestedAt: now, reason: trigger.kind }, key));
  }
  await deps.pollQueue.send(messages);
  return { queued: messages.length, skipped, attention };
}
