import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { METRIC } from '../src/metric-names.ts';
import { StageSettingsError } from '../src/stage.ts';
import type { QueueWithDlq } from './queue-with-dlq.ts';
import { type MetricName, serviceMetric } from './service-metric.ts';

export interface OperatorAlarmsProps {
  pollQueue: QueueWithDlq;
  pushQueue: QueueWithDlq;
  /** The stack's DynamoDB tables, whose throttling alarms. */
  tables: readonly ITable[];
  /**
   * Functions no operator watches run (schedule, queue, or a store owner's browser and Clover's
   * webhooks); a crash or timeout of any of them alarms.
   */
  unattendedFunctions: Record<string, IFunction>;
  pollIntervalSeconds: number;
  /** The poll interval of a store heard through webhooks (minutes). */
  safetyPollIntervalMinutes: number;
  tokenRefreshIntervalMinutes: number;
  /** Subscribed to the alert topic when given (the address confirms by email). */
  alertEmail?: string;
  /** The `service` dimension the functions publish their metrics with. */
  serviceName: string;
  /** How the CLI reaches this stack, e.g. `--aws --stage production`: the alarm texts quote it. */
  cliTarget: string;
}

/** A queue message older than this means labels are more than a quarter hour behind Clover. */
const BACKLOG_SECONDS = 15 * 60;
const FIVE_MINUTES = Duration.minutes(5);
/** Webhook requests refused for their auth within 5 minutes that make a burst. */
const WEBHOOK_REFUSALS = 10;
/** CloudWatch evaluates at most one day of periods. */
const MAX_EVALUATION_SECONDS = 86_400;

/**
 * The conditions someone has to act on, as CloudWatch alarms on one encrypted SNS topic (alarm and
 * recovery both notify). Each description says what happened and what to do, so the notification
 * is its own runbook.
 */
