import { CfnOutput, Duration, SecretValue, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { ENV } from '../src/env.ts';
import {
  BACKFILL,
  FAN_OUT,
  FAN_OUT_PERIOD_SECONDS,
  type FunctionSettings,
  MAX_RECEIVES,
  POLLER,
  PUSH_CONSUMER,
  RETRY_BASE_SECONDS,
  TOKEN_REFRESHER,
  visibilityTimeoutSeconds,
} from '../src/function-settings.ts';
import { type GrantedFunction, OWN_RECORDS, QUEUE_SENDS, SECRET_READS, TABLE_ACCESS } from '../src/grants.ts';
import { SERVICE_NAME } from '../src/metric-names.ts';
import { PLACEHOLDER, SECRET_CACHE_SECONDS } from '../src/secrets.ts';
import { StageSettingsError, serviceNameOf } from '../src/stage.ts';
import { ConnectWeb } from './connect-web.ts';
import { OperatorAlarms } from './operator-alarms.ts';
import { OpsDashboard } from './ops-dashboard.ts';
import { QueueWithDlq } from './queue-with-dlq.ts';
import {
  type CloverEnvironment,
  type CloverRegion,
  parseStageSettings,
  type StageSettingsInput,
} from './stage-settings.ts';
import { SyncFunction } from './sync-function.ts';
import { SyncState } from './sync-state.ts';

export type { CloverEnvironment, CloverRegion } from './stage-settings.ts';

export interface EslSyncStackProps extends StackProps, StageSettingsInput {
  /**
   * The deploy stage this stack is (config/<stage>.json): its functions log and publish metrics
   * as service `esl-sync-<stage>`, and alarm texts name `--stage` in their CLI commands. Without
   * one (tests), service `esl-sync`, as on the local stack.
   */
  stage?: string;
}

const CLOVER_PRODUCTION_HOSTS: Record<CloverRegion, string> = {
  na: 'https://api.clover.com',
  eu: 'https://api.eu.clover.com',
  la: 'https://api.la.clover.com',
};

/** Clover's REST host for an environment and region. */
export function cloverApiBaseUrl(environment: CloverEnvironment, region: CloverRegion): string {
  // Settings are checked before they get here; a caller passing untyped values still gets no blank host.
  if (!Object.hasOwn(CLOVER_PRODUCTION_HOSTS, region)) {
    throw new StageSettingsError(`cloverRegion must be one of na, eu, la; got ${region}`);
  }
  if (environment === 'sandbox') return 'https://apisandbox.dev.clover.com';
  if (environment === 'production') return CLOVER_PRODUCTION_HOSTS[region];
  throw new StageSettingsError(`cloverEnvironment must be sandbox or production; got ${environment}`);
}

const CLOVER_PRODUCTION_AUTHORIZE_HOSTS: Record<CloverRegion, string> = {
  na: 'https://www.clover.com',
  eu: 'https://www.eu.clover.com',
  la: 'https://www.la.clover.com',
};

/** Clover's hosts for the merchant's browser (/oauth/v2/authorize), beside each REST host. */
export function cloverOauthBaseUrl(environment: CloverEnvironment, region: CloverRegion): string {
  cloverApiBaseUrl(environment, region); // the same checks of both values
  return environment === 'sandbox'
    ? 'https://sandbox.dev.clover.com'
    : CLOVER_PRODUCTION_AUTHORIZE_HOSTS[region];
}

/** A function's timeout and memory, as src/function-settings.ts sets them. */
const sized = (fn: FunctionSettings) => ({
  timeout: Duration.seconds(fn.timeoutSeconds),
  memorySize: fn.memoryMb,
});

export class EslSyncStack extends Stack {
  constructor(scope: Construct, id: string, props: EslSyncStackProps) {
    super(scope, id, props);
    // Checked here, with the handlers' own rules, because the handlers would only refuse a bad
    // value at their first cold start.
    const settings = parseStageSettings(props as unknown as Record<string, unknown>);
    const pollIntervalSeconds = settings.pollIntervalSeconds;
    const refreshMinutes = settings.tokenRefreshIntervalMinutes;
    const serviceName = props.stage === undefined ? SERVICE_NAME : serviceNameOf(props.stage);
    const cliTarget = props.stage === undefined ? '--aws' : `--aws --stage ${props.stage}`;
    const domain =
      settings.webDomainName && settings.webCertificateArn
        ? { name: settings.webDomainName, certificateArn: settings.webCertificateArn }
        : undefined;

    const state = new SyncState(this, 'SyncState');
    const cacheNote =
      `Running functions keep the value they read for up to ${SECRET_CACHE_SECONDS / 60} minutes: ` +
      'a change reaches every function within that time, without a deploy.';
    const secret = new Secret(this, 'AppSecret', {
      description:
        'esl-sync: the Clover app\'s credentials {"cloverAppId", "cloverAppSecret" (optional), ' +
        `"cloverWebhookAuthCode" (optional)}; set with put-secret-value. ${cacheNote}`,
      encryptionKey: state.key,
      // Kept as first deployed: CloudFormation generates a new value, over the operator's, when
      // this changes. The key it generates is unused (the Hipoink sign has a secret of its own);
      // the operator's put-secret-value replaces the whole value.
      generateSecretString: {
        // A placeholder the operator replaces: real values never live in code or templates.
        secretStringTemplate: JSON.stringify({ cloverAppId: PLACEHOLDER }),
        generateStringKey: 'hipoinkSign',
        excludePunctuation: true,
      },
    });
    // Apart from the app secret, so only the function that pushes labels can read the sign.
    const hipoinkSecret = new Secret(this, 'HipoinkSecret', {
      description: `esl-sync: the Hipoink sign {"hipoinkSign"}; set with put-secret-value. ${cacheNote}`,
      encryptionKey: state.key,
      // A placeholder the functions refuse, written when the secret is created (and again only if
      // this text changed): the real sign never lives in code or templates.
      secretStringValue: SecretValue.unsafePlainText(JSON.stringify({ hipoinkSign: PLACEHOLDER })),
    });
    // Visibility covers six function timeouts, as AWS advises for SQS event sources; failed
    // messages come back sooner, with a backoff (RETRY_BASE_SECONDS), five times at most.
    const poll = new QueueWithDlq(this, 'PollQueue', {
      maxReceiveCount: MAX_RECEIVES,
      visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds(POLLER)),
    });
    const push = new QueueWithDlq(this, 'PushQueue', {
      maxReceiveCount: MAX_RECEIVES,
      visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds(PUSH_CONSUMER)),
    });

    const environment = {
      [ENV.merchantsTable]: state.merchants.tableName,
      [ENV.productsTable]: state.products.tableName,
      [ENV.pollQueueUrl]: poll.queue.queueUrl,
      [ENV.pushQueueUrl]: push.queue.queueUrl,
      [ENV.pollDlqUrl]: poll.deadLetterQueue.queueUrl,
      [ENV.pushDlqUrl]: push.deadLetterQueue.queueUrl,
      [ENV.appSecretId]: secret.secretArn,
      [ENV.hipoinkSecretId]: hipoinkSecret.secretArn,
      [ENV.cloverApiBaseUrl]: cloverApiBaseUrl(settings.cloverEnvironment, settings.cloverRegion),
      [ENV.hipoinkBaseUrl]: settings.hipoinkBaseUrl,
      [ENV.hipoinkClientId]: settings.hipoinkClientId,
      [ENV.pollIntervalSeconds]: String(pollIntervalSeconds),
      [ENV.safetyPollIntervalMinutes]: String(settings.safetyPollIntervalMinutes),
      [ENV.fanOutPeriodSeconds]: String(FAN_OUT_PERIOD_SECONDS),
      [ENV.productCodePrecedence]: settings.productCodePrecedence.join(','),
      [ENV.tokenMaxAgeMinutes]: String(settings.tokenMaxAgeMinutes),
      [ENV.tokenRefreshThresholdMinutes]: String(settings.tokenRefreshThresholdMinutes),
      [ENV.tokenRefreshBufferMinutes]: String(settings.tokenRefreshBufferMinutes),
      // The refresher's look-ahead must match its real schedule, or a token can expire between runs.
      [ENV.tokenRefreshIntervalMinutes]: String(refreshMinutes),
      [ENV.hipoinkChunkSize]: String(settings.hipoinkChunkSize),
      [ENV.retryBaseSeconds]: String(RETRY_BASE_SECONDS),
      [ENV.cloverRequestsPerSecond]: String(settings.cloverRequestsPerSecond),
    };

    const fanOut = new SyncFunction(this, 'FanOut', {
      handlerDir: 'fanout',
      description: 'Queues a poll of each active merchant whose poll time came',
      ...sized(FAN_OUT),
      environment,
      serviceName,
    }).fn;
    const poller = new SyncFunction(this, 'Poller', {
      handlerDir: 'poller',
      description: `Polls up to ${POLLER.feed.batchSize} merchants in Clover at once and queues label changes`,
      ...sized(POLLER),
      environment,
      serviceName,
    }).fn;
    const pushConsumer = new SyncFunction(this, 'PushConsumer', {
      handlerDir: 'consumer',
      description: 'Pushes label changes to Hipoink',
      ...sized(PUSH_CONSUMER),
      environment,
      serviceName,
    }).fn;
    const backfill = new SyncFunction(this, 'Backfill', {
      handlerDir: 'backfill',
      description: 'Queues a full resync of one merchant or all ({"merchantId": "..."} or {"all": true})',
      ...sized(BACKFILL),
      environment,
      serviceName,
    }).fn;

    const tokenRefresher = new SyncFunction(this, 'TokenRefresher', {
      handlerDir: 'token-refresher',
      description: 'Backup refresh of Clover tokens close to expiry or older than the maximum age',
      ...sized(TOKEN_REFRESHER),
      environment,
      serviceName,
    }).fn;

    // The connect flow and Clover's webhooks: only the variables its config reads (no products
    // table, no push queue; the poll queue is passed on its own).
    const web = new ConnectWeb(this, 'Connect', {
      state,
      appSecret: secret,
      environment: {
        [ENV.merchantsTable]: environment[ENV.merchantsTable],
        [ENV.appSecretId]: environment[ENV.appSecretId],
        [ENV.cloverApiBaseUrl]: environment[ENV.cloverApiBaseUrl],
        [ENV.cloverRequestsPerSecond]: environment[ENV.cloverRequestsPerSecond],
      },
      pollQueue: poll.queue,
      cloverOauthBaseUrl: cloverOauthBaseUrl(settings.cloverEnvironment, settings.cloverRegion),
      serviceName,
      ...(domain ? { domain } : {}),
    });

    // Least privilege: each function gets exactly what its code touches, table calls and queue
    // sends as src/grants.ts lists them (the local stack enforces the same lists).
    const queues = {
      pollQueue: poll.queue,
      pollDlq: poll.deadLetterQueue,
      pushQueue: push.queue,
      pushDlq: push.deadLetterQueue,
    };
    const secrets = { app: secret, hipoink: hipoinkSecret };
    const grantAccess = (fn: NodejsFunction, name: Exclude<GrantedFunction, 'web'>) => {
      state.grantAccess(fn, TABLE_ACCESS[name], OWN_RECORDS[name]);
      for (const queue of QUEUE_SENDS[name]) queues[queue].grantSendMessages(fn);
      for (const read of SECRET_READS[name]) secrets[read].grantRead(fn);
    };
    grantAccess(fanOut, 'fanOut');
    grantAccess(poller, 'poller');
    grantAccess(pushConsumer, 'pushConsumer');
    grantAccess(backfill, 'backfill');
    grantAccess(tokenRefresher, 'tokenRefresher');

    poller.addEventSource(
      new SqsEventSource(poll.queue, {
        batchSize: POLLER.feed.batchSize,
        maxConcurrency: settings.pollerMaxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    pushConsumer.addEventSource(
      new SqsEventSource(push.queue, { ...PUSH_CONSUMER.feed, reportBatchItemFailures: true }),
    );

    // More often than the interval: each run queues the merchants whose own poll time has come.
    new Rule(this, 'PollSchedule', {
      description: 'Queues a poll of every active merchant whose poll time has come',
      schedule: Schedule.rate(Duration.seconds(FAN_OUT_PERIOD_SECONDS)),
      targets: [
        new LambdaFunction(fanOut, {
          retryAttempts: 2,
          maxEventAge: Duration.seconds(FAN_OUT_PERIOD_SECONDS),
        }),
      ],
    });

    new Rule(this, 'TokenRefreshSchedule', {
      description: 'Backup refresh of Clover tokens',
      schedule: Schedule.rate(Duration.minutes(refreshMinutes)),
      targets: [new LambdaFunction(tokenRefresher, { retryAttempts: 0 })],
    });

    const alarms = new OperatorAlarms(this, 'OperatorAlarms', {
      pollQueue: poll,
      pushQueue: push,
      tables: [state.merchants, state.products],
      unattendedFunctions: {
        FanOut: fanOut,
        Poller: poller,
        PushConsumer: pushConsumer,
        TokenRefresher: tokenRefresher,
        Web: web.fn,
      },
      pollIntervalSeconds,
      safetyPollIntervalMinutes: settings.safetyPollIntervalMinutes,
      tokenRefreshIntervalMinutes: refreshMinutes,
      serviceName,
      cliTarget,
      ...(settings.alertEmail === undefined ? {} : { alertEmail: settings.alertEmail }),
    });

    // Every function: on the dashboard and in the saved queries, its name and log group as outputs.
    const functions = {
      FanOut: fanOut,
      Poller: poller,
      PushConsumer: pushConsumer,
      Backfill: backfill,
      TokenRefresher: tokenRefresher,
      Web: web.fn,
    };
    const operations = new OpsDashboard(this, 'Operations', {
      name: this.stackName,
      serviceName,
      pollQueue: poll,
      pushQueue: push,
      alarms: alarms.alarms,
    });

    const outputs: Record<string, string> = {
      MerchantsTableName: state.merchants.tableName,
      ProductsTableName: state.products.tableName,
      PollQueueUrl: poll.queue.queueUrl,
      PushQueueUrl: push.queue.queueUrl,
      PollDlqUrl: poll.deadLetterQueue.queueUrl,
      PushDlqUrl: push.deadLetterQueue.queueUrl,
      AppSecretArn: secret.secretArn,
      HipoinkSecretArn: hipoinkSecret.secretArn,
      AlertTopicArn: alarms.topic.topicArn,
      DashboardUrl: operations.url,
      // Invite links start here; Clover's app settings take <WebUrl>/clover/launch and <WebUrl>/clover/callback.
      WebUrl: web.url,
      // `merchants add` checks a token pair opens its merchant here before storing it.
      CloverApiBaseUrl: environment[ENV.cloverApiBaseUrl],
    };
    for (const [name, fn] of Object.entries(functions)) {
      // Each SyncFunction gives its function its own log group, so this reads it (no log-retention resource).
      operations.addFunction(name, fn, fn.logGroup);
      outputs[`${name}FunctionName`] = fn.functionName;
      outputs[`${name}LogGroupName`] = fn.logGroup.logGroupName;
    }
    for (const [key, value] of Object.entries(outputs)) new CfnOutput(this, key, { value });

    this.acknowledgeNagFindings([secret, hipoinkSecret]);
  }

  /** Every other cdk-nag finding we accept, each with the reason it does not apply here. */
  private acknowledgeNagFindings(vendorSecrets: Secret[]) {
    for (const secret of vendorSecrets)
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SMG4',
        reason:
          'Holds credentials Clover or Hipoink issue (app id and secret, webhook auth code, sign); a rotation ' +
          'Lambda cannot mint new ones, so operators replace them by hand when the vendors reissue them.',
      });
  }
}
