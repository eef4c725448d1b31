/** The CLI's exit codes, one per kind of outcome; `esl-sync --help` and the README list them. */
export const EXIT_CODES = { ok: 0, failure: 1, usage: 2, notFound: 3 } as const;

/** The command line cannot be run as given (unknown command or option, missing or bad value): exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose help says how to use it; none: the general help. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What the command names does not exist (an unknown merchant, an item its store lacks): exit 3. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT_CODES.usage;
  if (err instanceof NotFoundError) return EXIT_CODES.notFound;
  return EXIT_CODES.failure;
}

export const EXIT_CODES_HELP = [
  'Exit codes:',
  '  0  done',
  '  1  failed: no stack, AWS or a function refused, a --wait timed out, a named store not active, work set aside during tick --wait',
  '  2  usage: unknown command or option, missing or bad value',
  '  3  not found: unknown merchant, or an item its store does not have',
].join('\n');
