/** In-memory stand-ins with the same conditional semantics as the DynamoDB stores. */
import type { TokenPair } from '../../src/clover/schemas.ts';
import type { QueueMessage, QueueSender } from '../../src/queues/sqs.ts';
import type { MerchantRecord, MerchantStore } from '../../src/store/merchants.ts';
import type { ProductRecord, ProductState, ProductStore } from '../../src/store/products.ts';

export function merchantRecord(over: Partial<MerchantRecord> = {}): MerchantRecord {
  return {
    merchantId: 'M1',
    storeCode: 'store-1',
    state: 'active',
    accessToken: 'access-0',
    accessTokenExpiresAt: Math.floor(Date.now() / 1000) + 3600,
    refreshToken: 'refresh-0',
    refreshTokenExpiresAt: Math.floor(Date.now() / 1000) + 86_400 * 30,
    tokenVersion: 1,
    pollCount: 0,
    pollsSinceCleanup: 0,
    createdAt: 0,
    updatedAt: 0,
    ...over,
  };
}

export class FakeMerchantStore implements MerchantStore {
  readonly records = new Map<string, MerchantRecord>();
  failSaves = 0;
  polls: Array<Parameters<MerchantStore['recordPoll']>[1]> = [];
  constructor(...records: MerchantRecord[]) {
    for (const r of records) this.records.set(r.merchantId, r);
  }
  private async tick() {
    await new Promise((r) => setImmediate(r));
  }
  async get(id: string) {
    await this.tick();
    const r = this.records.get(id);
    return r ? structuredClone(r) : undefined;
  }
  async list() {
    return [...this.records.values()].map((r) => structuredClone(r));
  }
  async upsert(m: { merchantId: string; storeCode: string; tokens: TokenPair }) {
    const r = merchantRecord({ merchantId: m.merchantId, storeCode: m.storeCode });
    this.records.set(m.merchantId, r);
    return r;
  }
  async setState(id: string, state: MerchantRecord['state'], reason?: string) {
    const r = this.must(id);
    r.state = state;
    if (reason) r.stateReason = reason;
  }
  async setLabelOptions(id: string, options: MerchantRecord['labelOptions'] & object) {
    this.must(id).labelOptions = options;
  }
  async addCodeRechecks(id: string, itemIds: readonly string[]) {
    const r = this.must(id);
    r.pendingCodeRechecks = [...new Set([...(r.pendingCodeRechecks ?? []), ...itemIds])];
  }
  async clearCodeRechecks(id: string, itemIds: readonly string[]) {
    const r = this.must(id);
    r.pendingCodeRechecks = (r.pendingCodeRechecks ?? []).filter((i) => !itemIds.includes(i));
  }
  async acquireRefreshLease(id: string, owner: string, version: number, leaseMs: number) {
    await this.tick();
    const r = this.must(id);
    if (r.tokenVersion !== version || r.state !== 'active') return false;
    if (r.refreshLeaseUntil !== undefined && r.refreshLeaseUntil >= Date.now()) return false;
    r.refreshLeaseOwner = owner;
    r.refreshLeaseUntil = Date.now() + leaseMs;
    return true;
  }
  async releaseRefreshLease(id: string, owner: string) {
    const r = this.must(id);
    if (r.refreshLeaseOwner === owner) {
      delete r.refreshLeaseOwner;
      delete r.refreshLeaseUntil;
    }
  }
  async saveRefreshedTokens(id: string, version: number, t: TokenPair, prev: string) {
    await this.tick();
    if (this.failSaves > 0) {
      this.failSaves--;
      throw new Error('DynamoDB unavailable');
    }
    const r = this.must(id);
    if (r.tokenVersion !== version) return false;
    Object.assign(r, {
      accessToken: t.access_token,
      accessTokenExpiresAt: t.access_token_expiration,
      refreshToken: t.refresh_token,
      refreshTokenExpiresAt: t.refresh_token_expiration,
      previousRefreshToken: prev,
      tokenVersion: version + 1,
    });
    delete r.refreshLeaseOwner;
    delete r.refreshLeaseUntil;
    return true;
  }
  async clearNeedsReauth(id: string, version: number) {
    const r = this.must(id);
    if (r.state !== 'needs_reauth' || r.tokenVersion !== version) return false;
    r.state = 'active';
    delete r.stateReason;
    return true;
  }
  async markNeedsReauth(id: string, version: number, reason: string) {
    const r = this.must(id);
    if (r.tokenVersion !== version) return false;
    r.state = 'needs_reauth';
    r.stateReason = reason;
    return true;
  }
  async recordPoll(id: string, outcome: Parameters<MerchantStore['recordPoll']>[1]) {
    this.polls.push(outcome);
    const r = this.must(id);
    r.lastSyncStatus = outcome.error ? 'error' : outcome.partial ? 'partial' : 'ok';
    if (!outcome.error) {
      r.lastPollStartedAt = outcome.startedAt;
      if (outcome.cursor !== undefined) r.cursor = outcome.cursor;
      r.pollCount++;
      r.pollsSinceCleanup = outcome.cleanedUp ? 0 : r.pollsSinceCleanup + 1;
      if (outcome.cleanedUp) r.lastCleanupAt = Date.now();
    }
  }
  private must(id: string) {
    const r = this.records.get(id);
    if (!r) throw new Error(`no merchant ${id}`);
    return r;
  }
}

