import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderShelf, renderShelfPage, shelfHeaders } from '../../local/shelf/page.ts';
import { type ShelfView, storeShelf } from '../../local/shelf/view.ts';
import type { Slot } from '../../src/domain/shelf.ts';
import type { ItemRecord } from '../../src/store/shelf.ts';
import { escapeHtml } from '../../src/web/pages.ts';
import { merchantRecord } from './fakes.ts';

const NOW = Date.parse('2026-11-25T12:00:00Z');

const item = (itemId: string, over: Partial<ItemRecord> = {}): ItemRecord => ({
  merchantId: 'M1',
  itemId,
  status: 'active',
  stateHash: `s-${itemId}`,
  wantsSince: 1,
  updatedAt: 1,
  ...over,
});

/** Names and values as a Clover user could type them, each trying another way out of its place. */
const HOSTILE = {
  name: '<img src=x onerror="alert(1)">Cola & "Co"',
  code: 'X" onmouseover="alert(2)',
  unit: "</span><script>alert(3)</script>'",
  price: '<b>1.00</b>',
  store: 'store-<i>9</i>',
  merchant: 'M<svg onload=alert(4)>',
  reason: 'product code <s>X</s> is "taken"',
  error: 'Clover said <iframe src=//evil>',
  pushError: 'Hipoink said <u>busy</u>',
};

function hostileView(): ShelfView {
  const merchant = merchantRecord({
    merchantId: HOSTILE.merchant,
    storeCode: HOSTILE.store,
    state: 'needs_reauth',
    stateReason: HOSTILE.reason,
    lastSyncAt: NOW - 5_000,
    lastSyncStatus: 'error',
    lastSyncMode: 'incremental',
    lastSyncError: HOSTILE.error,
    pushFailingSince: NOW - 60_000,
    lastPushError: HOSTILE.pushError,
  });
  const label = { pc: 'C1', pn: HOSTILE.name, pp: '1.00' };
  const items = [
    item('A', { label, labelHash: 'h-A' }),
    item('B', { status: 'invalid', invalidReason: HOSTILE.reason, label, labelHash: 'h-B' }),
  ];
  const slots: Slot[] = [
    {
      code: 'C1',
      wanters: [{ itemId: 'A', label, labelHash: 'h-A', wantsSince: 1 }],
      refused: { labelHash: 'h-A', reason: HOSTILE.reason, itemId: 'A' },
    },
  ];
  const cards = [{ code: HOSTILE.code, name: HOSTILE.name, price: HOSTILE.price, unit: HOSTILE.unit }];
  return { at: NOW, liveLabels: true, stores: [storeShelf(merchant, items, slots, { cards }, NOW)] };
}

describe('the shelf page', () => {
  it('shows every value from Clover, the stores and Hipoink as text, never as markup', () => {
    const view = hostileView();
    for (const html of [renderShelf(view), renderShelfPage(view)]) {
      for (const value of Object.values(HOSTILE)) {
        expect(html).not.toContain(value);
        expect(html).toContain(escapeHtml(value));
      }
      expect(html).not.toMatch(/<(img|svg|iframe|i|b|s|u)\b/);
      // Every attribute value is closed where it should be: no value opens another attribute.
      expect(html).not.toMatch(/" on\w+=/);
    }
    // The page's own script is its only one.
    expect(renderShelfPage(view).match(/<script\b/g)).toHaveLength(1);
    expect(renderShelf(view)).not.toContain('<script');
  });

  it('allows its one inline script and stylesheet by their hashes, and fetches only from itself', () => {
    const page = renderShelfPage(hostileView());
    const csp = shelfHeaders()['content-security-policy'] ?? '';
    for (const tag of ['script', 'style']) {
      const body = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(page)?.[1] ?? '';
      const hash = `sha256-${createHash('sha256').update(body).digest('base64')}`;
      expect(csp).toContain(`${tag}-src '${hash}'`);
    }
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/connect-src 'self'/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
  });

  it('reports the sync state from the stored records: last poll, freshness, items not shown, refusals', () => {
    const [store] = hostileView().stores;
    expect(store?.sync).toMatchObject({ state: 'needs_reauth', lastSyncStatus: 'error' });
    // A store that is not active is not polled, so it has no freshness.
    expect(store?.freshnessSeconds).toBeUndefined();
    expect(store?.notShown).toEqual([{ itemId: 'B', name: HOSTILE.name, reason: HOSTILE.reason }]);
    expect(store?.refused).toEqual([{ itemId: 'A', name: HOSTILE.name, reason: HOSTILE.reason }]);
    expect(JSON.stringify(store)).not.toMatch(/access-0|refresh-0/);

    const active = storeShelf(
      merchantRecord({ lastPollStartedAt: NOW - 42_000, lastSyncAt: NOW - 40_000, lastSyncStatus: 'ok' }),
      [],
      [],
      { cards: [] },
      NOW,
    );
    expect(active.freshnessSeconds).toBe(42);
    const html = renderShelf({ at: NOW, liveLabels: true, stores: [active] });
    expect(html).toContain('42 s since the last successful poll');
    expect(html).toContain('No labels on the shelf yet.');
    expect(html).not.toContain('<dt>Pushes</dt>');
    // Polls fine, pushes failing: the page says so, since when and why.
    const failing = storeShelf(
      merchantRecord({ lastSyncStatus: 'ok', pushFailingSince: NOW - 60_000, lastPushError: 'HTTP 503' }),
      [item('A', { status: 'removed' }), item('B')],
      [],
      { cards: [] },
      NOW,
    );
    const failingHtml = renderShelf({ at: NOW, liveLabels: true, stores: [failing] });
    expect(failingHtml).toMatch(
      /<dt>Pushes<\/dt><dd><span class="error">failing since <time [^>]*>[^<]+<\/time>: HTTP 503/,
    );
    // A removed item is counted apart from Clover's items.
    expect(failingHtml).toContain('<dt>Items</dt><dd>1 from Clover, 1 removed</dd>');
  });

  it('with an external Hipoink server, says the live shelf needs the simulator and shows the sync state', () => {
    const store = storeShelf(merchantRecord(), [], [], undefined, NOW);
    const html = renderShelf({ at: NOW, liveLabels: false, stores: [store] });
    expect(html).toContain('The live shelf needs the bundled Hipoink simulator');
    expect(html).toContain('store-1');
    expect(html).not.toContain('class="cards"');
  });
});
