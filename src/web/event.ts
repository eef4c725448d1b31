import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { z } from 'zod';
import type { WebRequest, WebResponse } from './http.ts';

/**
 * The parts of an HTTP API / Function URL event (payload format 2.0) the web function reads. Both
 * AWS front doors send this shape, and so does the local stack.
 */
export const HttpEventSchema = z.object({
  version: z.literal('2.0'),
  rawPath: z.string(),
  rawQueryString: z.string().default(''),
  requestContext: z.object({
    domainName: z.string(),
    http: z.object({ method: z.string(), path: z.string().optional() }),
  }),
});
export type HttpEvent = z.infer<typeof HttpEventSchema>;

export function toWebRequest(event: HttpEvent): WebRequest {
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    rawQuery: event.rawQueryString,
    domainName: event.requestContext.domainName,
  };
}

export function toHttpResult(response: WebResponse): APIGatewayProxyStructuredResultV2 {
  return { statusCode: response.status, headers: response.headers, body: response.body };
}
