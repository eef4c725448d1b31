import { z } from 'zod';

/** PollQueue body: poll one merchant. FIFO group = merchantId, so polls of one merchant never overlap. */
export const PollMessageSchema = z.object({
  merchantId: z.string().min(1),
  mode: z.enum(['incremental', 'full']),
  requestedAt: z.number().int(),
  reason: z.enum(['schedule', 'backfill', 'manual']),
});
export type PollMessage = z.infer<typeof PollMessageSchema>;

/** PushQueue body: bring these items' labels in line with their stored state. */
export const PushMessageSchema = z.object({
  merchantId: z.string().min(1),
  itemIds: z.array(z.string().min(1)).min(1).max(1000),
  /** Set by full resyncs: try labels Hipoink refused before once more (the operator may have fixed Hipoink). */
  retryRejected: z.boolean().optional(),
});
export type PushMessage = z.infer<typeof PushMessageSchema>;

/** Backfill Lambda payload (invoked by hand or by the CLI). */
export const BackfillRequestSchema = z.union([
  z.object({ merchantId: z.string().min(1) }).strict(),
  z.object({ all: z.literal(true) }).strict(),
]);
export type BackfillRequest = z.infer<typeof BackfillRequestSchema>;
