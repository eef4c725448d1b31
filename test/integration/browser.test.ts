/**
 * A real browser (Debian's headless Chromium, driven by puppeteer-core) walks the connect flow as a
 * store owner on a phone: the invite link, the simulated Clover consent page, the connected page,
 * and then the labels in the Hipoink simulator; and each failure page, checking its message and
 * that nothing changed. A screenshot of every page is kept under test-results/screenshots/.
 */
import { join } from 'node:path';
import type { HTTPRequest, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inviteProblem, newInvite } from '../../src/connect/invites.ts';
import { launchBrowser, overflows, SHOTS, type TestBrowser } from './browser-support.ts';
import {
  type ConnectWorld,
  cafeItems,
  expectedShelf,
  leaks,
  shelf,
  startConnectWorld,
} from './connect-support.ts';

const STORE_OWNER = 'BROWSERCAFE01';
/** A second owner, for the attempts that must not meet the first one's connection. */
const LATE_OWNER = 'BROWSERLATE02';

let world: ConnectWorld;
let browser: TestBrowser;
let page: Page;
const requests: HTTPRequest[] = [];
const seenPages: string[] = [];
/** Run before a request continues (request interception is on for every request). */
let beforeRequest: (request: HTTPRequest) => void = () => undefined;

beforeAll(async () => {
  world = await startConnectWorld();
  world.clover.addUnconnectedMerchant(STORE_OWNER, cafeItems(), 'Browser Café');
  world.clover.addUnconnectedMerchant(LATE_OWNER, cafeItems(), 'Late Café');
  world.clover.signIn(STORE_OWNER);
  browser = await launchBrowser();
  page = await browser.phonePage();
  await page.setRequestInterception(true);
  page.on('request', (request) => {
    requests.push(request);
    beforeRequest(request);
    void request.continue();
  });
  page.on('response', async (response) => {
    if (response.request().isNavigationRequest()) seenPages.push(await response.text().catch(() => ''));
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await world?.stop();
});

async function newLink(storeCode: string): Promise<string> {
  const out = await world.cli('stores', 'invite', '--store-code', storeCode, '--json');
  return JSON.parse(out.join('\n')).url as string;
}

/** What the page says: its heading and paragraphs, as a person reads them. */
async function read(name: string) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const heading = await page.$eval('h1', (h) => h.textContent ?? '');
  const text = await page.$eval('body', (b) => b.textContent ?? '');
  // Readable on a phone: nothing wider than the screen.
  expect(await overflows(page), `${name} is wider than a phone`).toBe(false);
  return { heading, text };
}

async function consent(link: string) {
  await page.goto(link, { waitUntil: 'load' });
  expect((await read('clover-consent')).heading).toBe('Allow access?');
  expect(new URL(page.url()).origin).toBe(world.clover.url);
}

async function press(button: '#allow' | '#deny') {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(button)]);
}

const inviteKey = (link: string) =>
  import('../../src/connect/invites.ts').then(
    (m) => m.inviteKeyOf(new URL(link).searchParams.get('invite') ?? '') as string,
  );

async function inviteStillUsable(link: string) {
  const invite = await world.stores().invites.get(await inviteKey(link));
  expect(inviteProblem(invite, Date.now())).toBeUndefined();
}

