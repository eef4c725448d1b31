import fc from 'fast-check';
import type { ListItemsQuery } from '../../src/clover/client.ts';
import { readItemsSince } from '../../src/sync/poll/read.ts';

/**
 * A model of Clover's item listing for the reader: filter modifiedTime >= since, order modifiedTime
 * ASC, limit/offset, and no promised order among items with one modifiedTime (the model may give
 * ties a new order on every call, or one per offset). Between any two calls items may be edited
 * (a new, larger modifiedTime: the item moves to the end), deleted or created. `key` tracks a row
 * even when it has no usable id.
 */
export interface Row {
  key: string;
  id?: string;
  modifiedTime?: number;
  version: number;
}

// edit: one item gets a new, larger modifiedTime; bulkEdit: several items get one new modifiedTime;
// import: several new items with one modifiedTime.
export type OpKind = 'edit' | 'delete' | 'create' | 'bulkEdit' | 'import';
interface Op {
  at: number;
  kind: OpKind;
  which: number;
}
export type TieOrder =
  | { kind: 'stable' }
  | { kind: 'perCall' | 'perOffset'; seed: number }
  // The order of the keys on each call (the last one for later calls).
  | { kind: 'explicit'; calls: string[][] };

export interface World {
  limit: number;
  since: number | undefined;
  rows: Row[];
  ops: Op[];
  order: TieOrder;
}

/** More calls than any read of these small worlds needs: a read that makes them is looping. */
export const CALL_CAP = 400;
class Looping extends Error {}

/** The model over `world`; `log` gets each call's query and the whole ordered listing it saw. */
export function cloverModel(world: World, log?: (line: string) => void) {
  const catalog = new Map(world.rows.map((r) => [r.key, { ...r }]));
  let clock = 1 + Math.max(0, ...world.rows.map((r) => r.modifiedTime ?? 0));
  let created = 0;
  let calls = 0;
  let last = new Map(catalog);
  const tieKey = (key: string, call: number, offset: number) => {
    const o = world.order;
    if (o.kind === 'stable') return 0;
    if (o.kind === 'explicit') return (o.calls[Math.min(call, o.calls.length - 1)] ?? []).indexOf(key);
    return hash(`${o.seed}:${o.kind === 'perCall' ? call : offset}:${key}`);
  };
  const list = async (q: ListItemsQuery) => {
    const call = calls++;
    if (calls > CALL_CAP) throw new Looping(`more than ${CALL_CAP} list calls`);
    for (const op of world.ops) {
      if (op.at !== call) continue;
      const keys = [...catalog.keys()].sort();
      const key = keys[op.which % Math.max(1, keys.length)];
      const row = key === undefined ? undefined : catalog.get(key);
      const many = 2 + (op.which % 5);
      if (op.kind === 'create') {
        const id = `N${created++}`;
        catalog.set(id, { key: id, id, modifiedTime: clock++, version: 0 });
      } else if (op.kind === 'import') {
        for (let k = 0; k < many; k++) {
          const id = `N${created++}`;
          catalog.set(id, { key: id, id, modifiedTime: clock, version: 0 });
        }
        clock++;
      } else if (op.kind === 'bulkEdit') {
        for (let k = 0; k < Math.min(many, keys.length); k++) {
          const r = catalog.get(keys[(op.which + k) % keys.length] as string) as Row;
          catalog.set(r.key, { ...r, modifiedTime: clock, version: r.version + 1 });
        }
        clock++;
      } else if (row && op.kind === 'delete') catalog.delete(row.key);
      else if (row && op.kind === 'edit')
        catalog.set(row.key, { ...row, modifiedTime: clock++, version: row.version + 1 });
    }
    last = new Map(catalog);
    const rows = [...catalog.values()]
      .filter(
        (r) =>
          q.modifiedSince === undefined ||
          (r.modifiedTime !== undefined && r.modifiedTime >= q.modifiedSince),
      )
      .sort(
        (a, b) =>
          (a.modifiedTime ?? -1) - (b.modifiedTime ?? -1) ||
          tieKey(a.key, call, q.offset) - tieKey(b.key, call, q.offset) ||
          a.key.localeCompare(b.key),
      );
    log?.(
      `call ${call} since=${q.modifiedSince} offset=${q.offset}: ${rows.map((r) => `${r.key}@${r.modifiedTime}`).join(' ')}`,
    );
    return rows.slice(q.offset, q.offset + q.limit).map((r) => ({
      key: r.key,
      version: r.version,
      ...(r.id === undefined ? {} : { id: r.id }),
      ...(r.modifiedTime === undefined ? {} : { modifiedTime: r.modifiedTime }),
    }));
  };
  return { list, calls: () => calls, atLastCall: () => last };
}

