import { createHash, randomBytes } from 'node:crypto';
import * as z from '../zod.ts';

/**
 * An operator's invite: a single-use link that connects one Clover merchant either to a Hipoink
 * store code (`stores invite`) or, for a merchant we know, again (`merchants reconnect`). Stored
 * under the hash of its id, so the table never holds a usable link.
 */
export const InviteSchema = z.object({
  /** The stored key: base64url SHA-256 of the id in the link. */
  key: z.string(),
  /** A store invite: the merchant who accepts it shows its labels in this Hipoink store. */
  storeCode: z.optional(z.string()),
  /** A reconnect invite: only this Clover merchant may accept it. */
  forMerchant: z.optional(z.string()),
  createdAt: z.number(),
  expiresAt: z.number(),
  /** A sign-in finishing with this invite right now (its state's nonce), until `claimedUntil`. */
  claimedBy: z.optional(z.string()),
  claimedUntil: z.optional(z.number()),
  usedAt: z.optional(z.number()),
  /** The Clover merchant that accepted it. */
  usedBy: z.optional(z.string()),
});
export type Invite = z.infer<typeof InviteSchema>;

export const DEFAULT_INVITE_DAYS = 7;
export const MAX_INVITE_DAYS = 30;
/** How long a callback holds an invite while it exchanges the code (far beyond one exchange). */
export const INVITE_CLAIM_MS = 2 * 60_000;

const INVITE_ID = /^[A-Za-z0-9_-]{24}$/;

/** A Hipoink store code as operators type it: printable, no spaces, at most 64 characters. */
export const StoreCodeSchema = z
  .string()
  .check(z.regex(/^[\x21-\x7e]{1,64}$/, 'a store code is 1 to 64 printable characters without spaces'));

/** Days an invite stays valid: more than 0, at most MAX_INVITE_DAYS. */
export const InviteDaysSchema = z.coerce.number().check(
  z.refine((d) => Number.isFinite(d) && d > 0 && d <= MAX_INVITE_DAYS, {
    message: `takes a number of days greater than 0 and at most ${MAX_INVITE_DAYS}`,
  }),
);

export function inviteKeyOf(id: string): string | undefined {
  if (!INVITE_ID.test(id)) return undefined;
  return createHash('sha256').update(id).digest('base64url');
}

/** A new invite and the id that goes into its link (shown once, never stored). */
export function newInvite(
  target: { storeCode: string } | { forMerchant: string },
  opts: { now: number; days?: number },
): { id: string; invite: Invite } {
  const id = randomBytes(18).toString('base64url');
  const key = inviteKeyOf(id) as string;
  const days = opts.days ?? DEFAULT_INVITE_DAYS;
  return {
    id,
    invite: { key, ...target, createdAt: opts.now, expiresAt: opts.now + Math.round(days * 86_400_000) },
  };
}

export type InviteProblem = 'unknown' | 'expired' | 'used' | 'busy';

/** Why an invite cannot start or finish a connection now; undefined when it can. */
export function inviteProblem(invite: Invite | undefined, now: number): InviteProblem | undefined {
  if (!invite) return 'unknown';
  if (invite.usedAt !== undefined) return 'used';
  if (invite.expiresAt <= now) return 'expired';
  if (invite.claimedUntil !== undefined && invite.claimedUntil > now) return 'busy';
  return undefined;
}

/** The link an invite's id makes, on the web function's base URL. */
export function inviteUrl(webUrl: string, id: string): string {
  return `${webUrl.replace(/\/+$/, '')}/connect?invite=${id}`;
}
