/**
 * The local shelf page: each store's labels as a shelf of cards, with the store's sync state beside
 * them. Server-rendered HTML, every shown value escaped; one inline stylesheet and one small inline
 * script (both allowed by their hashes, nothing else) that fetches the shelf part again every
 * 1.5 s, swaps it in, and highlights for a few seconds each card whose price changed.
 */
import { createHash } from 'node:crypto';
import { securityHeaders } from '../../src/web/http.ts';
import { escapeHtml as esc } from '../../src/web/pages.ts';
import type { ShelfCard, ShelfProblem, ShelfView, StoreShelf } from './view.ts';

/** The path the page's script fetches the shelf part from. */
export const LIVE_PATH = '/live';
const REFRESH_MS = 1_500;
const HIGHLIGHT_MS = 5_000;

const STYLE = [
  '*{box-sizing:border-box}',
  'body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#eef0f3;color:#1d2330}',
  'header{padding:.9rem 1.25rem;background:#1d2330;color:#fff}',
  'header h1{margin:0;font-size:1.2rem}',
  'header p{margin:.15rem 0 0;font-size:.85rem;color:#c3cad8}',
  '#status.off{color:#ffb4a1}',
  'main{max-width:72rem;margin:0 auto;padding:1rem .75rem}',
  '.notice{background:#fff7e6;border:1px solid #f0c36d;border-radius:.5rem;padding:.75rem 1rem;margin:0 0 1rem}',
  '.store{background:#fff;border:1px solid #d5d9e0;border-radius:.75rem;padding:1rem;margin:0 0 1.25rem}',
  '.store h2{margin:0 0 .75rem;font-size:1.15rem;display:flex;flex-wrap:wrap;gap:.25rem .6rem;align-items:baseline}',
  '.store h2 small{font-weight:400;font-size:.85rem;color:#5b6475}',
  '.columns{display:grid;gap:1rem}',
  '@media (min-width:48rem){.columns{grid-template-columns:minmax(0,1fr) 19rem}.sync{order:2}}',
  '.sync{font-size:.875rem;background:#f6f7f9;border-radius:.5rem;padding:.75rem;align-self:start}',
  '.sync dl{display:grid;grid-template-columns:auto minmax(0,1fr);gap:.2rem .75rem;margin:0}',
  '.sync dt{color:#5b6475}.sync dd{margin:0;overflow-wrap:anywhere}',
  '.sync h3{font-size:.75rem;text-transform:uppercase;letter-spacing:.04em;color:#5b6475;margin:.8rem 0 .25rem}',
  '.sync ul{margin:0;padding-left:1.1rem}.sync li{overflow-wrap:anywhere;margin:.15rem 0}',
  '.ok{color:#1b6e3a}.partial{color:#8a5a00}.error{color:#b42318}',
  '.cards{list-style:none;margin:0;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.6rem}',
  '.card{display:flex;flex-direction:column;min-height:7.25rem;padding:.55rem .65rem;border:1px solid #c9ced8;',
  'border-radius:.4rem;background:#fff;box-shadow:0 1px 0 #d5d9e0;transition:background-color .4s,border-color .4s}',
  '.card .name{flex:1;font-weight:600;overflow-wrap:anywhere}',
  '.card .amount{display:flex;flex-wrap:wrap;align-items:baseline;column-gap:.3rem;margin:.2rem 0 0}',
  '.card .price{font-size:1.6rem;font-weight:700;font-variant-numeric:tabular-nums}',
  '.card .unit{min-width:0;color:#5b6475;overflow-wrap:anywhere}',
  '.card .code{font:.75rem ui-monospace,SFMono-Regular,Menlo,monospace;color:#5b6475;overflow-wrap:anywhere}',
  '.card.changed{background:#fff3bf;border-color:#d4a000}',
  '.empty{margin:0;color:#5b6475}',
].join('');

/**
 * Fetches the shelf part again every REFRESH_MS (no reload), remembers each card's price by store
 * and product code, and marks a card whose price differs from the previous fetch for HIGHLIGHT_MS.
 */
const SCRIPT = `(() => {
  const live = document.getElementById('live');
  const status = document.getElementById('status');
  const changedAt = new Map();
  const cards = () => [...live.querySelectorAll('[data-code]')].map((card) => ({
    card,
    key: card.closest('[data-store]').dataset.store + '\\n' + card.dataset.code,
    price: card.querySelector('.price').textContent,
  }));
  const refresh = async () => {
    try {
      const res = await fetch('${LIVE_PATH}', { cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const html = await res.text();
      const before = new Map(cards().map((c) => [c.key, c.price]));
      live.innerHTML = html;
      const now = Date.now();
      for (const { card, key, price } of cards()) {
        if (before.has(key) && before.get(key) !== price) changedAt.set(key, now);
        if (now - (changedAt.get(key) ?? -Infinity) < ${HIGHLIGHT_MS}) card.classList.add('changed');
      }
      status.textContent = 'live, updated ' + new Date().toLocaleTimeString('en-GB', { hour12: false });
      status.className = '';
    } catch (err) {
      status.textContent = 'not reachable (' + err.message + '), retrying';
      status.className = 'off';
    }
    setTimeout(refresh, ${REFRESH_MS});
  };
  setTimeout(refresh, ${REFRESH_MS});
})();`;

const hash = (text: string) => `sha256-${createHash('sha256').update(text).digest('base64')}`;
const STYLE_HASH = hash(STYLE);
const SCRIPT_HASH = hash(SCRIPT);

/**
 * The web function's security headers, with the page's one script allowed by its hash and its
 * fetches limited to this server.
 */
