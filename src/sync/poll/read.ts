import type { ListItemsQuery } from '../../clover/client.ts';
import { ItemIdentitySchema } from '../../clover/schemas.ts';

const identity = (raw: unknown): { id?: string; modifiedTime?: number } => {
  const parsed = ItemIdentitySchema.safeParse(raw);
  return parsed.success ? parsed.data : {};
};
const sameItem = (a: unknown, b: { id?: string; modifiedTime?: number } | undefined) => {
  const x = identity(a);
  return b?.id !== undefined && x.id === b.id && x.modifiedTime === b.modifiedTime;
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
 * the offset cannot be trusted and the read restarts at that modifiedTime. If the data keeps moving
 * after MAX_RESTARTS, the read stops before the page it cannot verify and sets
 * `progress.complete = false`: everything yielded so far is correct and every unread item has a
 * modifiedTime >= the last one yielded, so a cursor at that point skips nothing.
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
  let skip = 0;
  let anchor: { id?: string; modifiedTime?: number } | undefined;
  let restarts = 0;
  // Ids of the tie group at `bound` read so far: read again, they are passed over.
  let tieRead = new Set<string>();
  const readBefore = (r: unknown) => {
    const x = identity(r);
    return x.modifiedTime === bound && x.id !== undefined && tieRead.has(x.id);
  };
  for (;;) {
    const anchored = anchor !== undefined && skip > 0;
    const offset = anchored ? skip - 1 : skip;
    const raw = await list({ ...(bound === undefined ? {} : { modifiedSince: bound }), limit, offset });
    if (anchored && !(sameItem(raw[0], anchor) && !raw.slice(1).some(readBefore))) {
      if (restarts === MAX_RESTARTS) {
        progress.complete = false;
        return;
      }
      restarts++;
      [skip, anchor, tieRead] = [0, undefined, new Set()];
      continue;
    }
    yield (anchored ? raw.slice(1) : raw).filter((r) => !readBefore(r));
    if (raw.length < limit) return;
    const lastItem = identity(raw.at(-1));
    const last = lastItem.modifiedTime;
    const group = raw.map(identity).flatMap((x) => (x.modifiedTime === last && x.id ? [x.id] : []));
    if (last === undefined || identity(raw[0]).modifiedTime === last) {
      // No usable key, or the whole page is one tie group: on by offset within it.
      if (last !== bound) tieRead = new Set();
      [bound, skip, anchor] = [last ?? bound, offset + raw.length, lastItem];
      for (const id of group) tieRead.add(id);
    } else {
      // The next page starts with the whole tie group at `last`: no offset is needed to pass it.
      [bound, skip, anchor, tieRead] = [last, 0, undefined, new Set(group)];
    }
  }
}

/** Every item id Clover lists, or undefined when the listing could not be completed. */
export async function listAllIds(
  list: (query: ListItemsQuery) => Promise<unknown[]>,
  limit: number,
): Promise<Set<string> | undefined> {
  const ids = new Set<string>();
  const progress = { complete: true };
  for await (const page of readItemsSince(list, undefined, limit, progress)) {
    for (const raw of page) {
      const { id } = identity(raw);
      if (id !== undefined) ids.add(id);
    }
  }
  return progress.complete ? ids : undefined;
}
