import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import * as z from 'zod';
import { TokenPairSchema } from '../clover/schemas.ts';
import { DEFAULT_SYNC_SETTINGS } from '../config.ts';
import { assignProblem, nextMerchantState } from '../connect/authorize.ts';
import {
  InviteDaysSchema,
  inviteUrl,
  MAX_INVITE_DAYS,
  newInvite,
  StoreCodeSchema,
} from '../connect/invites.ts';
import {
  DEFAULT_LABEL_OPTIONS,
  LABEL_FACTS,
  type LabelOptions,
  LabelOptionsSchema,
} from '../domain/label.ts';
import { shelfReport } from '../domain/shelf.ts';
import { queueDepth, waitForQueuesDrained } from '../queues/depth.ts';
import { peekDeadLetters, redriveDeadLetters } from '../queues/redrive.ts';
import { createQueueSender } from '../queues/sqs.ts';
import { checkStageName } from '../stage.ts';
import { createInviteStore } from '../store/connect.ts';
import { createDocumentClient } from '../store/dynamo.ts';
import { createRefresherHeartbeat, heartbeatLate, type RefresherRun } from '../store/heartbeat.ts';
import { createMerchantStore, type MerchantView, merchantView } from '../store/merchants.ts';
import { createShelfStore } from '../store/shelf.ts';
import { createWebhookVerificationStore } from '../store/webhooks.ts';
import { SinceSchema } from '../sync/messages.ts';
import { moveStore, removeMerchant, type StoreChangeDeps } from '../sync/stores.ts';
import { awsTarget, localTarget, type Target } from './target.ts';

const USAGE = `Usage: esl-sync <command> [options]   (acts on the local stack from \`npm start\`;
       add --aws --stage NAME, or --aws with ESL_SYNC_STAGE=NAME, for the deployed stack EslSync-NAME)

  stores invite --store-code CODE [--expires-in DAYS] [--json]
                                          a single-use link (default 7 days) that connects a store's
                                          Clover account to these labels: the owner opens it and presses Allow
  merchants reconnect ID [--json]         a single-use link that re-authorizes that merchant (after needs_reauth)
  merchants assign ID --store-code CODE [--wait] [--timeout SECS]
                                          give a pending merchant its store code (then a full resync), or
                                          move a merchant's labels to another store (the new store gets
                                          every label first, then the old one is emptied)
  merchants remove ID [--remove-labels]   offboard a store: stop syncing, delete its tokens and records;
                                          with --remove-labels its labels leave Hipoink first
  merchants add --merchant-id ID --store-code CODE --tokens-file FILE|-
                                          FILE (or stdin: -) holds Clover's JSON {access_token,
                                          access_token_expiration, refresh_token, refresh_token_expiration}
  merchants add --merchant-id ID --store-code CODE --access-token T --access-token-expiration SECS
                --refresh-token T --refresh-token-expiration SECS   (tokens end up in shell history)
  merchants list [--json]
  merchants show ID [--json]
  merchants disable ID [--reason TEXT]    stop syncing a store (its labels stay as they are)
  merchants enable ID                     sync a disabled store again
  merchants configure ID [--field-map f1=unitCost,f2=priceType,…] [--variable-price base|remove]
                                          label rules for one store; queues a full resync to apply them
  tick [--wait] [--timeout SECS]          run one fan-out (every active merchant is polled)
  backfill (--merchant-id ID | --all) [--since ISO-TIME|UNIX-MS] [--repush] [--wait] [--timeout SECS]
                                          full resync, including removal of items gone from Clover;
                                          --repush sends every label again (a Hipoink that lost them)
  status [--json]
  tokens refresh                          run the backup token refresher now (refreshes tokens that are due)
  webhooks verification-code [--json]     the code of Clover's last webhook verification request, and when
                                          it came: enter it in the app's webhook settings in Clover
  dlq list [--queue poll|push] [--json]   what the dead-letter queues hold, with each failure reason
  dlq redrive [--queue poll|push]         send dead-lettered messages back to their queue (both if no --queue)

Token values are stored encrypted; they are never printed.`;

