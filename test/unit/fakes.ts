/** In-memory stand-ins with the same conditional semantics as the DynamoDB stores. */
import type { TokenPair } from '../../src/clover/schemas.ts';
import { ownerMustReconnect } from '../../src/connect/authorize.ts';
import { addCounts, NO_COUNTS, type ShelfCounts } from '../../src/domain/counts.ts';
import { isOutOfStep, type Slot, type Want, withWanter } from '../../src/domain/shelf.ts';
import { HipoinkApiError, HipoinkRejectedError } from '../../src/errors.ts';
import type { HipoinkClient } from '../../src/hipoink/client.ts';
import type { HipoinkProduct } from '../../src/hipoink/fields.ts';
import type { QueueMessage, QueueSender } from '../../src/queues/sqs.ts';
import type { MerchantRecord, MerchantStore, UninstallWrite } from '../../src/store/merchants.ts';
import type { ItemRecord, ShelfStore } from '../../src/store/shelf.ts';

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
    pollsStarted: 0,
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
  /** The clock of the times it writes where a test compares them with its own (a set-aside push). */
  now: () => number = Date.now;
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
    const r = this.records.get(id);
    if (!r) return false;
    if (state === 'disabled' && r.state === 'needs_reauth') r.tokensRefusedAt ??= Date.now();
    if ((state === 'active' || state === 'pending') && ownerMustReconnect(r)) return false;
    r.state = state;
    // As the DynamoDB adapter: a state set without a reason drops the old one, and a store that
    // starts again drops the times its last polls failed or stopped short since.
    if (reason) r.stateReason = reason;
    else {
      delete r.stateReason;
      delete r.syncFailingSince;
      delete r.readIncompleteSince;
    }
    return true;
  }
  async beginMove(id: string, from: string, to: string, codes: string[]) {
    const r = this.must(id);
    if (r.storeCode !== from && !(r.storeCode === to && r.movingFrom === from)) return false;
    Object.assign(r, { storeCode: to, movingFrom: from, movingCodes: [...codes] });
    return true;
  }
  async endMove(id: string) {
    delete this.must(id).movingFrom;
    delete this.must(id).movingCodes;
  }
  async remove(id: string) {
    this.records.delete(id);
  }
  async addShelfCounts(id: string, change: ShelfCounts) {
    const r = this.records.get(id);
    if (r) r.shelf = addCounts({ ...NO_COUNTS, ...r.shelf }, change);
  }
  async setShelfCounts(id: string, counts: ShelfCounts) {
    const r = this.records.get(id);
    if (r) Object.assign(r, { shelf: { ...counts }, shelfCountedAt: Date.now() });
  }
  async setLabelOptions(id: string, options: MerchantRecord['labelOptions'] & object) {
    this.must(id).labelOptions = options;
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
    delete r.tokensRefusedAt;
    return true;
  }
  async clearNeedsReauth(id: string, version: number) {
    const r = this.must(id);
    if (r.state !== 'needs_reauth' || r.tokenVersion !== version) return false;
    r.state = 'active';
    delete r.stateReason;
    delete r.syncFailingSince;
    delete r.readIncompleteSince;
    delete r.tokensRefusedAt;
    return true;
  }
  async markNeedsReauth(id: string, version: number, reason: string) {
    const r = this.must(id);
    if (r.tokenVersion !== version) return false;
    r.state = 'needs_reauth';
    r.stateReason = reason;
    r.tokensRefusedAt ??= Date.now();
    return true;
  }
  async markShelfWrites(id: string, at: number) {
    this.must(id).shelfWritesUnfinished ??= at;
  }
  async recordPoll(id: string, outcome: Parameters<MerchantStore['recordPoll']>[1]) {
    this.polls.push(outcome);
    const r = this.must(id);
    const failed = outcome.error !== undefined;
    r.lastSyncStatus = failed ? 'error' : outcome.partial ? 'partial' : 'ok';
    if (failed) r.syncFailingSince ??= Date.now();
    else delete r.syncFailingSince;
    if (!failed) {
      if (!outcome.partial) delete r.shelfWritesUnfinished;
      if (!outcome.partial) delete r.readIncompleteSince;
      else r.readIncompleteSince ??= Date.now();
      r.lastPollStartedAt = outcome.startedAt;
      if (outcome.cursor !== undefined) r.cursor = outcome.cursor;
      r.pollCount++;
      r.pollsSinceCleanup = outcome.cleanedUp ? 0 : r.pollsSinceCleanup + 1;
      if (outcome.cleanedUp) r.lastCleanupAt = Date.now();
    }
  }
  async passBarrier(id: string, barrier: string) {
    const r = this.records.get(id);
    if (r) r.barrierPassed = barrier;
  }
  async recordPush(id: string, failure: string | undefined) {
    const r = this.records.get(id);
    if (!r) return;
    if (failure === undefined) {
      delete r.lastPushError;
      delete r.pushFailingSince;
    } else {
      r.lastPushError = failure.slice(0, 500);
      r.pushFailingSince ??= Date.now();
    }
  }
  async notePushSetAside(id: string) {
    const r = this.records.get(id);
    if (r) r.pushSetAsideAt = this.now();
  }
  async pushesRequeued(id: string, startedAt: number) {
    const r = this.records.get(id);
    if (r?.pushSetAsideAt !== undefined && r.pushSetAsideAt <= startedAt) delete r.pushSetAsideAt;
  }
  async startPoll(id: string) {
    const r = this.records.get(id);
    if (r) r.pollsStarted++;
    return this.get(id);
  }
  async recordNotice(id: string, at: number) {
    const r = this.records.get(id);
    if (!r) return undefined;
    if (r.lastNoticeAt === undefined || r.lastNoticeAt < at) r.lastNoticeAt = at;
    return { started: r.pollsStarted, ...(r.cursor === undefined ? {} : { cursor: r.cursor }) };
  }
  async getMany(ids: readonly string[]) {
    await this.tick();
    const found = new Map<string, MerchantRecord>();
    for (const id of ids) {
      const r = this.records.get(id);
      if (r) found.set(id, structuredClone(r));
    }
    return found;
  }
  async deleteTokens(
    id: string,
    basis: Pick<MerchantRecord, 'state' | 'tokenVersion'>,
    write: UninstallWrite,
  ) {
    await this.tick();
    const r = this.records.get(id);
    if (!r || r.state !== basis.state || r.tokenVersion !== basis.tokenVersion) return false;
    if (r.authorizedAt !== undefined && r.authorizedAt >= write.noticeTs) return false;
    Object.assign(r, { accessToken: '', refreshToken: '', tokensDeletedAt: Date.now() });
    r.tokenVersion++;
    delete r.previousRefreshToken;
    if (write.state) Object.assign(r, { state: write.state.state, stateReason: write.state.reason });
    return true;
  }
  private must(id: string) {
    const r = this.records.get(id);
    if (!r) throw new Error(`no merchant ${id}`);
    return r;
  }
}

