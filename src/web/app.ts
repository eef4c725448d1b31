import { CLOVER_ID } from '../clover/schemas.ts';
import {
  beginConnect,
  type ConnectDeps,
  type ConnectOutcome,
  completeConnect,
  consentDenied,
} from '../connect/authorize.ts';
import type { WebhookDeps, WebhookOutcome } from '../webhooks/receive.ts';
import { readQuery, type WebRequest, type WebResponse } from './http.ts';
import { connectedPage, failurePage, redirect } from './pages.ts';
import { createRouter, type Route, type RouterHooks } from './router.ts';
import { WEBHOOK_PATH, webhookRoute } from './webhooks.ts';

/** The routes' paths, fixed: Clover's app settings, the docs and the tests all name them. */
export const WEB_PATHS = {
  connect: '/connect',
  launch: '/clover/launch',
  callback: '/clover/callback',
  webhooks: WEBHOOK_PATH,
} as const;

/** The form of each query parameter a route reads. */
const PARAM = {
  // An invite id (the group), perhaps with the punctuation of the sentence it was pasted from after
  // it: an id has none of those marks, so they are the sentence's, not the link's.
  invite: /^([A-Za-z0-9_-]{1,64})[.,;:!?)'"]{0,3}$/,
  merchantId: CLOVER_ID,
  clientId: /^[A-Za-z0-9]{1,64}$/,
  code: /^[A-Za-z0-9._~+/=-]{1,512}$/,
  state: /^[A-Za-z0-9._-]{1,512}$/,
  error: /^[A-Za-z0-9_.-]{1,64}$/,
};

export interface WebAppDeps extends ConnectDeps {
  /**
   * The web function's public base URL, when it is fixed (a custom domain, the local stack);
   * otherwise the domain each request arrived at, over HTTPS.
   */
  webBaseUrl?: string;
  /** One line per outcome, for the logs (ids and outcome names only). */
  onOutcome?: (route: string, outcome: ConnectOutcome['kind'], fields: Record<string, unknown>) => void;
  /** Clover's webhook notices; without them the route answers 404 like any unknown path. */
  webhooks?: WebhookDeps;
  /** How each webhook request ended (counts and merchant ids only). */
  onWebhook?: (outcome: WebhookOutcome) => void;
}

export function callbackUrl(deps: Pick<WebAppDeps, 'webBaseUrl'>, request: WebRequest): string {
  const base = deps.webBaseUrl ?? `https://${request.domainName}`;
  return `${base}${WEB_PATHS.callback}`;
}

/** The page (or redirect) for an outcome. */
export function respond(outcome: ConnectOutcome): WebResponse {
  switch (outcome.kind) {
    case 'redirect':
      return redirect(outcome.location);
    case 'connected':
      return connectedPage(outcome);
    default:
      return failurePage(outcome.kind);
  }
}

/** The web function: the connect flow's three routes and Clover's webhooks behind one router. */
export function createWebApp(deps: WebAppDeps, hooks: RouterHooks = {}) {
  const finish = (route: string, outcome: ConnectOutcome, fields: Record<string, unknown> = {}) => {
    deps.onOutcome?.(route, outcome.kind, {
      ...fields,
      ...(outcome.kind === 'connected'
        ? { merchantId: outcome.merchantId, storeCode: outcome.storeCode, state: outcome.state }
        : {}),
      ...(outcome.kind === 'not-configured' ? { reason: outcome.reason } : {}),
    });
    return respond(outcome);
  };
  const badQuery = (problem: 'too-long' | 'malformed') =>
    failurePage(problem === 'too-long' ? 'too-long' : 'bad-request');

  /** A merchant opening the app from Clover: the connect flow with a state bound to no invite. */
  const launch = async (request: WebRequest, atSiteUrl: boolean) => {
    // Clover names the merchant that launched the app; who it really is, only the code shows.
    const query = readQuery(request.rawQuery, { merchant_id: PARAM.merchantId });
    if (!query.ok) return badQuery(query.problem);
    // The bare Site URL (a visitor, a crawler) starts nothing.
    if (atSiteUrl && query.values.merchant_id === undefined) return failurePage('not-found');
    const outcome = await beginConnect(deps, { redirectUri: callbackUrl(deps, request) });
    return finish('launch', outcome, { merchantId: query.values.merchant_id });
  };

  const routes: Route[] = [
    {
      method: 'GET',
      path: WEB_PATHS.connect,
      name: 'connect',
      async handle(request) {
        const query = readQuery(request.rawQuery, { invite: PARAM.invite });
        if (!query.ok) return badQuery(query.problem);
        // The id alone, as the pattern readQuery checked it with captures it.
        const inviteId = PARAM.invite.exec(query.values.invite ?? '')?.[1];
        if (inviteId === undefined) return failurePage('bad-request');
        const outcome = await beginConnect(deps, {
          inviteId,
          redirectUri: callbackUrl(deps, request),
        });
        return finish('connect', outcome);
      },
    },
    { method: 'GET', path: WEB_PATHS.launch, name: 'launch', handle: (request) => launch(request, false) },
    // Without an Alternate Launch Path set, Clover sends a merchant who opens the app to the Site
    // URL itself: that is a launch too, so a missing setting does not strand the store's owner.
    { method: 'GET', path: '/', name: 'launch', handle: (request) => launch(request, true) },
    {
      method: 'GET',
      path: WEB_PATHS.callback,
      name: 'callback',
      async handle(request) {
        const query = readQuery(request.rawQuery, {
          merchant_id: PARAM.merchantId,
          client_id: PARAM.clientId,
          code: PARAM.code,
          state: PARAM.state,
          error: PARAM.error,
        });
        if (!query.ok) return badQuery(query.problem);
        const { merchant_id, client_id, code, state, error } = query.values;
        // A merchant who refuses is sent back with an error and no code.
        if (error !== undefined && code === undefined) {
          return finish('callback', consentDenied(), { merchantId: merchant_id, error });
        }
        if (!merchant_id || !client_id || !code || !state) return failurePage('bad-request');
        const outcome = await completeConnect(deps, {
          merchantId: merchant_id,
          clientId: client_id,
          code,
          state,
        });
        return finish('callback', outcome, { merchantId: merchant_id });
      },
    },
  ];
  if (deps.webhooks) {
    routes.push(webhookRoute(deps.webhooks, deps.onWebhook, (err) => hooks.onError?.('webhooks', err)));
  }
  return createRouter(routes, hooks);
}