export class FakeProductStore implements ProductStore {
  readonly records = new Map<string, ProductRecord>();
  readonly claims = new Map<string, string>();
  readonly waiters = new Map<string, Set<string>>();
  async claimCode(merchantId: string, pc: string, itemId: string, takeOverFrom?: string) {
    const k = `${merchantId}/${pc}`;
    const owner = this.claims.get(k);
    if (takeOverFrom ? owner === takeOverFrom : owner === undefined || owner === itemId) {
      this.claims.set(k, itemId);
      this.waiters.get(k)?.delete(itemId);
    }
    return this.claims.get(k) as string;
  }
  async codeHolder(merchantId: string, pc: string) {
    return this.claims.get(`${merchantId}/${pc}`);
  }
  async awaitCode(merchantId: string, pc: string, itemId: string) {
    const k = `${merchantId}/${pc}`;
    const owner = this.claims.get(k);
    if (owner === undefined || owner === itemId) return false;
    this.waiters.set(k, (this.waiters.get(k) ?? new Set()).add(itemId));
    return true;
  }
  async releaseCode(
    merchantId: string,
    pc: string,
    itemId: string,
    keepWaiters?: (waiters: string[]) => Promise<void>,
  ) {
    const k = `${merchantId}/${pc}`;
    // As the real store: delete only as read (same owner, same waiters), else read again.
    for (;;) {
      if (this.claims.get(k) !== itemId) return [];
      const waiting = [...(this.waiters.get(k) ?? [])];
      if (waiting.length > 0) await keepWaiters?.(waiting);
      if (this.claims.get(k) !== itemId || (this.waiters.get(k)?.size ?? 0) !== waiting.length) continue;
      this.claims.delete(k);
      this.waiters.delete(k);
      return waiting;
    }
  }
  private key = (m: string, i: string) => `${m}/${i}`;
  async saveState(merchantId: string, itemId: string, state: ProductState) {
    const k = this.key(merchantId, itemId);
    const old = this.records.get(k);
    const hash =
      state.status === 'active'
        ? state.stateHash
        : state.status === 'removed'
          ? `removed:${state.removedReason}`
          : `invalid:${state.invalidReason}`;
    if (old?.stateHash === hash) return null;
    if (
      old?.modifiedTime !== undefined &&
      state.modifiedTime !== undefined &&
      old.modifiedTime > state.modifiedTime
    ) {
      return null;
    }
    const next: ProductRecord = {
      ...(old ?? { merchantId, itemId }),
      stateHash: hash,
      updatedAt: Date.now(),
    } as ProductRecord;
    next.status = state.status;
    if (state.modifiedTime !== undefined) next.modifiedTime = state.modifiedTime;
    // The real store's SET and REMOVE, attribute for attribute.
    if (state.status === 'active') {
      Object.assign(next, {
        label: state.label,
        labelHash: state.labelHash,
        priceType: state.priceType,
        available: state.available,
      });
      if (state.unitCost === undefined) delete next.unitCost;
      else next.unitCost = state.unitCost;
      delete next.invalidReason;
      delete next.removedReason;
    } else if (state.status === 'removed') {
      next.removedReason = state.removedReason;
      delete next.invalidReason;
    } else next.invalidReason = state.invalidReason;
    this.records.set(k, next);
    return structuredClone(next);
  }
  async get(merchantId: string, itemIds: readonly string[]) {
    return [...new Set(itemIds)]
      .map((i) => this.records.get(this.key(merchantId, i)))
      .filter((r): r is ProductRecord => r !== undefined)
      .map((r) => structuredClone(r));
  }
  async list(merchantId: string) {
    return [...this.records.values()]
      .filter((r) => r.merchantId === merchantId)
      .map((r) => structuredClone(r));
  }
  async markPushed(
    merchantId: string,
    itemId: string,
    shelf: { pc: string; labelHash: string } | { removed: true },
  ) {
    const r = this.records.get(this.key(merchantId, itemId));
    if (!r) throw new Error('missing');
    if ('removed' in shelf) {
      delete r.pushedPc;
      delete r.pushedLabelHash;
    } else {
      r.pushedPc = shelf.pc;
      r.pushedLabelHash = shelf.labelHash;
    }
    delete r.rejectedReason;
    delete r.rejectedLabelHash;
  }
  async markRejected(merchantId: string, itemId: string, labelHash: string, reason: string) {
    const r = this.records.get(this.key(merchantId, itemId));
    if (!r) throw new Error('missing');
    r.rejectedReason = reason;
    r.rejectedLabelHash = labelHash;
  }
  async findShown(merchantId: string) {
    const shown = [...this.records.values()].find(
      (r) =>
        r.merchantId === merchantId &&
        r.status === 'active' &&
        r.pushedLabelHash !== undefined &&
        r.pushedLabelHash === r.labelHash &&
        r.pushedPc === r.label?.pc,
    );
    return shown && structuredClone(shown);
  }
  async markLabelLeaving(merchantId: string, itemId: string) {
    const r = this.records.get(this.key(merchantId, itemId));
    if (!r) throw new Error('missing');
    delete r.pushedLabelHash;
  }
  async addStrayCode(merchantId: string, itemId: string, pc: string) {
    const r = this.records.get(this.key(merchantId, itemId));
    if (!r) throw new Error('missing');
    r.strayPcs = [...new Set([...(r.strayPcs ?? []), pc])];
  }
  async clearStrayCodes(merchantId: string, itemId: string, pcs: readonly string[]) {
    const r = this.records.get(this.key(merchantId, itemId));
    if (!r) throw new Error('missing');
    const left = (r.strayPcs ?? []).filter((pc) => !pcs.includes(pc));
    if (left.length > 0) r.strayPcs = left;
    else delete r.strayPcs;
  }
}

export class RecordingQueue implements QueueSender {
  readonly sent: QueueMessage[] = [];
  async send(messages: readonly QueueMessage[]) {
    this.sent.push(...messages);
  }
}
