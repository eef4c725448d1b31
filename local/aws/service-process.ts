/**
 * A local AWS stand-in (dynalite or fauxqs, in memory) in a process of its own, with its metering
 * proxy in front when asked: the benchmark's fleet keeps one event loop busy with the handlers
 * alone, so the servers and the counting run beside it. Sends its endpoint once listening, answers
 * `reading`/`reset` requests, and stops when its parent goes away.
 */
import { startLocalDynamo } from './dynamo.ts';
import { startMeteredProxy } from './meter.ts';
import { startLocalSqs } from './sqs.ts';

const [kind, meter] = process.argv.slice(2);
const server = kind === 'dynamodb' ? await startLocalDynamo({}) : await startLocalSqs();
const proxy =
  meter === 'meter' ? await startMeteredProxy(server.endpoint, { capacity: kind === 'dynamodb' }) : undefined;
process.on('message', (m: { id: number; type: 'reading' | 'reset' }) => {
  if (m.type === 'reset') proxy?.meter.reset();
  process.send?.({ id: m.id, reading: proxy?.meter.reading() });
});
process.send?.({ endpoint: proxy?.endpoint ?? server.endpoint });
process.on('disconnect', () => {
  void Promise.allSettled([proxy?.stop(), server.stop()]).finally(() => process.exit(0));
});
