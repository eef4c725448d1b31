import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { CloverApiError, MerchantUnavailableError } from '../../src/errors.ts';
import { MAX_RECEIVES, retryDelaySeconds } from '../../src/function-settings.ts';
import { logger } from '../../src/observability.ts';
import { processQueueBatch } from '../../src/queues/batch.ts';
import * as z from '../../src/zod.ts';
import { RecordingQueue } from './fakes.ts';

const context = {
  functionName: 'test',
  awsRequestId: 'req',
  getRemainingTimeInMillis: () => 60_000,
} as Context;
const record = (id: string, body: string, group = 'M1'): SQSRecord => ({
  messageId: id,
  receiptHandle: `rh-${id}`,
  body,
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: '0',
    SenderId: 'x',
    ApproximateFirstReceiveTimestamp: '0',
    MessageGroupId: group,
  },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q.fifo',
  awsRegion: 'us-east-1',
});
const schema = z.object({ merchantId: z.string() });

describe('processQueueBatch', () => {
  it('moves malformed messages straight to the DLQ with the original body and a reason', async () => {
    const dlq = new RecordingQueue();
    const handled: string[] = [];
    const event: SQSEvent = {
      Records: [
        record('1', 'not json'),
        record('2', '{"nope":1}', 'M2'),
        record('3', '{"merchantId":"M3"}', 'M3'),
      ],
    };
    const out = await processQueueBatch(event, context, {
      schema,
      deadLetter: dlq,
      handle: async (m) => {
        handled.push(m.merchantId);
      },
    });
    expect(out.batchItemFailures).toEqual([]);
    expect(handled).toEqual(['M3']);
    expect(dlq.sent.map((m) => m.body)).toEqual(['not json', '{"nope":1}']);
    expect(dlq.sent[0]?.attributes?.failureReason).toMatch(/not valid JSON/);
    expect(dlq.sent[1]?.attributes?.failureReason).toMatch(/merchantId/);
    expect(dlq.sent[1]?.groupId).toBe('M2');
  });

  it('gives a letter a reason SQS takes: no character cut in half, none it refuses', async () => {
    const dlq = new RecordingQueue();
    const last = record('1', '{"merchantId":"M1"}');
    last.attributes.ApproximateReceiveCount = String(MAX_RECEIVES);
    const prefix = `failed on its last receive (${MAX_RECEIVES}): `;
    // A refusal as Hipoink might word it: a control character, and an emoji across the 1,000th place.
    const start = 'Hipoink said \u0007no';
    const reason = `${start}${'.'.repeat(999 - prefix.length - start.length)}😀 and more`;
    await processQueueBatch({ Records: [last] }, context, {
      schema,
      deadLetter: dlq,
      handle: async () => {
        throw new CloverApiError(reason, { status: 503 });
      },
    });
    const sent = dlq.sent[0]?.attributes?.failureReason ?? '';
    expect(sent.startsWith(`${prefix}Hipoink said ?no...`)).toBe(true);
    // The emoji did not fit whole, so it is left out rather than cut in half.
    expect(sent).toHaveLength(999);
    expect(sent).toMatch(/^[\t\n\r\u{20}-\u{D7FF}\u{E000}-\u{FFFD}\u{10000}-\u{10FFFF}]*$/u);
  });

  it('reports retryable failures (and the rest of that group) for redelivery, dead-letters permanent ones', async () => {
    const dlq = new RecordingQueue();
    const event: SQSEvent = {
      Records: [
        record('1', '{"merchantId":"retry"}', 'A'),
        record('2', '{"merchantId":"after"}', 'A'),
        record('3', '{"merchantId":"permanent"}', 'B'),
        record('4', '{"merchantId":"fine"}', 'C'),
      ],
    };
    const out = await processQueueBatch(event, context, {
      schema,
      deadLetter: dlq,
      handle: async (m) => {
        if (m.merchantId === 'retry') throw new CloverApiError('503', { status: 503 });
        if (m.merchantId === 'permanent') throw new MerchantUnavailableError('gone');
      },
    });
    expect(out.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['1', '2']);
    expect(dlq.sent.map((m) => m.body)).toEqual(['{"merchantId":"permanent"}']);
  });

  it('dead-letters a message failing on its last receive itself, with the reason, and goes on with its group', async () => {
    const dlq = new RecordingQueue();
    const last = record('1', '{"merchantId":"retry"}', 'A');
    last.attributes.ApproximateReceiveCount = String(MAX_RECEIVES);
    const handled: string[] = [];
    const setAside: string[] = [];
    const error = vi.spyOn(logger, 'error');
    const out = await processQueueBatch(
      { Records: [last, record('2', '{"merchantId":"after"}', 'A')] },
      context,
      {
        schema,
        deadLetter: dlq,
        onSetAside: async (m) => void setAside.push(m.merchantId),
        handle: async (m) => {
          if (m.merchantId === 'retry')
            throw new CloverApiError('Clover answered 503 during listItems', { status: 503 });
          handled.push(m.merchantId);
        },
      },
    );
    // The handler is told which message's work is left undone.
    expect(setAside).toEqual(['retry']);
    expect(out.batchItemFailures).toEqual([]);
    expect(handled).toEqual(['after']);
    expect(dlq.sent.map((m) => m.attributes?.failureReason)).toEqual([
      `failed on its last receive (${MAX_RECEIVES}): Clover answered 503 during listItems`,
    ]);
    // Out of tries, not hopeless: a redrive may well pass.
    expect(error.mock.calls.map(([text]) => text)).toEqual([
      'Message failed on its last try; moved to the dead-letter queue',
    ]);
    error.mockRestore();
  });

  it('notes a message set aside even when its letter cannot be sent (SQS then sets it aside itself)', async () => {
    const last = record('1', '{"merchantId":"retry"}', 'A');
    last.attributes.ApproximateReceiveCount = String(MAX_RECEIVES);
    const setAside: string[] = [];
    const dlq = {
      send: async () => Promise.reject(new Error('SQS throttled the letter')),
    };
    const out = await processQueueBatch({ Records: [last] }, context, {
      schema,
      deadLetter: dlq,
      onSetAside: async (m) => void setAside.push(m.merchantId),
      handle: async () => {
        throw new CloverApiError('Clover answered 503 during listItems', { status: 503 });
      },
    });
    // Handed back: its next receive is past maxReceiveCount, so SQS moves it without our code running.
    expect(out.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['1']);
    expect(setAside).toEqual(['retry']);
  });

  it('notes a message on its last receive before it starts: a Lambda stopped mid-work leaves SQS to set it aside', async () => {
    const last = record('1', '{"merchantId":"last"}', 'A');
    last.attributes.ApproximateReceiveCount = String(MAX_RECEIVES);
    const events: string[] = [];
    const dlq = new RecordingQueue();
    const out = await processQueueBatch(
      { Records: [record('0', '{"merchantId":"early"}', 'B'), last] },
      context,
      {
        schema,
        deadLetter: dlq,
        onSetAside: async (m) => void events.push(`noted ${m.merchantId}`),
        handle: async (m) => void events.push(`handled ${m.merchantId}`),
      },
    );
    // Noted before the batch's work starts (should the invocation end before it ends, no code of
    // ours runs again); a message with receives left is not noted.
    expect(events).toEqual(['noted last', 'handled early', 'handled last']);
    expect(out.batchItemFailures).toEqual([]);
    expect(dlq.sent).toEqual([]);
  });

  it('notes a message on its last receive that the batch never reaches: Lambda stopped in a message before it', async () => {
    const last = record('1', '{"merchantId":"last"}', 'A');
    last.attributes.ApproximateReceiveCount = String(MAX_RECEIVES);
    const events: string[] = [];
    void processQueueBatch({ Records: [record('0', '{"merchantId":"hangs"}', 'B'), last] }, context, {
      schema,
      deadLetter: new RecordingQueue(),
      onSetAside: async (m) => void events.push(`noted ${m.merchantId}`),
      handle: async (m) => {
        events.push(`started ${m.merchantId}`);
        // Runs into the function's timeout: Lambda stops the invocation, and nothing after it runs.
        if (m.merchantId === 'hangs') await new Promise(() => undefined);
      },
    });
    await vi.waitFor(() => expect(events).toContain('started hangs'));
    expect(events).toEqual(['noted last', 'started hangs']);
  });

  it('notes a message on its last receive whose group is handed back unstarted', async () => {
    const first = record('1', '{"merchantId":"first"}', 'A');
    const second = record('2', '{"merchantId":"second"}', 'A');
    first.attributes.ApproximateReceiveCount = String(MAX_RECEIVES);
    second.attributes.ApproximateReceiveCount = String(MAX_RECEIVES);
    const setAside: string[] = [];
    const handled: string[] = [];
    const out = await processQueueBatch({ Records: [first, second] }, context, {
      schema,
      // The first one's letter cannot be sent: it is handed back, and the rest of its group with it.
      deadLetter: { send: async () => Promise.reject(new Error('SQS throttled the letter')) },
      onSetAside: async (m) => void setAside.push(m.merchantId),
      handle: async (m) => {
        handled.push(m.merchantId);
        throw new CloverApiError('Clover answered 503 during listItems', { status: 503 });
      },
    });
    expect(handled).toEqual(['first']);
    expect(out.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['1', '2']);
    // Both go to the dead-letter queue at their next receive, SQS's doing: both were noted.
    expect(setAside.sort()).toEqual(['first', 'second']);
  });

  it('dead-letters, with its reason, a message too late to start on its last receive, and notes it', async () => {
    const last = record('1', '{"merchantId":"last"}', 'A');
    last.attributes.ApproximateReceiveCount = String(MAX_RECEIVES);
    const setAside: string[] = [];
    const handled: string[] = [];
    const dlq = new RecordingQueue();
    const late = { ...context, getRemainingTimeInMillis: () => 500 } as Context;
    const out = await processQueueBatch({ Records: [last] }, late, {
      schema,
      deadLetter: dlq,
      startMarginMs: 1000,
      onSetAside: async (m) => void setAside.push(m.merchantId),
      handle: async (m) => void handled.push(m.merchantId),
    });
    expect(handled).toEqual([]);
    expect(setAside).toEqual(['last']);
    expect(out.batchItemFailures).toEqual([]);
    expect(dlq.sent.map((m) => [m.body, m.attributes?.failureReason])).toEqual([
      [
        '{"merchantId":"last"}',
        `not started on its last receive (${MAX_RECEIVES}): too little time was left in the invocation`,
      ],
    ]);
  });

  it('logs why a message failed, under a key the logger keeps', async () => {
    // Powertools drops a `message` attribute (reserved); the reason must travel under another key.
    const warn = vi.spyOn(logger, 'warn');
    try {
      await processQueueBatch({ Records: [record('1', '{"merchantId":"M1"}')] }, context, {
        schema,
        deadLetter: new RecordingQueue(),
        handle: async () => {
          throw new CloverApiError('Clover answered 503 for merchant M1', { status: 503, merchantId: 'M1' });
        },
      });
      const [text, attributes] = warn.mock.calls[0] ?? [];
      expect(text).toBe('Message failed; it will be retried');
      expect(attributes).toMatchObject({ reason: 'Clover answered 503 for merchant M1', merchantId: 'M1' });
      expect(attributes).not.toHaveProperty('message');
    } finally {
      warn.mockRestore();
    }
  });

  it('brings failed records (and the rest of their group) back after a backoff, not the long visibility timeout', async () => {
    const scheduled: Array<{ receiptHandle: string; seconds: number }> = [];
    const retry = { baseSeconds: 30, retryIn: async (m: typeof scheduled) => void scheduled.push(...m) };
    const again = { ...record('1', '{"merchantId":"retry"}', 'A') };
    again.attributes = { ...again.attributes, ApproximateReceiveCount: '3' };
    const event: SQSEvent = {
      Records: [again, record('2', '{"merchantId":"after"}', 'A'), record('3', '{"merchantId":"fine"}', 'B')],
    };
    const out = await processQueueBatch(event, context, {
      schema,
      deadLetter: new RecordingQueue(),
      retry,
      handle: async (m) => {
        if (m.merchantId === 'retry') throw new CloverApiError('503', { status: 503 });
      },
    });
    expect(out.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['1', '2']);
    // Third receive: 30 s doubled twice; the skipped record of the same group on its first.
    expect(scheduled).toEqual([
      { receiptHandle: 'rh-1', seconds: 120 },
      { receiptHandle: 'rh-2', seconds: 30 },
    ]);
    expect(retryDelaySeconds(10)).toBe(900);

    // If SQS refuses the change, the batch result still stands (the visibility timeout applies).
    const refused = { baseSeconds: 30, retryIn: async () => Promise.reject(new Error('throttled')) };
    const again2 = await processQueueBatch(
      { Records: [record('9', '{"merchantId":"retry"}', 'C')] },
      context,
      {
        schema,
        deadLetter: new RecordingQueue(),
        retry: refused,
        handle: async () => {
          throw new CloverApiError('503', { status: 503 });
        },
      },
    );
    expect(again2.batchItemFailures).toEqual([{ itemIdentifier: '9' }]);
  });
});

