import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTables, startLocalDynamo } from '../../../local/aws/dynamo.ts';
import { runAs } from '../../../local/aws/iam.ts';
import { startLocalLambda } from '../../../local/aws/lambda.ts';
import { startQueuePump } from '../../../local/aws/pump.ts';
import { startLocalSecrets } from '../../../local/aws/secrets.ts';
import { ensureQueues, type LocalQueues, startLocalSqs } from '../../../local/aws/sqs.ts';
import { CloverApiError } from '../../../src/errors.ts';
import type { GrantedFunction } from '../../../src/grants.ts';
import { processQueueBatch } from '../../../src/queues/batch.ts';
import { queueDepth, waitForQueuesDrained } from '../../../src/queues/depth.ts';
import { createRetryScheduler, createSqsClient } from '../../../src/queues/sqs.ts';
import { appSecretSource, secretsClient } from '../../../src/secrets.ts';
import { ATTENTION_KEY } from '../../../src/store/attention.ts';
import { createDocumentClient } from '../../../src/store/dynamo.ts';
import { REFRESHER_HEARTBEAT_KEY } from '../../../src/store/heartbeat.ts';
import * as z from '../../../src/zod.ts';

const common = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };

describe('local DynamoDB (dynalite)', () => {
  it('keeps data across a restart on the same path and frees its port on stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'esl-dynamo-'));
    try {
      const first = await startLocalDynamo({ path: dir });
      const db = new DynamoDBClient({ ...common, endpoint: first.endpoint });
      const names = { merchantsTable: 'merchants', productsTable: 'products' };
      await ensureTables(db, names);
      await ensureTables(db, names); // idempotent
      await db.send(new PutItemCommand({ TableName: 'merchants', Item: { merchantId: { S: 'M1' } } }));
      const port = Number(new URL(first.endpoint).port);
      await first.stop();
      const second = await startLocalDynamo({ path: dir, port });
      const db2 = new DynamoDBClient({ ...common, endpoint: second.endpoint });
      expect((await db2.send(new ListTablesCommand({}))).TableNames?.sort()).toEqual([
        'merchants',
        'products',
      ]);
      expect(
        (await db2.send(new GetItemCommand({ TableName: 'merchants', Key: { merchantId: { S: 'M1' } } })))
          .Item,
      ).toBeDefined();
      await second.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('local SQS (fauxqs) and the event-source pump', () => {
  let stop: () => Promise<void>;
  let queues: LocalQueues;
  let sqs: ReturnType<typeof createSqsClient>;
  beforeAll(async () => {
    const server = await startLocalSqs();
    stop = server.stop;
    sqs = createSqsClient({ ...common, endpoint: server.endpoint });
    queues = await ensureQueues(sqs, { pollVisibilitySeconds: 1, pushVisibilitySeconds: 1 });
  });
  afterAll(() => stop());

  const send = (body: string, group: string, dedup: string) =>
    sqs.send(
      new SendMessageCommand({
        QueueUrl: queues.pushQueueUrl,
        MessageBody: body,
        MessageGroupId: group,
        MessageDeduplicationId: dedup,
      }),
    );

  it('drops a duplicate deduplication id on the FIFO queue', async () => {
    await send('one', 'g', 'same');
    await send('two', 'g', 'same');
    expect((await queueDepth(sqs, queues.pushQueueUrl)).visible).toBe(1);
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.pushQueueUrl, MaxNumberOfMessages: 10 }));
  });

  it('deletes what the handler processed, redelivers reported failures, and dead-letters after 5 receives', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // the message received above becomes visible again
    const seen = new Map<string, number>();
    const events: SQSEvent[] = [];
    const pump = startQueuePump({
      sqs,
      queueUrl: queues.pushQueueUrl,
      queueArn: queues.pushQueueArn,
      functionName: 'test',
      batchSize: 10,
      maxConcurrency: 2,
      timeoutMs: 5_000,
      waitTimeSeconds: 1,
      handler: async (event) => {
        events.push(event);
        const failures = [];
        for (const r of event.Records) {
          seen.set(r.body, (seen.get(r.body) ?? 0) + 1);
          if (r.body === 'poison') failures.push({ itemIdentifier: r.messageId });
        }
        return { batchItemFailures: failures };
      },
    });
    await send('good', 'g1', 'good');
    await send('poison', 'g2', 'poison');
    await waitForQueuesDrained(sqs, [queues.pushQueueUrl], { timeoutMs: 20_000, pollMs: 200 });
    await pump.stop();
    expect(seen.get('good')).toBe(1);
    expect(seen.get('poison')).toBe(5);
    expect((await queueDepth(sqs, queues.pushDlqUrl)).visible).toBe(1);
    const record = events.flatMap((e) => e.Records).find((r) => r.body === 'good');
    expect(record).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: queues.pushQueueArn,
      awsRegion: 'us-east-1',
    });
    expect(record?.attributes.MessageGroupId).toBe('g1');
  });
});

