/**
 * Connecting stores end to end, over loopback HTTP: the CLI makes links, the web function (served
 * by the local stack as API Gateway would) sends the browser to the Clover simulator's consent
 * page and takes the callback, dynalite holds what it stores, and the poll it queues fills the labels.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newNonce, signState } from '../../src/connect/state.ts';
import {
  APP_ID,
  type ConnectWorld,
  cafeItems,
  expectedShelf,
  h1,
  leaks,
  openPage,
  type Page,
  shelf,
  startConnectWorld,
  walk,
} from './connect-support.ts';
import { merchantAddArgs } from './support.ts';

let world: ConnectWorld;

/** Until `condition` holds, checked every 50 ms (the local stack's queues run on their own). */
async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** Codes and tokens seen during the tests: none may appear in a page, output or log line. */
const tracked: string[] = [];
const pages: Page[] = [];

const CAFE = 'CAFEMERCHANT1';
const LAUNCHED = 'LAUNCHEDSTOR2';
const FADED = 'FADEDMERCHNT3';
const SCRIPTED = 'SCRIPTEDMERC4';
/** Added by a script with its token pair (never connected through the flow). */
const ADDED = 'ADDEDMERCH05';

const codeOf = (callbackUrl: string) => new URL(callbackUrl).searchParams.get('code') ?? '';
const inviteLink = async (...args: string[]) =>
  JSON.parse((await world.cli('stores', 'invite', ...args, '--json')).join('\n')) as {
    url: string;
    expiresAt: string;
  };
const keep = (...p: Array<Page | undefined>) => {
  for (const page of p) if (page) pages.push(page);
};
const callbackWith = (params: Record<string, string>) =>
  `${world.stack.info.endpoints.web}/clover/callback?${new URLSearchParams(params)}`;

beforeAll(async () => {
  world = await startConnectWorld();
  world.clover.addUnconnectedMerchant(CAFE, cafeItems(), 'Café');
  world.clover.addUnconnectedMerchant(LAUNCHED, [{ name: 'Water', sku: 'H2O', price: 99 }]);
});

afterAll(async () => {
  await world?.stop();
});

