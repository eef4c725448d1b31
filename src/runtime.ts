import { loadConfig } from './config.ts';
import { buildDeps, type Deps } from './deps.ts';
import { type HandlerBody, handlerWith } from './lambda.ts';

let cached: Deps | undefined;

/** Dependencies built once per cold start (config parsed, clients created), reused by later invocations. */
export function runtimeDeps(): Deps {
  cached ??= buildDeps(loadConfig());
  return cached;
}

/** For the local stack and tests: forget the cached dependencies so the next call rebuilds them. */
export function resetRuntimeDeps(): void {
  cached = undefined;
}

/** An entry point of the sync functions, on the dependencies every one of them shares. */
export const lambdaHandler = <E, R>(body: HandlerBody<Deps, E, R>) => handlerWith(runtimeDeps, body);
