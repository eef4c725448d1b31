/**
 * The shelf ends as Clover says. A model-based property test drives random sequences of Clover
 * edits, polls and pushes, with faults, through the real poll and push, and checks the labels
 * Hipoink holds against the oracle in shelf-world.ts. The named scenarios below document behaviours
 * a reader looks for; the property test is what keeps every interleaving honest.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWorld, SETTINGS, type World } from './shelf-world.ts';

const CODES = ['C0', 'C1', 'C2', 'C3'];
/** Sequences per property run; more with SHELF_PROPERTY_RUNS (long runs find the rarer interleavings). */
const RUNS = Number(process.env.SHELF_PROPERTY_RUNS ?? 6000);
/** Time allowed: generous for CI's count, and growing with a longer run. */
const TIME_MS = Math.max(240_000, RUNS * 2);
/**
 * How long the sequences grow: fast-check's default size ('small') would keep them at 12 ops or
 * fewer whatever `maxLength` says; 'medium' (up to 40, about 20 on average) reaches the
 * interleavings that need more steps. SHELF_PROPERTY_SIZE sets another.
 */
const SIZE = (process.env.SHELF_PROPERTY_SIZE ?? 'medium') as fc.Size;

type Edit =
  | { t: 'create'; code: number; price: number }
  | { t: 'price'; i: number; price: number }
  | { t: 'recode'; i: number; code: number }
  | { t: 'swap'; i: number; j: number }
  | { t: 'hide' | 'show' | 'delete' | 'breakName' | 'fixName' | 'refusedName'; i: number }
  /** Item i takes item j's code, then j leaves it (deleted, hidden or recoded): wanted throughout. */
  | { t: 'handover'; i: number; j: number; leave: 'delete' | 'hide' | 'recode'; code: number };
type Op =
  | Edit
  /** Clover edits made as one bulk edit: they share one modifiedTime. */
  | { t: 'bulk'; edits: Edit[] }
  /** `churn`: Clover orders items of one modifiedTime anew on that many list calls; a read may stop early. */
  | {
      t: 'poll';
      full: boolean;
      failAfterWrites?: number;
      besidePush?: number;
      churn?: number;
      /** A backfill `--since` that many ms before now. */
      sinceAgo?: number;
      /** Items a webhook notice said were deleted (picked like edits). */
      gone?: number[];
    }
  /** Clover edits made just before one of the poll's list calls (between pages, or before the id listing). */
  | { t: 'pollListEditing'; beforeCall: number; edits: Edit[]; full: boolean; failAfterWrites?: number }
  /** Clover edits made just before the poll's first GET of an item (between its read and the GET). */
  | { t: 'pollGetEditing'; edits: Edit[]; full: boolean; failAfterWrites?: number; gone?: number[] }
  /** Clover edits made while a poll runs, after that many of its writes. */
  | { t: 'pollEditing'; afterWrites: number; edits: Edit[]; failAfterWrites?: number }
  | {
      t: 'push';
      pick: number;
      lostAck: boolean;
      failAfterWrites?: number;
      hipoinkFault?: '5xx' | 'lostAnswer' | 'refusesDeletes' | 'refusesRequests';
      besidePoll?: number;
    }
  | { t: 'drop'; pick: number }
  | { t: 'wait'; ms: number };

const nat = fc.nat({ max: 20 });
const createArb = fc.record({
  t: fc.constant('create' as const),
  code: fc.nat(3),
  price: fc.integer({ min: 1, max: 999 }),
});
const editArbs = [
  { weight: 4, arbitrary: createArb },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('price' as const),
      i: nat,
      price: fc.integer({ min: 1, max: 999 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('recode' as const), i: nat, code: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('swap' as const), i: nat, j: nat }) },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constantFrom('hide', 'show', 'delete', 'breakName', 'fixName', 'refusedName') as fc.Arbitrary<
        'hide' | 'show' | 'delete' | 'breakName' | 'fixName' | 'refusedName'
      >,
      i: nat,
    }),
  },
];
const editArb: fc.Arbitrary<Edit> = fc.oneof(...editArbs);
/** A push of a queued message, with faults, and a poll in its middle after up to `besidePoll` writes. */
const pushArb = (besidePoll: number) =>
  fc.record(
    {
      t: fc.constant('push' as const),
      pick: nat,
      lostAck: fc.boolean(),
      failAfterWrites: fc.nat(4),
      hipoinkFault: fc.constantFrom(
        '5xx' as const,
        'lostAnswer' as const,
        'refusesDeletes' as const,
        'refusesRequests' as const,
      ),
      besidePoll: fc.nat(besidePoll),
    },
    { requiredKeys: ['t', 'pick', 'lostAck'] },
  );
/** Clover edits made while a poll runs, after up to `afterWrites` of its writes. */
const pollEditingArb = (
  edit: fc.Arbitrary<Edit>,
  max: { afterWrites: number; edits: number; failAfterWrites: number },
) =>
  fc.record(
    {
      t: fc.constant('pollEditing' as const),
      afterWrites: fc.nat(max.afterWrites),
      edits: fc.array(edit, { minLength: 1, maxLength: max.edits }),
      failAfterWrites: fc.nat(max.failAfterWrites),
    },
    { requiredKeys: ['t', 'afterWrites', 'edits'] },
  );
const bulkArb = (edit: fc.Arbitrary<Edit>, minLength: number, maxLength: number) =>
  fc.record({ t: fc.constant('bulk' as const), edits: fc.array(edit, { minLength, maxLength }) });
