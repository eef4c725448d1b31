import type { CloverClient, CloverCodeExchange } from '../clover/client.ts';
import type { TokenPair } from '../clover/schemas.ts';
import {
  AuthorizationCodeRejectedError,
  CloverAppRefusedError,
  CloverUnauthorizedError,
  errorForLog,
  SecretUnusableError,
} from '../errors.ts';
import type { QueueSender } from '../queues/sqs.ts';
import type { InviteStore, StateLedger } from '../store/connect.ts';
import type {
  MerchantConnections,
  MerchantRecord,
  MerchantState,
  MerchantStore,
} from '../store/merchants.ts';
import { pollMessage } from '../sync/fanout.ts';
import { INVITE_CLAIM_MS, type Invite, type InviteProblem, inviteKeyOf, inviteProblem } from './invites.ts';
import { type ConnectState, newNonce, STATE_TTL_MS, signState, verifyState } from './state.ts';

/**
 * Whether a token pair opens `merchantId`'s data: one read of one of its items. Only such a pair
 * may be stored under that id; another store's pair would be refreshed by every failing poll of the
 * wrong record, spending the single-use refresh token of the store it belongs to.
 */
export async function tokensOpenMerchant(
  clover: Pick<CloverClient, 'listItems'>,
  merchantId: string,
  accessToken: string,
) {
  await clover.listItems(merchantId, accessToken, { limit: 1, offset: 0 });
}

/** Why a merchant is disabled when its owner uninstalled the app in Clover (its tokens are gone). */
export const APP_UNINSTALLED = 'app uninstalled';

/** Disabled by an operator on purpose, not by an uninstall: only an operator starts it again. */
const operatorDisabled = (m: { state?: MerchantState | undefined; stateReason?: string | undefined }) =>
  m.state === 'disabled' && m.stateReason !== APP_UNINSTALLED;

/**
 * The state a merchant is in after it gets (or keeps) `storeCode`. One rule for every path. Give
 * `previousReason` only where fresh tokens arrive (the connect flow): a merchant disabled because
 * the app was uninstalled is restored by connecting again.
 */
export function nextMerchantState(
  storeCode: string | undefined,
  previous: MerchantState | undefined,
  previousReason?: string,
): MerchantState {
  // An operator stopped it on purpose: new tokens or a store code do not start it again.
  if (operatorDisabled({ state: previous, stateReason: previousReason })) return 'disabled';
  return storeCode === undefined ? 'pending' : 'active';
}

/**
 * Only its owner can start this merchant again: Clover refused its tokens (it is needs_reauth, or
 * was and has been disabled since) or they were deleted (the app was uninstalled). New tokens
 * come from a `merchants reconnect` link; starting it without them would spend a refused token.
 */
export function ownerMustReconnect(
  m: Pick<MerchantRecord, 'state' | 'tokensRefusedAt' | 'tokensDeletedAt'>,
): boolean {
  return m.state === 'needs_reauth' || m.tokensRefusedAt !== undefined || m.tokensDeletedAt !== undefined;
}

/**
 * What Clover's uninstall notice does to a merchant: it is disabled with the reason `APP_UNINSTALLED`
 * (its labels stay), unless an operator disabled it already, whose reason is kept so that connecting
 * again does not start it. Its tokens are deleted either way.
 */
export function stateAfterUninstall(
  merchant: Pick<MerchantRecord, 'state' | 'stateReason'>,
): { state: MerchantState; reason: string } | undefined {
  if (operatorDisabled(merchant)) return undefined;
  return { state: 'disabled', reason: APP_UNINSTALLED };
}

export type AuthorizationPlan =
  | { ok: true; storeCode?: string; state: MerchantState }
  | { ok: false; problem: 'wrong-merchant' }
  | { ok: false; problem: 'store-conflict'; storeCode: string };

