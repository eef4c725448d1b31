import { Duration, Lazy, Stack } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type IAlarm,
  type IMetric,
  type IWidget,
  Stats,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnQueryDefinition, type ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRIC } from '../src/metric-names.ts';
import type { QueueWithDlq } from './queue-with-dlq.ts';
import { type MetricName, serviceMetric } from './service-metric.ts';

export interface OpsDashboardProps {
  /** The stage's stack name: the dashboard's and the saved queries' folder name. */
  name: string;
  /** The `service` dimension the functions publish their metrics with. */
  serviceName: string;
  pollQueue: QueueWithDlq;
  pushQueue: QueueWithDlq;
  alarms: IAlarm[];
}

const PERIOD = Duration.minutes(5);
const WIDTH = 8;
const HEIGHT = 6;

/** Logs Insights patterns over the functions' JSON log lines (Powertools: level, message, keys). */
export const SAVED_QUERIES = {
  storeErrors: {
    title: 'Recent errors of one store',
    query: [
      "# Replace MERCHANT_ID with the store's Clover merchant id.",
      'fields @timestamp, @log, level, message, merchantId, errorCode, reason',
      '| filter level in ["ERROR", "WARN"] and @message like "MERCHANT_ID"',
      '| sort @timestamp desc',
      '| limit 200',
    ].join('\n'),
  },
  refreshOutcomes: {
    title: 'Clover token refresh outcomes',
    query: [
      'fields @timestamp, @log, level, message, merchantId, errorCode, reason, checked, refreshed.0, failed.0.merchantId',
      '| filter message like /Clover token|token refresh|recovery token/',
      '  or errorCode in ["CLOVER_REFRESH_REJECTED", "TOKEN_BUSY", "TOKEN_PERSIST"]',
      '  or reason like /refresh token|re-authoriz/',
      '| sort @timestamp desc',
      '| limit 200',
    ].join('\n'),
  },
} as const;

/**
 * The stage's operations view: one CloudWatch dashboard (freshness first, then the pipeline in
 * order: polls, labels, Clover, queues, functions; the alarms' states on top) and the saved Logs
 * Insights queries over every function's logs. Functions join with `addFunction`, and anything
 * added later gets its own row with `addRow`.
 */
export class OpsDashboard extends Construct {
  readonly dashboard: Dashboard;
  /** The dashboard in the CloudWatch console of the stack's region. */
  readonly url: string;
  private readonly errors: GraphWidget;
  private readonly durationP95: GraphWidget;
  private readonly durationMax: GraphWidget;
  private readonly logGroups: ILogGroup[] = [];

