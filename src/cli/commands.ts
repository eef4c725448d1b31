/**
 * Every `esl-sync` command, declared once: its usage, its help, the options it takes, the checks
 * made before any stack is looked up (`parse`), what it does (`run`, returning data), and how that
 * data reads as text. Printing, --json and exit codes are `main.ts`'s. The work itself lives in
 * `src/sync/`, `src/connect/` and `src/store/`: a command only wires it.
 */
import { createCloverClient } from '../clover/client.ts';
import type { TokenPair } from '../clover/schemas.ts';
import { nextMerchantState, ownerMustReconnect, tokensOpenMerchant } from '../connect/authorize.ts';
import { inviteUrl, newInvite } from '../connect/invites.ts';
import { countShelf } from '../domain/counts.ts';
import {
  blocked,
  ownerOf,
  ownerRefusal,
  refusedOffShelf,
  type Slot,
  shelfReport,
  slotAction,
  wantDrift,
  wantedLabel,
} from '../domain/shelf.ts';
import { CloverUnauthorizedError, MerchantUnavailableError, UnusableMerchantRecordError } from '../errors.ts';
import { type QueueDepth, queueDepth } from '../queues/depth.ts';
import {
  type DeadLetter,
  discardDeadLetters,
  peekDeadLetters,
  redriveDeadLetters,
} from '../queues/redrive.ts';
import { heartbeatLate } from '../store/heartbeat.ts';
import { type MerchantRecord, type MerchantView, merchantView } from '../store/merchants.ts';
import type { ItemRecord } from '../store/shelf.ts';
import { createWebhookVerificationStore } from '../store/webhooks.ts';
import type { BackfillResult } from '../sync/backfill.ts';
import type { FanOutResult } from '../sync/fanout.ts';
import { fullSyncPushesSettledCodes, type StoreProgress } from '../sync/progress.ts';
import type { BackupRefreshResult } from '../sync/refresh.ts';
import { type Cleared, moveStore, removeMerchant, retryRefusedClears } from '../sync/stores.ts';
import { WEB_PATHS } from '../web/app.ts';
import type { CommandContext } from './context.ts';
import { NotFoundError, UsageError } from './errors.ts';
import {
  backfillPayload,
  type CliIo,
  type CliValues,
  dlqSelection,
  inviteDays,
  labelSelection,
  messageIdsOption,
  type OptionName,
  parseLabelOptions,
  parseMerchantAdd,
  storeCodeOption,
  timeoutMs,
} from './options.ts';
import {
  attentionHint,
  merchantLine,
  pushFailureLine,
  refresherLine,
  sharedFailureLines,
  shelfLine,
} from './text.ts';

interface CommandSpec<P, D> {
  /** The command's words, e.g. `merchants show`. */
  name: string;
  /** It acts on one merchant, named by the argument after the command's words. */
  merchantId?: true;
  /** The options part of its usage line. */
  synopsis: string;
  /** One line for the overview. */
  summary: string;
  /** What it does, for its own help. */
  description: string;
  /** The options it takes besides the global ones, each with its help. */
  options: Partial<Record<OptionName, string>>;
  /** Every check that needs no stack. */
  parse: (input: { values: CliValues; merchantId: string; io: CliIo }) => P | Promise<P>;
  run: (ctx: CommandContext, p: P) => Promise<D>;
  /** The data as text lines; `cli` is how to invoke the CLI for the target, for suggested commands. */
  text: (data: D, cli: string) => string[];
  /** The command ran, but what it found is a failure: its output is shown, and it exits 1. */
  failed?: (data: D) => boolean;
}

/** A command, its types closed over: checked input becomes a run that yields data and its text. */
export interface Command {
  name: string;
  merchantId: boolean;
  synopsis: string;
  summary: string;
  description: string;
  options: Partial<Record<OptionName, string>>;
  prepare(input: {
    values: CliValues;
    merchantId: string;
    io: CliIo;
  }): Promise<(ctx: CommandContext) => Promise<{ data: unknown; text: () => string[]; failed: boolean }>>;
}

function command<P, D>(spec: CommandSpec<P, D>): Command {
  return {
    name: spec.name,
    merchantId: spec.merchantId === true,
    synopsis: spec.synopsis,
    summary: spec.summary,
    description: spec.description,
    options: spec.options,
    async prepare(input) {
      const p = await spec.parse(input);
      return async (ctx) => {
        const data = await spec.run(ctx, p);
        return { data, text: () => spec.text(data, ctx.cli), failed: spec.failed?.(data) ?? false };
      };
    },
  };
}

const WAIT_OPTIONS = {
  wait: "return once this store's resync is done (its poll finished after the request and no label is left to push), showing its progress",
  timeout: 'give up waiting after SECS seconds (default 300); exit code 1',
} as const;

/** The web function's base URL, without a trailing slash: where store owners and Clover reach us. */
function webUrlOf(ctx: CommandContext): string {
  const webUrl = ctx.target.stack.webUrl;
  if (!webUrl) {
    throw new Error(
      ctx.target.kind === 'aws'
        ? 'The deployed stack has no WebUrl output: deploy this version of esl-sync first'
        : 'The running local stack has no web endpoint: restart it with `npm start`',
    );
  }
  return webUrl.replace(/\/+$/, '');
}

/** Stores a new invite and returns its link: the one time the link is shown. */
async function createInvite(
  ctx: CommandContext,
  what: { storeCode: string } | { forMerchant: string },
  days: number | undefined,
) {
  const webUrl = webUrlOf(ctx);
  const created = newInvite(what, { now: Date.now(), ...(days === undefined ? {} : { days }) });
  await ctx.invites.create(created.invite);
  return { url: inviteUrl(webUrl, created.id), expiresAt: new Date(created.invite.expiresAt).toISOString() };
}

const inviteText = (describe: string, invite: { url: string; expiresAt: string }) => [
  `${describe} (single use, expires ${invite.expiresAt}):`,
  invite.url,
  'Send it to the store owner: they open it, sign in to Clover and press Allow.',
];

/** Queues a full resync of one merchant through the Backfill function; its result says when. */
/**
 * Queues a full resync of one merchant and, with `wait`, waits until its store is in line (the
 * push queue empty too where the resync sends codes its slots show in step, such as refused ones).
 */
async function resync(
  ctx: CommandContext,
  merchant: MerchantRecord,
  wait?: { timeoutMs: number },
): Promise<{ resyncQueued: boolean; synced?: StoreProgress[] }> {
  const { merchantId } = merchant;
  const result = await ctx.invoke<BackfillResult>(ctx.target.stack.backfillFunction, { merchantId });
  const resyncQueued = result.queued.length > 0;
  if (!wait) return { resyncQueued };
  const synced = await ctx.storesSynced(
    result.queued,
    { at: result.requestedAt, full: true },
    wait.timeoutMs,
    fullSyncPushesSettledCodes(merchant, {}),
  );
  return { resyncQueued, synced };
}

const SHARE_STORE_OPTION = {
  'share-store':
    "allow a Hipoink store another merchant's labels are in (only if their product codes never overlap)",
} as const;

