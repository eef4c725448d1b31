import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { errorForLog } from '../../src/errors.ts';
import { logger, metrics } from '../../src/observability.ts';
import { createWebApp } from '../../src/web/app.ts';
import { webRuntimeDeps } from '../../src/web/deps.ts';
import { HttpEventSchema, toHttpResult, toWebRequest } from '../../src/web/event.ts';
import { failurePage } from '../../src/web/pages.ts';

/**
 * HTTP API (payload 2.0) → the connect flow's routes and Clover's webhooks. Logs ids and outcomes,
 * never the query string, a header or a body.
 */
export const handler = async (
  event: unknown,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> => {
  logger.addContext(context);
  try {
    const parsed = HttpEventSchema.safeParse(event);
    if (!parsed.success) {
      logger.warn('Not an HTTP request event', { issues: parsed.error.issues.map((i) => i.path.join('.')) });
      return toHttpResult(failurePage('bad-request'));
    }
    let app: ReturnType<typeof createWebApp>;
    try {
      app = createWebApp(webRuntimeDeps(), {
        onError: (route, err) => logger.error('Web route failed', { route, ...errorForLog(err) }),
      });
    } catch (err) {
      // A configuration the function cannot run with: the browser still gets a page.
      logger.error('Web function cannot start', errorForLog(err));
      return toHttpResult(failurePage('internal'));
    }
    return toHttpResult(await app(toWebRequest(parsed.data)));
  } finally {
    // A request that recorded no metric (a page, a verification) writes none.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
};
