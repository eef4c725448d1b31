/**
 * The benchmark's peer: a Clover poller written the way earlier systems of this kind worked, to
 * measure ours against on the same simulator and fleet. It lives in bench/ only and is not how the
 * product works. Per merchant and tick it:
 * - refreshes the access token before every poll (spending the single-use refresh token);
 * - reads `modifiedTime >= cursor` with offset paging of 100 and no `orderBy` (Clover's default
 *   order), sleeping a fixed 0.15 s between pages;
 * - every 10th poll, lists every item id the same way and drops what Clover no longer lists;
 * - sets the cursor to the wall-clock time at the end of the poll;
 * - has no 429 handling: any error fails that merchant's poll for this tick (logged, skipped).
 * Its "shelf" is a map in memory: what it would have sent to the labels.
 */

export interface OldWayMerchant {
  merchantId: string;
  accessToken: string;
  refreshToken: string;
  /** Unix ms; 0 = never polled (read everything). */
  lastSyncTime: number;
  pollCount: number;
  /** Item id → price (cents) it believes the label shows. */
  shelf: Map<string, number>;
}

export interface OldWayTick {
  polls: number;
  failedPolls: number;
  /** First error message per kind, for the report. */
  errors: Record<string, number>;
}

const PAGE_SIZE = 100;
const PAGE_DELAY_MS = 150;
const CLEANUP_EVERY_POLLS = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createOldWayPoller(opts: { baseUrl: string; appId: string; workers: number }) {
  const merchants = new Map<string, OldWayMerchant>();

  const call = async (path: string, init: RequestInit = {}): Promise<unknown> => {
    const res = await fetch(`${opts.baseUrl}${path}`, init);
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    return res.json();
  };

  const refresh = async (m: OldWayMerchant) => {
    const pair = (await call('/oauth/v2/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: opts.appId, refresh_token: m.refreshToken }),
    })) as { access_token: string; refresh_token: string };
    m.accessToken = pair.access_token;
    m.refreshToken = pair.refresh_token;
  };

  const listAll = async (m: OldWayMerchant, filter?: string) => {
    const items: Array<{ id: string; price: number; hidden?: boolean; deleted?: boolean }> = [];
    for (let offset = 0; ; offset += PAGE_SIZE) {
      const search = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
      if (filter) search.set('filter', filter);
      const page = (await call(`/v3/merchants/${m.merchantId}/items?${search}`, {
        headers: { authorization: `Bearer ${m.accessToken}` },
      })) as { elements?: typeof items };
      const elements = page.elements ?? [];
      items.push(...elements);
      if (elements.length < PAGE_SIZE) return items;
      await sleep(PAGE_DELAY_MS);
    }
  };

  const poll = async (m: OldWayMerchant) => {
    await refresh(m);
    for (const item of await listAll(m, `modifiedTime>=${m.lastSyncTime}`)) {
      if (item.hidden || item.deleted) m.shelf.delete(item.id);
      else m.shelf.set(item.id, item.price);
    }
    if (m.pollCount % CLEANUP_EVERY_POLLS === 0) {
      const present = new Set((await listAll(m)).map((i) => i.id));
      for (const id of m.shelf.keys()) if (!present.has(id)) m.shelf.delete(id);
    }
    m.lastSyncTime = Date.now();
    m.pollCount++;
  };

  return {
    add(merchantId: string, tokens: { access_token: string; refresh_token: string }) {
      merchants.set(merchantId, {
        merchantId,
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token,
        lastSyncTime: 0,
        pollCount: 0,
        shelf: new Map(),
      });
    },
    shelf(merchantId: string): ReadonlyMap<string, number> {
      return merchants.get(merchantId)?.shelf ?? new Map();
    },
    /** Its cursor for the merchant: changes older than this it will not read again. */
    cursor(merchantId: string): number {
      return merchants.get(merchantId)?.lastSyncTime ?? 0;
    },
    /** Gives `to` the state `from` reached (the benchmark sets up many alike stores from one). */
    copyState(from: string, to: string, pollCount: number) {
      const source = merchants.get(from);
      const target = merchants.get(to);
      if (!source || !target) throw new Error(`unknown merchant ${source ? to : from}`);
      target.lastSyncTime = source.lastSyncTime;
      target.pollCount = pollCount;
      target.shelf = new Map(source.shelf);
    },
    /** One tick: every merchant (or the ones named) polled once, `workers` at a time. */
    async tick(only?: readonly string[]): Promise<OldWayTick> {
      const queue = only
        ? only.map((id) => merchants.get(id)).filter((m): m is OldWayMerchant => m !== undefined)
        : [...merchants.values()];
      const result: OldWayTick = { polls: 0, failedPolls: 0, errors: {} };
      const worker = async () => {
        for (let m = queue.shift(); m; m = queue.shift()) {
          result.polls++;
          try {
            await poll(m);
          } catch (err) {
            result.failedPolls++;
            const kind = err instanceof Error ? err.message : String(err);
            result.errors[kind] = (result.errors[kind] ?? 0) + 1;
          }
        }
      };
      await Promise.all(Array.from({ length: opts.workers }, worker));
      return result;
    },
  };
}
