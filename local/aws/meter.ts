import { Agent, request } from 'node:http';
import { startHttpServer } from './http.ts';

/** DynamoDB operations that can report the capacity they consumed. */
const CAPACITY_OPERATIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchGetItem',
  'BatchWriteItem',
  'Query',
  'Scan',
]);

export interface MeterReading {
  /** Calls per operation (the `X-Amz-Target` action, e.g. UpdateItem, SendMessageBatch). */
  calls: Record<string, number>;
  /** Capacity units the service reported, per operation (DynamoDB only). */
  capacityUnits: Record<string, number>;
}

export interface Meter {
  reading(): MeterReading;
  reset(): void;
}

/**
 * A counting proxy in front of a local AWS stand-in (dynalite, fauxqs): every JSON-protocol call
 * is counted by its action; for DynamoDB it also asks for, and adds up, the consumed capacity.
 * What the clients receive is the service's answer, with `ConsumedCapacity` in it where asked.
 */
export async function startMeteredProxy(target: string, opts: { capacity?: boolean } = {}) {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let calls: Record<string, number> = {};
  let capacityUnits: Record<string, number> = {};
  const server = await startHttpServer(async (req, body, res) => {
    const action =
      String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop() || 'other';
    calls[action] = (calls[action] ?? 0) + 1;
    const measure = opts.capacity === true && CAPACITY_OPERATIONS.has(action);
    // Added as text, not parsed and rebuilt: the proxy must cost the benchmark little.
    const end = body.lastIndexOf('}');
    const sent =
      measure && end > 0
        ? `${body.slice(0, end)}${/\{\s*$/.test(body.slice(0, end)) ? '' : ','}"ReturnConsumedCapacity":"TOTAL"}`
        : body;
    const headers = {
      ...req.headers,
      host: upstream.host,
      'content-length': String(Buffer.byteLength(sent)),
    };
    await new Promise<void>((resolve) => {
      const out = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers,
          agent,
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (c: Buffer) => chunks.push(c));
          answer.on('end', () => {
            const text = Buffer.concat(chunks);
            if (measure) addCapacity(action, text);
            res.writeHead(answer.statusCode ?? 500, answer.headers);
            res.end(text);
            resolve();
          });
          answer.on('error', () => {
            res.destroy();
            resolve();
          });
        },
      );
      out.on('error', (err) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: `metering proxy: ${err.message}` }));
        resolve();
      });
      out.end(sent);
    });
  });

  /** Adds up the `CapacityUnits` of the answer's `ConsumedCapacity` (one entry, or one per table). */
  function addCapacity(action: string, text: Buffer) {
    const raw = text.toString('utf8');
    const at = raw.indexOf('"ConsumedCapacity":');
    if (at < 0) return;
    const consumed = /^"ConsumedCapacity":(\{[^{}]*\}|\[[^\]]*\])/.exec(raw.slice(at))?.[1] ?? '';
    let units = 0;
    for (const m of consumed.matchAll(/"CapacityUnits":([\d.]+)/g)) units += Number(m[1]);
    capacityUnits[action] = (capacityUnits[action] ?? 0) + units;
  }

  const meter: Meter = {
    reading: () => ({ calls: { ...calls }, capacityUnits: { ...capacityUnits } }),
    reset() {
      calls = {};
      capacityUnits = {};
    },
  };
  return {
    endpoint: server.url,
    meter,
    async stop() {
      await server.stop();
      agent.destroy();
    },
  };
}
