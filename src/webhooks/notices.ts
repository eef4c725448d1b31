import { createHash, timingSafeEqual } from 'node:crypto';
import { chunked } from '../chunked.ts';
import { CLOVER_ID } from '../clover/schemas.ts';
import type { QueueMessage } from '../queues/sqs.ts';
import type { PollsSoFar } from '../store/merchants.ts';
import { pollMessage } from '../sync/fanout.ts';
import { MAX_CONFIRM_GONE, noticePollKey } from '../sync/messages.ts';
import * as z from '../zod.ts';

/**
 * Clover's webhook notices, as rules without I/O: what a request body is, what each notice asks
 * for, and the poll messages that answer it. docs/clover.md has Clover's facts.
 */

/** A larger body is refused before it is read (Clover's notices are a few KB). */
export const MAX_WEBHOOK_BODY_BYTES = 1_048_576;
/** Merchants one request may name; more is refused, so one request's work stays bounded. */
export const MAX_MERCHANTS_PER_REQUEST = 1_000;

/**
 * Clover's setup request, sent to a new webhook address before any auth code exists. Fields beside
 * the code are tolerated (Clover may add some), but a body carrying notices is never one.
 */
export const VerificationSchema = z
  .looseObject({ verificationCode: z.string().check(z.regex(/^[\x21-\x7e]{1,256}$/)) })
  .check(z.refine((body) => !('merchants' in body), 'carries notices'));

/** The notice body: every merchant's notices. Each merchant's list is read on its own. */
const NoticeBodySchema = z.object({
  appId: z.optional(z.string()),
  merchants: z.record(z.string(), z.unknown()),
});

const NoticeSchema = z.object({
  objectId: z.string().check(z.maxLength(200)),
  type: z.string().check(z.maxLength(32)),
  ts: z.number().check(z.int(), z.nonnegative(), z.maximum(Number.MAX_SAFE_INTEGER)),
});

export type IgnoredReason = 'unknown merchant' | 'object key' | 'event type' | 'malformed';

/** What one notice asks for. */
export type NoticeAction =
  | { kind: 'changed'; ts: number }
  | { kind: 'deleted'; itemId: string; ts: number }
  | { kind: 'uninstalled'; ts: number }
  | { kind: 'ignored'; reason: IgnoredReason };

/**
 * `I:<item>` CREATE/UPDATE is a changed item (the notice carries no state: a poll reads it),
 * `I:<item>` DELETE an item to confirm gone, `A:<app>` DELETE an uninstall. Other keys (stock,
 * availability, orders…) and other events are not ours.
 */
export function noticeAction(raw: unknown): NoticeAction {
  const parsed = NoticeSchema.safeParse(raw);
  if (!parsed.success) return { kind: 'ignored', reason: 'malformed' };
  const { objectId, type, ts } = parsed.data;
  const colon = objectId.indexOf(':');
  const key = colon === -1 ? objectId : objectId.slice(0, colon);
  const id = colon === -1 ? '' : objectId.slice(colon + 1);
  if (key === 'I') {
    if (!CLOVER_ID.test(id)) return { kind: 'ignored', reason: 'malformed' };
    if (type === 'CREATE' || type === 'UPDATE') return { kind: 'changed', ts };
    if (type === 'DELETE') return { kind: 'deleted', itemId: id, ts };
    return { kind: 'ignored', reason: 'event type' };
  }
  if (key === 'A') {
    if (id.length === 0) return { kind: 'ignored', reason: 'malformed' };
    return type === 'DELETE' ? { kind: 'uninstalled', ts } : { kind: 'ignored', reason: 'event type' };
  }
  return { kind: 'ignored', reason: 'object key' };
}

/** One merchant's notices in a request, summed up. */
export interface MerchantNotices {
  merchantId: string;
  /** The newest Clover time of a change notice. */
  changedAt?: number;
  /** Items said to be deleted, each once. */
  deleted: string[];
  /** The newest Clover time of an uninstall notice, and how many came. */
  uninstalledAt?: number;
  uninstalls: number;
  /** Notices that ask for something (a poll, a deletion, an uninstall). */
  actionable: number;
  ignored: Partial<Record<IgnoredReason, number>>;
}

export type NoticeBody =
  | {
      ok: true;
      merchants: MerchantNotices[];
      /** Entries under a merchant key that is no Clover id, by the number of notices they held. */
      unreadable: number;
    }
  | { ok: false; problem: 'malformed' | 'too-many-merchants' };

/** Reads a parsed JSON body as notices. A merchant's list that is not an array is one malformed notice. */
export function readNotices(json: unknown): NoticeBody {
  const body = NoticeBodySchema.safeParse(json);
  if (!body.success) return { ok: false, problem: 'malformed' };
  const entries = Object.entries(body.data.merchants);
  if (entries.length > MAX_MERCHANTS_PER_REQUEST) return { ok: false, problem: 'too-many-merchants' };
  const merchants: MerchantNotices[] = [];
  let unreadable = 0;
  for (const [merchantId, list] of entries) {
    const notices: unknown[] = Array.isArray(list) ? list : [undefined];
    if (!CLOVER_ID.test(merchantId)) {
      unreadable += notices.length;
      continue;
    }
    const summary: MerchantNotices = { merchantId, deleted: [], uninstalls: 0, actionable: 0, ignored: {} };
    const deleted = new Set<string>();
    for (const raw of notices) {
      const action = noticeAction(raw);
      if (action.kind === 'ignored') {
        summary.ignored[action.reason] = (summary.ignored[action.reason] ?? 0) + 1;
        continue;
      }
      summary.actionable++;
      if (action.kind === 'changed') summary.changedAt = Math.max(summary.changedAt ?? 0, action.ts);
      else if (action.kind === 'deleted') deleted.add(action.itemId);
      else {
        summary.uninstalls++;
        summary.uninstalledAt = Math.max(summary.uninstalledAt ?? 0, action.ts);
      }
    }
    summary.deleted = [...deleted];
    merchants.push(summary);
  }
  return { ok: true, merchants, unreadable };
}

/**
 * The polls that answer a merchant's notices, queued now: the normal incremental poll (one Clover
 * read catches every change since the cursor), carrying the items said deleted so that each is
 * confirmed gone with a GET. `polls`: where the merchant's polls stood once the notices were
 * recorded. Change notices share one poll until the next poll begins (`noticePollKey`), and a
 * change no later than the newest one finished polls read (the rest of a bulk edit's notices, a
 * notice sent twice) queues none; deletions queue one poll per set of items until then.
 */
export function noticePolls(notices: MerchantNotices, now: number, polls: PollsSoFar): QueueMessage[] {
  const poll = { mode: 'incremental' as const, requestedAt: now, reason: 'webhook' as const };
  const merchant = { merchantId: notices.merchantId };
  if (notices.deleted.length > 0) {
    const messages: QueueMessage[] = [];
    const ids = [...notices.deleted].sort();
    for (const confirmGone of chunked(ids, MAX_CONFIRM_GONE)) {
      const digest = createHash('sha256').update(confirmGone.join(',')).digest('hex').slice(0, 32);
      const key = `${noticePollKey(polls.started)}-gone-${digest}`;
      messages.push(pollMessage(merchant, { ...poll, confirmGone }, key));
    }
    return messages;
  }
  if (notices.changedAt === undefined || notices.changedAt <= (polls.cursor ?? -1)) return [];
  return [pollMessage(merchant, poll, noticePollKey(polls.started))];
}

/**
 * The `X-Clover-Auth` header against the configured auth code, in constant time: both are hashed
 * first, so neither their content nor their lengths change how long the comparison takes.
 */
export function authCodeMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}
