import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import * as z from '../zod.ts';
import type { WebRequest, WebResponse } from './http.ts';

/**
 * The parts of an HTTP API / Function URL event (payload format 2.0) the web function reads. Both
 * AWS front doors send this shape, and so does the local stack.
 */
export const HttpEventSchema = z.object({
  version: z.literal('2.0'),
  rawPath: z.string(),
  rawQueryString: z._default(z.string(), ''),
  headers: z._default(z.record(z.string(), z.string()), {}),
  body: z.optional(z.string()),
  /** Set when the front door passed a body it does not treat as text, base64-encoded. */
  isBase64Encoded: z._default(z.boolean(), false),
  requestContext: z.object({
    domainName: z.string(),
    http: z.object({ method: z.string(), path: z.optional(z.string()) }),
  }),
});
export type HttpEvent = z.infer<typeof HttpEventSchema>;

export function toWebRequest(event: HttpEvent): WebRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers)) {
    const key = name.toLowerCase();
    headers[key] = key in headers ? `${headers[key]},${value}` : value;
  }
  const body =
    event.body === undefined
      ? undefined
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body;
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    rawQuery: event.rawQueryString,
    domainName: event.requestContext.domainName,
    headers,
    ...(body === undefined ? {} : { body }),
  };
}

export function toHttpResult(response: WebResponse): APIGatewayProxyStructuredResultV2 {
  return { statusCode: response.status, headers: response.headers, body: response.body };
}
