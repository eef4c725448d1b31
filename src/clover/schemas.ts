import * as z from '../zod.ts';

/** Clover's merchant and item ids: letters and digits (13 in practice). */
export const CLOVER_ID = /^[A-Za-z0-9]{1,32}$/;

/** Token pair as Clover's /oauth/v2/token, /refresh and /recovery return it (expirations in Unix seconds). */
export const TokenPairSchema = z.object({
  access_token: z.string().check(z.minLength(1)),
  access_token_expiration: z.number().check(z.int(), z.positive()),
  refresh_token: z.string().check(z.minLength(1)),
  refresh_token_expiration: z.number().check(z.int(), z.positive()),
});
export type TokenPair = z.infer<typeof TokenPairSchema>;

/** The envelope of a list response; items are validated one by one so one bad item cannot fail a page. */
export const ItemsPageSchema = z.object({ elements: z._default(z.array(z.unknown()), []) });

/** The fields of a Clover inventory item this product relies on (docs/clover.md). */
export const CloverItemSchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  name: z.nullish(z.string()),
  alternateName: z.nullish(z.string()),
  code: z.nullish(z.string()),
  sku: z.nullish(z.string()),
  price: z.number().check(z.int()),
  priceType: z._default(z.enum(['FIXED', 'VARIABLE', 'PER_UNIT']), 'FIXED'),
  unitName: z.nullish(z.string()),
  cost: z.nullish(z.number().check(z.int())),
  hidden: z._default(z.boolean(), false),
  available: z._default(z.boolean(), true),
  deleted: z.optional(z.boolean()),
  modifiedTime: z.number().check(z.int(), z.nonnegative()),
});
export type CloverItem = z.infer<typeof CloverItemSchema>;

/** Only an id and a modification time: enough to move the cursor past an item we cannot use. */
export const ItemIdentitySchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  modifiedTime: z.optional(z.number().check(z.int(), z.nonnegative())),
  hidden: z.optional(z.boolean()),
  deleted: z.optional(z.boolean()),
});
