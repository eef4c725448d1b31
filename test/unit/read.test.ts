import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ListItemsQuery } from '../../src/clover/client.ts';
import { type ReadProgress, readItemsSince } from '../../src/sync/poll/read.ts';
import { hash } from './clover-items-model.ts';

interface Item {
  id: string;
  modifiedTime: number;
  version: number;
}

/**
 * Clover's semantics: filter modifiedTime >= since, order modifiedTime ASC, limit/offset. Ties are
 * ordered by id, or by `tieKey` when given: Clover promises no order within one modifiedTime.
 */
function fakeClover(
  catalog: Map<string, Item>,
  betweenPages: (call: number) => void = () => undefined,
  tieKey: (id: string, call: number) => number = () => 0,
) {
  let calls = 0;
  const list = async (q: ListItemsQuery) => {
    const call = calls++;
    betweenPages(call);
    return [...catalog.values()]
      .filter((i) => q.modifiedSince === undefined || i.modifiedTime >= q.modifiedSince)
      .sort(
        (a, b) =>
          a.modifiedTime - b.modifiedTime ||
          tieKey(a.id, call) - tieKey(b.id, call) ||
          a.id.localeCompare(b.id),
      )
      .slice(q.offset, q.offset + q.limit)
      .map((i) => ({ ...i }));
  };
  return { list, calls: () => calls };
}

async function readAll(
  list: (q: ListItemsQuery) => Promise<unknown[]>,
  since: number | undefined,
  limit: number,
  progress?: ReadProgress,
) {
  const seen: Item[] = [];
  for await (const page of readItemsSince(list, since, limit, progress)) seen.push(...(page as Item[]));
  return seen;
}

