import { runCli, UsageError } from './main.ts';

// Node 20 is what this project's machines run; the SDK's notice about future versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const io = {
  out: (l: string) => process.stdout.write(`${l}\n`),
  err: (l: string) => process.stderr.write(`${l}\n`),
};
try {
  await runCli(process.argv.slice(2), io);
  process.exit(0);
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  io.err(`esl-sync: ${message}`);
  if (
    err instanceof UsageError ||
    (err instanceof Error && err.name === 'TypeError' && /option/i.test(message))
  ) {
    io.err('Run `esl-sync --help` for usage.');
  }
  process.exit(err instanceof UsageError ? 2 : 1);
}
