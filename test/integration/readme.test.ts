/**
 * Every local command the README shows, run as written against the local stack on its embedded
 * defaults (`local/start.ts` with no flags and no settings, which is what `npm start` runs), in the
 * README's order, each expected to exit 0.
 *
 * The rule for what runs: every line of a fenced code block that starts with `npx esl-sync` and has
 * no `--aws`, or starts with `curl` and reads the local stack's `.esl-sync/stack.json`; a line ending
 * in `\` goes on with the next. A line whose command (the part before a ` # ` comment) holds a
 * placeholder is a template and does not run: `…`, `<…>`, or a word of capitals without digits
 * (`ID`, `CODE`, `MERCHANT_ID`; the demo ids such as `DEMOGAS0000001` have digits).
 *
 * Each line runs in `bash -o pipefail` from a folder holding the stack's `.esl-sync` data dir and
 * `node_modules/.bin/esl-sync` (this repository's executable, as npm links a package's bin), so
 * `npx esl-sync` and the `jq … .esl-sync/stack.json` of the `curl` lines resolve as they do in a
 * clone; npm is told to stay offline.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.ts';
import { EXIT_CODES } from '../../src/cli/errors.ts';

const root = join(import.meta.dirname, '..', '..');

/** The README's local commands, in order, and the lines the rule leaves out as templates. */
function readmeCommands(markdown: string): { run: string[]; templates: string[] } {
  const run: string[] = [];
  const templates: string[] = [];
  let inFence = false;
  let pending = '';
  for (const raw of markdown.split('\n')) {
    if (/^\s*```/.test(raw)) {
      inFence = !inFence;
      pending = '';
      continue;
    }
    if (!inFence) continue;
    const line = `${pending}${raw.trim()}`;
    if (line.endsWith('\\')) {
      pending = `${line.slice(0, -1).trimEnd()} `;
      continue;
    }
    pending = '';
    const local =
      (line.startsWith('npx esl-sync ') && !/\s--aws\b/.test(line)) ||
      (line.startsWith('curl ') && line.includes('.esl-sync/stack.json'));
    if (!local) continue;
    const command = line.split(/\s+#\s/)[0] ?? line;
    const placeholder = /…|<[^>]*>|\b[A-Z][A-Z_]*[A-Z]\b/.test(command);
    (placeholder ? templates : run).push(line);
  }
  return { run, templates };
}

describe('the rule for which README lines run', () => {
  it('runs local commands and curls to the local stack, not --aws lines, other tools or templates', () => {
    const md = [
      'npx esl-sync status',
      '```bash',
      'npx esl-sync status                     # every store',
      'npx esl-sync --aws status',
      'npx esl-sync merchants show DEMOGAS0000001 --json',
      'npx esl-sync merchants assign ID --store-code CODE',
      'npx esl-sync stores invite --store-code store-003   # prints http://127.0.0.1:<port>/connect?invite=…',
      'npx esl-sync backfill --merchant-id DEMOGAS0000001 \\',
      '  --wait',
      'curl -sf "$(jq -r .simulators.hipoink .esl-sync/stack.json)/_sim/stores/store-001/products"',
      'curl -s https://example.com',
      'npx cdk deploy -c stage=production',
      'aws logs tail <PollerLogGroupName output>',
      '```',
      '```',
      'esl-sync tick [--wait]',
      'npx esl-sync merchants add --merchant-id X1 --store-code s --tokens-file FILE',
      '```',
    ].join('\n');
    expect(readmeCommands(md)).toEqual({
      run: [
        'npx esl-sync status                     # every store',
        'npx esl-sync merchants show DEMOGAS0000001 --json',
        'npx esl-sync stores invite --store-code store-003   # prints http://127.0.0.1:<port>/connect?invite=…',
        'npx esl-sync backfill --merchant-id DEMOGAS0000001 --wait',
        'curl -sf "$(jq -r .simulators.hipoink .esl-sync/stack.json)/_sim/stores/store-001/products"',
      ],
      templates: [
        'npx esl-sync merchants assign ID --store-code CODE',
        'npx esl-sync merchants add --merchant-id X1 --store-code s --tokens-file FILE',
      ],
    });
  });
});

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const { run: commands, templates } = readmeCommands(readme);

describe('the README’s CLI reference', () => {
  it('lists every command and every exit code', () => {
    for (const c of COMMANDS) expect(readme).toContain(`esl-sync ${c.name}`);
    for (const code of Object.values(EXIT_CODES))
      expect(readme).toMatch(new RegExp(`^\\| \`${code}\` +\\|`, 'm'));
  });
});
let dir: string;
let stack: ChildProcess;
let stackOutput = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'esl-sync-readme-'));
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(join(root, 'bin', 'esl-sync.mjs'), join(dir, 'node_modules', '.bin', 'esl-sync'));
  // `npm start`'s own command, with no flags and no settings: the embedded defaults.
  stack = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: root,
    env: {
      ...process.env,
      ESL_SYNC_DATA_DIR: join(dir, '.esl-sync'),
      CLOVER_API_BASE_URL: '',
      HIPOINK_BASE_URL: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stack.stdout?.on('data', (d: Buffer) => {
    stackOutput += d.toString();
  });
  stack.stderr?.on('data', (d: Buffer) => {
    stackOutput += d.toString();
  });
  const deadline = Date.now() + 90_000;
  while (!/^ready /m.test(stackOutput)) {
    if (stack.exitCode !== null) throw new Error(`the local stack exited ${stack.exitCode}:\n${stackOutput}`);
    if (Date.now() > deadline) throw new Error(`the local stack did not get ready:\n${stackOutput}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}, 120_000);

afterAll(async () => {
  if (stack && stack.exitCode === null) {
    const exited = new Promise((resolve) => stack.once('exit', resolve));
    stack.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

function sh(line: string): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
  };
  // The commands find the stack through ./.esl-sync, as in a clone.
  delete env.ESL_SYNC_DATA_DIR;
  delete env.ESL_SYNC_STAGE;
  const child = spawn('bash', ['-o', 'pipefail', '-c', line], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

describe('every local command in the README', () => {
  it('finds the commands the README walks through, and leaves only templates out', () => {
    expect(commands.length).toBeGreaterThanOrEqual(15);
    for (const expected of [
      /^npx esl-sync status\b/,
      /^npx esl-sync backfill --merchant-id DEMOGAS0000001 --wait\b/,
      /^npx esl-sync merchants remove DEMOMART00002 --remove-labels\b/,
      /^curl -sf .*store-001\/products/,
    ])
      expect(commands.some((c) => expected.test(c))).toBe(true);
    for (const t of templates) expect(t.split(/\s+#\s/)[0]).toMatch(/…|<[^>]*>|\b[A-Z][A-Z_]*[A-Z]\b/);
  });

  it.each(commands.map((c) => [c]))(
    '%s',
    async (line) => {
      const { code, output } = await sh(line);
      expect({ code, output: output.slice(-3000) }).toEqual({ code: 0, output: expect.any(String) });
    },
    330_000,
  );
});