/**
 * What a fresh token pair does to a merchant: a store invite binds it to the invite's store code, a
 * reconnect invite only fits the merchant it was made for, and without an invite a known merchant
 * keeps its store code while a new one waits as `pending`. Fresh tokens end needs_reauth and undo an
 * uninstall; cursor and products are never touched. Moving a merchant to another store code is not done here.
 */
export function planAuthorization(
  merchantId: string,
  existing: (Pick<MerchantRecord, 'storeCode' | 'state'> & { stateReason?: string }) | undefined,
  invite: Pick<Invite, 'storeCode' | 'forMerchant'> | undefined,
): AuthorizationPlan {
  if (invite?.forMerchant !== undefined && invite.forMerchant !== merchantId) {
    return { ok: false, problem: 'wrong-merchant' };
  }
  const wanted = invite?.storeCode;
  if (wanted !== undefined && existing?.storeCode !== undefined && existing.storeCode !== wanted) {
    return { ok: false, problem: 'store-conflict', storeCode: existing.storeCode };
  }
  const storeCode = wanted ?? existing?.storeCode;
  return {
    ok: true,
    ...(storeCode === undefined ? {} : { storeCode }),
    state: nextMerchantState(storeCode, existing?.state, existing?.stateReason),
  };
}

function refusalOf(plan: Extract<AuthorizationPlan, { ok: false }>): ConnectOutcome {
  return plan.problem === 'wrong-merchant'
    ? { kind: 'wrong-merchant' }
    : { kind: 'store-conflict', storeCode: plan.storeCode };
}

/** Every way a connection attempt can end. The web layer turns each into a page. */
export type ConnectOutcome =
  | { kind: 'redirect'; location: string }
  | {
      kind: 'connected';
      merchantId: string;
      storeCode?: string;
      state: MerchantState;
      /** The merchant was known before (re-authorized). */
      known: boolean;
    }
  | { kind: 'denied' }
  | { kind: `invite-${InviteProblem}` }
  | { kind: 'state-tampered' | 'state-expired' | 'state-used' }
  | { kind: 'wrong-app' | 'wrong-merchant' }
  | { kind: 'store-conflict'; storeCode: string }
  | { kind: 'code-refused' | 'token-mismatch' | 'clover-unavailable' }
  | { kind: 'not-configured'; reason: string };

export interface ConnectDeps {
  merchants: Pick<MerchantStore, 'get'> & Pick<MerchantConnections, 'saveAuthorization'>;
  invites: Pick<InviteStore, 'get' | 'claim' | 'release' | 'complete'>;
  states: StateLedger;
  clover: CloverCodeExchange & Pick<CloverClient, 'listItems'>;
  /** The Clover app id and, for this flow, its secret (from the app secret). */
  app: () => Promise<{ appId: string; appSecret?: string }>;
  /** The state-signing key. */
  stateKey: () => Promise<string>;
  /** Where merchants' browsers authorize: Clover's /oauth/v2/authorize host. */
  oauthBaseUrl: string;
  now?: () => number;
  /** Told about what an operator should know but the merchant's page need not say. */
  onWarning?: (message: string, fields: Record<string, unknown>) => void;
  /** Where a store connected as active gets its first poll at once. */
  pollQueue?: QueueSender;
}

const NOT_CONFIGURED = 'the Clover app secret (cloverAppSecret) is not set in the app secret';

/** The app id and secret when the flow can run; otherwise the outcome that says why not. */
async function credentials(
  deps: ConnectDeps,
): Promise<{ ok: true; appId: string; appSecret: string } | { ok: false; outcome: ConnectOutcome }> {
  const app = await deps.app();
  if (!app.appSecret) return { ok: false, outcome: { kind: 'not-configured', reason: NOT_CONFIGURED } };
  return { ok: true, appId: app.appId, appSecret: app.appSecret };
}

/**
 * A secret the flow reads that an operator has not set up (the app secret's placeholder, a state
 * key too short) ends the flow as not configured. Both secrets are read before anything is written.
 */