const dropArb = fc.record({ t: fc.constant('drop' as const), pick: nat });
const waitArb = fc.record({ t: fc.constant('wait' as const), ms: fc.constantFrom(10_000, 200_000, 400_000) });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  ...editArbs,
  { weight: 2, arbitrary: pollEditingArb(editArb, { afterWrites: 8, edits: 3, failAfterWrites: 10 }) },
  // Imports mostly bring new items: enough of them make a tie group larger than a page.
  { weight: 3, arbitrary: bulkArb(fc.oneof(editArb, createArb), 3, 10) },
  {
    weight: 4,
    arbitrary: fc.record(
      {
        t: fc.constant('poll' as const),
        full: fc.boolean(),
        failAfterWrites: fc.nat(6),
        besidePush: fc.nat(6),
        churn: fc.integer({ min: 6, max: 20 }),
      },
      { requiredKeys: ['t', 'full'] },
    ),
  },
  { weight: 6, arbitrary: pushArb(4) },
  { weight: 1, arbitrary: dropArb },
  { weight: 1, arbitrary: waitArb },
);

async function apply(w: World, op: Op, ids: string[]) {
  const id = (i: number) => ids[i % Math.max(1, ids.length)] ?? '';
  /** A webhook notice names only items already deleted when the poll starts. */
  const noticed = (picks: number[] | undefined) => {
    const gone = (picks ?? []).map(id).filter((i) => i !== '' && !w.catalog.has(i));
    return gone.length === 0 ? {} : { confirmGone: gone };
  };
  switch (op.t) {
    case 'create':
      ids.push(w.create(CODES[op.code] as string, op.price));
      return;
    case 'price':
      return w.setPrice(id(op.i), op.price);
    case 'recode':
      return w.recode(id(op.i), CODES[op.code] as string);
    case 'swap':
      return w.swap(id(op.i), id(op.j));
    case 'hide':
      return w.hide(id(op.i));
    case 'show':
      return w.show(id(op.i));
    case 'delete':
      return w.remove(id(op.i));
    case 'breakName':
      return w.breakName(id(op.i));
    case 'fixName':
      return w.fixName(id(op.i));
    case 'refusedName':
      return w.refusedName(id(op.i));
    case 'handover': {
      const [taker, holder] = [id(op.i), id(op.j)];
      const code = w.catalog.get(holder)?.sku;
      if (taker === holder || code === undefined || !w.catalog.has(taker)) return;
      w.recode(taker, code);
      if (op.leave === 'delete') return w.remove(holder);
      if (op.leave === 'hide') return w.hide(holder);
      return w.recode(holder, CODES[op.code] as string);
    }
    case 'poll': {
      const since = op.sinceAgo === undefined ? {} : { since: w.clock - op.sinceAgo };
      await w.poll({ ...op, ...since, ...noticed(op.gone) });
      return;
    }
    case 'pollListEditing': {
      const run = () => {
        for (const edit of op.edits) void apply(w, edit, ids);
      };
      await w.poll({ ...op, listEdits: { beforeCall: op.beforeCall, run } });
      return;
    }
    case 'pollGetEditing': {
      w.beforeNextGet(() => {
        for (const edit of op.edits) void apply(w, edit, ids);
      });
      await w.poll({ ...op, ...noticed(op.gone) });
      w.beforeNextGet(() => undefined); // no GET in this poll: the edits are not made later
      return;
    }
    case 'bulk':
      return w.bulk(async () => {
        for (const edit of op.edits) await apply(w, edit, ids);
      });
    case 'pollEditing': {
      const edits = async () => {
        for (const edit of op.edits) await apply(w, edit, ids);
      };
      await w.poll({ ...op, midEdits: { afterWrites: op.afterWrites, run: edits } });
      return;
    }
    case 'push':
      return w.push(op.pick, op);
    case 'drop':
      return w.drop(op.pick);
    case 'wait':
      return w.wait(op.ms);
  }
}

/** A poll and a push ran at once: a count afresh may then have run in the middle of a push. */
const racing = (op: Op) =>
  (op.t === 'poll' && op.besidePush !== undefined) || (op.t === 'push' && op.besidePoll !== undefined);

/**
 * A sequence a CI run found: a read that stopped early leaves ghost cleanup due, the next poll's
 * listing shows an item that left its code, and the drop must still be made in that poll.
 */
/**
 * A code's owner leaves it to an item deleted unseen while a push of the code waits; a second drop
 * in the same poll lets that push run between the owner's drop and the poll deciding the code: the
 * push shows the deleted item's label, and the poll must still ask Clover for it.
 */
const PUSH_BETWEEN_DROP_AND_DECIDE: Op[] = [
  { t: 'create', code: 0, price: 1 },
  { t: 'create', code: 0, price: 1 },
  { t: 'create', code: 2, price: 1 },
  { t: 'poll', full: false },
  { t: 'push', pick: 0, lostAck: false },
  { t: 'price', i: 0, price: 2 },
  { t: 'poll', full: false },
  { t: 'delete', i: 1 },
  { t: 'recode', i: 0, code: 1 },
  { t: 'recode', i: 2, code: 3 },
  { t: 'poll', full: false, besidePush: 5 },
];

const GHOST_LISTING_LEFT_DROP: Op[] = [
  {
    t: 'bulk',
    edits: [
      { t: 'create', code: 0, price: 1 },
      { t: 'create', code: 0, price: 1 },
      { t: 'create', code: 0, price: 1 },
      { t: 'recode', i: 0, code: 0 },
      { t: 'hide', i: 0 },
      { t: 'create', code: 0, price: 1 },
    ],
  },
  { t: 'hide', i: 1 },
  { t: 'poll', full: false, churn: 8 },
  { t: 'hide', i: 14 },
  {
    t: 'pollEditing',
    afterWrites: 1,
    edits: [
      { t: 'recode', i: 0, code: 1 },
      { t: 'swap', i: 3, j: 0 },
      { t: 'recode', i: 0, code: 0 },
    ],
  },
  { t: 'recode', i: 0, code: 0 },
];

