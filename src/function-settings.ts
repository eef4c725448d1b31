/**
 * How each function runs: timeouts, memory and how its queue feeds it. The deployed stack
 * (lib/esl-sync-stack.ts), the local stack (local/start.ts) and the benchmark read these numbers
 * from here, so the local pumps run the handlers as Lambda's event sources would.
 */
export interface QueueFeed {
  /** Messages per invocation. */
  batchSize: number;
  /** Concurrent invocations the event source starts at most. */
  maxConcurrency: number;
}

export interface FunctionSettings {
  timeoutSeconds: number;
  memoryMb: number;
}

export const FAN_OUT: FunctionSettings = { timeoutSeconds: 60, memoryMb: 256 };
export const BACKFILL: FunctionSettings = { timeoutSeconds: 60, memoryMb: 256 };
export const TOKEN_REFRESHER: FunctionSettings = { timeoutSeconds: 300, memoryMb: 256 };

/**
 * Budgets for the worst case of the HTTP clients' retries: Clover GETs wait at most 20 s per
 * retry-after (4 retries), Hipoink calls time out after 10 s (3 retries, ≤5 s backoff).
 */
export const POLLER: FunctionSettings & { feed: QueueFeed } = {
  timeoutSeconds: 180,
  memoryMb: 512,
  // Up to 4 merchants per invocation, polled at once, with one Clover request in flight at a time
  // per invocation: while one merchant's request is out, the others' DynamoDB work goes on, so
  // each invocation keeps Clover busy. 9 invocations: Clover allows 10 concurrent requests per
  // app, and the token refresher may need the tenth.
  feed: { batchSize: 4, maxConcurrency: 9 },
};

/**
 * A poll is not started with less time left in its invocation than this: the worst case of one
 * poll's retries (Clover GETs retry 4 times, waiting up to 20 s each). It is handed back instead.
 */
export const POLL_START_MARGIN_SECONDS = 100;

/**
 * Nor is a push started with less left than this: a Hipoink that hangs holds one call up to its
 * timeout and retries (about 55 s), and a batch of pushes run one after another would otherwise run
 * into the timeout, every message coming back only after the queue's visibility timeout.
 */
export const PUSH_START_MARGIN_SECONDS = 60;
export const PUSH_CONSUMER: FunctionSettings & { feed: QueueFeed } = {
  timeoutSeconds: 120,
  memoryMb: 512,
  feed: { batchSize: 10, maxConcurrency: 5 },
};

/** SQS event sources: at least 2 concurrent invocations (AWS's minimum)... */
export const MIN_POLLER_CONCURRENCY = 2;
/** ...and never more poller invocations (one Clover request in flight each) than Clover's 10 per app. */
export const MAX_POLLER_CONCURRENCY = 10;

/**
 * The deployed fan-out runs every minute (EventBridge's finest rate), more often than the poll
 * interval, and queues the merchants whose own poll time came since its last run.
 */
export const FAN_OUT_PERIOD_SECONDS = 60;

/** Receives of a poll or push message before it moves to its dead-letter queue. */
export const MAX_RECEIVES = 5;

/** AWS's advice for a queue feeding a function: visible again after six function timeouts. */
export function visibilityTimeoutSeconds(fn: FunctionSettings): number {
  return fn.timeoutSeconds * 6;
}

/** Failed messages return after this backoff (doubling per receive, at most 15 min) on AWS. */
export const RETRY_BASE_SECONDS = 30;

/**
 * Seconds until a failed message is tried again: `baseSeconds` (30 on AWS), doubling per receive,
 * at most 15 min. The queues' visibility timeouts are six function timeouts (AWS's advice for
 * event sources), and in a FIFO queue a failed message blocks its whole group until then — a
 * merchant's labels would wait up to 18 minutes after one transient error.
 */
export function retryDelaySeconds(receiveCount: number, baseSeconds = RETRY_BASE_SECONDS): number {
  const n = Number.isFinite(receiveCount) && receiveCount >= 1 ? receiveCount : 1;
  return Math.min(900, baseSeconds * 2 ** (n - 1));
}