/** The shelf store in memory, with the DynamoDB adapter's semantics (pinned by the store contract test). */
export class FakeShelfStore implements ShelfStore {
  readonly items = new Map<string, ItemRecord>();
  readonly slots = new Map<string, Slot>();
  /** Per merchant: codes whose Hipoink call is under way. */
  readonly calls = new Map<string, Set<string>>();
  /** Writes left before every write fails (a poll or push stopped halfway); undefined = never. */
  writesBeforeFailure: number | undefined;
  /** Runs once when this many more writes have been made (work running beside a poll or push). */
  interleave: { afterWrites: number; run: () => Promise<void> } | undefined;
  constructor(private readonly now: () => number = Date.now) {}
  private key = (m: string, id: string) => `${m}/${id}`;
  private async write() {
    const beside = this.interleave;
    if (beside && beside.afterWrites-- <= 0) {
      this.interleave = undefined;
      const failing = this.writesBeforeFailure;
      this.writesBeforeFailure = undefined;
      await beside.run();
      this.writesBeforeFailure = failing;
    }
    if (this.writesBeforeFailure === undefined) return;
    if (this.writesBeforeFailure <= 0) throw new Error('DynamoDB unavailable');
    this.writesBeforeFailure--;
  }
  private withUnsure(m: string, slot: Slot): Slot {
    return { ...structuredClone(slot), ...(this.calls.get(m)?.has(slot.code) ? { unsure: true } : {}) };
  }
  async getItems(m: string, ids: readonly string[]) {
    return [...new Set(ids)].flatMap((id) => {
      const r = this.items.get(this.key(m, id));
      return r ? [structuredClone(r)] : [];
    });
  }
  async listItems(m: string) {
    return [...this.items.values()].filter((r) => r.merchantId === m).map((r) => structuredClone(r));
  }
  async putItem(record: ItemRecord) {
    await this.write();
    const stored = structuredClone({ ...record, updatedAt: this.now() });
    for (const k of Object.keys(stored) as Array<keyof ItemRecord>)
      if (stored[k] === undefined) delete stored[k];
    this.items.set(this.key(record.merchantId, record.itemId), stored);
  }
  async getSlots(m: string, codes: readonly string[]) {
    return [...new Set(codes)].map((code) =>
      this.withUnsure(m, this.slots.get(this.key(m, code)) ?? { code, wanters: [] }),
    );
  }
  async listSlots(m: string) {
    return [...this.slots.entries()]
      .filter(([k]) => k.startsWith(`${m}/`))
      .map(([, s]) => this.withUnsure(m, s));
  }
  async touchSlot(m: string, code: string, change: { want: Want } | { drop: string }, at?: number) {
    await this.write();
    const before = this.slots.get(this.key(m, code)) ?? { code, wanters: [] };
    const after = withWanter(before, change);
    this.slots.set(
      this.key(m, code),
      structuredClone(at === undefined ? after : { ...after, touchedAt: at }),
    );
    return structuredClone(before);
  }
  async settleSlot(m: string, code: string, shelf: Pick<Slot, 'held' | 'refused'>) {
    await this.write();
    const before = this.slots.get(this.key(m, code));
    if (!before) return undefined; // never recreated once deleted
    const next: Slot = { code, wanters: before.wanters };
    if (before.touchedAt !== undefined) next.touchedAt = before.touchedAt;
    if (shelf.held) next.held = structuredClone(shelf.held);
    if (shelf.refused) next.refused = structuredClone(shelf.refused);
    this.slots.set(this.key(m, code), next);
    return structuredClone(before);
  }
  async beginCalls(m: string, codes: readonly string[]) {
    if (codes.length === 0) return;
    await this.write();
    const set = this.calls.get(m) ?? new Set<string>();
    for (const c of codes) set.add(c);
    this.calls.set(m, set);
  }
  async endCalls(m: string, codes: readonly string[]) {
    if (codes.length === 0) return;
    await this.write();
    for (const c of codes) this.calls.get(m)?.delete(c);
  }
  /** Per merchant and Hipoink store code left: codes to delete without an answer yet, and refused. */
  readonly clears = new Map<string, { pending: Set<string>; refused: Set<string> }>();
  async noteClear(m: string, storeCode: string, codes: readonly string[]) {
    await this.write();
    this.clears.set(this.key(m, storeCode), { pending: new Set(codes), refused: new Set() });
  }
  async clearAnswered(m: string, storeCode: string, codes: readonly string[], refused: readonly string[]) {
    const clear = this.clears.get(this.key(m, storeCode));
    if (codes.length === 0 || !clear) return;
    await this.write();
    for (const c of codes) clear.pending.delete(c);
    for (const c of refused) clear.refused.add(c);
  }
  async clearState(m: string, storeCode: string) {
    const clear = this.clears.get(this.key(m, storeCode));
    return { pending: [...(clear?.pending ?? [])], refused: [...(clear?.refused ?? [])] };
  }
  async forget(m: string) {
    this.calls.delete(m);
    for (const k of [...this.clears.keys()]) if (k.startsWith(`${m}/`)) this.clears.delete(k);
    for (const map of [this.items, this.slots])
      for (const k of [...map.keys()]) if (k.startsWith(`${m}/`)) map.delete(k);
  }
}

