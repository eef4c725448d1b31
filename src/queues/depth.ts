import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const n = (name: string) => Number(out.Attributes?.[name as keyof typeof out.Attributes] ?? 0);
  return {
    visible: n('ApproximateNumberOfMessages'),
    inFlight: n('ApproximateNumberOfMessagesNotVisible'),
    delayed: n('ApproximateNumberOfMessagesDelayed'),
  };
}

const empty = (d: QueueDepth) => d.visible + d.inFlight + d.delayed === 0;

/**
 * Resolves once every queue is empty, seen twice in a row (a consumer deletes one message
 * just before it sends the next, so a single empty reading can be a gap between the two).
 */
export async function waitForQueuesDrained(
  sqs: SQSClient,
  queueUrls: readonly string[],
  opts: { timeoutMs: number; pollMs?: number; onProgress?: (depths: Map<string, QueueDepth>) => void },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const pollMs = opts.pollMs ?? 500;
  let emptyReadings = 0;
  for (;;) {
    const depths = new Map<string, QueueDepth>();
    for (const url of queueUrls) depths.set(url, await queueDepth(sqs, url));
    opts.onProgress?.(depths);
    emptyReadings = [...depths.values()].every(empty) ? emptyReadings + 1 : 0;
    if (emptyReadings >= 2) return;
    if (Date.now() >= deadline) {
      const busy = [...depths.entries()]
        .filter(([, d]) => !empty(d))
        .map(
          ([url, d]) =>
            `${url.split('/').pop()} (visible ${d.visible}, in flight ${d.inFlight}, delayed ${d.delayed})`,
        );
      // Empty in this reading only: the second that confirms it never came.
      const awaited =
        busy.join('; ') ||
        'every queue empty in the last reading only, not yet confirmed by a second (a consumer can delete one message just before it sends the next)';
      throw new Error(`Timed out after ${opts.timeoutMs} ms waiting for queues to drain: ${awaited}`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
