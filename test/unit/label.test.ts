import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { transformItem } from '../../src/domain/label.ts';
import { centsToDollars } from '../../src/domain/money.ts';
import { PROBE_CODE } from '../../src/hipoink/fields.ts';
import { MAX_PRODUCT_CODE_BYTES } from '../../src/store/tables.ts';

const PRECEDENCE = ['sku', 'code', 'id'] as const;
const item = (over: Record<string, unknown> = {}) => ({
  id: 'ITEM00000001',
  name: 'Cola 20oz',
  price: 229,
  priceType: 'FIXED',
  hidden: false,
  available: true,
  modifiedTime: 1_700_000_000_000,
  ...over,
});

describe('centsToDollars', () => {
  it.each([
    [1999, '19.99'],
    [0, '0.00'],
    [5, '0.05'],
    [100, '1.00'],
    [123456789, '1234567.89'],
  ])('%i cents → %s', (cents, dollars) => expect(centsToDollars(cents)).toBe(dollars));

  it('refuses negative and fractional cents', () => {
    expect(() => centsToDollars(-1)).toThrow(RangeError);
    expect(() => centsToDollars(1.5)).toThrow(RangeError);
  });

  it('round-trips every amount exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000_000 }), (cents) => {
        const s = centsToDollars(cents);
        return /^\d+\.\d{2}$/.test(s) && Math.round(Number.parseFloat(s) * 100) === cents;
      }),
    );
  });
});

