import type { Context } from 'aws-lambda';
import { lambdaContext } from './context.ts';
import { sendJson, startHttpServer } from './http.ts';

export type LocalFunction = (event: never, context: Context) => Promise<unknown>;

/**
 * Lambda's Invoke API on loopback, so the CLI uses the real LambdaClient locally too.
 * RequestResponse returns the result (a thrown error as X-Amz-Function-Error: Unhandled); Event
 * answers 202 and runs in the background.
 */
export async function startLocalLambda(
  functions: Record<string, LocalFunction>,
  opts: { timeoutMs?: number } = {},
) {
  const running = new Set<Promise<unknown>>();
  const server = await startHttpServer(async (req, body, res) => {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? '');
    const name = match?.[1] ? decodeURIComponent(match[1]) : undefined;
    const fn = name ? functions[name] : undefined;
    if (!name || !fn) {
      return sendJson(
        res,
        404,
        { Type: 'User', message: `Function not found: ${name}` },
        {
          'x-amzn-errortype': 'ResourceNotFoundException',
        },
      );
    }
    let event: unknown;
    try {
      event = body ? JSON.parse(body) : {};
    } catch {
      return sendJson(
        res,
        400,
        { message: 'payload is not JSON' },
        { 'x-amzn-errortype': 'InvalidRequestContentException' },
      );
    }
    const invoke = () => fn(event as never, lambdaContext(name, opts.timeoutMs ?? 60_000));
    if (req.headers['x-amz-invocation-type'] === 'Event') {
      const p = invoke()
        .catch(() => undefined)
        .finally(() => running.delete(p));
      running.add(p);
      res.writeHead(202).end();
      return;
    }
    try {
      const result = await invoke();
      sendJson(res, 200, result ?? null, { 'x-amz-executed-version': '$LATEST' });
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      sendJson(
        res,
        200,
        { errorType: error.name, errorMessage: error.message },
        {
          'x-amz-function-error': 'Unhandled',
        },
      );
    }
  });
  return {
    endpoint: server.url,
    stop: async () => {
      await Promise.allSettled([...running]);
      await server.stop();
    },
  };
}
