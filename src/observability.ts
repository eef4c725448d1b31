import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { METRIC_NAMESPACE, SERVICE_NAME } from './metric-names.ts';

/**
 * One Logger and one Metrics for the process (Powertools). Log only ids, counts and error
 * context: never a merchant record, token, sign or request header.
 */
const processLogger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });

/**
 * Each invocation logs through a child carrying its own Lambda context. Lambda runs one invocation
 * per process at a time, but the local stack runs every function in one process: a logger shared
 * by all would name on each line whichever function began last.
 */
const invocationLogger = new AsyncLocalStorage<Logger>();

/** The logger of the invocation running now (outside one: the process's). */
export const logger: Logger = new Proxy(processLogger, {
  get(target, key) {
    // Logger's methods live on its prototype: one set on the process's logger itself (a test's spy)
    // stands for every invocation's.
    const replaced = Object.hasOwn(target, key) && typeof Reflect.get(target, key) === 'function';
    const current = replaced ? target : (invocationLogger.getStore() ?? target);
    const value: unknown = Reflect.get(current, key, current);
    return typeof value === 'function' ? value.bind(current) : value;
  },
});

/** Runs one invocation with its own logger, its context on every line. */
export function withInvocationLogger<T>(context: Context, run: () => Promise<T>): Promise<T> {
  const own = processLogger.createChild();
  own.addContext(context);
  return invocationLogger.run(own, run);
}
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRIC_NAMESPACE,
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME,
});