describe('retrying a failed message', () => {
  it('brings it back after the backoff, not after the queue’s long visibility timeout', async () => {
    const server = await startLocalSqs();
    try {
      const sqs = createSqsClient({ ...common, endpoint: server.endpoint });
      const queues = await ensureQueues(sqs, { prefix: 'retry', pollVisibilitySeconds: 60 });
      const retry = { ...createRetryScheduler(sqs, queues.pollQueueUrl), baseSeconds: 1 };
      const attempts: number[] = [];
      const pump = startQueuePump({
        sqs,
        queueUrl: queues.pollQueueUrl,
        queueArn: queues.pollQueueArn,
        functionName: 'test',
        batchSize: 10,
        maxConcurrency: 1,
        timeoutMs: 5_000,
        waitTimeSeconds: 1,
        handler: (event, context) =>
          processQueueBatch(event, context, {
            schema: z.object({ merchantId: z.string() }),
            deadLetter: undefined,
            retry,
            handle: async () => {
              attempts.push(Date.now());
              if (attempts.length === 1) throw new CloverApiError('Clover answered 503', { status: 503 });
            },
          }),
      });
      const started = Date.now();
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queues.pollQueueUrl,
          MessageBody: '{"merchantId":"M1"}',
          MessageGroupId: 'M1',
          MessageDeduplicationId: 'retry-1',
        }),
      );
      await waitForQueuesDrained(sqs, [queues.pollQueueUrl], { timeoutMs: 20_000, pollMs: 200 });
      await pump.stop();
      expect(attempts).toHaveLength(2);
      // One second of backoff, not the queue's 60 s visibility timeout.
      expect((attempts[1] as number) - (attempts[0] as number)).toBeGreaterThanOrEqual(900);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await server.stop();
    }
  });
});

