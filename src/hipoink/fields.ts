import * as z from 'zod';

/** Free fields label templates can show (f1…f16). */
export const FREE_FIELDS = Array.from({ length: 16 }, (_, i) => `f${i + 1}`) as ReadonlyArray<`f${number}`>;
export type FreeField = (typeof FREE_FIELDS)[number];

/**
 * Every Hipoink field name lives in this module (the API as we rely on it: docs/hipoink.md).
 * `pp` is a dollar string with two decimals; `pc` is Hipoink's key for the product.
 */
export const HipoinkProductSchema = z.object({
  pc: z.string().min(1),
  pn: z.string().min(1),
  pp: z.string().regex(/^\d+\.\d{2}$/),
  pi: z.string().optional(),
  pu: z.string().optional(),
  ps: z.string().optional(),
  pg: z.string().optional(),
  vp: z.string().optional(),
  pop: z.string().optional(),
  po: z.string().optional(),
  pm: z.string().optional(),
  promotion: z.number().int().optional(),
  pim: z.string().optional(),
  pqr: z.string().optional(),
  ...Object.fromEntries(FREE_FIELDS.map((f) => [f, z.string().optional()])),
});
export type HipoinkProduct = z.infer<typeof HipoinkProductSchema>;

/**
 * Only `error_code` decides success. The reference gives no types for the rest, so a message of
 * null or a count sent as text must not turn a call Hipoink carried out into a failure.
 */
export const HipoinkResponseSchema = z.looseObject({
  error_code: z.union([z.number(), z.string()]),
  error_msg: z.string().nullish().catch(undefined),
  count: z.coerce.number().optional().catch(undefined),
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
