/**
 * Ghost cleanup after an incremental read: the id listing comes after the read, and items it shows
 * changed since are saved before the ghosts' deletions are confirmed. Each scenario is run with the
 * poll stopped at every write of its own, and with a push delivered beside it at every write.
 */
import { describe, expect, it } from 'vitest';
import { createWorld, type World } from './shelf-world.ts';

type Scenario = {
  /** Items on the shelf, and the edits made in Clover before the poll (whose read sees them). */
  setup: (w: World) => Promise<{ beforeListing: () => void; since?: number; full?: boolean }>;
};

/** Every way the poll can be cut short or met by a push: [failAfterWrites, besidePush]. */
const CUTS: Array<[number | undefined, number | undefined]> = [
  [undefined, undefined],
  ...Array.from({ length: 16 }, (_, i) => [i, undefined] as [number, undefined]),
  ...Array.from({ length: 16 }, (_, i) => [undefined, i] as [undefined, number]),
];

async function sweep(name: string, scenario: Scenario, settings = {}) {
  for (const [failAfterWrites, besidePush] of CUTS) {
    const at = `${name}, stopped after ${failAfterWrites} writes, push beside after ${besidePush}`;
    // Pages of 10: the read is one list call, so the edits come just before the id listing.
    const w = createWorld({ cleanupEveryPolls: 1, overlapMs: 0, pageLimit: 10, ...settings });
    const { beforeListing, since, full } = await scenario.setup(w);
    await w.poll({
      listEdits: { beforeCall: 1, run: beforeListing },
      ...(failAfterWrites === undefined ? {} : { failAfterWrites }),
      ...(besidePush === undefined ? {} : { besidePush }),
      ...(since === undefined ? {} : { since }),
      ...(full ? { full } : {}),
    });
    if (failAfterWrites === undefined) expect(w.merchants.polls.at(-1)?.cleanedUp, at).toBe(true);
    expect(w.slotsAstray(), at).toEqual([]);
    await w.drain();
    await w.settle();
    expect(await w.check(), at).toEqual([]);
    expect(await w.countsDrift(), at).toEqual([]);
  }
}

describe('ghost cleanup with items changed between the read and the listing', () => {
  it('a handover to a ghost’s code, at every cut', async () => {
    await sweep('handover', {
      async setup(w) {
        const [g, y] = await w.onShelf(['C0', 100], ['C3', 200]);
        const beforeListing = () => {
          w.recode(y, 'C0');
          w.remove(g);
        };
        return { beforeListing };
      },
    });
  });

  it('a handover whose taker is invalid in the listing, at every cut', async () => {
    await sweep('invalid taker', {
      async setup(w) {
        const [g, y] = await w.onShelf(['C0', 100], ['C3', 200]);
        const beforeListing = () => {
          w.recode(y, 'C0');
          w.remove(g);
          w.breakName(y);
        };
        return { beforeListing };
      },
    });
  });

  it('a taker read in this poll and changed again before the listing, at every cut', async () => {
    await sweep('read, then handover', {
      async setup(w) {
        const [g, y, z] = await w.onShelf(['C0', 100], ['C3', 200], ['C2', 300]);
        w.recode(y, 'C1'); // the read sees y leave C3 for C1
        w.recode(z, 'C3'); // and z take C3
        const beforeListing = () => {
          w.recode(y, 'C0');
          w.remove(g);
          w.recode(z, 'C1');
        };
        return { beforeListing };
      },
    });
  });

  it('a swap between the read and the listing beside a ghost, at every cut', async () => {
    await sweep('swap', {
      async setup(w) {
        const [, a, b] = await w.onShelf(['C2', 50], ['C0', 100], ['C1', 200]);
        const g = w.create('C2', 70); // blocked behind the first
        await w.poll();
        await w.drain();
        const beforeListing = () => {
          w.swap(a, b);
          w.remove(g);
        };
        return { beforeListing };
      },
    });
  });

  it('a new item taking a ghost’s code after the read, changed again before the ghost’s GET, at every cut', async () => {
    await sweep('new taker', {
      async setup(w) {
        const [g] = await w.onShelf(['C0', 100]);
        let n = '';
        w.beforeNextGet(() => w.recode(n, 'C1'));
        const beforeListing = () => {
          n = w.create('C0', 300);
          w.remove(g);
        };
        return { beforeListing };
      },
    });
  });

  it('a handover in a backfill --since after the cursor, at every cut', async () => {
    await sweep('backfill since', {
      async setup(w) {
        const [g, y] = await w.onShelf(['C0', 100], ['C3', 200]);
        const beforeListing = () => {
          w.recode(y, 'C0');
          w.remove(g);
        };
        return { beforeListing, since: w.clock + 1, full: true };
      },
    });
  });
});