/** The merchants (but `except`) whose labels are in Hipoink store `storeCode`: theirs, or one they are leaving. */
async function merchantsInStore(ctx: CommandContext, storeCode: string, except?: string) {
  return (await ctx.merchants.list())
    .filter((m) => (m.storeCode === storeCode || m.movingFrom === storeCode) && m.merchantId !== except)
    .map((m) => m.merchantId);
}

/**
 * Two Clover accounts in one Hipoink store overwrite each other's labels under any product code
 * both use, and a store move or removal deletes the codes of one that the other shows: refused
 * unless the operator says the codes never overlap.
 */
async function refuseSharedStore(ctx: CommandContext, merchantId: string, storeCode: string, share: boolean) {
  const others = await merchantsInStore(ctx, storeCode, merchantId);
  if (others.length === 0 || share) return;
  throw new Error(
    `store ${storeCode} already shows the labels of merchant ${others.join(', ')}: two merchants in one ` +
      'Hipoink store overwrite each other under a shared product code. Use another store code, or add ' +
      '--share-store if their product codes never overlap',
  );
}

const storesInvite = command({
  name: 'stores invite',
  synopsis: '--store-code CODE [--expires-in DAYS]',
  summary: "a single-use link that connects a store's Clover account to its labels",
  description:
    "Makes a single-use link (7 days unless --expires-in) that connects a Clover merchant to the Hipoink store CODE. Send it to the store owner: they open it, sign in to Clover and press Allow; the store's labels fill on the next poll. No token is ever copied by hand.",
  options: {
    'store-code': 'the Hipoink store code its labels go to',
    'expires-in': 'days the link stays usable: more than 0 (0.5 is 12 hours), at most 30; default 7',
  },
  parse: ({ values }) => ({ storeCode: storeCodeOption(values), days: inviteDays(values) }),
  run: async (ctx, { storeCode, days }) => {
    const invite = await createInvite(ctx, { storeCode }, days);
    // Two Clover accounts in one Hipoink store would overwrite each other's labels.
    const holders = await merchantsInStore(ctx, storeCode);
    if (holders.length > 0) {
      ctx.warn(
        `note: merchant ${holders.join(', ')} already shows its labels in store ${storeCode}; the link ` +
          're-authorizes it, but another Clover account accepting it would share that store',
      );
    }
    return { ...invite, storeCode, storeAlreadyUsedBy: holders };
  },
  text: (d) => inviteText(`Link that connects a Clover account to store ${d.storeCode}`, d),
});

const merchantsReconnect = command({
  name: 'merchants reconnect',
  merchantId: true,
  synopsis: '',
  summary: 'a single-use link that re-authorizes that merchant (after needs_reauth)',
  description:
    'Makes a single-use link for this merchant only (7 days). When Clover refused its refresh token (state needs_reauth), its owner opens the link and presses Allow: new tokens are stored and the merchant is active again, with its cursor, products and labels kept (one an operator disabled stays disabled until `merchants enable`).',
  options: {},
  parse: ({ merchantId }) => ({ merchantId }),
  run: async (ctx, { merchantId }) => {
    const record = await ctx.mustGet(merchantId);
    const invite = await createInvite(ctx, { forMerchant: merchantId }, undefined);
    return { ...invite, merchantId, ...(record.storeCode ? { storeCode: record.storeCode } : {}) };
  },
  text: (d) =>
    inviteText(
      `Link that re-authorizes merchant ${d.merchantId} (${d.storeCode ? `store ${d.storeCode}` : 'no store code yet'})`,
      d,
    ),
});

type AssignResult =
  | { merchantId: string; storeCode: string; outcome: 'already' }
  | { merchantId: string; storeCode: string; outcome: 'moved'; from: string; cleared: Cleared }
  | {
      merchantId: string;
      storeCode: string;
      outcome: 'assigned';
      state: MerchantView['state'];
      resyncQueued: boolean;
      synced?: StoreProgress[];
    };

const merchantsAssign = command({
  name: 'merchants assign',
  merchantId: true,
  synopsis: '--store-code CODE [--share-store] [--wait] [--timeout SECS]',
  summary: "give a pending merchant its store code, or move a merchant's labels to another store",
  description:
    "A pending merchant (connected through Clover's App Market, no store code) gets store CODE, becomes active and gets a full resync. A merchant that has a store code already has its labels moved: store CODE first receives every label, and only once every code is in step there is the old store emptied (a move always waits for that). A move cut short is finished by running the same command again.",
  options: {
    'store-code': 'the Hipoink store code its labels go to',
    ...SHARE_STORE_OPTION,
    ...WAIT_OPTIONS,
  },
  parse: ({ values, merchantId }) => ({
    merchantId,
    storeCode: storeCodeOption(values),
    share: values['share-store'] === true,
    wait: values.wait === true,
    timeoutMs: timeoutMs(values),
  }),
  run: async (ctx, p): Promise<AssignResult> => {
    const { merchantId, storeCode } = p;
    const record = await ctx.mustGet(merchantId);
    await refuseSharedStore(ctx, merchantId, storeCode, p.share);
    // A merchant with a store code moves (or is there already; a move cut short is finished).
    if (record.storeCode !== undefined) {
      const moved = await moveStore(ctx.storeChanges(p.timeoutMs), merchantId, storeCode);
      return moved.moved
        ? { merchantId, storeCode, outcome: 'moved', from: moved.from, cleared: moved.cleared }
        : { merchantId, storeCode, outcome: 'already' };
    }
    const state = nextMerchantState(storeCode, record.state);
    if (!(await ctx.merchants.assignStoreCode(merchantId, storeCode, state))) {
      throw new Error(
        `merchant ${merchantId} was given a store code meanwhile; see merchants show ${merchantId}`,
      );
    }
    if (state !== 'active') return { merchantId, storeCode, outcome: 'assigned', state, resyncQueued: false };
    ctx.progress(`merchant ${merchantId}: store ${storeCode}, ${state}`);
    const done = await resync(ctx, record, p.wait ? { timeoutMs: p.timeoutMs } : undefined);
    return { merchantId, storeCode, outcome: 'assigned', state, ...done };
  },
  text: (d) => {
    if (d.outcome === 'already')
      return [`merchant ${d.merchantId} already shows its labels in store ${d.storeCode}`];
    if (d.outcome === 'moved') {
      return [
        `merchant ${d.merchantId}: labels moved from store ${d.from} to store ${d.storeCode}; ${clearedText(d.cleared, retryClearHint(d.merchantId, d.cleared))}`,
      ];
    }
    if (!d.resyncQueued) return [`merchant ${d.merchantId}: store ${d.storeCode}, ${d.state}`];
    return [
      d.synced
        ? `merchant ${d.merchantId}: its labels are in store ${d.storeCode}`
        : `merchant ${d.merchantId}: full resync queued so its labels appear in store ${d.storeCode}`,
    ];
  },
});

/** Codes named in a line: a few, then how many more. */
const SHOWN_CODES = 10;

