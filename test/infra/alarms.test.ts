import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { EslSyncStack, type EslSyncStackProps } from '../../lib/esl-sync-stack.ts';
import { METRIC, METRIC_NAMESPACE, SERVICE_NAME } from '../../src/metric-names.ts';
import { dashboardOf, metricLines, publishingSource, testApp } from './support.ts';

function synth(props: Partial<EslSyncStackProps> = {}) {
  const app = testApp();
  const stack = new EslSyncStack(app, 'EslSync', {
    hipoinkBaseUrl: 'https://hipoink.test',
    productCodePrecedence: 'code,sku,id',
    ...props,
  });
  return Template.fromStack(stack);
}

type AlarmProps = {
  AlarmName: string;
  AlarmDescription: string;
  MetricName: string;
  Namespace: string;
  Dimensions: Array<{ Name: string; Value: unknown }>;
  Period: number;
  EvaluationPeriods: number;
  Threshold: number;
  ComparisonOperator: string;
  TreatMissingData: string;
  AlarmActions: unknown[];
  OKActions?: unknown[];
};
function alarms(template: Template): Record<string, AlarmProps> {
  const out: Record<string, AlarmProps> = {};
  for (const a of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
    const p = a.Properties as AlarmProps;
    out[p.AlarmName.replace(/^EslSync-/, '')] = p;
  }
  return out;
}
function alarm(template: Template, name: string): AlarmProps {
  const found = alarms(template)[name];
  if (!found) throw new Error(`no alarm ${name}`);
  return found;
}