  constructor(scope: Construct, id: string, props: OpsDashboardProps) {
    super(scope, id);
    const ours = (name: MetricName, statistic: string, label: string) =>
      serviceMetric(props.serviceName, name, { statistic, period: PERIOD, label });
    const graph = (title: string, left: IMetric[], width = WIDTH) =>
      new GraphWidget({ title, left, width, height: HEIGHT, period: PERIOD });
    const queues = [
      ['poll', props.pollQueue],
      ['push', props.pushQueue],
    ] as const;

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: props.name,
      defaultInterval: Duration.hours(3),
    });
    const { region } = Stack.of(this);
    this.url = `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${props.name}`;

    this.dashboard.addWidgets(
      new AlarmStatusWidget({ title: 'Alarms', alarms: props.alarms, width: 24, height: 4 }),
    );
    this.addRow(
      'Freshness: how far behind Clover the shelves may be',
      graph(
        'Age of the last successful poll (seconds)',
        [
          ours(METRIC.lastPollAgeMax, Stats.MAXIMUM, 'stalest store'),
          ours(METRIC.lastPollAgeP95, Stats.MAXIMUM, '95% of stores within'),
        ],
        12,
      ),
      graph(
        'Stores needing someone',
        [
          ours(METRIC.merchantsNeedingReauth, Stats.MAXIMUM, 'need re-authorization'),
          ours(METRIC.refreshTokensExpiringSoon, Stats.MAXIMUM, 'refresh token expiring within 7 days'),
          ours(METRIC.merchantsLastSyncFailed, Stats.MAXIMUM, 'last poll failed'),
          ours(METRIC.merchantsAppUninstalled, Stats.MAXIMUM, 'app uninstalled'),
          ours(METRIC.merchantsPushFailing, Stats.MAXIMUM, 'last push failed'),
          ours(METRIC.merchantsPending, Stats.MAXIMUM, 'connected, waiting for a store code'),
          ours(METRIC.storesJoinedAttention, Stats.SUM, 'joined a condition others were in'),
          ours(METRIC.merchantUnusable, Stats.SUM, 'stored record unusable'),
        ],
        12,
      ),
    );
    this.addRow(
      'Polls and labels',
      graph('Polls', [
        ours(METRIC.merchantsQueued, Stats.SUM, 'queued by the fan-out'),
        // The poller records ItemsChanged once per synced poll, so its sample count counts them.
        ours(METRIC.itemsChanged, Stats.SAMPLE_COUNT, 'synced'),
        ours(METRIC.partialRead, Stats.SUM, 'read partly (continued next poll)'),
        ours(METRIC.merchantSkipped, Stats.SUM, 'skipped'),
      ]),
      graph('Items changed in Clover', [
        ours(METRIC.itemsChanged, Stats.SUM, 'changed'),
        ours(METRIC.invalidCloverItem, Stats.SUM, 'invalid (recorded, skipped)'),
      ]),
      graph('Labels pushed and refused', [
        ours(METRIC.labelsUpserted, Stats.SUM, 'created or updated'),
        ours(METRIC.labelsRemoved, Stats.SUM, 'removed'),
        ours(METRIC.productRejected, Stats.SUM, 'refused by Hipoink'),
        ours(METRIC.labelRemovalRefused, Stats.SUM, 'removal refused'),
      ]),
    );
    this.addRow(
      'Clover',
      graph('Clover 429 answers', [ours(METRIC.cloverRateLimited, Stats.SUM, 'rate limited (retried)')], 12),
      graph(
        'Token refreshes',
        [
          ours(METRIC.tokenRefresh, Stats.SUM, 'refreshes started'),
          ours(METRIC.tokenRecovered, Stats.SUM, 'recovered with the recovery token'),
          ours(METRIC.tokensRefreshedByBackup, Stats.SUM, 'refreshed by the backup refresher'),
          ours(METRIC.tokenBackupRefreshFailed, Stats.SUM, 'backup refresh failed'),
        ],
        12,
      ),
    );
    this.addRow(
      'Clover webhook notices (polls they queue show above; polling goes on beside them)',
      graph(
        'Notices',
        [
          ours(METRIC.webhookNoticesAccepted, Stats.SUM, 'accepted (poll, deletion, uninstall)'),
          ours(METRIC.webhookNoticesIgnored, Stats.SUM, 'ignored (unknown merchant, key or event)'),
        ],
        12,
      ),
      graph(
        'Requests refused',
        [
          ours(METRIC.webhookRequestsRefused, Stats.SUM, 'refused: X-Clover-Auth missing or wrong'),
          ours(METRIC.webhookRequestsInvalid, Stats.SUM, 'invalid body (not JSON, not a notice, too large)'),
        ],
        12,
      ),
    );
    this.addRow(
      'Queues',
      graph(
        'Oldest message (seconds)',
        queues.map(([name, q]) =>
          q.queue.metricApproximateAgeOfOldestMessage({
            period: PERIOD,
            statistic: Stats.MAXIMUM,
            label: name,
          }),
        ),
      ),
      graph(
        'Messages waiting and in flight',
        queues.flatMap(([name, q]) => [
          q.queue.metricApproximateNumberOfMessagesVisible({
            period: PERIOD,
            statistic: Stats.MAXIMUM,
            label: `${name} waiting`,
          }),
          q.queue.metricApproximateNumberOfMessagesNotVisible({
            period: PERIOD,
            statistic: Stats.MAXIMUM,
            label: `${name} in flight`,
          }),
        ]),
      ),
      graph(
        'Dead letters',
        queues.map(([name, q]) =>
          q.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            period: PERIOD,
            statistic: Stats.MAXIMUM,
            label: `${name} DLQ`,
          }),
        ),
      ),
    );
    this.errors = graph('Function errors', []);
    this.durationP95 = graph('Function duration p95 (ms)', []);
    this.durationMax = graph('Function duration max (ms)', []);
    this.addRow('Functions', this.errors, this.durationP95, this.durationMax);

    const logGroupNames = Lazy.list({ produce: () => this.logGroups.map((g) => g.logGroupName) });
    for (const [key, { title, query }] of Object.entries(SAVED_QUERIES)) {
      new CfnQueryDefinition(this, `Query-${key}`, {
        name: `${props.name}/${title}`,
        queryString: query,
        logGroupNames,
      });
    }
  }

  /** A function's errors and durations on the dashboard, and its logs in the saved queries. */
  addFunction(name: string, fn: IFunction, logGroup: ILogGroup) {
    this.errors.addLeftMetric(fn.metricErrors({ period: PERIOD, statistic: Stats.SUM, label: name }));
    this.durationP95.addLeftMetric(
      fn.metricDuration({ period: PERIOD, statistic: Stats.p(95), label: name }),
    );
    this.durationMax.addLeftMetric(
      fn.metricDuration({ period: PERIOD, statistic: Stats.MAXIMUM, label: name }),
    );
    this.logGroups.push(logGroup);
  }

  /** A titled row of widgets. */
  addRow(title: string, ...widgets: IWidget[]) {
    this.dashboard.addWidgets(new TextWidget({ markdown: `### ${title}`, width: 24, height: 1 }));
    this.dashboard.addWidgets(...widgets);
  }
}
