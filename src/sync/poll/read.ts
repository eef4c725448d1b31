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
 * Reads every item with modifiedTime >= `since` in modifiedTime order, keyset style: each page
 * restarts the filter at the last modifiedTime seen and skips only the items of that tie group
 * already read. To notice when an edit moved one of those skipped items away (which would shift
 * an unread item into the skipped range), each page re-reads the previous page's last item as an
 * anchor; if the anchor is not where it should be, the read restarts at the current modifiedTime
 * instead of risking a skip. Items re-read that way cost nothing downstream (content hashes).
 * An item edited mid-read moves to the end of the order and is read again later. Clover does not
 * promise a stable order within one modifiedTime, so a page that shows again an item of the tie
 * group already read (same id and modifiedTime) also means the offset cannot be trusted: restart.
 *
 * If the data keeps moving after MAX_RESTARTS, the read stops before the page it cannot verify and
 * sets `progress.complete = false`: everything yielded so far is correct and every unread item has
 * a modifiedTime >= the last one yielded, so a cursor at that point skips nothing.
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
  // Ids read so far in the tie group at `bound` (the items `skip` steps over).
  let tieRead = new Set<string>();
  const rereadsTie = (items: unknown[]) =>
    items.some((r) => {
      const x = identity(r);
      return x.modifiedTime === bound && x.id !== undefined && tieRead.has(x.id);
    });
  for (;;) {
    const anchored = anchor !== undefined && skip > 0;
    const raw = await list({
      ...(bound === undefined ? {} : { modifiedSince: bound }),
      limit,
      offset: anchored ? skip - 1 : skip,
    });
    let page = raw;
    if (anchored) {
      if (sameItem(raw[0], anchor) && !rereadsTie(raw.slice(1))) {
        page = raw.slice(1);
      } else if (restarts < MAX_RESTARTS) {
        restarts++;
        skip = 0;
        anchor = undefined;
        tieRead = new Set();
        continue;
      } else {
        progress.complete = false;
        return;
      }
    }
    yield page;
    if (raw.length < limit) return;
    const lastItem = identity(raw.at(-1));
    anchor = lastItem;
    const last = lastItem.modifiedTime;
    const tieIds = (items: unknown[]) =>
      items.map(identity).flatMap((x) => (x.modifiedTime === last && x.id !== undefined ? [x.id] : []));
    if (last === undefined || last === bound) {
      // No usable key, or the whole page is one tie group: continue by offset within it.
      skip += page.length;
      for (const id of tieIds(page)) tieRead.add(id);
      continue;
    }
    bound = last;
    skip = raw.filter((r) => identity(r).modifiedTime === last).length;
    tieRead = new Set(tieIds(raw));
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
