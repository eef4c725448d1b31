/**
 * Runs one simulator as an independent server: `tsx local/simulators/cli.ts clover|hipoink
 * [--port N] [--seed-demo] [--app-id ID] [--sign S]`. A development tool for the simulators only:
 * with --seed-demo it prints the demo merchants' token pairs so they can be added with the CLI.
 */
import { parseArgs } from 'node:util';
import { startCloverSimulator } from './clover.ts';
import { demoCatalog } from './demo.ts';
import { startHipoinkSimulator } from './hipoink.ts';

const { values, positionals } = parseArgs({
  options: {
    port: { type: 'string' },
    'seed-demo': { type: 'boolean' },
    'app-id': { type: 'string' },
    sign: { type: 'string' },
  },
  allowPositionals: true,
});
const port = Number(values.port ?? 0);
const kind = positionals[0];
let stop: () => Promise<void>;
if (kind === 'clover') {
  const sim = await startCloverSimulator({ port, ...(values['app-id'] ? { appId: values['app-id'] } : {}) });
  stop = sim.stop;
  process.stdout.write(`listening ${sim.url}\n`);
  if (values['seed-demo']) {
    for (const d of demoCatalog()) {
      const tokens = sim.addMerchant(d.merchantId, d.items);
      process.stdout.write(
        `${JSON.stringify({ merchantId: d.merchantId, storeCode: d.storeCode, ...tokens })}\n`,
      );
    }
  }
} else if (kind === 'hipoink') {
  const sim = await startHipoinkSimulator({ port, ...(values.sign ? { sign: values.sign } : {}) });
  stop = sim.stop;
  process.stdout.write(`listening ${sim.url}\n`);
} else {
  process.stderr.write('usage: tsx local/simulators/cli.ts clover|hipoink [--port N] [--seed-demo]\n');
  process.exit(2);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void stop().then(() => process.exit(0)));
}
