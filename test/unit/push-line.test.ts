import { describe, expect, it } from 'vitest';
import { clearLine, pushLine } from '../../local/push-line.ts';
import type { Slot } from '../../src/domain/shelf.ts';

const label = (pc: string, pp: string) => ({ pc, pn: 'Soda', pp });
const want = (pc: string, pp: string, hash: string) => ({
  itemId: `I-${pc}`,
  label: label(pc, pp),
  labelHash: hash,
  wantsSince: 1,
});
/** A code whose owner wants `pp` (hash `h2`), Hipoink holding its older label (`h1`). */
const slot = (pc: string, more: Partial<Slot> = {}): Slot => ({
  code: pc,
  wanters: [want(pc, '2.49', 'h2')],
  held: { label: label(pc, '1.99'), labelHash: 'h1', itemId: `I-${pc}` },
  ...more,
});
const shown = (pc: string) =>
  slot(pc, { held: { label: label(pc, '2.49'), labelHash: 'h2', itemId: `I-${pc}` } });
const refused = (pc: string) =>
  slot(pc, { refused: { labelHash: 'h2', reason: 'price tag template missing', itemId: `I-${pc}` } });

describe('the labels line of npm start', () => {
  it('tells codes whose labels Hipoink holds as brought in line', () => {
    expect(pushLine('store-1', [shown('A'), shown('B')], undefined)).toBe(
      'labels store=store-1 codes=2 brought in line with Clover',
    );
  });

  it('tells a label Hipoink refused, which it does not show, as refused, not as brought in line', () => {
    const line = pushLine('store-1', [shown('A'), refused('B')], undefined);
    expect(line).not.toMatch(/^labels store=store-1 codes=2 brought in line/);
    expect(line).toContain(
      'labels store=store-1 codes=2 1 of them refused by Hipoink (price tag template missing): not shown',
    );
    expect(line).toContain('the rest brought in line with Clover');
    expect(pushLine('store-1', [refused('B')], undefined)).toContain(
      'codes=1 refused by Hipoink (price tag template missing)',
    );
  });

  it('tells a refused label Hipoink holds all the same (accepted before) as brought in line', () => {
    const held = slot('A', {
      held: { label: label('A', '2.49'), labelHash: 'h2', itemId: 'I-A' },
      refused: { labelHash: 'h2', reason: 'x', itemId: 'I-A' },
    });
    expect(pushLine('store-1', [held], undefined)).toBe(
      'labels store=store-1 codes=1 brought in line with Clover',
    );
  });

  it('tells codes a push left out of step as not brought in line, with the error', () => {
    expect(pushLine('store-1', [shown('A'), slot('B')], 'Hipoink failed with HTTP 503')).toBe(
      'labels store=store-1 codes=2 1 of them not brought in line with Clover: Hipoink failed with HTTP 503 (npx esl-sync status; a push set aside: npx esl-sync dlq list --queue push)',
    );
  });
});

describe('the labels line of a store left behind or emptied', () => {
  it("names the store cleared, not the merchant's", () => {
    expect(clearLine('store-002', ['A', 'B'], { pending: [], refused: [] })).toBe(
      'labels store=store-002 codes=2 taken off the store',
    );
  });

  it('tells codes a set-aside push left there as not taken off, never as brought in line', () => {
    const line = clearLine('store-002', ['A', 'B'], { pending: ['A', 'B'], refused: [] });
    expect(line).toMatch(
      /^labels store=store-002 codes=2 not taken off: the push deleting them was set aside/,
    );
    expect(line).toContain('dlq list --queue push');
    expect(line).not.toContain('brought in line');
  });

  it('tells codes Hipoink refused to delete, whose labels still show there', () => {
    expect(clearLine('store-002', ['A', 'B'], { pending: [], refused: ['B', 'C'] })).toBe(
      'labels store=store-002 codes=2 1 of them refused by Hipoink to delete: their labels still show there, the rest taken off',
    );
  });
});