/** One read of `world`; `final` is the catalog as the last list call saw it. */
export async function runRead(world: World, reader: typeof readItemsSince = readItemsSince) {
  const clover = cloverModel(world);
  const progress = { complete: true };
  const seen: Row[] = [];
  let looped = false;
  try {
    for await (const page of reader(clover.list, world.since, world.limit, progress))
      seen.push(...(page as Row[]));
  } catch (err) {
    if (!(err instanceof Looping)) throw err;
    looped = true;
  }
  return { seen, looped, complete: progress.complete, calls: clover.calls(), final: clover.atLastCall() };
}

/** Problems with one read against the contract (empty: it kept it). */
export function breaches(world: World, run: Awaited<ReturnType<typeof runRead>>): string[] {
  if (run.looped) return [`no end: ${run.calls} list calls`];
  const out: string[] = [];
  const inRange = (r: Row) =>
    r.id !== undefined &&
    r.modifiedTime !== undefined &&
    (world.since === undefined || r.modifiedTime >= world.since);
  const got = (r: Row) => run.seen.some((s) => s.key === r.key && s.version === r.version);
  const valid = run.seen.filter((s) => s.id !== undefined && s.modifiedTime !== undefined);
  const reached = Math.max(-1, ...valid.map((s) => s.modifiedTime as number));
  for (const r of run.final.values()) {
    if (!inRange(r) || got(r)) continue;
    // Complete: every item there at the last call, in its version then. Stopped early: nothing
    // unread below the newest modifiedTime yielded, so a cursor there skips nothing.
    if (run.complete) out.push(`complete, but ${r.key}@${r.modifiedTime} v${r.version} not yielded`);
    else if ((r.modifiedTime as number) < reached)
      out.push(`stopped at ${reached}, but ${r.key}@${r.modifiedTime} v${r.version} not yielded`);
  }
  return out;
}

/** Tie group sizes around the page limit: smaller, equal, one more, multiples and one less. */
const groupSize = (limit: number) =>
  fc.oneof(
    fc.integer({ min: 1, max: Math.max(1, limit - 1) }),
    fc.constant(limit),
    fc.constant(limit + 1),
    fc.integer({ min: 2, max: 3 }).map((k) => k * limit),
    fc.integer({ min: 2, max: 3 }).map((k) => k * limit - 1),
    fc.integer({ min: 1, max: 3 * limit + 2 }),
  );

const tieOrder: fc.Arbitrary<TieOrder> = fc.oneof(
  fc.constant({ kind: 'stable' as const }),
  fc.integer().map((seed) => ({ kind: 'perCall' as const, seed })),
  fc.integer().map((seed) => ({ kind: 'perOffset' as const, seed })),
);

export function worldArb(opts: {
  kinds: OpKind[];
  invalid: boolean;
  maxLimit?: number;
  smallTies?: boolean;
}) {
  return fc.integer({ min: 2, max: opts.maxLimit ?? 6 }).chain((limit) =>
    fc
      .record({
        groups: fc.array(opts.smallTies ? fc.integer({ min: 1, max: limit - 1 }) : groupSize(limit), {
          maxLength: 6,
        }),
        // Rows without an id (a modifiedTime of the group) or without a modifiedTime.
        bad: opts.invalid
          ? fc.array(fc.tuple(fc.constantFrom('noId', 'noTime'), fc.nat()), { maxLength: 3 })
          : fc.constant([] as ['noId' | 'noTime', number][]),
        sinceAt: fc.option(fc.nat(), { nil: undefined }),
        ops:
          opts.kinds.length === 0
            ? fc.constant([] as Op[])
            : fc.array(
                fc.record({ at: fc.nat({ max: 12 }), kind: fc.constantFrom(...opts.kinds), which: fc.nat() }),
                { maxLength: 8 },
              ),
        order: tieOrder,
      })
      .map(({ groups, bad, sinceAt, ops, order }): World => {
        const rows: Row[] = [];
        groups.forEach((size, g) => {
          for (let k = 0; k < size; k++)
            rows.push({ key: `G${g}-${k}`, id: `G${g}x${k}`, modifiedTime: g + 1, version: 0 });
        });
        bad.forEach(([kind, n], b) => {
          const t = groups.length === 0 ? 1 : (n % groups.length) + 1;
          rows.push(
            kind === 'noId'
              ? { key: `B${b}`, modifiedTime: t, version: 0 }
              : { key: `B${b}`, id: `B${b}`, version: 0 },
          );
        });
        const since = sinceAt === undefined ? undefined : sinceAt % (groups.length + 2);
        return { limit, since, rows, ops, order };
      }),
  );
}

export const show = (world: World) =>
  JSON.stringify({
    ...world,
    rows: world.rows.map((r) => `${r.key}@${r.modifiedTime ?? '-'}${r.id ? '' : '(no id)'}`),
  });

/** A stable pseudo-random number for a string (FNV-1a). */
export function hash(text: string) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
