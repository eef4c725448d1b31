import { describe, expect, it } from 'vitest';
import type { Slot } from '../../src/domain/shelf.ts';
import type { MerchantRecord } from '../../src/store/merchants.ts';
import {
  describeWait,
  fullSyncPushesSettledCodes,
  readStoreProgress,
  type StoreProgress,
  waitForStores,
} from '../../src/sync/progress.ts';
import { merchantRecord } from './fakes.ts';

const AT = 1_000_000;

const label = (pc: string) => ({ pc, pn: 'n', pp: '1.00' });
/** A slot whose owner's label Hipoink does not hold yet: a push is due. */
const toCreate = (code: string): Slot => ({
  code,
  wanters: [{ itemId: `I-${code}`, label: label(code), labelHash: `h-${code}`, wantsSince: 1 }],
});
/** The same slot with its owner's label held: in step. */
const inStep = (code: string): Slot => ({
  ...toCreate(code),
  held: { label: label(code), labelHash: `h-${code}`, itemId: `I-${code}` },
});

/**
 * Readings one after the other: each `get` and `listSlots` takes the next; the last repeats. `codes`
 * are slots out of step, beside one in step.
 */
function scripted(
  readings: Array<{ record?: Partial<MerchantRecord> | null; codes?: string[]; slots?: Slot[] }>,
) {
  let i = -1;
  const at = () => readings[Math.min(i, readings.length - 1)] ?? {};
  return {
    merchants: {
      get: async (merchantId: string) => {
        i++;
        const r = at().record;
        return r === null ? undefined : merchantRecord({ merchantId, ...r });
      },
    },
    shelf: {
      listSlots: async () => at().slots ?? [inStep('SETTLED'), ...(at().codes ?? []).map(toCreate)],
    },
  };
}

const fastClock = () => {
  let t = 0;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
    },
  };
};

describe('a store’s progress since a request', () => {
  it('counts only a poll that finished after the request, a full one for a full sync', async () => {
    const before = scripted([{ record: { lastSyncAt: AT - 1, lastFullSyncAt: AT - 1 } }]);
    expect(await readStoreProgress(before, 'M', { at: AT, full: true })).toMatchObject({
      polled: false,
      clean: false,
    });
    const incremental = scripted([{ record: { lastSyncAt: AT + 5, lastFullSyncAt: AT - 1 } }]);
    expect(await readStoreProgress(incremental, 'M', { at: AT, full: true })).toMatchObject({
      polled: false,
    });
    expect(await readStoreProgress(incremental, 'M', { at: AT, full: false })).toMatchObject({
      polled: true,
      clean: true,
    });
  });

  it('is not clean while some code’s shelf is not what the code rule says', async () => {
    const polled = {
      lastSyncAt: AT,
      lastFullSyncAt: AT,
      lastSyncCounts: { fetched: 9, changed: 2 } as never,
    };
    const codes = await readStoreProgress(scripted([{ record: polled, codes: ['A', 'B'] }]), 'M', {
      at: AT,
      full: true,
    });
    expect(codes).toMatchObject({ polled: true, toPush: 2, clean: false, fetched: 9, changed: 2 });
    expect(describeWait(codes)).toBe('merchant M polled (fetched 9, changed 2), 2 code(s) still to push');
    // Codes that wait on pushes that fail say so.
    const failing = await readStoreProgress(
      scripted([
        {
          record: { ...polled, pushFailingSince: AT, lastPushError: 'Hipoink answered 503' },
          codes: ['A'],
        },
      ]),
      'M',
      { at: AT, full: true },
    );
    expect(describeWait(failing)).toBe(
      `merchant M polled (fetched 9, changed 2), 1 code(s) still to push (its pushes fail since ${new Date(AT).toISOString()}: Hipoink answered 503)`,
    );
    // Out of step: a label to show, one to take down, a code whose last call went unanswered.
    // In step: the owner's label held, a refused label (not sent again), a code nobody wants.
    const slots: Slot[] = [
      toCreate('SHOW'),
      { code: 'TAKE-DOWN', wanters: [], held: inStep('TAKE-DOWN').held },
      { ...inStep('UNSURE'), unsure: true },
      inStep('HELD'),
      { ...toCreate('REFUSED'), refused: { labelHash: 'h-REFUSED', reason: 'bad', itemId: 'I-REFUSED' } },
      { code: 'EMPTY', wanters: [] },
    ];
    const mixed = await readStoreProgress(scripted([{ record: polled, slots }]), 'M', { at: AT, full: true });
    expect(mixed).toMatchObject({ toPush: 3, clean: false });
    const settled = await readStoreProgress(scripted([{ record: polled, slots: slots.slice(3) }]), 'M', {
      at: AT,
      full: true,
    });
    expect(settled).toMatchObject({ toPush: 0, clean: true });
  });

  it('says why a store cannot finish: removed, or not active', async () => {
    expect((await readStoreProgress(scripted([{ record: null }]), 'M', { at: AT, full: true })).stuck).toBe(
      'it was removed',
    );
    const reauth = scripted([{ record: { state: 'needs_reauth', stateReason: 'refresh token refused' } }]);
    expect((await readStoreProgress(reauth, 'M', { at: AT, full: true })).stuck).toBe(
      'it is needs_reauth (refresh token refused)',
    );
  });
});