export function shelfHeaders(contentType = 'text/html; charset=utf-8'): Record<string, string> {
  const headers = securityHeaders(STYLE_HASH);
  return {
    ...headers,
    'content-security-policy': `${headers['content-security-policy']}; script-src '${SCRIPT_HASH}'; connect-src 'self'`,
    'content-type': contentType,
  };
}

/** The whole page: the shelf part as of now, and the script that keeps it current. */
export function renderShelfPage(view: ShelfView): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Shelf labels · esl-sync (local)</title>',
    `<style>${STYLE}</style>`,
    // Without script the page still follows the shelf, by reloading.
    '<noscript><meta http-equiv="refresh" content="5"></noscript>',
    '</head>',
    '<body>',
    '<header><h1>Shelf labels</h1>',
    `<p>esl-sync local stack · <span id="status">as of ${esc(clock(view.at))}</span></p></header>`,
    `<main id="live">${renderShelf(view)}</main>`,
    `<script>${SCRIPT}</script>`,
    '</body>',
    '</html>',
  ].join('\n');
}

/** The part of the page that changes: one section per store. */
export function renderShelf(view: ShelfView): string {
  const parts: string[] = [];
  if (!view.liveLabels) {
    parts.push(
      '<p class="notice">The live shelf needs the bundled Hipoink simulator: an external Hipoink server has ' +
        'no API to read its labels back. Each store’s sync state is shown below.</p>',
    );
  }
  if (view.stores.length === 0) {
    parts.push('<p class="notice">No store is connected yet.</p>');
  }
  for (const store of view.stores) parts.push(renderStore(store));
  return parts.join('\n');
}

function renderStore(store: StoreShelf): string {
  const { sync } = store;
  const title = sync.storeCode ?? 'no store code yet';
  return [
    `<section class="store" data-store="${esc(sync.storeCode ?? sync.merchantId)}">`,
    `<h2>${esc(title)} <small>Clover merchant ${esc(sync.merchantId)}</small></h2>`,
    '<div class="columns">',
    renderSync(store),
    `<div class="shelf">${renderLabels(store)}</div>`,
    '</div>',
    '</section>',
  ].join('\n');
}

function renderSync(store: StoreShelf): string {
  const { sync, counts } = store;
  const rows: Array<[string, string]> = [
    ['State', esc(sync.stateReason ? `${sync.state}: ${sync.stateReason}` : sync.state)],
  ];
  if (sync.lastSyncAt) {
    const at = Date.parse(sync.lastSyncAt);
    const status = sync.lastSyncStatus ?? 'unknown';
    rows.push([
      'Last poll',
      `<time datetime="${esc(sync.lastSyncAt)}">${esc(clock(at))}</time> ` +
        `<span class="${esc(status)}">${esc(status)}</span>` +
        (sync.lastSyncMode ? ` (${esc(sync.lastSyncMode)})` : ''),
    ]);
  } else {
    rows.push(['Last poll', 'not yet']);
  }
  if (sync.lastSyncError) rows.push(['Problem', `<span class="error">${esc(sync.lastSyncError)}</span>`]);
  // Polls may be fine while no label reaches Hipoink: said apart, since when and why.
  if (sync.pushFailingSince) {
    rows.push([
      'Pushes',
      `<span class="error">failing since <time datetime="${esc(sync.pushFailingSince)}">` +
        `${esc(clock(Date.parse(sync.pushFailingSince)))}</time>: ${esc(sync.lastPushError ?? 'unknown')}</span>`,
    ]);
  }
  rows.push([
    'Freshness',
    store.freshnessSeconds === undefined
      ? `not polled while ${esc(sync.state)}`
      : `${esc(age(store.freshnessSeconds))} since the last successful poll`,
  ]);
  rows.push([
    'Labels',
    `${counts.onShelf} on the shelf` +
      (counts.pendingPush ? `, ${counts.pendingPush} waiting for a push` : ''),
  ]);
  // Removed items (hidden, deleted, variable-priced) are still known, but no longer Clover's items.
  rows.push([
    'Items',
    `${counts.items - counts.removed} from Clover${counts.removed ? `, ${counts.removed} removed` : ''}`,
  ]);
  return [
    '<aside class="sync">',
    `<dl>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`,
    problems('Not shown (invalid or code taken)', store.notShown),
    problems('Refused by Hipoink', store.refused),
    '</aside>',
  ].join('\n');
}

function problems(title: string, list: readonly ShelfProblem[]): string {
  if (list.length === 0) return '';
  const items = list.map(
    (p) =>
      `<li><strong>${esc(p.name ?? p.itemId)}</strong>${p.name ? ` (${esc(p.itemId)})` : ''}: ${esc(p.reason)}</li>`,
  );
  return `<h3>${esc(title)}</h3><ul>${items.join('')}</ul>`;
}

function renderLabels(store: StoreShelf): string {
  if (store.labelsProblem) return `<p class="empty error">Labels not shown: ${esc(store.labelsProblem)}</p>`;
  if (!store.labels)
    return store.sync.storeCode ? '' : '<p class="empty">No labels until it has a store code.</p>';
  if (store.labels.length === 0) return '<p class="empty">No labels on the shelf yet.</p>';
  return `<ul class="cards">${store.labels.map(card).join('\n')}</ul>`;
}

function card(c: ShelfCard): string {
  return (
    `<li class="card" data-code="${esc(c.code)}">` +
    `<span class="name">${esc(c.name)}</span>` +
    `<p class="amount"><span class="price">${esc(c.price)}</span>` +
    (c.unit ? `<span class="unit">/ ${esc(c.unit)}</span>` : '') +
    '</p>' +
    `<span class="code">${esc(c.code)}</span>` +
    '</li>'
  );
}

/** A time of day as a person reads it on this machine, e.g. 14:03:21. */
function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}

/** An age in seconds, short: 45 s, 3 min, 2 h 5 min, 3 d. */
export function age(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} d`;
}
