import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { EslSyncStack } from '../../lib/esl-sync-stack.ts';
import { SAVED_QUERIES } from '../../lib/ops-dashboard.ts';
import { METRIC, METRIC_NAMESPACE, SERVICE_NAME } from '../../src/metric-names.ts';
import { type DashboardWidget, dashboardOf, metricLines, testApp } from './support.ts';

const FUNCTIONS = ['FanOut', 'Poller', 'PushConsumer', 'Backfill', 'TokenRefresher', 'Web'];
/** Where each function's resources sit in the template (the web function lives in the Connect construct). */
const idOf = (name: string) => (name === 'Web' ? 'ConnectWeb' : name);

function synth() {
  const app = testApp();
  const stack = new EslSyncStack(app, 'EslSync', {
    hipoinkBaseUrl: 'https://esl.fuel-stop.net',
    productCodePrecedence: 'code,sku,id',
  });
  return Template.fromStack(stack);
}

const widget = (d: { widgets: DashboardWidget[] }, title: string) => {
  const found = d.widgets.find((w) => w.properties.title === title);
  if (!found) throw new Error(`no widget ${title}`);
  return found;
};

describe('operations dashboard', () => {
  let template: Template;
  let dashboard: { widgets: DashboardWidget[] };
  beforeAll(() => {
    template = synth();
    dashboard = dashboardOf(template);
  });

  it('is named after the stage’s stack, and its console URL is an output', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'EslSync' });
    const url = JSON.stringify(template.toJSON().Outputs.DashboardUrl.Value);
    expect(url).toContain('.console.aws.amazon.com/cloudwatch/home?region=');
    expect(url).toContain('#dashboards:name=EslSync');
  });

  it('shows freshness, polls, labels, Clover, token refreshes and webhook notices from the functions’ own metrics', () => {
    const ours = (title: string) =>
      metricLines(widget(dashboard, title)).map(([namespace, name, dim, service]) => {
        expect([namespace, dim, service]).toEqual([METRIC_NAMESPACE, 'service', SERVICE_NAME]);
        return name;
      });
    expect(ours('Age of the last successful poll (seconds)')).toEqual([
      METRIC.lastPollAgeMax,
      METRIC.lastPollAgeP95,
    ]);
    expect(ours('Polls')).toEqual(
      expect.arrayContaining([METRIC.merchantsQueued, METRIC.itemsChanged, METRIC.merchantSkipped]),
    );
    expect(ours('Items changed in Clover')).toContain(METRIC.itemsChanged);
    expect(ours('Labels pushed and refused')).toEqual([
      METRIC.labelsUpserted,
      METRIC.labelsRemoved,
      METRIC.productRejected,
      METRIC.labelRemovalRefused,
    ]);
    expect(ours('Clover 429 answers')).toEqual([METRIC.cloverRateLimited]);
    expect(ours('Token refreshes')).toEqual(
      expect.arrayContaining([METRIC.tokenRefresh, METRIC.tokenRecovered, METRIC.tokenBackupRefreshFailed]),
    );
    expect(ours('Stores needing someone')).toContain(METRIC.merchantsNeedingReauth);
    // Clover's webhook notices: accepted and ignored, and the requests refused.
    expect(ours('Notices')).toEqual([METRIC.webhookNoticesAccepted, METRIC.webhookNoticesIgnored]);
    expect(ours('Requests refused')).toEqual([METRIC.webhookRequestsRefused, METRIC.webhookRequestsInvalid]);
    expect(dashboard.widgets.some((w) => w.properties.markdown?.includes('Clover webhook notices'))).toBe(
      true,
    );
  });

  it('shows queue age and depth, dead letters, and every function’s errors and durations', () => {
    const names = (title: string) => metricLines(widget(dashboard, title)).map((l) => `${l[0]} ${l[1]}`);
    expect(names('Oldest message (seconds)')).toEqual(Array(2).fill('AWS/SQS ApproximateAgeOfOldestMessage'));
    expect(names('Messages waiting and in flight')).toEqual([
      'AWS/SQS ApproximateNumberOfMessagesVisible',
      'AWS/SQS ApproximateNumberOfMessagesNotVisible',
      'AWS/SQS ApproximateNumberOfMessagesVisible',
      'AWS/SQS ApproximateNumberOfMessagesNotVisible',
    ]);
    const deadLetters = JSON.stringify(widget(dashboard, 'Dead letters').properties.metrics);
    expect(deadLetters).toContain('PollQueueDeadLetters');
    expect(deadLetters).toContain('PushQueueDeadLetters');
    for (const title of ['Function errors', 'Function duration p95 (ms)', 'Function duration max (ms)']) {
      const lines = widget(dashboard, title).properties.metrics ?? [];
      expect(lines, title).toHaveLength(FUNCTIONS.length);
      for (const fn of FUNCTIONS)
        expect(JSON.stringify(lines), `${title}: ${fn}`).toContain(`'Ref':'${idOf(fn)}Function`);
    }
  });

  it('shows the state of every alarm', () => {
    const alarms = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    const shown = widget(dashboard, 'Alarms').properties.alarms ?? [];
    expect(shown).toHaveLength(alarms.length);
    for (const id of alarms) expect(shown.join(' ')).toContain(`'${id}'`);
  });

  it('outputs every function’s name and log group', () => {
    const outputs = template.toJSON().Outputs;
    const fns = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(fns)).toHaveLength(FUNCTIONS.length);
    for (const name of FUNCTIONS) {
      const [id, fn] = Object.entries(fns).find(([id]) => id.startsWith(`${idOf(name)}Function`)) ?? [];
      expect(outputs[`${name}FunctionName`].Value).toEqual({ Ref: id });
      // The output names the very log group the function writes to.
      expect(outputs[`${name}LogGroupName`].Value).toEqual(fn?.Properties.LoggingConfig.LogGroup);
    }
    // Read from the functions' own log groups, not through CDK's log-retention custom resource.
    expect(Object.keys(template.findResources('Custom::LogRetention'))).toEqual([]);
  });

  it('saves the Logs Insights queries over every function’s logs', () => {
    const queries = Object.values(template.findResources('AWS::Logs::QueryDefinition')).map(
      (q) => q.Properties as { Name: string; QueryString: string; LogGroupNames: unknown[] },
    );
    expect(queries.map((q) => q.Name).sort()).toEqual(
      ['EslSync/Clover token refresh outcomes', 'EslSync/Recent errors of one store'].sort(),
    );
    const logGroups = FUNCTIONS.map((name) => ({
      Ref: expect.stringMatching(new RegExp(`^${idOf(name)}Logs`)),
    }));
    for (const q of queries) expect(q.LogGroupNames).toEqual(logGroups);
    const storeErrors = queries.find((q) => q.Name.endsWith('one store'));
    expect(storeErrors?.QueryString).toMatch(
      /filter level in \["ERROR", "WARN"\] and @message like "MERCHANT_ID"/,
    );
  });

  it('finds every token refresh line the functions log with the refresh-outcomes query', () => {
    const root = join(import.meta.dirname, '..', '..');
    const sources = [
      ...readdirSync(join(root, 'functions')).map((d) => join(root, 'functions', d, 'handler.ts')),
      join(root, 'src', 'deps.ts'),
    ].map((f) => readFileSync(f, 'utf8'));
    const messages = sources.flatMap((s) =>
      [...s.matchAll(/logger\.(?:info|warn|error)\(\s*'([^']*)'/g)].map((m) => m[1] ?? ''),
    );
    const refreshLines = messages.filter((m) => /token/i.test(m));
    expect(refreshLines.length).toBeGreaterThanOrEqual(5);
    const pattern = /message like \/([^/]+)\//.exec(SAVED_QUERIES.refreshOutcomes.query)?.[1];
    for (const line of refreshLines) expect(line).toMatch(new RegExp(pattern ?? '^$'));
  });
});
