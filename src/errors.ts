/**
 * Every failure the core raises is an EslSyncError: it carries the context an operator needs
 * (merchant, item, store, attempt) and says itself whether trying again can help. Handlers
 * map `retryable` to SQS behaviour (redeliver vs dead-letter) in one place: `isRetryable`.
 * Messages never contain token or sign values.
 */
export interface ErrorContext {
  merchantId?: string;
  itemId?: string;
  storeCode?: string;
  attempt?: number;
  operation?: string;
  status?: number;
}

export abstract class EslSyncError extends Error {
  abstract readonly retryable: boolean;
  abstract readonly code: string;
  constructor(
    message: string,
    readonly context: ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  /** Safe to log: message, code and context only (never the cause's request, which may hold a token). */
  toLog(): Record<string, unknown> {
    return { errorCode: this.code, reason: this.message, retryable: this.retryable, ...this.context };
  }
}

/** An HTTP answer (or none: a network failure) that a later try may not get: 408, 429, 5xx. */
const mayPassLater = (status: number | undefined) =>
  status === undefined || status === 408 || status === 429 || status >= 500;

/** Clover answered with an HTTP error other than 401 or a network failure happened. */
export class CloverApiError extends EslSyncError {
  readonly code = 'CLOVER_API';
  get retryable(): boolean {
    return mayPassLater(this.context.status);
  }
}

/**
 * Clover's retry-after holds the whole app longer than a request may wait: not sent, retried later
 * (by SQS), never by the HTTP client.
 */
export class CloverPausedError extends CloverApiError {}

/** Clover refused our app's credentials (client id or secret): configuration, never a merchant's token. */
export class CloverAppRefusedError extends CloverApiError {}

/** Clover refused an authorization code (used, expired, or not issued to this app): that sign-in is over. */
export class AuthorizationCodeRejectedError extends EslSyncError {
  readonly code = 'CLOVER_CODE_REJECTED';
  readonly retryable = false;
}

/** Clover rejected the access token (401): the caller may refresh once and retry. */
export class CloverUnauthorizedError extends EslSyncError {
  readonly code = 'CLOVER_UNAUTHORIZED';
  readonly retryable = true;
}

/** Clover refused the refresh token (400/401 invalid_grant): the merchant must re-authorize. */
export class RefreshRejectedError extends EslSyncError {
  readonly code = 'CLOVER_REFRESH_REJECTED';
  readonly retryable = false;
}

/** The merchant cannot be synced until someone acts (needs_reauth, disabled, unknown). */
export class MerchantUnavailableError extends EslSyncError {
  readonly code = 'MERCHANT_UNAVAILABLE';
  readonly retryable = false;
}

/** The merchant's stored record cannot be read (a field missing or invalid): only re-adding or removing it helps. */
export class UnusableMerchantRecordError extends MerchantUnavailableError {}

/** Clover answered 2xx with a body we cannot understand: the poll fails, the cursor stays. */
export class InvalidResponseError extends EslSyncError {
  readonly code = 'INVALID_RESPONSE';
  readonly retryable = true;
}

/** A token refresh is in progress elsewhere and did not finish in time; try again later. */
export class TokenBusyError extends EslSyncError {
  readonly code = 'TOKEN_BUSY';
  readonly retryable = true;
}

/** Clover issued a new pair but we could not store it (the one window Clover cannot close). */
export class TokenPersistError extends EslSyncError {
  readonly code = 'TOKEN_PERSIST';
  readonly retryable = true;
}

/** Hipoink transport failure: 5xx, timeout or network. */
export class HipoinkApiError extends EslSyncError {
  readonly code = 'HIPOINK_API';
  get retryable(): boolean {
    return mayPassLater(this.context.status);
  }
}

/** Hipoink answered HTTP 200 with error_code ≠ 0: that request is refused as it stands. */
export class HipoinkRejectedError extends EslSyncError {
  readonly code = 'HIPOINK_REJECTED';
  readonly retryable = false;
  constructor(
    message: string,
    readonly errorCode: number | string,
    readonly errorMsg: string,
    context: ErrorContext = {},
  ) {
    super(message, context);
  }
}

/**
 * Hipoink refused every product of a batch, one by one too, with one and the same error: the
 * request itself (sign, store code, client id) is wrong, not the products. Retried, so the labels
 * follow once it is fixed; no product is marked rejected for it.
 */
export class HipoinkRequestRefusedError extends EslSyncError {
  readonly code = 'HIPOINK_REQUEST_REFUSED';
  readonly retryable = true;
}

/**
 * A secret holds no usable value (the placeholder, not JSON, a field missing, a key too short): an
 * operator must set it. Retried like any failure, since the operator may fix it meanwhile; the
 * connect flow tells the store owner it is not set up. Its message names fields, never values.
 */
export class SecretUnusableError extends EslSyncError {
  readonly code = 'SECRET_UNUSABLE';
  readonly retryable = true;
}

/** A queue message or invocation payload that does not match its schema: never retried. */
export class InvalidMessageError extends EslSyncError {
  readonly code = 'INVALID_MESSAGE';
  readonly retryable = false;
}

/** The one place that decides whether a failure is worth another attempt. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof EslSyncError) return err.retryable;
  // Unknown failures (AWS throttling, network resets) are assumed transient: the queue's
  // maxReceiveCount bounds how often they are tried before the message is dead-lettered.
  return true;
}

export function errorForLog(err: unknown): Record<string, unknown> {
  if (err instanceof EslSyncError) return err.toLog();
  if (err instanceof Error) return { errorCode: 'UNEXPECTED', errorName: err.name, reason: err.message };
  return { errorCode: 'UNEXPECTED', reason: String(err) };
}
