import { CloverPausedError } from '../errors.ts';
import type { RequestBudget } from '../store/budget.ts';
import { type CloverClient, MAX_RETRY_AFTER_MS, type RequestGate } from './client.ts';

export interface BudgetLimits {
  /** Requests per second all Lambdas together may spend on item reads. */
  reads: number;
  /** Requests per second token refresh/recovery may use: the whole app limit, so reads never starve them. */
  tokens: number;
}

/** Item reads may use this share of the app's requests per second; token refreshes the rest too. */
export const READ_SHARE = 0.8;

/** The budget's limits for an app allowed `requestsPerSecond` (Clover's: 50). */
export function budgetLimits(requestsPerSecond: number): BudgetLimits {
  return { reads: Math.floor(requestsPerSecond * READ_SHARE), tokens: requestsPerSecond };
}

/** The longest a 429 pauses the whole app, whatever its retry-after says. */
export const MAX_PAUSE_MS = 5 * 60_000;
/** When Clover answers 429 without saying how long to wait: its rate limits count per second. */
const DEFAULT_PAUSE_MS = 1000;

/**
 * The app-wide budget as the Clover client's gate: every attempt, retries included, takes its
 * place in the shared schedule first, and a 429 pauses every function until its retry-after.
 */
export function budgetGate(
  budget: RequestBudget,
  limits: BudgetLimits,
  now: () => number = Date.now,
): RequestGate {
  return {
    async beforeAttempt(kind) {
      const limit = kind === 'read' ? limits.reads : limits.tokens;
      // A wait longer than a function budgets for fails the attempt (retried later) instead of
      // running the function into its timeout.
      if ((await budget.take(limit, MAX_RETRY_AFTER_MS)) === undefined)
        throw new CloverPausedError(
          `Clover asked the app to wait more than ${MAX_RETRY_AFTER_MS / 1000} s (a 429's retry-after)`,
          { status: 429 },
        );
    },
    async rateLimited(retryAfterMs) {
      // Capped: a pause only ever grows, and one odd header must not stop the app for good.
      await budget.pause(now() + Math.min(retryAfterMs ?? DEFAULT_PAUSE_MS, MAX_PAUSE_MS));
    },
  };
}

/**
 * The same client, but one request at a time (its retries included): what one poller invocation
 * sends to Clover, however many of its merchants it polls at once. So the app never has more
 * requests in flight than poller invocations — Clover allows 10 concurrent per app — while each
 * invocation's DynamoDB work for one merchant overlaps another merchant's Clover request.
 */
export function oneRequestAtATime(client: CloverClient): CloverClient {
  let last: Promise<unknown> = Promise.resolve();
  const serial = <T>(run: () => Promise<T>): Promise<T> => {
    const next = last.then(run, run);
    last = next.catch(() => undefined);
    return next;
  };
  return {
    listItems: (...args) => serial(() => client.listItems(...args)),
    getItem: (...args) => serial(() => client.getItem(...args)),
    refreshTokens: (...args) => serial(() => client.refreshTokens(...args)),
    recoverTokens: (...args) => serial(() => client.recoverTokens(...args)),
  };
}
