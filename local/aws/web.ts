import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaContext } from './context.ts';
import { sendJson, startHttpServer } from './http.ts';

export type HttpFunction = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

/**
 * API Gateway's HTTP API on loopback: each request becomes the payload-2.0 event AWS sends the
 * web function (the same shape a Function URL sends), and the function's result becomes the
 * response. A function that throws gets API Gateway's bare 500, as on AWS.
 */
export async function startLocalHttpApi(
  functionName: string,
  fn: HttpFunction,
  opts: { port?: number; timeoutMs?: number } = {},
) {
  const server = await startHttpServer(async (req, body, res) => {
    let result: unknown;
    try {
      result = await fn(httpEvent(req, body), lambdaContext(functionName, opts.timeoutMs ?? 30_000));
    } catch {
      return sendJson(res, 500, { message: 'Internal Server Error' });
    }
    const out: APIGatewayProxyStructuredResultV2 =
      typeof result === 'object' && result !== null && 'statusCode' in result
        ? (result as APIGatewayProxyStructuredResultV2)
        : { statusCode: 200, body: JSON.stringify(result), headers: { 'content-type': 'application/json' } };
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(out.headers ?? {})) headers[k] = String(v);
    if (out.cookies?.length) headers['set-cookie'] = out.cookies;
    const payload = out.body
      ? Buffer.from(out.body, out.isBase64Encoded ? 'base64' : 'utf8')
      : Buffer.alloc(0);
    res.writeHead(out.statusCode ?? 200, { ...headers, 'content-length': payload.length });
    res.end(payload);
  }, opts.port ?? 0);
  return { url: server.url, port: server.port, stop: server.stop };
}

/** The payload-2.0 event for a request, as API Gateway builds it (duplicate parameters comma-joined). */
export function httpEvent(req: IncomingMessage, body: string): APIGatewayProxyEventV2 {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const rawPath = q === -1 ? raw : raw.slice(0, q);
  const rawQueryString = q === -1 ? '' : raw.slice(q + 1);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQueryString)) query[k] = k in query ? `${query[k]},${v}` : v;
  const now = new Date();
  const domainName = (headers.host ?? '127.0.0.1').replace(/:\d+$/, '');
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    ...(rawQueryString ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body ? { body } : {}),
    isBase64Encoded: false,
  };
}
