import type { ScheduledEvent } from 'aws-lambda';
import { METRIC } from '../../src/metric-names.ts';
import { logger, metrics } from '../../src/observability.ts';
import { lambdaHandler } from '../../src/runtime.ts';
import { type BackupRefreshResult, refreshDueTokens } from '../../src/sync/refresh.ts';

/** Schedule → refresh tokens that are close to expiry or old (a backup to on-demand refresh). */
export const handler = lambdaHandler(
  async (_event: ScheduledEvent | Record<string, never>, deps): Promise<BackupRefreshResult> => {
    const result = await refreshDueTokens({
      merchants: deps.merchants,
      tokens: deps.tokens,
      settings: {
        ...deps.settings,
        tokenMaxAgeMinutes: deps.config.tokenMaxAgeMinutes,
        refreshBufferMinutes: deps.config.tokenRefreshBufferMinutes,
        intervalMinutes: deps.config.tokenRefreshIntervalMinutes,
      },
      heartbeat: deps.refresherHeartbeat,
    });
    if (result.heartbeatError !== undefined)
      logger.warn('Could not record the refresher heartbeat', { reason: result.heartbeatError });
    // A line and a metric every run, refresh or not: the refresher's heartbeat for operators.
    metrics.addMetric(METRIC.tokenRefresherRun, 'Count', 1);
    metrics.addMetric(METRIC.tokensRefreshedByBackup, 'Count', result.refreshed.length);
    metrics.addMetric(METRIC.tokenBackupRefreshFailed, 'Count', result.failed.length);
    if (result.failed.length > 0) logger.warn('Backup token refresh finished with failures', { ...result });
    else if (result.refreshed.length === 0)
      logger.info('No merchant needs a token refresh', { checked: result.checked });
    else logger.info('Backup token refresh done', { ...result });
    return result;
  },
);
