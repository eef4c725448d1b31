/**
 * A store's whole world in memory for the shelf tests: a Clover catalog, the real poll and push over
 * the in-memory stores, a push queue that can duplicate, reorder, redeliver and lose messages, and a
 * Hipoink that fails, times out and refuses. `check` is the oracle: what Hipoink must hold once
 * everything settles, computed from the catalog alone (the stored wanted-since times only order two
 * items wanting one code, and each is held to bounds the world keeps from Clover's versions and what
 * the polls surely saved); and no label was ever unbound while its item visibly wanted it
 * throughout.
 */
import type { CloverClient } from '../../src/clover/client.ts';
import { countShelf, NO_COUNTS } from '../../src/domain/counts.ts';
import { transformItem } from '../../src/domain/label.ts';
import { ownerOf, wantedLabel } from '../../src/domain/shelf.ts';
import type { HipoinkProduct } from '../../src/hipoink/fields.ts';
import type { PushMessage } from '../../src/sync/messages.ts';
import { type PollResult, pollMerchant } from '../../src/sync/poll/index.ts';
import { pushCodes } from '../../src/sync/push.ts';
import { hash } from './clover-items-model.ts';
import { FakeHipoink, FakeMerchantStore, FakeShelfStore, merchantRecord } from './fakes.ts';

export interface CatalogItem {
  id: string;
  name: string;
  sku: string;
  price: number;
  hidden: boolean;
  modifiedTime: number;
}

/** What the world knows of one item's want (see `tracks` in `createWorld`). */
interface Track {
  /** When it last changed in Clover (a count of catalog changes). */
  lastChange: number;
  /** The code it wants in Clover: that of its last valid version, none while hidden. */
  want?: string;
  validCode?: string;
  /** Counts the changes of `want`: versions of one run want one code without a break. */
  run: number;
  /** No poll that started before this saves it (a poll running when it was created may). */
  bornAfter: number;
  /** Its versions completed polls saved (the start of each poll, what the version wants, its run). */
  saved: { at: number; want?: string; run: number }[];
}

export const SETTINGS = {
  pageLimit: 3,
  overlapMs: 120_000,
  cleanupEveryPolls: 3,
  cleanupIntervalHours: 24,
  hipoinkChunkSize: 2,
  merchantRequestsPerSecond: 100_000,
  storeWriteConcurrency: 4,
};

/** A poll as the world saw it: its start, its read's lower bound (null: none), and its GETs. */
interface PollSeen {
  at: number;
  /** The count of catalog changes when it began. */
  from: number;
  since?: number | null;
  gets: { id: string; change: number }[];
  /**
   * The store as it found it, when some record wanted a code for an item Clover had deleted; after
   * polls that stopped, as the first of them found it (their retry finishes what they began).
   */
  found?: StoreSeen;
}

/**
 * The store as a poll found it: the items Clover still had, what each record wanted (code, label,
 * since), who each slot named (`id@since`, sorted) and whose label it held.
 */
interface StoreSeen {
  inClover: ReadonlySet<string>;
  wants: ReadonlyMap<string, { code: string; labelHash: string; since: number }>;
  named: ReadonlyMap<string, string>;
  holders: ReadonlyMap<string, string>;
}

const START = 1_700_000_000_000;

/** Hipoink refuses labels whose name carries a '!'. */
export const REFUSED_MARK = '!';

