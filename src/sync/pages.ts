import { ItemIdentitySchema } from '../clover/schemas.ts';
import type { ListItemsQuery } from '../clover/client.ts';

const modifiedTimeOf = (raw: unknown): number | undefined => {
  const parsed = ItemIdentitySchema.safeParse(raw);
  return parsed.success ? parsed.data.modifiedTime : undefined;
};

/**
 * Reads every item with modifiedTime >= `since` in modifiedTime order, keyset style: each page
 * restarts the filter at the last modifiedTime seen and skips only the items of that tie group
 * already read. Unlike plain offset paging, an item edited mid-read (it moves to the end of the
 * order) cannot shift unread items past a page boundary; it is simply read again later.
 * A tie group larger than a page (bulk imports) is walked with a growing offset.
 */
export async function* readItemsSince(
  list: (query: ListItemsQuery) => Promise<unknown[]>,
  since: number | undefined,
  limit: number,
): AsyncGenerator<unknown[]> {
  let bound = since;
  let skip = 0;
  for (;;) {
    const page = await list({ ...(bound === undefined ? {} : { modifiedSince: bound }), limit, offset: skip });
    yield page;
    if (page.length < limit) return;
    const times = page.map(modifiedTimeOf);
    const last = times.at(-1);
    if (last === undefined || last === bound) {
      // No usable key (or the whole page is one tie group): continue by offset within it.
      skip += page.length;
      continue;
    }
    bound = last;
    skip = times.filter((t) => t === last).length;
  }
}
