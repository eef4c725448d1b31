import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { TokenPair } from '../clover/schemas.ts';
import { NO_COUNTS, type ShelfCounts } from '../domain/counts.ts';
import { type LabelOptions, LabelOptionsSchema } from '../domain/label.ts';
import { MerchantUnavailableError, UnusableMerchantRecordError } from '../errors.ts';
import { type CadenceKind, cadenceKind } from '../sync/schedule.ts';
import * as z from '../zod.ts';
import { batchGetAll, ifWritten, setExpression, writeIf } from './dynamo.ts';

/**
 * `pending`: connected through Clover (tokens stored) but not yet given a Hipoink store code, so
 * not polled; `esl-sync merchants assign` makes it active.
 */
export const MERCHANT_STATES = ['active', 'needs_reauth', 'disabled', 'pending'] as const;
export type MerchantState = (typeof MERCHANT_STATES)[number];

/** A count as stored: a whole number, 0 where a record written before it has none. */
const count = z._default(z.number().check(z.int()), 0);

export const SyncCountsSchema = z.object({
  fetched: count,
  changed: count,
  removed: count,
  invalid: count,
  queuedForPush: count,
  cloverRequests: count,
});
export type SyncCounts = z.infer<typeof SyncCountsSchema>;

/**
 * A merchant whose tokens were deleted (the app was uninstalled) keeps its record without them: it
 * reads with empty token values, and it is never active (the refine below), so nothing uses them.
 * Token fields missing from any other record still make it unusable.
 */
const withoutDeletedTokens = (raw: unknown) =>
  typeof raw === 'object' && raw !== null && 'tokensDeletedAt' in raw
    ? { accessToken: '', refreshToken: '', ...raw }
    : raw;

const ShelfCountsSchema = z.object({
  items: count,
  removed: count,
  invalid: count,
  onShelf: count,
  outOfStep: count,
  refused: count,
});