describe('the shelf model', () => {
  it(
    'ends with exactly the labels the code rule says, whatever the interleaving and the faults (property)',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40, size: SIZE }), async (ops) => {
          const w = createWorld();
          const ids: string[] = [];
          for (const op of ops) await apply(w, op, ids);
          // Every write is followed by its count here (a stop lands between writes), so the counts
          // drift only where a count afresh ran in the middle of a push (corrected by the next one).
          if (!ops.some(racing)) expect(await w.countsDrift()).toEqual([]);
          await w.settle();
          expect(await w.check()).toEqual([]);
          expect(await w.countsDrift()).toEqual([]); // counted afresh by the cleanups
        }),
        { numRuns: RUNS },
      );
    },
    TIME_MS,
  );

  it(
    'is right after the next routine poll, with no ghost cleanup to repair it, when no push is lost and Hipoink refuses no delete: a deleted item keeps a code only until a poll reads a change of who wants it (property)',
    async () => {
      // A lost push, or a delete Hipoink refused, stays out of step until the repair of a ghost
      // cleanup sends it again.
      const lost = (op: Op) => op.t === 'drop' || (op.t === 'push' && op.hipoinkFault === 'refusesDeletes');
      const kept = opArb.filter((op) => !lost(op));
      // Deletions never show in a read: an item deleted in Clover keeps its code until a poll is
      // led to it. A poll that reads an item newly wanting the code, or its owner leaving it, asks
      // for the holder (and the next in line) and finds it gone; one that reads no such change
      // cannot know, and the label waits for ghost cleanup. The world tells the two apart
      // (`ghostsDue`), and `check` holds the shelf to it.
      await fc.assert(
        fc.asyncProperty(fc.array(kept, { minLength: 1, maxLength: 40, size: SIZE }), async (ops) => {
          const w = createWorld({ cleanupEveryPolls: 1_000_000 });
          const ids: string[] = [];
          for (const op of ops) await apply(w, op, ids);
          await w.settle(2);
          expect(await w.check({ unconfirmedGhosts: true })).toEqual([]);
          if (!ops.some(racing)) expect(await w.countsDrift()).toEqual([]);
        }),
        {
          numRuns: Math.ceil(RUNS / 3),
          examples: [[GHOST_LISTING_LEFT_DROP], [PUSH_BETWEEN_DROP_AND_DECIDE]],
        },
      );
    },
    TIME_MS,
  );
});

/** Sequences of the property below; more with SHELF_LOST_ANSWER_RUNS. */
const LOST_ANSWER_RUNS = Number(process.env.SHELF_LOST_ANSWER_RUNS ?? 5000);
/**
 * Few items, two codes and two prices: a label often goes back to one recorded earlier (a price
 * undone, an item hidden and shown, a code left and taken again) while Hipoink's answer to the call
 * that changed it was lost, where trusting what is recorded as held would leave the wrong label.
 */
const twoPrices = fc.constantFrom(100, 200);
const lostAnswerCreateArb = fc.record({
  t: fc.constant('create' as const),
  code: fc.nat(1),
  price: twoPrices,
});
const lostAnswerOpArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: lostAnswerCreateArb },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('price' as const), i: fc.nat(2), price: twoPrices }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('recode' as const), i: fc.nat(2), code: fc.nat(1) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constantFrom('hide' as const, 'show' as const), i: fc.nat(2) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('poll' as const), full: fc.constant(false) }) },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('push' as const), pick: fc.nat(2), lostAck: fc.constant(false) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('push' as const),
      pick: fc.nat(2),
      lostAck: fc.boolean(),
      hipoinkFault: fc.constantFrom('lostAnswer' as const, 'lostAnswer' as const, '5xx' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('push' as const),
      pick: fc.nat(2),
      lostAck: fc.boolean(),
      failAfterWrites: fc.nat(3),
    }),
  },
);

describe('the shelf model, with lost answers', () => {
  it(
    'ends as the code rule says when labels go back to ones recorded while Hipoink’s answers were lost (property)',
    async () => {
      let answersLostIn = 0;
      await fc.assert(
        fc.asyncProperty(
          // Each sequence starts with an item, so none is all edits of nothing.
          fc.tuple(
            lostAnswerCreateArb,
            fc.array(lostAnswerOpArb, { minLength: 7, maxLength: 29, size: SIZE }),
          ),
          async ([create, rest]) => {
            const w = createWorld();
            const ids: string[] = [];
            for (const op of [create, ...rest]) await apply(w, op, ids);
            if (w.hipoink.answersLost > 0) answersLostIn++;
            await w.settle();
            expect(await w.check()).toEqual([]);
            expect(await w.countsDrift()).toEqual([]);
          },
        ),
        { numRuns: LOST_ANSWER_RUNS },
      );
      // The fault it is about happened in many sequences (a fault that did nothing would pass).
      expect(answersLostIn).toBeGreaterThanOrEqual(LOST_ANSWER_RUNS / 4);
    },
    Math.max(TIME_MS, LOST_ANSWER_RUNS * 4),
  );
});

