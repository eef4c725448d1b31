/**
 * Names of the environment variables the Lambda handlers read. The CDK stack sets them
 * on every function; the local stack sets them in its own process before loading the
 * handlers. One list, so the two cannot disagree. Their defaults are `CONFIG_DEFAULTS` (src/config.ts).
 */
export const ENV = {
  merchantsTable: 'MERCHANTS_TABLE',
  productsTable: 'PRODUCTS_TABLE',
  pollQueueUrl: 'POLL_QUEUE_URL',
  pushQueueUrl: 'PUSH_QUEUE_URL',
  /** Dead-letter queues: a permanently bad message is moved to its queue's DLQ at once. */
  pollDlqUrl: 'POLL_DLQ_URL',
  pushDlqUrl: 'PUSH_DLQ_URL',
  /** Secrets Manager id (ARN or name) of the app secret {cloverAppId, cloverAppSecret?, cloverWebhookAuthCode?}. */
  appSecretId: 'APP_SECRET_ID',
  /** Secrets Manager id (ARN or name) of the Hipoink secret {hipoinkSign}. */
  hipoinkSecretId: 'HIPOINK_SECRET_ID',
  cloverApiBaseUrl: 'CLOVER_API_BASE_URL',
  hipoinkBaseUrl: 'HIPOINK_BASE_URL',
  hipoinkClientId: 'HIPOINK_CLIENT_ID',
  pollIntervalSeconds: 'POLL_INTERVAL_SECONDS',
  /** Minutes between polls of a merchant whose webhook notices arrived within the last hour. */
  safetyPollIntervalMinutes: 'SAFETY_POLL_INTERVAL_MINUTES',
  /** How often the fan-out runs (its schedule): it queues the merchants whose poll time came since. */
  fanOutPeriodSeconds: 'FAN_OUT_PERIOD_SECONDS',
  /** The backup refresher also refreshes tokens last refreshed at least this long ago */
  tokenMaxAgeMinutes: 'TOKEN_MAX_AGE_MINUTES',
  /** Refresh an access token that expires within this many minutes */
  tokenRefreshThresholdMinutes: 'TOKEN_REFRESH_THRESHOLD_MINUTES',
  /**
   * The proactive buffer: the backup refresher renews a token before it comes within this many
   * minutes of expiry, counting the time until its next run. At least 1: a refresh is never planned
   * closer than a minute to expiry.
   */
  tokenRefreshBufferMinutes: 'TOKEN_REFRESH_BUFFER_MINUTES',
  /** How often the backup refresher runs (set by the stack from its schedule). */
  tokenRefreshIntervalMinutes: 'TOKEN_REFRESH_INTERVAL_MINUTES',
  /** First retry delay of a failed queue message (seconds), doubling per attempt. */
  retryBaseSeconds: 'RETRY_BASE_SECONDS',
  /** Products per Hipoink create_multiple / del_multiple call. */
  hipoinkChunkSize: 'HIPOINK_CHUNK_SIZE',
  /** Clover requests per second for the whole app (Clover's limit: 50); item reads get 80% of it. */
  cloverRequestsPerSecond: 'CLOVER_REQUESTS_PER_SECOND',
  /** Comma-separated order of Clover fields tried for the Hipoink product code, e.g. "code,sku,id". */
  productCodePrecedence: 'PRODUCT_CODE_PRECEDENCE',
} as const;

/**
 * Variables only the web function (the connect flow) reads, besides the merchants table, the app
 * secret, the Clover REST host and the request budget from ENV.
 */
export const WEB_ENV = {
  /** Clover's host for the merchant's browser: /oauth/v2/authorize (not the REST API host). */
  cloverOauthBaseUrl: 'CLOVER_OAUTH_BASE_URL',
  /** Secrets Manager id of the state-signing key (a generated random string). */
  stateKeySecretId: 'STATE_KEY_SECRET_ID',
  /** The web function's public base URL when fixed (a custom domain); else the request's own domain. */
  webBaseUrl: 'WEB_BASE_URL',
} as const;
