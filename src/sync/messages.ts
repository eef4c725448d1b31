import * as z from 'zod';

/** Items one poll message may ask to confirm gone. */
export const MAX_CONFIRM_GONE = 1000;

/** PollQueue body: poll one merchant. FIFO group = merchantId, so polls of one merchant never overlap. */
export const PollMessageSchema = z.object({
  merchantId: z.string().min(1),
  mode: z.enum(['incremental', 'full']),
  requestedAt: z.number().int(),
  reason: z.enum(['schedule', 'backfill', 'manual', 'webhook']),
  /** Full resyncs only: re-read items modified since this time (Unix ms) instead of every item. */
  since: z.number().int().nonnegative().optional(),
  /**
   * Items Clover said were deleted (a webhook notice): each is confirmed gone with a GET (404)
   * before its label leaves the shelf, the same rule ghost cleanup follows.
   */
  confirmGone: z.array(z.string().min(1)).min(1).max(MAX_CONFIRM_GONE).optional(),
  /** Full resyncs only: send every label again, even where Hipoink is recorded to hold it. */
  repush: z.boolean().optional(),
});
export type PollMessage = z.infer<typeof PollMessageSchema>;

/** PushQueue body: bring Hipoink in line with the stored state under these product codes. */
export const PushMessageSchema = z.object({
  merchantId: z.string().min(1),
  codes: z.array(z.string().min(1)).min(1).max(1000),
  /** Set by full resyncs: try labels Hipoink refused before once more (the operator may have fixed Hipoink). */
  retryRefused: z.boolean().optional(),
  /** Send every label again whatever is recorded (a Hipoink server that lost its products). */
  repush: z.boolean().optional(),
  /**
   * Take these codes off that Hipoink store instead (a store left behind by a move, or a merchant
   * being removed); nothing is recorded for them.
   */
  clearFrom: z.string().min(1).optional(),
});
export type PushMessage = z.infer<typeof PushMessageSchema>;

/** A time as Unix ms or an ISO-8601 string. */
export const SinceSchema = z.union(
  [z.number().int().nonnegative(), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))],
  { error: 'expected Unix ms (a number) or an ISO-8601 date-time such as 2026-11-01T00:00:00Z' },
);
/** Backfill Lambda payload (invoked by hand or by the CLI). */
/** `repush`: send every label again, even where Hipoink is recorded to hold it. */
export const BackfillOneSchema = z
  .object({ merchantId: z.string().min(1), since: SinceSchema.optional(), repush: z.boolean().optional() })
  .strict();
export const BackfillAllSchema = z
  .object({ all: z.literal(true), since: SinceSchema.optional(), repush: z.boolean().optional() })
  .strict();
export const BackfillRequestSchema = z.union([BackfillOneSchema, BackfillAllSchema]);
export type BackfillRequest = z.infer<typeof BackfillRequestSchema>;