describe('a store owner in a browser', () => {
  let usedLink = '';

  it('opens the invite, presses Allow, sees "connected", and the labels follow within one tick', async () => {
    usedLink = await newLink('store-browser');
    requests.length = 0;
    await consent(usedLink);
    // Our redirect sent no Referer to Clover.
    const toClover = requests.find((r) => r.url().startsWith(`${world.clover.url}/oauth/v2/authorize`));
    expect(toClover?.headers().referer).toBeUndefined();

    await press('#allow');
    const connected = await read('connected');
    expect(connected.heading).toBe('Your store is connected');
    expect(connected.text).toContain('store-browser');
    expect(connected.text).toContain(STORE_OWNER);
    expect(new URL(page.url()).origin).toBe(world.stack.info.endpoints.web);
    // Every request stayed on our web function or Clover: no outside asset.
    const origins = new Set(requests.map((r) => new URL(r.url()).origin));
    expect([...origins].sort()).toEqual([world.clover.url, world.stack.info.endpoints.web].sort());

    await world.cli('tick', '--wait');
    expect(shelf(world.hipoink, 'store-browser')).toEqual(expectedShelf(world.clover, STORE_OWNER));
    expect(shelf(world.hipoink, 'store-browser').length).toBe(3);
  });

  it('reloading the connected page tells the owner the store is still connected, and changes nothing', async () => {
    const before = await world.snapshot();
    expect(new URL(page.url()).pathname).toBe('/clover/callback');
    await page.reload({ waitUntil: 'load' });
    const reloaded = await read('connected-reloaded');
    expect(reloaded.heading).toBe('This link has already been used');
    expect(reloaded.text).toContain('If you used it yourself, your store is connected');
    expect(await world.snapshot()).toEqual(before);
  });

  it('opening a used invite again says so and changes nothing', async () => {
    const before = await world.snapshot();
    await page.goto(usedLink, { waitUntil: 'load' });
    const used = await read('invite-used');
    expect(used.heading).toBe('This link has already been used');
    expect(used.text).toContain('ask your installer for a new link');
    expect(await world.snapshot()).toEqual(before);
  });

  it('an expired invite says so and changes nothing', async () => {
    const { id, invite } = newInvite({ storeCode: 'store-late' }, { now: Date.now() - 8 * 86_400_000 });
    await world.stores().invites.create(invite);
    const before = await world.snapshot();
    await page.goto(`${world.stack.info.endpoints.web}/connect?invite=${id}`, { waitUntil: 'load' });
    const expired = await read('invite-expired');
    expect(expired.heading).toBe('This link has expired');
    expect(expired.text).toContain('Ask your installer for a new link.');
    expect(await world.snapshot()).toEqual(before);
  });

  it('a tampered state is refused and changes nothing; the invite stays usable', async () => {
    const link = await newLink('store-tamper');
    await consent(link);
    const before = await world.snapshot();
    await page.$eval('input[name=state]', (input) => {
      const field = input as unknown as { value: string };
      field.value = `${field.value.slice(0, -4)}AAAA`;
    });
    await press('#allow');
    const tampered = await read('state-tampered');
    expect(tampered.heading).toBe('This sign-in link was changed or damaged');
    expect(tampered.text).toContain('Nothing was changed');
    expect(await world.snapshot()).toEqual(before);
    await inviteStillUsable(link);
  });

  it('denying consent says so and changes nothing; the invite stays usable', async () => {
    const link = await newLink('store-deny');
    await consent(link);
    const before = await world.snapshot();
    await press('#deny');
    const denied = await read('consent-denied');
    expect(denied.heading).toBe('You did not allow the connection');
    expect(denied.text).toContain('press Allow');
    expect(await world.snapshot()).toEqual(before);
    await inviteStillUsable(link);
  });

  it('a code Clover refuses says so and changes nothing; the invite stays usable', async () => {
    world.clover.signIn(LATE_OWNER);
    const link = await newLink('store-refused');
    await consent(link);
    const before = await world.snapshot();
    // The owner took too long: the code runs out before our callback exchanges it.
    beforeRequest = (request) => {
      if (request.url().includes('/clover/callback')) world.clover.expireCodes();
    };
    try {
      await press('#allow');
    } finally {
      beforeRequest = () => undefined;
    }
    const refused = await read('code-refused');
    expect(refused.heading).toBe('Clover did not accept this sign-in');
    expect(await world.snapshot()).toEqual(before);
    await inviteStillUsable(link);
    expect(shelf(world.hipoink, 'store-refused')).toEqual([]);
    expect(await world.stores().merchants.get(LATE_OWNER)).toBeUndefined();
  });

  it('no page it saw showed a code, token or secret', async () => {
    const stored = await world.stores().merchants.get(STORE_OWNER);
    const codes = requests
      .map((r) => new URL(r.url()).searchParams.get('code'))
      .filter((c): c is string => c !== null);
    expect(codes.length).toBeGreaterThan(0);
    const values = [
      ...codes,
      stored?.accessToken ?? '',
      stored?.refreshToken ?? '',
      ...(await world.secrets()),
    ];
    expect(leaks([...seenPages, ...world.seen], values)).toEqual([]);
  });
});
