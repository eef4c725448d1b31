/**
 * Clover's webhooks end to end, over loopback HTTP: the Clover simulator posts real notices (its
 * verification request first, then the auth code on every notice) to the web function the local
 * stack serves as API Gateway would; polls run on fauxqs and dynalite, labels land on the Hipoink
 * simulator. No scheduled poll runs (interval 0): whatever reaches a label got there by a notice.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localTarget } from '../../src/cli/target.ts';
import { APP_UNINSTALLED } from '../../src/connect/authorize.ts';
import { queueDepth, waitForQueuesDrained } from '../../src/queues/depth.ts';
import { createDocumentClient } from '../../src/store/dynamo.ts';
import { fanOut } from '../../src/sync/fanout.ts';
import {
  APP_ID,
  type ConnectWorld,
  expectedShelf,
  h1,
  leaks,
  shelf,
  startConnectWorld,
  WEBHOOK_AUTH,
  walk,
} from './connect-support.ts';
import { merchantAddArgs } from './support.ts';

const BURST = 'BURSTMERCH001';
const SHOP = 'SHOPMERCHNT02';
const GONE = 'GONEMERCHNT03';
const STORES = { [BURST]: 'store-burst', [SHOP]: 'store-shop', [GONE]: 'store-gone' } as const;

let world: ConnectWorld;
let url = '';

const merchant = async (id: string) => {
  const m = await world.stores().merchants.get(id);
  if (!m) throw new Error(`no merchant ${id}`);
  return m;
};
/** The merchant as stored, every attribute (to see which are gone). */
const stored = async (id: string) => {
  const target = localTarget(world.dir);
  const out = await createDocumentClient(target.dynamodb).send(
    new GetCommand({ TableName: target.stack.merchantsTable, Key: { merchantId: id }, ConsistentRead: true }),
  );
  return out.Item ?? {};
};
const drained = () => {
  const target = localTarget(world.dir);
  return waitForQueuesDrained(target.sqs, [target.stack.pollQueueUrl, target.stack.pushQueueUrl], {
    timeoutMs: 90_000,
    pollMs: 200,
  });
};
async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
/** Nothing stored changed since `before`, and no poll waits in the queue. */
async function expectNothingWritten(before: unknown[]) {
  expect(await world.snapshot()).toEqual(before);
  const target = localTarget(world.dir);
  const depth = await queueDepth(target.sqs, target.stack.pollQueueUrl);
  expect(depth).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
}
const onShelf = (id: string) => shelf(world.hipoink, STORES[id as keyof typeof STORES]);
const shelfMatches = (id: string) => () =>
  JSON.stringify(onShelf(id)) === JSON.stringify(expectedShelf(world.clover, id));
