/**
 * The CLI's options and the checks that need no stack: every value is checked here, before a
 * stack is looked up, so bad input gets its usage error even when nothing is running.
 */
import { readFile } from 'node:fs/promises';
import { CLOVER_ID, TokenPairSchema } from '../clover/schemas.ts';
import { InviteDaysSchema, MAX_INVITE_DAYS, StoreCodeSchema } from '../connect/invites.ts';
import {
  DEFAULT_LABEL_OPTIONS,
  LABEL_FACTS,
  type LabelOptions,
  LabelOptionsSchema,
} from '../domain/label.ts';
import { checkStageName } from '../stage.ts';
import { MAX_PRODUCT_CODE_BYTES } from '../store/tables.ts';
import { type BackfillRequestSchema, SinceSchema } from '../sync/messages.ts';
import * as z from '../zod.ts';
import { UsageError } from './errors.ts';

/** Every option any command takes (`node:util` parseArgs configuration). */
export const OPTIONS = {
  aws: { type: 'boolean' },
  stage: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  all: { type: 'boolean' },
  queue: { type: 'string' },
  since: { type: 'string' },
  reason: { type: 'string' },
  'field-map': { type: 'string' },
  'variable-price': { type: 'string' },
  'merchant-id': { type: 'string' },
  'store-code': { type: 'string' },
  'access-token': { type: 'string' },
  'access-token-expiration': { type: 'string' },
  'refresh-token': { type: 'string' },
  'refresh-token-expiration': { type: 'string' },
  'tokens-file': { type: 'string' },
  'expires-in': { type: 'string' },
  'remove-labels': { type: 'boolean' },
  'share-store': { type: 'boolean' },
  repush: { type: 'boolean' },
  'message-id': { type: 'string' },
  code: { type: 'string' },
  item: { type: 'string' },
} as const;
export type OptionName = keyof typeof OPTIONS;

/** What a string option's value is called in usage and help. */
export const VALUE_NAMES: Readonly<Partial<Record<OptionName, string>>> = {
  stage: 'NAME',
  timeout: 'SECS',
  queue: 'poll|push',
  since: 'ISO-TIME|UNIX-MS',
  reason: 'TEXT',
  'field-map': 'f1=FACT,…',
  'variable-price': 'base|remove',
  'merchant-id': 'ID',
  'message-id': 'ID,…',
  'store-code': 'CODE',
  'access-token': 'T',
  'access-token-expiration': 'SECS',
  'refresh-token': 'T',
  'refresh-token-expiration': 'SECS',
  'tokens-file': 'FILE|-',
  'expires-in': 'DAYS',
  code: 'CODE',
  item: 'ITEM_ID',
};

/** The options every command takes. */
export const GLOBAL_OPTIONS: Readonly<Partial<Record<OptionName, string>>> = {
  json: 'print the result as one JSON document on stdout (progress and warnings go to stderr)',
  aws: 'act on a deployed stage instead of the local stack of `npm start`',
  stage: 'with --aws: the stage (stack EslSync-NAME); default $ESL_SYNC_STAGE',
  help: "print this command's help",
};

export type CliValues = {
  [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
};

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** The text of a file, or of stdin for `-` (default: the real file system and stdin). */
  readInput?: (source: string) => Promise<string>;
}

