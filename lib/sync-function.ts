import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE, SERVICE_NAME } from '../src/metric-names.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface SyncFunctionProps {
  /** Directory under functions/ holding handler.ts. */
  handlerDir: 'fanout' | 'poller' | 'consumer' | 'backfill' | 'token-refresher' | 'web';
  description: string;
  timeout: Duration;
  memorySize: number;
  environment: Record<string, string>;
}

/**
 * One of our Lambda functions: functions/<name>/handler.ts bundled by the local esbuild (no
 * Docker) as ESM for Node.js 24 on ARM, with its own log group and X-Ray tracing.
 */
export class SyncFunction extends Construct {
  readonly fn: NodejsFunction;

  constructor(scope: Construct, id: string, props: SyncFunctionProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
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
      tracing: Tracing.ACTIVE,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        minify: true,
        sourceMap: true,
        mainFields: ['module', 'main'],
        // Some bundled CommonJS dependencies call require(); ESM output needs it defined.
        banner:
          "import { createRequire as __createRequire } from 'module'; const require = __createRequire(import.meta.url);",
        externalModules: ['@aws-sdk/*'],
      },
    });
    // Scoped to this function's role, so a wildcard or managed policy added anywhere else still fails the check.
    Validations.of(this).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'The AWS managed basic execution policy only lets the function create and write CloudWatch log ' +
          'streams; a hand-written copy would grant the same.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
        reason:
          'Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no ' +
          'resource-level permissions; every other statement of this role names its resources.',
      },
    );
  }
}