/** Posts a body as Clover would, with the given X-Clover-Auth (none when undefined). */
const post = (body: unknown, auth: string | undefined, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(auth === undefined ? {} : { 'x-clover-auth': auth }),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const update = (merchantId: string, itemId: string, ts = Date.now()) => ({
  appId: APP_ID,
  merchants: { [merchantId]: [{ objectId: `I:${itemId}`, type: 'UPDATE', ts }] },
});

beforeAll(async () => {
  // One notice per POST: a burst of changes is a burst of requests.
  world = await startConnectWorld({ cloverWebhooks: { maxNoticesPerPost: 1, concurrency: 8 } });
  url = `${world.stack.info.endpoints.web}/clover/webhooks`;
  const catalogs = {
    [BURST]: Array.from({ length: 500 }, (_, i) => ({
      name: `Item ${i}`,
      sku: `B-${i}`,
      price: 100 + i,
      modifiedTime: Date.now() - 86_400_000 + i,
    })),
    // Last edited a day ago, Candy last: a poll's own read (from the cursor, the newest edit) lists
    // only Candy, so a notice about another item is checked with a GET.
    [SHOP]: [
      { name: 'Diesel', sku: 'FUEL-D', price: 479 },
      { name: 'Soda', sku: 'SODA', price: 199 },
      { name: 'Chips', sku: 'CHIPS', price: 249 },
      { name: 'Candy', sku: 'CANDY', price: 129 },
    ].map((item, i) => ({ ...item, modifiedTime: Date.now() - 86_400_000 + i * 1000 })),
    [GONE]: [
      { name: 'Coffee', sku: 'COF', price: 159 },
      { name: 'Tea', sku: 'TEA', price: 149 },
    ],
  };
  for (const [id, items] of Object.entries(catalogs)) {
    const tokens = world.clover.addMerchant(id, items);
    await world.cli(...merchantAddArgs(id, STORES[id as keyof typeof STORES], tokens));
  }
  await world.cli('tick', '--wait');
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

describe('Clover webhooks', () => {
  it('records Clover’s verification request to the address `clover settings` prints, for the operator, who enters the code in Clover', async () => {
    expect(await world.cli('webhooks', 'verification-code')).toEqual([
      expect.stringMatching(/^no webhook verification request received yet/),
    ]);
    // The operator enters the address `clover settings` prints; Clover's request must reach it.
    const settings = JSON.parse((await world.cli('clover', 'settings', '--json')).join('\n'));
    expect(settings.siteUrl).toBe(world.stack.info.endpoints.web);
    const before = Date.now();
    world.clover.webhooks.configure({ url: settings.webhookUrl, authCode: WEBHOOK_AUTH });
    expect(await world.clover.webhooks.sendVerification()).toBe(200);
    const logged = world.seen.join('\n');
    const shown = JSON.parse((await world.cli('webhooks', 'verification-code', '--json')).join('\n'));
    expect(shown.code).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(shown.receivedAt)).toBeGreaterThanOrEqual(before - 1000);
    // Printed for the operator on request, logged nowhere.
    expect(logged).not.toContain(shown.code);
    expect(await world.cli('webhooks', 'verification-code')).toEqual([
      `verification code: ${shown.code}`,
      `received ${shown.receivedAt}; enter it in the Clover app’s webhook settings to verify the URL`,
    ]);
    expect(world.clover.webhooks.confirm(shown.code)).toBe(true);
  });

  it('refuses a notice without the auth code or with a wrong one (401): nothing is written, Clover sees no request', async () => {
    await drained();
    world.clover.resetRequests();
    const before = await world.snapshot();
    const item = world.clover.items(SHOP)[0]?.id ?? '';
    for (const auth of [undefined, '', 'wrong', WEBHOOK_AUTH.toUpperCase(), `${WEBHOOK_AUTH}x`]) {
      const res = await post(update(SHOP, item), auth);
      expect(res.status, String(auth)).toBe(401);
      expect(await res.json()).toEqual({ error: 'X-Clover-Auth is missing or wrong' });
    }
    await expectNothingWritten(before);
    // A notice with the code, for another store, goes through; once everything it queued ran,
    // Clover has been asked about that store only.
    const gone = world.clover.items(GONE)[0];
    if (!gone) throw new Error('no item');
    world.clover.upsertItem(GONE, { id: gone.id, price: gone.price + 10 });
    await until('the noticed change is on the shelf', shelfMatches(GONE));
    await drained();
    expect(world.clover.requests.some((r) => r.merchantId === GONE)).toBe(true);
    expect(world.clover.requests.filter((r) => r.merchantId === SHOP)).toEqual([]);
  });

  it('turns a 500-notice burst of one store into at most 2 polls that bring every label in line', {
    timeout: 240_000,
  }, async () => {
    await drained();
    const pollsBefore = (await merchant(BURST)).pollCount;
    const delivered = world.clover.webhooks.deliveries.length;
    // A bulk edit: every item's price, one notice (and one POST) each.
    for (const item of world.clover.items(BURST))
      world.clover.upsertItem(BURST, { id: item.id, price: item.price + 7 });
    await world.clover.webhooks.idle();
    const burst = world.clover.webhooks.deliveries.slice(delivered);
    expect(burst).toHaveLength(500);
    expect(burst.every((d) => d.status === 200)).toBe(true);
    await until('all 500 labels follow', shelfMatches(BURST));
    await drained();
    const polls = (await merchant(BURST)).pollCount - pollsBefore;
    expect(polls).toBeGreaterThanOrEqual(1);
    expect(polls).toBeLessThanOrEqual(2);
  });

  it('removes the label of an item deleted in Clover on the notice, confirmed by a GET, without ghost cleanup', async () => {
    await drained();
    const before = await merchant(SHOP);
    expect(before.lastCleanupAt).toBeDefined();
    world.clover.resetRequests();
    const victim = world.clover.items(SHOP).find((i) => i.sku === 'SODA');
    if (!victim) throw new Error('no victim');
    world.clover.deleteItem(SHOP, victim.id);
    await until('the label is gone', () => !onShelf(SHOP).some((p) => p.pc === 'SODA'));
    await drained();
    const after = await merchant(SHOP);
    expect(after.lastCleanupAt).toBe(before.lastCleanupAt);
    expect(after.pollsSinceCleanup).toBe(before.pollsSinceCleanup + 1);
    expect(world.clover.requests).toContainEqual(
      expect.objectContaining({ path: `/v3/merchants/${SHOP}/items/${victim.id}`, status: 404 }),
    );
    expect(onShelf(SHOP)).toEqual(expectedShelf(world.clover, SHOP));
  });

  it('removes nothing on a DELETE notice for an item that still exists', async () => {
    await drained();
    const live = world.clover.items(SHOP).find((i) => i.sku === 'CHIPS');
    if (!live) throw new Error('no item');
    const polls = (await merchant(SHOP)).pollCount;
    world.clover.resetRequests();
    world.clover.notify(SHOP, `I:${live.id}`, 'DELETE');
    await world.clover.webhooks.idle();
    await until('the poll ran', async () => (await merchant(SHOP)).pollCount > polls);
    await drained();
    expect(world.clover.requests).toContainEqual(
      expect.objectContaining({ path: `/v3/merchants/${SHOP}/items/${live.id}`, status: 200 }),
    );
    expect(onShelf(SHOP).find((p) => p.pc === 'CHIPS')).toEqual({ pc: 'CHIPS', pn: 'Chips', pp: '2.49' });
    expect(onShelf(SHOP)).toEqual(expectedShelf(world.clover, SHOP));
  });

  let uninstalledAt = 0;
  it('disables a store whose owner uninstalled the app and deletes its tokens; its labels stay', async () => {
    await drained();
    const labels = onShelf(GONE);
    expect(labels.length).toBe(2);
    uninstalledAt = Date.now();
    expect(world.clover.uninstallApp(GONE)).toBe(true);
    await world.clover.webhooks.idle();
    await until('the merchant is disabled', async () => (await merchant(GONE)).state === 'disabled');
    const raw = await stored(GONE);
    expect(raw).toMatchObject({ state: 'disabled', stateReason: APP_UNINSTALLED });
    for (const field of ['accessToken', 'refreshToken', 'previousRefreshToken', 'refreshLeaseOwner'])
      expect(raw, field).not.toHaveProperty(field);
    const status = await world.cli('status');
    expect(status).toContainEqual(
      expect.stringMatching(new RegExp(`^${GONE} .*disabled \\(app uninstalled\\)`)),
    );
    expect(status).toContainEqual(expect.stringContaining(`esl-sync merchants reconnect ${GONE}`));
    await expect(world.cli('merchants', 'enable', GONE)).rejects.toThrow(
      /not enabled: the Clover app was uninstalled.*reconnect/,
    );
    // A tick polls the others, not this one; its labels are as they were.
    world.clover.resetRequests();
    await world.cli('tick', '--wait');
    expect(world.clover.requests.filter((r) => r.merchantId === GONE)).toEqual([]);
    expect(onShelf(GONE)).toEqual(labels);
  });

  it('restores it when the store connects again, and its changes flow by notice again', async () => {
    const link = JSON.parse((await world.cli('merchants', 'reconnect', GONE, '--json')).join('\n')).url;
    world.clover.signIn(GONE);
    const steps = await walk(world, link);
    expect(h1(steps.callback?.body ?? '')).toBe('Your store is connected again');
    const m = await merchant(GONE);
    expect(m).toMatchObject({ state: 'active', storeCode: 'store-gone' });
    expect(m.stateReason).toBeUndefined();
    expect(m.tokensDeletedAt).toBeUndefined();
    const tea = world.clover.items(GONE).find((i) => i.sku === 'TEA');
    if (!tea) throw new Error('no item');
    world.clover.upsertItem(GONE, { id: tea.id, price: 175 });
    await until('the new price is on the shelf', () =>
      onShelf(GONE).some((p) => p.pc === 'TEA' && p.pp === '1.75'),
    );
  });

  it('is unharmed by duplicated and reordered notices, and by an uninstall notice from before the reconnect', async () => {
    await drained();
    const diesel = world.clover.items(SHOP).find((i) => i.sku === 'FUEL-D');
    const candy = world.clover.items(SHOP).find((i) => i.sku === 'CANDY');
    if (!diesel || !candy) throw new Error('no items');
    const t0 = Date.now();
    world.clover.upsertItem(SHOP, { id: diesel.id, price: 481 });
    world.clover.upsertItem(SHOP, { id: diesel.id, price: 489 });
    world.clover.deleteItem(SHOP, candy.id);
    // Clover repeats some and delivers older ones late.
    world.clover.notify(SHOP, `I:${diesel.id}`, 'UPDATE', t0 - 5_000);
    world.clover.notify(SHOP, `I:${diesel.id}`, 'UPDATE', t0);
    world.clover.notify(SHOP, `I:${diesel.id}`, 'UPDATE', t0);
    world.clover.notify(SHOP, `I:${candy.id}`, 'DELETE', t0);
    world.clover.notify(SHOP, `I:${candy.id}`, 'CREATE', t0 - 60_000);
    world.clover.notify(GONE, `A:${APP_ID}`, 'DELETE', uninstalledAt);
    await world.clover.webhooks.idle();
    await until('the shop’s labels follow Clover', shelfMatches(SHOP));
    await drained();
    expect(onShelf(SHOP)).toEqual(expectedShelf(world.clover, SHOP));
    expect(onShelf(SHOP).find((p) => p.pc === 'FUEL-D')?.pp).toBe('4.89');
    expect(onShelf(SHOP).some((p) => p.pc === 'CANDY')).toBe(false);
    expect(await merchant(GONE)).toMatchObject({ state: 'active' });
    expect((await stored(GONE)).accessToken).toEqual(expect.any(String));
    expect(world.clover.webhooks.deliveries.every((d) => d.status === 200)).toBe(true);
  });

  it('polls a change noticed right after the poll of another change completed, however close their times', async () => {
    await drained();
    const [first, second] = world.clover.items(SHOP).filter((i) => !i.hidden);
    if (!first || !second) throw new Error('no items');
    // Clover's times of the two changes are a millisecond apart; the second notice comes once the
    // first one's poll is done. Nothing else polls here: the second label follows by its notice.
    const ts = Date.now();
    world.clover.upsertItem(SHOP, { id: first.id, price: first.price + 11 }, true);
    world.clover.notify(SHOP, `I:${first.id}`, 'UPDATE', ts);
    await until('the first label follows', shelfMatches(SHOP));
    await drained();
    world.clover.upsertItem(SHOP, { id: second.id, price: second.price + 11 }, true);
    world.clover.notify(SHOP, `I:${second.id}`, 'UPDATE', ts + 1);
    await until('the second label follows', shelfMatches(SHOP), 20_000);
  });

  it('polls a store whose notices arrive every 15 minutes, one without every 2, and status says which', async () => {
    await drained();
    const QUIET = 'QUIETMERCH004';
    const tokens = world.clover.addMerchant(QUIET, [{ name: 'Milk', sku: 'MILK', price: 299 }]);
    await world.cli(...merchantAddArgs(QUIET, 'store-quiet', tokens));
    const heardAt = Date.now();
    const item = world.clover.items(SHOP)[0];
    if (!item) throw new Error('no item');
    expect((await post(update(SHOP, item.id), WEBHOOK_AUTH)).status).toBe(200);
    await until('the notice is recorded', async () => ((await merchant(SHOP)).lastNoticeAt ?? 0) >= heardAt);
    expect((await merchant(QUIET)).lastNoticeAt).toBeUndefined();

    // 45 minutes of scheduled fan-out runs, one a minute, over the stored merchants as they are.
    const pollTimes = new Map<string, Set<string>>();
    for (let run = 0; run < 45; run++) {
      await fanOut(
        {
          merchants: world.stores().merchants,
          pollQueue: {
            send: async (batch) => {
              for (const m of batch) {
                const set = pollTimes.get(m.groupId ?? '') ?? new Set<string>();
                set.add(m.deduplicationId ?? '');
                pollTimes.set(m.groupId ?? '', set);
              }
            },
          },
          cadence: { pollIntervalSeconds: 120, safetyPollIntervalMinutes: 15 },
          fanOutPeriodSeconds: 60,
          readRequestsPerSecond: 40,
          now: () => heardAt + run * 60_000,
        },
        { kind: 'schedule' },
      );
    }
    const polls = (id: string) => pollTimes.get(id)?.size ?? 0;
    expect(polls(SHOP)).toBeGreaterThanOrEqual(3);
    expect(polls(SHOP)).toBeLessThanOrEqual(4);
    expect(polls(QUIET)).toBeGreaterThanOrEqual(22);
    expect(polls(QUIET)).toBeLessThanOrEqual(23);

    const status = JSON.parse((await world.cli('status', '--json')).join('\n')) as {
      merchants: Array<{ merchantId: string; lastNoticeAt?: string; pollCadence: string }>;
    };
    const view = (id: string) => status.merchants.find((m) => m.merchantId === id);
    expect(view(SHOP)).toMatchObject({ pollCadence: 'safety', lastNoticeAt: expect.any(String) });
    expect(view(QUIET)).toMatchObject({ pollCadence: 'normal' });
    expect(view(QUIET)?.lastNoticeAt).toBeUndefined();
    await world.cli('merchants', 'remove', QUIET);
  });

  it('ignores a notice for a merchant it does not know (200), writing and asking nothing', async () => {
    await drained();
    world.clover.resetRequests();
    const before = await world.snapshot();
    const delivered = world.clover.webhooks.deliveries.length;
    world.clover.notify('UNKNOWNMERCH1', 'I:ITEM00000001', 'UPDATE');
    world.clover.notify('UNKNOWNMERCH1', `A:${APP_ID}`, 'DELETE');
    await world.clover.webhooks.idle();
    expect(world.clover.webhooks.deliveries.slice(delivered).map((d) => d.status)).toEqual([200, 200]);
    await drained();
    expect(await world.snapshot()).toEqual(before);
    expect(world.clover.requests).toEqual([]);
  });

  it('answers 4xx or an ignored 200 to any body and headers, never 5xx, and queues nothing without the code (fuzzed)', async () => {
    await drained();
    world.clover.resetRequests();
    const before = await world.snapshot();
    const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
    const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,40}$/).map((v) => v.trim());
    const noticeLike = fc.record({
      objectId: fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.constantFrom('I:', `I:${'X'.repeat(40)}`, 'IS:A', 'A:'),
      ),
      type: fc.oneof(fc.constantFrom('CREATE', 'UPDATE', 'DELETE'), fc.string({ maxLength: 8 })),
      ts: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 5 })),
    });
    const merchantKey = fc.oneof(
      fc.constantFrom(SHOP, BURST, GONE),
      fc.string({ unit: 'grapheme', maxLength: 16 }),
    );
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc
        .dictionary(
          merchantKey,
          fc.oneof(fc.array(noticeLike, { maxLength: 20 }), fc.jsonValue({ maxDepth: 2 })),
        )
        .map((merchants) => JSON.stringify({ appId: APP_ID, merchants })),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
      fc.constant(
        JSON.stringify({
          merchants: { [SHOP]: Array(5000).fill({ objectId: 'O:1', type: 'CREATE', ts: 1 }) },
        }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(body, fc.dictionary(token, headerValue, { maxKeys: 4 }), async (text, headers) => {
        const res = await post(text, undefined, headers);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        await res.arrayBuffer();
      }),
      { numRuns: 60 },
    );
    await expectNothingWritten(before);
    expect(world.clover.requests).toEqual([]);
    // With the code, the same bodies are a 200 (ignored or acted on), a 400 or a 413.
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        const res = await post(text, WEBHOOK_AUTH);
        expect([200, 400, 413]).toContain(res.status);
        await res.arrayBuffer();
      }),
      { numRuns: 60 },
    );
  }, 180_000);

  it('refuses a body over 1 MB with 413, as text or base64-encoded, and API Gateway’s oversize itself', async () => {
    const big = JSON.stringify({ ...update(SHOP, 'ITEM1'), pad: 'x'.repeat(1_100_000) });
    expect((await post(big, WEBHOOK_AUTH)).status).toBe(413);
    // A type API Gateway does not pass as text reaches the function base64-encoded: the same rules hold.
    expect((await post(big, WEBHOOK_AUTH, { 'content-type': 'application/octet-stream' })).status).toBe(413);
    const small = await post(update(SHOP, 'ITEM1'), WEBHOOK_AUTH, {
      'content-type': 'application/octet-stream',
    });
    expect(small.status).toBe(200);
    const huge = await post('x'.repeat(11 * 1024 * 1024), WEBHOOK_AUTH);
    expect(huge.status).toBe(413);
    expect(await huge.json()).toEqual({ message: expect.stringMatching(/content length exceeded/) });
  });

  it('never shows the auth code, the app secret or the sign in a log line, a page or CLI output', async () => {
    expect(leaks(world.seen, await world.secrets())).toEqual([]);
  });
});
