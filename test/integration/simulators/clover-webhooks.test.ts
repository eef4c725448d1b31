/**
 * The Clover simulator's webhook deliveries against a plain loopback receiver: the verification
 * request comes first and without the auth code, notices only once it was confirmed, each with
 * `X-Clover-Auth`, batched per turn and per merchant, for changes made through its API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../../local/aws/http.ts';
import { type CloverSimulator, startCloverSimulator } from '../../../local/simulators/clover.ts';

interface Received {
  auth: string | undefined;
  body: {
    verificationCode?: string;
    appId?: string;
    merchants?: Record<string, Array<{ objectId: string; type: string; ts: number }>>;
  };
}

let sim: CloverSimulator;
let receiver: Awaited<ReturnType<typeof startHttpServer>>;
const received: Received[] = [];
let status = 200;

beforeAll(async () => {
  receiver = await startHttpServer((req, body, res) => {
    const auth = req.headers['x-clover-auth'];
    received.push({ auth: typeof auth === 'string' ? auth : undefined, body: JSON.parse(body) });
    res.writeHead(status).end();
  });
  sim = await startCloverSimulator({
    appId: 'HOOKAPP',
    rateLimits: false,
    webhooks: { maxNoticesPerPost: 3 },
  });
});
afterAll(async () => {
  await sim.stop();
  await receiver.stop();
});

const notices = () => received.filter((r) => r.body.merchants);

describe('Clover simulator webhooks', () => {
  it('sends the verification request first, and notices only once its code is confirmed', async () => {
    sim.addMerchant('HOOKMERCHANT1', [{ id: 'ITEM1', name: 'Soda', price: 199 }]);
    expect(notices()).toEqual([]); // seeding a catalog raises no notice
    sim.webhooks.configure({ url: `${receiver.url}/hook`, authCode: 'auth-code-1' });
    sim.upsertItem('HOOKMERCHANT1', { id: 'ITEM1', price: 209 });
    expect(await sim.webhooks.sendVerification()).toBe(200);
    const [verification] = received;
    expect(verification).toEqual({ auth: undefined, body: { verificationCode: expect.any(String) } });
    expect(sim.webhooks.confirm('not-the-code')).toBe(false);
    expect(sim.webhooks.confirm(verification?.body.verificationCode ?? '')).toBe(true);
    await sim.webhooks.idle();
    expect(notices()).toEqual([]); // the change before verification was not sent
    expect(sim.webhooks.dropped).toBe(1);
  });

  it('posts each change with the auth code, batched, for changes made through its control API too', async () => {
    const before = Date.now();
    for (let i = 0; i < 4; i++)
      sim.upsertItem('HOOKMERCHANT1', { id: `NEW${i}`, name: `New ${i}`, price: 100 });
    sim.upsertItem('HOOKMERCHANT1', { id: 'ITEM1', price: 219 });
    await sim.webhooks.idle();
    const put = await fetch(`${sim.url}/_sim/merchants/HOOKMERCHANT1/items/ITEM1`, {
      method: 'PUT',
      body: JSON.stringify({ price: 229 }),
    });
    expect(put.status).toBe(200);
    await fetch(`${sim.url}/_sim/merchants/HOOKMERCHANT1/items/NEW0`, { method: 'DELETE' });
    await sim.webhooks.idle();
    const sent = notices();
    expect(sent.every((r) => r.auth === 'auth-code-1' && r.body.appId === 'HOOKAPP')).toBe(true);
    // Five changes in one turn: two POSTs of at most three; then one each.
    expect(sent.map((r) => r.body.merchants?.HOOKMERCHANT1?.length)).toEqual([3, 2, 1, 1]);
    const all = sent.flatMap((r) => r.body.merchants?.HOOKMERCHANT1 ?? []);
    expect(all.map((n) => `${n.objectId} ${n.type}`)).toEqual([
      'I:NEW0 CREATE',
      'I:NEW1 CREATE',
      'I:NEW2 CREATE',
      'I:NEW3 CREATE',
      'I:ITEM1 UPDATE',
      'I:ITEM1 UPDATE',
      'I:NEW0 DELETE',
    ]);
    for (const n of all) expect(n.ts).toBeGreaterThanOrEqual(before);
    expect(sim.webhooks.deliveries.slice(-4).map((d) => d.status)).toEqual([200, 200, 200, 200]);
  });

  it('sends an uninstall as A: DELETE, then nothing for that merchant until it installs again', async () => {
    received.length = 0;
    const res = await fetch(`${sim.url}/_sim/merchants/HOOKMERCHANT1/uninstall`, { method: 'POST' });
    expect(await res.json()).toEqual({ uninstalled: true });
    sim.upsertItem('HOOKMERCHANT1', { id: 'ITEM1', price: 239 });
    await sim.webhooks.idle();
    expect(
      notices()
        .flatMap((r) => r.body.merchants?.HOOKMERCHANT1 ?? [])
        .map((n) => n.objectId),
    ).toEqual(['A:HOOKAPP']);
    // Its tokens stopped working.
    expect(sim.uninstallApp('HOOKMERCHANT1')).toBe(false);
    sim.issueTokens('HOOKMERCHANT1');
    sim.upsertItem('HOOKMERCHANT1', { id: 'ITEM1', price: 249 });
    await sim.webhooks.idle();
    expect(notices()).toHaveLength(2);
  });

  it('records a delivery the receiver refused, and does not retry it', async () => {
    status = 401;
    const count = sim.webhooks.deliveries.length;
    sim.upsertItem('HOOKMERCHANT1', { id: 'ITEM1', price: 259 });
    await sim.webhooks.idle();
    status = 200;
    expect(sim.webhooks.deliveries.slice(count).map((d) => d.status)).toEqual([401]);
  });
});
