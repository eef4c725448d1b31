import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HipoinkSimulator, startHipoinkSimulator } from '../../../local/simulators/hipoink.ts';

let sim: HipoinkSimulator;
const SIGN = 'sim-sign-1';
const post = async (op: string, body: Record<string, unknown>, client = 'default') => {
  const res = await fetch(`${sim.url}/api/${client}/${op}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ store_code: 'S1', is_base64: '0', sign: SIGN, ...body }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { error_code: number; error_msg: string; count?: number },
  };
};

beforeAll(async () => {
  sim = await startHipoinkSimulator({ sign: SIGN });
});
afterAll(() => sim.stop());

describe('Hipoink simulator', () => {
  it('creates, updates and deletes products by code', async () => {
    expect(
      (
        await post('product/create_multiple', {
          f1: [
            { pc: 'A', pn: 'Cola', pp: '2.29' },
            { pc: 'B', pn: 'Gum', pp: '0.99' },
          ],
        })
      ).body.error_code,
    ).toBe(0);
    await post('product/create', { pc: 'A', pn: 'Cola', pp: '2.49', pu: 'ea' });
    expect(sim.products('S1').get('A')).toMatchObject({ pp: '2.49', pu: 'ea' });
    const del = await post('product/del_multiple', { f1: ['A', 'MISSING'] });
    expect(del.body).toMatchObject({ error_code: 0, count: 1 });
    expect([...sim.products('S1').keys()]).toEqual(['B']);
  });

  it('keeps a bound label through updates of its product and unbinds it when the product is deleted', async () => {
    await post('product/create_multiple', { f1: [{ pc: 'L1', pn: 'Diesel', pp: '4.19' }] });
    sim.bindLabel('S1', 'ESL-0001', 'L1');
    await post('product/create_multiple', { f1: [{ pc: 'L1', pn: 'Diesel', pp: '4.29' }] });
    await post('product/create', { pc: 'L1', pn: 'Diesel', pp: '4.39' });
    expect(sim.boundLabels('S1').get('ESL-0001')).toBe('L1');
    await post('product/del_multiple', { f1: ['L1'] });
    await post('product/create', { pc: 'L1', pn: 'Diesel', pp: '4.39' });
    // Creating the product again does not bind the label again.
    expect(sim.boundLabels('S1').has('ESL-0001')).toBe(false);
  });

  it('answers errors with HTTP 200 and error_code ≠ 0, never echoing the sign', async () => {
    const wrongSign = await fetch(`${sim.url}/api/default/product/create`, {
      method: 'POST',
      body: JSON.stringify({ store_code: 'S1', is_base64: '0', sign: 'nope', pc: 'X', pn: 'X', pp: '1.00' }),
    });
    const body = (await wrongSign.json()) as { error_code: number; error_msg: string };
    expect(wrongSign.status).toBe(200);
    expect(body.error_code).not.toBe(0);
    expect(JSON.stringify(body)).not.toContain(SIGN);
    expect((await post('product/create', { pc: 'X', pn: 'X', pp: '1.5.0' })).body.error_code).not.toBe(0);
    expect((await post('product/create', { pc: 'X', pn: '', pp: '1.00' })).body.error_code).not.toBe(0);
    expect(
      (await post('product/create', { pc: 'X', pn: 'X', pp: '1.00' }, 'other')).body.error_code,
    ).not.toBe(0);
  });

  it('refuses every request for a store it does not have, once told its stores', async () => {
    sim.onlyStores(['S2']);
    try {
      const unknown = await post('product/create', { pc: 'U', pn: 'U', pp: '1.00' });
      expect(unknown.status).toBe(200);
      expect(unknown.body.error_code).not.toBe(0);
      expect((await post('product/del_multiple', { f1: ['U'] })).body.error_code).not.toBe(0);
      expect(sim.products('S1').has('U')).toBe(false);
      sim.onlyStores(['S1', 'S2']);
      expect((await post('product/create', { pc: 'U', pn: 'U', pp: '1.00' })).body.error_code).toBe(0);
    } finally {
      sim.onlyStores(undefined);
    }
  });

  it('refuses a whole batch containing a rejected product and names it', async () => {
    sim.rejectProduct('BAD', 'unknown template');
    const r = await post('product/create_multiple', {
      f1: [
        { pc: 'OK', pn: 'ok', pp: '1.00' },
        { pc: 'BAD', pn: 'b', pp: '1.00' },
      ],
    });
    expect(r.body.error_code).not.toBe(0);
    expect(r.body.error_msg).toContain('BAD');
    expect(sim.products('S1').has('OK')).toBe(false);
  });

  it('fails every nth call with the given HTTP status, changing nothing', async () => {
    sim.resetCalls();
    sim.failEvery(2, 503);
    const a = await post('product/create', { pc: 'N1', pn: 'n', pp: '1.00' });
    const b = await post('product/create', { pc: 'N2', pn: 'n', pp: '1.00' });
    sim.failEvery(0);
    expect([a.status, b.status].sort()).toEqual([200, 503]);
    expect(sim.products('S1').has('N1') !== sim.products('S1').has('N2')).toBe(true);
    expect(sim.calls.map((c) => c.httpStatus).sort()).toEqual([200, 503]);
  });

  it('takes its faults over HTTP under /_sim/', async () => {
    const control = (path: string, body: unknown = {}, method = 'POST') =>
      fetch(`${sim.url}/_sim/${path}`, { method, body: JSON.stringify(body) });
    expect((await control('fail-every', { n: 1, status: 503 })).status).toBe(200);
    expect((await post('product/create', { pc: 'D1', pn: 'd', pp: '1.00' })).status).toBe(503);
    expect((await post('product/create', { pc: 'D1', pn: 'd', pp: '1.00' })).status).toBe(503);
    await control('fail-every', { n: 0 });
    expect((await post('product/create', { pc: 'D1', pn: 'd', pp: '1.00' })).body.error_code).toBe(0);

    await control('fail-next', { count: 1, status: 502 });
    expect((await post('product/create', { pc: 'D1', pn: 'd', pp: '1.00' })).status).toBe(502);
    await control('error-next', { count: 1, code: 10002, msg: 'sign check failed' });
    expect((await post('product/create', { pc: 'D1', pn: 'd', pp: '1.00' })).body.error_code).toBe(10002);

    await control('only-stores', { storeCodes: ['S2'] });
    expect((await post('product/create', { pc: 'D2', pn: 'd', pp: '1.00' })).body.error_code).not.toBe(0);
    await control('only-stores', {});
    expect((await post('product/create', { pc: 'D2', pn: 'd', pp: '1.00' })).body.error_code).toBe(0);

    await control('products/D3/reject', { reason: 'unknown template' });
    const refused = await post('product/create', { pc: 'D3', pn: 'd', pp: '1.00' });
    expect(refused.body.error_msg).toContain('unknown template');
    await control('products/D3/reject', {}, 'DELETE');
    expect((await post('product/create', { pc: 'D3', pn: 'd', pp: '1.00' })).body.error_code).toBe(0);
  });

  it('holds one store’s requests until released, answering the other stores meanwhile', async () => {
    const held = sim.holdStore('S-HELD');
    const waiting = post('product/create', { store_code: 'S-HELD', pc: 'H1', pn: 'Held', pp: '1.00' });
    for (let i = 0; i < 100 && sim.heldRequests('S-HELD') === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(sim.heldRequests('S-HELD')).toBe(1);
    expect((await post('product/create', { pc: 'FREE', pn: 'Free', pp: '1.00' })).body.error_code).toBe(0);
    expect(sim.products('S-HELD').has('H1')).toBe(false);
    held.release();
    expect((await waiting).body.error_code).toBe(0);
    expect(sim.products('S-HELD').has('H1')).toBe(true);
    expect(sim.heldRequests('S-HELD')).toBe(0);
  });
});
