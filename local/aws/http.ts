import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type RequestHandler = (
  req: IncomingMessage,
  body: string,
  res: ServerResponse,
  /** The body's bytes as received. */
  raw: Buffer,
) => Promise<void> | void;

/** A body larger than `maxBodyBytes` is not kept: the request is answered by `tooLarge` instead. */
export interface BodyLimit {
  maxBodyBytes: number;
  tooLarge: (res: ServerResponse) => void;
}

export interface LocalServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A loopback HTTP server whose stop() also drops keep-alive sockets, so the port is free at once. */
export async function startHttpServer(
  handler: RequestHandler,
  port = 0,
  host = '127.0.0.1',
  limit?: BodyLimit,
): Promise<LocalServer> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      // Past the limit the rest is read and dropped, so the client still gets the answer.
      if (!limit || size <= limit.maxBodyBytes) chunks.push(c);
    });
    req.on('end', () => {
      if (limit && size > limit.maxBodyBytes) return limit.tooLarge(res);
      const raw = Buffer.concat(chunks);
      Promise.resolve(handler(req, raw.toString('utf8'), res, raw)).catch((err: unknown) => {
        if (!res.headersSent)
          sendJson(res, 500, { message: err instanceof Error ? err.message : String(err) });
        else res.end();
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
