import { InvalidMessageError, MerchantUnavailableError } from '../errors.ts';
import type { QueueSender } from '../queues/sqs.ts';
import type { MerchantStore } from '../store/merchants.ts';
import * as z from '../zod.ts';
import { pollMessage } from './fanout.ts';
import {
  BackfillAllSchema,
  BackfillOneSchema,
  type BackfillRequest,
  BackfillRequestSchema,
} from './messages.ts';

export interface BackfillDeps {
  merchants: Pick<MerchantStore, 'get' | 'list'>;
  pollQueue: QueueSender;
  now?: () => number;
}

export interface BackfillResult {
  queued: string[];
  skipped: Array<{ merchantId: string; reason: string }>;
  requestedAt: number;
}

/** The payload as a BackfillRequest, or an error that says which field is wrong. */
export function parseBackfillRequest(event: unknown): BackfillRequest {
  const parsed = BackfillRequestSchema.safeParse(event);
  if (parsed.success) return parsed.data;
  // The union's own error only says "Invalid input": report the issues of the shape the caller meant.
  const meant =
    typeof event === 'object' && event !== null && 'all' in event ? BackfillAllSchema : BackfillOneSchema;
  const issues = meant.safeParse(event).error?.issues ?? parsed.error.issues;
  const problems = z.issuesText(issues, 'payload');
  throw new InvalidMessageError(
    `Backfill expects {"merchantId": "<id>"} or {"all": true}, optionally with "since" and "repush": ${problems}`,
  );
}

/**
 * Queues a full resync (every item, plus removal of items no longer in Clover) through the
 * PollQueue, so it never overlaps a scheduled poll of the same merchant.
 */
export async function requestBackfill(deps: BackfillDeps, request: BackfillRequest): Promise<BackfillResult> {
  const requestedAt = (deps.now ?? Date.now)();
  const targets =
    'all' in request
      ? await deps.merchants.list()
      : [await deps.merchants.get(request.merchantId)].filter((m) => m !== undefined);
  if (!('all' in request) && targets.length === 0) {
    throw new MerchantUnavailableError('Unknown merchant', { merchantId: request.merchantId });
  }
  const queued: string[] = [];
  const skipped: BackfillResult['skipped'] = [];
  const messages = [];
  for (const m of targets) {
    if (m.state !== 'active') {
      skipped.push({ merchantId: m.merchantId, reason: `merchant is ${m.state}` });
      continue;
    }
    queued.push(m.merchantId);
    messages.push(
      pollMessage(
        m,
        {
          mode: 'full',
          requestedAt,
          reason: 'backfill',
          ...(request.since === undefined ? {} : { since: request.since }),
          ...(request.repush ? { repush: true } : {}),
        },
        `backfill-${requestedAt}`,
      ),
    );
  }
  await deps.pollQueue.send(messages);
  return { queued, skipped, requestedAt };
}