describe('transformItem', () => {
  const label = (
    over: Record<string, unknown>,
    precedence: readonly ('sku' | 'code' | 'id')[] = PRECEDENCE,
  ) => {
    const out = transformItem(item(over), precedence);
    if (out.kind !== 'label') throw new Error(`expected a label, got ${out.kind}`);
    return out;
  };

  it('shows price in dollars for every price type; VARIABLE shows its base price', () => {
    expect(label({ price: 1999 }).desired.label.pp).toBe('19.99');
    expect(label({ price: 0, priceType: 'VARIABLE' }).desired.label.pp).toBe('0.00');
    expect(label({ price: 899, priceType: 'VARIABLE' }).desired.label.pp).toBe('8.99');
  });

  it('adds the unit only for PER_UNIT items', () => {
    expect(label({ priceType: 'PER_UNIT', unitName: 'gal', price: 389 }).desired.label).toMatchObject({
      pp: '3.89',
      pu: 'gal',
    });
    expect(label({ priceType: 'FIXED', unitName: 'gal' }).desired.label.pu).toBeUndefined();
  });

  it('takes the product code from sku, then code, then the Clover id; order configurable', () => {
    expect(label({ sku: 'SKU1', code: 'UPC1' }).desired.label.pc).toBe('SKU1');
    expect(label({ sku: '  ', code: 'UPC1' }).desired.label.pc).toBe('UPC1');
    expect(label({ sku: null, code: '' }).desired.label.pc).toBe('ITEM00000001');
    expect(label({ sku: 'SKU1', code: 'UPC1' }, ['code', 'sku', 'id']).desired.label.pc).toBe('UPC1');
    expect(label({ sku: 'SKU1' }).desired.label.pi).toBe('SKU1');
  });

  it('takes hidden and deleted items off the shelf, keeps unavailable ones', () => {
    expect(transformItem(item({ hidden: true }), PRECEDENCE)).toMatchObject({
      kind: 'remove',
      reason: 'hidden',
    });
    expect(transformItem(item({ deleted: true }), PRECEDENCE)).toMatchObject({
      kind: 'remove',
      reason: 'deleted',
    });
    expect(label({ available: false }).desired.available).toBe(false);
  });

  it('takes a hidden or deleted item off the shelf even when the rest of its version is unusable', () => {
    const broken = { price: undefined, priceType: 'SOMETHING_NEW' };
    expect(transformItem(item({ ...broken, hidden: true }), PRECEDENCE)).toMatchObject({
      kind: 'remove',
      itemId: 'ITEM00000001',
      reason: 'hidden',
    });
    expect(transformItem(item({ ...broken, deleted: true }), PRECEDENCE)).toMatchObject({
      kind: 'remove',
      reason: 'deleted',
    });
    expect(transformItem(item(broken), PRECEDENCE)).toMatchObject({ kind: 'invalid' });
  });

  it('keeps cost as unit cost in dollars', () => {
    expect(label({ cost: 341 }).desired.unitCost).toBe('3.41');
  });

  it('falls back to alternateName and reports items it cannot use', () => {
    expect(label({ name: '', alternateName: 'Coke' }).desired.label.pn).toBe('Coke');
    expect(label({ name: null, alternateName: 'Coke' }).desired.label.pn).toBe('Coke');
    expect(transformItem(item({ name: '' }), PRECEDENCE)).toMatchObject({
      kind: 'invalid',
      itemId: 'ITEM00000001',
    });
    const negative = transformItem(item({ price: -5 }), PRECEDENCE);
    expect(negative.kind === 'invalid' && negative.reason).toMatch(/negative price/);
    const fractional = transformItem(item({ price: 2.5 }), PRECEDENCE);
    expect(fractional.kind === 'invalid' && fractional.reason).toMatch(/price/);
    expect(transformItem({ name: 'x', price: 1 }, PRECEDENCE)).toMatchObject({
      kind: 'invalid',
      itemId: undefined,
    });
  });

  it('fills free fields from the store’s field map and applies its VARIABLE-price rule', () => {
    const options = {
      fieldMap: { f1: 'unitCost', f2: 'priceType', f3: 'code' } as const,
      variablePrice: 'base' as const,
    };
    const out = transformItem(
      item({ cost: 341, code: 'UPC9', priceType: 'PER_UNIT', unitName: 'lb' }),
      PRECEDENCE,
      options,
    );
    if (out.kind !== 'label') throw new Error('expected a label');
    expect(out.desired.label).toMatchObject({ f1: '3.41', f2: 'PER_UNIT', f3: 'UPC9' });
    const noCost = transformItem(item(), PRECEDENCE, options);
    expect(noCost.kind === 'label' && 'f1' in noCost.desired.label).toBe(false);
    expect(
      transformItem(item({ priceType: 'VARIABLE' }), PRECEDENCE, { fieldMap: {}, variablePrice: 'remove' }),
    ).toMatchObject({
      kind: 'remove',
      reason: 'variable-price',
    });
  });

  it('changes the label hash only when the label changes', () => {
    const base = label({});
    const unavailable = label({ available: false, cost: 100 });
    expect(unavailable.labelHash).toBe(base.labelHash);
    expect(unavailable.stateHash).not.toBe(base.stateHash);
    expect(label({ price: 230 }).labelHash).not.toBe(base.labelHash);
    const reordered = transformItem(Object.fromEntries(Object.entries(item()).reverse()), PRECEDENCE);
    expect(reordered.kind === 'label' && reordered.stateHash).toBe(base.stateHash);
  });

  it('refuses the code esl-sync probes Hipoink with', () => {
    const out = transformItem(item({ sku: PROBE_CODE }), PRECEDENCE);
    expect(out).toMatchObject({ kind: 'invalid', reason: expect.stringContaining('reserved') });
  });

  it('refuses a code longer than a slot can be keyed by, counting UTF-8 bytes', () => {
    const longest = 'C'.repeat(MAX_PRODUCT_CODE_BYTES);
    expect(transformItem(item({ sku: longest }), PRECEDENCE)).toMatchObject({ kind: 'label' });
    for (const sku of [`${longest}C`, 'é'.repeat(MAX_PRODUCT_CODE_BYTES / 2 + 1)]) {
      expect(transformItem(item({ sku }), PRECEDENCE)).toMatchObject({
        kind: 'invalid',
        reason: `product code: longer than ${MAX_PRODUCT_CODE_BYTES} bytes`,
      });
    }
  });
});
