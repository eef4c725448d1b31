import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { DomainName, HttpApi, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { WEB_ENV } from '../src/env.ts';
import { SyncFunction } from './sync-function.ts';
import type { SyncState } from './sync-state.ts';

export interface ConnectWebProps {
  state: SyncState;
  appSecret: Secret;
  /** The variables the web function shares with the others (merchants table, app secret, Clover host, budget). */
  environment: Record<string, string>;
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

/**
 * The connect flow's front door: an HTTP API whose default route sends every request to the web
 * function, so every answer (a 404 included) is one of our pages with our security headers. The
 * function may read and update the merchants table (merchants, invites, used states, the request
 * budget) and read two secrets; it has no access to products, queues or Hipoink.
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
      description: 'Connect a store: invite links, Clover launch path and OAuth callback',
      // API Gateway waits at most 30 s; the function's Clover calls time out well before.
      timeout: Duration.seconds(29),
      memorySize: 256,
      serviceName: props.serviceName,
      environment: {
        ...props.environment,
        [WEB_ENV.cloverOauthBaseUrl]: props.cloverOauthBaseUrl,
        [WEB_ENV.stateKeySecretId]: this.stateKey.secretArn,
        ...(props.domain ? { [WEB_ENV.webBaseUrl]: `https://${props.domain.name}` } : {}),
      },
    }).fn;
    // Merchants (read, store a pair), invites (read, claim, release, complete), used states and the
    // Clover request budget: all gets and conditional updates on the merchants table.
    props.state.grant(this.fn, props.state.merchants, ['GetItem', 'UpdateItem']);
    props.appSecret.grantRead(this.fn);
    this.stateKey.grantRead(this.fn);

    const api = new HttpApi(this, 'Api', {
      description: 'esl-sync: connect a store (Clover OAuth)',
      createDefaultStage: false,
      defaultIntegration: new HttpLambdaIntegration('Web', this.fn),
      disableExecuteApiEndpoint: props.domain !== undefined,
    });
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
    new HttpStage(this, 'Stage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: RATE_LIMIT, burstLimit: BURST_LIMIT },
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format },
      ...(domainName ? { domainMapping: { domainName } } : {}),
    });
    Validations.of(api).acknowledge({
      id: 'AwsSolutions::AwsSolutions-APIG4',
      reason:
        'Merchants’ browsers and Clover’s redirects call it, which cannot authenticate to API Gateway; each ' +
        'route checks its own proof instead (an invite id, a signed single-use state, a code Clover exchanges).',
    });
    this.url = props.domain ? `https://${props.domain.name}` : api.apiEndpoint;
  }
}
