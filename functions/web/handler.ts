import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorForLog } from '../../src/errors.ts';
import { handlerWith } from '../../src/lambda.ts';
import { METRIC } from '../../src/metric-names.ts';
import { logger, metrics } from '../../src/observability.ts';
import { createWebApp } from '../../src/web/app.ts';
import { webRuntimeDeps } from '../../src/web/deps.ts';
import { HttpEventSchema, toHttpResult, toWebRequest } from '../../src/web/event.ts';
import { failurePage } from '../../src/web/pages.ts';

/** The web app, or undefined when the function's configuration cannot run it (logged). */
function webApp() {
  try {
    return createWebApp(webRuntimeDeps(), {
      onError: (route, err) => {
        metrics.addMetric(METRIC.webPagesFailed, 'Count', 1);
        logger.error('Web route failed', { route, ...errorForLog(err) });
      },
    });
  } catch (err) {
    logger.error('Web function cannot start', errorForLog(err));
    return undefined;
  }
}

/**
 * HTTP API (payload 2.0) → the connect flow's routes and Clover's webhooks. Logs ids and outcomes,
 * never the query string, a header or a body. Whatever fails, the browser gets a page.
 */
export const handler = handlerWith(
  webApp,
  async (event: unknown, app): Promise<APIGatewayProxyStructuredResultV2> => {
    const parsed = HttpEventSchema.safeParse(event);
    if (!parsed.success) {
      logger.warn('Not an HTTP request event', { issues: parsed.error.issues.map((i) => i.path.join('.')) });
      return toHttpResult(failurePage('bad-request'));
    }
    if (!app) {
      metrics.addMetric(METRIC.webPagesFailed, 'Count', 1);
      return toHttpResult(failurePage('internal'));
    }
    return toHttpResult(await app(toWebRequest(parsed.data)));
  },
);
