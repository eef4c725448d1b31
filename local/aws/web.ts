import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaContext } from './context.ts';
import { sendJson, startHttpServer } from './http.ts';

export type HttpFunction = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

/** API Gateway's HTTP API refuses a larger body itself (its payload quota, 10 MB). */
export const HTTP_API_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Lambda's limit on a synchronous invocation's event: a larger event never reaches the function. */
export const LAMBDA_MAX_EVENT_BYTES = 6 * 1024 * 1024;

/**
 * API Gateway's HTTP API on loopback: each request becomes the payload-2.0 event AWS sends the
 * web function (the same shape a Function URL sends), and the function's result becomes the
 * response. A function that throws gets API Gateway's bare 500, as on AWS. A body over the HTTP
 * API's quota, or an event over Lambda's, is refused with 413 before the function runs, as
 * docs/clover.md says AWS does.
 */
export async function startLocalHttpApi(
  functionName: string,
  fn: HttpFunction,
  opts: { port?: number; timeoutMs?: number } = {},
) {
  const tooLarge = (res: ServerResponse, message: string) => sendJson(res, 413, { message });
  const limit = {
    maxBodyBytes: HTTP_API_MAX_BODY_BYTES,
    tooLarge: (res: ServerResponse) =>
      tooLarge(res, `HTTP content length exceeded ${HTTP_API_MAX_BODY_BYTES} bytes.`),
  };
  const server = await startHttpServer(
    async (req, _body, res, raw) => {
      const event = httpEvent(req, raw);
      if (Buffer.byteLength(JSON.stringify(event)) > LAMBDA_MAX_EVENT_BYTES) {
        return tooLarge(res, 'Request Too Long');
      }
      let result: unknown;
      try {
        result = await fn(event, lambdaContext(functionName, opts.timeoutMs ?? 30_000));
      } catch {
        return sendJson(res, 500, { message: 'Internal Server Error' });
      }
      const out: APIGatewayProxyStructuredResultV2 =
        typeof result === 'object' && result !== null && 'statusCode' in result
          ? (result as APIGatewayProxyStructuredResultV2)
          : {
              statusCode: 200,
              body: JSON.stringify(result),
              headers: { 'content-type': 'application/json' },
            };
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(out.headers ?? {})) headers[k] = String(v);
      if (out.cookies?.length) headers['set-cookie'] = out.cookies;
      const payload = out.body
        ? Buffer.from(out.body, out.isBase64Encoded ? 'base64' : 'utf8')
        : Buffer.alloc(0);
      res.writeHead(out.statusCode ?? 200, { ...headers, 'content-length': payload.length });
      res.end(payload);
    },
    opts.port ?? 0,
    '127.0.0.1',
    limit,
  );
  return { url: server.url, port: server.port, stop: server.stop };
}

/**
 * Whether API Gateway passes a body of this content type to the function as text. Our assumption
 * (docs/clover.md): JSON, XML, JavaScript, forms and `text/*` as text, anything else (or no type)
 * base64-encoded. Either way the function decodes by `isBase64Encoded`, so it works with both.
 */
export function isTextContentType(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return (
    type.startsWith('text/') ||
    /^application\/([\w.+-]+\+)?(json|xml|javascript|x-www-form-urlencoded)$/.test(type)
  );
}

/** The payload-2.0 event for a request, as API Gateway builds it (duplicate parameters comma-joined). */
export function httpEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
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
  const text = isTextContentType(headers['content-type']);
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
    ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}