export class OperatorAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  private readonly serviceName: string;

  constructor(scope: Construct, id: string, props: OperatorAlarmsProps) {
    super(scope, id);
    this.serviceName = props.serviceName;
    const key = new Key(this, 'TopicKey', {
      description: 'esl-sync: encrypts operator alerts',
      enableKeyRotation: true,
    });
    // CloudWatch alarms publish to an encrypted topic only if the key lets CloudWatch use it.
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    this.topic = new Topic(this, 'Topic', {
      displayName: 'esl-sync alerts',
      masterKey: key,
      enforceSSL: true,
    });
    // The HTTPS-only statement makes this the topic's whole policy, replacing SNS's default that
    // lets the account publish: CloudWatch must be allowed explicitly, for this account's alarms.
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          ArnLike: {
            'aws:SourceArn': `arn:${Stack.of(this).partition}:cloudwatch:${Stack.of(this).region}:${Stack.of(this).account}:alarm:${Stack.of(this).stackName}-*`,
          },
        },
      }),
    );
    if (props.alertEmail !== undefined) {
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.alertEmail)) {
        throw new StageSettingsError(`alertEmail must be an email address; got ${props.alertEmail}`);
      }
      this.topic.addSubscription(new EmailSubscription(props.alertEmail));
    }

    const { pollQueue, pushQueue, cliTarget: aws } = props;
    for (const [name, q, dlqName] of [
      ['Poll', pollQueue, 'poll'],
      ['Push', pushQueue, 'push'],
    ] as const) {
      this.add(`${name}DeadLetters`, {
        metric: q.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: FIVE_MINUTES,
          statistic: 'Maximum',
        }),
        threshold: 1,
        // SQS may stop publishing for a queue nobody touches; no data must not read as "cleared".
        missing: TreatMissingData.IGNORE,
        description:
          `${name} messages failed five times, or could never succeed, and were set aside, so some labels ` +
          'are not being updated. ' +
          `Read the reasons with \`esl-sync dlq list --queue ${dlqName} ${aws}\`; once the cause is fixed, ` +
          `\`esl-sync dlq redrive --queue ${dlqName} ${aws}\`. A letter that can never succeed: ` +
          `\`esl-sync dlq discard --queue ${dlqName} --message-id ID ${aws}\`.`,
      });
      this.add(`${name}Backlog`, {
        metric: q.queue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }),
        threshold: BACKLOG_SECONDS,
        description:
          `A ${dlqName} message has waited over ${BACKLOG_SECONDS / 60} minutes: labels are falling behind Clover. ` +
          (name === 'Poll'
            ? 'Check the Poller logs for errors, throttling or Clover 429s (CloverRateLimited metric).'
            : 'Check the PushConsumer logs: Hipoink down or slow, or refusing every request (a wrong sign, ' +
              `store code or client id; \`esl-sync dlq list --queue push ${aws}\` shows the reasons).`),
      });
    }

    this.add('MoreDeadLetters', {
      // The two alarms above fire once while letters wait; one more letter then sends nothing.
      metric: this.gauge(METRIC.messagesDeadLettered, FIVE_MINUTES, 'Sum'),
      threshold: 1,
      // Its clearing only says no letter came in the last period: nothing an operator must hear.
      notifyOk: false,
      description:
        'A poll or push message was set aside in a dead-letter queue in the last five minutes, with its ' +
        'reason. PollDeadLetters and PushDeadLetters fire once while letters wait, so they may already ' +
        `be firing and sent nothing for it. \`esl-sync dlq list ${aws}\` shows every letter and why. A ` +
        'message SQS set aside by itself, with no reason (its last try crashed or timed out, or was ' +
        'never reached in a batch that did), is not counted here; the two alarms above still count it.',
    });

    this.add('TablesThrottled', {
      // The SDK retries a throttled request, so a moment of throttling passes unseen; a quarter hour
      // of it means retries run out. Metrics absent (no throttling at all) count as none.
      metric: new MathExpression({
        expression: 'SUM(FILL(METRICS(), 0))',
        usingMetrics: Object.fromEntries(
          props.tables.flatMap((table, i) =>
            (['ReadThrottleEvents', 'WriteThrottleEvents'] as const).map((name) => [
              `${name === 'ReadThrottleEvents' ? 'r' : 'w'}${i}`,
              table.metric(name, { period: FIVE_MINUTES, statistic: 'Sum' }),
            ]),
          ),
        ),
        period: FIVE_MINUTES,
        label: 'DynamoDB requests throttled',
      }),
      threshold: 1,
      evaluationPeriods: 3,
      description:
        'DynamoDB has throttled requests to the merchants or products table for 15 minutes. The AWS SDK ' +
        'retries a throttled request a few times; throttling that lasts runs those out, so some polls and ' +
        'pushes fail and are tried again later: labels lag. One store shares one partition key across its items, so its first sync or a full resync of ' +
        'many thousands of items can write faster than one partition takes until DynamoDB splits it (minutes). ' +
        'Otherwise it is an account or table quota: the table’s Monitor tab in the DynamoDB console shows ' +
        'which table, reads or writes, and the cause (key range, account limit).',
    });

    const pollPeriod = Duration.seconds(props.pollIntervalSeconds);
    const pollPeriods = Math.min(3, Math.floor(MAX_EVALUATION_SECONDS / props.pollIntervalSeconds));
    this.add('PollsNotScheduled', {
      metric: this.gauge(METRIC.merchantsQueued, pollPeriod, 'SampleCount'),
      comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
      threshold: 1,
      evaluationPeriods: pollPeriods,
      missing: TreatMissingData.BREACHING,
      description:
        `No fan-out ran for ${pollPeriods} poll intervals, so no store is being polled. ` +
        'Check that the PollSchedule rule is enabled and the FanOut function is not failing.',
    });
    // Twice the longest interval a store is polled at: a store polled as planned is never that stale.
    const staleSeconds = 2 * Math.max(props.pollIntervalSeconds, props.safetyPollIntervalMinutes * 60);
    this.add('ShelvesStale', {
      metric: this.gauge(METRIC.lastPollAgeP95, FIVE_MINUTES, 'Maximum'),
      threshold: staleSeconds,
      evaluationPeriods: 3,
      description:
        `For 15 minutes, more than 5% of the active stores have had no successful poll for ${staleSeconds / 60} ` +
        'minutes (twice their longest poll interval): their labels may lag Clover that long. ' +
        `\`esl-sync status ${aws}\` shows each store's last sync and error; look for failing polls ` +
        '(MerchantsFailingSync), a poll backlog (PollBacklog) or a fleet outgrowing its interval ' +
        '(FleetOutgrowsInterval).',
    });
    this.add('FleetOutgrowsInterval', {
      // Published by every fan-out; above 100% every store's interval is being stretched.
      metric: this.gauge(METRIC.pollLoadPercent, FIVE_MINUTES, 'Maximum'),
      threshold: 100,
      evaluationPeriods: 3,
      description:
        'The stores ask for more polls than the app may send to Clover (cloverRequestsPerSecond, at most ' +
        'Clover’s 50 a second, 80% of them for reads): every store is now polled less often than the poll ' +
        'interval, evenly, none left out. Lengthen pollIntervalSeconds, turn on Clover webhooks for the app ' +
        '(stores heard through them are polled on the safety interval), or split the stores across Clover apps.',
    });
    this.add('MerchantsNeedReauth', {
      metric: this.gauge(METRIC.merchantsNeedingReauth, FIVE_MINUTES, 'Maximum'),
      threshold: 1,
      description:
        'Clover refused a store’s refresh token; its labels are not updated until the store authorizes ' +
        `the app again. \`esl-sync status ${aws}\` names it; \`esl-sync merchants reconnect ID ${aws}\` gives a ` +
        'link to send the store: opening it and pressing Allow in Clover reconnects it, sync state kept.',
    });
    this.add('MerchantsAppUninstalled', {
      metric: this.gauge(METRIC.merchantsAppUninstalled, FIVE_MINUTES, 'Maximum'),
      threshold: 1,
      description:
        'A store’s owner uninstalled the Clover app: its labels keep showing their last prices and no ' +
        `longer follow Clover. \`esl-sync status ${aws}\` names it. To connect it again, ` +
        `\`esl-sync merchants reconnect ID ${aws}\` gives a link for the owner; if the store has left, ` +
        `\`esl-sync merchants remove ID --remove-labels ${aws}\` takes its labels off the shelf.`,
    });
    this.add('MerchantsPending', {
      metric: this.gauge(METRIC.merchantsPending, FIVE_MINUTES, 'Maximum'),
      threshold: 1,
      description:
        'A store connected the Clover app without an invite (from the App Market or its dashboard) and ' +
        'waits for its Hipoink store code: its labels are not synced until then, and its tokens are not ' +
        `refreshed. \`esl-sync status ${aws}\` names it; \`esl-sync merchants assign ID --store-code CODE ${aws}\` ` +
        `starts it; one that is not yours: \`esl-sync merchants remove ID ${aws}\`.`,
    });
    this.add('MoreStoresNeedAttention', {
      // The alarms above count stores; one already firing sends nothing when another store joins.
      metric: this.gauge(METRIC.storesJoinedAttention, FIVE_MINUTES, 'Sum'),
      threshold: 1,
      // Its clearing only says no store joined in the last period: nothing an operator must hear.
      notifyOk: false,
      description:
        'Another store now needs someone, under a condition other stores were already in, so its alarm ' +
        '(MerchantsNeedReauth, MerchantsAppUninstalled, RefreshTokensExpiring, MerchantsFailingSync, ' +
        'MerchantsPushFailing or MerchantsPending) may already be firing and sent nothing for it. The ' +
        'fan-out log line "Stores joined a condition other stores were already in" names the stores and ' +
        `conditions; \`esl-sync status ${aws}\` shows every store with what to do.`,
    });
    this.add('MerchantRecordsUnusable', {
      // Published by every listing (each fan-out) while such a record exists; absent once fixed.
      metric: this.gauge(METRIC.merchantUnusable, FIVE_MINUTES, 'Sum'),
      threshold: 1,
      description:
        'A merchant record in DynamoDB cannot be used (e.g. a token field missing or damaged), so that ' +
        'store is not synced. The fan-out log line "Merchant skipped: its stored record cannot be used" ' +
        `names it and the fields. A token field: with a token pair for it, \`esl-sync merchants add ${aws}\` ` +
        `(same store code) stores new tokens. Otherwise \`esl-sync merchants remove ID ${aws}\` deletes it ` +
        '(its labels stay) and the store connects again ' +
        `(\`esl-sync stores invite --store-code CODE ${aws}\`).`,
    });
    this.add('ProductsRejected', {
      // One bad product is the store's data (status shows it); many at once suggest the request.
      metric: this.gauge(METRIC.productRejected, FIVE_MINUTES, 'Sum'),
      threshold: 3,
      description:
        `Hipoink refused several products within 5 minutes. \`esl-sync status ${aws}\` counts them per ` +
        `store and \`esl-sync merchants show ID ${aws}\` lists them with Hipoink's reasons: if they share ` +
        'one reason (sign, store code), fix that, then ' +
        `\`esl-sync backfill --all ${aws}\` sends the refused labels again; otherwise fix the items in Clover.`,
    });
    this.add('LabelRemovalsRefused', {
      // Deleting a code no product has is taken as done (our assumption, docs/hipoink.md): a refusal
      // is about a label on the shelf.
      metric: this.gauge(METRIC.labelRemovalRefused, FIVE_MINUTES, 'Sum'),
      threshold: 1,
      description:
        'Hipoink refused to take a product off a store, so its label keeps showing an item that was ' +
        'hidden, deleted or recoded in Clover. The PushConsumer log line "Hipoink refused to delete a ' +
        'product code; passed over" names the merchant, the store, the code and Hipoink’s reason. The ' +
        `delete is tried again at the store's next ghost cleanup; once the cause is fixed in Hipoink, ` +
        `\`esl-sync backfill --merchant-id ID ${aws}\` tries it at once. In a store the merchant moved ` +
        `away from: \`esl-sync merchants retry-clear ID --store-code OLD ${aws}\`; after a removal, ` +
        'take the product off in Hipoink by hand.',
    });
    this.add('RefreshTokensExpiring', {
      metric: this.gauge(METRIC.refreshTokensExpiringSoon, FIVE_MINUTES, 'Maximum'),
      threshold: 1,
      description:
        `A store’s Clover refresh token runs out within 7 days. \`esl-sync status ${aws}\` names it; ` +
        `\`esl-sync merchants reconnect ID ${aws}\` gives a link to send the store: pressing Allow in Clover ` +
        'before then renews it, or it will need re-authorization.',
    });
    this.add('MerchantsFailingSync', {
      // The fan-out counts only stores whose polls have failed for 15 minutes, not one failed poll.
      metric: this.gauge(METRIC.merchantsLastSyncFailed, FIVE_MINUTES, 'Maximum'),
      threshold: 1,
      description:
        'Some store’s polls have been failing for 15 minutes, or have stopped short of the end of its ' +
        'changes for 30 (its later changes wait unread). ' +
        `\`esl-sync status ${aws}\` shows each one's last error. If many stores fail alike, suspect Clover ` +
        'or the app secret ("Clover refused the app credentials": cloverAppId or cloverAppSecret; "asked ' +
        'the app to wait": Clover 429s). A read that keeps stopping short ("Clover items kept changing ' +
        'during the read") meets over 1,000 items changed in one instant that Clover lists in a changing ' +
        'order: any edit in Clover moves an item out of that group.',
    });

    this.add('MerchantsPushFailing', {
      // The fan-out counts only stores whose pushes have failed, none going through, for 15 minutes.
      metric: this.gauge(METRIC.merchantsPushFailing, FIVE_MINUTES, 'Maximum'),
      threshold: 1,
      description:
        'Some store’s pushes to Hipoink have failed, none going through, for 15 minutes: its labels are ' +
        'not updated. ' +
        `\`esl-sync status ${aws}\` shows each one's last error: Hipoink down or slow, or refusing every ` +
        'request (a wrong sign in the Hipoink secret, store code or client id). Pushes that may pass are ' +
        "retried, and after one is set aside the store's next poll queues its codes again, so once fixed " +
        `its labels follow within a poll interval (\`esl-sync tick ${aws}\` polls every store now); ` +
        `\`esl-sync dlq redrive --queue push ${aws}\` then empties the dead-letter queue.`,
    });

    this.add('StoresCannotConnect', {
      metric: this.gauge(METRIC.connectNotConfigured, FIVE_MINUTES, 'Sum'),
      threshold: 1,
      description:
        'A store owner opened a connect link and was told the service is not set up: the app secret still ' +
        'holds the placeholder or has no cloverAppSecret, the state-signing key is unusable, or Clover ' +
        'refused the app’s credentials. The web function’s log line "Connecting a store is not ' +
        'possible" says which. Put the Clover app’s id and secret into the app secret (the AppSecretArn ' +
        'output); the same link works again afterwards.',
    });
    this.add('WebPagesFailing', {
      // The web function answers every failure it catches with a page, which its Lambda Errors
      // metric never counts; a timeout (WebErrors) it cannot catch.
      metric: this.gauge(METRIC.webPagesFailed, FIVE_MINUTES, 'Sum'),
      threshold: 1,
      description:
        'The web function answered with its "Something went wrong on our side" page: a store owner ' +
        'connecting saw it, or a Clover webhook delivery failed (Clover sends it again). Its log line ' +
        '"Web route failed" (or "Web function cannot start") names the route and the error. On a new ' +
        'stage the usual cause is a secret the function cannot read, or for webhooks an app secret ' +
        'still holding the placeholder.',
    });
    this.add('WebhookAuthRefused', {
      // One stray request is noise; a burst means Clover's notices are being refused, or probing.
      metric: this.gauge(METRIC.webhookRequestsRefused, FIVE_MINUTES, 'Sum'),
      threshold: WEBHOOK_REFUSALS,
      description:
        `${WEBHOOK_REFUSALS} or more requests to the Clover webhook address were refused in 5 minutes for a ` +
        'missing or wrong X-Clover-Auth. If they are Clover’s, cloverWebhookAuthCode in the app secret does ' +
        'not match the Clover Auth Code in the app’s webhook settings (or is not set): notices are lost, ' +
        'polling still syncs. Copy the code into the app secret. Otherwise someone is probing the address: ' +
        'the Web function log names each refusal.',
    });

    const refreshPeriod = Duration.minutes(props.tokenRefreshIntervalMinutes);
    const refreshPeriods = props.tokenRefreshIntervalMinutes * 60 * 2 <= MAX_EVALUATION_SECONDS ? 2 : 1;
    this.add('TokenRefresherMissed', {
      metric: this.gauge(METRIC.tokenRefresherRun, refreshPeriod, 'Sum'),
      comparison: ComparisonOperator.LESS_THAN_THRESHOLD,
      threshold: 1,
      evaluationPeriods: refreshPeriods,
      missing: TreatMissingData.BREACHING,
      description:
        'The backup token refresher has not run when scheduled (status shows it LATE). Tokens of stores ' +
        'polled rarely may expire. Check the TokenRefreshSchedule rule and the TokenRefresher logs.',
    });
    this.add('TokenBackupRefreshFailing', {
      metric: this.gauge(METRIC.tokenBackupRefreshFailed, refreshPeriod, 'Sum'),
      threshold: 1,
      evaluationPeriods: refreshPeriods,
      description:
        'The backup token refresher failed to refresh some store in consecutive runs. ' +
        'Its log line "Backup token refresh finished with failures" names the stores and reasons; ' +
        `\`esl-sync tokens refresh ${aws}\` runs it now and prints each failure.`,
    });

    for (const [name, fn] of Object.entries(props.unattendedFunctions)) {
      this.add(`${name}Errors`, {
        metric: fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
        threshold: 1,
        description: `The ${name} function failed (a crash or a timeout, not a recorded item or message failure). See its logs.`,
      });
    }
  }

  private gauge(metricName: MetricName, period: Duration, statistic: string) {
    return serviceMetric(this.serviceName, metricName, { period, statistic });
  }

  private add(
    id: string,
    opts: {
      metric: IMetric;
      threshold: number;
      description: string;
      comparison?: ComparisonOperator;
      evaluationPeriods?: number;
      missing?: TreatMissingData;
      /** Whether its clearing is told too (default yes). */
      notifyOk?: boolean;
    },
  ) {
    const alarm = new Alarm(this, id, {
      alarmName: `${Stack.of(this).stackName}-${id}`,
      alarmDescription: opts.description,
      metric: opts.metric,
      threshold: opts.threshold,
      comparisonOperator: opts.comparison ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: opts.evaluationPeriods ?? 1,
      treatMissingData: opts.missing ?? TreatMissingData.NOT_BREACHING,
    });
    const action = new SnsAction(this.topic);
    alarm.addAlarmAction(action);
    if (opts.notifyOk !== false) alarm.addOkAction(action);
    this.alarms.push(alarm);
  }
}