async function unlessNotSetUp(flow: () => Promise<ConnectOutcome>): Promise<ConnectOutcome> {
  try {
    return await flow();
  } catch (err) {
    if (err instanceof SecretUnusableError) return { kind: 'not-configured', reason: err.message };
    throw err;
  }
}

/**
 * `GET /connect?invite=` (with `inviteId`) and Clover's launch path (without): send the browser to
 * Clover's consent page with a fresh signed state, bound to the invite if there is one.
 */
export const beginConnect = (deps: ConnectDeps, request: { inviteId?: string; redirectUri: string }) =>
  unlessNotSetUp(() => redirectToClover(deps, request));

async function redirectToClover(
  deps: ConnectDeps,
  request: { inviteId?: string; redirectUri: string },
): Promise<ConnectOutcome> {
  const now = (deps.now ?? Date.now)();
  let inviteKey: string | undefined;
  if (request.inviteId !== undefined) {
    inviteKey = inviteKeyOf(request.inviteId);
    const invite = inviteKey === undefined ? undefined : await deps.invites.get(inviteKey);
    const problem = inviteProblem(invite, now);
    if (problem) return { kind: `invite-${problem}` };
  }
  const app = await credentials(deps);
  if (!app.ok) return app.outcome;
  const state: ConnectState = {
    nonce: newNonce(),
    expiresAt: now + STATE_TTL_MS,
    ...(inviteKey === undefined ? {} : { inviteKey }),
  };
  const query = new URLSearchParams({
    client_id: app.appId,
    redirect_uri: request.redirectUri,
    state: signState(state, await deps.stateKey()),
  });
  return { kind: 'redirect', location: `${deps.oauthBaseUrl}/oauth/v2/authorize?${query}` };
}

/** Clover's answer when the merchant refused: nothing to do but say so (the invite stays usable). */
export function consentDenied(): ConnectOutcome {
  return { kind: 'denied' };
}

export interface CallbackParams {
  merchantId: string;
  clientId: string;
  code: string;
  state: string;
}

/**
 * `GET /clover/callback`: checks everything that costs nothing first (state signature and expiry,
 * client id, the invite, what the tokens would do to the merchant), then records the state as used,
 * holds the invite, exchanges the code, checks the pair opens this merchant, and stores it. Any
 * failure before the pair is stored leaves merchants and the invite as they were.
 */
export const completeConnect = (deps: ConnectDeps, params: CallbackParams) =>
  unlessNotSetUp(() => connectWithCode(deps, params));

