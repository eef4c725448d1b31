import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CloverEnvironment,
  type CloverRegion,
  cloverApiBaseUrl,
  cloverOauthBaseUrl,
  EslSyncStack,
  type EslSyncStackProps,
} from '../../lib/esl-sync-stack.ts';
import { CLI_STACK_OUTPUTS } from '../../src/cli/target.ts';
import { ENV, WEB_ENV } from '../../src/env.ts';
import { POLLER, PUSH_CONSUMER } from '../../src/function-settings.ts';
import { OWN_RECORDS, TABLE_ACCESS } from '../../src/grants.ts';
import { ATTENTION_KEY } from '../../src/store/attention.ts';
import { MERCHANTS_TABLE_TTL_ATTRIBUTE } from '../../src/store/tables.ts';
import { testApp } from './support.ts';

/** Template tests skip bundling (fast); test/infra/bundling.test.ts proves bundling works. */
function synth(props: Partial<EslSyncStackProps> = {}) {
  const app = testApp();
  const stack = new EslSyncStack(app, 'EslSync', {
    hipoinkBaseUrl: 'https://hipoink.test',
    productCodePrecedence: 'code,sku,id',
    ...props,
  });
  return { app, stack, template: Template.fromStack(stack) };
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };
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
/** The web function is built under the Connect construct; the five others are the sync functions. */
const WEB_FUNCTION = 'ConnectWeb';
type Resources = ReturnType<Template['findResources']>;
const syncFunctions = (t: Template): Resources =>
  Object.fromEntries(
    Object.entries(t.findResources('AWS::Lambda::Function')).filter(([id]) => !id.startsWith(WEB_FUNCTION)),
  );

