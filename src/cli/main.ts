/**
 * `esl-sync`: finds the command (`commands.ts`), checks its options and arguments before any stack
 * is looked up, runs it, and prints its data in one place: text, or one JSON document with --json.
 * `main` turns the outcome into an exit code (`errors.ts`).
 */
import { parseArgs } from 'node:util';
import { CLOVER_ID } from '../clover/schemas.ts';
import { COMMANDS, type Command } from './commands.ts';
import { commandContext } from './context.ts';
import { EXIT_CODES, EXIT_CODES_HELP, exitCodeOf, UsageError } from './errors.ts';
import {
  type CliIo,
  type CliValues,
  deployedStage,
  GLOBAL_OPTIONS,
  OPTIONS,
  type OptionName,
  VALUE_NAMES,
} from './options.ts';
import { awsTarget, localTarget, type Target } from './target.ts';

export { NotFoundError, UsageError } from './errors.ts';
export type { CliIo } from './options.ts';

export type ResolveTarget = (aws: boolean, stage: string | undefined) => Promise<Target>;

const TARGET_HELP =
  'Acts on the local stack of `npm start`; add --aws --stage NAME (or --aws with ESL_SYNC_STAGE=NAME)\n' +
  'for the deployed stage, stack EslSync-NAME, with the default AWS credentials, in the region\n' +
  'config/NAME.json pins it to (its "region") or else the default region.';

const usageLine = (c: Command) =>
  `esl-sync ${c.name}${c.merchantId ? ' ID' : ''}${c.synopsis ? ` ${c.synopsis}` : ''} [--json]`;

