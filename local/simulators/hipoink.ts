/**
 * Hipoink ESL server simulator, faithful to the API as docs/hipoink.md describes it: POST JSON under
 * /api/{client_id}/, every body with store_code, is_base64 "0" and sign; errors answered with
 * HTTP 200 and error_code ≠ 0. Control methods inspect the labels and inject faults; over HTTP
 * under /_sim/: GET stores/CODE/products, GET calls, POST reset, and the faults (JSON bodies)
 * POST fail-next {count, status}, POST fail-every {n, status} (n 0: off), POST error-next
 * {count, code, msg}, POST only-stores {storeCodes} (none: every store code), POST|DELETE
 * products/CODE/reject {reason}.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson, startHttpServer } from '../aws/http.ts';

export interface HipoinkProduct {
  pc: string;
  pn: string;
  pp: string;
  [field: string]: unknown;
}

export interface HipoinkCall {
  path: string;
  storeCode?: string;
  count: number;
  errorCode: number;
  httpStatus: number;
  at: number;
}

export type HipoinkSimulator = Awaited<ReturnType<typeof startHipoinkSimulator>>;

const PRICE = /^\d+(\.\d{1,2})?$/;

export async function startHipoinkSimulator(
  opts: { port?: number; host?: string; sign?: string; clientId?: string; latencyMs?: number } = {},
) {
  const sign = opts.sign ?? '80805d794841f1b4';
  const clientId = opts.clientId ?? 'default';
  const stores = new Map<string, Map<string, HipoinkProduct>>();
  const orders: unknown[] = [];
  const calls: HipoinkCall[] = [];
  const rejected = new Map<string, string>();
  // Physical labels bound to product codes, per store: binding is done by staff in Hipoink, and
  // deleting a product unbinds any label bound to it (reference); creating one never binds.
  const bindings = new Map<string, Map<string, string>>();
  let failEvery: { n: number; status: number } | undefined;
  let failNext: { count: number; status: number } | undefined;
  let errorNext: { count: number; code: number; msg: string } | undefined;
  let apiCalls = 0;
  // Stores whose requests wait until released (a slow or stuck Hipoink for one store), and how
  // many requests wait there now.
  const holds = new Map<string, { release: () => void; gate: Promise<void>; waiting: number }>();
  // The stores set up in Hipoink, when a test names them: a request for any other store code is
  // refused. Unnamed, every store code is taken (the local demo connects stores at will).
  let knownStores: ReadonlySet<string> | undefined;

  const store = (code: string) => {
    let s = stores.get(code);
    if (!s) {
      s = new Map();
      stores.set(code, s);
    }
    return s;
  };

  const validProduct = (p: unknown): string | undefined => {
    if (!p || typeof p !== 'object') return 'product must be an object';
    const r = p as Record<string, unknown>;
    if (typeof r.pc !== 'string' || !r.pc) return 'pc is required';
    if (typeof r.pn !== 'string' || !r.pn) return `pn is required (pc ${r.pc})`;
    if (typeof r.pp !== 'string' || !PRICE.test(r.pp)) return `pp must be a decimal string (pc ${r.pc})`;
    if (r.promotion !== undefined && !Number.isInteger(r.promotion))
      return `promotion must be an integer (pc ${r.pc})`;
    const reason = rejected.get(r.pc);
    if (reason) return `${reason} (pc ${r.pc})`;
    return undefined;
  };

  const handle = async (req: IncomingMessage, body: string, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    if (opts.latencyMs) await new Promise((r) => setTimeout(r, opts.latencyMs));
    if (path.startsWith('/_sim/')) return simControl(req, path, body, res);
    const match = /^\/api\/([^/]+)\/(.+)$/.exec(path);
    if (req.method !== 'POST' || !match)
      return sendJson(res, 404, { error_code: 404, error_msg: 'not found' });
    const [, cid, op = ''] = match;

    let json: Record<string, unknown>;
    try {
      json = JSON.parse(body);
    } catch {
      return sendJson(res, 400, { error_code: 400, error_msg: 'body is not JSON' });
    }
    const storeCode = typeof json.store_code === 'string' ? json.store_code : undefined;
    const hold = storeCode === undefined ? undefined : holds.get(storeCode);
    if (hold) {
      hold.waiting++;
      await hold.gate;
      hold.waiting--;
    }
    const f1 = json.f1;
    const count = Array.isArray(f1) ? f1.length : 1;
    const answer = (
      httpStatus: number,
      errorCode: number,
      msg: string,
      extra: Record<string, unknown> = {},
    ) => {
      calls.push({
        path: op,
        ...(storeCode ? { storeCode } : {}),
        count,
        errorCode,
        httpStatus,
        at: Date.now(),
      });
      sendJson(res, httpStatus, { error_code: errorCode, error_msg: msg, ...extra });
    };

    apiCalls++;
    if (failNext && failNext.count > 0) {
      failNext.count--;
      return answer(failNext.status, failNext.status, 'injected failure');
    }
    if (failEvery && apiCalls % failEvery.n === 0)
      return answer(failEvery.status, failEvery.status, 'injected failure');
    if (errorNext && errorNext.count > 0) {
      errorNext.count--;
      return answer(200, errorNext.code, errorNext.msg);
    }
    if (cid !== clientId) return answer(200, 10001, 'unknown client_id');
    // Never echo the sign: it is a credential.
    if (json.sign !== sign) return answer(200, 10002, 'sign check failed');
    if (!storeCode) return answer(200, 10003, 'store_code is required');
    if (knownStores && !knownStores.has(storeCode)) return answer(200, 10005, 'unknown store_code');
    if (json.is_base64 !== '0') return answer(200, 10004, 'is_base64 must be "0"');

    switch (op) {
      case 'product/create': {
        const { store_code: _s, is_base64: _b, sign: _g, ...product } = json;
        const problem = validProduct(product);
        if (problem) return answer(200, 20001, problem);
        store(storeCode).set(product.pc as string, product as HipoinkProduct);
        return answer(200, 0, 'success');
      }
      case 'product/create_multiple': {
        if (!Array.isArray(f1)) return answer(200, 20002, 'f1 must be an array of products');
        // Whether Hipoink applies the valid part of a refused batch is unknown: apply nothing.
        for (const p of f1) {
          const problem = validProduct(p);
          if (problem) return answer(200, 20001, problem);
        }
        for (const p of f1 as HipoinkProduct[]) store(storeCode).set(p.pc, { ...p });
        return answer(200, 0, 'success');
      }
      case 'product/del_multiple': {
        if (!Array.isArray(f1) || f1.some((c) => typeof c !== 'string')) {
          return answer(200, 20003, 'f1 must be an array of product codes');
        }
        let deleted = 0;
        for (const c of f1 as string[]) if (store(storeCode).delete(c)) deleted++;
        const bound = bindings.get(storeCode);
        for (const [label, pc] of bound ?? []) if ((f1 as string[]).includes(pc)) bound?.delete(label);
        return answer(200, 0, 'success', { count: deleted });
      }
      case 'productadjust/create_order': {
        if (typeof json.f1 !== 'string' || !Array.isArray(json.f7))
          return answer(200, 20004, 'invalid order');
        orders.push(json);
        return answer(200, 0, 'success');
      }
      default:
        return answer(200, 404, `unknown operation ${op}`);
    }
  };

  const simControl = (req: IncomingMessage, path: string, body: string, res: ServerResponse) => {
    const parts = path.split('/').filter(Boolean).slice(1);
    const route = `${req.method} ${parts.join('/')}`;
    let json: Record<string, unknown>;
    try {
      json = body ? JSON.parse(body) : {};
    } catch {
      return sendJson(res, 400, { message: 'body is not JSON' });
    }
    const num = (v: unknown, fallback: number) => (typeof v === 'number' ? v : fallback);
    if (req.method === 'GET' && parts[0] === 'stores' && parts[1] && parts[2] === 'products') {
      return sendJson(res, 200, [...store(decodeURIComponent(parts[1])).values()]);
    }
    // Faults, so an operator can drill an outage on `npm start` as the tests do in process.
    if (route === 'POST fail-next') {
      control.failNext(num(json.count, 1), num(json.status, 503));
      return sendJson(res, 200, { ok: true });
    }
    if (route === 'POST fail-every') {
      control.failEvery(num(json.n, 0), num(json.status, 503));
      return sendJson(res, 200, { ok: true });
    }
    if (route === 'POST error-next') {
      control.errorCodeNext(num(json.count, 1), num(json.code, 10002), String(json.msg ?? 'injected error'));
      return sendJson(res, 200, { ok: true });
    }
    if (route === 'POST only-stores') {
      const codes = json.storeCodes;
      control.onlyStores(Array.isArray(codes) ? codes.map(String) : undefined);
      return sendJson(res, 200, { ok: true });
    }
    if (parts[0] === 'products' && parts[1] && parts[2] === 'reject' && parts.length === 3) {
      const pc = decodeURIComponent(parts[1]);
      if (req.method === 'POST') control.rejectProduct(pc, String(json.reason ?? 'refused by the simulator'));
      else if (req.method === 'DELETE') control.acceptProduct(pc);
      else return sendJson(res, 405, { message: 'POST or DELETE' });
      return sendJson(res, 200, { ok: true });
    }
    if (req.method === 'GET' && parts[0] === 'calls') return sendJson(res, 200, calls);
    if (req.method === 'POST' && parts[0] === 'reset') {
      stores.clear();
      bindings.clear();
      calls.length = 0;
      return sendJson(res, 200, { ok: true });
    }
    return sendJson(res, 404, { message: 'unknown simulator control route' });
  };

  const control = {
    /** Only these store codes exist in Hipoink from now on (undefined: any store code does). */
    onlyStores(codes: readonly string[] | undefined) {
      knownStores = codes && new Set(codes);
    },
    products(storeCode: string): Map<string, HipoinkProduct> {
      return new Map(store(storeCode));
    },
    allStores(): string[] {
      return [...stores.keys()];
    },
    /** Gives store `to` the products store `from` holds (a benchmark sets up many alike stores). */
    copyStore(from: string, to: string) {
      stores.set(to, new Map([...store(from)].map(([pc, p]) => [pc, { ...p }])));
    },
    get calls() {
      return calls;
    },
    get orders() {
      return orders;
    },
    resetCalls() {
      calls.length = 0;
    },
    failEvery(n: number, status = 503) {
      failEvery = n > 0 ? { n, status } : undefined;
    },
    failNext(count: number, status = 503) {
      failNext = { count, status };
    },
    rejectProduct(pc: string, reason: string) {
      rejected.set(pc, reason);
    },
    acceptProduct(pc: string) {
      rejected.delete(pc);
    },
    /** What staff do in Hipoink: bind a shelf label to a product code. */
    bindLabel(storeCode: string, labelId: string, pc: string) {
      const bound = bindings.get(storeCode) ?? new Map<string, string>();
      bound.set(labelId, pc);
      bindings.set(storeCode, bound);
    },
    /** Label id → product code, for the labels still bound. */
    boundLabels(storeCode: string): Map<string, string> {
      return new Map(bindings.get(storeCode));
    },
    errorCodeNext(count: number, code: number, msg: string) {
      errorNext = { count, code, msg };
    },
    /** Requests for this store wait, unanswered, until `release()` is called. */
    holdStore(storeCode: string): { release: () => void } {
      let release = () => {};
      const gate = new Promise<void>((resolve) => {
        release = () => {
          holds.delete(storeCode);
          resolve();
        };
      });
      holds.set(storeCode, { release, gate, waiting: 0 });
      return { release };
    },
    /** How many requests for this store are waiting on a hold now. */
    heldRequests(storeCode: string): number {
      return holds.get(storeCode)?.waiting ?? 0;
    },
  };
  const server = await startHttpServer(handle, opts.port ?? 0, opts.host ?? '127.0.0.1');
  const stop = async () => {
    for (const hold of [...holds.values()]) hold.release();
    await server.stop();
  };
  return Object.assign(control, { url: server.url, stop });
}
