import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli, UsageError } from '../../src/cli/main.ts';
import { awsTarget, type Target } from '../../src/cli/target.ts';
import { pinnedEnvOf } from '../../src/stage.ts';

const cfn = mockClient(CloudFormationClient);
afterEach(() => {
  cfn.reset();
  vi.unstubAllEnvs();
});

const OUTPUT_NAMES = [
  'MerchantsTableName',
  'ProductsTableName',
  'PollQueueUrl',
  'PushQueueUrl',
  'PollDlqUrl',
  'PushDlqUrl',
  'FanOutFunctionName',
  'BackfillFunctionName',
  'TokenRefresherFunctionName',
];

const silent = { out: () => undefined, err: () => undefined };

/** Runs the CLI up to the point where it looks its target up; returns what it asked for. */
async function targetAskedFor(args: string[]) {
  const asked: Array<{ aws: boolean; stage: string | undefined }> = [];
  const resolve = async (aws: boolean, stage: string | undefined): Promise<Target> => {
    asked.push({ aws, stage });
    throw new Error('looked up');
  };
  const err = await runCli(args, silent, resolve).catch((e: unknown) => e);
  return { asked, err };
}

describe('esl-sync --aws --stage', () => {
  it('acts on the stage named by --stage, or by ESL_SYNC_STAGE', async () => {
    vi.stubEnv('ESL_SYNC_STAGE', '');
    expect((await targetAskedFor(['status', '--aws', '--stage', 'production'])).asked).toEqual([
      { aws: true, stage: 'production' },
    ]);
    vi.stubEnv('ESL_SYNC_STAGE', 'sandbox');
    expect((await targetAskedFor(['status', '--aws'])).asked).toEqual([{ aws: true, stage: 'sandbox' }]);
    // The option wins over the environment.
    expect((await targetAskedFor(['status', '--aws', '--stage', 'production'])).asked).toEqual([
      { aws: true, stage: 'production' },
    ]);
    // Locally the stage variable is irrelevant.
    expect((await targetAskedFor(['status'])).asked).toEqual([{ aws: false, stage: undefined }]);
  });

  it.each([
    [['status', '--aws'], /--aws needs the stage to act on: --stage NAME, or ESL_SYNC_STAGE=NAME/],
    [['status', '--stage', 'production'], /--stage names a deployed stage: use it with --aws/],
    [['status', '--aws', '--stage', 'Prod_1'], /--stage: A stage name is lower-case letters/],
  ])('refuses %j before looking anything up', async (args, message) => {
    vi.stubEnv('ESL_SYNC_STAGE', '');
    const { asked, err } = await targetAskedFor(args);
    expect(asked).toEqual([]);
    expect(String(err)).toMatch(message);
    expect(err).toBeInstanceOf(UsageError);
  });

  it('reads the outputs of stack EslSync-<stage>', async () => {
    const outputs = {
      MerchantsTableName: 'm-table',
      ProductsTableName: 'p-table',
      PollQueueUrl: 'https://sqs/poll.fifo',
      PushQueueUrl: 'https://sqs/push.fifo',
      PollDlqUrl: 'https://sqs/poll-dlq.fifo',
      PushDlqUrl: 'https://sqs/push-dlq.fifo',
      FanOutFunctionName: 'fan-out',
      BackfillFunctionName: 'backfill',
      TokenRefresherFunctionName: 'refresher',
    };
    // Any other stack name: CloudFormation's answer for a stack that does not exist.
    cfn.on(DescribeStacksCommand).rejects(new Error('Stack with id EslSync-other does not exist'));
    cfn.on(DescribeStacksCommand, { StackName: 'EslSync-production' }).resolves({
      Stacks: [
        {
          StackName: 'EslSync-production',
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
        },
      ],
    });
    const target = await awsTarget('production');
    expect(target.kind).toBe('aws');
    expect(target.stack).toMatchObject({ merchantsTable: 'm-table', fanOutFunction: 'fan-out' });
    await expect(awsTarget('other')).rejects.toThrow(
      /stack EslSync-other \(stage other\): Stack with id EslSync-other does not exist.*npx cdk deploy -c stage=other/,
    );
  });

  it('looks in the region the stage file pins the stage to, whatever the default region', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esl-sync-stages-'));
    try {
      const settings = { hipoinkBaseUrl: 'https://esl.chain.net', productCodePrecedence: 'code,sku,id' };
      writeFileSync(join(dir, 'production.json'), JSON.stringify({ ...settings, region: 'eu-west-1' }));
      writeFileSync(join(dir, 'staging.json'), JSON.stringify(settings));
      expect(pinnedEnvOf('production', dir)).toEqual({ region: 'eu-west-1' });
      expect(pinnedEnvOf('staging', dir)).toEqual({});
      expect(pinnedEnvOf('absent', dir)).toEqual({});

      vi.stubEnv('AWS_REGION', 'us-east-1');
      cfn.on(DescribeStacksCommand).rejects(new Error('Stack with id EslSync-production does not exist'));
      await expect(awsTarget('production', dir)).rejects.toThrow(
        /in region eu-west-1 \(config\/production.json\)/,
      );
      const client = cfn.call(0).thisValue as CloudFormationClient;
      expect(await client.config.region()).toBe('eu-west-1');

      cfn.reset();
      cfn.on(DescribeStacksCommand).resolves({
        Stacks: [
          {
            StackName: 'EslSync-production',
            CreationTime: new Date(),
            StackStatus: 'CREATE_COMPLETE',
            Outputs: OUTPUT_NAMES.map((OutputKey) => ({ OutputKey, OutputValue: 'x' })),
          },
        ],
      });
      const target = await awsTarget('production', dir);
      expect(await target.dynamodb.config.region()).toBe('eu-west-1');
      expect(await target.sqs.config.region()).toBe('eu-west-1');
      expect(await target.lambda.config.region()).toBe('eu-west-1');
      // A stage that pins no region is looked up in the default one.
      await awsTarget('staging', dir);
      expect(await (cfn.call(1).thisValue as CloudFormationClient).config.region()).toBe('us-east-1');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('acts on a stage pinned to an account only with credentials of that account', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esl-sync-stages-'));
    try {
      const settings = { hipoinkBaseUrl: 'https://esl.chain.net', productCodePrecedence: 'code,sku,id' };
      writeFileSync(join(dir, 'production.json'), JSON.stringify({ ...settings, account: '111111111111' }));
      expect(pinnedEnvOf('production', dir)).toEqual({ account: '111111111111' });
      const stackIn = (account: string) => ({
        Stacks: [
          {
            StackName: 'EslSync-production',
            StackId: `arn:aws:cloudformation:us-east-1:${account}:stack/EslSync-production/0f1e`,
            CreationTime: new Date(),
            StackStatus: 'UPDATE_COMPLETE' as const,
            Outputs: OUTPUT_NAMES.map((OutputKey) => ({ OutputKey, OutputValue: 'x' })),
          },
        ],
      });
      // Another account holding a stack of the same name (a test account's credentials).
      cfn.on(DescribeStacksCommand).resolves(stackIn('222222222222'));
      await expect(awsTarget('production', dir)).rejects.toThrow(
        'config/production.json pins stage production to AWS account 111111111111, but these credentials found EslSync-production in account 222222222222',
      );
      cfn.reset();
      cfn.on(DescribeStacksCommand).resolves(stackIn('111111111111'));
      expect((await awsTarget('production', dir)).kind).toBe('aws');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