/**
 * What a store left holds no more; a code Hipoink refused to delete stays there, named, with what
 * to do: `then` (sending the deletes again, or taking them off by hand once nothing records them).
 */
const clearedText = (c: Cleared, then: string) => {
  if (c.refused === 0) return `store ${c.storeCode}: ${c.deleted} code(s) deleted`;
  const more = c.refusedCodes.length - SHOWN_CODES;
  const codes = c.refusedCodes.slice(0, SHOWN_CODES).join(', ') + (more > 0 ? ` and ${more} more` : '');
  return (
    `store ${c.storeCode}: ${c.deleted} code(s) deleted, ${c.refused} Hipoink refused to delete ` +
    `(LabelRemovalRefused): ${codes}; ${then}`
  );
};
/** What to do about deletes Hipoink refused in a store the merchant moved away from. */
const retryClearHint = (merchantId: string, c: Cleared) =>
  `once fixed in Hipoink, merchants retry-clear ${merchantId} --store-code ${c.storeCode}`;

const merchantsRetryClear = command({
  name: 'merchants retry-clear',
  merchantId: true,
  synopsis: '--store-code CODE [--timeout SECS]',
  summary: 'delete again, from a store the merchant moved away from, the labels Hipoink refused to delete',
  description:
    "A move deletes the merchant's labels from the store it leaves; a delete Hipoink refused (LabelRemovalsRefused) leaves that label there. Once the cause is fixed in Hipoink (e.g. the label unbound), this sends those deletes again and says how many Hipoink took.",
  options: {
    'store-code': 'the Hipoink store the merchant moved away from',
    timeout: 'give up waiting for the deletes after SECS seconds (default 300); exit code 1',
  },
  parse: ({ values, merchantId }) => ({
    merchantId,
    storeCode: storeCodeOption(values),
    timeoutMs: timeoutMs(values),
  }),
  run: async (ctx, { merchantId, storeCode, timeoutMs }) => {
    await ctx.mustGet(merchantId);
    // Given to another merchant since, the store may show that one's labels under the same codes.
    const others = await merchantsInStore(ctx, storeCode, merchantId);
    if (others.length > 0)
      throw new Error(
        `store ${storeCode} now shows the labels of merchant ${others.join(', ')}: a delete there could ` +
          'take theirs down; take the products left there off in Hipoink by hand',
      );
    const cleared = await retryRefusedClears(ctx.storeChanges(timeoutMs), merchantId, storeCode);
    return { merchantId, ...cleared };
  },
  text: (d) => [
    d.deleted + d.refused === 0
      ? `merchant ${d.merchantId}: store ${d.storeCode} has no delete Hipoink refused`
      : `merchant ${d.merchantId}: ${clearedText(d, retryClearHint(d.merchantId, d))}`,
  ],
});

/** Nothing records a removed merchant's codes: a delete Hipoink refused is taken off by hand. */
const REMOVED_BY_HAND = 'nothing records them any more: take them off in Hipoink by hand';

const merchantsRemove = command({
  name: 'merchants remove',
  merchantId: true,
  synopsis: '[--remove-labels] [--timeout SECS]',
  summary: 'offboard a store: stop syncing, delete its tokens and records',
  description:
    "Stops syncing the merchant at once, then deletes its record (its Clover tokens with it, the previous refresh token included), its items and its slots. With --remove-labels its labels are taken off its Hipoink store first. Kept: without --remove-labels the labels and their last prices stay in Hipoink; the app stays installed in the store's Clover account until the store uninstalls it. A record that cannot be read (a field missing or invalid) is deleted the same way, without --remove-labels, its labels left where they are.",
  options: {
    'remove-labels':
      'take its labels off its Hipoink store first (deleting a product also unbinds its label)',
    timeout: 'give up waiting for its last polls and pushes after SECS seconds (default 300); exit code 1',
  },
  parse: ({ values, merchantId }) => ({
    merchantId,
    removeLabels: values['remove-labels'] === true,
    timeoutMs: timeoutMs(values),
  }),
  run: async (ctx, { merchantId, removeLabels, timeoutMs }) => {
    // A record that cannot be read is removed too: its labels stay (which store holds them is unknown).
    await ctx.mustGet(merchantId).catch((err: unknown) => {
      if (!(err instanceof UnusableMerchantRecordError)) throw err;
    });
    const removed = await removeMerchant(ctx.storeChanges(timeoutMs), merchantId, { removeLabels });
    return {
      merchantId,
      storeCode: removed.storeCode,
      labelsRemoved: removeLabels,
      cleared: removed.cleared,
      unreadable: removed.unreadable,
    };
  },
  text: (d) => [
    `merchant ${d.merchantId} removed: its tokens, items and sync state are deleted` +
      (d.unreadable
        ? '; its record could not be read, so its labels stay in whichever Hipoink store holds them'
        : d.labelsRemoved
          ? `; ${d.cleared.map((c) => clearedText(c, REMOVED_BY_HAND)).join('; ') || 'it had no store to take labels off'}`
          : `; its labels stay in store ${d.storeCode ?? '(none)'}`) +
      '. The app stays installed in Clover until the store uninstalls it.',
  ],
});

/** Refuses, before anything is stored, a token pair Clover does not accept for this merchant. */
async function checkTokenPair(ctx: CommandContext, merchantId: string, tokens: TokenPair) {
  const baseUrl = ctx.target.stack.cloverApiBaseUrl;
  if (baseUrl === undefined) {
    ctx.warn('warning: this stack does not say which Clover host it calls; the tokens were not checked');
    return;
  }
  // Only a refresh could prove an expired access token's pair, and a refresh spends it.
  if (tokens.access_token_expiration * 1000 <= Date.now()) {
    ctx.warn('warning: the access token has expired, so the pair was not checked with Clover');
    return;
  }
  try {
    await tokensOpenMerchant(createCloverClient({ baseUrl, retryLimit: 2 }), merchantId, tokens.access_token);
  } catch (err) {
    const why =
      err instanceof CloverUnauthorizedError
        ? `Clover does not accept this access token for merchant ${merchantId} (a mistyped merchant id, or another store's tokens?)`
        : `Clover could not confirm the tokens open merchant ${merchantId} (${err instanceof Error ? err.message : String(err)}; its polls would fail the same way: does the app have inventory read permission?)`;
    throw new Error(`${why}: nothing stored`);
  }
}

