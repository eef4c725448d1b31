import type { WebRequest, WebResponse } from './http.ts';
import { failurePage } from './pages.ts';

/** One route: a method and an exact path, answered by a request → response function. */
export interface Route {
  method: 'GET' | 'POST';
  path: string;
  /** A short name for logs and metrics, e.g. `callback`. */
  name: string;
  handle(request: WebRequest): Promise<WebResponse>;
}

export interface RouterHooks {
  /** A route threw: the browser gets the 500 page, this gets the error. */
  onError?: (route: string, err: unknown) => void;
}

/**
 * Dispatches on method and path: an unknown path is a 404 page, a known path with another method a
 * 405 naming the allowed ones. Adding a route is adding one entry to the list.
 */
export function createRouter(routes: readonly Route[], hooks: RouterHooks = {}) {
  return async (request: WebRequest): Promise<WebResponse> => {
    const onPath = routes.filter((r) => r.path === request.path);
    const route = onPath.find((r) => r.method === request.method.toUpperCase());
    let response: WebResponse;
    if (!route) {
      response = onPath.length === 0 ? failurePage('not-found') : failurePage('method-not-allowed');
      if (onPath.length > 0) response.headers.allow = onPath.map((r) => r.method).join(', ');
    } else {
      try {
        response = await route.handle(request);
      } catch (err) {
        hooks.onError?.(route.name, err);
        response = failurePage('internal');
      }
    }
    return response;
  };
}