const ARGV_TOKEN_WARNING =
  'warning: token values given as options end up in your shell history and the process list; ' +
  'prefer --tokens-file FILE, or --tokens-file - to read them from stdin';

export class UsageError extends Error {}

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** The text of a file, or of stdin for `-` (default: the real file system and stdin). */
  readInput?: (source: string) => Promise<string>;
}

async function readInput(source: string): Promise<string> {
  if (source !== '-') return readFile(source, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

const OPTIONS = {
  aws: { type: 'boolean' },
  stage: { type: 'string' },
  json: { type: 'boolean' },
  wait: { type: 'boolean' },
  all: { type: 'boolean' },
  queue: { type: 'string' },
  since: { type: 'string' },
  reason: { type: 'string' },
  'field-map': { type: 'string' },
  'variable-price': { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'merchant-id': { type: 'string' },
  'store-code': { type: 'string' },
  'access-token': { type: 'string' },
  'access-token-expiration': { type: 'string' },
  'refresh-token': { type: 'string' },
  'refresh-token-expiration': { type: 'string' },
  'tokens-file': { type: 'string' },
  'expires-in': { type: 'string' },
  'remove-labels': { type: 'boolean' },
  repush: { type: 'boolean' },
} as const;

const parseCliArgs = (argv: string[]) =>
  parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
type CliValues = ReturnType<typeof parseCliArgs>['values'];

/** Each command and its subcommands (undefined: it takes none). */
const COMMANDS: Record<string, readonly string[] | undefined> = {
  stores: ['invite'],
  merchants: ['add', 'list', 'show', 'disable', 'enable', 'configure', 'reconnect', 'assign', 'remove'],
  tick: undefined,
  backfill: undefined,
  status: undefined,
  tokens: ['refresh'],
  dlq: ['list', 'redrive'],
  webhooks: ['verification-code'],
};
const MERCHANT_ID_SUBCOMMANDS = ['show', 'disable', 'enable', 'configure', 'reconnect', 'assign', 'remove'];

function merchantIdArg(sub: string | undefined, arg: string | undefined): string {
  if (!arg) throw new UsageError(`merchants ${sub} needs a merchant id`);
  return arg;
}

function dlqSelection(values: CliValues): 'all' | 'poll' | 'push' {
  const which = values.queue ?? 'all';
  if (which !== 'all' && which !== 'poll' && which !== 'push')
    throw new UsageError('--queue is poll or push');
  return which;
}

/**
 * Every check that needs no stack, made before the stack is looked up: bad input gets its usage
 * error even when no stack is running (or --aws has no credentials).
 */
async function checkUsage(
  command: string,
  sub: string | undefined,
  arg: string | undefined,
  values: CliValues,
  io: CliIo,
) {
  if (!Object.hasOwn(COMMANDS, command)) throw new UsageError(`unknown command: ${command}`);
  const subs = COMMANDS[command];
  if (subs && (sub === undefined || !subs.includes(sub))) {
    throw new UsageError(`unknown ${command} command: ${sub ?? '(none)'}`);
  }
  const timeoutSeconds = Number(values.timeout ?? 300);
  // NaN would never pass the deadline: --wait would wait forever.
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new UsageError('--timeout takes a number of seconds greater than 0');
  }
  if (command === 'merchants' && sub !== undefined && MERCHANT_ID_SUBCOMMANDS.includes(sub)) {
    merchantIdArg(sub, arg);
  }
  // Given rules replace whole fields, so checking them over the defaults finds what the stored ones would.
  if (command === 'merchants' && sub === 'configure') parseLabelOptions(values, undefined);
  if (command === 'dlq') dlqSelection(values);
  const needsStoreCode =
    (command === 'stores' && sub === 'invite') || (command === 'merchants' && sub === 'assign');
  return {
    stage: deployedStage(values),
    timeoutMs: timeoutSeconds * 1000,
    merchantAdd: command === 'merchants' && sub === 'add' ? await parseMerchantAdd(values, io) : undefined,
    backfill: command === 'backfill' ? backfillPayload(values) : undefined,
    storeCode: needsStoreCode ? storeCodeOption(values) : undefined,
    inviteDays: command === 'stores' ? inviteDays(values) : undefined,
  };
}

function storeCodeOption(values: CliValues): string {
  const parsed = StoreCodeSchema.safeParse(values['store-code']);
  if (values['store-code'] === undefined) throw new UsageError('--store-code CODE is required');
  if (!parsed.success) throw new UsageError(`--store-code: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

function inviteDays(values: CliValues): number | undefined {
  if (values['expires-in'] === undefined) return undefined;
  const parsed = InviteDaysSchema.safeParse(values['expires-in']);
  if (!parsed.success) {
    throw new UsageError(`--expires-in takes a number of days greater than 0 and at most ${MAX_INVITE_DAYS}`);
  }
  return parsed.data;
}

export async function runCli(
  argv: string[],
  io: CliIo,
  resolveTarget?: (aws: boolean, stage: string | undefined) => Promise<Target>,
) {
  const { values, positionals } = parseCliArgs(argv);
  const [command, sub, arg] = positionals;
  if (values.help || !command) {
    io.out(USAGE);
    return;
  }
  const usage = await checkUsage(command, sub, arg, values, { readInput, ...io });
  const target = await (resolveTarget ?? defaultTarget)(values.aws ?? false, usage.stage);
  const doc = createDocumentClient(target.dynamodb);
  const merchants = createMerchantStore(doc, target.stack.merchantsTable, Date.now, (merchantId, reason) =>
    io.err(`merchant ${merchantId} cannot be synced: ${reason}`),
  );
  const shelf = createShelfStore(doc, target.stack.productsTable);
  const report = async (merchantId: string) =>
    shelfReport(await shelf.listItems(merchantId), await shelf.listSlots(merchantId));
  const invites = createInviteStore(doc, target.stack.merchantsTable);
  const print = (value: unknown) => io.out(JSON.stringify(value, null, 2));
  const cliName = target.kind === 'aws' ? 'esl-sync --aws' : 'esl-sync';

  /** Stores a new invite and prints its link: the one time the link is shown. */
  const invite = async (
    what: { storeCode: string } | { forMerchant: string },
    days: number | undefined,
    describe: string,
  ) => {
    const webUrl = target.stack.webUrl;
    if (!webUrl) {
      throw new Error(
        target.kind === 'aws'
          ? 'The deployed stack has no WebUrl output: deploy this version of esl-sync first'
          : 'The running local stack has no web endpoint: restart it with `npm start`',
      );
    }
    const created = newInvite(what, { now: Date.now(), ...(days === undefined ? {} : { days }) });
    await invites.create(created.invite);
    const url = inviteUrl(webUrl, created.id);
    const expiresAt = new Date(created.invite.expiresAt).toISOString();
    if (values.json) return print({ url, expiresAt });
    io.out(`${describe} (single use, expires ${expiresAt}):`);
    io.out(url);
    io.out('Send it to the store owner: they open it, sign in to Clover and press Allow.');
  };

  const wait = async () => {
    const queues = [target.stack.pollQueueUrl, target.stack.pushQueueUrl];
    let lastReport = Date.now();
    await waitForQueuesDrained(target.sqs, queues, {
      timeoutMs: usage.timeoutMs,
      onProgress: (depths) => {
        // A line every 5 s while work is under way, so a long backfill shows it is moving.
        if (Date.now() - lastReport < 5_000) return;
        lastReport = Date.now();
        const [poll, push] = queues.map((q) => depths.get(q));
        const n = (d: typeof poll) => (d ? d.visible + d.inFlight + d.delayed : 0);
        io.out(`waiting: ${n(poll)} poll(s) and ${n(push)} push batch(es) still queued or running`);
      },
    });
  };

  const invoke = async (functionName: string, payload: unknown) => {
    const out = await target.lambda.send(
      new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(payload)) }),
    );
    const body = out.Payload ? JSON.parse(Buffer.from(out.Payload).toString('utf8') || 'null') : null;
    if (out.FunctionError) {
      throw new Error(`${functionName} failed: ${body?.errorMessage ?? out.FunctionError}`);
    }
    return body;
  };

  /** What moving or removing a store needs: the stores, the push queue, a backfill and a wait. */
  const storeChanges = (): StoreChangeDeps => ({
    merchants,
    shelf,
    pushQueue: createQueueSender(target.sqs, target.stack.pushQueueUrl),
    backfill: (request) => invoke(target.stack.backfillFunction, request),
    settled: wait,
    hipoinkChunkSize: DEFAULT_SYNC_SETTINGS.hipoinkChunkSize,
    progress: (line) => io.out(line),
  });

  switch (command) {
    case 'merchants': {
      if (usage.merchantAdd) {
        const record = await merchants.upsert(usage.merchantAdd);
        io.out(`merchant ${record.merchantId} saved (store ${record.storeCode}, state ${record.state})`);
        return;
      }
      if (sub === 'reconnect') {
        const id = merchantIdArg(sub, arg);
        const record = await merchants.get(id);
        if (!record) throw new UsageError(`unknown merchant ${id}`);
        const store = record.storeCode ? `store ${record.storeCode}` : 'no store code yet';
        await invite({ forMerchant: id }, undefined, `Link that re-authorizes merchant ${id} (${store})`);
        return;
      }
      if (sub === 'assign') {
        const id = merchantIdArg(sub, arg);
        const storeCode = usage.storeCode as string;
        const record = await merchants.get(id);
        const problem = assignProblem(record, storeCode);
        if (problem === 'unknown') throw new UsageError(`unknown merchant ${id}`);
        if (problem === 'already')
          return io.out(`merchant ${id} already shows its labels in store ${storeCode}`);
        if (problem === 'move' && record) {
          const moved = await moveStore(storeChanges(), id, storeCode);
          io.out(
            moved.moved
              ? `merchant ${id}: labels moved from store ${moved.from} to store ${storeCode} (${moved.cleared} code(s) taken off store ${moved.from})`
              : `merchant ${id} already shows its labels in store ${storeCode}`,
          );
          return;
        }
        if (!record) throw new UsageError(`unknown merchant ${id}`);
        const state = nextMerchantState(storeCode, record.state);
        if (!(await merchants.assignStoreCode(id, storeCode, state))) {
          throw new Error(`merchant ${id} was given a store code meanwhile; see merchants show ${id}`);
        }
        io.out(`merchant ${id}: store ${storeCode}, ${state}`);
        if (state !== 'active') return;
        const result = await invoke(target.stack.backfillFunction, { merchantId: id });
        io.out(`merchant ${id}: full resync queued (${result.queued.length}) so its labels appear`);
        if (values.wait) await wait();
        return;
      }
      if (sub === 'remove') {
        const id = merchantIdArg(sub, arg);
        if (!(await merchants.get(id))) throw new UsageError(`unknown merchant ${id}`);
        const removeLabels = values['remove-labels'] ?? false;
        const removed = await removeMerchant(storeChanges(), id, { removeLabels });
        io.out(
          `merchant ${id} removed: its tokens, items and sync state are deleted` +
            (removeLabels
              ? `; ${removed.cleared} label(s) taken off store ${removed.storeCode}`
              : `; its labels stay in store ${removed.storeCode ?? '(none)'}`) +
            '. The app stays installed in Clover until the store uninstalls it.',
        );
        return;
      }
      if (sub === 'list') {
        const views = (await merchants.list()).map(merchantView);
        if (values.json) return print(views);
        if (views.length === 0) return io.out('no merchants');
        for (const v of views) io.out(merchantLine(v));
        return;
      }
      if (sub === 'show') {
        const id = merchantIdArg(sub, arg);
        const record = await merchants.get(id);
        if (!record) throw new UsageError(`unknown merchant ${id}`);
        const detail = { ...merchantView(record), products: await report(id) };
        if (values.json) return print(detail);
        io.out(merchantLine(detail));
        for (const [k, v] of Object.entries(detail.products)) {
          io.out(
            `  ${k}: ${Array.isArray(v) ? v.map((r) => `${r.itemId} (${r.reason})`).join(', ') || '-' : v}`,
          );
        }
        return;
      }
      if (sub === 'disable' || sub === 'enable') {
        const id = merchantIdArg(sub, arg);
        const record = await merchants.get(id);
        if (!record) throw new UsageError(`unknown merchant ${id}`);
        if (sub === 'enable' && record.state === 'needs_reauth') {
          throw new UsageError(
            `merchant ${id} needs re-authorization: send the store a link from \`${cliName} merchants reconnect ${id}\``,
          );
        }
        if (sub === 'enable' && record.tokensDeletedAt !== undefined) {
          throw new UsageError(
            `merchant ${id} has no Clover tokens (the app was uninstalled): send the store a link from ` +
              `\`${cliName} merchants reconnect ${id}\`; connecting again enables it`,
          );
        }
        // Enabled without a store code, a merchant goes back to waiting for one.
        const state = sub === 'disable' ? 'disabled' : nextMerchantState(record.storeCode, undefined);
        if (sub === 'disable')
          await merchants.setState(id, 'disabled', values.reason ?? 'disabled by an operator');
        else await merchants.setState(id, state);
        io.out(`merchant ${id}: ${state}`);
        return;
      }
      if (sub === 'configure') {
        const id = merchantIdArg(sub, arg);
        const record = await merchants.get(id);
        if (!record) throw new UsageError(`unknown merchant ${id}`);
        const options = parseLabelOptions(values, record.labelOptions);
        await merchants.setLabelOptions(id, options);
        io.out(`merchant ${id}: label rules ${JSON.stringify(options)}`);
        const result = await invoke(target.stack.backfillFunction, { merchantId: id });
        io.out(
          `merchant ${id}: full resync queued (${result.queued.length}) so every label follows the new rules`,
        );
        if (values.wait) await wait();
        return;
      }
      throw new UsageError(`unknown merchants command: ${sub ?? '(none)'}`);
    }
    case 'stores': {
      const storeCode = usage.storeCode as string;
      await invite(
        { storeCode },
        usage.inviteDays,
        `Link that connects a Clover account to store ${storeCode}`,
      );
      // Two Clover accounts in one Hipoink store would overwrite each other's labels.
      const holders = (await merchants.list())
        .filter((m) => m.storeCode === storeCode)
        .map((m) => m.merchantId);
      if (holders.length > 0) {
        io.err(
          `note: merchant ${holders.join(', ')} already shows its labels in store ${storeCode}; the link ` +
            're-authorizes it, but another Clover account accepting it would share that store',
        );
      }
      return;
    }
    case 'tick': {
      const result = await invoke(target.stack.fanOutFunction, {});
      io.out(`tick: ${result?.queued ?? 0} merchant(s) queued for polling`);
      if (values.wait) {
        await wait();
        io.out('tick: all polls and pushes done');
      }
      return;
    }
    case 'backfill': {
      const result = await invoke(target.stack.backfillFunction, usage.backfill);
      io.out(`backfill: queued ${result.queued.length} merchant(s) for a full resync`);
      for (const s of result.skipped ?? []) io.out(`backfill: skipped ${s.merchantId}: ${s.reason}`);
      if (values.wait) {
        await wait();
        for (const id of result.queued as string[]) {
          const m = await merchants.get(id);
          io.out(m ? `backfill: ${merchantLine(merchantView(m))}` : `backfill: ${id} vanished`);
        }
      }
      return;
    }
    case 'status': {
      const views = (await merchants.list()).map(merchantView);
      const queues = {
        poll: await queueDepth(target.sqs, target.stack.pollQueueUrl),
        push: await queueDepth(target.sqs, target.stack.pushQueueUrl),
        pollDeadLetter: await queueDepth(target.sqs, target.stack.pollDlqUrl),
        pushDeadLetter: await queueDepth(target.sqs, target.stack.pushDlqUrl),
      };
      const merchantsWithProducts = [];
      for (const v of views) merchantsWithProducts.push({ ...v, products: await report(v.merchantId) });
      const lastRefresherRun = await createRefresherHeartbeat(doc, target.stack.merchantsTable).last();
      const tokenRefresher = lastRefresherRun
        ? { ...lastRefresherRun, late: heartbeatLate(lastRefresherRun, Date.now()) }
        : undefined;
      const status = { target: target.kind, tokenRefresher, merchants: merchantsWithProducts, queues };
      if (values.json) return print(status);
      io.out(`target: ${target.kind}`);
      io.out(refresherLine(tokenRefresher));
      for (const m of merchantsWithProducts) {
        io.out(merchantLine(m));
        const hint = attentionHint(m, cliName);
        if (hint) io.out(`  ! ${hint}`);
        const p = m.products;
        io.out(
          `  products: ${p.counts.onShelf} on shelf, ${p.counts.outOfStep} pending, ${p.counts.removed} removed, ${p.invalid.length} invalid, ${p.rejected.length} rejected`,
        );
        for (const r of [...p.invalid, ...p.rejected]) io.out(`  ! ${r.itemId}: ${r.reason}`);
      }
      for (const [name, d] of Object.entries(queues)) {
        io.out(`queue ${name}: ${d.visible} waiting, ${d.inFlight} in flight, ${d.delayed} delayed`);
      }
      return;
    }
    case 'tokens': {
      if (sub !== 'refresh') throw new UsageError(`unknown tokens command: ${sub ?? '(none)'}`);
      const result = await invoke(target.stack.tokenRefresherFunction, {});
      io.out(
        `tokens: ${result.checked} checked, ${result.refreshed.length} refreshed, ${result.failed.length} failed`,
      );
      for (const f of result.failed ?? []) io.out(`tokens: ${f.merchantId}: ${f.reason}`);
      return;
    }
    case 'dlq': {
      const pairs = {
        poll: { dlq: target.stack.pollDlqUrl, source: target.stack.pollQueueUrl },
        push: { dlq: target.stack.pushDlqUrl, source: target.stack.pushQueueUrl },
      };
      const which = dlqSelection(values);
      const selected = Object.entries(pairs).filter(([name]) => which === 'all' || name === which);
      if (sub === 'list') {
        const listed: Record<string, Awaited<ReturnType<typeof peekDeadLetters>>> = {};
        const totals: Record<string, number> = {};
        for (const [name, q] of selected) {
          // Counted first: a FIFO queue shows at most 10 of one store's letters to a peek.
          const { visible } = await queueDepth(target.sqs, q.dlq);
          listed[name] = await peekDeadLetters(target.sqs, q.dlq);
          totals[name] = Math.max(visible, listed[name].length);
        }
        if (values.json) return print(listed);
        for (const [name, letters] of Object.entries(listed)) {
          const total = totals[name] ?? letters.length;
          const shown = letters.length < total ? ` (showing ${letters.length}; dlq redrive moves all)` : '';
          io.out(`${name} dead letters: ${total}${shown}`);
          for (const l of letters)
            io.out(`  ${l.messageId} ${l.failureReason ?? '(exhausted retries)'}: ${l.body.slice(0, 200)}`);
        }
        return;
      }
      if (sub === 'redrive') {
        for (const [name, q] of selected) {
          io.out(`${name}: ${await redriveDeadLetters(target.sqs, q.dlq, q.source)} message(s) sent back`);
        }
        return;
      }
      throw new UsageError(`unknown dlq command: ${sub ?? '(none)'}`);
    }
    case 'webhooks': {
      const last = await createWebhookVerificationStore(doc, target.stack.merchantsTable).last();
      const receivedAt = last && new Date(last.receivedAt).toISOString();
      if (values.json) return print(last ? { code: last.code, receivedAt } : null);
      if (!last) {
        io.out(
          'no webhook verification request received yet: enter the webhook URL in the Clover app’s settings ' +
            'and have Clover send one',
        );
        return;
      }
      io.out(`verification code: ${last.code}`);
      io.out(`received ${receivedAt}; enter it in the Clover app’s webhook settings to verify the URL`);
      return;
    }
    default:
      throw new UsageError(`unknown command: ${command}`);
  }
}