const merchantsAdd = command({
  name: 'merchants add',
  synopsis:
    '--merchant-id ID --store-code CODE [--share-store] (--tokens-file FILE|- | --access-token T --access-token-expiration SECS --refresh-token T --refresh-token-expiration SECS)',
  summary: "store a merchant with Clover's token pair (scripts and migrations)",
  description:
    "For scripts and migrations: stores merchant ID, syncing to store CODE, with the token pair Clover's token endpoint returned. On an existing merchant it re-authorizes it (new tokens, state back to active, sync state kept). Connecting a store is otherwise `stores invite`. A pair Clover does not accept for ID (one read of its items) is refused, nothing stored. Token values are stored encrypted and never printed.",
  options: {
    'merchant-id': 'the Clover merchant id',
    'store-code': 'the Hipoink store code its labels go to',
    'tokens-file':
      "a file (or - for stdin) holding Clover's JSON {access_token, access_token_expiration, refresh_token, refresh_token_expiration}",
    'access-token': 'the access token (ends up in shell history: prefer --tokens-file)',
    'access-token-expiration': 'its expiry, Unix seconds',
    'refresh-token': 'the refresh token (ends up in shell history: prefer --tokens-file)',
    'refresh-token-expiration': 'its expiry, Unix seconds',
    ...SHARE_STORE_OPTION,
  },
  parse: async ({ values, io }) => ({
    ...(await parseMerchantAdd(values, io)),
    share: values['share-store'] === true,
  }),
  run: async (ctx, { share, ...add }) => {
    await refuseSharedStore(ctx, add.merchantId, add.storeCode, share);
    await checkTokenPair(ctx, add.merchantId, add.tokens);
    const saved = await ctx.merchants.upsert(add).catch((err: unknown) => {
      if (!(err instanceof MerchantUnavailableError)) throw err;
      const move = `\`${ctx.cli} merchants assign ${add.merchantId} --store-code ${add.storeCode}\``;
      throw new Error(`${err.message} (${move}), nothing was saved`);
    });
    return merchantView(saved);
  },
  text: (v) => [`merchant ${v.merchantId} saved (store ${v.storeCode}, state ${v.state})`],
});

const merchantsList = command({
  name: 'merchants list',
  synopsis: '',
  summary: 'every merchant: state, store code, last sync',
  description:
    'Lists every merchant with its state (active, needs_reauth, disabled, pending), store code and last sync.',
  options: {},
  parse: () => undefined,
  run: async (ctx) => (await ctx.merchants.list()).map((m) => merchantView(m)),
  text: (views) => (views.length === 0 ? ['no merchants'] : views.map(merchantLine)),
});

const merchantsShow = command({
  name: 'merchants show',
  merchantId: true,
  synopsis: '',
  summary: 'one merchant: its sync state and shelf, with every item not shown and why',
  description:
    "One merchant's state, last sync, label rules and shelf counts, and, read from its items and slots, every item whose label does not show it as it is in Clover, with the reason: invalid in Clover, a product code already used by another item, or refused by Hipoink.",
  options: {},
  parse: ({ merchantId }) => ({ merchantId }),
  run: async (ctx, { merchantId }) => {
    const record = await ctx.mustGet(merchantId);
    const [items, slots] = [await ctx.shelf.listItems(merchantId), await ctx.shelf.listSlots(merchantId)];
    return {
      ...merchantView(record),
      products: { counts: countShelf(items, slots), ...shelfReport(items, slots) },
    };
  },
  text: (d, cli) => {
    const c = d.products.counts;
    const push = pushFailureLine(d, cli);
    const reasons = (list: Array<{ itemId: string; name?: string; reason: string }>) =>
      list.map((r) => `${r.itemId}${r.name ? ` ${JSON.stringify(r.name)}` : ''} (${r.reason})`).join(', ') ||
      '-';
    return [
      merchantLine(d),
      ...(push ? [push] : []),
      `  counted from its records: ${c.onShelf} on shelf, ${c.outOfStep} to push, ${c.refused} refused, ${c.invalid} invalid, ${c.removed} removed, of ${c.items} item(s)`,
      `  invalid: ${reasons(d.products.invalid)}`,
      `  rejected: ${reasons(d.products.rejected)}`,
    ];
  },
});

/** What makes a store that is not active run again: the step its state asks of the operator or its owner. */
function startAgainStep(m: MerchantRecord, cli: string) {
  return m.state === 'disabled' && !ownerMustReconnect(m)
    ? `\`${cli} merchants enable ${m.merchantId}\` first`
    : attentionHint(merchantView(m), cli);
}

/** An item as `merchants label` tells it: whether it wants a label at all, and why not. */
function itemStateText(i: {
  status: string;
  removedReason?: string;
  invalidReason?: string;
  wantsCode?: string;
  labelHeldUnder?: string;
}) {
  const held =
    i.labelHeldUnder === undefined
      ? ''
      : `, yet Hipoink holds its label under product code ${i.labelHeldUnder}, as last recorded`;
  const wants =
    i.wantsCode === undefined ? `it wants no label${held}` : `it wants product code ${i.wantsCode}`;
  if (i.status === 'removed') return `removed (${i.removedReason ?? 'gone'}): ${wants}`;
  if (i.status === 'invalid') {
    return `invalid (${i.invalidReason ?? 'invalid'}): ${i.wantsCode === undefined ? wants : `${wants}, with its last valid label`}`;
  }
  return `active: ${wants}`;
}

const labelText = (name: string, price: string) => `"${name}" ${price}`;

