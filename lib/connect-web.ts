import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  type CfnStage,
  DomainName,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV, WEB_ENV } from '../src/env.ts';
import { QUEUE_SENDS, SECRET_READS, TABLE_ACCESS } from '../src/grants.ts';
import { WEBHOOK_PATH } from '../src/web/webhooks.ts';
import { SyncFunction } from './sync-function.ts';
import type { SyncState } from './sync-state.ts';

export interface ConnectWebProps {
  state: SyncState;
  appSecret: Secret;
  /** The variables the web function shares with the others (merchants table, app secret, Clover host, budget). */
  environment: Record<string, string>;
  /** Where webhook notices queue polls (FIFO, group = merchant). */
  pollQueue: IQueue;
  /** Clover's /oauth/v2/authorize host for the configured environment and region. */
  cloverOauthBaseUrl: string;
  /** A custom domain (its ACM certificate in this region); the execute-api address is then turned off. */
  domain?: { name: string; certificateArn: string };
  /** Powertools' service name for this stage's logs and metrics. */
  serviceName: string;
}

/** Requests per second the whole connect flow accepts (a store connects once; this is abuse control). */
const RATE_LIMIT = 10;
const BURST_LIMIT = 20;
/** Clover's webhook notices come in bursts (a bulk edit): their route has its own, higher limit. */
const WEBHOOK_RATE_LIMIT = 50;
const WEBHOOK_BURST_LIMIT = 100;

/**
 * The web function's front door: an HTTP API whose default route sends every request to the web
 * function, so every answer (a 404 included) is one of our pages with our security headers, and a
 * route of its own for Clover's webhook notices, throttled apart from the connect flow. The
 * function may read and update the merchants table (merchants, invites, used states, the request
 * budget, the webhook verification), send to the poll queue, and read two secrets; it has no access
 * to products, the push queue or Hipoink.
 */
export class ConnectWeb extends Construct {
  readonly fn: NodejsFunction;
  readonly stateKey: Secret;
  /** The base URL invite links and Clover's app settings use, without a trailing slash. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ConnectWebProps) {
    super(scope, id);
    this.stateKey = new Secret(this, 'StateSigningKey', {
      description: 'esl-sync: signs the OAuth state of the connect flow (generated at deploy; never shown)',
      encryptionKey: props.state.key,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    Validations.of(this.stateKey).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'Only signs OAuth states that live 20 minutes; replacing its value by hand (put-secret-value with a new ' +
        'random string) is the rotation, and only cuts short sign-ins in progress. No rotation Lambda needed.',
    });

    this.fn = new SyncFunction(this, 'Web', {
      handlerDir: 'web',
      description: 'Connect a store (invite links, Clover launch path, OAuth callback) and Clover webhooks',
      // API Gateway waits at most 30 s; the function's Clover calls time out well before.
      timeout: Duration.seconds(29),
      memorySize: 256,
      serviceName: props.serviceName,
      environment: {
        ...props.environment,
        [ENV.pollQueueUrl]: props.pollQueue.queueUrl,
        [WEB_ENV.cloverOauthBaseUrl]: props.cloverOauthBaseUrl,
        [WEB_ENV.stateKeySecretId]: this.stateKey.secretArn,
        ...(props.domain ? { [WEB_ENV.webBaseUrl]: `https://${props.domain.name}` } : {}),
      },
    }).fn;
    props.state.grantAccess(this.fn, TABLE_ACCESS.web);
    // Webhook notices queue polls (QUEUE_SENDS.web); nothing else is sent (the queue is
    // SQS-encrypted: no key grant).
    const queues = { pollQueue: props.pollQueue };
    this.fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: QUEUE_SENDS.web.map((q) => queues[q].queueArn),
      }),
    );
    const secrets = { app: props.appSecret, stateKey: this.stateKey };
    for (const read of SECRET_READS.web) secrets[read].grantRead(this.fn);

    const integration = new HttpLambdaIntegration('Web', this.fn);
    const api = new HttpApi(this, 'Api', {
      description: 'esl-sync: connect a store (Clover OAuth) and Clover webhooks',
      createDefaultStage: false,
      defaultIntegration: integration,
      disableExecuteApiEndpoint: props.domain !== undefined,
    });
    api.addRoutes({ path: WEBHOOK_PATH, methods: [HttpMethod.POST], integration });
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // $context.path carries no query string: a callback's code never reaches the access log.
    const format = AccessLogFormat.custom(
      JSON.stringify({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        time: '$context.requestTime',
        method: '$context.httpMethod',
        path: '$context.path',
        status: '$context.status',
        latencyMs: '$context.integrationLatency',
      }),
    );
    const domainName = props.domain
      ? new DomainName(this, 'Domain', {
          domainName: props.domain.name,
          certificate: Certificate.fromCertificateArn(this, 'Certificate', props.domain.certificateArn),
        })
      : undefined;
    const stage = new HttpStage(this, 'Stage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: RATE_LIMIT, burstLimit: BURST_LIMIT },
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format },
      ...(domainName ? { domainMapping: { domainName } } : {}),
    });
    // The L2 stage sets only the default route's limits; a route's own are CloudFormation's RouteSettings.
    (stage.node.defaultChild as CfnStage).routeSettings = {
      [`POST ${WEBHOOK_PATH}`]: {
        ThrottlingRateLimit: WEBHOOK_RATE_LIMIT,
        ThrottlingBurstLimit: WEBHOOK_BURST_LIMIT,
      },
    };
    Validations.of(api).acknowledge({
      id: 'AwsSolutions::AwsSolutions-APIG4',
      reason:
        'Merchants’ browsers, Clover’s redirects and Clover’s webhook deliveries call it, none of which can ' +
        'authenticate to API Gateway; each route checks its own proof instead (an invite id, a signed ' +
        'single-use state, a code Clover exchanges, the X-Clover-Auth code compared in constant time).',
    });
    this.url = props.domain ? `https://${props.domain.name}` : api.apiEndpoint;
  }
}
