import { main } from './main.ts';

// Node 20 is what this project's machines run; the SDK's notice about future versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const io = {
  out: (l: string) => process.stdout.write(`${l}\n`),
  err: (l: string) => process.stderr.write(`${l}\n`),
};
const code = await main(process.argv.slice(2), io);
// Exit only once everything written has left: a large --json document into a pipe is written
// asynchronously, and exiting at once would cut it short.
await new Promise((resolve) => process.stdout.write('', resolve));
await new Promise((resolve) => process.stderr.write('', resolve));
process.exit(code);
