import type { CloverClient } from '../../clover/client.ts';
import { createPacer } from '../../clover/pacing.ts';
import type { ProductCodeSource, SyncSettings } from '../../config.ts';
import type { ShelfCounts } from '../../domain/counts.ts';
import { CloverUnauthorizedError } from '../../errors.ts';
import type { QueueSender } from '../../queues/sqs.ts';
import type { MerchantRecord, MerchantStore, SyncCounts } from '../../store/merchants.ts';
import type { ShelfStore } from '../../store/shelf.ts';
import type { TokenManager } from '../tokens.ts';
import type { ReadProgress } from './read.ts';

export interface PollDeps {
  merchants: MerchantStore;
  shelf: ShelfStore;
  clover: CloverClient;
  tokens: TokenManager;
  pushQueue: QueueSender;
  settings: Pick<
    SyncSettings,
    | 'pageLimit'
    | 'overlapMs'
    | 'cleanupEveryPolls'
    | 'cleanupIntervalHours'
    | 'hipoinkChunkSize'
    | 'merchantRequestsPerSecond'
    | 'storeWriteConcurrency'
  >;
  productCodePrecedence: readonly ProductCodeSource[];
  now?: () => number;
  /** Told about every item we could not use (recorded and skipped), or that wants a code another item shows. */
  onInvalidItem?: (info: { merchantId: string; itemId?: string; reason: string }) => void;
}

/** What one poll of one merchant carries from phase to phase. */
export interface PollContext {
  deps: PollDeps;
  merchant: MerchantRecord;
  /** When the poll started: the time from which the items it sees want a code they did not want before. */
  startedAt: number;
  clover: CloverSession;
  counts: SyncCounts;
  /** Items this poll read from Clover (by a listing or a GET). */
  read: Set<string>;
  /** Codes whose slot this poll changed, or its repair found out of step: each gets a push. */
  touched: Set<string>;
  /**
   * Codes the code rule looks at again: an item started to want them (or with a new label), or
   * their owner left.
   */
  codesToDecide: Set<string>;
  /** How this poll moved the store's shelf counts. */
  shelfChange: ShelfCounts;
  /**
   * Codes items read in this poll left, by item: dropped from their slots (`applyDrops`) only once
   * every want of the read is written, and those of the repair when one runs.
   */
  leaving: Map<string, Set<string>>;
  /**
   * Whether the read got to the end. One that stopped early makes no drops: an item it did not reach
   * may have taken over the code another left.
   */
  readProgress: ReadProgress;
  /** A repush noted its codes as under a call: any push of them now sends them again. */
  repushNoted?: boolean;
  /** Set by the first write: the store's record says its shelf is being written. */
  writesMarked?: Promise<void>;
}

export type CloverSession = ReturnType<typeof cloverSession>;

/**
 * Clover calls for one merchant with one token, paced under Clover's per-token rate; a 401 forces
 * one refresh and one retry.
 */
export function cloverSession(deps: PollDeps, merchantId: string, counts: SyncCounts) {
  let token: string | undefined;
  const pacer = createPacer(deps.settings.merchantRequestsPerSecond);
  const call = async <T>(run: (token: string) => Promise<T>): Promise<T> => {
    token ??= await deps.tokens.accessToken(merchantId);
    await pacer.take();
    counts.cloverRequests++;
    try {
      return await run(token);
    } catch (err) {
      if (!(err instanceof CloverUnauthorizedError)) throw err;
      token = await deps.tokens.accessToken(merchantId, { rejected: token });
      await pacer.take();
      counts.cloverRequests++;
      return run(token);
    }
  };
  return {
    list: (query: Parameters<CloverClient['listItems']>[2]) =>
      call((t) => deps.clover.listItems(merchantId, t, query)),
    get: (itemId: string) => call((t) => deps.clover.getItem(merchantId, t, itemId)),
  };
}