const merchantsLabel = command({
  name: 'merchants label',
  merchantId: true,
  synopsis: '--code CODE | --item ITEM_ID',
  summary: 'one label: the items that want a product code, which one gets it, what Hipoink holds under it',
  description:
    "Answers \"why does this shelf label show that?\" for one product code, or for the code one Clover item wants: every item that wants the code and since when, which one gets it (the earliest to want it) and why the others do not; what Hipoink holds under it as last recorded, or refused and why; whether a Hipoink call under it has no recorded answer yet; whether an item's own record and the code's disagree (a poll stopped between writing them: the next poll repairs it); and whether a push must still do something there. It reads the store's records of that code and item, not Hipoink or Clover: a change no poll has read yet is not in it.",
  options: {
    code: "the product code (what Hipoink keys the label by: the item's code, SKU or id, as the store's rules pick)",
    item: 'a Clover item id: its state, and the product code it wants',
  },
  parse: ({ values, merchantId }) => ({ merchantId, selection: labelSelection(values) }),
  run: async (ctx, { merchantId, selection }) => {
    const record = await ctx.mustGet(merchantId);
    let item: ItemRecord | undefined;
    if ('itemId' in selection) {
      [item] = await ctx.shelf.getItems(merchantId, [selection.itemId]);
      if (!item) {
        throw new NotFoundError(
          `Clover item ${selection.itemId} is not among merchant ${merchantId}'s items: not read by a poll yet, or another merchant's`,
        );
      }
    }
    const wants = item ? wantedLabel(item)?.label.pc : undefined;
    // An item that wants no label may still have one on the shelf, as last recorded: its code is told.
    const heldUnder =
      item && wants === undefined
        ? (await ctx.shelf.listSlots(merchantId)).find((s) => s.held?.itemId === item?.itemId)?.code
        : undefined;
    const code = 'code' in selection ? selection.code : (wants ?? heldUnder);
    const [slot] = code === undefined ? [] : await ctx.shelf.getSlots(merchantId, [code]);
    // The records of the items the slot lists, and the one asked for: a poll writes them first.
    const ids = [...(slot?.wanters.map((w) => w.itemId) ?? []), ...(item ? [item.itemId] : [])];
    const others = slot
      ? await ctx.shelf.getItems(
          merchantId,
          ids.filter((id) => id !== item?.itemId),
        )
      : [];
    const itemRecords = new Map([...others, ...(item ? [item] : [])].map((r) => [r.itemId, r]));
    const repair = slot
      ? [...new Set(ids)].flatMap((itemId) => {
          const change = wantDrift(slot, itemId, itemRecords.get(itemId));
          return change ? [{ itemId, change }] : [];
        })
      : [];
    // As status shows the store (a field left undefined is left out of --json).
    const view = merchantView(record);
    return {
      merchantId,
      storeCode: view.storeCode,
      state: view.state,
      // The records are as the last poll left them: Clover may have changed since.
      lastSyncAt: view.lastSyncAt,
      startAgain: view.state === 'active' ? undefined : startAgainStep(record, ctx.cli),
      // Whether the store's pushes reach Hipoink at all: a code out of step waits on that first.
      pushFailingSince: view.pushFailingSince,
      lastPushError: view.lastPushError,
      shelfWritesUnfinishedSince:
        record.shelfWritesUnfinished === undefined
          ? undefined
          : new Date(record.shelfWritesUnfinished).toISOString(),
      item: item && {
        itemId: item.itemId,
        status: item.status,
        removedReason: item.removedReason,
        invalidReason: item.invalidReason,
        wantsCode: wants,
        labelHeldUnder: heldUnder,
      },
      slot: slot && { ...slotView(slot), repair },
    };
  },
  text: (d, cli) => {
    const lines = [`merchant ${d.merchantId}  store ${d.storeCode ?? '-'}  ${d.state}`];
    // Not active: no poll reads Clover, repairs or queues a push, and a backfill is refused.
    const active = d.state === 'active';
    if (!active) {
      lines.push(
        `  while ${d.state}, no poll of the store reads Clover or queues a push, and a backfill is refused${d.startAgain ? `: ${d.startAgain}` : ''}`,
      );
    } else {
      lines.push(
        `  as its last poll left its records (${d.lastSyncAt ?? 'no poll yet'}): a Clover change since, or a deletion no webhook notice told of, shows after \`${cli} backfill --merchant-id ${d.merchantId} --wait\``,
      );
    }
    const push = pushFailureLine(d, cli);
    if (push) lines.push(push);
    if (d.item) lines.push(`  Clover item ${d.item.itemId}: ${itemStateText(d.item)}`);
    const slot = d.slot;
    if (!slot) return lines;
    lines.push(`  product code ${slot.code}:`);
    if (slot.wanters.length === 0) {
      lines.push(
        '    wanted by no item (none has this code, or those that do are hidden, deleted, variable-priced, never valid or not read by a poll yet)',
      );
    }
    for (const w of slot.wanters) {
      lines.push(
        `    wanted by Clover item ${w.itemId} since ${w.wantsSince}: ${labelText(w.name, w.price)} (${w.gets ? 'gets it' : `not shown: ${w.notShown}`})`,
      );
    }
    const held = slot.held;
    lines.push(
      `    Hipoink holds, as last recorded: ${held ? `${labelText(held.name, held.price)} from Clover item ${held.itemId}` : 'nothing'}`,
    );
    const backfill = `\`${cli} backfill --merchant-id ${d.merchantId}\``;
    const once = active ? '' : ', the store active again';
    if (slot.refused?.current) {
      lines.push(
        `    Hipoink refused Clover item ${slot.refused.itemId}'s label: ${slot.refused.reason}. It is sent again when the item changes in Clover, or by ${backfill} once the cause is fixed${once}`,
      );
    }
    if (slot.unanswered)
      lines.push(
        `    a Hipoink call under it has no recorded answer yet (it failed, was cut short, or runs now; or Hipoink refused to delete the code: the consumer's log line "Hipoink refused to delete a product code" gives its reason): what Hipoink holds there is not known, and the next push of this code sends it again`,
      );
    const repairs = `the store's next poll writes it from the item's record (${backfill} at once${once}), and a push follows`;
    for (const r of slot.repair) {
      lines.push(
        r.change === 'want'
          ? `    Clover item ${r.itemId}'s record wants this code with a label this code's record does not list yet (a poll stopped between its writes): ${repairs}`
          : `    Clover item ${r.itemId}'s record no longer wants this code, which still lists it (a poll stopped between its writes): ${repairs}`,
      );
    }
    if (d.shelfWritesUnfinishedSince !== undefined && slot.repair.length === 0) {
      lines.push(
        `    a poll has been writing this store's records since ${d.shelfWritesUnfinishedSince} and not finished: until one succeeds, an item it wrote may want this code unlisted here`,
      );
    }
    const owner = slot.wanters.find((w) => w.gets);
    const asRecorded = slot.repair.length > 0 ? ' as the code is recorded, until then' : '';
    // A refused label is left as it is by every push: the shelf keeps whatever Hipoink held before.
    // Not "out of step", which status counts "to push": it counts this code among the refused.
    if (slot.next === 'none' && slot.refused?.offShelf) {
      lines.push(
        `    refused${asRecorded}: Hipoink does not show Clover item ${owner?.itemId}'s label as it is now, and no push sends it again by itself (see the refusal above; status counts the code as refused, not to push)`,
      );
    } else if (slot.next === 'none') {
      lines.push(`    in step${asRecorded}: no push has anything to do here`);
    } else {
      lines.push(
        `    out of step: a push must ${slot.next === 'create' ? `show Clover item ${owner?.itemId}'s label` : 'take the label off (no item wants the code)'}; ${active ? `one on its way does (or, after a push of the store was set aside, its next poll; else its next ghost cleanup), ${backfill} at once` : `one on its way does, but no poll queues one until the store is active again`}`,
      );
    }
    return lines;
  },
});

/** One code's slot as `merchants label` shows it, each judgement made by the shelf rules. */
function slotView(slot: Slot) {
  const owner = ownerOf(slot);
  const notShown = new Map(blocked(slot).map((b) => [b.itemId, b.reason]));
  return {
    code: slot.code,
    wanters: slot.wanters.map((w) => ({
      itemId: w.itemId,
      name: w.label.pn,
      price: w.label.pp,
      wantsSince: new Date(w.wantsSince).toISOString(),
      gets: w.itemId === owner?.itemId,
      ...(notShown.has(w.itemId) ? { notShown: notShown.get(w.itemId) } : {}),
    })),
    held: slot.held && { itemId: slot.held.itemId, name: slot.held.label.pn, price: slot.held.label.pp },
    refused: slot.refused && {
      itemId: slot.refused.itemId,
      reason: slot.refused.reason,
      // A refusal of a label the owner no longer wants no longer counts.
      current: ownerRefusal(slot) !== undefined,
      // The current label refused and not held: the shelf shows an older label or none.
      offShelf: refusedOffShelf(slot),
    },
    unanswered: slot.unsure === true,
    next: slotAction(slot).kind,
  };
}

