import { CfnOutput, Duration, Stack, type StackProps, Token, Validations } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { DeployTuningSchema } from '../src/config.ts';
import { ENV } from '../src/env.ts';
import { PLACEHOLDER_APP_ID } from '../src/secrets.ts';
import { ConnectWeb } from './connect-web.ts';
import { OperatorAlarms } from './operator-alarms.ts';
import { QueueWithDlq } from './queue-with-dlq.ts';
import { SyncFunction } from './sync-function.ts';
import { SyncState } from './sync-state.ts';

export type CloverRegion = 'na' | 'eu' | 'la';
export type CloverEnvironment = 'sandbox' | 'production';

export interface EslSyncStackProps extends StackProps {
  /** Seconds between scheduled polls; whole minutes, at least 60 (EventBridge's resolution). */
  pollIntervalSeconds?: number;
  cloverRegion?: CloverRegion;
  cloverEnvironment?: CloverEnvironment;
  hipoinkBaseUrl: string;
  hipoinkClientId?: string;
  /** Which Clover field becomes the Hipoink product code, e.g. "sku,code,id". */
  productCodePrecedence?: string;
  /** Concurrent pollers; Clover allows 10 concurrent requests per app across all merchants. */
  pollerMaxConcurrency?: number;
  /** Minutes between runs of the backup token refresher (seed 004: 10). */
  tokenRefreshIntervalMinutes?: number;
  /** The backup refresher also refreshes tokens last refreshed at least this many minutes ago (seed 004: 60). */
  tokenMaxAgeMinutes?: number;
  /** Refresh access tokens expiring within this many minutes (seed 000: 15). */
  tokenRefreshThresholdMinutes?: number;
  /** The backup refresher renews tokens before they come this close to expiry (seed 002: 5, at least 1). */
  tokenRefreshBufferMinutes?: number;
  /** Products per Hipoink create_multiple / del_multiple call (default 200). */
  hipoinkChunkSize?: number;
  /** Clover requests per second for the whole app (Clover allows 50); item reads get 80% of it. */
  cloverRequestsPerSecond?: number;
  /** Email subscribed to the operator alarms' topic (optional; any SNS subscriber can be added). */
  alertEmail?: string;
  /** A custom domain for the connect flow's web address, e.g. connect.example.com (with webCertificateArn). */
  webDomainName?: string;
  /** ARN of an ACM certificate in the stack's region covering webDomainName. */
  webCertificateArn?: string;
}

const CLOVER_PRODUCTION_HOSTS: Record<CloverRegion, string> = {
  na: 'https://api.clover.com',
  eu: 'https://api.eu.clover.com',
  la: 'https://api.la.clover.com',
};

/** Clover REST hosts, from shared/reference/clover-api.md. */
export function cloverApiBaseUrl(environment: CloverEnvironment, region: CloverRegion): string {
  // Context values arrive untyped from `-c`, so a typo must fail the synth rather than deploy a blank host.
  if (!Object.hasOwn(CLOVER_PRODUCTION_HOSTS, region)) {
    throw new Error(`cloverRegion must be one of na, eu, la; got ${region}`);
  }
  if (environment === 'sandbox') return 'https://apisandbox.dev.clover.com';
  if (environment === 'production') return CLOVER_PRODUCTION_HOSTS[region];
  throw new Error(`cloverEnvironment must be sandbox or production; got ${environment}`);
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

/** The custom domain for the web address, when both context values are given (one alone is an error). */
function webDomain(props: EslSyncStackProps): { name: string; certificateArn: string } | undefined {
  const { webDomainName: name, webCertificateArn: certificateArn } = props;
  if (name === undefined && certificateArn === undefined) return undefined;
  if (!name || !certificateArn) {
    throw new Error('webDomainName and webCertificateArn go together: give both or neither');
  }
  if (!Token.isUnresolved(name) && !/^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/i.test(name)) {
    throw new Error(`webDomainName must be a host name such as connect.example.com; got ${name}`);
  }
  return { name, certificateArn };
}

function isHttpUrl(value: string): boolean {
  try {
    const { protocol, hostname } = new URL(value);
    return (protocol === 'https:' || protocol === 'http:') && hostname !== '';
  } catch {
    return false;
  }
}

/** The tuning context values, checked with the handlers' rules (defaults are theirs too). */
function deployTuning(props: EslSyncStackProps) {
  const given: Record<keyof typeof DeployTuningSchema.shape, unknown> = {
    cloverRequestsPerSecond: props.cloverRequestsPerSecond,
    hipoinkChunkSize: props.hipoinkChunkSize,
    tokenRefreshThresholdMinutes: props.tokenRefreshThresholdMinutes,
    tokenMaxAgeMinutes: props.tokenMaxAgeMinutes,
    productCodePrecedence: props.productCodePrecedence,
  };
  const parsed = DeployTuningSchema.safeParse(given);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = String(i.path[0]) as keyof typeof given;
      return `${key}: ${i.message} (got ${String(given[key])})`;
    });
    throw new Error(`Context values the functions would refuse: ${problems.join('; ')}`);
  }
  return parsed.data;
}

