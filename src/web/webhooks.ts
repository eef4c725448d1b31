import { receiveWebhook, type WebhookDeps, type WebhookOutcome } from '../webhooks/receive.ts';
import type { WebResponse } from './http.ts';
import { responseHeaders } from './pages.ts';
import type { Route } from './router.ts';

/** Clover's webhook address: the app's settings in Clover name it. */
export const WEBHOOK_PATH = '/clover/webhooks';

/** The status and the short JSON answer for each outcome (Clover reads only the status). */
export function webhookResponse(outcome: WebhookOutcome): WebResponse {
  const [status, message] = ((): [number, string] => {
    switch (outcome.kind) {
      case 'verification':
      case 'received':
        return [200, 'received'];
      case 'too-large':
        return [413, 'the body is larger than 1 MB'];
      case 'too-many-merchants':
        return [413, 'too many merchants in one request'];
      case 'malformed':
        return [400, outcome.problem === 'not JSON' ? 'the body is not JSON' : 'the body is not a notice'];
      case 'unauthorized':
        return [401, 'X-Clover-Auth is missing or wrong'];
      case 'unavailable':
        return [503, 'try again later'];
    }
  })();
  return {
    status,
    headers: responseHeaders('application/json; charset=utf-8'),
    body: JSON.stringify(status === 200 ? { ok: true } : { error: message }),
  };
}

/**
 * `POST /clover/webhooks`: Clover's notices. `onOutcome` hears how each request ended (for logs and
 * metrics: counts and merchant ids, never a body, header or code). A failure to read or write
 * is a 503, which Clover may retry; the poll that follows catches whatever it missed.
 */
export function webhookRoute(
  deps: WebhookDeps,
  onOutcome: (outcome: WebhookOutcome) => void = () => undefined,
  onError: (err: unknown) => void = () => undefined,
): Route {
  return {
    method: 'POST',
    path: WEBHOOK_PATH,
    name: 'webhooks',
    async handle(request) {
      let outcome: WebhookOutcome;
      try {
        outcome = await receiveWebhook(deps, {
          body: request.body,
          authHeader: request.headers?.['x-clover-auth'],
        });
      } catch (err) {
        onError(err);
        return webhookResponse({ kind: 'unavailable', reason: 'the request could not be recorded' });
      }
      onOutcome(outcome);
      return webhookResponse(outcome);
    },
  };
}
