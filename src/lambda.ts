import type { Context } from 'aws-lambda';
import { metrics, withInvocationLogger } from './observability.ts';

/** The body of an entry point: parse the event, call the core, map the result. */
export type HandlerBody<D, E, R> = (event: E, deps: D, context: Context) => Promise<R>;

/**
 * What every Lambda entry point shares, written once: the invocation's context on every log
 * line, dependencies from `deps` (the caller's factory, run each invocation; the sync functions'
 * builds them once per cold start), and the
 * metrics recorded during the invocation flushed as one EMF line when it ends, thrown or not.
 * An invocation that recorded no metric writes none (Powertools would log a warning instead).
 *
 * Each function passes its own factory: the sync functions share `lambdaHandler` (src/runtime.ts),
 * the web function builds its app.
 */
export function handlerWith<D, E, R>(deps: () => D, body: HandlerBody<D, E, R>) {
  return (event: E, context: Context): Promise<R> =>
    withInvocationLogger(context, async () => {
      try {
        return await body(event, deps(), context);
      } finally {
        if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      }
    });
}