describe('local Secrets Manager and Lambda endpoints', () => {
  it('serves secrets to the SDK and to Powertools', async () => {
    const secrets = await startLocalSecrets({ app: JSON.stringify({ cloverAppId: 'A' }) });
    try {
      const client = new SecretsManagerClient({ ...common, endpoint: secrets.endpoint });
      expect((await client.send(new GetSecretValueCommand({ SecretId: 'app' }))).SecretString).toContain(
        'cloverAppId',
      );
      await expect(client.send(new GetSecretValueCommand({ SecretId: 'missing' }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
      expect(await appSecretSource('app', { client })()).toEqual({ cloverAppId: 'A' });
    } finally {
      await secrets.stop();
    }
  });

  it('invokes functions through the real LambdaClient, reporting handler errors as Lambda does', async () => {
    const lambda = await startLocalLambda({
      ok: async (event: never) => ({ echo: event }),
      broken: async () => {
        throw new TypeError('bad input');
      },
    });
    try {
      const client = new LambdaClient({ ...common, endpoint: lambda.endpoint });
      const ok = await client.send(
        new InvokeCommand({ FunctionName: 'ok', Payload: Buffer.from('{"a":1}') }),
      );
      expect(JSON.parse(Buffer.from(ok.Payload ?? []).toString())).toEqual({ echo: { a: 1 } });
      const bad = await client.send(
        new InvokeCommand({ FunctionName: 'broken', Payload: Buffer.from('{}') }),
      );
      expect(bad.FunctionError).toBe('Unhandled');
      expect(JSON.parse(Buffer.from(bad.Payload ?? []).toString())).toMatchObject({
        errorMessage: 'bad input',
      });
      await expect(client.send(new InvokeCommand({ FunctionName: 'nope' }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
    } finally {
      await lambda.stop();
    }
  });
});

describe('the app secret', () => {
  it('refuses the placeholder the stack deploys with, naming the field but no value', async () => {
    const secrets = await startLocalSecrets({
      app: JSON.stringify({ cloverAppId: 'SET-ME', cloverAppSecret: 'generated-sign-value' }),
    });
    try {
      const client = new SecretsManagerClient({ ...common, endpoint: secrets.endpoint });
      const err = await appSecretSource('app', { client })().then(
        () => new Error('expected a refusal'),
        (e: unknown) => e as Error,
      );
      expect(err.message).toMatch(/cloverAppId: still the placeholder/);
      expect(err.message).not.toContain('generated-sign-value');
    } finally {
      await secrets.stop();
    }
  });
});

describe('local IAM', () => {
  /** Function `fn` as the local stack runs it, over tables `mmm`/`ppp`; refusals go to `denied`. */
  const asFunction = (fn: GrantedFunction, denied: string[]) => ({
    fn,
    tables: { merchantsTable: 'mmm', productsTable: 'ppp' },
    queueUrls: { pollQueue: 'q1', pollDlq: 'q2', pushQueue: 'q3', pushDlq: 'q4' },
    secretIds: { app: 'app', hipoink: 'hipoink', stateKey: 'key' },
    denied: (line: string) => denied.push(line),
  });

  it("refuses a handler's read of a secret its function is not granted, as IAM would, and says so", async () => {
    const secrets = await startLocalSecrets({ app: '{}', hipoink: '{}', key: 'k' });
    const denied: string[] = [];
    const client = secretsClient({ ...common, endpoint: secrets.endpoint });
    const read = (fn: GrantedFunction, id: string) =>
      runAs(
        asFunction(fn, denied),
        async () => (await client.send(new GetSecretValueCommand({ SecretId: id }))).Name,
      )(undefined, undefined);
    try {
      expect(await read('pushConsumer', 'hipoink')).toBe('hipoink');
      expect(await read('poller', 'app')).toBe('app');
      expect(await read('web', 'key')).toBe('key');
      for (const [fn, id] of [
        ['pushConsumer', 'app'],
        ['poller', 'hipoink'],
        ['web', 'hipoink'],
        ['fanOut', 'app'],
      ] as const)
        await expect(read(fn, id), `${fn} ${id}`).rejects.toMatchObject({ name: 'AccessDeniedException' });
      expect(denied[0]).toBe(
        'the pushConsumer function is not granted secretsmanager:GetSecretValue on app (src/grants.ts)',
      );
      // Outside a handler (the operator's CLI, the pumps) nothing is checked.
      expect((await client.send(new GetSecretValueCommand({ SecretId: 'hipoink' }))).Name).toBe('hipoink');
    } finally {
      await secrets.stop();
    }
  });

  it("lets a function write its own record of the merchants table, and refuses its write of a merchant's", async () => {
    const dynamo = await startLocalDynamo({});
    const db = new DynamoDBClient({ ...common, endpoint: dynamo.endpoint });
    await ensureTables(db, { merchantsTable: 'mmm', productsTable: 'ppp' });
    const doc = createDocumentClient(db);
    const denied: string[] = [];
    const put = (fn: GrantedFunction, merchantId: string) =>
      runAs(asFunction(fn, denied), async () => {
        await doc.send(new PutCommand({ TableName: 'mmm', Item: { merchantId, x: 1 } }));
      })(undefined, undefined);
    try {
      await put('fanOut', ATTENTION_KEY);
      await put('tokenRefresher', REFRESHER_HEARTBEAT_KEY);
      for (const [fn, key] of [
        ['fanOut', 'MERCHANT1'],
        ['fanOut', REFRESHER_HEARTBEAT_KEY],
        ['tokenRefresher', 'MERCHANT1'],
        ['poller', ATTENTION_KEY],
      ] as const)
        await expect(put(fn, key), `${fn} ${key}`).rejects.toMatchObject({ name: 'AccessDeniedException' });
      expect(denied[0]).toBe('the fanOut function is not granted dynamodb:PutItem on mmm (src/grants.ts)');
      expect(
        await doc.send(new GetCommand({ TableName: 'mmm', Key: { merchantId: 'MERCHANT1' } })),
      ).not.toHaveProperty('Item');
    } finally {
      await dynamo.stop();
    }
  });
});