// Budgets for the worst case of the HTTP clients' retries: Clover GETs wait at most 20 s per
// retry-after (4 retries), Hipoink calls time out after 10 s (3 retries, ≤5 s backoff).
const POLLER_TIMEOUT = Duration.seconds(180);
const CONSUMER_TIMEOUT = Duration.seconds(120);

export class EslSyncStack extends Stack {
  constructor(scope: Construct, id: string, props: EslSyncStackProps) {
    super(scope, id, props);
    const pollIntervalSeconds = props.pollIntervalSeconds ?? 120;
    if (
      !Number.isInteger(pollIntervalSeconds) ||
      pollIntervalSeconds < 60 ||
      pollIntervalSeconds % 60 !== 0
    ) {
      throw new Error(
        `pollIntervalSeconds must be a whole number of minutes (60, 120, …); got ${pollIntervalSeconds}`,
      );
    }
    const pollerMaxConcurrency = props.pollerMaxConcurrency ?? 5;
    if (!Number.isInteger(pollerMaxConcurrency) || pollerMaxConcurrency < 2 || pollerMaxConcurrency > 10) {
      // 2 is SQS event sources' minimum; above 10 the pollers alone would exceed Clover's per-app concurrency.
      throw new Error(`pollerMaxConcurrency must be between 2 and 10; got ${pollerMaxConcurrency}`);
    }
    if (!Token.isUnresolved(props.hipoinkBaseUrl) && !isHttpUrl(props.hipoinkBaseUrl)) {
      throw new Error(`hipoinkBaseUrl must be an http(s) URL; got ${props.hipoinkBaseUrl}`);
    }
    // Validated here because the handlers would only reject them at their first cold start.
    const refreshMinutes = props.tokenRefreshIntervalMinutes ?? 10;
    if (!Number.isInteger(refreshMinutes) || refreshMinutes < 1 || refreshMinutes > 1440) {
      throw new Error(
        `tokenRefreshIntervalMinutes must be a whole number from 1 to 1440; got ${refreshMinutes}`,
      );
    }
    const tuning = deployTuning(props);
    const domain = webDomain(props);
    const refreshBufferMinutes = props.tokenRefreshBufferMinutes ?? 5;
    if (!(refreshBufferMinutes >= 1 && refreshBufferMinutes <= 120)) {
      throw new Error(`tokenRefreshBufferMinutes must be between 1 and 120; got ${refreshBufferMinutes}`);
    }

    const state = new SyncState(this, 'SyncState');
    const secret = new Secret(this, 'AppSecret', {
      description:
        'esl-sync: {"cloverAppId", "cloverAppSecret" (optional), "hipoinkSign"}; set with put-secret-value',
      encryptionKey: state.key,
      generateSecretString: {
        // A placeholder the operator replaces: real values never live in code or templates.
        secretStringTemplate: JSON.stringify({ cloverAppId: PLACEHOLDER_APP_ID }),
        generateStringKey: 'hipoinkSign',
        excludePunctuation: true,
      },
    });
    // Visibility covers six function timeouts, as AWS advises for SQS event sources; failed
    // messages come back sooner, with a backoff (RETRY_BASE_SECONDS), five times at most.
    const poll = new QueueWithDlq(this, 'PollQueue', {
      maxReceiveCount: 5,
      visibilityTimeout: Duration.seconds(POLLER_TIMEOUT.toSeconds() * 6),
    });
    const push = new QueueWithDlq(this, 'PushQueue', {
      maxReceiveCount: 5,
      visibilityTimeout: Duration.seconds(CONSUMER_TIMEOUT.toSeconds() * 6),
    });

    const cloverEnvironment = props.cloverEnvironment ?? 'sandbox';
    const cloverRegion = props.cloverRegion ?? 'na';
    const environment = {
      [ENV.merchantsTable]: state.merchants.tableName,
      [ENV.productsTable]: state.products.tableName,
      [ENV.pollQueueUrl]: poll.queue.queueUrl,
      [ENV.pushQueueUrl]: push.queue.queueUrl,
      [ENV.pollDlqUrl]: poll.deadLetterQueue.queueUrl,
      [ENV.pushDlqUrl]: push.deadLetterQueue.queueUrl,
      [ENV.appSecretId]: secret.secretArn,
      [ENV.cloverApiBaseUrl]: cloverApiBaseUrl(cloverEnvironment, cloverRegion),
      [ENV.hipoinkBaseUrl]: props.hipoinkBaseUrl,
      [ENV.hipoinkClientId]: props.hipoinkClientId ?? 'default',
      [ENV.pollIntervalSeconds]: String(pollIntervalSeconds),
      [ENV.productCodePrecedence]: tuning.productCodePrecedence.join(','),
      [ENV.tokenMaxAgeMinutes]: String(tuning.tokenMaxAgeMinutes),
      [ENV.tokenRefreshThresholdMinutes]: String(tuning.tokenRefreshThresholdMinutes),
      [ENV.tokenRefreshBufferMinutes]: String(refreshBufferMinutes),
      // The refresher's look-ahead must match its real schedule, or a token can expire between runs.
      [ENV.tokenRefreshIntervalMinutes]: String(refreshMinutes),
      [ENV.hipoinkChunkSize]: String(tuning.hipoinkChunkSize),
      [ENV.retryBaseSeconds]: '30',
      [ENV.cloverRequestsPerSecond]: String(tuning.cloverRequestsPerSecond),
    };

    const fanOut = new SyncFunction(this, 'FanOut', {
      handlerDir: 'fanout',
      description: 'Queues one poll per active merchant',
      timeout: Duration.seconds(60),
      memorySize: 256,
      environment,
    }).fn;
    const poller = new SyncFunction(this, 'Poller', {
      handlerDir: 'poller',
      description: 'Polls one merchant in Clover and queues label changes',
      timeout: POLLER_TIMEOUT,
      memorySize: 512,
      environment,
    }).fn;
    const pushConsumer = new SyncFunction(this, 'PushConsumer', {
      handlerDir: 'consumer',
      description: 'Pushes label changes to Hipoink',
      timeout: CONSUMER_TIMEOUT,
      memorySize: 512,
      environment,
    }).fn;
    const backfill = new SyncFunction(this, 'Backfill', {
      handlerDir: 'backfill',
      description: 'Queues a full resync of one merchant or all ({"merchantId": "..."} or {"all": true})',
      timeout: Duration.seconds(60),
      memorySize: 256,
      environment,
    }).fn;

    const tokenRefresher = new SyncFunction(this, 'TokenRefresher', {
      handlerDir: 'token-refresher',
      description: 'Backup refresh of Clover tokens close to expiry or older than the maximum age',
      timeout: Duration.seconds(300),
      memorySize: 256,
      environment,
    }).fn;

    // The connect flow: only the variables its config reads (no products table, no queues).
    const web = new ConnectWeb(this, 'Connect', {
      state,
      appSecret: secret,
      environment: {
        [ENV.merchantsTable]: environment[ENV.merchantsTable],
        [ENV.appSecretId]: environment[ENV.appSecretId],
        [ENV.cloverApiBaseUrl]: environment[ENV.cloverApiBaseUrl],
        [ENV.cloverRequestsPerSecond]: environment[ENV.cloverRequestsPerSecond],
      },
      cloverOauthBaseUrl: cloverOauthBaseUrl(cloverEnvironment, cloverRegion),
      ...(domain ? { domain } : {}),
    });

    // Least privilege: each function gets exactly what its code touches. Table actions follow the
    // store calls on each function's path (src/store/*.ts): a new store call needs its action here.
    // FanOut: merchants.list.
    state.grant(fanOut, state.merchants, ['Scan']);
    poll.queue.grantSendMessages(fanOut);

    // Poller: merchants.get; recordPoll, code re-checks, token lease/refresh and the Clover budget
    // are updates. Products: get, list, claimCode's re-read, saveState/claim/await (updates),
    // releaseCode (delete of a code claim).
    state.grant(poller, state.merchants, ['GetItem', 'UpdateItem']);
    state.grant(poller, state.products, ['GetItem', 'BatchGetItem', 'Query', 'UpdateItem', 'DeleteItem']);
    push.queue.grantSendMessages(poller);
    poll.deadLetterQueue.grantSendMessages(poller);
    secret.grantRead(poller);

    // PushConsumer: merchants.get. Products: get, codeHolder, findShown (query, for the refusal
    // probe), and updates (markPushed, markRejected, markLabelLeaving, stray codes).
    state.grant(pushConsumer, state.merchants, ['GetItem']);
    state.grant(pushConsumer, state.products, ['GetItem', 'BatchGetItem', 'Query', 'UpdateItem']);
    push.deadLetterQueue.grantSendMessages(pushConsumer);
    secret.grantRead(pushConsumer);

    // Backfill: merchants.get and list.
    state.grant(backfill, state.merchants, ['GetItem', 'Scan']);
    poll.queue.grantSendMessages(backfill);

    // TokenRefresher: merchants.list and get; token lease/refresh and the Clover budget are updates;
    // its heartbeat is a put.
    state.grant(tokenRefresher, state.merchants, ['Scan', 'GetItem', 'UpdateItem', 'PutItem']);
    secret.grantRead(tokenRefresher);

    poller.addEventSource(
      new SqsEventSource(poll.queue, {
        batchSize: 1,
        maxConcurrency: pollerMaxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    pushConsumer.addEventSource(
      new SqsEventSource(push.queue, { batchSize: 10, maxConcurrency: 5, reportBatchItemFailures: true }),
    );

    new Rule(this, 'PollSchedule', {
      description: 'Starts a poll of every active merchant',
      schedule: Schedule.rate(Duration.seconds(pollIntervalSeconds)),
      targets: [
        new LambdaFunction(fanOut, { retryAttempts: 2, maxEventAge: Duration.seconds(pollIntervalSeconds) }),
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
      unattendedFunctions: {
        FanOut: fanOut,
        Poller: poller,
        PushConsumer: pushConsumer,
        TokenRefresher: tokenRefresher,
      },
      pollIntervalSeconds,
      tokenRefreshIntervalMinutes: refreshMinutes,
      ...(props.alertEmail === undefined ? {} : { alertEmail: props.alertEmail }),
    });

    const outputs: Record<string, string> = {
      MerchantsTableName: state.merchants.tableName,
      ProductsTableName: state.products.tableName,
      PollQueueUrl: poll.queue.queueUrl,
      PushQueueUrl: push.queue.queueUrl,
      PollDlqUrl: poll.deadLetterQueue.queueUrl,
      PushDlqUrl: push.deadLetterQueue.queueUrl,
      FanOutFunctionName: fanOut.functionName,
      BackfillFunctionName: backfill.functionName,
      TokenRefresherFunctionName: tokenRefresher.functionName,
      AppSecretArn: secret.secretArn,
      AlertTopicArn: alarms.topic.topicArn,
      // Invite links start here; Clover's app settings take <WebUrl>/clover/launch and <WebUrl>/clover/callback.
      WebUrl: web.url,
    };
    for (const [key, value] of Object.entries(outputs)) new CfnOutput(this, key, { value });

    this.acknowledgeNagFindings(secret);
  }

  /** Every other cdk-nag finding we accept, each with the reason it does not apply here. */
  private acknowledgeNagFindings(secret: Secret) {
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'Holds the Clover app id/secret and the Hipoink sign, which Clover and Hipoink issue; a rotation Lambda ' +
        'cannot mint new ones, so operators replace them by hand when the vendors reissue them.',
    });
  }
}