export async function readInput(source: string): Promise<string> {
  if (source !== '-') return readFile(source, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** --timeout in ms (default 300 s). NaN would never pass the deadline: --wait would wait forever. */
export function timeoutMs(values: CliValues): number {
  const seconds = Number(values.timeout ?? 300);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError('--timeout takes a number of seconds greater than 0');
  }
  return seconds * 1000;
}

export function dlqSelection(values: CliValues): 'all' | 'poll' | 'push' {
  const which = values.queue ?? 'all';
  if (which !== 'all' && which !== 'poll' && which !== 'push')
    throw new UsageError('--queue is poll or push');
  return which;
}

/** `--message-id ID,…`: the dead letters to discard, as `dlq list` shows them. */
export function messageIdsOption(values: CliValues): string[] {
  const ids = (values['message-id'] ?? '').split(',').map((id) => id.trim());
  if (ids.some((id) => id === ''))
    throw new UsageError('--message-id ID[,ID…] is required (ids from dlq list)');
  return [...new Set(ids)];
}

/** `--code CODE` or `--item ITEM_ID`, exactly one: the label a command looks at. */
export function labelSelection(values: CliValues): { code: string } | { itemId: string } {
  const { code, item } = values;
  if ((code === undefined) === (item === undefined)) {
    throw new UsageError('give one of --code CODE (a product code) or --item ITEM_ID (a Clover item id)');
  }
  if (item !== undefined) {
    // Anything else is no item: the store's own rows (slots, calls) are keyed beside the items.
    if (!CLOVER_ID.test(item)) throw new UsageError('--item takes a Clover item id (letters and digits)');
    return { itemId: item };
  }
  if (code === '' || code === undefined) throw new UsageError('--code takes a product code');
  // The store's rules trim what they take a code from, so no item wants one with spaces at its ends.
  if (code.trim() !== code) throw new UsageError('--code: a product code has no spaces at its ends');
  // Longer, no item can want it (the transform refuses it), and it is no key DynamoDB can read.
  if (Buffer.byteLength(code, 'utf8') > MAX_PRODUCT_CODE_BYTES) {
    throw new UsageError(`--code: a product code is at most ${MAX_PRODUCT_CODE_BYTES} bytes`);
  }
  return { code };
}

export function storeCodeOption(values: CliValues): string {
  if (values['store-code'] === undefined) throw new UsageError('--store-code CODE is required');
  const parsed = StoreCodeSchema.safeParse(values['store-code']);
  if (!parsed.success) throw new UsageError(`--store-code: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export function inviteDays(values: CliValues): number | undefined {
  if (values['expires-in'] === undefined) return undefined;
  const parsed = InviteDaysSchema.safeParse(values['expires-in']);
  if (!parsed.success) {
    throw new UsageError(`--expires-in takes a number of days greater than 0 and at most ${MAX_INVITE_DAYS}`);
  }
  return parsed.data;
}

/** What the Backfill function is sent (`since` as given: Unix ms or an ISO time). */
export type BackfillPayload = z.input<typeof BackfillRequestSchema>;

/** The Backfill payload for the options: `--since` digits are Unix ms, anything else an ISO time. */
export function backfillPayload(values: CliValues): BackfillPayload {
  const merchantId = values['merchant-id'];
  if (!merchantId === !values.all)
    throw new UsageError('backfill needs --merchant-id ID or --all (not both)');
  if (merchantId !== undefined && !CLOVER_ID.test(merchantId))
    throw new UsageError("--merchant-id: a merchant id is Clover's, letters and digits");
  const raw = values.since;
  const since = raw === undefined ? undefined : /^\d+$/.test(raw) ? Number(raw) : raw;
  if (since !== undefined && !SinceSchema.safeParse(since).success) {
    throw new UsageError(
      '--since takes Unix ms or an ISO-8601 date-time with an offset, e.g. 2026-11-01T00:00:00Z',
    );
  }
  return {
    ...(merchantId ? { merchantId } : { all: true as const }),
    ...(since === undefined ? {} : { since }),
    ...(values.repush ? { repush: true } : {}),
  };
}

/** With --aws, the deployed stage to act on: --stage, else ESL_SYNC_STAGE. */
export function deployedStage(values: CliValues, env: NodeJS.ProcessEnv = process.env): string | undefined {
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

const secondsInt = z.coerce.number().check(z.int(), z.positive());
const MerchantAddSchema = z.object({
  'merchant-id': z.string().check(z.regex(CLOVER_ID, "a merchant id is Clover's, letters and digits")),
  'store-code': StoreCodeSchema,
  'access-token': z.string().check(z.minLength(1)),
  'access-token-expiration': secondsInt,
  'refresh-token': z.string().check(z.minLength(1)),
  'refresh-token-expiration': secondsInt,
});
const TOKEN_OPTIONS = [
  'access-token',
  'access-token-expiration',
  'refresh-token',
  'refresh-token-expiration',
] as const;

export const ARGV_TOKEN_WARNING =
  'warning: token values given as options end up in your shell history and the process list; ' +
  'prefer --tokens-file FILE, or --tokens-file - to read them from stdin';

/** Names the options or fields at fault, never their values (they may be tokens). */
const faultyFields = (issues: z.core.$ZodIssue[], prefix: string) =>
  [...new Set(issues.map((i) => `${prefix}${String(i.path[0] ?? 'value')}`))].join(', ');

/** `merchants add`: the merchant, its store code and Clover's token pair, from a file, stdin or argv. */
export async function parseMerchantAdd(values: CliValues, io: CliIo) {
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
  const ids = z.pick(MerchantAddSchema, { 'merchant-id': true, 'store-code': true }).safeParse(values);
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

/** The label rules `merchants configure` gives: the options over `current` (or the defaults). */
export function parseLabelOptions(values: CliValues, current: LabelOptions | undefined): LabelOptions {
  const raw: Record<string, unknown> = { ...DEFAULT_LABEL_OPTIONS, ...current };
  if (typeof values['field-map'] === 'string') {
    const pairs = values['field-map']
      .split(',')
      .map((pair) => pair.trim())
      .filter(Boolean)
      .map((pair) => pair.split('=').map((s) => s.trim()));
    // A field given twice would silently keep the last fact only.
    const twice = pairs.map(([field]) => field).filter((f, i, all) => all.indexOf(f) !== i);
    if (twice.length > 0) throw new UsageError(`--field-map gives ${twice[0]} more than one fact`);
    raw.fieldMap = Object.fromEntries(pairs);
  }
  if (values['variable-price'] !== undefined) raw.variablePrice = values['variable-price'];
  const parsed = LabelOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new UsageError(
      `invalid label rules: ${z.issuesText(parsed.error.issues, 'rules')} ` +
        `(fields f1…f16; facts ${LABEL_FACTS.join(', ')}; --variable-price base|remove)`,
    );
  }
  return parsed.data;
}
