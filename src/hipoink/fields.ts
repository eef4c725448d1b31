import * as z from '../zod.ts';

/** Free fields label templates can show (f1…f16). */
export const FREE_FIELDS = Array.from({ length: 16 }, (_, i) => `f${i + 1}`) as ReadonlyArray<`f${number}`>;

/**
 * Every Hipoink field name lives in this module (the API as we rely on it: docs/hipoink.md).
 * `pp` is a dollar string with two decimals; `pc` is Hipoink's key for the product.
 */
export const HipoinkProductSchema = z.object({
  pc: z.string().check(z.minLength(1)),
  pn: z.string().check(z.minLength(1)),
  pp: z.string().check(z.regex(/^\d+\.\d{2}$/)),
  pi: z.optional(z.string()),
  pu: z.optional(z.string()),
  ps: z.optional(z.string()),
  pg: z.optional(z.string()),
  vp: z.optional(z.string()),
  pop: z.optional(z.string()),
  po: z.optional(z.string()),
  pm: z.optional(z.string()),
  promotion: z.optional(z.number().check(z.int())),
  pim: z.optional(z.string()),
  pqr: z.optional(z.string()),
  ...Object.fromEntries(FREE_FIELDS.map((f) => [f, z.optional(z.string())])),
});
export type HipoinkProduct = z.infer<typeof HipoinkProductSchema>;

/**
 * Only `error_code` decides success. The reference gives no types for the rest, so a message of
 * null or a count sent as text must not turn a call Hipoink carried out into a failure.
 */
export const HipoinkResponseSchema = z.looseObject({
  error_code: z.union([z.number(), z.string()]),
  error_msg: z.catch(z.nullish(z.string()), undefined),
  count: z.catch(z.optional(z.coerce.number()), undefined),
});
export type HipoinkResponse = z.infer<typeof HipoinkResponseSchema>;

/**
 * A product code no item may have (the transform refuses it). Deleting it is the probe that tells
 * a refused request (wrong sign, store code or client id: refused whatever it asks) from refused
 * products.
 */
export const PROBE_CODE = '__esl-sync-probe__';

export const HIPOINK_PATHS = {
  create: 'product/create',
  createMultiple: 'product/create_multiple',
  deleteMultiple: 'product/del_multiple',
} as const;

/** The envelope every Hipoink request carries. */
export function envelope(storeCode: string, sign: string): Record<string, string> {
  return { store_code: storeCode, is_base64: '0', sign };
}