const merchantsDisable = command({
  name: 'merchants disable',
  merchantId: true,
  synopsis: '[--reason TEXT]',
  summary: 'stop syncing a store (its labels stay as they are)',
  description:
    'Stops polling the merchant; its labels stay as they are until `merchants enable`. A merchant whose tokens Clover refused (needs_reauth) still needs its owner to re-authorize before it is enabled.',
  options: { reason: 'why, shown by status (default "disabled by an operator")' },
  parse: ({ values, merchantId }) => ({ merchantId, reason: values.reason ?? 'disabled by an operator' }),
  run: async (ctx, { merchantId, reason }) => {
    await ctx.mustGet(merchantId);
    // Removed meanwhile: named as unknown.
    if (!(await ctx.merchants.setState(merchantId, 'disabled', reason))) await ctx.mustGet(merchantId);
    return { merchantId, state: 'disabled' as const, stateReason: reason };
  },
  text: (d) => [`merchant ${d.merchantId}: ${d.state}`],
});

const merchantsEnable = command({
  name: 'merchants enable',
  merchantId: true,
  synopsis: '',
  summary: 'sync a disabled store again, starting with a full resync',
  description:
    'Makes a disabled merchant active again (pending, if it has no store code yet) and queues a full resync, which also puts back labels a removal given up took down. A merchant that needs re-authorization (Clover refused its tokens, even if it was disabled since), or whose owner uninstalled the app, is started by its owner opening a `merchants reconnect` link instead; one disabled since stays disabled until enabled after that.',
  options: {},
  parse: ({ merchantId }) => ({ merchantId }),
  run: async (ctx, { merchantId }) => {
    const record = await ctx.mustGet(merchantId);
    // Only its owner can: a token pair Clover refused stays refused, whatever its state says.
    const refuse = (r: MerchantRecord) =>
      new Error(`merchant ${merchantId} is not enabled: ${attentionHint(merchantView(r), ctx.cli)}`);
    if (ownerMustReconnect(record)) throw refuse(record);
    // Enabled without a store code, a merchant goes back to waiting for one.
    const state = nextMerchantState(record.storeCode, undefined);
    // Refused by the store too when Clover refused its tokens meanwhile (a poll that was running).
    if (!(await ctx.merchants.setState(merchantId, state))) throw refuse(await ctx.mustGet(merchantId));
    // A full resync repairs whatever changed while it was disabled, labels included.
    const resyncQueued = state === 'active' && (await resync(ctx, record)).resyncQueued;
    return { merchantId, state, resyncQueued };
  },
  text: (d) => [`merchant ${d.merchantId}: ${d.state}${d.resyncQueued ? ', full resync queued' : ''}`],
});

const merchantsConfigure = command({
  name: 'merchants configure',
  merchantId: true,
  synopsis:
    '[--field-map f1=unitCost,f2=priceType,…] [--variable-price base|remove] (one at least) [--wait] [--timeout SECS]',
  summary: 'label rules for one store (free fields, VARIABLE-price items); then a full resync',
  description:
    "Sets how this store's labels are filled, then queues a full resync so every label follows. Given rules replace the stored ones field by field; --field-map '' clears the free fields.",
  options: {
    'field-map':
      'free fields f1…f16 from Clover facts: unitCost, priceType, modifiedTime, sku, code, itemId, alternateName',
    'variable-price':
      'base (show the base price; default) or remove (keep VARIABLE-price items off the labels)',
    ...WAIT_OPTIONS,
  },
  // Given rules replace whole fields, so checking them over the defaults finds what the stored ones would.
  parse: ({ values, merchantId }) => {
    // Without a rule to set it would only queue a resync: that is `backfill`.
    if (values['field-map'] === undefined && values['variable-price'] === undefined)
      throw new UsageError('nothing to configure: give --field-map and/or --variable-price');
    parseLabelOptions(values, undefined);
    return { merchantId, values, wait: values.wait === true, timeoutMs: timeoutMs(values) };
  },
  run: async (ctx, p) => {
    const record = await ctx.mustGet(p.merchantId);
    const labelOptions = parseLabelOptions(p.values, record.labelOptions);
    await ctx.merchants.setLabelOptions(p.merchantId, labelOptions);
    ctx.progress(`merchant ${p.merchantId}: label rules ${JSON.stringify(labelOptions)}`);
    const done = await resync(ctx, record, p.wait ? { timeoutMs: p.timeoutMs } : undefined);
    return { merchantId: p.merchantId, labelOptions, ...done };
  },
  text: (d) => [
    d.synced
      ? `merchant ${d.merchantId}: every label follows the new rules`
      : `merchant ${d.merchantId}: full resync ${d.resyncQueued ? 'queued' : 'not queued (not active)'} so every label follows the new rules`,
  ],
});

const tick = command({
  name: 'tick',
  synopsis: '[--wait] [--timeout SECS]',
  summary: 'run one fan-out now: every active merchant is polled',
  description:
    'Runs the fan-out the schedule runs: one poll is queued for every active merchant. With --wait it returns once the whole fleet is idle (the poll and push queues empty).',
  options: {
    wait: 'return once every poll and push is done (both queues empty), showing the queue depths, and say what waits in a dead-letter queue',
    timeout: WAIT_OPTIONS.timeout,
  },
  parse: ({ values }) => ({ wait: values.wait === true, timeoutMs: timeoutMs(values) }),
  run: async (ctx, p) => {
    const before = p.wait ? lettersIn(await deadLetterDepths(ctx)) : 0;
    const result = await ctx.invoke<FanOutResult | null>(ctx.target.stack.fanOutFunction, {});
    if (!p.wait) return { queued: result?.queued ?? 0, idle: false };
    await ctx.queuesDrained(p.timeoutMs);
    // Done is not in line: work set aside in a dead-letter queue waits for someone.
    const deadLetters = await deadLetterDepths(ctx);
    // Letters that came while it waited are polls or pushes of this tick (or beside it) that failed.
    const setAsideMeanwhile = Math.max(0, lettersIn(deadLetters) - before);
    return { queued: result?.queued ?? 0, idle: true, deadLetters, setAsideMeanwhile };
  },
  text: (d, cli) => [
    `tick: ${d.queued} merchant(s) queued for polling`,
    ...(!d.idle
      ? []
      : d.setAsideMeanwhile
        ? [
            `tick: every poll and push ended, but ${d.setAsideMeanwhile} failed for good while it waited and ${d.setAsideMeanwhile === 1 ? 'was' : 'were'} set aside: \`${cli} status\` says which stores, and why`,
          ]
        : ['tick: all polls and pushes done']),
    ...(d.deadLetters ? deadLetterHints(d.deadLetters, cli) : []),
  ],
  // A script waiting on the fleet must not take work set aside meanwhile for done.
  failed: (d) => (d.setAsideMeanwhile ?? 0) > 0,
});

