import { CLOVER_ID } from '../clover/schemas.ts';
import * as z from '../zod.ts';

/** Items one poll message may ask to confirm gone. */
export const MAX_CONFIRM_GONE = 1000;
/** Most codes one push message may carry: the poll splits its pushes to fit. */
export const MAX_CODES_PER_PUSH = 1000;

/**
 * The deduplication key of the poll that answers a merchant's change notices, given how many of
 * its polls had begun when the notice was recorded: notices share one poll until the next poll of
 * the merchant begins (it reads Clover after them); a notice after that gets a poll of its own.
 */
export const noticePollKey = (pollsStarted: number) => `webhook-after-${pollsStarted}`;

/** PollQueue body: poll one merchant. FIFO group = merchantId, so polls of one merchant never overlap. */
export const PollMessageSchema = z
  .object({
    merchantId: z.string().check(z.minLength(1)),
    mode: z.enum(['incremental', 'full']),
    requestedAt: z.number().check(z.int()),
    reason: z.enum(['schedule', 'backfill', 'manual', 'webhook']),
    /** Full resyncs only: re-read items modified since this time (Unix ms) instead of every item. */
    since: z.optional(z.number().check(z.int(), z.nonnegative())),
    /**
     * Items Clover said were deleted (a webhook notice): each is confirmed gone with a GET (404)
     * before its label leaves the shelf, the same rule ghost cleanup follows.
     */
    confirmGone: z.optional(
      z.array(z.string().check(z.minLength(1))).check(z.minLength(1), z.maxLength(MAX_CONFIRM_GONE)),
    ),
    /** Full resyncs only: send every label again, even where Hipoink is recorded to hold it. */
    repush: z.optional(z.boolean()),
    /** No poll: a barrier (`src/sync/barrier.ts`), passed on to the push queue. */
    barrier: z.optional(z.string().check(z.minLength(1))),
  })
  .check(
    z.refine(
      (m) =>
        m.barrier === undefined ||
        (m.mode === 'incremental' && m.since === undefined && m.confirmGone === undefined && !m.repush),
      { message: 'a barrier asks for nothing else' },
    ),
  );
export type PollMessage = z.infer<typeof PollMessageSchema>;

/** PushQueue body: bring Hipoink in line with the stored state under these product codes. */
export const PushMessageSchema = z
  .object({
    merchantId: z.string().check(z.minLength(1)),
    /** Empty only in a barrier. */
    codes: z.array(z.string().check(z.minLength(1))).check(z.maxLength(MAX_CODES_PER_PUSH)),
    /** Set by full resyncs: try labels Hipoink refused before once more (the operator may have fixed Hipoink). */
    retryRefused: z.optional(z.boolean()),
    /** Send every label again whatever is recorded (a Hipoink server that lost its products). */
    repush: z.optional(z.boolean()),
    /**
     * Take these codes off that Hipoink store instead (a store left behind by a move, or a merchant
     * being removed); nothing is recorded for them.
     */
    clearFrom: z.optional(z.string().check(z.minLength(1))),
    /** No push: the barrier passed (`src/sync/barrier.ts`), recorded on the merchant. */
    barrier: z.optional(z.string().check(z.minLength(1))),
  })
  .check(
    z.refine(
      (m) =>
        m.barrier === undefined
          ? m.codes.length > 0
          : m.codes.length === 0 && m.clearFrom === undefined && !m.repush && !m.retryRefused,
      { message: 'a push carries codes, and a barrier nothing else' },
    ),
  );
export type PushMessage = z.infer<typeof PushMessageSchema>;

/** A time as Unix ms or an ISO-8601 string. */
export const SinceSchema = z.union(
  [
    z.number().check(z.int(), z.nonnegative()),
    z.pipe(
      z.iso.datetime({ offset: true }),
      z.transform((s: string) => Date.parse(s)),
    ),
  ],
  { error: 'expected Unix ms (a number) or an ISO-8601 date-time such as 2026-11-01T00:00:00Z' },
);
/** Backfill Lambda payload (invoked by hand or by the CLI). */
/** `repush`: send every label again, even where Hipoink is recorded to hold it. */
export const BackfillOneSchema = z.strictObject({
  // Clover's id: the merchants table keys records of its own beside the merchants.
  merchantId: z.string().check(z.regex(CLOVER_ID, 'expected a Clover merchant id (letters and digits)')),
  since: z.optional(SinceSchema),
  repush: z.optional(z.boolean()),
});
export const BackfillAllSchema = z.strictObject({
  all: z.literal(true),
  since: z.optional(SinceSchema),
  repush: z.optional(z.boolean()),
});
export const BackfillRequestSchema = z.union([BackfillOneSchema, BackfillAllSchema]);
export type BackfillRequest = z.infer<typeof BackfillRequestSchema>;
