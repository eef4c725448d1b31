import { stateAfterUninstall } from '../connect/authorize.ts';
import type { QueueMessage, QueueSender } from '../queues/sqs.ts';
import type {
  MerchantNotices as MerchantNoticeStore,
  MerchantRecord,
  MerchantStore,
} from '../store/merchants.ts';
import type { WebhookVerificationStore } from '../store/webhooks.ts';
import { forEachLimited } from '../sync/parallel.ts';
import {
  authCodeMatches,
  type IgnoredReason,
  MAX_WEBHOOK_BODY_BYTES,
  noticePolls,
  readNotices,
  VerificationSchema,
} from './notices.ts';

export interface WebhookDeps {
  merchants: Pick<MerchantStore, 'recordNotice'> & MerchantNoticeStore;
  verifications: Pick<WebhookVerificationStore, 'record'>;
  pollQueue: QueueSender;
  /** The configured Clover Auth Code, or undefined when none is set; throws when it cannot be read. */
  authCode: () => Promise<string | undefined>;
  now?: () => number;
}

export interface WebhookRequest {
  /** The body as text (decoded if it came base64-encoded). */
  body: string | undefined;
  /** The `X-Clover-Auth` header as received. */
  authHeader: string | undefined;
}

export type IgnoredCounts = Partial<
  Record<IgnoredReason | 'merchant not active' | 'stale uninstall', number>
>;

/** Every way a webhook request can end. The web route turns each into a status. */
export type WebhookOutcome =
  | { kind: 'verification' }
  | { kind: 'too-large' }
  | { kind: 'malformed'; problem: 'not JSON' | 'not a notice' }
  | { kind: 'too-many-merchants' }
  | { kind: 'unauthorized'; reason: 'missing' | 'wrong' | 'not configured' }
  | { kind: 'unavailable'; reason: string }
  | {
      kind: 'received';
      /** Notices acted on, and ignored by reason. */
      accepted: number;
      ignored: IgnoredCounts;
      /** Poll messages sent (the queue drops repeats within its deduplication window). */
      pollsQueued: number;
      /** Merchants disabled and their tokens deleted because the app was uninstalled. */
      uninstalled: string[];
    };

/** Merchants handled at once within one request (each costs a write or two). */
const CONCURRENCY = 8;

/**
 * `POST /clover/webhooks`. Clover's verification request is recorded for the operator. Any other
 * request must carry the configured auth code; its notices then queue polls (never a Clover or
 * Hipoink call here), confirm deletions through the poll, and disable merchants whose owner
 * uninstalled the app. Notices for unknown merchants, and object keys and events we do not use,
 * are ignored and counted. Nothing is queued or written for a request without valid auth.
 */
export async function receiveWebhook(deps: WebhookDeps, request: WebhookRequest): Promise<WebhookOutcome> {
  const now = (deps.now ?? Date.now)();
  const text = request.body ?? '';
  if (Buffer.byteLength(text, 'utf8') > MAX_WEBHOOK_BODY_BYTES) return { kind: 'too-large' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'malformed', problem: 'not JSON' };
  }
  const verification = VerificationSchema.safeParse(json);
  if (verification.success) {
    // Sent once, before Clover shows the auth code: it cannot carry one.
    await deps.verifications.record(verification.data.verificationCode, now);
    return { kind: 'verification' };
  }

  let expected: string | undefined;
  try {
    expected = await deps.authCode();
  } catch (err) {
    return { kind: 'unavailable', reason: err instanceof Error ? err.message : String(err) };
  }
  if (expected === undefined) return { kind: 'unauthorized', reason: 'not configured' };
  if (request.authHeader === undefined) return { kind: 'unauthorized', reason: 'missing' };
  if (!authCodeMatches(request.authHeader, expected)) return { kind: 'unauthorized', reason: 'wrong' };

  const body = readNotices(json);
  if (!body.ok) {
    return body.problem === 'too-many-merchants'
      ? { kind: 'too-many-merchants' }
      : { kind: 'malformed', problem: 'not a notice' };
  }
  const ignored: IgnoredCounts = {};
  const ignore = (reason: keyof IgnoredCounts, n: number) => {
    if (n > 0) ignored[reason] = (ignored[reason] ?? 0) + n;
  };
  ignore('unknown merchant', body.unreadable);
  let accepted = 0;
  const uninstalled: string[] = [];
  const messages: QueueMessage[] = [];
  const known = await deps.merchants.getMany(body.merchants.map((m) => m.merchantId));

  await forEachLimited(body.merchants, CONCURRENCY, async (notices) => {
    const merchant = known.get(notices.merchantId);
    if (!merchant) {
      ignore('unknown merchant', notices.actionable + sum(notices.ignored));
      return;
    }
    for (const [reason, n] of Object.entries(notices.ignored)) ignore(reason as IgnoredReason, n);
    if (notices.actionable === 0) return;
    const polls = await deps.merchants.recordNotice(merchant.merchantId, now);
    if (polls === undefined) {
      ignore('unknown merchant', notices.actionable); // removed since it was read
      return;
    }
    let changes = notices.actionable;
    if (notices.uninstalledAt !== undefined) {
      const outcome = await uninstall(deps, merchant, notices.uninstalledAt);
      if (outcome !== 'stale') {
        // Disabled: nothing else for it matters until it connects again.
        accepted += notices.actionable;
        if (outcome === 'disabled') uninstalled.push(merchant.merchantId);
        return;
      }
      // It connected again after that uninstall: the notice is old, its other notices still count.
      ignore('stale uninstall', notices.uninstalls);
      changes -= notices.uninstalls;
    }
    if (changes === 0) return;
    // The poller skips a merchant that is not active; so does this, and says so.
    if (merchant.state !== 'active') {
      ignore('merchant not active', changes);
      return;
    }
    accepted += changes;
    messages.push(...noticePolls(notices, now, polls));
  });

  await deps.pollQueue.send(messages);
  return { kind: 'received', accepted, ignored, pollsQueued: messages.length, uninstalled };
}

const sum = (counts: Partial<Record<string, number>>) =>
  Object.values(counts).reduce<number>((a, b) => a + (b ?? 0), 0);

/**
 * Deletes the merchant's tokens and disables it, unless it connected again at or after the
 * uninstall (a late or repeated notice), planned again if the record changed under the write.
 */
async function uninstall(
  deps: WebhookDeps,
  first: MerchantRecord,
  noticeTs: number,
): Promise<'disabled' | 'already' | 'stale'> {
  let merchant: MerchantRecord | undefined = first;
  for (let attempt = 0; attempt < 5 && merchant; attempt++) {
    if (merchant.authorizedAt !== undefined && merchant.authorizedAt >= noticeTs) return 'stale';
    if (merchant.tokensDeletedAt !== undefined) return 'already';
    const state = stateAfterUninstall(merchant);
    const write = { noticeTs, ...(state ? { state } : {}) };
    if (await deps.merchants.deleteTokens(merchant.merchantId, merchant, write)) return 'disabled';
    merchant = (await deps.merchants.getMany([merchant.merchantId])).get(merchant.merchantId);
  }
  if (!merchant) return 'stale';
  throw new Error(`Merchant ${first.merchantId} kept changing while its uninstall was being recorded`);
}