const backfill = command({
  name: 'backfill',
  synopsis: '(--merchant-id ID | --all) [--since ISO-TIME|UNIX-MS] [--repush] [--wait] [--timeout SECS]',
  summary: 'full resync of a store (or all), including removal of items gone from Clover',
  description:
    "Queues a full resync: every item is read again (or those modified since --since; a store never synced still gets everything), items gone from Clover come off the labels, and labels Hipoink refused are tried again. With --wait it follows each store's own records: done once its full sync finished after the request and no code is left to push, whatever other stores are doing.",
  options: {
    'merchant-id': 'the store to resync',
    all: 'every active store',
    since:
      'only items modified since then: ISO-8601 with an offset (2026-11-01T00:00:00Z) or Unix ms (digits)',
    repush: 'send every label again, even those the records say Hipoink holds (a Hipoink that lost them)',
    wait: "return once each store's resync is done (its full sync finished after the request and no label is left to push), showing its progress",
    timeout: WAIT_OPTIONS.timeout,
  },
  parse: ({ values }) => ({
    payload: backfillPayload(values),
    wait: values.wait === true,
    timeoutMs: timeoutMs(values),
  }),
  run: async (ctx, { payload, wait, timeoutMs }) => {
    const named = 'merchantId' in payload ? payload.merchantId : undefined;
    const before = named !== undefined ? [await ctx.mustGet(named)] : wait ? await ctx.merchants.list() : [];
    const settledCodePushes = before.some((m) => fullSyncPushesSettledCodes(m, payload));
    const result = await ctx.invoke<BackfillResult>(ctx.target.stack.backfillFunction, payload);
    // The one store asked for was not queued: nothing will happen, which is a failure to report.
    const [refused] = named !== undefined && result.queued.length === 0 ? (result.skipped ?? []) : [];
    const m = before[0];
    if (refused && m) {
      const way = startAgainStep(m, ctx.cli);
      throw new Error(`backfill: ${m.merchantId} not resynced: ${refused.reason}${way ? `; ${way}` : ''}`);
    }
    const data = {
      queued: result.queued,
      skipped: result.skipped ?? [],
      requestedAt: new Date(result.requestedAt).toISOString(),
    };
    if (!wait) return data;
    for (const line of backfillLines(data)) ctx.progress(line);
    const synced = await ctx.storesSynced(
      result.queued,
      { at: result.requestedAt, full: true },
      timeoutMs,
      settledCodePushes,
    );
    const stores: MerchantView[] = [];
    for (const p of synced) {
      const m = await ctx.merchants.get(p.merchantId);
      if (m) stores.push(merchantView(m));
    }
    return { ...data, stores };
  },
  text: (d) => ('stores' in d ? d.stores.map((v) => `backfill: ${merchantLine(v)}`) : backfillLines(d)),
});

function backfillLines(d: { queued: string[]; skipped: Array<{ merchantId: string; reason: string }> }) {
  return [
    `backfill: queued ${d.queued.length} merchant(s) for a full resync`,
    ...d.skipped.map((s) => `backfill: skipped ${s.merchantId}: ${s.reason}`),
  ];
}

const status = command({
  name: 'status',
  synopsis: '',
  summary: 'every store at a glance: state, last sync, shelf counts; the token refresher; queue depths',
  description:
    "A failure several active stores share word for word first (one cause for the fleet: Clover or Hipoink down, the app's credentials refused), then one line per merchant (state, last sync and what it did), its shelf in numbers (on the shelf, still to push, refused, invalid, removed) as kept on its record, and what to do about a store waiting on someone; the backup token refresher's last run; the queues' depths. It reads one record per store, so it stays fast with thousands; `merchants show ID` lists a store's items not shown with their reasons.",
  options: {},
  parse: () => undefined,
  run: async (ctx) => {
    const now = Date.now();
    const merchants = (await ctx.merchants.list()).map((m) => merchantView(m, now));
    const { stack, sqs } = { stack: ctx.target.stack, sqs: ctx.target.sqs };
    const queues = {
      poll: await queueDepth(sqs, stack.pollQueueUrl),
      push: await queueDepth(sqs, stack.pushQueueUrl),
      ...(await deadLetterDepths(ctx)),
    };
    const run = await ctx.heartbeat.last();
    const tokenRefresher = run ? { ...run, late: heartbeatLate(run, now) } : undefined;
    return { target: ctx.target.kind, tokenRefresher, merchants, queues };
  },
  text: (d, cli) => [
    `target: ${d.target}`,
    refresherLine(d.tokenRefresher),
    ...sharedFailureLines(d.merchants),
    ...d.merchants.flatMap((m) => {
      const hint = attentionHint(m, cli);
      const push = pushFailureLine(m, cli);
      return [
        merchantLine(m),
        ...(push ? [push] : []),
        ...(hint ? [`  ! ${hint}`] : []),
        ...(m.storeCode ? [shelfLine(m)] : []),
      ];
    }),
    ...Object.entries(d.queues).map(
      ([name, q]) => `queue ${name}: ${q.visible} waiting, ${q.inFlight} in flight, ${q.delayed} delayed`,
    ),
    ...deadLetterHints(d.queues, cli),
  ],
});

/** The letters waiting in the dead-letter queues (someone listing them hides some for a while). */
const lettersIn = (queues: Awaited<ReturnType<typeof deadLetterDepths>>) =>
  Object.values(queues).reduce((n, q) => n + q.visible + q.inFlight + q.delayed, 0);

/** How many letters each dead-letter queue holds. */
async function deadLetterDepths(ctx: CommandContext) {
  const { sqs, stack } = ctx.target;
  return {
    pollDeadLetter: await queueDepth(sqs, stack.pollDlqUrl),
    pushDeadLetter: await queueDepth(sqs, stack.pushDlqUrl),
  };
}

/**
 * What to do about letters waiting in a dead-letter queue: their codes or polls wait for someone
 * (or a store's next ghost cleanup), even once later work goes through again. A letter someone is
 * listing right now is hidden (in flight) for a while, and still waits.
 */
function deadLetterHints(queues: Record<'pollDeadLetter' | 'pushDeadLetter', QueueDepth>, cli: string) {
  return (['poll', 'push'] as const).flatMap((name) => {
    const { visible, inFlight, delayed } = queues[`${name}DeadLetter`];
    const waiting = visible + inFlight + delayed;
    if (waiting === 0) return [];
    return [
      `  ! ${waiting} ${name} message(s) set aside: \`${cli} dlq list --queue ${name}\` says why; once the ` +
        `cause is fixed, \`${cli} dlq redrive --queue ${name}\` (\`dlq discard\` one that can never succeed)`,
    ];
  });
}

const tokensRefresh = command({
  name: 'tokens refresh',
  synopsis: '',
  summary: 'run the backup token refresher now (refreshes tokens that are due)',
  description:
    'Runs the backup token refresher now instead of waiting for its schedule: every active merchant whose access token is due is refreshed, one at a time per merchant. A refresh Clover refuses marks that merchant needs_reauth.',
  options: {},
  parse: () => undefined,
  run: async (ctx) => ctx.invoke<BackupRefreshResult>(ctx.target.stack.tokenRefresherFunction, {}),
  text: (r) => [
    `tokens: ${r.checked} checked, ${r.refreshed.length} refreshed, ${r.failed.length} failed`,
    ...r.failed.map((f) => `tokens: ${f.merchantId}: ${f.reason}`),
  ],
});