describe('EslSync stack', () => {
  let template: Template;
  beforeAll(() => {
    template = synth().template;
  });

  it('keeps merchants and products in two PITR tables encrypted with one rotating customer key', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 2);
    const keys = template.findResources('AWS::KMS::Key');
    // The state key, and the alert topic's own key (CloudWatch may use that one, never the state key).
    expect(Object.keys(keys).sort()).toEqual([
      expect.stringMatching(/^OperatorAlarmsTopicKey/),
      expect.stringMatching(/^SyncStateStateKey/),
    ]);
    for (const k of Object.values(keys)) expect(k.Properties.EnableKeyRotation).toBe(true);
    for (const table of Object.values(template.findResources('AWS::DynamoDB::Table')))
      expect(JSON.stringify(table.Properties.SSESpecification.KMSMasterKeyId)).toContain('SyncStateStateKey');
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
      RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: Match.anyValue() },
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

  it('runs six functions on Node.js 24, the five sync functions with the handlers’ environment', () => {
    const all = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(all)).toHaveLength(6);
    for (const fn of Object.values(all)) expect(fn.Properties.Runtime).toBe('nodejs24.x');
    const fns = syncFunctions(template);
    expect(Object.keys(fns)).toHaveLength(5);
    for (const fn of Object.values(fns)) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      // Tracing is off on purpose (lib/sync-function.ts says why): no X-Ray config, no X-Ray grant.
      expect(fn.Properties.TracingConfig).toBeUndefined();
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
    // The numbers the local stack's pumps use too (src/function-settings.ts).
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: POLLER.feed.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: POLLER.feed.maxConcurrency },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: PUSH_CONSUMER.feed.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: PUSH_CONSUMER.feed.maxConcurrency },
    });
    const custom = synth({ pollerMaxConcurrency: 8 }).template;
    custom.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: POLLER.feed.batchSize,
      ScalingConfig: { MaximumConcurrency: 8 },
    });
  });

  it('runs the fan-out every minute, more often than the poll interval, telling it both intervals', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FanOutFunction'), 'Arn'] } }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POLL_INTERVAL_SECONDS: '120',
          SAFETY_POLL_INTERVAL_MINUTES: '15',
          FAN_OUT_PERIOD_SECONDS: '60',
        }),
      },
    });
    synth({ pollIntervalSeconds: 600, safetyPollIntervalMinutes: 30 }).template.hasResourceProperties(
      'AWS::Lambda::Function',
      {
        Environment: {
          Variables: Match.objectLike({ POLL_INTERVAL_SECONDS: '600', SAFETY_POLL_INTERVAL_MINUTES: '30' }),
        },
      },
    );
    expect(() => synth({ safetyPollIntervalMinutes: 0 })).toThrow(/safetyPollIntervalMinutes/);
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
    // Its one put is its own record's (below): never a merchant's.
    const fanOutPuts = statementsOf(template, 'FanOut').filter((s) =>
      JSON.stringify(s.Action).includes('dynamodb:PutItem'),
    );
    expect(fanOutPuts.map((s) => s.Condition)).toEqual([
      { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [ATTENTION_KEY] } },
    ]);
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
    // It writes the shelf, and the store's shelf counts on its merchant record: nothing else.
    expect(
      consumerWrites.every(
        (s) => refersTo(s.Resource, 'SyncStateProducts') || refersTo(s.Resource, 'SyncStateMerchants'),
      ),
    ).toBe(true);

    const refresher = statementsOf(template, 'TokenRefresher');
    expect(refresher.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))).not.toContain(
      'sqs:SendMessage',
    );
    const refresherWrites = refresher.filter((s) => JSON.stringify(s.Action).includes('dynamodb:UpdateItem'));
    expect(refresherWrites.every((s) => refersTo(s.Resource, 'SyncStateMerchants'))).toBe(true);

    const poller = actionsOf(template, 'Poller');
    expect(poller).toContain('dynamodb:UpdateItem');
    expect(poller).toContain('secretsmanager:GetSecretValue');
    // The poller sends pushes, and its own dead letters: never another poll.
    const pollerSends = JSON.stringify(
      statementsOf(template, 'Poller')
        .filter((s) => JSON.stringify(s.Action).includes('sqs:SendMessage'))
        .map((s) => s.Resource),
    );
    expect(pollerSends).toContain('PushQueue');
    expect(pollerSends).toContain('PollQueueDeadLetters');
    expect(pollerSends.replaceAll('PollQueueDeadLetters', '')).not.toContain('PollQueue');

    // Failed messages are brought back early: visibility changes on each function's own queue only.
    for (const [fn, queue] of [
      ['Poller', 'PollQueue'],
      ['PushConsumer', 'PushQueue'],
    ] as const) {
      const visibility = statementsOf(template, fn).filter((s) =>
        JSON.stringify(s.Action).includes('sqs:ChangeMessageVisibility'),
      );
      expect(visibility.length, fn).toBeGreaterThan(0);
      expect(visibility.every((s) => refersTo(s.Resource, queue))).toBe(true);
    }
  });

  it('lets each function write log streams of its own log group only, with no managed policy', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(6);
    for (const [id, fn] of Object.entries(functions)) {
      const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
      // The basic execution policy would let it create and write any log group in the account.
      expect(
        template.findResources('AWS::IAM::Role')[roleId]?.Properties.ManagedPolicyArns,
        id,
      ).toBeUndefined();
      const prefix = roleId.replace(/FunctionServiceRole[0-9A-F]{8}$/, '');
      const logs = statementsOf(template, prefix).filter((s) =>
        (Array.isArray(s.Action) ? s.Action : [s.Action]).some((a) => a.startsWith('logs:')),
      );
      expect(logs, id).toEqual([
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [fn.Properties.LoggingConfig.LogGroup.Ref, 'Arn'] },
        },
      ]);
    }
  });

  it('gives each function only the table calls its code path makes', () => {
    const onIndex = (s: Statement) => JSON.stringify(s.Resource).includes('/index/');
    const tableActions = (fn: string, table: 'SyncStateMerchants' | 'SyncStateProducts') =>
      statementsOf(template, fn)
        .filter((s) => refersTo(s.Resource, table) && !onIndex(s) && s.Condition === undefined)
        .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
        .filter((a) => a.startsWith('dynamodb:'))
        .sort();
    // Exactly the calls TABLE_ACCESS lists; that they suffice, the local stack checks on every
    // handler's table call (local/aws/iam.ts) in the integration tests.
    const byConstruct = {
      FanOut: TABLE_ACCESS.fanOut,
      Poller: TABLE_ACCESS.poller,
      PushConsumer: TABLE_ACCESS.pushConsumer,
      Backfill: TABLE_ACCESS.backfill,
      TokenRefresher: TABLE_ACCESS.tokenRefresher,
      [WEB_FUNCTION]: TABLE_ACCESS.web,
    };
    const expected = Object.fromEntries(
      Object.entries(byConstruct).map(([fn, access]) => [
        fn,
        { SyncStateMerchants: [...access.merchants].sort(), SyncStateProducts: [...access.products].sort() },
      ]),
    );
    // The tables have no index, and nobody is granted one.
    for (const fn of Object.keys(expected))
      expect(statementsOf(template, fn).filter(onIndex), fn).toEqual([]);
    // A buggy or compromised poller cannot delete a store's tokens (forcing a re-authorization).
    expect(tableActions('Poller', 'SyncStateMerchants')).not.toContain('dynamodb:DeleteItem');
    for (const [fn, tables] of Object.entries(expected)) {
      for (const [table, actions] of Object.entries(tables) as Array<[keyof typeof tables, string[]]>) {
        expect(tableActions(fn, table), `${fn} on ${table}`).toEqual(actions.map((a) => `dynamodb:${a}`));
      }
    }
    // Calls on a function's own record come with that record's key as the only one allowed.
    const ownRecords = { FanOut: OWN_RECORDS.fanOut, TokenRefresher: OWN_RECORDS.tokenRefresher };
    for (const fn of Object.keys(expected)) {
      const own = ownRecords[fn as keyof typeof ownRecords];
      const keyed = statementsOf(template, fn).filter((s) => s.Condition !== undefined);
      expect(
        keyed.map((s) => ({
          on: refersTo(s.Resource, 'SyncStateMerchants'),
          actions: s.Action,
          if: s.Condition,
        })),
        fn,
      ).toEqual(
        own
          ? [
              {
                on: true,
                actions:
                  own.actions.length === 1
                    ? `dynamodb:${own.actions[0]}`
                    : own.actions.map((a) => `dynamodb:${a}`),
                if: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [own.key] } },
              },
            ]
          : [],
      );
    }
    // No table has a stream, so nobody reads one.
    const all = Object.keys(expected).flatMap((fn) => actionsOf(template, fn));
    expect(all.filter((a) => /GetRecords|GetShardIterator|BatchWriteItem|DescribeTable/.test(a))).toEqual([]);
  });

  it('keeps wildcards where the acknowledgements say: KMS actions on our key, and no Resource * at all', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Statement[],
    );
    const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
    const kms = statements.filter((s) => actions(s).some((a) => a.startsWith('kms:')));
    // Only the five table writers (poller, consumer, refresher, web, and the fan-out's own record)
    // get the wildcards.
    expect(kms.filter((s) => actions(s).includes('kms:GenerateDataKey*'))).toHaveLength(5);
    for (const s of kms) {
      expect(s.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^SyncStateStateKey/), 'Arn'] });
    }
    expect(statements.filter((s) => JSON.stringify(s.Resource).includes('*'))).toEqual([]);
    expect(statements.flatMap(actions).filter((a) => a.startsWith('xray:'))).toEqual([]);
  });

  it('tells the token refresher its real schedule and buffer, and rejects values the handlers would', () => {
    const vars = (t: Template) =>
      Object.values(syncFunctions(t)).map((f) => f.Properties.Environment.Variables);
    for (const v of vars(template)) {
      expect(v.TOKEN_REFRESH_INTERVAL_MINUTES).toBe('10');
      expect(v.TOKEN_REFRESH_BUFFER_MINUTES).toBe('5');
    }
    const custom = synth({ tokenRefreshIntervalMinutes: 30, tokenRefreshBufferMinutes: 2 }).template;
    custom.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(30 minutes)' });
    for (const v of vars(custom)) {
      expect(v.TOKEN_REFRESH_INTERVAL_MINUTES).toBe('30');
      expect(v.TOKEN_REFRESH_BUFFER_MINUTES).toBe('2');
    }
    expect(() => synth({ tokenRefreshIntervalMinutes: 0 })).toThrow(/tokenRefreshIntervalMinutes: /);
    expect(() => synth({ tokenRefreshIntervalMinutes: 1441 })).toThrow(/tokenRefreshIntervalMinutes: /);
    expect(() => synth({ tokenRefreshBufferMinutes: 0.5 })).toThrow(/tokenRefreshBufferMinutes: /);
  });

  it('checks the tuning context values with the handlers’ rules, naming the key', () => {
    const vars = (t: Template) =>
      Object.values(syncFunctions(t)).map((f) => f.Properties.Environment.Variables);
    for (const v of vars(template)) {
      expect(v).toMatchObject({
        [ENV.cloverRequestsPerSecond]: '50',
        [ENV.hipoinkChunkSize]: '200',
        [ENV.tokenRefreshThresholdMinutes]: '15',
        [ENV.tokenMaxAgeMinutes]: '60',
        [ENV.productCodePrecedence]: 'code,sku,id',
      });
    }
    const edges = synth({
      cloverRequestsPerSecond: 2,
      hipoinkChunkSize: 1000,
      tokenRefreshThresholdMinutes: 120,
      tokenMaxAgeMinutes: 1,
      productCodePrecedence: 'code,sku',
    }).template;
    for (const v of vars(edges)) {
      expect(v).toMatchObject({
        [ENV.cloverRequestsPerSecond]: '2',
        [ENV.hipoinkChunkSize]: '1000',
        [ENV.tokenRefreshThresholdMinutes]: '120',
        [ENV.tokenMaxAgeMinutes]: '1',
        [ENV.productCodePrecedence]: 'code,sku',
      });
    }
    const refused: Array<[Partial<EslSyncStackProps>, RegExp]> = [
      [{ cloverRequestsPerSecond: 100 }, /cloverRequestsPerSecond: .*<=50 \(got 100\)/],
      [{ cloverRequestsPerSecond: 1 }, /cloverRequestsPerSecond: /],
      // bin/app.ts turns `-c hipoinkChunkSize=abc` into NaN.
      [{ hipoinkChunkSize: Number.NaN }, /hipoinkChunkSize: /],
      [{ hipoinkChunkSize: 1001 }, /hipoinkChunkSize: /],
      [{ tokenRefreshThresholdMinutes: 0 }, /tokenRefreshThresholdMinutes: /],
      [{ tokenRefreshThresholdMinutes: 121 }, /tokenRefreshThresholdMinutes: /],
      [{ tokenMaxAgeMinutes: 1.5 }, /tokenMaxAgeMinutes: /],
      [{ tokenMaxAgeMinutes: 0 }, /tokenMaxAgeMinutes: /],
      [{ productCodePrecedence: 'upc' }, /productCodePrecedence: must list some of sku, code, id/],
      [{ productCodePrecedence: 'sku,upc' }, /productCodePrecedence: /],
      // No default: a stage deployed with one order must keep it, or every label moves code.
      [
        { productCodePrecedence: undefined },
        /productCodePrecedence: required: .*Keep the order a deployed stage already uses: one deployed without this setting used "sku,code,id"/,
      ],
    ];
    for (const [props, message] of refused) expect(() => synth(props)).toThrow(message);
  });

  it('exports every output the CLI reads, and the secrets and alert topic operators set up', () => {
    const outputs = Object.keys(template.toJSON().Outputs);
    expect(CLI_STACK_OUTPUTS.length).toBeGreaterThan(10);
    for (const key of [...CLI_STACK_OUTPUTS, 'AppSecretArn', 'HipoinkSecretArn', 'AlertTopicArn'])
      expect(outputs).toContain(key);
  });

  it('maps Clover environments and regions to the documented hosts', () => {
    expect(cloverApiBaseUrl('sandbox', 'eu')).toBe('https://apisandbox.dev.clover.com');
    expect(cloverApiBaseUrl('production', 'na')).toBe('https://api.clover.com');
    expect(cloverApiBaseUrl('production', 'eu')).toBe('https://api.eu.clover.com');
    expect(cloverApiBaseUrl('production', 'la')).toBe('https://api.la.clover.com');
    // Context values are untyped strings: a typo fails the synth instead of deploying a blank host.
    expect(() => cloverApiBaseUrl('production', 'us' as CloverRegion)).toThrow(/cloverRegion must be one of/);
    expect(() => cloverApiBaseUrl('prod' as CloverEnvironment, 'na')).toThrow(/cloverEnvironment must be/);
    for (const hipoinkBaseUrl of ['hipoink.example.com', 'ftp://hipoink.example.com', 'https://']) {
      expect(() => synth({ hipoinkBaseUrl })).toThrow(/hipoinkBaseUrl: must be an http\(s\) URL/);
    }
    synth({ cloverEnvironment: 'production', cloverRegion: 'eu' }).template.hasResourceProperties(
      'AWS::Lambda::Function',
      { Environment: { Variables: Match.objectLike({ CLOVER_API_BASE_URL: 'https://api.eu.clover.com' }) } },
    );
  });

  it('keeps the app secret and the Hipoink secret encrypted with our key and out of the template', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      // Where an operator changes it, the description says how long functions keep the old value.
      Description: Match.stringLikeRegexp('Clover app.*for up to 5 minutes'),
      KmsKeyId: Match.anyValue(),
      // As first deployed: CloudFormation would generate a new value over the operator's if it changed.
      GenerateSecretString: {
        SecretStringTemplate: '{"cloverAppId":"SET-ME"}',
        GenerateStringKey: 'hipoinkSign',
        ExcludePunctuation: true,
      },
    });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('Hipoink sign.*for up to 5 minutes'),
      KmsKeyId: Match.anyValue(),
      // The placeholder the push consumer refuses; never a real sign.
      SecretString: '{"hipoinkSign":"SET-ME"}',
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('80805d794841f1b4');
  });

  it('lets only the push consumer read the Hipoink sign, and only Clover callers the app secret', () => {
    const secretsRead = (fn: string) =>
      statementsOf(template, fn)
        .filter((s) => JSON.stringify(s.Action).includes('secretsmanager:'))
        .map((s) => JSON.stringify(s.Resource).match(/"(AppSecret|HipoinkSecret)[0-9A-F]{8}"/)?.[1])
        .sort();
    expect(secretsRead('PushConsumer')).toEqual(['HipoinkSecret']);
    expect(secretsRead('Poller')).toEqual(['AppSecret']);
    expect(secretsRead('TokenRefresher')).toEqual(['AppSecret']);
    expect(secretsRead('FanOut')).toEqual([]);
    expect(secretsRead('Backfill')).toEqual([]);
  });
});

