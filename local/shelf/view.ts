/**
 * What the local shelf page shows, gathered from the stack's own state and the Hipoink simulator:
 * per store, the labels Hipoink holds and the store's sync state. The rules it reports come from
 * where they are stated (`shelfReport`, `merchantView`, `pollFreshness`); nothing here decides.
 */

import { countShelf } from '../../src/domain/counts.ts';
import type { Slot } from '../../src/domain/shelf.ts';
import { shelfReport } from '../../src/domain/shelf.ts';
import type { MerchantRecord, MerchantStore, MerchantView } from '../../src/store/merchants.ts';
import { merchantView } from '../../src/store/merchants.ts';
import type { ItemRecord, ShelfStore } from '../../src/store/shelf.ts';
import { pollFreshness } from '../../src/sync/freshness.ts';
import * as z from '../../src/zod.ts';

/** One label as Hipoink holds it: what a shelf card shows. */
export interface ShelfCard {
  code: string;
  name: string;
  price: string;
  unit?: string;
}

/** An item that is not on the shelf as it wants to be, with the reason. */
export interface ShelfProblem {
  itemId: string;
  /** The name of its last valid Clover version, when there was one. */
  name?: string;
  reason: string;
}

export interface StoreShelf {
  sync: Pick<
    MerchantView,
    | 'merchantId'
    | 'storeCode'
    | 'state'
    | 'stateReason'
    | 'lastSyncAt'
    | 'lastSyncMode'
    | 'lastSyncStatus'
    | 'lastSyncError'
    | 'pushFailingSince'
    | 'lastPushError'
  >;
  /** Age of the last successful poll in seconds (absent for a store that is not polled). */
  freshnessSeconds?: number;
  counts: { items: number; onShelf: number; pendingPush: number; removed: number };
  /** Invalid items and items whose product code another item holds. */
  notShown: ShelfProblem[];
  /** Labels Hipoink refused. */
  refused: ShelfProblem[];
  /** The labels Hipoink holds; absent when they cannot be read (see `labelsProblem`). */
  labels?: ShelfCard[];
  labelsProblem?: string;
}

export interface ShelfView {
  /** Unix ms. */
  at: number;
  /** False when the stack talks to an external Hipoink server, which has no API to read labels back. */
  liveLabels: boolean;
  stores: StoreShelf[];
}

/** The labels of one store as the Hipoink simulator's control route lists them. */
const SimulatorProductsSchema = z.array(
  z.looseObject({ pc: z.string(), pn: z.string(), pp: z.string(), pu: z.optional(z.string()) }),
);

/** One store's shelf and sync state from what is stored and what Hipoink holds. */
export function storeShelf(
  merchant: MerchantRecord,
  items: readonly ItemRecord[],
  slots: readonly Slot[],
  labels: { cards: ShelfCard[] } | { problem: string } | undefined,
  now: number,
): StoreShelf {
  const view = merchantView(merchant, now);
  const report = { counts: countShelf(items, slots), ...shelfReport(items, slots) };
  const freshness = pollFreshness([merchant], now);
  const sync: StoreShelf['sync'] = { merchantId: view.merchantId, state: view.state };
  for (const key of [
    'storeCode',
    'stateReason',
    'lastSyncAt',
    'lastSyncMode',
    'lastSyncStatus',
    'lastSyncError',
    'pushFailingSince',
    'lastPushError',
  ] as const) {
    if (view[key] !== undefined) Object.assign(sync, { [key]: view[key] });
  }
  return {
    sync,
    ...(freshness ? { freshnessSeconds: freshness.maxSeconds } : {}),
    counts: {
      items: report.counts.items,
      onShelf: report.counts.onShelf,
      pendingPush: report.counts.outOfStep,
      removed: report.counts.removed,
    },
    notShown: report.invalid,
    refused: report.rejected,
    ...(labels === undefined
      ? {}
      : 'cards' in labels
        ? { labels: sortCards(labels.cards) }
        : { labelsProblem: labels.problem }),
  };
}

/** Cards in shelf order: by name, then product code, so a card keeps its place while its price changes. */
function sortCards(cards: ShelfCard[]): ShelfCard[] {
  return [...cards].sort((a, b) => a.name.localeCompare(b.name) || (a.code < b.code ? -1 : 1));
}

export interface ShelfSources {
  merchants: Pick<MerchantStore, 'list'>;
  shelf: Pick<ShelfStore, 'listItems' | 'listSlots'>;
  /** The Hipoink simulator's base URL; undefined with an external Hipoink server. */
  hipoinkSimulatorUrl?: string;
}

/** Reads every merchant's state and, from the simulator, its store's labels. */
export async function readShelfView(sources: ShelfSources, now = Date.now): Promise<ShelfView> {
  const merchants = await sources.merchants.list();
  const stores = await Promise.all(
    merchants.map(async (m) => {
      const [items, slots, labels] = await Promise.all([
        sources.shelf.listItems(m.merchantId),
        sources.shelf.listSlots(m.merchantId),
        m.storeCode && sources.hipoinkSimulatorUrl
          ? readLabels(sources.hipoinkSimulatorUrl, m.storeCode)
          : undefined,
      ]);
      return storeShelf(m, items, slots, labels, now());
    }),
  );
  return { at: now(), liveLabels: sources.hipoinkSimulatorUrl !== undefined, stores };
}

async function readLabels(simulatorUrl: string, storeCode: string) {
  const url = `${simulatorUrl}/_sim/stores/${encodeURIComponent(storeCode)}/products`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return { problem: `the Hipoink simulator answered HTTP ${res.status}` };
    const products = SimulatorProductsSchema.parse(await res.json());
    return {
      cards: products.map((p) => ({
        code: p.pc,
        name: p.pn,
        price: p.pp,
        ...(p.pu ? { unit: p.pu } : {}),
      })),
    };
  } catch (err) {
    return {
      problem: `the Hipoink simulator could not be read (${err instanceof Error ? err.message : err})`,
    };
  }
}
