import { createHash } from 'node:crypto';
import { type CloverItem, CloverItemSchema, ItemIdentitySchema } from '../clover/schemas.ts';
import type { ProductCodeSource } from '../config.ts';
import { FREE_FIELDS, type HipoinkProduct, PROBE_CODE } from '../hipoink/fields.ts';
import { MAX_PRODUCT_CODE_BYTES } from '../store/tables.ts';
import * as z from '../zod.ts';
import { centsToDollars } from './money.ts';

/** Clover facts a store can put into free label fields for its templates. */
export const LABEL_FACTS = [
  'unitCost',
  'priceType',
  'modifiedTime',
  'sku',
  'code',
  'itemId',
  'alternateName',
] as const;
export type LabelFact = (typeof LABEL_FACTS)[number];

/**
 * Per-store label rules. `variablePrice`: what a VARIABLE-price item (priced at the register)
 * shows — `base` its Clover base price (default), `remove` no label at all.
 */
export const LabelOptionsSchema = z.object({
  fieldMap: z._default(
    z.partialRecord(z.enum(FREE_FIELDS as unknown as [string, ...string[]]), z.enum(LABEL_FACTS)),
    {},
  ),
  variablePrice: z._default(z.enum(['base', 'remove']), 'base'),
});
export type LabelOptions = z.infer<typeof LabelOptionsSchema>;
export const DEFAULT_LABEL_OPTIONS: LabelOptions = { fieldMap: {}, variablePrice: 'base' };

/** What the shelf should show for one Clover item, plus the facts kept beside it. */
export interface DesiredLabel {
  label: HipoinkProduct;
  priceType: CloverItem['priceType'];
  /** Unit cost in dollars, when Clover has a cost. */
  unitCost?: string;
  available: boolean;
}

export type ItemOutcome =
  | {
      kind: 'label';
      itemId: string;
      modifiedTime: number;
      desired: DesiredLabel;
      /** Hash of everything stored for the item: a change here is written to product state. */
      stateHash: string;
      /** Hash of what Hipoink shows: only a change here costs a Hipoink call. */
      labelHash: string;
    }
  | {
      kind: 'remove';
      itemId: string;
      /** Absent for an item confirmed gone from Clover (a GET answered 404). */
      modifiedTime?: number;
      reason: 'hidden' | 'deleted' | 'variable-price' | 'gone';
    }
  | { kind: 'invalid'; itemId: string | undefined; modifiedTime: number | undefined; reason: string };

const nonEmpty = (s: string | null | undefined): string | undefined => {
  const t = s?.trim();
  return t ? t : undefined;
};

export function productCode(item: CloverItem, precedence: readonly ProductCodeSource[]): string {
  for (const source of precedence) {
    const value = nonEmpty(source === 'id' ? item.id : item[source]);
    if (value) return value;
  }
  // The Clover id is never empty, so it is the last resort whatever the configured order.
  return item.id;
}

/** Stable hash of what we would send, so re-read items that did not change cause no work. */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex').slice(0, 32);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Clover item → what the label should be. Rules: pp is `price` in dollars for every
 * priceType (a VARIABLE item shows its base price); PER_UNIT adds `pu` = unitName; hidden or
 * deleted items come off the shelf; `available: false` stays on the shelf.
 */
export function transformItem(
  raw: unknown,
  precedence: readonly ProductCodeSource[],
  options: LabelOptions = DEFAULT_LABEL_OPTIONS,
): ItemOutcome {
  const parsed = CloverItemSchema.safeParse(raw);
  if (!parsed.success) {
    const identity = ItemIdentitySchema.safeParse(raw);
    // A hidden or deleted item comes off the shelf whatever else its version lacks.
    if (identity.success && (identity.data.hidden || identity.data.deleted)) {
      const { id: itemId, modifiedTime, deleted } = identity.data;
      return { kind: 'remove', itemId, modifiedTime, reason: deleted ? 'deleted' : 'hidden' };
    }
    const reason = z.issuesText(parsed.error.issues, 'item');
    return {
      kind: 'invalid',
      itemId: identity.success ? identity.data.id : undefined,
      modifiedTime: identity.success ? identity.data.modifiedTime : undefined,
      reason,
    };
  }
  const item = parsed.data;
  if (item.deleted || item.hidden) {
    return {
      kind: 'remove',
      itemId: item.id,
      modifiedTime: item.modifiedTime,
      reason: item.deleted ? 'deleted' : 'hidden',
    };
  }
  if (item.priceType === 'VARIABLE' && options.variablePrice === 'remove') {
    return { kind: 'remove', itemId: item.id, modifiedTime: item.modifiedTime, reason: 'variable-price' };
  }
  const name = nonEmpty(item.name) ?? nonEmpty(item.alternateName);
  if (!name) return invalid(item, 'name: the item has no name');
  if (item.price < 0) return invalid(item, `price: negative price ${item.price}`);
  if (item.cost != null && item.cost < 0) return invalid(item, `cost: negative cost ${item.cost}`);

  const pc = productCode(item, precedence);
  if (pc === PROBE_CODE) return invalid(item, `product code: ${PROBE_CODE} is reserved by esl-sync`);
  if (Buffer.byteLength(pc, 'utf8') > MAX_PRODUCT_CODE_BYTES) {
    return invalid(item, `product code: longer than ${MAX_PRODUCT_CODE_BYTES} bytes`);
  }
  const label: HipoinkProduct = {
    pc,
    pn: name,
    pp: centsToDollars(item.price),
  };
  const sku = nonEmpty(item.sku);
  if (sku) label.pi = sku;
  const unit = nonEmpty(item.unitName);
  if (item.priceType === 'PER_UNIT' && unit) label.pu = unit;

  const desired: DesiredLabel = { label, priceType: item.priceType, available: item.available };
  if (item.cost != null) desired.unitCost = centsToDollars(item.cost);
  const facts: Record<LabelFact, string | undefined> = {
    unitCost: desired.unitCost,
    priceType: item.priceType,
    modifiedTime: new Date(item.modifiedTime).toISOString(),
    sku,
    code: nonEmpty(item.code),
    itemId: item.id,
    alternateName: nonEmpty(item.alternateName),
  };
  for (const [field, fact] of Object.entries(options.fieldMap)) {
    const value = fact ? facts[fact] : undefined;
    if (value !== undefined) (label as Record<string, unknown>)[field] = value;
  }
  return {
    kind: 'label',
    itemId: item.id,
    modifiedTime: item.modifiedTime,
    desired,
    stateHash: hashOf(desired),
    labelHash: hashOf(label),
  };
}

function invalid(item: CloverItem, reason: string): ItemOutcome {
  return { kind: 'invalid', itemId: item.id, modifiedTime: item.modifiedTime, reason };
}
