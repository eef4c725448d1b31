import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { createSqsClient } from '../queues/sqs.ts';
import { CONFIG_DIR, pinnedEnvOf, stackNameOf } from '../stage.ts';
import * as z from '../zod.ts';

/** Where the CLI acts: the running local stack (default) or the deployed stack (--aws). */
export const StackInfoSchema = z.object({
  merchantsTable: z.string(),
  productsTable: z.string(),
  pollQueueUrl: z.string(),
  pushQueueUrl: z.string(),
  pollDlqUrl: z.string(),
  pushDlqUrl: z.string(),
  fanOutFunction: z.string(),
  backfillFunction: z.string(),
  tokenRefresherFunction: z.string(),
  /** The web function's base URL (invite links); a stack deployed before it existed has none. */
  webUrl: z.optional(z.string()),
  /** The Clover REST host its functions call (`merchants add` checks tokens there); older stacks have none. */
  cloverApiBaseUrl: z.optional(z.string()),
});
export type StackInfo = z.infer<typeof StackInfoSchema>;

export const LocalStackFileSchema = z.extend(StackInfoSchema, {
  pid: z.number().check(z.int()),
  endpoints: z.object({
    dynamodb: z.string(),
    sqs: z.string(),
    lambda: z.string(),
    /** The web function (connect flow) on loopback. */
    web: z.optional(z.string()),
    /** The live shelf page (`npm start` only). */
    shelf: z.optional(z.string()),
  }),
  simulators: z._default(z.object({ clover: z.optional(z.string()), hipoink: z.optional(z.string()) }), {}),
});
export type LocalStackFile = z.infer<typeof LocalStackFileSchema>;

export interface Target {
  kind: 'local' | 'aws';
  stack: StackInfo;
  dynamodb: DynamoDBClient;
  sqs: ReturnType<typeof createSqsClient>;
  lambda: LambdaClient;
}

export const dataDir = (env: NodeJS.ProcessEnv = process.env) =>
  resolve(env.ESL_SYNC_DATA_DIR || '.esl-sync');
export const stackFilePath = (dir = dataDir()) => join(dir, 'stack.json');

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The pid of a local stack that still runs from `dir`, if any: two stacks sharing one data directory
 * would wipe each other's demo state and stack file. A stack file left by one that was killed may
 * name a pid reused since, so its web endpoint must answer too.
 */
export async function runningLocalStackPid(dir = dataDir()): Promise<number | undefined> {
  let file: { pid?: unknown; endpoints?: { web?: unknown } };
  try {
    file = JSON.parse(readFileSync(stackFilePath(dir), 'utf8'));
  } catch {
    return undefined; // none, or not one a stack wrote whole
  }
  const { pid } = file;
  const web = file.endpoints?.web;
  if (!Number.isInteger(pid) || pid === process.pid || !processAlive(pid as number)) return undefined;
  if (typeof web !== 'string') return undefined;
  const answers = await fetch(web, { signal: AbortSignal.timeout(2_000) }).then(
    async (response) => {
      await response.body?.cancel();
      return true;
    },
    () => false,
  );
  return answers ? (pid as number) : undefined;
}

export function readLocalStack(dir = dataDir()): LocalStackFile {
  const file = stackFilePath(dir);
  if (!existsSync(file)) {
    throw new Error(`No local stack is running (no ${file}). Start it with \`npm start\`, or use --aws.`);
  }
  const info = LocalStackFileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  if (!processAlive(info.pid)) {
    throw new Error(
      `The local stack that wrote ${file} (pid ${info.pid}) is not running. Start it with \`npm start\`.`,
    );
  }
  return info;
}

export function localTarget(dir = dataDir()): Target {
  const info = readLocalStack(dir);
  const common = { region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
  return {
    kind: 'local',
    stack: { ...info, ...(info.endpoints.web ? { webUrl: info.endpoints.web } : {}) },
    dynamodb: new DynamoDBClient({ ...common, endpoint: info.endpoints.dynamodb }),
    sqs: createSqsClient({ ...common, endpoint: info.endpoints.sqs }),
    lambda: new LambdaClient({ ...common, endpoint: info.endpoints.lambda }),
  };
}

const OUTPUT_KEYS: Record<Exclude<keyof StackInfo, 'webUrl' | 'cloverApiBaseUrl'>, string> = {
  merchantsTable: 'MerchantsTableName',
  productsTable: 'ProductsTableName',
  pollQueueUrl: 'PollQueueUrl',
  pushQueueUrl: 'PushQueueUrl',
  pollDlqUrl: 'PollDlqUrl',
  pushDlqUrl: 'PushDlqUrl',
  fanOutFunction: 'FanOutFunctionName',
  backfillFunction: 'BackfillFunctionName',
  tokenRefresherFunction: 'TokenRefresherFunctionName',
};
/** Optional outputs the CLI reads when the stack has them. */
const OPTIONAL_OUTPUTS = { webUrl: 'WebUrl', cloverApiBaseUrl: 'CloverApiBaseUrl' } as const;
/** Every stack output the CLI reads (the stack's tests hold the stack to it). */
export const CLI_STACK_OUTPUTS = [...Object.values(OUTPUT_KEYS), ...Object.values(OPTIONAL_OUTPUTS)];

/**
 * The deployed stack of a stage (`EslSync-<stage>`), found through its CloudFormation outputs
 * with the default AWS credentials, in the region its settings pin it to or the default region.
 * A stage pinned to an account is acted on only there: credentials of another account that holds
 * a stack of the same name (a test account, say) are refused before anything is read or changed.
 */
export async function awsTarget(stage: string, configDir = CONFIG_DIR): Promise<Target> {
  const stackName = stackNameOf(stage);
  const { account, region } = pinnedEnvOf(stage, configDir);
  const config = region === undefined ? {} : { region };
  const where =
    region === undefined
      ? 'in the account and region of these AWS credentials'
      : `in region ${region} (config/${stage}.json) and the account of these AWS credentials`;
  const cfn = new CloudFormationClient(config);
  const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName })).catch((err: unknown) => {
    throw new Error(
      `Could not read stack ${stackName} (stage ${stage}): ${(err as Error).message}. Is the stage deployed ` +
        `(\`npx cdk deploy -c stage=${stage}\`) ${where}?`,
    );
  });
  // A stack id is arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>.
  const foundIn = out.Stacks?.[0]?.StackId?.split(':')[4];
  if (account !== undefined && foundIn !== account) {
    throw new Error(
      `config/${stage}.json pins stage ${stage} to AWS account ${account}, but these credentials found ` +
        `${stackName} in account ${foundIn ?? '(unknown)'}: use credentials of account ${account} ` +
        '(e.g. AWS_PROFILE=<its profile>)',
    );
  }
  const outputs = new Map((out.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  const stack = Object.fromEntries(
    Object.entries(OUTPUT_KEYS).map(([key, output]) => {
      const value = outputs.get(output);
      if (!value) throw new Error(`Stack ${stackName} has no output ${output}; is it deployed?`);
      return [key, value];
    }),
  ) as StackInfo;
  for (const [key, output] of Object.entries(OPTIONAL_OUTPUTS)) {
    const value = outputs.get(output);
    if (value) stack[key as keyof typeof OPTIONAL_OUTPUTS] = value;
  }
  return {
    kind: 'aws',
    stack,
    dynamodb: new DynamoDBClient(config),
    sqs: createSqsClient(config),
    lambda: new LambdaClient(config),
  };
}
