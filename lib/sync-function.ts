import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE } from '../src/metric-names.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** How every handler is bundled (the benchmark bundles the same way to measure size and start-up). */
export const BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node24',
  minify: true,
  // Shipped beside the bundle to read a stack trace by, not loaded at run time: Node's
  // --enable-source-maps parses the map at every cold start (about 10 ms of init here).
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  // Some bundled CommonJS dependencies call require(); ESM output needs it defined.
  banner:
    "import { createRequire as __createRequire } from 'module'; const require = __createRequire(import.meta.url);",
  externalModules: ['@aws-sdk/*'],
};

export interface SyncFunctionProps {
  /** Directory under functions/ holding handler.ts. */
  handlerDir: 'fanout' | 'poller' | 'consumer' | 'backfill' | 'token-refresher' | 'web';
  description: string;
  timeout: Duration;
  memorySize: number;
  environment: Record<string, string>;
  /** Its logs' `service` and its metrics' `service` dimension. */
  serviceName: string;
}

/**
 * One of our Lambda functions: functions/<name>/handler.ts bundled by the local esbuild (no
 * Docker) as ESM for Node.js 24 on ARM, with its own log group; no tracing (see below).
 */
export class SyncFunction extends Construct {
  readonly fn: NodejsFunction;

  constructor(scope: Construct, id: string, props: SyncFunctionProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Its own role, without the AWS managed basic execution policy: that one lets a function create
    // and write any log group in the account, where this one writes its own log group alone.
    const role = new Role(this, 'FunctionServiceRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    });
    logGroup.grantWrite(role);
    this.fn = new NodejsFunction(this, 'Function', {
      entry: `${ROOT}functions/${props.handlerDir}/handler.ts`,
      handler: 'handler',
      projectRoot: ROOT,
      depsLockFilePath: `${ROOT}package-lock.json`,
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      timeout: props.timeout,
      memorySize: props.memorySize,
      // Tracing off, on purpose. X-Ray without the Powertools Tracer shows nothing inside a function,
      // and the Tracer brings the X-Ray SDK: about 127 KB minified and tens of milliseconds of init
      // per cold start, against a budget of 250 KB and 30 ms per function. The structured logs (one
      // line per poll, push and refresh, with the merchant), the EMF metrics and the dashboard answer
      // what traces would here; the only downstream calls are DynamoDB, SQS, Clover and Hipoink.
      tracing: Tracing.DISABLED,
      logGroup,
      role,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        ...props.environment,
      },
      bundling: BUNDLING,
    });
  }
}
