/**
 * Each function's bundle as the stack builds it (lib/sync-function.ts: esbuild, ESM, node24,
 * minified, the AWS SDK external), its size, and how long importing it takes in a fresh Node
 * process once the AWS SDK modules it uses are loaded: our part of a cold start's init.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { BUNDLING } from '../lib/sync-function.ts';
import { METRIC_NAMESPACE, SERVICE_NAME } from '../src/metric-names.ts';

const run = promisify(execFile);
export const HANDLERS = ['fanout', 'poller', 'consumer', 'backfill', 'token-refresher', 'web'] as const;

export interface BundleMeasure {
  handler: string;
  bytes: number;
  /** Medians over the runs: importing the AWS SDK modules the bundle uses, then the bundle. */
  sdkImportMs: number;
  ownImportMs: number;
  /** CPU time of the bundle's import: what a cold start spends on our code, whatever else runs here. */
  ownImportCpuMs: number;
  /** The least CPU time of the runs: the import's own cost, least disturbed by the rest of the machine. */
  ownImportCpuBestMs: number;
  runs: number;
}

/** The timing child: loads the SDK packages first, then the bundle, and prints both times. */
const IMPORTER = `
const [bundle, ...sdk] = process.argv.slice(2);
const t0 = performance.now();
for (const name of sdk) await import(name);
const t1 = performance.now();
const cpu = process.cpuUsage();
await import(bundle);
const used = process.cpuUsage(cpu);
const t2 = performance.now();
process.stdout.write(JSON.stringify({ sdk: t1 - t0, own: t2 - t1, ownCpu: (used.user + used.system) / 1000 }));
`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

/** `dir` must lie inside the project, so the bundles resolve the AWS SDK from its node_modules. */
export async function measureBundles(root: string, dir: string, runs = 9): Promise<BundleMeasure[]> {
  mkdirSync(dir, { recursive: true });
  const importer = join(dir, 'importer.mjs');
  writeFileSync(importer, IMPORTER);
  const out: BundleMeasure[] = [];
  for (const handler of HANDLERS) {
    const file = join(dir, handler, 'index.mjs');
    await build({
      entryPoints: [join(root, 'functions', handler, 'handler.ts')],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: BUNDLING.target,
      minify: BUNDLING.minify,
      sourcemap: BUNDLING.sourceMap,
      sourcesContent: BUNDLING.sourcesContent,
      mainFields: BUNDLING.mainFields,
      banner: { js: BUNDLING.banner },
      external: BUNDLING.externalModules,
      logLevel: 'error',
    });
    const code = readFileSync(file, 'utf8');
    const sdk = [...new Set([...code.matchAll(/from\s*"(@aws-sdk\/[^"]+)"/g)].map((m) => m[1] as string))];
    const sdkMs: number[] = [];
    const ownMs: number[] = [];
    const ownCpuMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      // As deployed: no --enable-source-maps (lib/sync-function.ts ships the map without loading it).
      const { stdout } = await run(process.execPath, [importer, file, ...sdk], {
        cwd: root,
        env: {
          ...process.env,
          POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
          POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
          AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
        },
      });
      const t = JSON.parse(stdout) as { sdk: number; own: number; ownCpu: number };
      sdkMs.push(t.sdk);
      ownMs.push(t.own);
      ownCpuMs.push(t.ownCpu);
    }
    out.push({
      handler,
      bytes: statSync(file).size,
      sdkImportMs: median(sdkMs),
      ownImportMs: median(ownMs),
      ownImportCpuMs: median(ownCpuMs),
      ownImportCpuBestMs: Math.min(...ownCpuMs),
      runs,
    });
  }
  return out;
}