describe('waiting for stores', () => {
  const done = { lastSyncAt: AT + 1, lastFullSyncAt: AT + 1 };

  it('needs two clean readings in a row', async () => {
    const deps = scripted([
      { record: { lastFullSyncAt: AT - 1 } },
      { record: done },
      { record: done, codes: ['late'] }, // a push came due only now
      { record: done },
      { record: done },
      { record: done, codes: ['never read'] },
    ]);
    const seen: StoreProgress[][] = [];
    const result = await waitForStores(
      deps,
      ['M'],
      { at: AT, full: true },
      {
        timeoutMs: 60_000,
        onProgress: (p) => seen.push(p),
        ...fastClock(),
      },
    );
    expect(seen.map(([p]) => p?.clean)).toEqual([false, true, false, true, true]);
    expect(result).toEqual([expect.objectContaining({ merchantId: 'M', clean: true })]);
  });

  it('fails at once for a store that cannot finish, and at the timeout with where each store stands', async () => {
    await expect(
      waitForStores(
        scripted([{ record: { state: 'disabled' } }]),
        ['M'],
        { at: AT, full: true },
        {
          timeoutMs: 60_000,
          ...fastClock(),
        },
      ),
    ).rejects.toThrow('merchant M cannot finish: it is disabled');
    await expect(
      waitForStores(
        scripted([{ record: done, codes: ['A'] }]),
        ['M'],
        { at: AT, full: true },
        {
          timeoutMs: 3_000,
          ...fastClock(),
        },
      ),
    ).rejects.toThrow(
      /^Timed out after 3 s: merchant M polled, 1 code\(s\) still to push \(see status and dlq list\)$/,
    );
  });

  it('at the timeout names every store not yet confirmed, one clean in a single reading too', async () => {
    // Each look at the clock finds 250 ms gone: a 0.2 s wait ends after the first.
    let t = 0;
    const slow = { now: () => (t += 250), sleep: async () => undefined };
    const polled = { ...done, lastSyncCounts: { fetched: 4, changed: 1 } as never };
    await expect(
      waitForStores(
        scripted([{ record: polled }]),
        ['M'],
        { at: AT, full: true },
        { timeoutMs: 200, ...slow },
      ),
    ).rejects.toThrow(
      /^Timed out after 0\.2 s: merchant M polled \(fetched 4, changed 1\), every label in step in the last reading only, not yet confirmed by a second \(one push can end just before the next starts\)$/,
    );
    // Of several stores: the one confirmed is not named, the others each say what they wait on.
    const readings = new Map<string, number>();
    const deps = {
      merchants: {
        get: async (id: string) => {
          readings.set(id, (readings.get(id) ?? 0) + 1);
          if (id === 'LATE' && (readings.get(id) ?? 0) < 3) return merchantRecord({ merchantId: id });
          return merchantRecord({ merchantId: id, ...done });
        },
      },
      shelf: { listSlots: async () => [] },
    };
    await expect(
      waitForStores(deps, ['DONE', 'LATE'], { at: AT, full: true }, { timeoutMs: 1_000, ...fastClock() }),
    ).rejects.toThrow(
      /^Timed out after 1 s: merchant LATE polled, every label in step in the last reading only/,
    );
    t = 0;
    await expect(
      waitForStores(deps, ['NEVER'], { at: AT + 5, full: true }, { timeoutMs: 100, ...slow }),
    ).rejects.toThrow(/^Timed out after 0\.1 s: merchant NEVER not polled since the request yet$/);
  });

  it('reads only the stores not yet done', async () => {
    const asked: string[] = [];
    const deps = {
      merchants: {
        get: async (id: string) => {
          asked.push(id);
          return merchantRecord({ merchantId: id, ...(id === 'FAST' || asked.length > 6 ? done : {}) });
        },
      },
      shelf: { listSlots: async () => [] },
    };
    await waitForStores(
      deps,
      ['FAST', 'SLOW'],
      { at: AT, full: true },
      { timeoutMs: 60_000, ...fastClock() },
    );
    expect(asked.filter((id) => id === 'FAST')).toHaveLength(2);
  });
});

describe('pushes a full sync sends that no slot shows as out of step', () => {
  it('come with a repush, or from a store with refused labels', () => {
    expect(fullSyncPushesSettledCodes(undefined, { repush: true })).toBe(true);
    const shelf = { items: 3, removed: 0, invalid: 0, onShelf: 2, outOfStep: 0, refused: 0 };
    expect(fullSyncPushesSettledCodes({ shelf }, {})).toBe(false);
    expect(fullSyncPushesSettledCodes({ shelf: { ...shelf, refused: 1 } }, {})).toBe(true);
    expect(fullSyncPushesSettledCodes({}, {})).toBe(false);
  });
});
