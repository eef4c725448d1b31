import * as z from 'zod';

/** Token pair as Clover's /oauth/v2/token, /refresh and /recovery return it (expirations in Unix seconds). */
export const TokenPairSchema = z.object({
  access_token: z.string().min(1),
  access_token_expiration: z.number().int().positive(),
  refresh_token: z.string().min(1),
  refresh_token_expiration: z.number().int().positive(),
});
export type TokenPair = z.infer<typeof TokenPairSchema>;

/** The envelope of a list response; items are validated one by one so one bad item cannot fail a page. */
export const ItemsPageSchema = z.object({ elements: z.array(z.unknown()).default([]) });

/** The fields of a Clover inventory item this product relies on (docs/clover.md). */
export const CloverItemSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().nullish(),
  alternateName: z.string().nullish(),
  code: z.string().nullish(),
  sku: z.string().nullish(),
  price: z.number().int(),
  priceType: z.enum(['FIXED', 'VARIABLE', 'PER_UNIT']).default('FIXED'),
  unitName: z.string().nullish(),
  cost: z.number().int().nullish(),
  hidden: z.boolean().default(false),
  available: z.boolean().default(true),
  deleted: z.boolean().optional(),
  modifiedTime: z.number().int().nonnegative(),
});
export type CloverItem = z.infer<typeof CloverItemSchema>;

/** Only an id and a modification time: enough to move the cursor past an item we cannot use. */
export const ItemIdentitySchema = z.looseObject({
  id: z.string().min(1),
  modifiedTime: z.number().int().nonnegative().optional(),
});