/** The Backfill payload for the options: `--since` digits are Unix ms, anything else an ISO time. */
function backfillPayload(values: {
  'merchant-id'?: string;
  all?: boolean;
  since?: string;
  repush?: boolean;
}) {
  const merchantId = values['merchant-id'];
  if (!merchantId === !values.all)
    throw new UsageError('backfill needs --merchant-id ID or --all (not both)');
  const raw = values.since;
  const since = raw === undefined ? undefined : /^\d+$/.test(raw) ? Number(raw) : raw;
  if (since !== undefined && !SinceSchema.safeParse(since).success) {
    throw new UsageError(
      '--since takes Unix ms or an ISO-8601 date-time with an offset, e.g. 2026-11-01T00:00:00Z',
    );
  }
  return {
    ...(merchantId ? { merchantId } : { all: true }),
    ...(since === undefined ? {} : { since }),
    ...(values.repush ? { repush: true } : {}),
  };
}

function defaultTarget(aws: boolean, stage: string | undefined): Promise<Target> {
  return aws && stage !== undefined ? awsTarget(stage) : Promise.resolve(localTarget());
}

/** With --aws, the deployed stage to act on: --stage, else ESL_SYNC_STAGE. */
function deployedStage(values: CliValues, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!values.aws) {
    if (values.stage !== undefined) throw new UsageError('--stage names a deployed stage: use it with --aws');
    return undefined;
  }
  const stage = values.stage ?? (env.ESL_SYNC_STAGE || undefined);
  if (stage === undefined) {
    throw new UsageError('--aws needs the stage to act on: --stage NAME, or ESL_SYNC_STAGE=NAME');
  }
  try {
    return checkStageName(stage);
  } catch (err) {
    throw new UsageError(`--stage: ${(err as Error).message}`);
  }
}

