import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as z from '../zod.ts';

/**
 * The OAuth `state` we hand Clover and get back on the callback: signed with our key (HMAC-SHA256),
 * expiring, and naming the invite it belongs to (none for Clover's launch path). Its nonce is what
 * the single-use record is keyed on. It holds nothing secret: Clover and the browser both see it.
 */
export interface ConnectState {
  /** Random, unique per authorization attempt. */
  nonce: string;
  /** Unix ms after which the state is refused. */
  expiresAt: number;
  /** The invite's stored key, when the attempt started from an invite link. */
  inviteKey?: string;
}

/** How long a merchant may take between our redirect and Clover's callback (signing in included). */
export const STATE_TTL_MS = 20 * 60_000;
/** A signing key shorter than this is refused: HMAC-SHA256 wants at least 256 bits. */
export const MIN_STATE_KEY_LENGTH = 32;
/** Anything longer is not a state we issued (ours are about 150 characters). */
export const MAX_STATE_LENGTH = 512;

const VERSION = 'v1';
const B64URL = /^[A-Za-z0-9_-]+$/;

const PayloadSchema = z.strictObject({
  n: z.string().check(z.regex(B64URL), z.minLength(16), z.maxLength(64)),
  e: z.number().check(z.int(), z.positive()),
  i: z.optional(z.string().check(z.regex(B64URL), z.minLength(16), z.maxLength(64))),
});

export type StateProblem = 'tampered' | 'expired';

export function newNonce(): string {
  return randomBytes(18).toString('base64url');
}

function mac(key: string, body: string): Buffer {
  if (key.length < MIN_STATE_KEY_LENGTH) {
    // Says nothing about the key but its length requirement.
    throw new Error(`The state-signing key must be at least ${MIN_STATE_KEY_LENGTH} characters`);
  }
  return createHmac('sha256', key).update(body).digest();
}

export function signState(state: ConnectState, key: string): string {
  const payload = Buffer.from(
    JSON.stringify({
      n: state.nonce,
      e: state.expiresAt,
      ...(state.inviteKey === undefined ? {} : { i: state.inviteKey }),
    }),
  ).toString('base64url');
  const body = `${VERSION}.${payload}`;
  return `${body}.${mac(key, body).toString('base64url')}`;
}

/**
 * The state we signed, or why it cannot be used. Anything not exactly as we issued it (another key,
 * another version, an edited payload, junk) is `tampered`; an authentic state past its time is `expired`.
 */
export function verifyState(
  token: string,
  key: string,
  now: number,
): { ok: true; state: ConnectState } | { ok: false; problem: StateProblem } {
  const tampered = { ok: false, problem: 'tampered' } as const;
  if (token.length > MAX_STATE_LENGTH) return tampered;
  const parts = token.split('.');
  if (parts.length !== 3) return tampered;
  const [version, payload, signature] = parts as [string, string, string];
  if (version !== VERSION || !B64URL.test(payload) || !B64URL.test(signature)) return tampered;
  const expected = mac(key, `${version}.${payload}`);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return tampered;
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return tampered;
  }
  const parsed = PayloadSchema.safeParse(raw);
  if (!parsed.success) return tampered;
  const { n, e, i } = parsed.data;
  if (e <= now) return { ok: false, problem: 'expired' };
  return { ok: true, state: { nonce: n, expiresAt: e, ...(i === undefined ? {} : { inviteKey: i }) } };
}