describe('connect flow web function', () => {
  let template: Template;
  beforeAll(() => {
    template = synth().template;
  });
  const webFunction = (t: Template) => {
    const entry = Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.startsWith(WEB_FUNCTION),
    );
    if (!entry) throw new Error('no web function');
    return entry[1].Properties;
  };

  it('runs the web handler behind an HTTP API whose default route reaches it for every path', () => {
    const fn = webFunction(template);
    expect(fn.Runtime).toBe('nodejs24.x');
    expect(fn.Timeout).toBeLessThan(30); // API Gateway waits 30 s at most
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [Match.stringLikeRegexp(`^${WEB_FUNCTION}`), 'Arn'] },
    });
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0]?.Properties;
    expect(stage).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
    });
    // Access logs name the path only: a callback's code (in its query string) never reaches them.
    const format = JSON.parse(stage.AccessLogSettings.Format);
    expect(Object.values(format)).toContain('$context.path');
    expect(JSON.stringify(format)).not.toMatch(/query|requestUri|querystring/i);
  });

  it('gives the web function only the connect flow’s and the webhooks’ variables and Clover’s authorize host', () => {
    const vars = webFunction(template).Environment.Variables;
    expect(Object.keys(vars).sort()).toEqual(
      [
        ENV.merchantsTable,
        ENV.pollQueueUrl,
        ENV.appSecretId,
        ENV.cloverApiBaseUrl,
        ENV.cloverRequestsPerSecond,
        WEB_ENV.cloverOauthBaseUrl,
        WEB_ENV.stateKeySecretId,
        'POWERTOOLS_SERVICE_NAME',
        'POWERTOOLS_METRICS_NAMESPACE',
      ].sort(),
    );
    expect(vars[WEB_ENV.cloverOauthBaseUrl]).toBe('https://sandbox.dev.clover.com');
    expect(JSON.stringify(vars[ENV.pollQueueUrl])).toMatch(/PollQueue(?!DeadLetters)/);
    const eu = webFunction(synth({ cloverEnvironment: 'production', cloverRegion: 'eu' }).template);
    expect(eu.Environment.Variables).toMatchObject({
      [WEB_ENV.cloverOauthBaseUrl]: 'https://www.eu.clover.com',
      [ENV.cloverApiBaseUrl]: 'https://api.eu.clover.com',
    });
    expect(cloverOauthBaseUrl('production', 'na')).toBe('https://www.clover.com');
    expect(cloverOauthBaseUrl('production', 'la')).toBe('https://www.la.clover.com');
  });

  it('cannot read products, send anything but polls, or read any secret but its two', () => {
    const statements = statementsOf(template, WEB_FUNCTION);
    expect(statements.some((s) => refersTo(s.Resource, 'SyncStateProducts'))).toBe(false);
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    // Webhook notices queue polls: SendMessage on the poll queue, nothing else of SQS.
    const sends = statements.filter((s) => JSON.stringify(s.Action).includes('sqs:'));
    expect(sends.map((s) => s.Action)).toEqual(['sqs:SendMessage']);
    expect(sends[0]?.Resource).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^PollQueue[0-9A-F]{8}$/), 'Arn'],
    });
    expect(actions).not.toContain('dynamodb:Scan');
    expect(actions).not.toContain('dynamodb:DeleteItem');
    const secretReads = statements
      .filter((s) => JSON.stringify(s.Action).includes('secretsmanager:'))
      .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]));
    expect(secretReads.map((r) => JSON.stringify(r)).sort()).toEqual([
      expect.stringContaining('AppSecret'),
      expect.stringContaining('ConnectStateSigningKey'),
    ]);
  });

  it('routes POST /clover/webhooks to the web function with its own throttle, apart from the connect flow', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'POST /clover/webhooks',
      AuthorizationType: 'NONE',
      Target: Match.anyValue(),
    });
    // Both routes reach the one function through one integration.
    template.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(['$default', 'POST /clover/webhooks']);
    expect(new Set(routes.map((r) => JSON.stringify(r.Properties.Target))).size).toBe(1);
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0]?.Properties;
    expect(stage.RouteSettings).toEqual({
      'POST /clover/webhooks': { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
    });
    expect(stage.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 });
    // The route exists before the stage deploys it.
    expect(webFunction(template).Description).toMatch(/webhooks/i);
  });

  it('names cloverWebhookAuthCode in the app secret an operator fills in', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('"cloverWebhookAuthCode" \\(optional\\)'),
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: '{"cloverAppId":"SET-ME"}' }),
    });
  });

  it('generates the state-signing key at deploy, encrypted with our key, and expires invites by TTL', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SyncStateStateKey'), 'Arn'] },
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'merchantId', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: MERCHANTS_TABLE_TTL_ATTRIBUTE, Enabled: true },
    });
  });

  it('outputs WebUrl: the API’s address, or the custom domain with the execute-api address off', () => {
    const outputs = template.toJSON().Outputs;
    expect(JSON.stringify(outputs.WebUrl.Value)).toContain('ApiEndpoint');
    template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);

    const custom = synth({
      webDomainName: 'connect.example.com',
      webCertificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc',
    }).template;
    expect(custom.toJSON().Outputs.WebUrl.Value).toBe('https://connect.example.com');
    custom.hasResourceProperties('AWS::ApiGatewayV2::DomainName', { DomainName: 'connect.example.com' });
    custom.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    custom.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: true });
    expect(webFunction(custom).Environment.Variables[WEB_ENV.webBaseUrl]).toBe('https://connect.example.com');

    expect(() => synth({ webDomainName: 'connect.example.com' })).toThrow(/give both or neither/);
    expect(() =>
      synth({ webDomainName: 'https://connect.example.com/', webCertificateArn: 'arn:aws:acm:x' }),
    ).toThrow(/webDomainName: must be a host name/);
  });
});

