import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type CloverEnvironment, type CloverRegion, EslSyncStack } from '../lib/esl-sync-stack.ts';

const app = new App();
const ctx = (key: string): string | undefined => {
  const value = app.node.tryGetContext(key);
  return value === undefined || value === null ? undefined : String(value);
};
const number = (key: string) => (ctx(key) === undefined ? undefined : Number(ctx(key)));

new EslSyncStack(app, 'EslSync', {
  description: 'esl-sync: keeps Hipoink shelf labels in step with Clover inventory',
  // No lookups: synth works offline, without credentials. Account/region come from the CLI when deploying.
  ...(process.env.CDK_DEFAULT_ACCOUNT && process.env.CDK_DEFAULT_REGION
    ? { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } }
    : {}),
  // Deploy must set -c hipoinkBaseUrl=https://…; the placeholder only lets `cdk synth` run anywhere.
  hipoinkBaseUrl: ctx('hipoinkBaseUrl') ?? 'https://hipoink.example.invalid',
  hipoinkClientId: ctx('hipoinkClientId') ?? 'default',
  cloverEnvironment: (ctx('cloverEnvironment') ?? 'sandbox') as CloverEnvironment,
  cloverRegion: (ctx('cloverRegion') ?? 'na') as CloverRegion,
  pollIntervalSeconds: number('pollIntervalSeconds') ?? 120,
  pollerMaxConcurrency: number('pollerMaxConcurrency') ?? 5,
  productCodePrecedence: ctx('productCodePrecedence') ?? 'sku,code,id',
  tokenRefreshIntervalMinutes: number('tokenRefreshIntervalMinutes') ?? 10,
  tokenMaxAgeMinutes: number('tokenMaxAgeMinutes') ?? 60,
  tokenRefreshThresholdMinutes: number('tokenRefreshThresholdMinutes') ?? 15,
  tokenRefreshBufferMinutes: number('tokenRefreshBufferMinutes') ?? 5,
  hipoinkChunkSize: number('hipoinkChunkSize') ?? 200,
  cloverRequestsPerSecond: number('cloverRequestsPerSecond') ?? 50,
  ...(ctx('alertEmail') === undefined ? {} : { alertEmail: ctx('alertEmail') }),
  ...(ctx('webDomainName') === undefined ? {} : { webDomainName: ctx('webDomainName') }),
  ...(ctx('webCertificateArn') === undefined ? {} : { webCertificateArn: ctx('webCertificateArn') }),
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
