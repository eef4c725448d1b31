import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { MAX_RECEIVES } from '../../src/function-settings.ts';

/** SQS on loopback (fauxqs, in memory). */
export async function startLocalSqs(opts: { port?: number } = {}) {
  const server = await startFauxqs({ port: opts.port ?? 0, logger: false });
  return { endpoint: `http://127.0.0.1:${server.port}`, stop: () => server.stop() };
}

export interface LocalQueues {
  pollQueueUrl: string;
  pollQueueArn: string;
  pollDlqUrl: string;
  pushQueueUrl: string;
  pushQueueArn: string;
  pushDlqUrl: string;
}

/** The deployed queue topology: two FIFO queues, each with a FIFO DLQ and the same redrive limits. */
export async function ensureQueues(
  sqs: SQSClient,
  opts: { pollVisibilitySeconds?: number; pushVisibilitySeconds?: number; prefix?: string } = {},
): Promise<LocalQueues> {
  const prefix = opts.prefix ?? 'esl-sync';
  const make = async (name: string, attributes: Record<string, string>) => {
    const out = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const url = out.QueueUrl as string;
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
    );
    return { url, arn: attrs.Attributes?.QueueArn as string };
  };
  const fifo = { FifoQueue: 'true', ContentBasedDeduplication: 'false' };
  const pollDlq = await make(`${prefix}-poll-dlq.fifo`, fifo);
  const pushDlq = await make(`${prefix}-push-dlq.fifo`, fifo);
  const poll = await make(`${prefix}-poll.fifo`, {
    ...fifo,
    VisibilityTimeout: String(opts.pollVisibilitySeconds ?? 20),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: pollDlq.arn,
      maxReceiveCount: String(MAX_RECEIVES),
    }),
  });
  const push = await make(`${prefix}-push.fifo`, {
    ...fifo,
    VisibilityTimeout: String(opts.pushVisibilitySeconds ?? 10),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: pushDlq.arn,
      maxReceiveCount: String(MAX_RECEIVES),
    }),
  });
  return {
    pollQueueUrl: poll.url,
    pollQueueArn: poll.arn,
    pollDlqUrl: pollDlq.url,
    pushQueueUrl: push.url,
    pushQueueArn: push.arn,
    pushDlqUrl: pushDlq.url,
  };
}