async function connectWithCode(deps: ConnectDeps, params: CallbackParams): Promise<ConnectOutcome> {
  const clock = deps.now ?? Date.now;
  const verified = verifyState(params.state, await deps.stateKey(), clock());
  if (!verified.ok) return { kind: `state-${verified.problem}` };
  const { state } = verified;

  const app = await deps.app();
  if (params.clientId !== app.appId) return { kind: 'wrong-app' };

  let invite: Invite | undefined;
  if (state.inviteKey !== undefined) {
    invite = await deps.invites.get(state.inviteKey);
    const problem = inviteProblem(invite, clock());
    if (problem) return { kind: `invite-${problem}` };
  }
  const before = await deps.merchants.get(params.merchantId);
  const plan = planAuthorization(params.merchantId, before, invite);
  if (!plan.ok) return refusalOf(plan);
  if (!app.appSecret) return { kind: 'not-configured', reason: NOT_CONFIGURED };

  if (!(await deps.states.recordUse(state.nonce, state.expiresAt, clock()))) return { kind: 'state-used' };
  if (invite && !(await deps.invites.claim(invite.key, state.nonce, clock(), clock() + INVITE_CLAIM_MS))) {
    const again = inviteProblem(await deps.invites.get(invite.key), clock());
    return { kind: `invite-${again ?? 'busy'}` };
  }
  const letInviteGo = async () => {
    if (invite) await deps.invites.release(invite.key, state.nonce);
  };

  let tokens: TokenPair;
  try {
    tokens = await deps.clover.exchangeCode(app.appId, app.appSecret, params.code, params.merchantId);
    // Clover's callback names the merchant in the browser's query string, which anyone can edit.
    await tokensOpenMerchant(deps.clover, params.merchantId, tokens.access_token);
  } catch (err) {
    await letInviteGo();
    if (err instanceof AuthorizationCodeRejectedError) return { kind: 'code-refused' };
    if (err instanceof CloverUnauthorizedError) return { kind: 'token-mismatch' };
    if (err instanceof CloverAppRefusedError) {
      return { kind: 'not-configured', reason: 'Clover refused the app id or app secret' };
    }
    deps.onWarning?.('Clover could not complete a connection', {
      merchantId: params.merchantId,
      ...errorForLog(err),
    });
    return { kind: 'clover-unavailable' };
  }

  const saved = await saveWithPlan(deps, params.merchantId, before, invite, tokens);
  if (!saved.ok) {
    await letInviteGo();
    return saved.outcome;
  }
  if (invite && !(await deps.invites.complete(invite.key, state.nonce, params.merchantId, clock()))) {
    deps.onWarning?.('The invite could not be marked used after its merchant connected', {
      merchantId: params.merchantId,
    });
  }
  // An active store is polled now, not at its turn: a new store's labels fill at once. A store
  // connected again after it was not synced gets a full resync: a read of changes does not show the
  // items deleted meanwhile, and the webhook notices of them found no store to poll.
  if (saved.plan.state === 'active') {
    const missed = before !== undefined && before.state !== 'active';
    const poll = {
      mode: missed ? ('full' as const) : ('incremental' as const),
      requestedAt: clock(),
      reason: 'manual' as const,
    };
    await deps.pollQueue
      ?.send([pollMessage({ merchantId: params.merchantId }, poll, `connected-${clock()}`)])
      .catch((err: unknown) =>
        deps.onWarning?.('The first poll of a connected store could not be queued (the schedule polls it)', {
          merchantId: params.merchantId,
          ...errorForLog(err),
        }),
      );
  }
  return {
    kind: 'connected',
    merchantId: params.merchantId,
    ...(saved.plan.storeCode === undefined ? {} : { storeCode: saved.plan.storeCode }),
    state: saved.plan.state,
    known: saved.known,
  };
}

/**
 * Stores the pair with the plan for the merchant as it is at the write: the record may change between
 * our read and our write (an operator, a poll), so the plan is made again on every conflict.
 */
async function saveWithPlan(
  deps: ConnectDeps,
  merchantId: string,
  first: MerchantRecord | undefined,
  invite: Invite | undefined,
  tokens: TokenPair,
): Promise<
  | { ok: true; plan: { storeCode?: string; state: MerchantState }; known: boolean }
  | { ok: false; outcome: ConnectOutcome }
> {
  let current = first;
  for (let attempt = 0; attempt < 5; attempt++) {
    const plan = planAuthorization(merchantId, current, invite);
    if (!plan.ok) return { ok: false, outcome: refusalOf(plan) };
    const basis = current && {
      tokenVersion: current.tokenVersion,
      state: current.state,
      ...(current.storeCode === undefined ? {} : { storeCode: current.storeCode }),
    };
    const next = {
      state: plan.state,
      ...(plan.storeCode === undefined ? {} : { storeCode: plan.storeCode }),
    };
    if (await deps.merchants.saveAuthorization(merchantId, basis, next, tokens)) {
      return { ok: true, plan: next, known: current !== undefined };
    }
    current = await deps.merchants.get(merchantId);
  }
  // Only a merchant rewritten five times within one callback gets here.
  return { ok: false, outcome: { kind: 'clover-unavailable' } };
}