/** A merchant as stored. Token fields never leave the core: use `merchantView` for anything shown. */
const MerchantFieldsSchema = z
  .object({
    merchantId: z.string(),
    /** The Hipoink store its labels go to; absent only while the merchant is `pending`. */
    storeCode: z.optional(z.string()),
    state: z.enum(MERCHANT_STATES),
    stateReason: z.optional(z.string()),
    accessToken: z.string(),
    /** Unix seconds, as Clover gives it. */
    accessTokenExpiresAt: z.number(),
    refreshToken: z.string(),
    refreshTokenExpiresAt: z.number(),
    /** The refresh token before the current one, kept encrypted; recovery sends the one still held (docs/clover.md). */
    previousRefreshToken: z.optional(z.string()),
    /** Bumped on every new token pair; refresh writes are conditional on it. */
    tokenVersion: z.number().check(z.int()),
    lastRefreshAt: z.optional(z.number()),
    refreshLeaseOwner: z.optional(z.string()),
    refreshLeaseUntil: z.optional(z.number()),
    /** Where the next read starts: the newest Clover modifiedTime (ms) processed (a read that stopped early may move it back). */
    cursor: z.optional(z.number()),
    lastPollStartedAt: z.optional(z.number()),
    pollCount: count,
    /** Polls begun, whatever became of them: change notices share a poll until the next one begins. */
    pollsStarted: count,
    pollsSinceCleanup: count,
    lastCleanupAt: z.optional(z.number()),
    lastSyncAt: z.optional(z.number()),
    lastSyncMode: z.optional(z.enum(['incremental', 'full'])),
    lastSyncStatus: z.optional(z.enum(['ok', 'partial', 'error'])),
    lastSyncError: z.optional(z.string()),
    lastSyncCounts: z.optional(SyncCountsSchema),
    lastFullSyncAt: z.optional(z.number()),
    /** Since when its polls end without reading everything (Unix ms); removed by one that reads it all. */
    readIncompleteSince: z.optional(z.number()),
    /** Since when its polls fail (Unix ms); removed by one that succeeds. */
    syncFailingSince: z.optional(z.number()),
    /** How this store's labels are filled (free fields, VARIABLE-price rule). */
    labelOptions: z.optional(LabelOptionsSchema),
    /** Set while its labels move to `storeCode` from this store, until that store is emptied. */
    movingFrom: z.optional(z.string()),
    /** The codes its labels were under in the store it leaves: the ones to take off there. */
    movingCodes: z.optional(z.array(z.string())),
    /**
     * Set when a poll starts writing the store's items and slots, removed when a poll that read
     * everything it meant to records its success: still set at a poll's start, the repair is due.
     */
    shelfWritesUnfinished: z.optional(z.number()),
    /** Its shelf in numbers, moved by every poll and push, counted afresh at each ghost cleanup. */
    shelf: z.optional(ShelfCountsSchema),
    shelfCountedAt: z.optional(z.number()),
    /** When the last valid Clover webhook notice for this merchant arrived (Unix ms). */
    lastNoticeAt: z.optional(z.number()),
    /** The last queue barrier its push queue group passed (see `passBarrier`). */
    barrierPassed: z.optional(z.string()),
    /** Why its last push failed, and since when its pushes fail (Unix ms); cleared by one that succeeds. */
    lastPushError: z.optional(z.string()),
    pushFailingSince: z.optional(z.number()),
    /** When a push was last set aside in the dead-letter queue, until a poll's repair queued it again (Unix ms). */
    pushSetAsideAt: z.optional(z.number()),
    /** When the current token pair was stored by a connection or `merchants add` (Unix ms). */
    authorizedAt: z.optional(z.number()),
    /** When the tokens were deleted because the app was uninstalled (Unix ms); none stored since. */
    tokensDeletedAt: z.optional(z.number()),
    /**
     * When Clover refused its refresh token (Unix ms), removed once a new pair is stored: kept
     * through a disable, so that only its owner, reconnecting, starts it again.
     */
    tokensRefusedAt: z.optional(z.number()),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .check(
    z.refine((m) => m.storeCode !== undefined || m.state !== 'active', {
      path: ['storeCode'],
      message: 'an active merchant needs a store code',
    }),
    z.refine((m) => m.tokensDeletedAt === undefined || m.state !== 'active', {
      path: ['accessToken'],
      message: 'its tokens were deleted (the app was uninstalled)',
    }),
  );
/** Read through `withoutDeletedTokens` first (zod's preprocess: a transform piped into the schema). */
export const MerchantRecordSchema = z.pipe(z.transform(withoutDeletedTokens), MerchantFieldsSchema);
export type MerchantRecord = z.infer<typeof MerchantFieldsSchema>;

/** What may be shown to a person or printed: never a token. */
export interface MerchantView {
  merchantId: string;
  storeCode?: string;
  /** The store its labels are moving from (`storeCode` is the one they move to), until it is emptied. */
  movingFrom?: string;
  state: MerchantState;
  stateReason?: string;
  accessTokenExpiresAt: string;
  refreshTokenExpiresAt: string;
  /** The refresh token expires within 7 days: the merchant will have to re-authorize unless it is used. */
  refreshTokenExpiringSoon: boolean;
  lastRefreshAt?: string;
  lastSyncAt?: string;
  lastSyncMode?: 'incremental' | 'full';
  lastSyncStatus?: 'ok' | 'partial' | 'error';
  lastSyncError?: string;
  lastSyncCounts?: SyncCounts;
  lastFullSyncAt?: string;
  readIncompleteSince?: string;
  syncFailingSince?: string;
  lastCleanupAt?: string;
  cursor?: string;
  pollCount: number;
  labelOptions?: LabelOptions;
  /** Its shelf in numbers (never below 0), and when they were last counted afresh. */
  shelf?: ShelfCounts & { countedAt?: string };
  /** When its tokens were deleted (the app was uninstalled); it has none until it connects again. */
  tokensDeletedAt?: string;
  /** When Clover refused its refresh token: it needs re-authorization, even if disabled since. */
  tokensRefusedAt?: string;
  /** When the last valid webhook notice came. */
  lastNoticeAt?: string;
  /** Why its last push failed, and since when its pushes fail: its labels are not reaching Hipoink. */
  lastPushError?: string;
  pushFailingSince?: string;
  /** Which poll interval applies now: `safety` while webhook notices arrive, else `normal`. */
  pollCadence: CadenceKind;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

const REFRESH_TOKEN_WARNING_MS = 7 * 86_400_000;

/** The refresh token runs out within 7 days: unless it is used, the store will have to re-authorize. */
export function refreshTokenExpiringSoon(m: Pick<MerchantRecord, 'refreshTokenExpiresAt'>, now: number) {
  return m.refreshTokenExpiresAt * 1000 - now < REFRESH_TOKEN_WARNING_MS;
}

export function merchantView(m: MerchantRecord, now = Date.now()): MerchantView {
  const view: MerchantView = {
    merchantId: m.merchantId,
    state: m.state,
    accessTokenExpiresAt: new Date(m.accessTokenExpiresAt * 1000).toISOString(),
    refreshTokenExpiresAt: new Date(m.refreshTokenExpiresAt * 1000).toISOString(),
    // Deleted tokens expire for nobody.
    refreshTokenExpiringSoon: m.tokensDeletedAt === undefined && refreshTokenExpiringSoon(m, now),
    pollCount: m.pollCount,
    pollCadence: cadenceKind(m, now),
  };
  const optional: Partial<MerchantView> = {
    storeCode: m.storeCode,
    movingFrom: m.movingFrom,
    stateReason: m.stateReason,
    lastRefreshAt: iso(m.lastRefreshAt),
    lastSyncAt: iso(m.lastSyncAt),
    lastSyncMode: m.lastSyncMode,
    lastSyncStatus: m.lastSyncStatus,
    lastSyncError: m.lastSyncError,
    lastSyncCounts: m.lastSyncCounts,
    lastFullSyncAt: iso(m.lastFullSyncAt),
    readIncompleteSince: iso(m.readIncompleteSince),
    syncFailingSince: iso(m.syncFailingSince),
    lastCleanupAt: iso(m.lastCleanupAt),
    cursor: iso(m.cursor),
    labelOptions: m.labelOptions,
    shelf: m.shelf && {
      // A store's counts can drift below 0 after a stopped push until the next count afresh.
      ...(Object.fromEntries(
        (Object.keys(NO_COUNTS) as Array<keyof ShelfCounts>).map((k) => [k, Math.max(0, m.shelf?.[k] ?? 0)]),
      ) as unknown as ShelfCounts),
      ...(m.shelfCountedAt === undefined ? {} : { countedAt: iso(m.shelfCountedAt) }),
    },
    tokensDeletedAt: iso(m.tokensDeletedAt),
    tokensRefusedAt: iso(m.tokensRefusedAt),
    lastPushError: m.lastPushError,
    pushFailingSince: iso(m.pushFailingSince),
    lastNoticeAt: iso(m.lastNoticeAt),
  };
  for (const [k, v] of Object.entries(optional))
    if (v !== undefined) (view as unknown as Record<string, unknown>)[k] = v;
  return view;
}

export interface NewMerchant {
  merchantId: string;
  storeCode: string;
  tokens: TokenPair;
}

export interface PollOutcome {
  mode: 'incremental' | 'full';
  startedAt: number;
  cursor?: number;
  counts: SyncCounts;
  cleanedUp: boolean;
  /** The poll succeeded but read only part of what it meant to (why); it is not a full sync. */
  partial?: string;
  error?: string;
}

export interface MerchantStore {
  get(merchantId: string): Promise<MerchantRecord | undefined>;
  list(): Promise<MerchantRecord[]>;
  /** Adds a merchant, or re-authorizes an existing one (new tokens, state back to active; sync state kept). */
  upsert(merchant: NewMerchant): Promise<MerchantRecord>;
  /**
   * Sets its state; false when the merchant is unknown, or would start (active, pending) while its
   * owner must reconnect (Clover refused its tokens, or they were deleted). Disabling a store Clover
   * refused keeps that it did (`tokensRefusedAt`).
   */
  setState(merchantId: string, state: MerchantState, reason?: string): Promise<boolean>;
  setLabelOptions(merchantId: string, options: LabelOptions): Promise<void>;
  /** Takes the refresh lease if nobody holds a live one and the token pair is still `tokenVersion`. */
  acquireRefreshLease(
    merchantId: string,
    owner: string,
    tokenVersion: number,
    leaseMs: number,
  ): Promise<boolean>;
  releaseRefreshLease(merchantId: string, owner: string): Promise<void>;
  /**
   * Stores the pair Clover issued for the refresh token of `tokenVersion`; false when a newer pair
   * is stored already. Not tied to the lease: a pair Clover issued is the only valid one and must
   * be kept even if its refresh outlived the lease.
   */
  saveRefreshedTokens(
    merchantId: string,
    tokenVersion: number,
    tokens: TokenPair,
    previousRefreshToken: string,
  ): Promise<boolean>;
  /**
   * Lifts a needs_reauth that a worker set while this version's pair was being issued (Clover
   * refused it the token this pair was issued for). Idempotent; false when there is nothing to lift.
   */
  clearNeedsReauth(merchantId: string, tokenVersion: number): Promise<boolean>;
  /**
   * Marks needs_reauth, and that Clover refused its tokens (`tokensRefusedAt`), unless the token
   * pair moved on meanwhile (another worker rotated it).
   */
  markNeedsReauth(merchantId: string, tokenVersion: number, reason: string): Promise<boolean>;
  /**
   * A poll that began `at` is about to write the store's items and slots (`shelfWritesUnfinished`,
   * until a poll succeeds; a store marked already keeps the earlier time).
   */
  markShelfWrites(merchantId: string, at: number): Promise<void>;
  /**
   * The merchant as a poll of it begins, the poll counted as begun (`pollsStarted`) before it reads
   * anything; undefined for an unknown merchant.
   */
  startPoll(merchantId: string): Promise<MerchantRecord | undefined>;
  /** Records a poll's outcome. */
  recordPoll(merchantId: string, outcome: PollOutcome): Promise<void>;
  /**
   * Points a merchant at store `to`, remembering the store it leaves and the codes to delete there
   * (again, with more codes, while that move is under way); false if its store changed meanwhile.
   */
  beginMove(merchantId: string, from: string, to: string, codes: string[]): Promise<boolean>;
  /** The store it left is empty: the move is done. */
  endMove(merchantId: string): Promise<void>;
  /** Deletes the merchant's record, its tokens with it. */
  remove(merchantId: string): Promise<void>;
  /** Moves its shelf counts by `change` (what one poll or push did). */
  addShelfCounts(merchantId: string, change: ShelfCounts): Promise<void>;
  /** Its shelf counted afresh. */
  setShelfCounts(merchantId: string, counts: ShelfCounts): Promise<void>;
  /**
   * A valid notice came at `at` (Unix ms; an older time than the one recorded changes nothing).
   * Returns where the merchant's polls stood once the notice was recorded; undefined for an
   * unknown merchant.
   */
  recordNotice(merchantId: string, at: number): Promise<PollsSoFar | undefined>;
  /**
   * The barrier `id` reached the push consumer: every poll and push of the merchant queued before
   * it is done. Nothing is written for a merchant removed meanwhile.
   */
  passBarrier(merchantId: string, id: string): Promise<void>;
  /**
   * A push of the merchant failed (`failure`: why) or went through (undefined): the store shows
   * whether its labels reach Hipoink. Nothing is written for a merchant removed meanwhile.
   */
  recordPush(merchantId: string, failure: string | undefined): Promise<void>;
  /**
   * A push of the merchant ran out of tries and was set aside in the dead-letter queue: its codes
   * stay out of step, and the next poll's repair queues them again. Nothing is written for a
   * merchant removed meanwhile.
   */
  notePushSetAside(merchantId: string): Promise<void>;
  /** A poll begun at `startedAt` repaired the store: pushes set aside before then are queued again. */
  pushesRequeued(merchantId: string, startedAt: number): Promise<void>;
}

/** How many polls of a merchant have begun, and the newest Clover time finished ones read (its cursor). */
export type PollsSoFar = { started: number; cursor?: number };

/** What an uninstall does to a merchant record (planned by `stateAfterUninstall`). */
export interface UninstallWrite {
  /** The state and reason to write; undefined keeps them (an operator disabled it already). */
  state?: { state: MerchantState; reason: string };
  /** Clover's time of the uninstall notice: a connection stored at or after it is not undone. */
  noticeTs: number;
}

/** Reads and writes of Clover's webhook notices. */
export interface MerchantNotices {
  /** The merchants with these ids that exist and can be read (others are left out). */
  getMany(merchantIds: readonly string[]): Promise<Map<string, MerchantRecord>>;
  /**
   * Deletes the merchant's tokens (the current, the previous and any refresh lease) and writes the
   * planned state, while the record is still `basis` (its state and token version) and no
   * connection was stored at or after the notice. False when either no longer holds.
   */
  deleteTokens(
    merchantId: string,
    basis: Pick<MerchantRecord, 'state' | 'tokenVersion'>,
    write: UninstallWrite,
  ): Promise<boolean>;
}

/** What a merchant record must still be for an authorization planned on it to be stored. */
export interface AuthorizationBasis {
  tokenVersion: number;
  state: MerchantState;
  storeCode?: string;
}

/** Writes of the connect flow (Clover's authorization-code flow and the operator's assignment). */
export interface MerchantConnections {
  /**
   * Stores the pair a code exchange gave, with the state and store code planned for it: a new
   * merchant when `basis` is undefined, else only while the record is still as `basis` says
   * (false otherwise: read again and plan again). The token version moves on; cursor, products,
   * label rules and counters are kept.
   */
  saveAuthorization(
    merchantId: string,
    basis: AuthorizationBasis | undefined,
    next: { state: MerchantState; storeCode?: string },
    tokens: TokenPair,
  ): Promise<boolean>;
  /** Gives a merchant that has no store code yet its store code and state; false if it has one meanwhile. */
  assignStoreCode(merchantId: string, storeCode: string, state: MerchantState): Promise<boolean>;
}

/**
 * Removed whenever a store starts (again): new tokens, enabled, re-authorized. Since when its polls
 * failed or stopped short says nothing about the polls it has yet to make.
 */
const POLL_RUN_TIMES = 'syncFailingSince, readIncompleteSince';

/** The SET clauses and values that store a new token pair Clover issued (bumping the token version). */
function newTokenPair(tokens: TokenPair, now: number) {
  return {
    expression:
      'accessToken = :at, accessTokenExpiresAt = :ate, refreshToken = :rt, refreshTokenExpiresAt = :rte, ' +
      'tokenVersion = if_not_exists(tokenVersion, :zero) + :one, ' +
      'pollCount = if_not_exists(pollCount, :zero), pollsSinceCleanup = if_not_exists(pollsSinceCleanup, :zero), ' +
      'createdAt = if_not_exists(createdAt, :now), updatedAt = :now, authorizedAt = :now',
    // The recovery token belongs to the pair it preceded; a lease belongs to a refresh of the old pair.
    removes: `refreshLeaseOwner, refreshLeaseUntil, previousRefreshToken, tokensDeletedAt, tokensRefusedAt, ${POLL_RUN_TIMES}`,
    values: {
      ':at': tokens.access_token,
      ':ate': tokens.access_token_expiration,
      ':rt': tokens.refresh_token,
      ':rte': tokens.refresh_token_expiration,
      ':zero': 0,
      ':one': 1,
      ':now': now,
    },
  };
}

/**
 * Why a stored merchant item cannot be used, naming the fields only (never their values: some are
 * tokens). A merchant stored without a Clover token reads as exactly that.
 */
export function unusableRecordReason(issues: z.core.$ZodIssue[]): string {
  const paths = [...new Set(issues.map((i) => i.path.join('.') || 'record'))];
  const tokenMissing = paths.some((p) => /^(access|refresh)Token/.test(p));
  const what = tokenMissing ? 'no usable Clover token is stored' : 'the stored merchant record is invalid';
  return `${what} (${paths.join(', ')}); re-add it with \`esl-sync merchants add\`, or delete it with \`esl-sync merchants remove\``;
}

export function createMerchantStore(
  doc: DynamoDBDocumentClient,
  tableName: string,
  now = Date.now,
  /** Told about stored items `list()` skips because they cannot be used (they never stop the others). */
  onUnusable: (merchantId: string, reason: string) => void = () => undefined,
): MerchantStore & MerchantConnections & MerchantNotices {
  const get = async (merchantId: string) => {
    const out = await doc.send(
      new GetCommand({ TableName: tableName, Key: { merchantId }, ConsistentRead: true }),
    );
    return out.Item && usable(merchantId, out.Item);
  };
  /** A stored merchant, or why it cannot be synced. */
  const usable = (merchantId: string, item: Record<string, unknown>) => {
    const parsed = MerchantRecordSchema.safeParse(item);
    if (!parsed.success)
      throw new UnusableMerchantRecordError(
        `Merchant cannot be synced: ${unusableRecordReason(parsed.error.issues)}`,
        { merchantId },
      );
    return parsed.data;
  };

  /**
   * A stored item read among many: a merchant, or undefined for the app's own records (keys
   * starting with '#', e.g. the request budget) and for a record that cannot be used (told, so one
   * never stops the others).
   */
  const listed = (item: Record<string, unknown>): MerchantRecord | undefined => {
    if (String(item.merchantId).startsWith('#')) return undefined;
    const parsed = MerchantRecordSchema.safeParse(item);
    if (!parsed.success) onUnusable(String(item.merchantId), unusableRecordReason(parsed.error.issues));
    return parsed.data;
  };

  const conditional = (command: UpdateCommand) => writeIf(doc, command);

  /** Sets these attributes on an existing merchant (a missing one fails the write). */
  const setOnMerchant = async (merchantId: string, attrs: Record<string, unknown>) => {
    const set = setExpression(attrs);
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { merchantId },
        UpdateExpression: `SET ${set.expression}`,
        ConditionExpression: 'attribute_exists(merchantId)',
        ExpressionAttributeNames: set.names,
        ExpressionAttributeValues: set.values,
      }),
    );
  };

  return {
    get,

    async list() {
      const records: MerchantRecord[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const out = await doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
        for (const item of out.Items ?? []) {
          const record = listed(item);
          if (record) records.push(record);
        }
        startKey = out.LastEvaluatedKey;
      } while (startKey);
      return records.sort((a, b) => a.merchantId.localeCompare(b.merchantId));
    },

    async upsert({ merchantId, storeCode, tokens }) {
      const pair = newTokenPair(tokens, now());
      const write = ifWritten(
        doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { merchantId },
            UpdateExpression:
              `SET storeCode = :sc, #state = :active, ${pair.expression} ` +
              `REMOVE stateReason, ${pair.removes}`,
            // Pointing a merchant at another store would leave its labels behind: that is a move.
            ConditionExpression: 'attribute_not_exists(storeCode) OR storeCode = :sc',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':sc': storeCode, ':active': 'active', ...pair.values },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      const out = await write;
      if (!out)
        throw new MerchantUnavailableError(
          `Merchant ${merchantId} shows its labels in another store than ${storeCode}: that is a move`,
          { merchantId },
        );
      return MerchantRecordSchema.parse(out.Attributes);
    },

    saveAuthorization(merchantId, basis, next, tokens) {
      const pair = newTokenPair(tokens, now());
      const names: Record<string, string> = { '#state': 'state' };
      const values: Record<string, unknown> = { ...pair.values, ':state': next.state };
      const sets = [`#state = :state`, pair.expression];
      // A merchant left needs_reauth or was just connected: an old reason no longer applies. A
      // disabled merchant keeps the reason someone disabled it for.
      const removes = [next.state === 'disabled' ? '' : 'stateReason', pair.removes].filter(Boolean);
      if (next.storeCode !== undefined) {
        sets.push('storeCode = :sc');
        values[':sc'] = next.storeCode;
      }
      let condition = 'attribute_not_exists(merchantId)';
      if (basis) {
        condition = 'tokenVersion = :v AND #state = :was AND ';
        values[':v'] = basis.tokenVersion;
        values[':was'] = basis.state;
        if (basis.storeCode === undefined) condition += 'attribute_not_exists(storeCode)';
        else {
          condition += 'storeCode = :wasSc';
          values[':wasSc'] = basis.storeCode;
        }
      }
      return conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    },

    assignStoreCode(merchantId, storeCode, state) {
      return conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: 'SET storeCode = :sc, #state = :s, updatedAt = :now',
          ConditionExpression: 'attribute_exists(merchantId) AND attribute_not_exists(storeCode)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':sc': storeCode, ':s': state, ':now': now() },
        }),
      );
    },

    beginMove(merchantId, from, to, codes) {
      return conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: 'SET storeCode = :to, movingFrom = :from, movingCodes = :codes, updatedAt = :now',
          ConditionExpression: 'storeCode = :from OR (storeCode = :to AND movingFrom = :from)',
          ExpressionAttributeValues: { ':to': to, ':from': from, ':codes': codes, ':now': now() },
        }),
      );
    },

    async endMove(merchantId) {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: 'SET updatedAt = :now REMOVE movingFrom, movingCodes',
          ConditionExpression: 'attribute_exists(merchantId)',
          ExpressionAttributeValues: { ':now': now() },
        }),
      );
    },

    async remove(merchantId) {
      await doc.send(new DeleteCommand({ TableName: tableName, Key: { merchantId } }));
    },

    async addShelfCounts(merchantId, change) {
      const moved = Object.entries(change).filter(([, n]) => n !== 0);
      if (moved.length === 0) return;
      // A map entry can only be added to inside an existing map: the map is created first if needed.
      await writeIf(
        doc,
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: 'SET shelf = :zero',
          ConditionExpression: 'attribute_exists(merchantId) AND attribute_not_exists(shelf)',
          ExpressionAttributeValues: { ':zero': NO_COUNTS },
        }),
      );
      await writeIf(
        doc,
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          // Names go through placeholders: `items` is a DynamoDB reserved word.
          UpdateExpression: `ADD ${moved.map((_, i) => `shelf.#c${i} :c${i}`).join(', ')}`,
          ConditionExpression: 'attribute_exists(merchantId)',
          ExpressionAttributeNames: Object.fromEntries(moved.map(([k], i) => [`#c${i}`, k])),
          ExpressionAttributeValues: Object.fromEntries(moved.map(([, n], i) => [`:c${i}`, n])),
        }),
      );
    },

    async setShelfCounts(merchantId, counts) {
      await writeIf(
        doc,
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: 'SET shelf = :c, shelfCountedAt = :now',
          ConditionExpression: 'attribute_exists(merchantId)',
          ExpressionAttributeValues: { ':c': counts, ':now': now() },
        }),
      );
    },

    async setState(merchantId, state, reason) {
      const t = now();
      // Disabled, a store Clover refused keeps that it did (records from before the field had none).
      if (state === 'disabled')
        await conditional(
          new UpdateCommand({
            TableName: tableName,
            Key: { merchantId },
            UpdateExpression: 'SET tokensRefusedAt = if_not_exists(tokensRefusedAt, :now)',
            ConditionExpression: '#state = :reauth',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':reauth': 'needs_reauth', ':now': t },
          }),
        );
      // Started again, only if its owner need not reconnect (`ownerMustReconnect`), checked as written.
      const starts = state === 'active' || state === 'pending';
      return conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: reason
            ? 'SET #state = :s, stateReason = :r, updatedAt = :now'
            : `SET #state = :s, updatedAt = :now REMOVE stateReason, ${POLL_RUN_TIMES}`,
          ConditionExpression: starts
            ? 'attribute_exists(merchantId) AND #state <> :reauth AND attribute_not_exists(tokensRefusedAt) ' +
              'AND attribute_not_exists(tokensDeletedAt)'
            : 'attribute_exists(merchantId)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':s': state,
            ':now': t,
            ...(reason ? { ':r': reason } : {}),
            ...(starts ? { ':reauth': 'needs_reauth' } : {}),
          },
        }),
      );
    },

    async setLabelOptions(merchantId, options) {
      await setOnMerchant(merchantId, { labelOptions: options, updatedAt: now() });
    },

    acquireRefreshLease(merchantId, owner, tokenVersion, leaseMs) {
      const t = now();
      return conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: 'SET refreshLeaseOwner = :o, refreshLeaseUntil = :until',
          ConditionExpression:
            'tokenVersion = :v AND #state = :active AND ' +
            '(attribute_not_exists(refreshLeaseUntil) OR refreshLeaseUntil < :now)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':o': owner,
            ':until': t + leaseMs,
            ':v': tokenVersion,
            ':active': 'active',
            ':now': t,
          },
        }),
      );
    },

    async releaseRefreshLease(merchantId, owner) {
      await conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: 'REMOVE refreshLeaseOwner, refreshLeaseUntil',
          ConditionExpression: 'refreshLeaseOwner = :o',
          ExpressionAttributeValues: { ':o': owner },
        }),
      );
    },

    saveRefreshedTokens(merchantId, tokenVersion, tokens, previousRefreshToken) {
      const t = now();
      return conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression:
            'SET accessToken = :at, accessTokenExpiresAt = :ate, refreshToken = :rt, refreshTokenExpiresAt = :rte, ' +
            'previousRefreshToken = :prev, tokenVersion = :next, lastRefreshAt = :now, updatedAt = :now ' +
            'REMOVE refreshLeaseOwner, refreshLeaseUntil, tokensRefusedAt',
          ConditionExpression: 'tokenVersion = :v',
          ExpressionAttributeValues: {
            ':at': tokens.access_token,
            ':ate': tokens.access_token_expiration,
            ':rt': tokens.refresh_token,
            ':rte': tokens.refresh_token_expiration,
            ':prev': previousRefreshToken,
            ':next': tokenVersion + 1,
            ':v': tokenVersion,
            ':now': t,
          },
        }),
      );
    },

    clearNeedsReauth(merchantId, tokenVersion) {
      return conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: `SET #state = :active, updatedAt = :now REMOVE stateReason, tokensRefusedAt, ${POLL_RUN_TIMES}`,
          ConditionExpression: '#state = :reauth AND tokenVersion = :v',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':active': 'active',
            ':reauth': 'needs_reauth',
            ':v': tokenVersion,
            ':now': now(),
          },
        }),
      );
    },

    markNeedsReauth(merchantId, tokenVersion, reason) {
      return conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          // The first refusal's time stays while the same pair is refused again.
          UpdateExpression:
            'SET #state = :s, stateReason = :r, updatedAt = :now, tokensRefusedAt = if_not_exists(tokensRefusedAt, :now) ' +
            'REMOVE refreshLeaseOwner, refreshLeaseUntil',
          ConditionExpression: 'tokenVersion = :v',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':s': 'needs_reauth',
            ':r': reason,
            ':v': tokenVersion,
            ':now': now(),
          },
        }),
      );
    },

    async recordNotice(merchantId, at) {
      await conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: 'SET lastNoticeAt = :at',
          ConditionExpression:
            'attribute_exists(merchantId) AND (attribute_not_exists(lastNoticeAt) OR lastNoticeAt < :at)',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
      // Read after the notice is recorded: a poll not counted as begun yet reads Clover after it.
      const out = await doc.send(
        new GetCommand({
          TableName: tableName,
          Key: { merchantId },
          ProjectionExpression: 'merchantId, pollsStarted, #cursor',
          ExpressionAttributeNames: { '#cursor': 'cursor' },
          ConsistentRead: true,
        }),
      );
      if (!out.Item) return undefined;
      const { pollsStarted, cursor } = out.Item;
      return { started: Number(pollsStarted ?? 0), ...(typeof cursor === 'number' ? { cursor } : {}) };
    },

    async recordPush(merchantId, failure) {
      await conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression:
            failure === undefined
              ? 'REMOVE lastPushError, pushFailingSince'
              : 'SET lastPushError = :why, pushFailingSince = if_not_exists(pushFailingSince, :now)',
          ConditionExpression: 'attribute_exists(merchantId)',
          ...(failure === undefined
            ? {}
            : { ExpressionAttributeValues: { ':why': failure.slice(0, 500), ':now': now() } }),
        }),
      );
    },

    async notePushSetAside(merchantId) {
      await conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: 'SET pushSetAsideAt = :now',
          ConditionExpression: 'attribute_exists(merchantId)',
          ExpressionAttributeValues: { ':now': now() },
        }),
      );
    },

    async pushesRequeued(merchantId, startedAt) {
      // One set aside after the repair began keeps its mark, for the next poll.
      await conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: 'REMOVE pushSetAsideAt',
          ConditionExpression: 'pushSetAsideAt <= :started',
          ExpressionAttributeValues: { ':started': startedAt },
        }),
      );
    },

    async passBarrier(merchantId, id) {
      await conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: 'SET barrierPassed = :id',
          ConditionExpression: 'attribute_exists(merchantId)',
          ExpressionAttributeValues: { ':id': id },
        }),
      );
    },

    async startPoll(merchantId) {
      const out = await ifWritten(
        doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { merchantId },
            UpdateExpression: 'ADD pollsStarted :one',
            ConditionExpression: 'attribute_exists(merchantId)',
            ExpressionAttributeValues: { ':one': 1 },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return out?.Attributes && usable(merchantId, out.Attributes);
    },

    async getMany(merchantIds) {
      const found = new Map<string, MerchantRecord>();
      const ids = [...new Set(merchantIds)].filter((id) => !id.startsWith('#'));
      const keys = ids.map((merchantId) => ({ merchantId }));
      for (const item of await batchGetAll(doc, tableName, keys)) {
        const record = listed(item);
        if (record) found.set(record.merchantId, record);
      }
      return found;
    },

    deleteTokens(merchantId, basis, write) {
      const t = now();
      const sets = ['tokenVersion = tokenVersion + :one', 'tokensDeletedAt = :now', 'updatedAt = :now'];
      const values: Record<string, unknown> = {
        ':one': 1,
        ':now': t,
        ':was': basis.state,
        ':v': basis.tokenVersion,
        ':ts': write.noticeTs,
      };
      if (write.state) {
        sets.push('#state = :s', 'stateReason = :r');
        values[':s'] = write.state.state;
        values[':r'] = write.state.reason;
      }
      return conditional(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression:
            `SET ${sets.join(', ')} ` +
            'REMOVE accessToken, refreshToken, previousRefreshToken, refreshLeaseOwner, refreshLeaseUntil',
          ConditionExpression:
            '#state = :was AND tokenVersion = :v AND (attribute_not_exists(authorizedAt) OR authorizedAt < :ts)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: values,
        }),
      );
    },

    async markShelfWrites(merchantId, at) {
      // The first unfinished poll's start stays: a chain of stopped polls is repaired from there.
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression: 'SET shelfWritesUnfinished = if_not_exists(shelfWritesUnfinished, :at)',
          ConditionExpression: 'attribute_exists(merchantId)',
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    },

    async recordPoll(merchantId, outcome) {
      const t = now();
      const ok = outcome.error === undefined;
      const attrs: Record<string, unknown> = {
        lastSyncAt: t,
        lastSyncMode: outcome.mode,
        lastSyncStatus: ok ? (outcome.partial === undefined ? 'ok' : 'partial') : 'error',
        lastSyncCounts: outcome.counts,
        updatedAt: t,
      };
      if (ok) {
        attrs.lastPollStartedAt = outcome.startedAt;
        if (outcome.cursor !== undefined) attrs.cursor = outcome.cursor;
        if (outcome.mode === 'full' && outcome.partial === undefined) attrs.lastFullSyncAt = t;
        if (outcome.partial !== undefined) attrs.lastSyncError = outcome.partial;
        if (outcome.cleanedUp) attrs.lastCleanupAt = t;
      } else {
        attrs.lastSyncError = outcome.error;
      }
      const set = setExpression(attrs);
      // Since when its polls fail, or its reads stop short: the first poll of such a run sets it.
      const incomplete = ok && outcome.partial !== undefined;
      const since = ok ? (incomplete ? 'readIncompleteSince' : undefined) : 'syncFailingSince';
      const removes = ok
        ? [
            'syncFailingSince',
            ...(incomplete ? [] : ['shelfWritesUnfinished', 'lastSyncError', 'readIncompleteSince']),
          ]
        : [];
      const counters = ok
        ? outcome.cleanedUp
          ? ', pollCount = if_not_exists(pollCount, :zero) + :one, pollsSinceCleanup = :zero'
          : ', pollCount = if_not_exists(pollCount, :zero) + :one, pollsSinceCleanup = if_not_exists(pollsSinceCleanup, :zero) + :one'
        : '';
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { merchantId },
          UpdateExpression:
            `SET ${set.expression}${counters}` +
            (since ? `, ${since} = if_not_exists(${since}, :now)` : '') +
            (removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''),
          ConditionExpression: 'attribute_exists(merchantId)',
          ExpressionAttributeNames: set.names,
          ExpressionAttributeValues: {
            ...set.values,
            ...(ok ? { ':zero': 0, ':one': 1 } : {}),
            ...(since ? { ':now': t } : {}),
          },
        }),
      );
    },
  };
}