const secondsInt = z.coerce.number().int().positive();
const MerchantAddSchema = z.object({
  'merchant-id': z.string().min(1),
  'store-code': StoreCodeSchema,
  'access-token': z.string().min(1),
  'access-token-expiration': secondsInt,
  'refresh-token': z.string().min(1),
  'refresh-token-expiration': secondsInt,
});
const TOKEN_OPTIONS = [
  'access-token',
  'access-token-expiration',
  'refresh-token',
  'refresh-token-expiration',
] as const;

/** Names the options or fields at fault, never their values (they may be tokens). */
const faultyFields = (issues: z.ZodError['issues'], prefix: string) =>
  [...new Set(issues.map((i) => `${prefix}${String(i.path[0] ?? 'value')}`))].join(', ');

async function parseMerchantAdd(values: CliValues, io: CliIo) {
  const file = values['tokens-file'];
  if (file === undefined) {
    const parsed = MerchantAddSchema.safeParse(values);
    if (!parsed.success) {
      throw new UsageError(`merchants add: missing or invalid ${faultyFields(parsed.error.issues, '--')}`);
    }
    io.err(ARGV_TOKEN_WARNING);
    const v = parsed.data;
    return {
      merchantId: v['merchant-id'],
      storeCode: v['store-code'],
      tokens: TokenPairSchema.parse({
        access_token: v['access-token'],
        access_token_expiration: v['access-token-expiration'],
        refresh_token: v['refresh-token'],
        refresh_token_expiration: v['refresh-token-expiration'],
      }),
    };
  }
  const given = TOKEN_OPTIONS.filter((o) => values[o] !== undefined);
  if (given.length > 0) {
    throw new UsageError(`merchants add: --tokens-file replaces ${given.map((o) => `--${o}`).join(', ')}`);
  }
  const ids = MerchantAddSchema.pick({ 'merchant-id': true, 'store-code': true }).safeParse(values);
  if (!ids.success) {
    throw new UsageError(`merchants add: missing or invalid ${faultyFields(ids.error.issues, '--')}`);
  }
  const source = file === '-' ? 'stdin' : file;
  let text: string;
  try {
    text = await (io.readInput ?? readInput)(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`merchants add: cannot read --tokens-file ${source}${code ? ` (${code})` : ''}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // JSON.parse's own message quotes the text, which holds tokens.
    throw new UsageError(`merchants add: --tokens-file ${source} is not valid JSON`);
  }
  const tokens = TokenPairSchema.safeParse(raw);
  if (!tokens.success) {
    throw new UsageError(
      `merchants add: --tokens-file ${source} needs Clover's four token fields; missing or invalid: ` +
        faultyFields(tokens.error.issues, ''),
    );
  }
  return { merchantId: ids.data['merchant-id'], storeCode: ids.data['store-code'], tokens: tokens.data };
}

