/**
 * The live shelf page in a real browser (headless Chromium, phone-sized): the local stack on its
 * embedded defaults (bundled Clover and Hipoink simulators, demo stores), the page opened once, a
 * price changed in the Clover simulator through its control API, and the card following without a
 * reload, highlighted. A screenshot is kept under test-results/screenshots/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/start.ts';
import { launchBrowser, overflows, SHOTS, type TestBrowser } from './browser-support.ts';

const GAS = { merchantId: 'DEMOGAS0000001', storeCode: 'store-001', sku: 'FUEL-87' };
/** An item name typed by someone trying to run script on the page. */
const HOSTILE_NAME = '<img src=x onerror="window.pwned=1">Unleaded & "87"';

let dir: string;
let stack: LocalStack;
let browser: TestBrowser;
let page: Page;
const requested: string[] = [];
const consoleErrors: string[] = [];
let navigations = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'esl-sync-shelf-'));
  [stack, browser] = await Promise.all([
    startLocalStack({
      intervalSeconds: 1,
      demoActivitySeconds: 0,
      tokenRefreshSeconds: 0,
      dataDir: dir,
      env: {},
      log: () => undefined,
    }),
    launchBrowser(),
  ]);
  page = await browser.phonePage();
  page.on('request', (r) => {
    requested.push(r.url());
  });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations++;
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const cardSelector = (store: string, code: string) => `[data-store="${store}"] [data-code="${code}"]`;

/** Waits, inside the page, until the card shows this price and name (and, if asked, is highlighted). */
async function cardShows(want: { price: string; name?: string; highlighted?: boolean }) {
  const card = `document.querySelector(${JSON.stringify(cardSelector(GAS.storeCode, GAS.sku))})`;
  const conditions = [
    `${card}?.querySelector('.price')?.textContent === ${JSON.stringify(want.price)}`,
    ...(want.name === undefined
      ? []
      : [`${card}.querySelector('.name')?.textContent === ${JSON.stringify(want.name)}`]),
    ...(want.highlighted ? [`${card}.classList.contains('changed')`] : []),
  ];
  await page.waitForFunction(conditions.join(' && '), { timeout: 45_000, polling: 'mutation' });
}

describe('the live shelf page', () => {
  it('shows each store as a shelf with its sync state, and follows a Clover price change without a reload', async () => {
    const { shelf } = stack.info.endpoints;
    const clover = stack.info.simulators.clover;
    if (!shelf || !clover) throw new Error('the local stack has no shelf page or Clover simulator');
    expect(shelf).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const items = (await (await fetch(`${clover}/_sim/merchants/${GAS.merchantId}/items`)).json()) as Array<{
      id: string;
      sku?: string;
      name: string;
      price: number;
    }>;
    const fuel = items.find((i) => i.sku === GAS.sku);
    if (!fuel) throw new Error(`the demo catalog has no ${GAS.sku}`);

    await page.goto(shelf, { waitUntil: 'load' });
    // The first poll puts the labels on the shelf: the open page shows them by itself.
    await cardShows({ price: (fuel.price / 100).toFixed(2), name: fuel.name });
    const navigationsBefore = navigations;

    // The page reads the store's records and Hipoink's labels one after the other: the poll's own
    // record may land a refresh after its labels do.
    const syncSelector = `[data-store="${GAS.storeCode}"] .sync`;
    const lastPollOk = String.raw`/Last poll\s*\d\d:\d\d:\d\d ok/`;
    await page.waitForFunction(
      `${lastPollOk}.test(document.querySelector(${JSON.stringify(syncSelector)})?.textContent ?? '')`,
      { timeout: 45_000, polling: 'mutation' },
    );
    const sync = await page.$eval(syncSelector, (s) => s.textContent ?? '');
    expect(sync).toContain('active');
    expect(sync).toMatch(/Last poll\s*\d\d:\d\d:\d\d ok/);
    expect(sync).toMatch(/\d+ s since the last successful poll/);
    // The other store's poll and push run on their own: its labels show once they land.
    await page.waitForFunction(
      `document.querySelectorAll('[data-store="store-002"] [data-code]').length > 5`,
      {
        timeout: 45_000,
        polling: 'mutation',
      },
    );

    // A clerk changes the price (and someone a hostile name) in Clover.
    const price = fuel.price + 111;
    const put = await fetch(`${clover}/_sim/merchants/${GAS.merchantId}/items/${fuel.id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ price, name: HOSTILE_NAME }),
    });
    expect(put.status).toBe(200);

    await cardShows({ price: (price / 100).toFixed(2), name: HOSTILE_NAME, highlighted: true });
    await page.screenshot({ path: join(SHOTS, 'shelf-page.png'), fullPage: true });

    expect(navigations, 'the page reloaded').toBe(navigationsBefore);
    // The name is shown as text: no element came from it, no script of it ran.
    expect(await page.evaluate('window.pwned')).toBeUndefined();
    expect(await page.$$eval('img', (i) => i.length)).toBe(0);
    // Its one script ran under its Content-Security-Policy without a violation, and it fetched
    // only from its own server.
    expect(consoleErrors).toEqual([]);
    expect(new Set(requested.map((u) => new URL(u).origin))).toEqual(new Set([shelf]));
    expect(await overflows(page), 'the page is wider than a phone').toBe(false);
  }, 120_000);

  it('answers only its page and its shelf part', async () => {
    const { shelf } = stack.info.endpoints;
    expect((await fetch(`${shelf}/nope`)).status).toBe(404);
    const post = await fetch(`${shelf}/live`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    const live = await fetch(`${shelf}/live`);
    expect(live.status).toBe(200);
    expect(live.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(await live.text()).toContain(`data-store="${GAS.storeCode}"`);
  });
});