const webhooksVerificationCode = command({
  name: 'webhooks verification-code',
  synopsis: '',
  summary: "the code of Clover's last webhook verification request, and when it came",
  description:
    "When the webhook URL is entered in the Clover app's settings, Clover sends it a verification request with a code; the web function keeps the last one. Enter the code in the app's webhook settings to verify the URL. The code is not a credential, but it is never logged.",
  options: {},
  parse: () => undefined,
  run: async (ctx) => {
    const last = await createWebhookVerificationStore(ctx.doc, ctx.target.stack.merchantsTable).last();
    return last ? { code: last.code, receivedAt: new Date(last.receivedAt).toISOString() } : null;
  },
  text: (last) =>
    last
      ? [
          `verification code: ${last.code}`,
          `received ${last.receivedAt}; enter it in the Clover app’s webhook settings to verify the URL`,
        ]
      : [
          'no webhook verification request received yet: enter the webhook URL in the Clover app’s settings ' +
            'and have Clover send one',
        ],
});

const cloverSettings = command({
  name: 'clover settings',
  synopsis: '',
  summary: "what to enter in the Clover app's settings: its Site URL, Alternate Launch Path and webhook URL",
  description:
    "The addresses of this stage's web function as the Clover developer dashboard asks for them. The Site URL also registers the connect flow's callback (Clover accepts a redirect URI only under it). One Clover app serves one stage.",
  options: {},
  parse: () => undefined,
  run: async (ctx) => {
    const webUrl = webUrlOf(ctx);
    return {
      siteUrl: webUrl,
      alternateLaunchPath: `${webUrl}${WEB_PATHS.launch}`,
      webhookUrl: `${webUrl}${WEB_PATHS.webhooks}`,
    };
  },
  text: (s) => [
    `REST configuration, Site URL:              ${s.siteUrl}`,
    `REST configuration, Alternate Launch Path: ${s.alternateLaunchPath}`,
    `Webhooks, webhook URL:                     ${s.webhookUrl}`,
  ],
});

/** The dead-letter queues `--queue` selects, each with the queue its letters go back to. */
function deadLetterQueues(ctx: CommandContext, which: 'all' | 'poll' | 'push') {
  const { stack } = ctx.target;
  const pairs = {
    poll: { dlq: stack.pollDlqUrl, source: stack.pollQueueUrl },
    push: { dlq: stack.pushDlqUrl, source: stack.pushQueueUrl },
  };
  return Object.entries(pairs).filter(([name]) => which === 'all' || name === which);
}

const dlqList = command({
  name: 'dlq list',
  synopsis: '[--queue poll|push]',
  summary: 'what the dead-letter queues hold, with each failure reason',
  description:
    "Shows the messages set aside after failing (5 tries, or at once when they can never succeed), with the reason each failed, without taking them out. A FIFO queue shows a peek at most 10 of one store's letters; the count is of all.",
  options: { queue: 'only this dead-letter queue (default: both)' },
  parse: ({ values }) => ({ which: dlqSelection(values) }),
  run: async (ctx, { which }) => {
    const listed: Record<string, { total: number; letters: DeadLetter[] }> = {};
    for (const [name, q] of deadLetterQueues(ctx, which)) {
      // Counted first: a FIFO queue shows at most 10 of one store's letters to a peek.
      const { visible } = await queueDepth(ctx.target.sqs, q.dlq);
      const letters = await peekDeadLetters(ctx.target.sqs, q.dlq);
      listed[name] = { total: Math.max(visible, letters.length), letters };
    }
    return listed;
  },
  text: (listed) =>
    Object.entries(listed).flatMap(([name, { total, letters }]) => [
      `${name} dead letters: ${total}${letters.length < total ? ` (showing ${letters.length}; dlq redrive moves all)` : ''}`,
      ...letters.map(
        (l) => `  ${l.messageId} ${l.failureReason ?? '(exhausted retries)'}: ${l.body.slice(0, 200)}`,
      ),
    ]),
});

const dlqRedrive = command({
  name: 'dlq redrive',
  synopsis: '[--queue poll|push]',
  summary: 'send dead-lettered messages back to their queue (both if no --queue)',
  description:
    'Sends every dead-lettered message back to the queue it came from, once the cause is fixed. Safe to repeat: polls and pushes work from the stored state, never the message.',
  options: { queue: 'only this dead-letter queue (default: both)' },
  parse: ({ values }) => ({ which: dlqSelection(values) }),
  run: async (ctx, { which }) => {
    const sent: Record<string, number> = {};
    for (const [name, q] of deadLetterQueues(ctx, which)) {
      sent[name] = await redriveDeadLetters(ctx.target.sqs, q.dlq, q.source);
    }
    return sent;
  },
  text: (sent) => Object.entries(sent).map(([name, n]) => `${name}: ${n} message(s) sent back`),
});

const dlqDiscard = command({
  name: 'dlq discard',
  synopsis: '--queue poll|push --message-id ID[,ID…]',
  summary: 'delete dead letters that can never succeed (ids from dlq list)',
  description:
    'Deletes the named dead-lettered messages for good: ones that can never succeed (not valid JSON, or not shaped as a message), which a redrive would only set aside again. Every other letter stays. Ids not found are named, and the command fails.',
  options: {
    queue: 'the dead-letter queue holding them (required)',
    'message-id': 'the letters to delete, comma-separated, as `dlq list` shows them',
  },
  parse: ({ values }) => {
    const which = dlqSelection(values);
    if (which === 'all') throw new UsageError('--queue poll|push is required: message ids are per queue');
    return { which, messageIds: messageIdsOption(values) };
  },
  run: async (ctx, { which, messageIds }) => {
    const [[, q] = []] = deadLetterQueues(ctx, which);
    if (!q) throw new Error(`no ${which} dead-letter queue`);
    const discarded = await discardDeadLetters(ctx.target.sqs, q.dlq, messageIds);
    const notFound = messageIds.filter((id) => !discarded.includes(id));
    if (notFound.length > 0)
      throw new Error(
        `${which}: ${discarded.length} discarded; not found (already gone, or not shown now: ` +
          `run dlq list again): ${notFound.join(', ')}`,
      );
    return { queue: which, discarded };
  },
  text: (d) => [`${d.queue}: ${d.discarded.length} message(s) discarded`],
});

/** Every command, in the order the overview lists them. */
export const COMMANDS: readonly Command[] = [
  storesInvite,
  merchantsReconnect,
  merchantsAssign,
  merchantsRemove,
  merchantsRetryClear,
  merchantsAdd,
  merchantsList,
  merchantsShow,
  merchantsLabel,
  merchantsDisable,
  merchantsEnable,
  merchantsConfigure,
  tick,
  backfill,
  status,
  tokensRefresh,
  cloverSettings,
  webhooksVerificationCode,
  dlqList,
  dlqRedrive,
  dlqDiscard,
];