describe('operator alarms', () => {
  let template: Template;
  beforeAll(() => {
    template = synth();
  });

  it('tells the alert topic when each alarm fires and when it clears (a store joining a count: only when it fires)', () => {
    const all = Object.entries(alarms(template));
    expect(all.length).toBeGreaterThanOrEqual(15);
    const topic = Object.keys(template.findResources('AWS::SNS::Topic'));
    expect(topic).toHaveLength(1);
    for (const [id, a] of all) {
      expect(a.AlarmActions).toEqual([{ Ref: topic[0] }]);
      if (/MoreStoresNeedAttention|MoreDeadLetters/.test(id)) expect(a.OKActions ?? []).toEqual([]);
      else expect(a.OKActions).toEqual([{ Ref: topic[0] }]);
      expect(a.AlarmDescription.length).toBeGreaterThan(60);
    }
  });

  it('encrypts the topic with a key CloudWatch may use, and refuses it over plain HTTP', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^OperatorAlarmsTopicKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    // A topic policy replaces SNS's default one: CloudWatch needs its own Allow, for our alarms only.
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Condition: Match.objectLike({
              StringEquals: { 'aws:SourceAccount': Match.anyValue() },
              ArnLike: { 'aws:SourceArn': Match.anyValue() },
            }),
          }),
        ]),
      },
    });
    const keys = template.findResources('AWS::KMS::Key');
    const grantsCloudWatch = (id: string) =>
      JSON.stringify(keys[id]?.Properties.KeyPolicy).includes('cloudwatch.amazonaws.com');
    const ids = Object.keys(keys);
    expect(ids.filter(grantsCloudWatch)).toEqual([expect.stringMatching(/^OperatorAlarmsTopicKey/)]);
  });

  it('alarms on anything dead-lettered and on a queue falling a quarter hour behind', () => {
    for (const [name, queue] of [
      ['PollDeadLetters', 'PollQueueDeadLetters'],
      ['PushDeadLetters', 'PushQueueDeadLetters'],
    ] as const) {
      const a = alarm(template, name);
      expect(a).toMatchObject({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
      expect(JSON.stringify(a.Dimensions)).toContain(queue);
      expect(a.AlarmDescription).toMatch(/esl-sync dlq list/);
      // Dead letters stay until someone acts: a gap in SQS's data must not clear the alarm.
      expect(a.TreatMissingData).toBe('ignore');
    }
    // A letter while those already fire is told by the count of letters the functions set aside.
    expect(alarm(template, 'MoreDeadLetters')).toMatchObject({
      MetricName: METRIC.messagesDeadLettered,
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    for (const [name, queue] of [
      ['PollBacklog', /^PollQueue[0-9A-F]{8}$/],
      ['PushBacklog', /^PushQueue[0-9A-F]{8}$/],
    ] as const) {
      const a = alarm(template, name);
      expect(a).toMatchObject({ MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 900 });
      // The work queue itself (CDK names it after its construct), not its dead-letter queue.
      expect(a.Dimensions).toEqual([
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [expect.stringMatching(queue), 'QueueName'] } },
      ]);
    }
  });

  it('watches our own metrics (alarms and dashboard) under the namespace and service dimension the functions publish them with', () => {
    const source = publishingSource();
    const ours = Object.values(alarms(template)).filter((a) => a.Namespace === METRIC_NAMESPACE);
    expect(ours.map((a) => a.MetricName).sort()).toEqual(
      [
        METRIC.merchantsQueued,
        METRIC.merchantUnusable,
        METRIC.productRejected,
        METRIC.labelRemovalRefused,
        METRIC.merchantsNeedingReauth,
        METRIC.refreshTokensExpiringSoon,
        METRIC.merchantsLastSyncFailed,
        METRIC.merchantsAppUninstalled,
        METRIC.merchantsPushFailing,
        METRIC.merchantsPending,
        METRIC.storesJoinedAttention,
        METRIC.messagesDeadLettered,
        METRIC.tokenRefresherRun,
        METRIC.tokenBackupRefreshFailed,
        METRIC.webhookRequestsRefused,
        METRIC.connectNotConfigured,
        METRIC.webPagesFailed,
        METRIC.pollLoadPercent,
        METRIC.lastPollAgeP95,
      ].sort(),
    );
    for (const a of ours) expect(a.Dimensions).toEqual([{ Name: 'service', Value: SERVICE_NAME }]);
    // The dashboard's graphs of our metrics watch the same way.
    const shown = dashboardOf(template)
      .widgets.flatMap(metricLines)
      .filter(([namespace]) => namespace === METRIC_NAMESPACE);
    expect(shown.length).toBeGreaterThan(15);
    for (const [, , dimension, service] of shown)
      expect([dimension, service]).toEqual(['service', SERVICE_NAME]);
    for (const name of [...ours.map((a) => a.MetricName), ...shown.map((line) => line[1])]) {
      const key = Object.entries(METRIC).find(([, metric]) => metric === name)?.[0];
      // A name from the shared list that some handler really publishes, or the alarm or graph would wait forever.
      expect(key, name).toBeDefined();
      expect(source, name).toContain(`METRIC.${key}`);
    }
  });

  it('alarms on a quarter hour of DynamoDB throttling on either table, no data counting as none', () => {
    const a = alarm(template, 'TablesThrottled') as AlarmProps & {
      Metrics: Array<{ Id: string; Expression?: string; MetricStat?: { Metric: AlarmProps; Stat: string } }>;
    };
    expect(a).toMatchObject({ Threshold: 1, EvaluationPeriods: 3, TreatMissingData: 'notBreaching' });
    const [expression, ...inputs] = [...a.Metrics].sort((x, y) => +!x.Expression - +!y.Expression);
    expect(expression?.Expression).toBe('SUM(FILL(METRICS(), 0))');
    const watched = inputs.map((m) => {
      const table = m.MetricStat?.Metric.Dimensions.find((d) => d.Name === 'TableName')?.Value;
      return `${m.MetricStat?.Metric.MetricName} ${JSON.stringify(table)} ${m.MetricStat?.Stat}`;
    });
    const tables = Object.keys(template.findResources('AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(2);
    expect(watched.sort()).toEqual(
      tables
        .flatMap((t) =>
          ['ReadThrottleEvents', 'WriteThrottleEvents'].map((n) => `${n} ${JSON.stringify({ Ref: t })} Sum`),
        )
        .sort(),
    );
  });

  it('treats a silent schedule as an alarm: no fan-out for 3 intervals, no refresher run for 2', () => {
    expect(alarm(template, 'PollsNotScheduled')).toMatchObject({
      Period: 120,
      EvaluationPeriods: 3,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
    });
    expect(alarm(template, 'TokenRefresherMissed')).toMatchObject({
      Period: 600,
      EvaluationPeriods: 2,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    // A gauge nobody publishes (e.g. no merchant yet) is not a problem.
    expect(alarm(template, 'MerchantsNeedReauth').TreatMissingData).toBe('notBreaching');
    // Periods follow the configured schedules, within CloudWatch's one-day evaluation limit.
    const custom = synth({ pollIntervalSeconds: 600, tokenRefreshIntervalMinutes: 1440 });
    expect(alarm(custom, 'PollsNotScheduled')).toMatchObject({ Period: 600, EvaluationPeriods: 3 });
    // Stale shelves: twice the longest interval a store is polled at (the 15-minute safety
    // interval by default, the poll interval when that is longer).
    expect(alarm(template, 'ShelvesStale')).toMatchObject({ Threshold: 1800, EvaluationPeriods: 3 });
    expect(alarm(synth({ pollIntervalSeconds: 1800 }), 'ShelvesStale').Threshold).toBe(3600);
    expect(alarm(custom, 'TokenRefresherMissed')).toMatchObject({ Period: 86_400, EvaluationPeriods: 1 });
  });

  it('alarms on a burst of webhook requests refused for their auth code, saying where the code goes', () => {
    const a = alarm(template, 'WebhookAuthRefused');
    expect(a).toMatchObject({
      MetricName: METRIC.webhookRequestsRefused,
      Namespace: METRIC_NAMESPACE,
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 10,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(a.AlarmDescription).toMatch(/cloverWebhookAuthCode/);
    expect(a.AlarmDescription).toMatch(/X-Clover-Auth/);
  });

  it('says when the fleet has outgrown the poll interval: the fan-out’s load at 100% for 15 minutes', () => {
    expect(alarm(template, 'FleetOutgrowsInterval')).toMatchObject({
      MetricName: METRIC.pollLoadPercent,
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 3,
      Threshold: 100,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(alarm(template, 'FleetOutgrowsInterval').AlarmDescription).toMatch(
      /pollIntervalSeconds.*webhooks/,
    );
  });

  it('alarms on crashes of the functions that run unattended, not of the hand-run backfill', () => {
    const crashes = Object.keys(alarms(template))
      .filter((n) => n.endsWith('Errors'))
      .sort();
    // The web function's timeouts (Clover waits past its 29 s) show as no page of ours: only here.
    expect(crashes).toEqual([
      'FanOutErrors',
      'PollerErrors',
      'PushConsumerErrors',
      'TokenRefresherErrors',
      'WebErrors',
    ]);
  });

  it('subscribes the alert email when one is given, and rejects one that is not an address', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    synth({ alertEmail: 'ops@store.example' }).hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@store.example',
    });
    expect(() => synth({ alertEmail: 'ops at store' })).toThrow(/alertEmail must be an email address/);
  });
});