function parseLabelOptions(values: Record<string, unknown>, current: LabelOptions | undefined): LabelOptions {
  const raw: Record<string, unknown> = { ...DEFAULT_LABEL_OPTIONS, ...current };
  if (typeof values['field-map'] === 'string') {
    raw.fieldMap = Object.fromEntries(
      values['field-map']
        .split(',')
        .map((pair) => pair.trim())
        .filter(Boolean)
        .map((pair) => pair.split('=').map((s) => s.trim())),
    );
  }
  if (values['variable-price'] !== undefined) raw.variablePrice = values['variable-price'];
  const parsed = LabelOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError(
      `invalid label rules: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')} ` +
        `(fields f1…f16; facts ${LABEL_FACTS.join(', ')}; --variable-price base|remove)`,
    );
  }
  return parsed.data;
}

function merchantLine(v: MerchantView): string {
  const c = v.lastSyncCounts;
  const sync = v.lastSyncAt
    ? `last sync ${v.lastSyncAt} ${v.lastSyncStatus}${v.lastSyncError ? ` (${v.lastSyncError})` : ''}` +
      (c ? `: fetched ${c.fetched}, changed ${c.changed}, removed ${c.removed}, invalid ${c.invalid}` : '')
    : 'never synced';
  const warning = v.refreshTokenExpiringSoon ? `  ! refresh token expires ${v.refreshTokenExpiresAt}` : '';
  const notices = `  last webhook notice ${v.lastNoticeAt ?? 'never'}, ${v.pollCadence} poll interval`;
  return `${v.merchantId}  store ${v.storeCode ?? '-'}  ${v.state}${v.stateReason ? ` (${v.stateReason})` : ''}  ${sync}${notices}${warning}`;
}

