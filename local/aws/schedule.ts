import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';

/** The event EventBridge sends a Lambda target for a schedule rule. */
export function scheduledEvent(ruleArn: string, time = new Date()): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'us-east-1',
    resources: [ruleArn],
    detail: {},
  };
}

/** A local schedule rule: fires every `intervalSeconds` (0 = never), never two fires at once. */
export function startSchedule(
  intervalSeconds: number,
  fire: () => Promise<void>,
  onError?: (err: unknown) => void,
) {
  let current: Promise<void> | undefined;
  const timer =
    intervalSeconds > 0
      ? setInterval(() => {
          if (current) return;
          current = fire()
            .catch((err) => onError?.(err))
            .finally(() => {
              current = undefined;
            });
        }, intervalSeconds * 1000)
      : undefined;
  return {
    async stop() {
      if (timer) clearInterval(timer);
      await current;
    },
  };
}