/** Sequences of the widened property (mid-poll edits, GETs after edits, notices, backfills --since). */
const WIDE_RUNS = Number(process.env.SHELF_WIDE_RUNS ?? 1000);
const handoverArb = fc.record({
  t: fc.constant('handover' as const),
  i: nat,
  j: nat,
  leave: fc.constantFrom('delete' as const, 'hide' as const, 'recode' as const),
  code: fc.nat(3),
});
const wideEditArb: fc.Arbitrary<Edit> = fc.oneof(editArb, handoverArb);
const wideOpArb: fc.Arbitrary<Op> = fc.oneof(
  ...editArbs.map((a) => (a.arbitrary === createArb ? a : { ...a, weight: a.weight + 2 })),
  { weight: 4, arbitrary: handoverArb },
  { weight: 6, arbitrary: pollEditingArb(wideEditArb, { afterWrites: 16, edits: 4, failAfterWrites: 16 }) },
  {
    weight: 5,
    arbitrary: fc.record(
      {
        t: fc.constant('pollListEditing' as const),
        beforeCall: fc.nat(5),
        edits: fc.array(wideEditArb, { minLength: 1, maxLength: 4 }),
        full: fc.boolean(),
        failAfterWrites: fc.nat(16),
      },
      { requiredKeys: ['t', 'beforeCall', 'edits', 'full'] },
    ),
  },
  {
    weight: 5,
    arbitrary: fc.record(
      {
        t: fc.constant('pollGetEditing' as const),
        edits: fc.array(wideEditArb, { minLength: 1, maxLength: 4 }),
        full: fc.boolean(),
        failAfterWrites: fc.nat(16),
        gone: fc.array(nat, { minLength: 1, maxLength: 3 }),
      },
      { requiredKeys: ['t', 'edits', 'full'] },
    ),
  },
  { weight: 4, arbitrary: bulkArb(fc.oneof(wideEditArb, createArb), 3, 10) },
  // An import of new items only: a tie group over a page, which a reordering poll may stop in.
  { weight: 3, arbitrary: bulkArb(createArb, 4, 8) },
  {
    weight: 6,
    arbitrary: fc.record(
      {
        t: fc.constant('poll' as const),
        full: fc.boolean(),
        failAfterWrites: fc.nat(12),
        besidePush: fc.nat(12),
        churn: fc.integer({ min: 6, max: 20 }),
        sinceAgo: fc.constantFrom(0, 20_000, 60_000, 200_000),
        gone: fc.array(nat, { minLength: 1, maxLength: 3 }),
      },
      { requiredKeys: ['t', 'full'] },
    ),
  },
  { weight: 6, arbitrary: pushArb(8) },
  { weight: 1, arbitrary: dropArb },
  { weight: 3, arbitrary: waitArb },
);

/** The settings the widened properties draw. */
const wideSettingsArb = fc.record({
  cleanupEveryPolls: fc.integer({ min: 1, max: 3 }),
  // A short overlap leaves older items out of the reads: only a GET sees what became of them.
  overlapMs: fc.constantFrom(0, 30_000, SETTINGS.overlapMs),
  pageLimit: fc.constantFrom(2, 3),
});
/** What a widened property runs: the world's settings, and the sequence of ops applied to it. */
const wideRunArbs = [
  wideSettingsArb,
  fc.array(wideOpArb, { minLength: 1, maxLength: 40, size: SIZE }),
] as const;

describe('the shelf model, widened', () => {
  it(
    'never unbinds a wanted code and ends as the code rule says, with edits between a poll’s read and its GETs, notices and backfills --since (property)',
    async () => {
      await fc.assert(
        fc.asyncProperty(...wideRunArbs, async (settings, ops) => {
          const w = createWorld(settings);
          const ids: string[] = [];
          for (const op of ops) {
            const from = w.getCalls.length;
            await apply(w, op, ids);
            // One poll asks for an item at most once (a push beside it makes no GET).
            const gets = w.getCalls.slice(from);
            expect(new Set(gets).size, `GETs ${gets}`).toBe(gets.length);
          }
          if (!ops.some(racing)) expect(await w.countsDrift()).toEqual([]);
          await w.settle();
          expect(await w.check()).toEqual([]);
          expect(await w.countsDrift()).toEqual([]);
        }),
        { numRuns: WIDE_RUNS },
      );
    },
    TIME_MS,
  );
});

