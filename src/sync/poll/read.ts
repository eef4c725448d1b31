import type { ListItemsQuery } from '../../clover/client.ts';

/** A listed row's place in the order, read leniently: a row the schema refuses still has one. */
export const keyOf = (raw: unknown): { id?: string; modifiedTime?: number } => {
  const row = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  return {
    ...(typeof row.id === 'string' && row.id !== '' ? { id: row.id } : {}),
    ...(typeof row.modifiedTime === 'number' ? { modifiedTime: row.modifiedTime } : {}),
  };
};
/** The same row: by id and modifiedTime, or whole when it has no id. */
const sameRow = (a: unknown, b: unknown) => {
  const [x, y] = [keyOf(a), keyOf(b)];
  if (y.id === undefined) return JSON.stringify(a) === JSON.stringify(b);
  return x.id === y.id && x.modifiedTime === y.modifiedTime;
};

/** Set by `readItemsSince`: false when it stopped early because the data kept moving under it. */
export interface ReadProgress {
  complete: boolean;
}

/** How often one read restarts its current position after the data moved under it. */
const MAX_RESTARTS = 3;

/**
 * Reads every item with modifiedTime >= `since` in modifiedTime order, keyset style: after a full
 * page, the next one filters from the page's last modifiedTime at offset 0, so it reads that
 * modifiedTime's whole tie group again (whatever order Clover gives ties) and no offset can skip an
 * item that moved; the items of that group already read are passed over. An item edited mid-read
 * moves to the end of the order and is read again later.
 *
 * Only a tie group that fills a whole page (a bulk import) needs offsets within it. There each page
 * re-reads the previous page's last item as an anchor; if the anchor is not where it should be, or
 * an item of the group already read shows up again (Clover changed the order within the group),
 * the offset cannot be trusted and the read restarts at that modifiedTime (these checks catch most
 * reorders, not all: docs/clover.md). If the data keeps moving after MAX_RESTARTS, the read stops
 * before the page it cannot verify and sets `progress.complete = false`: everything yielded so far
 * is correct and every unread item has a modifiedTime >= the last one yielded, so a cursor at that
 * point skips nothing.
 */
export async function* readItemsSince(
  list: (query: ListItemsQuery) => Promise<unknown[]>,
  since: number | undefined,
  limit: number,
  progress: ReadProgress = { complete: true },
): AsyncGenerator<unknown[]> {
  // A page must hold the anchor and at least one new item, or the read cannot advance.
  if (!Number.isInteger(limit) || limit < 2)
    throw new RangeError(`page limit must be at least 2; got ${limit}`);
  let bound = since;
  /** Within a tie group that fills pages: the last row read, and its offset, where the next page starts. */
  let anchor: { row: unknown; offset: number } | undefined;
  let restarts = 0;
  // Ids of the tie group at `bound` read so far: read again, they are passed over.
  let tieRead = new Set<string>();
  const readBefore = (r: unknown) => {
    const x = keyOf(r);
    return x.modifiedTime === bound && x.id !== undefined && tieRead.has(x.id);
  };
  for (;;) {
    const offset = anchor?.offset ?? 0;
    const raw = await list({ ...(bound === undefined ? {} : { modifiedSince: bound }), limit, offset });
    if (anchor && !(sameRow(raw[0], anchor.row) && !raw.slice(1).some(readBefore))) {
      if (restarts === MAX_RESTARTS) {
        progress.complete = false;
        return;
      }
      restarts++;
      [anchor, tieRead] = [undefined, new Set()];
      continue;
    }
    yield (anchor ? raw.slice(1) : raw).filter((r) => !readBefore(r));
    if (raw.length < limit) return;
    const first = keyOf(raw[0]).modifiedTime;
    const last = keyOf(raw.at(-1)).modifiedTime;
    const group = raw.map(keyOf).flatMap((x) => (x.modifiedTime === last && x.id ? [x.id] : []));
    const advances = last !== undefined && (bound === undefined || last > bound);
    if (advances && first !== last) {
      // The next page starts with the whole tie group at `last`: no offset is needed to pass it.
      [bound, anchor, tieRead] = [last, undefined, new Set(group)];
      continue;
    }
    // The whole page is one tie group (or its rows give no later modifiedTime): on by offset.
    if (advances) [bound, tieRead] = [last, new Set()];
    anchor = { row: raw.at(-1), offset: offset + raw.length - 1 };
    for (const id of group) tieRead.add(id);
  }
}

/** Every item Clover lists, as it listed them, or undefined when the listing could not be completed. */
export async function listAll(
  list: (query: ListItemsQuery) => Promise<unknown[]>,
  limit: number,
): Promise<unknown[] | undefined> {
  const rows: unknown[] = [];
  const progress = { complete: true };
  for await (const page of readItemsSince(list, undefined, limit, progress)) rows.push(...page);
  return progress.complete ? rows : undefined;
}