describe('processQueueBatch with message groups in parallel', () => {
  it('handles the groups at once, each group in order, and holds back only the failing group', async () => {
    const started: string[] = [];
    let inFlight = 0;
    let most = 0;
    const event: SQSEvent = {
      Records: [
        record('a1', '{"merchantId":"A"}', 'A'),
        record('b1', '{"merchantId":"B"}', 'B'),
        record('a2', '{"merchantId":"A"}', 'A'),
        record('c1', '{"merchantId":"C"}', 'C'),
        record('b2', '{"merchantId":"B"}', 'B'),
      ],
    };
    const out = await processQueueBatch(event, context, {
      schema,
      deadLetter: new RecordingQueue(),
      parallelGroups: true,
      startMarginMs: 1000,
      handle: async (_m, r) => {
        started.push(r.messageId);
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 10));
        inFlight--;
        if (r.messageId === 'b1') throw new CloverApiError('Clover listItems failed with HTTP 503', {});
      },
    });
    expect(most).toBe(3);
    expect(started.indexOf('a1')).toBeLessThan(started.indexOf('a2'));
    // B's first message failed: its second is not started, and both come back; A and C are done.
    expect(started).not.toContain('b2');
    expect(out.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['b1', 'b2']);
  });

  it('hands a message back unstarted when too little of the invocation is left (groups at once)', async () => {
    const handled: string[] = [];
    const late = { ...context, getRemainingTimeInMillis: () => 500 } as Context;
    const out = await processQueueBatch({ Records: [record('x1', '{"merchantId":"X"}', 'X')] }, late, {
      schema,
      deadLetter: new RecordingQueue(),
      parallelGroups: true,
      startMarginMs: 1000,
      handle: async (m) => void handled.push(m.merchantId),
    });
    expect(handled).toEqual([]);
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'x1' }]);
  });

  it('hands back, one message after another, those that would start too late in the invocation', async () => {
    const handled: string[] = [];
    // The first message runs; by the second, the invocation is nearly over.
    let left = 60_000;
    const late = { ...context, getRemainingTimeInMillis: () => left } as Context;
    const records = [record('x1', '{"merchantId":"X"}', 'X'), record('y1', '{"merchantId":"Y"}', 'Y')];
    const out = await processQueueBatch({ Records: records }, late, {
      schema,
      deadLetter: new RecordingQueue(),
      startMarginMs: 1000,
      handle: async (m) => {
        handled.push(m.merchantId);
        left = 500;
      },
    });
    expect(handled).toEqual(['X']);
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'y1' }]);
  });
});