/** The overview: every command with its summary, how to choose the target, the exit codes. */
export function overviewHelp(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`);
  return [
    'Usage: esl-sync <command> [options]    esl-sync <command> --help  for its own help',
    '',
    TARGET_HELP,
    '',
    'Commands:',
    ...lines,
    '',
    'Every command takes --json: its result as one JSON document on stdout, progress on stderr.',
    'Token values are stored encrypted; they are never printed.',
    EXIT_CODES_HELP,
  ].join('\n');
}

const optionLines = (options: Partial<Record<OptionName, string>>) =>
  Object.entries(options).flatMap(([name, text]) => {
    const value = VALUE_NAMES[name as OptionName];
    const option = `  --${name}${value ? ` ${value}` : ''}`;
    const indent = ' '.repeat(34);
    const body = wrap(text ?? '', 100 - indent.length).split('\n');
    return option.length < indent.length
      ? [`${option.padEnd(indent.length)}${body[0]}`, ...body.slice(1).map((l) => indent + l)]
      : [option, ...body.map((l) => indent + l)];
  });

/** One command's own help. */
export function commandHelp(c: Command): string {
  return [
    `Usage: ${usageLine(c)}`,
    '',
    wrap(c.description, 100),
    ...(c.merchantId ? ['', '  ID                              the Clover merchant id'] : []),
    ...(Object.keys(c.options).length ? ['', 'Options:', ...optionLines(c.options)] : []),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    EXIT_CODES_HELP,
  ].join('\n');
}

/** The help of a group of commands (`esl-sync merchants --help`). */
function groupHelp(group: string, commands: readonly Command[]): string {
  return [
    `Usage: esl-sync ${group} <command> [options]    esl-sync ${group} <command> --help  for its own help`,
    '',
    ...commands.map((c) => `  ${usageLine(c)}\n      ${c.summary}`),
    '',
    EXIT_CODES_HELP,
  ].join('\n');
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/** The command named by the first words, and the words after it. */
function findCommand(words: readonly string[]) {
  const [first, second] = words;
  const one = COMMANDS.find((c) => c.name === first);
  if (one) return { command: one, rest: words.slice(1) };
  const two = COMMANDS.find((c) => c.name === `${first} ${second}`);
  if (two) return { command: two, rest: words.slice(2) };
  const group = COMMANDS.filter((c) => c.name.startsWith(`${first} `));
  return { group: group.length > 0 ? { name: first as string, commands: group } : undefined };
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /'([^']+)'/.exec(e.message)?.[1] ?? e.message;
      throw new UsageError(`unknown option ${option}`);
    }
    if (e.code?.startsWith('ERR_PARSE_ARGS')) {
      // An option with a short form is named "'-h, --help'": the long form is the one in the usage.
      const option = /'(?:-\w, )?(--?[\w-]+)/.exec(e.message)?.[1];
      if (!option) throw new UsageError(e.message);
      // A flag given a value (`--json=true`): saying it needs one would send the user the wrong way.
      if (e.message.includes('does not take an argument')) throw new UsageError(`${option} takes no value`);
      // Node reads a value that starts with "-" as a missing value followed by another option.
      const dashed = e.message.includes('ambiguous')
        ? ` (a value starting with "-" goes as ${option}=VALUE)`
        : '';
      throw new UsageError(`${option} needs a value${dashed}`);
    }
    throw err;
  }
}

/**
 * Runs one command line and returns its exit code (a command can find a failure, e.g. `tick --wait`
 * work set aside). Usage problems throw `UsageError` before any stack is looked up; an unknown
 * merchant throws `NotFoundError`.
 */
export async function runCli(argv: string[], io: CliIo, resolveTarget?: ResolveTarget): Promise<number> {
  const { values, positionals, tokens } = parseCommandLine(argv);
  const helpWord = positionals[0] === 'help';
  const words = helpWord ? positionals.slice(1) : positionals;
  const wantsHelp = values.help === true || helpWord || words.length === 0;
  if (wantsHelp && words.length === 0) {
    io.out(overviewHelp());
    return EXIT_CODES.ok;
  }
  const found = findCommand(words);
  if (!found.command) {
    if (found.group && wantsHelp && words.length === 1) {
      io.out(groupHelp(found.group.name, found.group.commands));
      return EXIT_CODES.ok;
    }
    if (found.group) {
      throw new UsageError(`unknown ${found.group.name} command: ${words[1] ?? '(none)'}`, found.group.name);
    }
    throw new UsageError(`unknown command: ${words[0]}`);
  }
  const { command, rest } = found;
  if (wantsHelp) {
    io.out(commandHelp(command));
    return EXIT_CODES.ok;
  }
  const given = new Set(tokens.flatMap((t) => (t.kind === 'option' ? [t.name as OptionName] : [])));
  for (const name of given) {
    if (!Object.hasOwn(command.options, name) && !Object.hasOwn(GLOBAL_OPTIONS, name)) {
      throw new UsageError(`${command.name} does not take --${name}`, command.name);
    }
  }
  const [merchantId, ...extra] = command.merchantId ? rest : ['', ...rest];
  if (command.merchantId && !merchantId) {
    throw new UsageError(`${command.name} needs a merchant id`, command.name);
  }
  // Anything else is no merchant: the table's own records (e.g. the fan-out's) are keyed beside them.
  if (command.merchantId && !CLOVER_ID.test(merchantId ?? '')) {
    throw new UsageError(`${command.name}: a merchant id is Clover's, letters and digits`, command.name);
  }
  if (extra.length > 0) throw new UsageError(`${command.name}: unexpected ${extra.join(' ')}`, command.name);
  const values_ = values as CliValues;
  // An option's check does not know its command: its help is the command's own.
  const run = await command.prepare({ values: values_, merchantId: merchantId ?? '', io }).catch((err) => {
    throw err instanceof UsageError && err.command === undefined
      ? new UsageError(err.message, command.name)
      : err;
  });
  const stage = deployedStage(values_);
  const target = await (resolveTarget ?? defaultTarget)(values_.aws === true, stage);
  const cli =
    target.kind === 'aws' ? `esl-sync --aws${values_.stage ? ` --stage ${stage}` : ''}` : 'esl-sync';
  const ctx = commandContext(target, io, { json: values_.json === true, cli });
  const { data, text, failed } = await run(ctx);
  if (values_.json) io.out(JSON.stringify(data, null, 2));
  else for (const line of text()) io.out(line);
  return failed ? EXIT_CODES.failure : EXIT_CODES.ok;
}

/** Runs a command line and says how it ended: the exit code, with any error on stderr. */
export async function main(argv: string[], io: CliIo, resolveTarget?: ResolveTarget): Promise<number> {
  try {
    return await runCli(argv, io, resolveTarget);
  } catch (err) {
    io.err(`esl-sync: ${err instanceof Error ? err.message : String(err)}`);
    if (err instanceof UsageError) {
      io.err(`Run \`esl-sync ${err.command ? `${err.command} ` : ''}--help\` for usage.`);
    }
    return exitCodeOf(err);
  }
}

function defaultTarget(aws: boolean, stage: string | undefined): Promise<Target> {
  return aws && stage !== undefined ? awsTarget(stage) : Promise.resolve(localTarget());
}