describe('the shelf ends as Clover says', () => {
  it('when an item is shown again while the push taking it down is in flight', async () => {
    const w = createWorld();
    const [a] = await w.onShelf(['C0', 100]);
    w.hide(a);
    await w.poll();
    w.show(a);
    await w.poll();
    await w.push(0, { lostAck: true }); // the removal lands, then is delivered again after the show
    await w.drain();
    expect(await w.check()).toEqual([]);
    expect(w.hipoink.shelf.get('C0')?.pn).toBe(`N${a}`);
  });

  it('when the item holding a shared barcode changes price or is briefly invalid: it keeps the code; hidden and shown again, it comes after the other', async () => {
    const w = createWorld();
    const [first] = await w.onShelf(['C0', 100]);
    const second = w.create('C0', 200);
    const shelfAfterPoll = async () => {
      await w.poll();
      await w.drain();
      return w.hipoink.shelf.get('C0');
    };
    expect(await shelfAfterPoll()).toMatchObject({ pn: `N${first}`, pp: '1.00' });
    w.setPrice(first, 150);
    expect(await shelfAfterPoll()).toMatchObject({ pn: `N${first}`, pp: '1.50' });
    // An invalid version keeps the last valid label, so the code too; fixed, it is shown again.
    w.breakName(first);
    expect(await shelfAfterPoll()).toMatchObject({ pn: `N${first}`, pp: '1.50' });
    w.fixName(first);
    w.setPrice(first, 175);
    expect(await shelfAfterPoll()).toMatchObject({ pn: `N${first}`, pp: '1.75' });
    w.setPrice(second, 250);
    expect(await shelfAfterPoll()).toMatchObject({ pn: `N${first}`, pp: '1.75' });
    expect((await w.shelf.listItems('M1')).find((i) => i.itemId === second)?.status).toBe('active');
    // Hidden, it lets the code go; shown again, it wants it after the item that has it now.
    w.hide(first);
    expect(await shelfAfterPoll()).toMatchObject({ pn: `N${second}`, pp: '2.50' });
    w.show(first);
    expect(await shelfAfterPoll()).toMatchObject({ pn: `N${second}`, pp: '2.50' });
    expect(await w.check()).toEqual([]);
  });

  it('when a code changes X→Y→X while the push of Y is in flight', async () => {
    const w = createWorld();
    const [a] = await w.onShelf(['C0', 100]);
    w.recode(a, 'C1');
    await w.poll();
    w.recode(a, 'C0');
    await w.poll();
    await w.drain();
    expect([...w.hipoink.shelf.keys()]).toEqual(['C0']);
  });

  it('when a new item takes the barcode of one deleted before the poll: it gets the label in that poll', async () => {
    const w = createWorld();
    const [old] = await w.onShelf(['C0', 100]);
    w.remove(old);
    const replacement = w.create('C0', 250);
    w.getCalls.length = 0;
    await w.poll();
    await w.drain();
    expect(w.getCalls).toEqual([old]);
    expect(w.hipoink.shelf.get('C0')).toMatchObject({ pn: `N${replacement}`, pp: '2.50' });
  });

  it('when two items swap barcodes and one of them is deleted before the poll', async () => {
    const w = createWorld();
    const [a, b] = await w.onShelf(['C0', 100], ['C1', 200]);
    w.swap(a, b);
    w.remove(a);
    await w.poll();
    await w.drain();
    expect([...w.hipoink.shelf.entries()]).toEqual([['C0', expect.objectContaining({ pn: `N${b}` })]]);
  });

  it('when Hipoink refuses the item taking over a hidden item’s code: the hidden label still comes down', async () => {
    const w = createWorld();
    const [hidden] = await w.onShelf(['C0', 100]);
    w.hide(hidden);
    const taker = w.create('C0', 200);
    w.refusedName(taker);
    await w.poll();
    await w.drain();
    expect(w.hipoink.shelf.has('C0')).toBe(false);
  });

  it('when a push stops after Hipoink took a label but before it was recorded', async () => {
    const w = createWorld();
    const a = w.create('C0', 100);
    await w.poll();
    await w.push(0, { hipoinkFault: 'lostAnswer' });
    expect(w.queue).toHaveLength(1);
    w.recode(a, 'C1');
    await w.poll();
    await w.drain();
    expect([...w.hipoink.shelf.keys()]).toEqual(['C1']);
  });

  it('when two items swap barcodes and a push runs in the middle of the poll: neither code comes down', async () => {
    const w = createWorld({ storeWriteConcurrency: 1 }); // the poll's writes one at a time
    const a = w.create('C0', 100);
    const b = w.create('C1', 200);
    await w.poll();
    await w.drain();
    w.setPrice(a, 150);
    await w.poll(); // a push of C0 is queued
    w.swap(a, b);
    await w.poll({ besidePush: 2 }); // it runs once the poll has written two slot changes
    await w.drain();
    expect(w.hipoink.calls.filter((c) => c.op === 'del_multiple')).toEqual([]);
    expect(await w.check()).toEqual([]);
  });

  it('when an item’s first poll stopped and a backfill since a later time repairs: its label reaches the shelf', async () => {
    const w = createWorld();
    const [a] = await w.onShelf(['C0', 100]);
    const x = w.create('C1', 100);
    await w.poll({ failAfterWrites: 1 }); // x's record is written; it never joins the slot of C1
    await w.drain();
    w.wait(600_000); // past the overlap window: no later read sees x again
    w.setPrice(a, 150);
    await w.poll({ full: true, since: w.clock });
    await w.drain();
    expect(w.hipoink.shelf.get('C1')?.pn).toBe(`N${x}`);
    expect(await w.check()).toEqual([]);
  });

  it('when a price goes back to the one recorded while the push of the new price went unanswered', async () => {
    const w = createWorld();
    const [a] = await w.onShelf(['C0', 100]);
    w.setPrice(a, 200);
    await w.poll();
    await w.push(0, { hipoinkFault: 'lostAnswer' }); // Hipoink shows 2.00; 1.00 is still recorded
    w.setPrice(a, 100);
    await w.poll();
    await w.drain();
    expect(w.hipoink.shelf.get('C0')?.pp).toBe('1.00');
  });

  it('when a push message is lost for good: the next ghost cleanup queues the code again', async () => {
    const w = createWorld();
    w.create('C0', 100);
    await w.poll(); // the first poll reads everything and cleans up
    w.drop(0);
    await w.poll();
    expect(w.queue).toEqual([]);
    for (let i = 1; i < SETTINGS.cleanupEveryPolls; i++) await w.poll(); // ghost cleanup is due
    await w.drain();
    expect(w.hipoink.shelf.has('C0')).toBe(true);
  });

  it('when a label comes down, or a refused item is fixed: the counts kept follow each write', async () => {
    const w = createWorld();
    const [a, b] = await w.onShelf(['C0', 100], ['C1', 200]);
    w.hide(a);
    w.refusedName(b);
    await w.poll();
    await w.drain();
    expect(await w.countsDrift()).toEqual([]);
    w.fixName(b);
    w.setPrice(b, 250);
    await w.poll();
    await w.drain();
    expect(await w.countsDrift()).toEqual([]);
    expect(w.merchants.records.get('M1')?.shelf).toMatchObject({ onShelf: 1, refused: 0, outOfStep: 0 });
  });

  it('when Hipoink refuses the owner’s new label after an answer was lost: its last accepted label stands', async () => {
    const w = createWorld();
    const [a] = await w.onShelf(['C0', 100]);
    w.setPrice(a, 200);
    await w.poll();
    await w.push(0, { hipoinkFault: 'lostAnswer' }); // Hipoink took 2.00; the answer never came
    w.refusedName(a);
    await w.poll();
    await w.drain();
    expect(w.hipoink.shelf.get('C0')).toMatchObject({ pn: `N${a}`, pp: '1.00' });
    expect(await w.check()).toEqual([]);
  });

  it('when a poll stops after a GET found the code’s holder gone, at any write: the retry never unbinds the newcomer', async () => {
    for (let stopAt = 1; stopAt <= 6; stopAt++) {
      const w = createWorld();
      const a = w.create('C0', 100);
      w.recode(a, 'C2');
      w.refusedName(a);
      await w.poll();
      w.remove(a);
      const b = w.create('C2', 100);
      await w.poll({ failAfterWrites: stopAt });
      await w.settle();
      expect(w.hipoink.shelf.get('C2')?.pn, `stopped after ${stopAt} writes`).toBe(`N${b}`);
      expect(await w.check()).toEqual([]);
    }
  });

  it('when the repair after a stopped poll meets a swap undone in Clover: it never empties a wanted code', async () => {
    for (let stopAt = 1; stopAt <= 6; stopAt++) {
      const w = createWorld();
      const [a, b] = await w.onShelf(['C0', 100], ['C1', 200]);
      w.swap(a, b);
      await w.poll({ failAfterWrites: stopAt });
      await w.push(0, { lostAck: true });
      w.swap(a, b); // undone in Clover before the retry
      await w.poll({ besidePush: 1 }); // the retry, and its repair, with a push in the middle
      await w.drain();
      expect(
        w.hipoink.calls.filter((c) => c.op === 'del_multiple'),
        `stopped after ${stopAt} writes`,
      ).toEqual([]);
      expect(await w.check()).toEqual([]);
    }
  });

  it('when two items swap barcodes and the read gives them on two pages: neither code comes down', async () => {
    const w = createWorld();
    const a = w.create('C1', 1);
    await w.poll(); // a push of C1 is queued
    const b = w.create('C0', 1);
    w.swap(a, b);
    for (let i = 0; i < 3; i++) w.create('C0', 1);
    await w.push(0, { failAfterWrites: 2 }); // C1 is on the shelf; the message stays queued
    w.show(b); // b's latest edit now comes a page after a's
    await w.poll({ besidePush: 4 }); // the push runs between the two pages
    await w.drain();
    expect(w.hipoink.calls.filter((c) => c.op === 'del_multiple')).toEqual([]);
    expect(await w.check()).toEqual([]);
  });

  it('when a poll stopped after one record of a swap and its retry stops too: no code both want comes down', async () => {
    const w = createWorld();
    const [a, b] = await w.onShelf(['C0', 100], ['C1', 200]);
    w.swap(b, a); // b takes C0 before a leaves it: C0 is wanted throughout
    await w.poll({ failAfterWrites: 1 }); // b's record is written; b never joins C0
    await w.poll({ failAfterWrites: 3 }); // the retry writes a's record and want, and the repair's want of b
    await w.drain();
    expect(w.hipoink.calls.filter((c) => c.op === 'del_multiple')).toEqual([]);
    await w.settle();
    expect(await w.check()).toEqual([]);
  });

  it('when the code’s holder and the next in line were both deleted before the poll: the newcomer gets it in that poll', async () => {
    const w = createWorld();
    const [a, b] = await w.onShelf(['C0', 100], ['C0', 200]);
    w.remove(a);
    w.remove(b);
    const n = w.create('C0', 300);
    await w.poll(); // a routine poll: no ghost cleanup
    await w.drain();
    expect(w.getCalls).toEqual([a, b]);
    expect(w.hipoink.shelf.get('C0')?.pn).toBe(`N${n}`);
  });

  it('when the GET of a code’s holder shows it moved to a code whose holder was deleted: that code is decided in the same poll', async () => {
    const w = createWorld({ cleanupEveryPolls: 1_000_000 }); // no ghost cleanup after the first poll
    const [e] = await w.onShelf(['C2', 100]);
    const [o] = await w.onShelf(['C0', 200]);
    w.wait(200_000); // o is older than the next reads, which start at the item below
    await w.onShelf(['C3', 50]);
    const n = w.create('C0', 300); // n wants C0, which o holds: the poll confirms o with a GET
    w.beforeNextGet(() => {
      w.recode(o, 'C2'); // after the read: only the GET sees it
      w.remove(e); // deleted, and no notice came
    });
    await w.poll();
    await w.drain();
    expect(w.getCalls).toEqual([o, e]);
    expect(w.hipoink.shelf.get('C0')?.pn).toBe(`N${n}`);
    expect(w.hipoink.shelf.get('C2')?.pn).toBe(`N${o}`);
  });

  it('when the code’s owner leaves it, the next in line was deleted unseen, and a push runs in the middle of the poll: the label comes down in that poll', async () => {
    for (let pushAfter = 0; pushAfter <= 6; pushAfter++) {
      const w = createWorld({ cleanupEveryPolls: 1_000_000 }); // no ghost cleanup after the first poll
      const [a, b, c] = await w.onShelf(['C0', 100], ['C0', 200], ['C2', 300]); // a owns C0, b is next
      w.setPrice(a, 150);
      await w.poll(); // the push of a's new price waits in the queue
      w.remove(b); // deleted, and no notice came
      w.recode(a, 'C1'); // a leaves C0 to b
      w.recode(c, 'C3'); // a second drop, between a's and the poll deciding C0
      // The waiting push may show b's label once the poll has dropped a from C0.
      await w.poll({ besidePush: pushAfter });
      await w.drain();
      expect(w.hipoink.shelf.get('C0'), `push after ${pushAfter} writes`).toBeUndefined();
      expect(w.hipoink.shelf.get('C1')?.pn).toBe(`N${a}`);
    }
  });

  it('when a poll stops after a newcomer wants the code of an item deleted unseen: its retry gives the newcomer the code', async () => {
    for (let stopAt = 1; stopAt <= 4; stopAt++) {
      const w = createWorld({ cleanupEveryPolls: 1_000_000 }); // no ghost cleanup after the first poll
      const [a] = await w.onShelf(['C0', 100]);
      w.remove(a); // deleted, and no notice came
      const b = w.create('C0', 200);
      await w.poll({ failAfterWrites: stopAt });
      await w.poll();
      await w.drain();
      expect(w.hipoink.shelf.get('C0')?.pn, `stopped after ${stopAt} writes`).toBe(`N${b}`);
    }
  });

  it('when a poll stops after the code’s owner leaves it to an item deleted unseen: its retry takes the code from it, whatever the shelf showed and a push did in between', async () => {
    for (const shown of ['held', 'waiting', 'refused'] as const)
      for (const pushBetween of [false, true])
        for (let stopAt = 1; stopAt <= 6; stopAt++) {
          const w = createWorld({ cleanupEveryPolls: 1_000_000 }); // no ghost cleanup after the first poll
          const c = w.create('C0', 100);
          if (shown === 'refused') w.refusedName(c); // Hipoink refuses c's label: C0 holds nothing
          const a = w.create('C0', 200); // next in line
          await w.poll();
          if (shown !== 'waiting') await w.drain(); // else c's label waits in the queue
          w.remove(a); // deleted, and no notice came
          w.recode(c, 'C1'); // c leaves C0 to a
          await w.poll({ failAfterWrites: stopAt });
          // The stopped poll queued what it wrote: a push may show a's label before the retry.
          if (pushBetween) await w.drain();
          await w.poll();
          await w.drain();
          const at = `C0 ${shown}, push between ${pushBetween}, stopped after ${stopAt} writes`;
          expect(w.hipoink.shelf.get('C0'), at).toBeUndefined();
          if (shown !== 'refused') expect(w.hipoink.shelf.get('C1')?.pn, at).toBe(`N${c}`);
        }
  });

  it('after a poll stops, its retry asks Clover only for the owners of codes that poll touched, not of every contested code', async () => {
    const w = createWorld({ cleanupEveryPolls: 1_000_000 });
    const pairs = Array.from({ length: 20 }, (_, i) => [
      [`D${i}`, 100] as const,
      [`D${i}`, 200] as const,
    ]).flat();
    await w.onShelf(...pairs);
    w.wait(600_000); // the next polls' overlap no longer reads them
    await w.poll();
    w.wait(600_000);
    w.create('C8', 100);
    await w.poll({ failAfterWrites: 1 });
    const before = w.getCalls.length;
    await w.poll();
    expect(w.getCalls.slice(before)).toEqual([]); // 20 contested codes, none touched: no GET
  });

  it('when the code’s owner leaves it and the next in line was deleted unseen: the label comes down in that poll', async () => {
    const w = createWorld({ cleanupEveryPolls: 1_000_000 }); // no ghost cleanup after the first poll
    const [a, b] = await w.onShelf(['C0', 100], ['C0', 200]); // a owns C0, b is next in line
    w.remove(b); // deleted, and no notice came
    w.recode(a, 'C1'); // a leaves C0 to b
    await w.poll();
    await w.drain();
    expect(w.getCalls).toEqual([b]);
    expect(w.hipoink.shelf.get('C0')).toBeUndefined();
    expect(w.hipoink.shelf.get('C1')?.pn).toBe(`N${a}`);
  });

  it('when a backfill --since after the cursor reads an item leaving a code another took over before: the code never comes down', async () => {
    const w = createWorld();
    const [a, b] = await w.onShelf(['C0', 100], ['C1', 200]);
    w.recode(b, 'C0'); // b wants C0 too (a, which wanted it first, keeps it)
    const since = w.clock + 1; // after the cursor and after b's edit
    w.recode(a, 'C2'); // a leaves C0: b now owns it; C0 was wanted throughout
    await w.poll({ full: true, since });
    await w.drain();
    await w.settle();
    expect(await w.check()).toEqual([]);
  });

  it('when a read stops early before the item that took over a code another left (recoded, or deleted with a notice): the code never comes down', async () => {
    for (const leaves of ['recoded', 'deleted'] as const) {
      const w = createWorld({ pageLimit: 2 });
      const [a, b] = await w.onShelf(['C0', 100], ['C1', 200]);
      w.recode(b, 'C0'); // b wants C0 too (a, which wanted it first, keeps it)
      if (leaves === 'recoded') w.recode(a, 'C2'); // a leaves: b owns C0, wanted throughout
      // A bulk import: a tie group larger than a page, read by offset within it.
      await w.bulk(() => {
        for (let i = 0; i < 12; i++) w.create('C3', 300 + i);
      });
      w.setPrice(b, 250); // b's latest version now comes after everything else
      if (leaves === 'deleted') w.remove(a);
      // Clover orders the import's items anew on every call: the read stops before it reaches b.
      await w.poll({ churn: 12, ...(leaves === 'deleted' ? { confirmGone: [a] } : {}) });
      expect(w.merchants.records.get('M1')?.lastSyncStatus).toBe('partial');
      await w.drain();
      await w.settle();
      expect(await w.check(), leaves).toEqual([]);
    }
  });

  it('when the GETs of two holders show they swapped codes after the read: each is asked for once, and a poll stopped at any write or with a push beside it leaves no wanted code down', async () => {
    for (let stopAt = 0; stopAt <= 8; stopAt++) {
      const w = createWorld({ cleanupEveryPolls: 1_000_000, storeWriteConcurrency: 1 });
      const [h] = await w.onShelf(['C2', 200]);
      const [o] = await w.onShelf(['C0', 100]); // seen after h: h keeps C2 against o
      w.wait(200_000); // o and h are older than the next reads
      await w.onShelf(['C3', 50]);
      const n = w.create('C0', 300); // n wants C0, which o holds: the poll asks for o
      w.beforeNextGet(() => w.swap(o, h)); // o takes C2, h takes C0: seen only by the GETs
      w.getCalls.length = 0;
      await w.poll(stopAt === 0 ? {} : { failAfterWrites: stopAt, besidePush: stopAt - 1 });
      expect(w.getCalls, `stopped after ${stopAt} writes`).toEqual(stopAt === 0 ? [o, h] : w.getCalls);
      expect(new Set(w.getCalls).size).toBe(w.getCalls.length);
      await w.settle(3); // routine polls (no ghost cleanup in this world)
      // C0 goes to whichever of h and n the polls saw want it first: in one poll both, and the item
      // id gives it to h; a stopped poll saw n first. The oracle checks which.
      const c0 = w.hipoink.shelf.get('C0')?.pn;
      expect(stopAt === 0 ? [`N${h}`] : [`N${h}`, `N${n}`], `stopped after ${stopAt} writes`).toContain(c0);
      expect(w.hipoink.shelf.get('C2')?.pn).toBe(`N${o}`);
      expect(await w.check()).toEqual([]);
    }
  });

  // Ghost cleanup lists ids after the read: an item that took a ghost's code in between is saved
  // from the listing before the ghost's deletion is confirmed, so the code never goes unwanted.
  it('when an item takes a code and its holder is deleted between the read and the ghost listing: the code never comes down', async () => {
    const w = createWorld({ cleanupEveryPolls: 1, overlapMs: 0 });
    const [g, y] = await w.onShelf(['C0', 100], ['C3', 200]);
    w.hipoink.calls.length = 0;
    // The read is one list call (nothing changed since the cursor); the next lists every id.
    const handover = () => {
      w.recode(y, 'C0'); // y takes C0 while g still wants it
      w.remove(g); // then g is deleted: C0 wanted throughout
    };
    await w.poll({ listEdits: { beforeCall: 1, run: handover } });
    await w.settle();
    expect(w.hipoink.calls.filter((c) => c.op === 'del_multiple' && c.codes.includes('C0'))).toEqual([]);
    expect(await w.check()).toEqual([]);
  });

  it('when the ghost listing shows an item that left its code after the read: it leaves the code in that poll', async () => {
    const w = createWorld({ cleanupEveryPolls: 1, overlapMs: 0 });
    const [y] = await w.onShelf(['C0', 100]);
    // The read is one list call; the ghost listing after it sees y recoded.
    await w.poll({ listEdits: { beforeCall: 1, run: () => w.recode(y, 'C1') } });
    await w.drain();
    expect(w.shelf.slots.get('M1/C0')?.wanters ?? []).toEqual([]);
    expect(w.hipoink.shelf.get('C0')).toBeUndefined();
    expect(w.hipoink.shelf.get('C1')?.pn).toBe(`N${y}`);
  });

  // The push decides from the slot it read before its Hipoink calls. When Hipoink refuses the owner's
  // label, it reads the slot again before taking down another item's label: a poll beside it may
  // have made a valid item the owner, whose push shows that label instead.
  it('when the owner Hipoink refuses is replaced by a poll while the push of its label runs: the code never comes down', async () => {
    const w = createWorld();
    const [a, b] = await w.onShelf(['C0', 100], ['C1', 200]); // Hipoink shows a under C0
    w.swap(b, a); // b takes C0 while a still wants it, then a takes C1: C0 wanted throughout
    const c = w.create('C0', 300); // c wants C0 too, after b
    w.refusedName(b); // b's label is one Hipoink refuses
    await w.poll(); // C0: b owns it (refused), a's label is held; a push of C0 is queued
    w.hide(b); // b leaves C0: c owns it now
    await w.push(0, { besidePoll: 0 }); // the poll reading b hidden runs before the push's calls
    await w.settle();
    expect(w.hipoink.shelf.get('C0')?.pn).toBe(`N${c}`);
    expect(w.hipoink.calls.filter((x) => x.op === 'del_multiple' && x.codes.includes('C0'))).toEqual([]);
    expect(await w.check()).toEqual([]);
  });
});

