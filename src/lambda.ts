import type { Context } from 'aws-lambda';
import type { Deps } from './deps.ts';
import { logger, metrics } from './observability.ts';
import { runtimeDeps } from './runtime.ts';

/** The body of an entry point: parse the event, call the core, map the result. */
export type HandlerBody<D, E, R> = (event: E, deps: D, context: Context) => Promise<R>;

/**
 * What every Lambda entry point shares, written once: the invocation's context on every log
 * line, dependencies from `deps` (built once per cold start by the caller's factory), and the
 * metrics recorded during the invocation flushed as one EMF line when it ends, thrown or not.
 * An invocation that recorded no metric writes none (Powertools would log a warning instead).
 *
 * A function with other dependencies than the sync functions' (e.g. a web endpoint) passes its
 * own factory; the sync functions use `lambdaHandler`.
 */
export function handlerWith<D, E, R>(deps: () => D, body: HandlerBody<D, E, R>) {
  return async (event: E, context: Context): Promise<R> => {
    logger.addContext(context);
    try {
      return await body(event, deps(), context);
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

/** An entry point of the sync functions, on the dependencies every one of them shares. */
export const lambdaHandler = <E, R>(body: HandlerBody<Deps, E, R>) => handlerWith(runtimeDeps, body);