export function createWorld(over: Partial<typeof SETTINGS> = {}) {
  const settings = { ...SETTINGS, ...over };
  /**
   * For that many list calls, Clover orders items of one modifiedTime anew on each call (it promises
   * no order among them): a read paging by offset through a bulk import may stop early.
   */
  let churn = 0;
  let listCalls = 0;
  let clock = START;
  /** Set while a bulk edit runs: its items all get this one modifiedTime. */
  let bulkAt: number | undefined;
  const nextModifiedTime = () => {
    if (bulkAt === undefined) clock += 1000;
    return bulkAt ?? clock;
  };
  let nextId = 0;
  const catalog = new Map<string, CatalogItem>();
  const getCalls: string[] = [];
  /**
   * The world's own account of since when each item wants its code, apart from the stored records:
   * what Clover made of the item, and which of its versions polls that completed are known to have
   * saved. Which poll saves a version depends on where reads stop and writes fail, so it gives
   * bounds, not the time: a version saved by a poll wants its code since that poll's start at the
   * latest, while the item wanted it without a break since; and an item saved wanting another code
   * or none wants its code since a later poll. `check` holds each record's wantsSince to them.
   */
  let changes = 0;
  const tracks = new Map<string, Track>();
  let polling: PollSeen | undefined;
  const noteChange = (id: string) => {
    const item = catalog.get(id);
    if (!item) return void tracks.delete(id);
    const t = tracks.get(id) ?? { lastChange: 0, run: 0, bornAfter: polling?.at ?? clock, saved: [] };
    tracks.set(id, t);
    t.lastChange = ++changes;
    // An invalid version keeps the code of the last valid one; a hidden one wants none, and so do
    // invalid ones after it until a valid one.
    if (item.hidden) t.validCode = undefined;
    else if (item.name !== '') t.validCode = item.sku;
    const want = item.hidden ? undefined : t.validCode;
    if (want !== t.want) t.run++;
    t.want = want;
  };
  /** A completed poll saved the item as it is now (an invalid version tells nothing: its code is the record's). */
  const saved = (id: string, at: number) => {
    const [item, t] = [catalog.get(id), tracks.get(id)];
    if (!item || !t || (!item.hidden && item.name === '')) return;
    t.saved.push({ at, want: t.want, run: t.run });
  };
  const unchangedSince = (id: string, change: number) =>
    (tracks.get(id)?.lastChange ?? Number.POSITIVE_INFINITY) <= change;
  /**
   * What a completed poll surely saved, as it is now: an item a GET returned, unchanged since; and,
   * when its read got to the end, every item unchanged since the poll began that the read's lower
   * bound takes in. (Which versions a read gets of items edited under it depends on where it was.)
   */
  const polled = (seen: PollSeen, result: PollResult) => {
    if (result.status !== 'synced') return;
    const sure = new Set(seen.gets.filter((get) => unchangedSince(get.id, get.change)).map((get) => get.id));
    if (result.partial === undefined && seen.since !== undefined)
      for (const item of catalog.values())
        if (unchangedSince(item.id, seen.from) && (seen.since === null || item.modifiedTime >= seen.since))
          sure.add(item.id);
    for (const id of sure) saved(id, seen.at);
    if (result.partial === undefined) ledBy(seen, sure);
  };
  /**
   * Deleted items a completed poll must have confirmed gone, by code. owners.ts promises (and the
   * README) that a code a deleted item holds changes hands in the poll that reads an item newly
   * wanting it, or its owner leaving it: the owner the poll did not read is asked for, and so is the
   * next in line once it is found gone. The world counts only what it is sure of: the poll's read
   * got to the end, and it saved an item's version, unchanged since, which
   * - wants a label its record did not want when the poll began (the poll wrote that want): the
   *   code is contested, and the deleted items ahead of the first item Clover still had are asked for;
   * - or no longer wants the code its record wanted first (the poll dropped the owner): the code
   *   changes hands, and the deleted items next in line are asked for, up to one whose label Hipoink
   *   is recorded to hold (that one no longer changes hands).
   * In both, the code's slot named exactly the records wanting it as the poll began (else a repair
   * or a stale name may put another item first). A deleted item no visible item's change leads a
   * routine poll to is not among them: it keeps its code until ghost cleanup. Polls that stopped
   * count as one with their completed retry, which decides every code they touched, whatever a push
   * did meanwhile (it may have put the next in line's label up already).
   */
  const ghostsDue = new Map<string, Set<string>>();
  /** Since a poll began that has no completed retry yet: what it found. */
  let stopped: { found?: StoreSeen } | undefined;
  const ledBy = (seen: PollSeen, sure: ReadonlySet<string>) => {
    if (!seen.found) return; // no deleted item wanted a code
    const { inClover, wants, named, holders } = seen.found;
    /** The records wanting the code as the poll began, first in line first; none if its slot named others. */
    const line = (code: string) => {
      const wanting = [...wants]
        .filter(([, w]) => w.code === code)
        .map(([id, w]) => ({ id, since: w.since }));
      if ((named.get(code) ?? '') !== namesOf(wanting)) return [];
      return wanting.sort((a, b) => a.since - b.since || (a.id < b.id ? -1 : 1));
    };
    /** Those of `ws`, from the first on, that Clover had deleted, up to one `stops`. */
    const due = (code: string, ws: readonly { id: string }[], stops: (id: string) => boolean) => {
      for (const w of ws) {
        if (inClover.has(w.id) || stops(w.id)) return;
        ghostsDue.set(code, (ghostsDue.get(code) ?? new Set()).add(w.id));
      }
    };
    for (const id of sure) {
      const item = catalog.get(id);
      const outcome = item && transformItem(item, pollDeps.productCodePrecedence);
      // Gone (a deleted item itself), or invalid (keeping what its record wanted): no lead.
      if (!outcome || outcome.kind === 'invalid') continue;
      const [was, now] = [wants.get(id), outcome.kind === 'label' ? outcome : undefined];
      const code = now?.desired.label.pc;
      if (now && code && was?.labelHash !== now.labelHash) due(code, line(code), () => false);
      if (!was || was.code === code) continue;
      const ws = line(was.code);
      if (ws[0]?.id === id) due(was.code, ws.slice(1), (g) => holders.get(was.code) === g);
    }
  };
  const namesOf = (ws: readonly { id: string; since: number }[]) =>
    ws
      .map((w) => `${w.id}@${w.since}`)
      .sort()
      .join(' ');
  /** The store as a poll begins (see `StoreSeen`); none while no deleted item wants a code (most polls). */
  const storeNow = (): StoreSeen | undefined => {
    const wants = new Map<string, { code: string; labelHash: string; since: number }>();
    for (const r of shelf.items.values()) {
      const want = wantedLabel(r);
      if (r.merchantId === 'M1' && want)
        wants.set(r.itemId, { code: want.label.pc, labelHash: want.labelHash, since: r.wantsSince });
    }
    if ([...wants.keys()].every((id) => catalog.has(id))) return undefined;
    const [named, holders] = [new Map<string, string>(), new Map<string, string>()];
    for (const slot of shelf.slots.values()) {
      named.set(slot.code, namesOf(slot.wanters.map((w) => ({ id: w.itemId, since: w.wantsSince }))));
      if (slot.held) holders.set(slot.code, slot.held.itemId);
    }
    return { inClover: new Set(catalog.keys()), wants, named, holders };
  };
  /** Clover edits made just before the next GET of an item (between a poll's read and its GET). */
  let beforeGet: ((id: string) => void) | undefined;
  /** Clover edits made just before a poll's list call of that index (0: its first). */
  let beforeList: { call: number; run: () => void } | undefined;
  const clover: CloverClient = {
    async listItems(_m, _t, q) {
      if (beforeList && beforeList.call-- <= 0) {
        const edits = beforeList.run;
        beforeList = undefined;
        edits();
      }
      const call = listCalls++;
      if (polling && polling.since === undefined) polling.since = q.modifiedSince ?? null;
      const tieOrder = churn-- > 0 ? (id: string) => hash(`${call}:${id}`) : () => 0;
      return [...catalog.values()]
        .filter((i) => q.modifiedSince === undefined || i.modifiedTime >= q.modifiedSince)
        .sort(
          (a, b) =>
            a.modifiedTime - b.modifiedTime || tieOrder(a.id) - tieOrder(b.id) || (a.id < b.id ? -1 : 1),
        )
        .slice(q.offset, q.offset + q.limit)
        .map((i) => ({ ...i }));
    },
    async getItem(_m, _t, id) {
      const edits = beforeGet;
      beforeGet = undefined;
      edits?.(id);
      getCalls.push(id);
      polling?.gets.push({ id, change: changes });
      const i = catalog.get(id);
      return i ? { ...i } : null;
    },
    refreshTokens: async () => Promise.reject(new Error('not used')),
    recoverTokens: async () => Promise.reject(new Error('not used')),
  };
  const hipoink = new FakeHipoink();
  hipoink.refuse = (p) => p.pn.includes(REFUSED_MARK);
  /**
   * Deleting a product unbinds its physical label, so a code some visible item has wanted without a
   * break since its product was created in Hipoink must never be deleted, with exceptions the
   * design allows (and the product created stale, below): the owner (as the store records it) has a label Hipoink refuses, so another
   * item's label comes down; or the label deleted is not the one recorded as held (Hipoink took it
   * without the answer reaching us). Times here count events.
   */
  let events = 0;
  const wantedSince = new Map<string, number>();
  const createdAt = new Map<string, number>();
  const unbound: string[] = [];
  const noteWanted = () => {
    // A bulk edit is seen whole by every read (one modifiedTime, nothing runs inside it): its
    // intermediate states are no gap in who wants a code. It is noted once, when it ends.
    if (bulkAt !== undefined) return;
    for (const code of new Set([...catalog.values()].map((i) => i.sku).concat([...wantedSince.keys()]))) {
      const wanted = [...catalog.values()].some((i) => i.sku === code && !i.hidden && i.name !== '');
      if (!wanted) wantedSince.delete(code);
      else if (!wantedSince.has(code)) wantedSince.set(code, ++events);
    }
  };
  /**
   * Codes whose product was last created from a label its item no longer wanted in Clover (a push
   * working from what a poll read before a later edit). Deleting one while no stored record wants
   * the code (the poll that would see the new wanter has not read it yet) is polling's lag, not a
   * fault: Clover passed through a state where the product's own item did not want it.
   */
  const createdStale = new Set<string>();
  hipoink.onDelete = (held) => {
    if ((wantedSince.get(held.pc) ?? Number.POSITIVE_INFINITY) > (createdAt.get(held.pc) ?? 0)) return;
    const stored = [...shelf.items.values()].some((r) => wantedLabel(r)?.label.pc === held.pc);
    if (createdStale.has(held.pc) && !stored) return;
    const slot = shelf.slots.get(`M1/${held.pc}`);
    if (slot && ownerOf(slot)?.label.pn.includes(REFUSED_MARK)) return;
    if (JSON.stringify(slot?.held?.label) !== JSON.stringify(held)) return;
    unbound.push(`${held.pc}: wanted all along, yet ${held.pn}'s label was deleted`);
  };
  const createMultiple = hipoink.createMultiple.bind(hipoink);
  const createOne = hipoink.create.bind(hipoink);
  /** A product is created where the code held nothing (re-sending or replacing a label binds nothing new). */
  const creating = async (ps: readonly HipoinkProduct[], call: () => Promise<void>) => {
    const fresh = ps.filter((p) => !hipoink.shelf.has(p.pc));
    try {
      await call();
    } finally {
      for (const p of fresh) {
        if (!hipoink.shelf.has(p.pc)) continue;
        createdAt.set(p.pc, ++events);
        const item = catalog.get(p.pn.replace(/^N/, '').replace(REFUSED_MARK, ''));
        const wanted = item && !item.hidden && item.name !== '' && item.sku === p.pc;
        if (wanted) createdStale.delete(p.pc);
        else createdStale.add(p.pc);
      }
    }
  };
  hipoink.createMultiple = (st, ps) => creating(ps, () => createMultiple(st, ps));
  hipoink.create = (st, p) => creating([p], () => createOne(st, p));
  const merchants = new FakeMerchantStore(merchantRecord());
  const shelf = new FakeShelfStore(() => clock);
  /**
   * The rule that keeps a push from deleting a wanted code: an item leaves a slot only while every
   * stored record that wants the code is named in it (records are written before their wants, so
   * a drop must wait for the wants; see docs/design.md).
   */
  const touchSlot = shelf.touchSlot.bind(shelf);
  shelf.touchSlot = async (m, code, change, at) => {
    const before = await touchSlot(m, code, change, at);
    const named = new Set(shelf.slots.get(`${m}/${code}`)?.wanters.map((w) => w.itemId));
    const missing = [...shelf.items.values()].filter(
      (r) => r.merchantId === m && wantedLabel(r)?.label.pc === code && !named.has(r.itemId),
    );
    if ('drop' in change && missing.length > 0)
      unbound.push(`${code}: ${change.drop} left it while ${missing.map((r) => r.itemId)} wanted it unnamed`);
    return before;
  };
  /** Messages sent and not yet deleted by a successful push, in sending order. */
  const queue: PushMessage[] = [];
  const pollDeps = {
    merchants,
    shelf,
    clover,
    tokens: { accessToken: async () => 'token' },
    pushQueue: {
      send: async (ms: ReadonlyArray<{ body: unknown }>) =>
        void queue.push(...ms.map((m) => m.body as PushMessage)),
    },
    settings,
    productCodePrecedence: ['sku', 'code', 'id'] as const,
    now: () => clock,
  };
  const pushDeps = { merchants, shelf, hipoink, settings };

  /**
   * The code rule over the catalog: of the visible valid items with that code, the one that wanted it
   * first, as the records say (`wantsSinceAstray` holds them to the world's own account).
   */
  const ownerInCatalog = (code: string) => {
    const seen = (i: CatalogItem) => shelf.items.get(`M1/${i.id}`)?.wantsSince ?? Number.POSITIVE_INFINITY;
    let owner: CatalogItem | undefined;
    for (const item of catalog.values()) {
      if (item.hidden || item.name === '' || item.sku !== code) continue;
      if (!owner || seen(item) < seen(owner) || (seen(item) === seen(owner) && item.id < owner.id))
        owner = item;
    }
    return owner;
  };
  /**
   * Where a record's wantsSince falls outside the world's bounds (the order `ownerInCatalog` takes
   * from the records is then not the code rule's): a price change or an invalid version keeps it, a
   * change of code or a hide starts it anew. Times are shown from the world's first clock.
   */
  const wantsSinceAstray = () => {
    const problems: string[] = [];
    const time = (t: number) => `+${(t - START) / 1000}s`;
    for (const item of catalog.values()) {
      const t = tracks.get(item.id);
      const code = t?.want;
      if (!t || code === undefined) continue;
      const latest = Math.min(...t.saved.filter((v) => v.run === t.run).map((v) => v.at));
      const earliest = Math.max(t.bornAfter, ...t.saved.filter((v) => v.want !== code).map((v) => v.at + 1));
      const record = shelf.items.get(`M1/${item.id}`);
      const wanted = wantedLabel(record)?.label.pc;
      if (wanted !== code) {
        if (latest < Number.POSITIVE_INFINITY)
          problems.push(
            `${item.id}: saved wanting ${code} at ${time(latest)}, and wanting it since; its record wants ${wanted}`,
          );
        continue;
      }
      const since = record?.wantsSince ?? Number.NaN;
      if (since > latest)
        problems.push(
          `${item.id}: wants ${code} since ${time(latest)} at the latest; its record says ${time(since)}`,
        );
      if (since < earliest)
        problems.push(
          `${item.id}: wants ${code} since ${time(earliest)} at the earliest; its record says ${time(since)}`,
        );
    }
    return problems;
  };
  const edit = (id: string, change: Partial<CatalogItem>) => {
    const item = catalog.get(id);
    if (!item) return;
    catalog.set(id, { ...item, ...change, modifiedTime: nextModifiedTime() });
    noteChange(id);
    noteWanted();
  };
  /** Runs `work` with the stores failing after `writes` writes (a Lambda stopped halfway), if given. */
  const interrupted = async (writes: number | undefined, work: () => Promise<unknown>) => {
    shelf.writesBeforeFailure = writes;
    try {
      await work();
      return true;
    } catch {
      return false;
    } finally {
      shelf.writesBeforeFailure = undefined;
    }
  };

  const world = {
    catalog,
    hipoink,
    shelf,
    merchants,
    queue,
    getCalls,
    get clock() {
      return clock;
    },
    /** Runs `edits` in Clover just before the next GET of an item. */
    beforeNextGet(edits: (id: string) => void) {
      beforeGet = edits;
    },
    wait(ms: number) {
      clock += ms;
    },
    create(code: string, price: number) {
      const id = `I${String(nextId++).padStart(3, '0')}`;
      const modifiedTime = nextModifiedTime();
      catalog.set(id, { id, name: `N${id}`, sku: code, price, hidden: false, modifiedTime });
      noteChange(id);
      noteWanted();
      return id;
    },
    /** Edits made as one bulk edit (an import): every item they touch gets one modifiedTime. */
    async bulk(run: () => unknown) {
      clock += 1000;
      bulkAt = clock;
      try {
        await run();
      } finally {
        bulkAt = undefined;
        noteWanted();
      }
    },
    /** Items created with these codes and prices, then polled and pushed: a shelf to start from. */
    async onShelf<T extends ReadonlyArray<readonly [code: string, price: number]>>(...items: T) {
      const ids = items.map(([code, price]) => world.create(code, price));
      await world.poll();
      await world.drain();
      return ids as { [K in keyof T]: string };
    },
    setPrice: (id: string, price: number) => edit(id, { price }),
    recode: (id: string, sku: string) => edit(id, { sku }),
    swap(a: string, b: string) {
      const [x, y] = [catalog.get(a)?.sku, catalog.get(b)?.sku];
      if (x === undefined || y === undefined || a === b) return;
      edit(a, { sku: y });
      edit(b, { sku: x });
    },
    hide: (id: string) => edit(id, { hidden: true }),
    show: (id: string) => edit(id, { hidden: false }),
    remove(id: string) {
      catalog.delete(id);
      noteChange(id);
      noteWanted();
    },
    /** An edit that makes the item invalid (no name), or valid again. */
    breakName: (id: string) => edit(id, { name: '' }),
    fixName: (id: string) => edit(id, { name: `N${id}` }),
    /** A name Hipoink refuses. */
    refusedName: (id: string) => edit(id, { name: `N${id}${REFUSED_MARK}` }),

    /**
     * A poll; `besidePush` delivers a push message in the middle of it, after that many writes;
     * `midEdits` (when no push is beside it) edits Clover there.
     */
    poll(
      opts: {
        full?: boolean;
        since?: number;
        failAfterWrites?: number;
        besidePush?: number;
        midEdits?: { afterWrites: number; run: () => Promise<void> };
        /** Clover orders ties anew on that many list calls (see `churn` above). */
        churn?: number;
        /** Items a webhook notice said were deleted. */
        confirmGone?: string[];
        /** Clover edits made just before the poll's list call of that index (its read's pages, then the id listing). */
        listEdits?: { beforeCall: number; run: () => void };
      } = {},
    ) {
      clock += 30_000;
      const at = clock;
      const retried = stopped;
      const found = retried ? retried.found : storeNow();
      const seen: PollSeen = { at, from: changes, gets: [], ...(found ? { found } : {}) };
      stopped ??= found ? { found } : {};
      const outer = polling;
      polling = seen;
      let result: PollResult | undefined;
      churn = opts.churn ?? 0;
      beforeList = opts.listEdits && { call: opts.listEdits.beforeCall, run: opts.listEdits.run };
      if (opts.besidePush !== undefined)
        shelf.interleave = { afterWrites: opts.besidePush, run: () => world.push(0) };
      else if (opts.midEdits) shelf.interleave = { ...opts.midEdits };
      return interrupted(opts.failAfterWrites, async () => {
        result = await pollMerchant(pollDeps, {
          merchantId: 'M1',
          mode: opts.full ? 'full' : 'incremental',
          requestedAt: at,
          reason: opts.full ? 'backfill' : 'schedule',
          ...(opts.since === undefined ? {} : { since: opts.since }),
          ...(opts.confirmGone ? { confirmGone: opts.confirmGone } : {}),
        });
      }).finally(() => {
        shelf.interleave = undefined;
        beforeList = undefined;
        churn = 0;
        polling = outer;
        if (result?.status === 'synced') stopped = undefined;
        if (result) polled(seen, result);
      });
    },
    /**
     * Delivers queued message `index` (modulo the queue). A push that fails leaves it queued (SQS
     * redelivers it); `lostAck` leaves it queued after success too (the delete was lost).
     */
    async push(
      index = 0,
      opts: {
        lostAck?: boolean;
        failAfterWrites?: number;
        /**
         * `refusesDeletes`: Hipoink refuses every delete in this push (e.g. a product bound to a
         * label); `refusesRequests`: every request of it (e.g. a sign being rotated).
         */
        hipoinkFault?: '5xx' | 'lostAnswer' | 'refusesDeletes' | 'refusesRequests';
        /** A poll runs in the middle of this push, after that many of its writes. */
        besidePoll?: number;
      } = {},
    ) {
      if (queue.length === 0) return;
      if (opts.besidePoll !== undefined)
        shelf.interleave = { afterWrites: opts.besidePoll, run: async () => void (await world.poll()) };
      const i = index % queue.length;
      const msg = queue[i] as PushMessage;
      if (opts.hipoinkFault === '5xx') hipoink.failNext = 1;
      if (opts.hipoinkFault === 'lostAnswer') hipoink.loseNextAnswers = 1;
      hipoink.refuseEverything = opts.hipoinkFault === 'refusesRequests';
      const refusing =
        opts.hipoinkFault === 'refusesDeletes' ? msg.codes.filter((c) => !hipoink.undeletable.has(c)) : [];
      for (const code of refusing) hipoink.undeletable.add(code);
      const ok = await interrupted(opts.failAfterWrites, () => pushCodes(pushDeps, msg));
      shelf.interleave = undefined;
      hipoink.failNext = 0;
      hipoink.loseNextAnswers = 0;
      hipoink.refuseEverything = false;
      for (const code of refusing) hipoink.undeletable.delete(code);
      if (ok && !opts.lostAck) queue.splice(i, 1);
    },
    /** A message lost for good (it ended in the dead-letter queue). */
    drop(index = 0) {
      if (queue.length > 0) queue.splice(index % queue.length, 1);
    },
    async drain() {
      for (let guard = 0; queue.length > 0; guard++) {
        if (guard > 1000) throw new Error('the push queue never drains');
        await world.push(0);
      }
    },
    /**
     * What happens when faults stop: invalid items get fixed in Clover, and the schedule keeps
     * polling (ghost cleanup and its repair included) with every push delivered.
     */
    async settle(polls = 2 * settings.cleanupEveryPolls) {
      for (const item of catalog.values()) if (item.name === '') world.fixName(item.id);
      await world.drain();
      for (let round = 0; round < polls; round++) {
        clock += 120_000;
        if (!(await world.poll())) throw new Error('a poll failed with no fault injected');
        await world.drain();
      }
    },

    /**
     * Where the slots and the records disagree while the store is not marked ([] when the store is
     * marked or they agree): a poll that clears the mark must leave every slot naming exactly the
     * items whose records want its code, with the label they want, since routine polls repair nothing.
     */
    slotsAstray(): string[] {
      if (merchants.records.get('M1')?.shelfWritesUnfinished !== undefined) return [];
      const problems: string[] = [];
      const wants = new Map<string, string>();
      for (const r of shelf.items.values()) {
        const want = wantedLabel(r);
        if (want) wants.set(`${want.label.pc} ${r.itemId}`, `${want.labelHash} since ${r.wantsSince}`);
      }
      const named = new Set<string>();
      for (const slot of shelf.slots.values())
        for (const w of slot.wanters) {
          const key = `${slot.code} ${w.itemId}`;
          named.add(key);
          if (!wants.has(key))
            problems.push(`${slot.code}: names ${w.itemId}, whose record does not want it`);
          else if (wants.get(key) !== `${w.labelHash} since ${w.wantsSince}`)
            problems.push(`${slot.code}: names ${w.itemId} with a stale label or wanting time`);
        }
      for (const key of wants.keys())
        if (!named.has(key)) problems.push(`${key}: wanted by its record, not named`);
      return problems;
    },

    /** The counts kept as the work happened, against the records counted afresh ([] when they agree). */
    async countsDrift(): Promise<string[]> {
      const kept = { ...NO_COUNTS, ...merchants.records.get('M1')?.shelf };
      const exact = countShelf(await shelf.listItems('M1'), await shelf.listSlots('M1'));
      const same = JSON.stringify(kept) === JSON.stringify(exact);
      return same ? [] : [`counts kept ${JSON.stringify(kept)}, counted afresh ${JSON.stringify(exact)}`];
    },

    /**
     * The oracle: for every code, the label of the visible valid item that wanted it first; none
     * for a code nobody visible wants. Where Hipoink refuses the owner's label, nothing, or an older
     * label of that same owner. `unconfirmedGhosts`: only routine polls ran since items were
     * deleted (no ghost cleanup), so one no poll was led to (not in `ghostsDue`) may still own its
     * code as the records order it: its label (or none, if refused) may stand there instead.
     */
    async check(opts: { unconfirmedGhosts?: boolean } = {}): Promise<string[]> {
      const problems: string[] = [...unbound, ...wantsSinceAstray()];
      const ghosts = [...shelf.items.values()].filter((r) => !catalog.has(r.itemId) && wantedLabel(r));
      for (const g of ghosts) {
        const code = wantedLabel(g)?.label.pc ?? '';
        if (ghostsDue.get(code)?.has(g.itemId))
          problems.push(
            `${code}: ${g.itemId} was deleted before a poll that saw the code change hands; its record still wants it`,
          );
      }
      /** The deleted items a routine poll may not know of, wanting the code ahead of `owner`. */
      const excused = (code: string, owner?: CatalogItem) => {
        if (!opts.unconfirmedGhosts) return [];
        const since = (id: string) => shelf.items.get(`M1/${id}`)?.wantsSince ?? Number.POSITIVE_INFINITY;
        return ghosts
          .filter((g) => wantedLabel(g)?.label.pc === code && !ghostsDue.get(code)?.has(g.itemId))
          .filter(
            (g) =>
              !owner ||
              since(g.itemId) < since(owner.id) ||
              (since(g.itemId) === since(owner.id) && g.itemId < owner.id),
          )
          .map((g) => g.itemId);
      };
      const ghostHolds = (code: string, held: HipoinkProduct | undefined, owner?: CatalogItem) => {
        const ids = excused(code, owner);
        return held ? ids.some((id) => held.pn.startsWith(`N${id}`)) : ids.length > 0;
      };
      const owners = new Map<string, CatalogItem>();
      for (const item of catalog.values()) {
        const owner = ownerInCatalog(item.sku);
        if (owner) owners.set(item.sku, owner);
      }
      for (const [code, owner] of owners) {
        const held = hipoink.shelf.get(code);
        if (ghostHolds(code, held, owner)) continue;
        const outcome = transformItem(owner, pollDeps.productCodePrecedence);
        if (outcome.kind !== 'label') throw new Error(`oracle: ${owner.id} should be a label`);
        const expected: HipoinkProduct = outcome.desired.label;
        if (owner.name.includes(REFUSED_MARK)) {
          if (held && !held.pn.startsWith(`N${owner.id}`))
            problems.push(`${code}: refused owner ${owner.id}, but Hipoink shows ${held.pn}`);
        } else if (JSON.stringify(held) !== JSON.stringify(expected)) {
          problems.push(
            `${code}: expected ${JSON.stringify(expected)}, Hipoink holds ${JSON.stringify(held)}`,
          );
        }
      }
      for (const [code, held] of hipoink.shelf)
        if (!owners.has(code) && !ghostHolds(code, held))
          problems.push(`${code}: nobody visible wants it, Hipoink shows ${held.pn}`);
      return problems;
    },
  };
  return world;
}
export type World = ReturnType<typeof createWorld>;
