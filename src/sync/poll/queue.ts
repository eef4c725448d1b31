import { randomUUID } from 'node:crypto';
import { chunked } from '../../chunked.ts';
import type { PushFlags } from '../../domain/shelf.ts';
import { MAX_CODES_PER_PUSH } from '../messages.ts';
import type { PollContext } from './context.ts';

/** Queues a push of every code this poll changed or its repair found out of step; returns how many. */
export async function queuePushes(ctx: PollContext, flags: PushFlags = {}) {
  const { deps, merchant, touched } = ctx;
  const { repush, ...sent } = flags;
  if (repush) {
    // A repush distrusts what is recorded as held: those codes are noted as under a call, so the
    // push sends each once and records it, no longer unsure, chunk by chunk, and a push that Lambda
    // stopped at its timeout is redone from the chunk it was in (a repush flag on the message would resend them
    // all). A code holding nothing is created anyway (the resync retries refused labels); noting a
    // refused one would make its push delete there.
    const slots = await deps.shelf.getSlots(merchant.merchantId, [...touched]);
    const noted = slots.filter((s) => s.held !== undefined).map((s) => s.code);
    await deps.shelf.beginCalls(merchant.merchantId, noted);
    ctx.repushNoted = noted.length > 0;
  }
  await deps.pushQueue.send(
    pushMessages(merchant.merchantId, [...touched], deps.settings.hipoinkChunkSize, sent),
  );
  return touched.size;
}

/** Most bytes of codes in one push message: with the rest of its body, within SQS's message size. */
const PUSH_CODE_BYTES = 200 * 1024;

/**
 * Splits codes into push messages whose sizes are whole multiples of the Hipoink chunk, so N
 * changed codes cost ⌈N / chunk⌉ Hipoink calls however many messages carry them. Long codes (up to
 * 1 KB each) make messages of fewer chunks, down to one, or less where one chunk alone is too big.
 */
export function pushMessages(
  merchantId: string,
  codes: readonly string[],
  chunk: number,
  flags: PushFlags & { clearFrom?: string } = {},
) {
  const longest = codes.reduce((n, c) => Math.max(n, Buffer.byteLength(JSON.stringify(c)) + 1), 1);
  const fit = Math.max(1, Math.min(MAX_CODES_PER_PUSH, Math.floor(PUSH_CODE_BYTES / longest)));
  const size = fit >= chunk ? Math.floor(fit / chunk) * chunk : fit;
  return chunked(codes, size).map((run) => ({
    body: { merchantId, codes: run, ...flags },
    groupId: merchantId,
    // Unique: a second change to the same codes minutes later must not be dropped as a duplicate.
    deduplicationId: `${merchantId}:${randomUUID()}`,
  }));
}
