import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
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

/** A stand-in running in its own process (service-process.ts): its endpoint, its meter, stop. */
export interface ServiceProcess {
  endpoint: string;
  reading(): Promise<MeterReading | undefined>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

export async function startServiceProcess(kind: 'dynamodb' | 'sqs', meter: boolean): Promise<ServiceProcess> {
  const child = fork(
    fileURLToPath(new URL('./service-process.ts', import.meta.url)),
    [kind, meter ? 'meter' : ''],
    {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { endpoint: string }).endpoint));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${kind} process exited with ${code}`)));
  });
  let next = 0;
  const ask = (type: 'reading' | 'reset') =>
    new Promise<MeterReading | undefined>((resolve) => {
      const id = ++next;
      const onMessage = (m: { id?: number; reading?: MeterReading }) => {
        if (m.id !== id) return;
        child.off('message', onMessage);
        resolve(m.reading);
      };
      child.on('message', onMessage);
      child.send({ id, type });
    });
  return {
    endpoint,
    reading: () => ask('reading'),
    reset: async () => void (await ask('reset')),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
}
