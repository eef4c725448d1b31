/**
 * The CloudWatch metrics the functions publish (Powertools EMF) and the stack's alarms watch. One
 * list for both sides, so an alarm can never wait on a metric nobody publishes under that name.
 */
export const METRIC_NAMESPACE = 'EslSync';
/** Powertools adds it to every metric as the `service` dimension. */
export const SERVICE_NAME = 'esl-sync';

export const METRIC = {
  merchantsQueued: 'MerchantsQueued',
  /** Gauges from each fan-out: merchants an operator has to act on. */
  merchantsNeedingReauth: 'MerchantsNeedingReauth',
  refreshTokensExpiringSoon: 'RefreshTokensExpiringSoon',
  merchantsLastSyncFailed: 'MerchantsLastSyncFailed',
  merchantsAppUninstalled: 'MerchantsAppUninstalled',
  merchantsPushFailing: 'MerchantsPushFailing',
  merchantsPending: 'MerchantsPending',
  /** Stores counted under a condition that already counted others: its alarm may be firing already. */
  storesJoinedAttention: 'StoresJoinedAttention',
  /** Gauges from each fan-out: seconds since the active stores' last successful polls, stalest and p95. */
  lastPollAgeMax: 'LastPollAgeMax',
  lastPollAgeP95: 'LastPollAgeP95',
  /** Gauge from each fan-out: polls the fleet's intervals ask for, as a % of what Clover's budget allows. */
  pollLoadPercent: 'PollLoadPercent',
  merchantUnusable: 'MerchantUnusable',
  /** Messages the poller or push consumer set aside in a dead-letter queue (each with its reason). */
  messagesDeadLettered: 'MessagesDeadLettered',
  merchantSkipped: 'MerchantSkipped',
  cloverRateLimited: 'CloverRateLimited',
  invalidCloverItem: 'InvalidCloverItem',
  itemsChanged: 'ItemsChanged',
  partialRead: 'PartialRead',
  productRejected: 'ProductRejected',
  labelRemovalRefused: 'LabelRemovalRefused',
  labelsUpserted: 'LabelsUpserted',
  labelsRemoved: 'LabelsRemoved',
  tokenRefresh: 'TokenRefresh',
  tokenRecovered: 'TokenRecovered',
  tokenRefresherRun: 'TokenRefresherRun',
  tokensRefreshedByBackup: 'TokensRefreshedByBackup',
  tokenBackupRefreshFailed: 'TokenBackupRefreshFailed',
  /** A store finished Clover's connect flow (new or re-authorized). */
  storesConnected: 'StoresConnected',
  /** A store could not connect because of the app's own set-up (its id or secret missing or refused). */
  connectNotConfigured: 'ConnectNotConfigured',
  /** Requests the web function answered with its 500 page (a route failed, or it cannot start). */
  webPagesFailed: 'WebPagesFailed',
  /** Clover webhook notices acted on (a poll queued, a deletion to confirm, an uninstall). */
  webhookNoticesAccepted: 'WebhookNoticesAccepted',
  /** Notices with valid auth that change nothing: unknown merchant, object key or event type. */
  webhookNoticesIgnored: 'WebhookNoticesIgnored',
  /** Webhook requests refused for a missing or wrong X-Clover-Auth (nothing queued). */
  webhookRequestsRefused: 'WebhookRequestsRefused',
  /** Webhook requests whose body is not a notice (not JSON, wrong shape, too large). */
  webhookRequestsInvalid: 'WebhookRequestsInvalid',
} as const;
