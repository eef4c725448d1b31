import type { Duration } from 'aws-cdk-lib';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { type METRIC, METRIC_NAMESPACE } from '../src/metric-names.ts';

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/**
 * One of the functions' own metrics, as they publish it (Powertools EMF): our namespace, and the
 * stage's service as its only dimension. Names come from src/metric-names.ts only.
 */
export function serviceMetric(
  serviceName: string,
  metricName: MetricName,
  opts: { statistic: string; period?: Duration; label?: string },
): Metric {
  return new Metric({
    namespace: METRIC_NAMESPACE,
    metricName,
    dimensionsMap: { service: serviceName },
    statistic: opts.statistic,
    ...(opts.period === undefined ? {} : { period: opts.period }),
    ...(opts.label === undefined ? {} : { label: opts.label }),
  });
}