export class RecordingQueue implements QueueSender {
  readonly sent: QueueMessage[] = [];
  async send(messages: readonly QueueMessage[]) {
    this.sent.push(...messages);
  }
}

/** A Hipoink server in memory, recording calls, with the faults the push must survive. */
export class FakeHipoink implements HipoinkClient {
  calls: Array<{ op: string; codes: string[] }> = [];
  shelf = new Map<string, HipoinkProduct>();
  /** Codes whose products it refuses (error_code ≠ 0). */
  bad = new Set<string>();
  /** Products it refuses by content. */
  refuse: (p: HipoinkProduct) => boolean = () => false;
  /** Codes it refuses to delete. */
  undeletable = new Set<string>();
  /** The next calls answer 5xx without doing anything. */
  failNext = 0;
  /** The next calls are carried out, but their answer is lost (a timeout). */
  loseNextAnswers = 0;
  /** Calls carried out whose answer was lost. */
  answersLost = 0;
  failWith?: Error;
  sameErrorForBad = false;
  /** Every request refused with one error, as with a wrong sign. */
  refuseEverything = false;
  /** Deleting a code it does not hold is refused (the reference does not say it is not). */
  refuseUnknownDelete = false;
  /** Creates refused for the request, deletes of unknown codes still answered (e.g. a wrong store code). */
  refuseCreates = false;
  /** Told of every product it deletes (deleting one unbinds its physical label). */
  onDelete?: (held: HipoinkProduct) => void;
  private async call(op: string, codes: string[], apply: () => void) {
    this.calls.push({ op, codes });
    if (this.failWith) throw this.failWith;
    if (this.failNext > 0) {
      this.failNext--;
      throw new HipoinkApiError('Hipoink answered 503', { status: 503 });
    }
    if (this.refuseEverything) throw new HipoinkRejectedError('refused', 10003, 'sign check failed');
    apply();
    if (this.loseNextAnswers > 0) {
      this.loseNextAnswers--;
      this.answersLost++;
      throw new HipoinkApiError('Hipoink timed out');
    }
  }
  private check(p: HipoinkProduct, many: boolean) {
    if (this.refuseCreates) throw new HipoinkRejectedError('refused', 40001, 'store not found');
    if (this.bad.has(p.pc) || this.refuse(p)) {
      const msg = many || this.sameErrorForBad ? 'a product is invalid' : `bad product ${p.pc}`;
      throw new HipoinkRejectedError('refused', 1, msg);
    }
  }
  async create(_s: string, p: HipoinkProduct) {
    await this.call('create', [p.pc], () => {
      this.check(p, false);
      this.shelf.set(p.pc, { ...p });
    });
  }
  async createMultiple(_s: string, ps: readonly HipoinkProduct[]) {
    await this.call(
      'create_multiple',
      ps.map((p) => p.pc),
      () => {
        for (const p of ps) this.check(p, true);
        for (const p of ps) this.shelf.set(p.pc, { ...p });
      },
    );
  }
  async deleteMultiple(_s: string, codes: readonly string[]) {
    await this.call('del_multiple', [...codes], () => {
      if (this.refuseUnknownDelete && codes.some((c) => !this.shelf.has(c)))
        throw new HipoinkRejectedError('refused', 30002, 'product not found');
      if (codes.some((c) => this.undeletable.has(c)))
        throw new HipoinkRejectedError('refused', 30001, 'product is bound to a label');
      for (const c of codes) {
        const held = this.shelf.get(c);
        if (held) this.onDelete?.(held);
        this.shelf.delete(c);
      }
    });
    return codes.length;
  }
}

/** The merchant's codes whose shelf is not what the code rule says (a push is due), sorted. */
export async function outOfStepCodes(shelf: Pick<ShelfStore, 'listSlots'>, merchantId: string) {
  const slots = await shelf.listSlots(merchantId);
  return slots
    .filter((s) => isOutOfStep(s))
    .map((s) => s.code)
    .sort();
}
