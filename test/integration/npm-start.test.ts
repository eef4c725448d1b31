/**
 * `npm start` as a newcomer runs it: a child process on embedded defaults. It must print a
 * `ready` line, put the demo stores' labels on the bundled Hipoink simulator, follow a price
 * change made in Clover, stop on SIGTERM freeing its ports, and start again right after.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.ts';
import { LocalStackFileSchema, localTarget } from '../../src/cli/target.ts';
import { h1, walk } from './connect-support.ts';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'esl-sync-start-'));
const children: ChildProcess[] = [];

/** The stack started as `node` would run it, or through `npm start` (a shell between them). */
function start(args = ['--interval', '1', '--demo-activity', '0'], via: 'node' | 'npm' = 'node') {
  const [command, argv] =
    via === 'npm'
      ? ['npm', ['start', '--silent', '--', ...args]]
      : [process.execPath, ['--import', 'tsx', 'local/start.ts', ...args]];
  const child = spawn(command, argv, {
    cwd: root,
    env: { ...process.env, ESL_SYNC_DATA_DIR: dir, CLOVER_API_BASE_URL: '', HIPOINK_BASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  let buffer = '';
  child.stdout?.on('data', (d: Buffer) => {
    buffer += d.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const waitFor = async (pred: (l: string) => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out; stdout so far:\n${lines.join('\n')}\nstderr:\n${stderr}`);
  };
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, waitFor, exited, stderr: () => stderr };
}

async function products(hipoinkUrl: string, store: string) {
  const res = await fetch(`${hipoinkUrl}/_sim/stores/${store}/products`);
  return (await res.json()) as Array<{ pc: string; pp: string; pn: string }>;
}

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('shows demo labels, follows a Clover price change, stops cleanly and starts again', async () => {
    const first = start();
    const ready = await first.waitFor((l) => l.startsWith('ready'));
    expect(ready).toMatch(/clover=http:\/\/127\.0\.0\.1:\d+ \(simulator\)/);
    const info = LocalStackFileSchema.parse(JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')));
    if (!info.simulators.hipoink || !info.simulators.clover) throw new Error('simulators missing');
    expect(ready).toContain(` web=${info.endpoints.web} `);
    expect(info.endpoints.web).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The live shelf page has its own loopback port (its browser test is shelf-page.test.ts).
    expect(info.endpoints.shelf).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready).toContain(` shelf=${info.endpoints.shelf} `);
    const shelfPage = await fetch(`${info.endpoints.shelf}/`);
    expect(shelfPage.status).toBe(200);
    expect(await shelfPage.text()).toContain('<h1>Shelf labels</h1>');
    // The bundled Clover posts its changes to the web function, verified as an operator would.
    expect(first.lines).toContain(
      `webhooks: the Clover simulator posts its changes to ${info.endpoints.web}/clover/webhooks (verified)`,
    );

    await first.waitFor((l) => /^sync DEMOGAS0000001 .*status=ok/.test(l));
    let shelf: Awaited<ReturnType<typeof products>> = [];
    for (let i = 0; i < 100 && shelf.length === 0; i++) {
      shelf = await products(info.simulators.hipoink, 'store-001');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(shelf.length).toBeGreaterThan(5);

    // A clerk changes a price in Clover: the label follows on a later poll.
    const items = (await (
      await fetch(`${info.simulators.clover}/_sim/merchants/DEMOGAS0000001/items`)
    ).json()) as Array<{
      id: string;
      sku?: string;
      code?: string;
      price: number;
      hidden?: boolean;
    }>;
    const target = items.find((i) => !i.hidden && i.sku);
    if (!target?.sku) throw new Error('demo catalog has no visible item with a sku');
    await fetch(`${info.simulators.clover}/_sim/merchants/DEMOGAS0000001/items/${target.id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ price: target.price + 111 }),
    });
    const want = ((target.price + 111) / 100).toFixed(2);
    let label: { pp: string } | undefined;
    for (let i = 0; i < 150 && label?.pp !== want; i++) {
      label = (await products(info.simulators.hipoink, 'store-001')).find((p) => p.pc === target.sku);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(label?.pp).toBe(want);
    // Its notice queued a poll of that store at once.
    await first.waitFor((l) => /^sync DEMOGAS0000001 .*\(webhook\)$/.test(l));

    // The demo: an invite for store-003, the simulated Clover consent, then store-003's labels.
    const out: string[] = [];
    await runCli(
      ['stores', 'invite', '--store-code', 'store-003', '--json'],
      { out: (l) => out.push(l), err: (l) => out.push(l) },
      async () => localTarget(dir),
    );
    const steps = await walk({ clover: { url: info.simulators.clover } }, JSON.parse(out.join('\n')).url);
    expect(h1(steps.callback?.body ?? '')).toBe('Your store is connected');
    let cafe: Awaited<ReturnType<typeof products>> = [];
    for (let i = 0; i < 150 && cafe.length === 0; i++) {
      cafe = await products(info.simulators.hipoink, 'store-003');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(cafe.length).toBeGreaterThan(5);

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    // Its ports are free: the simulator's port and the shelf page no longer answer.
    await expect(fetch(`${info.simulators.hipoink}/_sim/calls`)).rejects.toThrow();
    await expect(fetch(`${info.endpoints.shelf}/`)).rejects.toThrow();

    // Started again without webhooks: polling only, no notices are sent.
    const second = start(['--interval', '1', '--demo-activity', '0', '--webhooks', 'off']);
    await second.waitFor((l) => l.startsWith('ready'));
    expect(second.lines.filter((l) => l.startsWith('webhooks:'))).toEqual([]);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });

  it('runs once per data directory, and stops when npm is sent SIGTERM', async () => {
    // A stack file left by a stack killed outright, naming a pid in use again since: no stack runs.
    const stale = { pid: process.pid, endpoints: { web: 'http://127.0.0.1:9' } };
    writeFileSync(join(dir, 'stack.json'), JSON.stringify(stale));
    const running = start(['--interval', '0', '--demo-activity', '0'], 'npm');
    await running.waitFor((l) => l.startsWith('ready'));
    const stackFile = readFileSync(join(dir, 'stack.json'), 'utf8');
    const { endpoints } = LocalStackFileSchema.parse(JSON.parse(stackFile));

    // A second stack beside it says so and leaves the first one's state alone.
    const beside = start(['--interval', '0', '--demo-activity', '0']);
    expect(await beside.exited).toBe(1);
    expect(beside.stderr()).toMatch(/A local stack is already running from .* \(pid \d+\)/);
    expect(readFileSync(join(dir, 'stack.json'), 'utf8')).toBe(stackFile);
    expect((await fetch(`${endpoints.shelf}/`)).status).toBe(200);

    // npm's shell does not pass the signal on; the stack stops anyway, freeing its ports.
    running.child.kill('SIGTERM');
    await running.waitFor((l) => l === 'stopped', 10_000);
    await expect(fetch(`${endpoints.shelf}/`)).rejects.toThrow();
    expect(existsSync(join(dir, 'stack.json'))).toBe(false);
  });

  it('refuses an option that is not a number of seconds, or on/off, naming it, before starting anything', async () => {
    for (const [option, value, message] of [
      ['--token-refresh', 'abc', '--token-refresh must be a number of seconds'],
      ['--demo-activity', 'soon', '--demo-activity must be a number of seconds'],
      ['--interval', '-5', '--interval must be a number of seconds'],
      ['--webhooks', 'maybe', '--webhooks is on or off'],
    ] as const) {
      const run = start([`${option}=${value}`]);
      expect(await run.exited).toBe(1);
      expect(run.stderr()).toContain(message);
      expect(run.lines.some((l) => l.startsWith('ready'))).toBe(false);
    }
  });
});
