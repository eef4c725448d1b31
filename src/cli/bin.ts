import { main } from './main.ts';

// Node 20 is what this project's machines run; the SDK's notice about future versions is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// A reader that stops early (`esl-sync status | head -1`) closes the pipe: what is left to print
// is dropped, and the command ends as it would have, with its own exit code. Any other write
// error still fails loudly.
const streams = [process.stdout, process.stderr];
for (const stream of streams)
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
// A stream whose pipe closed is destroyed: it is no longer writable.
const write = (stream: NodeJS.WriteStream, line: string) => {
  if (stream.writable) stream.write(line);
};

const io = {
  out: (l: string) => write(process.stdout, `${l}\n`),
  err: (l: string) => write(process.stderr, `${l}\n`),
};
const code = await main(process.argv.slice(2), io);
// Exit only once everything written has left: a large --json document into a pipe is written
// asynchronously, and exiting at once would cut it short.
for (const stream of streams)
  await new Promise((resolve) => (stream.writable ? stream.write('', resolve) : resolve(undefined)));
process.exit(code);
