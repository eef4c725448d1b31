/**
 * What a store costs per month on AWS at a 2-minute interval, from the counts a benchmark tick
 * measured per merchant and AWS list prices. The prices are us-east-1 list prices as we knew them
 * (2025, before any free tier), written down here, not looked up: check them against the current
 * price pages before relying on the totals.
 */
import { POLLER, PUSH_CONSUMER } from '../src/function-settings.ts';

export const PRICES = {
  /** Lambda on Arm (Graviton): per GB-second, and per request. */
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  /** SQS FIFO queues: per request (each 64 KB of a message counts as one). */
  sqsFifoRequest: 0.5 / 1e6,
  /** DynamoDB on-demand: per write and per read request unit. */
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  /** CloudWatch Logs: per GB ingested, and per GB-month stored (logs are kept a month). */
  logIngestGb: 0.5,
  logStoreGbMonth: 0.03,
};

/** Polls of one store in a 30-day month at a 2-minute interval. */
export const POLLS_PER_MONTH = (30 * 24 * 60) / 2;

/** What a benchmark tick measured, per merchant (one poll each). */
export interface PerPoll {
  invocations: number;
  /** Handler time of the poller and push consumer invocations, per merchant. */
  pollerMs: number;
  consumerMs: number;
  sqsCalls: number;
  readUnits: number;
  writeUnits: number;
}

/**
 * Log bytes per poll and per invocation, estimated from the lines the functions write at INFO
 * (one "Merchant synced" line per poll, ~0.5 KB) and what Lambda adds per invocation (START, END,
 * REPORT and the metrics record, ~1 KB). Estimates: the local stack does not write CloudWatch logs.
 */
const LOG_BYTES_PER_POLL = 500;
const LOG_BYTES_PER_INVOCATION = 1000;

export interface StoreCost {
  lambda: number;
  sqs: number;
  dynamodb: number;
  logs: number;
  total: number;
}

/**
 * Dollars per store per month: what grows with the number of stores. What does not (the fan-out
 * every minute, the secret, metrics and alarms, KMS keys) is in docs/performance.md.
 */
export function costPerStore(p: PerPoll): StoreCost {
  const gbSeconds =
    (p.pollerMs / 1000) * (POLLER.memoryMb / 1024) + (p.consumerMs / 1000) * (PUSH_CONSUMER.memoryMb / 1024);
  const lambda = POLLS_PER_MONTH * (gbSeconds * PRICES.lambdaGbSecond + p.invocations * PRICES.lambdaRequest);
  const sqs = POLLS_PER_MONTH * p.sqsCalls * PRICES.sqsFifoRequest;
  const dynamodb =
    POLLS_PER_MONTH * (p.readUnits * PRICES.dynamoReadUnit + p.writeUnits * PRICES.dynamoWriteUnit);
  const logGb = (POLLS_PER_MONTH * (LOG_BYTES_PER_POLL + p.invocations * LOG_BYTES_PER_INVOCATION)) / 1e9;
  const logs = logGb * (PRICES.logIngestGb + PRICES.logStoreGbMonth);
  return { lambda, sqs, dynamodb, logs, total: lambda + sqs + dynamodb + logs };
}