type NagReport = {
  pluginReports: Array<{
    pluginName: string;
    conclusion: string;
    violations: unknown[];
    suppressedViolations: Array<{
      ruleName: string;
      reason: string;
      acknowledgedAt: string;
      violatingConstructs: Array<{ constructPath: string }>;
    }>;
  }>;
};

/** Synthesizes with AwsSolutionsChecks registered the way bin/app.ts does; synth throws on any finding. */
function synthWithNag(addToStack: (stack: EslSyncStack) => void = () => {}) {
  const app = testApp();
  const stack = new EslSyncStack(app, 'EslSync', {
    hipoinkBaseUrl: 'https://hipoink.test',
    productCodePrecedence: 'code,sku,id',
  });
  addToStack(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  return JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as NagReport;
}

describe('cdk-nag AwsSolutions', () => {
  it('passes with every acknowledgement justified', () => {
    const report = synthWithNag();
    expect(report.pluginReports.map((p) => p.pluginName)).toEqual(['AwsSolutions']);
    const [nag] = report.pluginReports;
    expect(nag?.conclusion).toBe('success');
    expect(nag?.violations).toEqual([]);
    const acknowledged = nag?.suppressedViolations ?? [];
    expect([...new Set(acknowledged.map((s) => s.ruleName))].sort()).toEqual([
      'AwsSolutions-APIG4',
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
      'AwsSolutions-SMG4',
    ]);
    for (const s of acknowledged) {
      expect(s.reason.length).toBeGreaterThan(40);
      // Acknowledged where the finding arises, never for the whole stack.
      expect(s.acknowledgedAt).not.toBe('EslSync');
    }
  });

  it('accepts the key wildcards only on the functions that write a table', () => {
    const nag = synthWithNag().pluginReports[0];
    const paths = nag?.suppressedViolations
      .filter((s) => s.ruleName === 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]')
      .flatMap((s) => s.violatingConstructs.map((c) => c.constructPath.split('/')[1]))
      .sort();
    expect(paths).toEqual(['Connect', 'FanOut', 'Poller', 'PushConsumer', 'TokenRefresher']);
  });

  it('fails the synth on a finding nobody acknowledged', () => {
    // A queue with neither a DLQ nor enforced SSL.
    const careless = () => synthWithNag((stack) => new Queue(stack, 'Careless'));
    expect(careless).toThrow(/AwsSolutions-SQS3/);
    expect(careless).toThrow(/AwsSolutions-SQS4/);
  });
});
