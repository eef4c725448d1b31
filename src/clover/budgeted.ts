import type { RequestBudget } from '../store/budget.ts';
import type { CloverClient, CloverCodeExchange } from './client.ts';

export interface BudgetLimits {
  /** Requests per second all Lambdas together may spend on item reads. */
  reads: number;
  /** Requests per second token refresh/recovery may use: the whole app limit, so reads never starve them. */
  tokens: number;
}

/** The same Clover client, but every request first takes its place in the app-wide budget. */
export function withRequestBudget(
  client: CloverClient,
  budget: RequestBudget,
  limits: BudgetLimits,
): CloverClient {
  return {
    async listItems(...args) {
      await budget.take(limits.reads);
      return client.listItems(...args);
    },
    async getItem(...args) {
      await budget.take(limits.reads);
      return client.getItem(...args);
    },
    async refreshTokens(...args) {
      await budget.take(limits.tokens);
      return client.refreshTokens(...args);
    },
    async recoverTokens(...args) {
      await budget.take(limits.tokens);
      return client.recoverTokens(...args);
    },
  };
}

/** The connect flow's code exchange, through the same budget as token refreshes (it spends a single-use code). */
export function withCodeExchangeBudget(
  client: CloverCodeExchange,
  budget: RequestBudget,
  limits: Pick<BudgetLimits, 'tokens'>,
): CloverCodeExchange {
  return {
    async exchangeCode(...args) {
      await budget.take(limits.tokens);
      return client.exchangeCode(...args);
    },
  };
}
