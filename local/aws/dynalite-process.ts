/**
 * dynalite in a process of its own (the benchmark's stand-in for DynamoDB), so the server's work
 * runs beside the handlers' instead of on their event loop. Prints its port once listening and
 * stops when its parent goes away.
 */
import { startLocalDynamo } from './dynamo.ts';

const dynamo = await startLocalDynamo({});
process.send?.({ endpoint: dynamo.endpoint });
process.on('disconnect', () => {
  void dynamo.stop().finally(() => process.exit(0));
});