describe('connect a store with an invite', () => {
  let callbackUrl = '';

  it('invite → consent → connected page, and the store’s labels at once, without waiting for a tick', async () => {
    const before = Date.now();
    const link = await inviteLink('--store-code', 'store-cafe');
    expect(link.url).toMatch(new RegExp(`^${world.stack.info.endpoints.web}/connect\\?invite=[\\w-]{24}$`));
    const days = (Date.parse(link.expiresAt) - before) / 86_400_000;
    expect(days).toBeGreaterThan(6.99);
    expect(days).toBeLessThan(7.01);

    world.clover.signIn(CAFE);
    const steps = await walk(world, link.url);
    keep(steps.start, steps.callback);
    // Our redirect names the app and our callback, and carries a signed state, nothing else.
    const authorize = new URL(steps.authorize ?? '');
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${world.clover.url}/oauth/v2/authorize`);
    expect([...authorize.searchParams.keys()].sort()).toEqual(['client_id', 'redirect_uri', 'state']);
    expect(authorize.searchParams.get('client_id')).toBe(APP_ID);
    expect(authorize.searchParams.get('redirect_uri')).toBe(
      `${world.stack.info.endpoints.web}/clover/callback`,
    );
    expect(steps.start.headers.get('referrer-policy')).toBe('no-referrer');

    callbackUrl = steps.callbackUrl ?? '';
    tracked.push(codeOf(callbackUrl));
    expect(steps.callback?.status).toBe(200);
    expect(h1(steps.callback?.body ?? '')).toBe('Your store is connected');
    expect(steps.callback?.body).toContain('<code>store-cafe</code>');

    const stored = await world.stores().merchants.get(CAFE);
    expect(stored).toMatchObject({ storeCode: 'store-cafe', state: 'active', tokenVersion: 1 });
    tracked.push(stored?.accessToken ?? '', stored?.refreshToken ?? '');

    // The connection queued the store's first poll itself.
    const labels = expectedShelf(world.clover, CAFE);
    expect(labels.length).toBeGreaterThan(0);
    await until(
      'the store’s labels are on the shelf',
      () => JSON.stringify(shelf(world.hipoink, 'store-cafe')) === JSON.stringify(labels),
    );
    await world.cli('tick', '--wait');
    expect(shelf(world.hipoink, 'store-cafe')).toEqual(labels);
  });

  it('a replayed callback (same code and state) changes nothing', async () => {
    const before = await world.snapshot();
    const replay = await openPage(callbackUrl);
    keep(replay);
    expect(replay.status).toBe(410);
    expect(h1(replay.body)).toBe('This link has already been used');
    expect(await world.snapshot()).toEqual(before);
  });

  it('the same code with a fresh state is refused by Clover, and changes nothing', async () => {
    const before = await world.snapshot();
    const launch = await openPage(`${world.stack.info.endpoints.web}/clover/launch?merchant_id=${CAFE}`);
    const state = new URL(launch.headers.get('location') ?? '').searchParams.get('state') ?? '';
    const again = new URL(callbackUrl);
    again.searchParams.set('state', state);
    const refused = await openPage(again.toString());
    keep(refused);
    expect(refused.status).toBe(400);
    expect(h1(refused.body)).toBe('Clover did not accept this sign-in');
    expect(await world.snapshot()).toEqual(before);
  });
});

describe('connect from Clover’s launch path (no invite)', () => {
  it('leaves a new merchant pending and unpolled until merchants assign', async () => {
    world.clover.signIn(LAUNCHED);
    const steps = await walk(
      world,
      `${world.stack.info.endpoints.web}/clover/launch?merchant_id=${LAUNCHED}`,
    );
    keep(steps.start, steps.callback);
    tracked.push(codeOf(steps.callbackUrl ?? ''));
    expect(steps.callback?.status).toBe(200);
    expect(h1(steps.callback?.body ?? '')).toBe('Clover is connected');
    expect(steps.callback?.body).toContain(LAUNCHED);
    const pending = await world.stores().merchants.get(LAUNCHED);
    expect(pending).toMatchObject({ state: 'pending' });
    expect(pending?.storeCode).toBeUndefined();
    tracked.push(pending?.accessToken ?? '', pending?.refreshToken ?? '');

    world.clover.resetRequests();
    await world.cli('tick', '--wait');
    expect(world.clover.countItemRequests(LAUNCHED)).toBe(0);
    const status = (await world.cli('status')).join('\n');
    expect(status).toContain(`${LAUNCHED}  store -  pending`);
    expect(status).toContain(`esl-sync merchants assign ${LAUNCHED} --store-code CODE`);

    const assigned = await world.cli(
      'merchants',
      'assign',
      LAUNCHED,
      '--store-code',
      'store-launched',
      '--wait',
    );
    expect(assigned).toContain(`merchant ${LAUNCHED}: store store-launched, active`);
    expect(shelf(world.hipoink, 'store-launched')).toEqual(expectedShelf(world.clover, LAUNCHED));
    expect(await world.cli('merchants', 'assign', LAUNCHED, '--store-code', 'store-launched')).toEqual([
      `merchant ${LAUNCHED} already shows its labels in store store-launched`,
    ]);
    // Assigning it again elsewhere moves its labels (the move itself: test/integration/shelf.test.ts).
    expect((await world.cli('merchants', 'assign', LAUNCHED, '--store-code', 'elsewhere')).at(-1)).toMatch(
      /labels moved from store store-launched to store elsewhere/,
    );
    expect(shelf(world.hipoink, 'elsewhere')).toEqual(expectedShelf(world.clover, LAUNCHED));
  });

  it('lets a known merchant re-authorize from the launch path, keeping its store', async () => {
    const before = await world.stores().merchants.get(CAFE);
    world.clover.signIn(CAFE);
    const steps = await walk(world, `${world.stack.info.endpoints.web}/clover/launch?merchant_id=${CAFE}`);
    keep(steps.callback);
    tracked.push(codeOf(steps.callbackUrl ?? ''));
    expect(h1(steps.callback?.body ?? '')).toBe('Your store is connected again');
    const after = await world.stores().merchants.get(CAFE);
    expect(after).toMatchObject({ storeCode: 'store-cafe', state: 'active', cursor: before?.cursor });
    expect(after?.tokenVersion).toBe((before?.tokenVersion ?? 0) + 1);
    tracked.push(after?.accessToken ?? '', after?.refreshToken ?? '');
  });

  it('connects a merchant Clover sends to the bare Site URL (no Alternate Launch Path set) as from the launch path', async () => {
    const before = await world.stores().merchants.get(CAFE);
    world.clover.signIn(CAFE);
    // As Clover sends a merchant who opens the app, with parameters of its own beside merchant_id.
    const site = `${world.stack.info.endpoints.web}/?merchant_id=${CAFE}&employee_id=EMP1&client_id=${APP_ID}`;
    const steps = await walk(world, site);
    keep(steps.callback);
    tracked.push(codeOf(steps.callbackUrl ?? ''));
    expect(h1(steps.callback?.body ?? '')).toBe('Your store is connected again');
    const after = await world.stores().merchants.get(CAFE);
    expect(after).toMatchObject({ storeCode: 'store-cafe', state: 'active' });
    expect(after?.tokenVersion).toBe((before?.tokenVersion ?? 0) + 1);
    tracked.push(after?.accessToken ?? '', after?.refreshToken ?? '');
  });

  it('refuses a store invite for a merchant already shown in another store, keeping the invite', async () => {
    // An invite for a store that already has a merchant says so.
    const note = await world.cli('stores', 'invite', '--store-code', 'store-cafe');
    expect(note.join('\n')).toMatch(`note: merchant ${CAFE} already shows its labels in store store-cafe`);
    const link = await inviteLink('--store-code', 'store-other');
    world.clover.signIn(CAFE);
    const before = await world.snapshot();
    const steps = await walk(world, link.url);
    keep(steps.callback);
    expect(steps.callback?.status).toBe(409);
    expect(steps.callback?.body).toContain('already connected to another store');
    // The owner reads why: their account serves a store other than the link's.
    expect(steps.callback?.body).toContain('a different store than the one this link was made for');
    // Clover has not yet proved the visitor is that merchant: its store is not named.
    expect(steps.callback?.body).not.toContain('store-cafe');
    expect(await world.snapshot()).toEqual(before);
    // Clover never saw the code exchanged: it is still usable, so it was not spent.
    tracked.push(codeOf(steps.callbackUrl ?? ''));
  });
});

describe('reconnect a merchant Clover refused', () => {
  it('makes a needs_reauth merchant active with its cursor and products kept', async () => {
    world.clover.addMerchant(FADED, [
      { name: 'Diesel', sku: 'DSL', price: 459 },
      { name: 'Chips', sku: 'CHP', price: 199 },
    ]);
    const first = world.clover.issueTokens(FADED);
    tracked.push(first.access_token, first.refresh_token);
    await world.cli(...merchantAddArgs(FADED, 'store-faded', first));
    await world.cli('tick', '--wait');
    world.clover.revokeRefreshToken(FADED);
    world.clover.expireAccessToken(FADED);
    const { merchants, shelf: items } = world.stores();
    const past = await merchants.get(FADED);
    await merchants.upsert({
      merchantId: FADED,
      storeCode: 'store-faded',
      tokens: {
        access_token: past?.accessToken ?? '',
        access_token_expiration: 1,
        refresh_token: past?.refreshToken ?? '',
        refresh_token_expiration: past?.refreshTokenExpiresAt ?? 1,
      },
    });
    await world.cli('tick', '--wait');
    const dead = await merchants.get(FADED);
    expect(dead?.state).toBe('needs_reauth');
    const status = (await world.cli('status')).join('\n');
    expect(status).toContain(`esl-sync merchants reconnect ${FADED}`);
    const productsBefore = await items.listItems(FADED);
    expect(productsBefore.length).toBe(2);

    // While it cannot be polled, the diesel price changes and the chips are deleted (a deletion no
    // read of changes shows).
    const diesel = world.clover.items(FADED).find((i) => i.sku === 'DSL');
    world.clover.upsertItem(FADED, { id: diesel?.id ?? '', price: 479 });
    const chips = world.clover.items(FADED).find((i) => i.sku === 'CHP');
    world.clover.deleteItem(FADED, chips?.id ?? '');
    const link = JSON.parse((await world.cli('merchants', 'reconnect', FADED, '--json')).join('\n'));
    // A reconnect link is for that merchant only.
    world.clover.signIn(CAFE);
    const wrong = await walk(world, link.url);
    keep(wrong.callback);
    expect(wrong.callback?.status).toBe(403);
    expect(h1(wrong.callback?.body ?? '')).toBe('This link is for another Clover account');
    tracked.push(codeOf(wrong.callbackUrl ?? ''));

    world.clover.signIn(FADED);
    const steps = await walk(world, link.url);
    keep(steps.callback);
    tracked.push(codeOf(steps.callbackUrl ?? ''));
    expect(h1(steps.callback?.body ?? '')).toBe('Your store is connected again');
    const back = await merchants.get(FADED);
    expect(back).toMatchObject({ state: 'active', storeCode: 'store-faded', cursor: dead?.cursor });
    expect(back?.stateReason).toBeUndefined();
    expect(back?.tokenVersion).toBe((dead?.tokenVersion ?? 0) + 1);
    expect(await items.listItems(FADED)).toEqual(productsBefore);
    tracked.push(back?.accessToken ?? '', back?.refreshToken ?? '');

    // Connected again, it is resynced at once: the price changed meanwhile reaches its label, and
    // the deleted item's label comes off.
    await until('the new diesel price is on its label and the chips are off the shelf', () => {
      const now = shelf(world.hipoink, 'store-faded');
      return now.some((p) => p.pc === 'DSL' && p.pp === '4.79') && !now.some((p) => p.pc === 'CHP');
    });
    world.clover.resetRequests();
    await world.cli('tick', '--wait');
    expect(world.clover.countItemRequests(FADED)).toBe(1);
    expect((await merchants.get(FADED))?.lastSyncStatus).toBe('ok');
    expect(shelf(world.hipoink, 'store-faded')).toEqual(expectedShelf(world.clover, FADED));
  });
});

describe('security of the callback', () => {
  let key = '';
  let inviteUrl = '';
  beforeAll(async () => {
    key = (await world.secrets())[2] as string;
    inviteUrl = (await inviteLink('--store-code', 'store-sec')).url;
  });

  /** A callback for a code Clover really issued, with a state of our making. */
  const callback = (state: string, over: Record<string, string> = {}) => {
    const code = world.clover.issueCode(CAFE);
    tracked.push(code);
    return callbackWith({ merchant_id: CAFE, client_id: APP_ID, code, state, ...over });
  };
  const inviteKeyOf = async () => {
    const { inviteKeyOf: keyOf } = await import('../../src/connect/invites.ts');
    return keyOf(new URL(inviteUrl).searchParams.get('invite') ?? '') as string;
  };
  const expectRefused = async (url: string, status: number, title: string) => {
    const before = await world.snapshot();
    const exchangesBefore = world.clover.stats.codeExchanges;
    const page = await openPage(url);
    keep(page);
    expect(page.status, url).toBe(status);
    expect(h1(page.body)).toBe(title);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(await world.snapshot()).toEqual(before);
    expect(world.clover.stats.codeExchanges).toBe(exchangesBefore);
  };

  it('refuses a bad signature', async () => {
    const forged = signState(
      { nonce: newNonce(), expiresAt: Date.now() + 60_000, inviteKey: await inviteKeyOf() },
      'not-the-key-but-long-enough-0123456789',
    );
    await expectRefused(callback(forged), 400, 'This sign-in link was changed or damaged');
  });

  it('refuses an expired state', async () => {
    const expired = signState(
      { nonce: newNonce(), expiresAt: Date.now() - 1, inviteKey: await inviteKeyOf() },
      key,
    );
    await expectRefused(callback(expired), 410, 'This sign-in took too long');
  });

  it('refuses a state used before', async () => {
    const state = signState({ nonce: newNonce(), expiresAt: Date.now() + 60_000 }, key);
    const first = await openPage(callback(state));
    keep(first);
    expect(first.status).toBe(200);
    // The store it connected is polled at once: that poll's writes are done before the snapshot.
    await world.cli('tick', '--wait');
    await expectRefused(callback(state), 409, 'This sign-in was already finished');
  });

  it('refuses a callback for another app', async () => {
    const state = signState({ nonce: newNonce(), expiresAt: Date.now() + 60_000 }, key);
    await expectRefused(
      callback(state, { client_id: 'OTHERAPP' }),
      400,
      'This sign-in was meant for another app',
    );
  });

  it('refuses a code whose tokens do not open the merchant the address names', async () => {
    const state = signState(
      { nonce: newNonce(), expiresAt: Date.now() + 60_000, inviteKey: await inviteKeyOf() },
      key,
    );
    const before = await world.snapshot();
    // Clover issued the code to CAFE; the address claims the launched merchant.
    const page = await openPage(callback(state, { merchant_id: 'NOSUCHMERCH9' }));
    keep(page);
    expect(page.status).toBe(400);
    expect(h1(page.body)).toBe('Clover’s answer did not match this Clover account');
    expect(await world.snapshot()).toEqual(before);
  });

  it('refuses missing parameters and oversized or odd query strings', async () => {
    const web = world.stack.info.endpoints.web;
    const state = signState({ nonce: newNonce(), expiresAt: Date.now() + 60_000 }, key);
    const incomplete = 'This page was opened with an incomplete address';
    const cases: Array<[string, number, string]> = [
      [`${web}/clover/callback`, 400, incomplete],
      [callbackWith({ merchant_id: CAFE, client_id: APP_ID, state }), 400, incomplete],
      [callbackWith({ merchant_id: CAFE, code: 'abc', state }), 400, incomplete],
      [`${callback(state)}&state=${encodeURIComponent(state)}`, 400, incomplete],
      [callback(state, { merchant_id: `${CAFE}<script>` }), 400, incomplete],
      [callback(`${state}%00`), 400, incomplete],
      [callback(state, { code: 'a b' }), 400, incomplete],
      [`${callback(state)}&pad=${'x'.repeat(3000)}`, 414, 'This address is too long'],
      [`${web}/connect`, 400, incomplete],
      [`${web}/connect?invite=${'x'.repeat(200)}`, 400, incomplete],
      [`${web}/connect?invite=AAAAAAAAAAAAAAAAAAAAAAAA`, 404, 'This link is not valid'],
      [`${web}/clover/launch?merchant_id=%E2%80%AE`, 400, incomplete],
      [`${web}/nothing/here`, 404, 'There is no page here'],
      // The bare Site URL, visited without Clover's merchant_id, starts nothing.
      [`${web}/`, 404, 'There is no page here'],
      [`${web}/?merchant_id=%E2%80%AE`, 400, incomplete],
    ];
    for (const [url, status, title] of cases) await expectRefused(url, status, title);
    const post = await openPage(`${web}/clover/callback`, { method: 'POST', body: 'x=1' });
    keep(post);
    expect(post.status).toBe(405);
  });

  it('shows the denial Clover sends, changing nothing and leaving the invite usable, also as pasted with a sentence’s marks after it', async () => {
    world.clover.signIn(SCRIPTED);
    world.clover.addUnconnectedMerchant(SCRIPTED, [{ name: 'Soda', sku: 'SOD', price: 150 }]);
    const before = await world.snapshot();
    const denied = await walk(world, inviteUrl, 'deny');
    keep(denied.callback);
    expect(denied.callback?.status).toBe(200);
    expect(h1(denied.callback?.body ?? '')).toBe('You did not allow the connection');
    expect(await world.snapshot()).toEqual(before);
    // Opened as copied from a message, with the sentence's closing marks after it.
    const allowed = await walk(world, `${inviteUrl}).`, 'allow');
    keep(allowed.callback);
    tracked.push(codeOf(allowed.callbackUrl ?? ''));
    expect(h1(allowed.callback?.body ?? '')).toBe('Your store is connected');
  });
});

describe('merchants add', () => {
  it('reads the token pair from stdin with --tokens-file -, printing no token', async () => {
    const { spawn } = await import('node:child_process');
    const { join } = await import('node:path');
    const tokens = world.clover.addMerchant(ADDED, []);
    tracked.push(tokens.access_token, tokens.refresh_token);
    const root = join(import.meta.dirname, '..', '..');
    const child = spawn(
      process.execPath,
      [
        join(root, 'bin', 'esl-sync.mjs'),
        'merchants',
        'add',
        '--merchant-id',
        ADDED,
        '--store-code',
        'store-script',
        '--tokens-file',
        '-',
      ],
      { cwd: root, env: { ...process.env, ESL_SYNC_DATA_DIR: world.dir }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stdin.end(JSON.stringify(tokens));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    world.seen.push(output);
    expect(output).toContain(`merchant ${ADDED} saved (store store-script, state active)`);
    expect(code).toBe(0);
    expect(output).not.toContain('warning');
    const stored = await world.stores().merchants.get(ADDED);
    expect(stored).toMatchObject({ accessToken: tokens.access_token, refreshToken: tokens.refresh_token });

    // Token values on argv still work, with a warning about shell history.
    const again = world.clover.issueTokens(ADDED);
    tracked.push(again.access_token, again.refresh_token);
    const out = await world.cli(...merchantAddArgs(ADDED, 'store-script', again));
    expect(out.join('\n')).toMatch(/warning: token values given as options end up in your shell history/);
  });

  it('names the fields, never the values, of a tokens file it cannot use', async () => {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const file = join(world.dir, 'tokens.json');
    writeFileSync(file, JSON.stringify({ access_token: 'tok-VISIBLE-123456', refresh_token: '' }));
    const err = await world
      .cli('merchants', 'add', '--merchant-id', 'X', '--store-code', 's', '--tokens-file', file)
      .catch((e: unknown) => e);
    expect(String(err)).toMatch(/access_token_expiration, refresh_token, refresh_token_expiration/);
    expect(String(err)).not.toContain('tok-VISIBLE');
    writeFileSync(file, '{"access_token": "tok-VISIBLE-123456",');
    const bad = await world
      .cli('merchants', 'add', '--merchant-id', 'X', '--store-code', 's', '--tokens-file', file)
      .catch((e: unknown) => e);
    expect(String(bad)).toMatch(/is not valid JSON/);
    expect(String(bad)).not.toContain('tok-VISIBLE');
  });
});

describe('secrets', () => {
  it('never show a code, token, the app secret, the signing key or the sign in a page, output or log', async () => {
    const texts = [...world.seen, ...pages.map((p) => `${p.body}\n${[...p.headers].join('\n')}`)];
    expect(pages.length).toBeGreaterThan(20);
    // The web function did log: one line per outcome, with ids only.
    const logged = world.seen.join('\n');
    expect(logged).toMatch(/"message":"Connect flow".*"outcome":"connected"/);
    expect(logged).toMatch(/"outcome":"state-tampered"/);
    expect(leaks(texts, [...tracked, ...(await world.secrets())])).toEqual([]);
  });
});
