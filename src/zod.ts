/**
 * zod for every schema here: its functional API (`zod/mini`), with zod's English messages.
 *
 * Every function builds its schemas at a cold start; the functional API builds them in about half
 * the time of zod's method-chaining API (`z.string().min(1)`), which sets up a richer object for
 * each schema and copies it again at every chained call. Parsing and messages are the same: both
 * run zod's core. Only the messages must be chosen: the method-chaining API sets English itself,
 * the functional one says "Invalid input" for everything until a locale is configured, so this
 * module configures English before anything can parse.
 *
 * Import it as a namespace, `import * as z from '…/zod.ts'`, so esbuild keeps only what is used (a
 * biome rule refuses `zod` itself elsewhere).
 */
import { en } from 'zod/locales';
import { catchall, config, type core, never, type ZodMiniObject } from 'zod/mini';

config(en());

export * from 'zod/mini';

/**
 * An object schema that refuses unknown keys, checks and all (the method-chaining API's `.strict()`;
 * `z.strictObject` builds one from a shape). Typed like `z.strictObject`'s: no index signature.
 */
export function strict<T extends ZodMiniObject>(schema: T): ZodMiniObject<T['shape'], core.$strict> {
  return catchall(schema, never()) as unknown as ZodMiniObject<T['shape'], core.$strict>;
}

/**
 * What a failed parse found, one `path: message` per issue (the whole input named by `whole`).
 * zod's messages name what was expected, never the value given: safe beside secrets.
 */
export const issuesText = (issues: readonly core.$ZodIssue[], whole: string) =>
  issues.map((i) => `${i.path.join('.') || whole}: ${i.message}`).join('; ');
