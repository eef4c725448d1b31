import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * One Logger and one Metrics for the process (Powertools). Log only ids, counts and error
 * context: never a merchant record, token, sign or request header.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'esl-sync' });
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'EslSync',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'esl-sync',
});
