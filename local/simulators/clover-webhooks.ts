/**
 * The Clover simulator's webhook deliveries, as docs/clover.md describes Clover's: one address per
 * app; a verification request (`{"verificationCode"}`) when the address is set, and notices only
 * once the code was entered; every notice carries `X-Clover-Auth` with the app's auth code; one
 * POST may carry notices of several merchants; nothing is retried.
 */
import { randomUUID } from 'node:crypto';

export type NoticeType = 'CREATE' | 'UPDATE' | 'DELETE';

export interface SimNotice {
  merchantId: string;
  objectId: string;
  type: NoticeType;
  /** Clover's time of the event (Unix ms). */
  ts: number;
}

export interface Delivery {
  at: number;
  /** The HTTP status, or 0 when the request failed (connection refused, timeout). */
  status: number;
  /** Time to the answer, in ms. */
  ms: number;
  notices: number;
}

export interface WebhookSenderOptions {
  /**
   * Notices raised within this many ms go out together (0: those raised in the same turn of the
   * event loop, e.g. one bulk edit).
   */
  batchMs?: number;
  /** At most this many notices per POST (Clover's batches are bounded too). */
  maxNoticesPerPost?: number;
  /** POSTs in flight at once. */
  concurrency?: number;
  now?: () => number;
  /** The app the notices are for (`appId` of each body). */
  appId?: string;
}

export function createWebhookSender(opts: WebhookSenderOptions = {}) {
  const now = opts.now ?? Date.now;
  const maxPerPost = Math.max(1, opts.maxNoticesPerPost ?? 100);
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  let target: { url: string; authCode: string } | undefined;
  let pendingCode: string | undefined;
  let verified = false;
  let waiting: SimNotice[] = [];
  let timer: NodeJS.Timeout | undefined;
  const posts: SimNotice[][] = [];
  let inFlight = 0;
  const idleWaiters: Array<() => void> = [];
  const deliveries: Delivery[] = [];
  let dropped = 0;

  const post = async (body: unknown, authCode?: string): Promise<{ status: number; ms: number }> => {
    if (!target) return { status: 0, ms: 0 };
    const started = performance.now();
    try {
      const res = await fetch(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authCode ? { 'x-clover-auth': authCode } : {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      return { status: res.status, ms: performance.now() - started };
    } catch {
      return { status: 0, ms: performance.now() - started };
    }
  };

  const pump = () => {
    while (inFlight < concurrency && posts.length > 0) {
      const batch = posts.shift() as SimNotice[];
      inFlight++;
      const merchants: Record<string, Array<Omit<SimNotice, 'merchantId'>>> = {};
      for (const { merchantId, ...notice } of batch) {
        const list = merchants[merchantId] ?? [];
        list.push(notice);
        merchants[merchantId] = list;
      }
      const at = now();
      void post({ appId, merchants }, target?.authCode).then((r) => {
        deliveries.push({ at, status: r.status, ms: r.ms, notices: batch.length });
        inFlight--;
        pump();
        if (inFlight === 0 && posts.length === 0 && waiting.length === 0) {
          for (const resolve of idleWaiters.splice(0)) resolve();
        }
      });
    }
  };

  const flush = () => {
    timer = undefined;
    for (let i = 0; i < waiting.length; i += maxPerPost) posts.push(waiting.slice(i, i + maxPerPost));
    waiting = [];
    pump();
  };

  const appId = opts.appId ?? 'DEMOAPP';

  return {
    /**
     * The app's webhook settings: where notices go and the auth code they carry. A new address
     * must be verified again (`sendVerification`, then `confirm`) before notices flow.
     */
    configure(settings: { url: string; authCode: string } | undefined) {
      if (settings?.url !== target?.url) verified = false;
      target = settings && { url: settings.url, authCode: settings.authCode };
    },
    /** Clover's verification request to the configured address; returns its HTTP status. */
    async sendVerification(): Promise<number> {
      pendingCode = randomUUID();
      return (await post({ verificationCode: pendingCode })).status;
    },
    /** The developer enters the code in the app's settings: notices flow if it is the one sent. */
    confirm(code: string): boolean {
      verified = pendingCode !== undefined && code === pendingCode;
      return verified;
    },
    get verified() {
      return verified && target !== undefined;
    },
    /** Raises a notice; it goes out with the next batch (dropped while the address is not verified). */
    notify(notice: SimNotice) {
      if (!verified || !target) {
        dropped++;
        return;
      }
      waiting.push(notice);
      if (timer) return;
      timer = setTimeout(flush, opts.batchMs ?? 0);
    },
    /** Resolves once every notice raised so far has been delivered (or failed). */
    idle(): Promise<void> {
      if (!timer && inFlight === 0 && posts.length === 0 && waiting.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    get deliveries(): readonly Delivery[] {
      return deliveries;
    },
    /** Notices raised while no verified address was set. */
    get dropped() {
      return dropped;
    },
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      waiting = [];
      posts.length = 0;
    },
  };
}
