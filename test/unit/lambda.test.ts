import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { lambdaContext } from '../../local/aws/context.ts';
import { handlerWith } from '../../src/lambda.ts';
import { logger, metrics } from '../../src/observability.ts';

afterEach(() => vi.restoreAllMocks());

/** Captures what the metrics flush writes (one EMF line per publish). */
function emfLines() {
  const lines: unknown[] = [];
  const publish = vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => {
    lines.push(metrics.serializeMetrics());
    metrics.clearMetrics();
    return metrics;
  });
  return { lines, publish };
}

describe('handlerWith (the wrapper every entry point uses)', () => {
  it('hands the body its deps and returns its result', async () => {
    const context = lambdaContext('fn', 1000);
    const handler = handlerWith(
      () => ({ greeting: 'hi' }),
      async (event: { name: string }, deps, ctx: Context) =>
        `${deps.greeting} ${event.name} ${ctx.functionName}`,
    );
    expect(await handler({ name: 'there' }, context)).toBe('hi there fn');
  });

  it('names its own function on each log line, while another function runs in the same process', async () => {
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = String(chunk);
      if (text.includes('"interleaved"')) {
        lines.push(text);
        return true;
      }
      return write(chunk, ...(rest as []));
    });
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    // The poller logs, waits while the consumer starts and logs, then logs again.
    const poller = handlerWith(
      () => undefined,
      async () => {
        logger.info('interleaved', { step: 1 });
        await gate;
        logger.info('interleaved', { step: 3 });
      },
    );
    const consumer = handlerWith(
      () => undefined,
      async () => {
        logger.info('interleaved', { step: 2 });
        release();
      },
    );
    await Promise.all([
      poller(undefined, lambdaContext('esl-sync-poller', 1000)),
      consumer(undefined, lambdaContext('esl-sync-push-consumer', 1000)),
    ]);
    const named = lines.map((l) => JSON.parse(l) as { step: number; function_name: string });
    expect(named.map((l) => [l.step, l.function_name]).sort()).toEqual([
      [1, 'esl-sync-poller'],
      [2, 'esl-sync-push-consumer'],
      [3, 'esl-sync-poller'],
    ]);
  });

  it('publishes the metrics the invocation recorded, also when it throws', async () => {
    const { lines } = emfLines();
    const ok = handlerWith(
      () => undefined,
      async () => {
        metrics.addMetric('ItemsChanged', 'Count', 3);
        return 'done';
      },
    );
    const failing = handlerWith(
      () => undefined,
      async () => {
        metrics.addMetric('ItemsChanged', 'Count', 1);
        throw new Error('boom');
      },
    );
    await ok(undefined, lambdaContext('fn', 1000));
    await expect(failing(undefined, lambdaContext('fn', 1000))).rejects.toThrow('boom');
    expect(lines).toHaveLength(2);
    expect(JSON.stringify(lines[0])).toContain('"ItemsChanged":3');
    expect(JSON.stringify(lines[1])).toContain('"ItemsChanged":1');
    expect(metrics.hasStoredMetrics()).toBe(false);
  });

  it('writes no metrics line (and no empty-metrics warning) for an invocation that recorded none', async () => {
    const { publish } = emfLines();
    const handler = handlerWith(
      () => undefined,
      async () => 'nothing to count',
    );
    await handler(undefined, lambdaContext('fn', 1000));
    expect(publish).not.toHaveBeenCalled();
  });

  it('builds the deps on each call through the given factory (the factory caches them)', async () => {
    const factory = vi.fn(() => ({ n: 1 }));
    const handler = handlerWith(factory, async (_: unknown, deps) => deps.n);
    await handler(undefined, lambdaContext('fn', 1000));
    await handler(undefined, lambdaContext('fn', 1000));
    expect(factory).toHaveBeenCalledTimes(2);
  });
});

describe('the web entry point', () => {
  const httpEvent = {
    version: '2.0',
    rawPath: '/',
    requestContext: { domainName: 'connect.example.test', http: { method: 'GET' } },
  };

  it('answers a page, never a thrown error: 400 for an event that is not an HTTP request, 500 for a configuration it cannot run, counted', async () => {
    const { handler } = await import('../../functions/web/handler.ts');
    const { resetWebRuntimeDeps } = await import('../../src/web/deps.ts');
    const logged = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    resetWebRuntimeDeps();
    const { lines } = emfLines();
    const notHttp = await handler({ Records: [] }, lambdaContext('web', 1000));
    expect(notHttp.statusCode).toBe(400);
    expect(notHttp.body).toContain('<html');
    // A bad request is the caller's: nothing is counted for the WebPagesFailing alarm.
    expect(lines).toEqual([]);
    // This process sets none of the web function's variables: its app cannot be built.
    const unconfigured = await handler(httpEvent, lambdaContext('web', 1000));
    expect(unconfigured.statusCode).toBe(500);
    expect(unconfigured.body).toContain('<html');
    expect(logged).toHaveBeenCalledWith('Web function cannot start', expect.anything());
    expect(JSON.stringify(lines)).toContain('"WebPagesFailed":1');
  });
});