// The oracle orders the wanters of a code by their records' wanted-since times; a poll that set
// them wrongly, the same way in every record and slot, would pass unless they are checked apart.
describe('the oracle', () => {
  it('finds a stored wanted-since time no poll could have given, even where it changes no owner', async () => {
    const w = createWorld();
    const [a, b] = await w.onShelf(['C0', 100], ['C1', 200]);
    w.setPrice(a, 150); // a keeps its time
    w.recode(b, 'C0'); // b wants C0 from the next poll's start
    await w.poll();
    await w.drain();
    expect(await w.check()).toEqual([]);
    const since = (id: string) => w.shelf.items.get(`M1/${id}`)?.wantsSince ?? Number.NaN;
    const [kept, started] = [since(a), since(b)];
    const stored = (id: string, time: number) => {
      const record = w.shelf.items.get(`M1/${id}`);
      if (record) record.wantsSince = time;
    };
    // Each a tie with the other item: a, the lower id, keeps C0 and Hipoink shows what it should.
    stored(a, started); // as if the price change had started a's time anew
    expect(await w.check()).toEqual([expect.stringMatching(`^${a}: wants C0 since .* at the latest;`)]);
    stored(a, kept);
    stored(b, kept); // as if b had wanted C0 since before it took it
    expect(await w.check()).toEqual([expect.stringMatching(`^${b}: wants C0 since .* at the earliest;`)]);
  });

  it('holds a deleted holder to the poll that read its code change hands, and excuses one no poll was led to', async () => {
    const w = createWorld({ cleanupEveryPolls: 1_000_000 }); // no ghost cleanup after the first poll
    const [a, b] = await w.onShelf(['C0', 100], ['C1', 200]);
    w.remove(a);
    w.remove(b);
    w.create('C0', 300); // the next poll reads a newcomer wanting C0, and nothing of C1
    const before = structuredClone(w.shelf.items.get(`M1/${a}`));
    await w.poll();
    await w.drain();
    expect(w.hipoink.shelf.get('C1')?.pn).toBe(`N${b}`); // b waits for ghost cleanup
    expect(await w.check({ unconfirmedGhosts: true })).toEqual([]);
    expect(await w.check()).toEqual([`C1: nobody visible wants it, Hipoink shows N${b}`]);
    if (before) w.shelf.items.set(`M1/${a}`, before); // as if the poll had not found a gone
    expect(await w.check({ unconfirmedGhosts: true })).toEqual([
      expect.stringMatching(`^C0: ${a} was deleted before a poll that saw the code change hands;`),
    ]);
  });
});

/** Sequences of the property below; more with SHELF_UNMARKED_RUNS. */
const UNMARKED_RUNS = Number(process.env.SHELF_UNMARKED_RUNS ?? 300);

describe('the shelf model, between polls', () => {
  it(
    'leaves every slot naming exactly the stored wants whenever a poll clears the store’s mark (property)',
    async () => {
      await fc.assert(
        fc.asyncProperty(...wideRunArbs, async (settings, ops) => {
          const w = createWorld(settings);
          const ids: string[] = [];
          for (const [n, op] of ops.entries()) {
            await apply(w, op, ids);
            expect(w.slotsAstray(), `after op ${n}`).toEqual([]);
          }
        }),
        { numRuns: UNMARKED_RUNS },
      );
    },
    Math.max(TIME_MS, UNMARKED_RUNS * 6),
  );
});
