/**
 * What a command runs against: the stores and queues of its target (the local stack or a deployed
 * stage), the Lambda functions it invokes, and the ways to wait for work to finish. Progress goes
 * to stdout, or to stderr with --json so that stdout holds the one JSON document.
 */
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { DEFAULT_SYNC_SETTINGS } from '../config.ts';
import { waitForQueuesDrained } from '../queues/depth.ts';
import { createQueueSender } from '../queues/sqs.ts';
import { createInviteStore } from '../store/connect.ts';
import { createDocumentClient } from '../store/dynamo.ts';
import { createRefresherHeartbeat } from '../store/heartbeat.ts';
import { createMerchantStore, type MerchantRecord } from '../store/merchants.ts';
import { createShelfStore } from '../store/shelf.ts';
import { queuedWorkDone } from '../sync/barrier.ts';
import { describeWait, type StoreProgress, type SyncRequest, waitForStores } from '../sync/progress.ts';
import type { StoreChangeDeps } from '../sync/stores.ts';
import { NotFoundError } from './errors.ts';
import type { CliIo } from './options.ts';
import type { Target } from './target.ts';

export type CommandContext = ReturnType<typeof commandContext>;

/** How often a wait says where it stands when nothing changed. */
const PROGRESS_EVERY_MS = 5_000;

export function commandContext(target: Target, io: CliIo, opts: { json: boolean; cli: string }) {
  const doc = createDocumentClient(target.dynamodb);
  const merchants = createMerchantStore(doc, target.stack.merchantsTable, Date.now, (merchantId, reason) =>
    io.err(`merchant ${merchantId} cannot be synced: ${reason}`),
  );
  const shelf = createShelfStore(doc, target.stack.productsTable);
  const progress = (line: string) => (opts.json ? io.err(line) : io.out(line));

  const mustGet = async (merchantId: string): Promise<MerchantRecord> => {
    const record = await merchants.get(merchantId);
    if (record) return record;
    // Clover's merchant ids are in capitals; one typed in small letters is the likeliest slip.
    const upper = merchantId.toUpperCase();
    const meant = upper !== merchantId ? await merchants.get(upper) : undefined;
    throw new NotFoundError(`unknown merchant ${merchantId}${meant ? ` (did you mean ${upper}?)` : ''}`);
  };

  const invoke = async <T>(functionName: string, payload: unknown): Promise<T> => {
    const out = await target.lambda.send(
      new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(payload)) }),
    );
    const body = out.Payload ? JSON.parse(Buffer.from(out.Payload).toString('utf8') || 'null') : null;
    if (out.FunctionError) {
      throw new Error(`${functionName} failed: ${body?.errorMessage ?? out.FunctionError}`);
    }
    return body as T;
  };

  /** Until the queues are empty (every store's polls and pushes): what `tick --wait` waits for. */
  const queuesDrained = async (
    timeoutMs: number,
    queues = [target.stack.pollQueueUrl, target.stack.pushQueueUrl],
  ) => {
    let lastReport = Date.now();
    await waitForQueuesDrained(target.sqs, queues, {
      timeoutMs,
      onProgress: (depths) => {
        // A line every 5 s while work is under way, so a long wait shows it is moving.
        if (Date.now() - lastReport < PROGRESS_EVERY_MS) return;
        lastReport = Date.now();
        const n = (url: string) => {
          const d = depths.get(url);
          return d ? d.visible + d.inFlight + d.delayed : 0;
        };
        const [poll, push] = [target.stack.pollQueueUrl, target.stack.pushQueueUrl];
        const parts = [
          ...(queues.includes(poll) ? [`${n(poll)} poll(s)`] : []),
          ...(queues.includes(push) ? [`${n(push)} push batch(es)`] : []),
        ];
        progress(`waiting: ${parts.join(' and ')} still queued or running`);
      },
    });
  };

  /** Until the polls and pushes queued for one store so far are done (a queue barrier). */
  const queuedWork = (merchantIds: readonly string[], timeoutMs: number) =>
    queuedWorkDone(
      { merchants, pollQueue: createQueueSender(target.sqs, target.stack.pollQueueUrl) },
      merchantIds,
      timeoutMs,
    );

  /**
   * Until each store's own records show the request done (see src/sync/progress.ts), printing
   * each store's progress as it changes. `settledCodePushes`: the request also sends labels whose
   * slots show them settled (a repush, refused labels tried again), so its pushes must be done too.
   */
  const storesSynced = async (
    merchantIds: readonly string[],
    request: SyncRequest,
    timeoutMs: number,
    settledCodePushes = false,
  ): Promise<StoreProgress[]> => {
    const deadline = Date.now() + timeoutMs;
    const said = new Map<string, { line: string; at: number }>();
    const done = await waitForStores({ merchants, shelf }, merchantIds, request, {
      timeoutMs,
      onProgress: (readings) => {
        for (const p of readings) {
          const line = describeWait(p);
          const before = said.get(p.merchantId);
          if (before?.line === line && Date.now() - before.at < PROGRESS_EVERY_MS) continue;
          said.set(p.merchantId, { line, at: Date.now() });
          progress(`${p.clean ? 'synced' : 'waiting'}: ${line}`);
        }
      },
    });
    if (settledCodePushes) {
      progress('waiting: for the pushes of the labels sent again (the records do not show those)');
      await queuedWork(merchantIds, Math.max(1, deadline - Date.now()));
    }
    return done;
  };

  return {
    target,
    doc,
    merchants,
    shelf,
    invites: createInviteStore(doc, target.stack.merchantsTable),
    heartbeat: createRefresherHeartbeat(doc, target.stack.merchantsTable),
    /** How the CLI is invoked for this target, for the commands it suggests. */
    cli: opts.cli,
    progress,
    warn: (line: string) => io.err(line),
    mustGet,
    invoke,
    queuesDrained,
    storesSynced,
    /** What moving or removing a store needs: the stores, the push queue, a backfill and a wait. */
    storeChanges: (timeoutMs: number): StoreChangeDeps => ({
      merchants,
      shelf,
      pushQueue: createQueueSender(target.sqs, target.stack.pushQueueUrl),
      backfill: (request) => invoke(target.stack.backfillFunction, request),
      settled: (merchantId) => queuedWork([merchantId], timeoutMs),
      hipoinkChunkSize: DEFAULT_SYNC_SETTINGS.hipoinkChunkSize,
      progress,
    }),
  };
}