describe('readItemsSince', () => {
  it('reads 1,500 items sharing one modifiedTime with limit 1000 in two requests', async () => {
    const catalog = new Map<string, Item>();
    for (let i = 0; i < 1500; i++) {
      const id = `I${String(i).padStart(5, '0')}`;
      catalog.set(id, { id, modifiedTime: 42, version: 0 });
    }
    const clover = fakeClover(catalog);
    const seen = await readAll(clover.list, 0, 1000);
    expect(new Set(seen.map((i) => i.id)).size).toBe(1500);
    expect(clover.calls()).toBe(2);
  });

  it('reads a 1,998-item first sync in two requests (each later page reads the last item of the page before again)', async () => {
    const catalog = new Map<string, Item>();
    for (let i = 0; i < 1998; i++) catalog.set(`I${i}`, { id: `I${i}`, modifiedTime: i, version: 0 });
    const clover = fakeClover(catalog);
    const seen = await readAll(clover.list, undefined, 1000);
    expect(seen.length).toBe(1998);
    expect(new Set(seen.map((i) => i.id)).size).toBe(1998);
    expect(clover.calls()).toBe(2);
  });

  it('reads on from the last modifiedTime read, so an already-read item that moved away makes it skip nothing', async () => {
    // B0 and A fill page one; then A is edited (moves to t=1000). An offset of two past t=0 would
    // now skip C, the item right after A.
    const catalog = new Map<string, Item>([
      ['A', { id: 'A', modifiedTime: 1, version: 0 }],
      ['B0', { id: 'B0', modifiedTime: 0, version: 0 }],
      ['C', { id: 'C', modifiedTime: 2, version: 0 }],
    ]);
    const clover = fakeClover(catalog, (call) => {
      if (call === 1) catalog.set('A', { id: 'A', modifiedTime: 1000, version: 1 });
    });
    const seen = await readAll(clover.list, 0, 2);
    expect(seen.map((i) => i.id)).toContain('C');
    expect(seen.some((i) => i.id === 'A' && i.version === 1)).toBe(true);
  });

  it('stops early rather than risk a skip when items keep moving under it, leaving nothing unread below where it stopped', async () => {
    // One tie group of 30 at t=1 and later items; before every page two already-read items of the
    // group are edited, so no anchor ever holds. Accepting such a page would skip an item.
    const catalog = new Map<string, Item>();
    for (let i = 0; i < 30; i++)
      catalog.set(`A${String(i).padStart(2, '0')}`, {
        id: `A${String(i).padStart(2, '0')}`,
        modifiedTime: 1,
        version: 0,
      });
    for (let i = 0; i < 4; i++) catalog.set(`B${i}`, { id: `B${i}`, modifiedTime: 2 + i, version: 0 });
    let clock = 100;
    const clover = fakeClover(catalog, (call) => {
      if (call === 0) return;
      const group = [...catalog.values()].filter((i) => i.modifiedTime === 1).slice(0, 2);
      for (const it of group) catalog.set(it.id, { ...it, modifiedTime: clock++, version: it.version + 1 });
    });
    const progress = { complete: true };
    const seen = await readAll(clover.list, 0, 3, progress);
    expect(progress.complete).toBe(false);
    const stoppedAt = Math.max(...seen.map((i) => i.modifiedTime));
    const unread = [...catalog.values()].filter(
      (i) => !seen.some((s) => s.id === i.id && s.version === i.version),
    );
    expect(unread.length).toBeGreaterThan(0);
    for (const item of unread) expect(item.modifiedTime).toBeGreaterThanOrEqual(stoppedAt);
  });

  it('restarts when the order within one modifiedTime changed between pages, instead of skipping', async () => {
    // Tie group a,b,c,d at t=1, then e. Page one reads a,b,c; before page two Clover orders the
    // group d,a,c,b: the anchor c is still at offset 2, but b behind it shows the order moved, and
    // trusting the offset would skip d.
    const order = [
      ['a', 'b', 'c', 'd'],
      ['d', 'a', 'c', 'b'],
    ];
    let call = 0;
    const list = async (q: ListItemsQuery) => {
      const tie = order[Math.min(call++, order.length - 1)] ?? [];
      const all = [
        ...tie.map((id) => ({ id, modifiedTime: 1, version: 0 })),
        { id: 'e', modifiedTime: 2, version: 0 },
      ];
      return all.filter((i) => i.modifiedTime >= (q.modifiedSince ?? 0)).slice(q.offset, q.offset + q.limit);
    };
    const seen = await readAll(list, 0, 3);
    expect(new Set(seen.map((i) => i.id))).toEqual(new Set(['a', 'b', 'c', 'd', 'e']));
  });

  it('refuses a page limit that cannot advance past its anchor', async () => {
    const catalog = new Map<string, Item>([['A', { id: 'A', modifiedTime: 1, version: 0 }]]);
    await expect(readAll(fakeClover(catalog).list, 0, 1)).rejects.toThrow(RangeError);
  });

  it('starts at the cursor', async () => {
    const catalog = new Map<string, Item>([
      ['A', { id: 'A', modifiedTime: 5, version: 0 }],
      ['B', { id: 'B', modifiedTime: 10, version: 0 }],
    ]);
    expect((await readAll(fakeClover(catalog).list, 10, 100)).map((i) => i.id)).toEqual(['B']);
  });

  it('skips no item when items are edited (moved to the end) between page reads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 0, maxLength: 200 }),
        fc.integer({ min: 2, max: 30 }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 30 }),
        async (times, limit, edits) => {
          const catalog = new Map<string, Item>();
          times.forEach((t, i) => {
            catalog.set(`I${String(i).padStart(4, '0')}`, {
              id: `I${String(i).padStart(4, '0')}`,
              modifiedTime: t,
              version: 0,
            });
          });
          let clock = 1000;
          const edited = new Set<string>();
          const ids = [...catalog.keys()];
          const clover = fakeClover(catalog, (call) => {
            for (const [when, which] of edits) {
              if (when % 5 !== call || ids.length === 0) continue;
              const id = ids[which % ids.length] as string;
              const it = catalog.get(id) as Item;
              catalog.set(id, { id, modifiedTime: clock++, version: it.version + 1 });
              edited.add(id);
            }
          });
          const progress = { complete: true };
          const seen = await readAll(clover.list, 0, limit, progress);
          const seenIds = new Set(seen.map((i) => i.id));
          // A read that gave up must leave nothing unread below where it stopped: a cursor there is safe.
          const stoppedAt = progress.complete
            ? Number.POSITIVE_INFINITY
            : Math.max(...seen.map((i) => i.modifiedTime));
          for (const [id, item] of catalog) {
            if (item.modifiedTime < stoppedAt) expect(seenIds.has(id)).toBe(true);
          }
          if (!progress.complete) return;
          for (const id of ids) expect(seenIds.has(id)).toBe(true);
          for (const id of edited) {
            const latest = catalog.get(id) as Item;
            expect(seen.some((i) => i.id === id && i.version === latest.version)).toBe(true);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
  it('reads every item, and says so, whatever order Clover gives ties smaller than a page, with edits between pages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 30 }).chain((limit) =>
          fc.tuple(
            fc.constant(limit),
            // Tie groups of up to limit - 1 items: each fits on one page with the item before it.
            fc.array(fc.integer({ min: 1, max: limit - 1 }), { maxLength: 12 }),
            fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 20 }),
            fc.integer(),
          ),
        ),
        async ([limit, groups, edits, seed]) => {
          const catalog = new Map<string, Item>();
          groups.forEach((size, t) => {
            for (let k = 0; k < size; k++) {
              const id = `I${t}-${k}`;
              catalog.set(id, { id, modifiedTime: t, version: 0 });
            }
          });
          const ids = [...catalog.keys()];
          let clock = 1000;
          const clover = fakeClover(
            catalog,
            (call) => {
              for (const [when, which] of edits) {
                if (when % 5 !== call || ids.length === 0) continue;
                const id = ids[which % ids.length] as string;
                const it = catalog.get(id) as Item;
                catalog.set(id, { id, modifiedTime: clock++, version: it.version + 1 });
              }
            },
            // A new order of every tie group on every call.
            (id, call) => hash(`${seed}:${call}:${id}`),
          );
          const progress = { complete: true };
          const seen = await readAll(clover.list, 0, limit, progress);
          expect(progress.complete).toBe(true);
          for (const [id, item] of catalog)
            expect(seen.some((i) => i.id === id && i.version === item.version)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