/** What an operator does about a merchant that waits on someone; undefined when none waits. */
function attentionHint(v: MerchantView, cli: string): string | undefined {
  if (v.state === 'needs_reauth') {
    return `re-authorize: \`${cli} merchants reconnect ${v.merchantId}\` gives a link to send the store`;
  }
  if (v.state === 'pending') {
    return `connected through Clover, no store code yet: \`${cli} merchants assign ${v.merchantId} --store-code CODE\``;
  }
  if (v.tokensDeletedAt !== undefined) {
    return `the Clover app was uninstalled ${v.tokensDeletedAt} (labels kept): \`${cli} merchants reconnect ${v.merchantId}\` gives a link that connects it again`;
  }
  return undefined;
}

/** The backup token refresher's heartbeat, as operators read it. */
function refresherLine(run: (RefresherRun & { late: boolean }) | undefined): string {
  if (!run) return 'token refresher: no run recorded yet';
  const ago = Math.round((Date.now() - run.finishedAt) / 60_000);
  const line =
    `token refresher: last run ${new Date(run.finishedAt).toISOString()} (${ago} min ago): ` +
    `${run.checked} checked, ${run.refreshed} refreshed, ${run.failed} failed`;
  return run.late
    ? `${line} — LATE: it runs every ${Math.round(run.intervalSeconds / 60)} min; check its schedule and logs`
    : line;
}
