/**
 * The same calls on the in-memory fake (what unit tests run on) and on the real store over dynalite,
 * with the real one's behaviour as the expectation: unit tests must not pass only because of the fake.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProductStore } from '../../src/store/products.ts';
import { FakeProductStore } from '../unit/fakes.ts';
import { startStateStores } from './support.ts';

let real: Awaited<ReturnType<typeof startStateStores>>;
beforeAll(async () => {
  real = await startStateStores();
});
afterAll(async () => real?.stop());

const active = (pc: string, tag: string) => ({
  status: 'active' as const,
  label: { pc, pn: 'N', pp: '1.00' },
  priceType: 'FIXED',
  available: true,
  unitCost: '0.50',
  stateHash: `s-${tag}`,
  labelHash: `l-${tag}`,
  modifiedTime: 2,
});

describe.each([
  ['fake', () => new FakeProductStore() as ProductStore],
  ['real', () => real.products],
])('%s product store', (name, make) => {
  const m = (t: string) => `${name}-${t}`;
  it('releaseCode hands over a waiter that arrives while the first list is recorded', async () => {
    const p = make();
    await p.claimCode(m('w'), 'PC', 'holder');
    await p.awaitCode(m('w'), 'PC', 'w1');
    const released = await p.releaseCode(m('w'), 'PC', 'holder', async (ids) => {
      if (ids.length === 1) await p.awaitCode(m('w'), 'PC', 'w2');
    });
    expect(released.sort()).toEqual(['w1', 'w2']);
  });
  it('releaseCode leaves a claim taken over while the waiters are recorded', async () => {
    const p = make();
    await p.claimCode(m('t'), 'PC', 'holder');
    await p.awaitCode(m('t'), 'PC', 'w1');
    await p.releaseCode(m('t'), 'PC', 'holder', async () => {
      await p.claimCode(m('t'), 'PC', 'new', 'holder');
    });
    expect(await p.codeHolder(m('t'), 'PC')).toBe('new');
  });
  it('findShown returns a copy, not the stored object', async () => {
    const p = make();
    await p.saveState(m('f'), 'i1', active('PC', 'a'));
    await p.markPushed(m('f'), 'i1', { pc: 'PC', labelHash: 'l-a' });
    const shown = await p.findShown(m('f'));
    await p.markLabelLeaving(m('f'), 'i1');
    expect(shown?.pushedLabelHash).toBe('l-a');
  });
  it('saveState stores unitCost and drops invalidReason when an item becomes valid', async () => {
    const p = make();
    await p.saveState(m('s'), 'i1', { status: 'invalid', invalidReason: 'bad', modifiedTime: 1 });
    const saved = await p.saveState(m('s'), 'i1', active('PC', 'b'));
    expect(saved).toMatchObject({ unitCost: '0.50' });
    expect(saved?.invalidReason).toBeUndefined();
  });
});
