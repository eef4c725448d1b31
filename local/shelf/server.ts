/**
 * The local shelf page's server (loopback, its own port; part of `npm start`, never deployed):
 * `GET /` is the page, `GET /live` the shelf part its script fetches again and again. It only
 * reads: the stack's DynamoDB through the same stores the handlers use, and the Hipoink simulator.
 */
import type { ServerResponse } from 'node:http';
import { type LocalServer, startHttpServer } from '../aws/http.ts';
import { LIVE_PATH, renderShelf, renderShelfPage, shelfHeaders } from './page.ts';
import { readShelfView, type ShelfSources, type ShelfView } from './view.ts';

export async function startShelfServer(
  sources: ShelfSources,
  opts: { port?: number } = {},
): Promise<LocalServer> {
  // Several open pages refresh at once: they share one read of the state.
  let reading: Promise<ShelfView> | undefined;
  const read = () => {
    reading ??= readShelfView(sources).finally(() => {
      reading = undefined;
    });
    return reading;
  };
  const send = (res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...shelfHeaders(), 'content-length': Buffer.byteLength(body), ...extra });
    res.end(body);
  };
  return startHttpServer(async (req, _body, res) => {
    const path = new URL(req.url ?? '/', 'http://shelf').pathname;
    if (path !== '/' && path !== LIVE_PATH) return send(res, 404, 'Not found', plain());
    if (req.method !== 'GET') return send(res, 405, 'Method not allowed', { ...plain(), allow: 'GET' });
    let view: ShelfView;
    try {
      view = await read();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return send(res, 503, `The stack's state could not be read: ${reason}`, plain());
    }
    send(res, 200, path === '/' ? renderShelfPage(view) : renderShelf(view));
  }, opts.port ?? 0);
}

const plain = () => ({ 'content-type': 'text/plain; charset=utf-8' });
