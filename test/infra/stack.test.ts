import { readFileSync } from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { cloverApiBaseUrl, EslSyncStack, type EslSyncStackProps } from '../../lib/esl-sync-stack.ts';
import { ENV } from '../../src/env.ts';

/** Template tests skip bundling (fast); test/infra/bundling.test.ts proves bundling works. */
function synth(props: Partial<EslSyncStackProps> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new EslSyncStack(app, 'EslSync', { hipoinkBaseUrl: 'https://hipoink.test', ...props });
  return { app, stack, template: Template.fromStack(stack) };
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
function actionsOf(template: Template, functionIdPrefix: string): string[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const entry = Object.entries(policies).find(([id]) =>
    id.startsWith(`${functionIdPrefix}FunctionServiceRole`),
  );
  if (!entry) throw new Error(`no policy for ${functionIdPrefix}`);
  const statements = entry[1].Properties.PolicyDocument.Statement as Statement[];
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}
function statementsOf(template: Template, functionIdPrefix: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const entry = Object.entries(policies).find(([id]) =>
    id.startsWith(`${functionIdPrefix}FunctionServiceRole`),
  );
  return (entry?.[1].Properties.PolicyDocument.Statement ?? []) as Statement[];
}
const refersTo = (resource: unknown, logicalIdPrefix: string) =>
  JSON.stringify(resource).includes(logicalIdPrefix);

describe('EslSync stack', () => {
  let template: Template;
  beforeAll(() => {
    template = synth().template;
  });

  it('keeps merchants and products in two PITR tables encrypted with one rotating customer key', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 2);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        KeySchema: [{ AttributeName: 'merchantId', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
      },
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'merchantId', KeyType: 'HASH' },
        { AttributeName: 'itemId', KeyType: 'RANGE' },
      ],
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
    });
  });

  it('has FIFO poll and push queues, each with a FIFO DLQ and its redrive limit, SSL enforced', () => {
    const queues = template.findResources('AWS::SQS::Queue');
    expect(Object.keys(queues)).toHaveLength(4);
    for (const q of Object.values(queues)) expect(q.Properties.FifoQueue).toBe(true);
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 1080,
      RedrivePolicy: { maxReceiveCount: 3, deadLetterTargetArn: Match.anyValue() },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 720,
      RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: Match.anyValue() },
    });
    const policies = template.findResources('AWS::SQS::QueuePolicy');
    expect(Object.keys(policies)).toHaveLength(4);
    for (const p of Object.values(policies)) {
      expect(JSON.stringify(p.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it('runs five functions on Node.js 24 with the handlers’ environment', () => {
    const fns = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(fns)).toHaveLength(5);
    for (const fn of Object.values(fns)) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      const vars = Object.keys(fn.Properties.Environment.Variables);
      for (const name of Object.values(ENV)) expect(vars).toContain(name);
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 180,
      Environment: {
        Variables: Match.objectLike({ CLOVER_API_BASE_URL: 'https://apisandbox.dev.clover.com' }),
      },
    });
  });

  it('feeds the poller and the consumer from their queues with partial batch failures and bounded concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    const custom = synth({ pollerMaxConcurrency: 8 }).template;
    custom.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 8 },
    });
  });

  it('schedules the fan-out at the poll interval', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(2 minutes)',
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FanOutFunction'), 'Arn'] } }),
      ],
    });
    synth({ pollIntervalSeconds: 60 }).template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(10 minutes)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TokenRefresherFunction'), 'Arn'] },
        }),
      ],
    });
    expect(() => synth({ pollIntervalSeconds: 90 })).toThrow(/whole number of minutes/);
    expect(() => synth({ pollerMaxConcurrency: 11 })).toThrow(/between 2 and 10/);
  });

  it('grants each function only what its code uses', () => {
    const fanOut = actionsOf(template, 'FanOut');
    expect(fanOut).toContain('dynamodb:Scan');
    expect(fanOut).toContain('sqs:SendMessage');
    expect(fanOut).not.toContain('dynamodb:PutItem');
    expect(fanOut).not.toContain('dynamodb:UpdateItem');
    expect(fanOut).not.toContain('secretsmanager:GetSecretValue');

    const backfill = actionsOf(template, 'Backfill');
    expect(backfill).not.toContain('dynamodb:UpdateItem');
    expect(backfill).not.toContain('secretsmanager:GetSecretValue');

    const consumer = statementsOf(template, 'PushConsumer');
    const consumerSends = consumer.filter((s) => JSON.stringify(s.Action).includes('sqs:SendMessage'));
    // The consumer sends only to its own dead-letter queue, never to the poll queue.
    expect(consumerSends).toHaveLength(1);
    expect(refersTo(consumerSends[0]?.Resource, 'PushQueueDeadLetters')).toBe(true);
    const consumerWrites = consumer.filter((s) => JSON.stringify(s.Action).includes('dynamodb:UpdateItem'));
    expect(consumerWrites.every((s) => refersTo(s.Resource, 'SyncStateProducts'))).toBe(true);

    const refresher = statementsOf(template, 'TokenRefresher');
    expect(refresher.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))).not.toContain(
      'sqs:SendMessage',
    );
    const refresherWrites = refresher.filter((s) => JSON.stringify(s.Action).includes('dynamodb:UpdateItem'));
    expect(refresherWrites.every((s) => refersTo(s.Resource, 'SyncStateMerchants'))).toBe(true);

    const poller = actionsOf(template, 'Poller');
    expect(poller).toContain('dynamodb:UpdateItem');
    expect(poller).toContain('secretsmanager:GetSecretValue');
  });

  it('exports what the CLI reads', () => {
    const outputs = Object.keys(template.toJSON().Outputs);
    for (const key of [
      'MerchantsTableName',
      'ProductsTableName',
      'PollQueueUrl',
      'PushQueueUrl',
      'PollDlqUrl',
      'PushDlqUrl',
      'FanOutFunctionName',
      'BackfillFunctionName',
      'AppSecretArn',
    ]) {
      expect(outputs).toContain(key);
    }
  });

  it('maps Clover environments and regions to the documented hosts', () => {
    expect(cloverApiBaseUrl('sandbox', 'eu')).toBe('https://apisandbox.dev.clover.com');
    expect(cloverApiBaseUrl('production', 'na')).toBe('https://api.clover.com');
    expect(cloverApiBaseUrl('production', 'eu')).toBe('https://api.eu.clover.com');
    expect(cloverApiBaseUrl('production', 'la')).toBe('https://api.la.clover.com');
    synth({ cloverEnvironment: 'production', cloverRegion: 'eu' }).template.hasResourceProperties(
      'AWS::Lambda::Function',
      { Environment: { Variables: Match.objectLike({ CLOVER_API_BASE_URL: 'https://api.eu.clover.com' }) } },
    );
  });

  it('keeps the app secret encrypted with our key and out of the template', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      KmsKeyId: Match.anyValue(),
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'hipoinkSign' }),
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('80805d794841f1b4');
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('passes with every acknowledgement justified', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    new EslSyncStack(app, 'EslSync', { hipoinkBaseUrl: 'https://hipoink.test' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // Synthesis throws when a validation plugin reports an unacknowledged violation.
    const assembly = app.synth();
    const json = JSON.parse(readFileSync(`${assembly.directory}/validation-report.json`, 'utf8')) as {
      pluginReports?: Array<Record<string, unknown>>;
    };
    for (const plugin of json.pluginReports ?? []) {
      expect(plugin.conclusion).toBe('success');
      expect(plugin.violations).toEqual([]);
      for (const s of (plugin.suppressedViolations ?? []) as Array<{ reason?: string }>) {
        expect(s.reason?.length ?? 0).toBeGreaterThan(30);
      }
    }
    expect((json.pluginReports ?? []).length).toBe(1);
  });
});
