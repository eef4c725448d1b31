import { createHash } from 'node:crypto';
import type { ConnectOutcome } from '../connect/authorize.ts';
import { securityHeaders, type WebResponse } from './http.ts';

/**
 * The pages a store owner sees: plain HTML, one inline stylesheet, no script or outside asset,
 * readable on a phone. Each says what happened and what to do next. They show only what the owner
 * already knows (their Clover merchant id, a store code): never a token, code, secret or key.
 */

const STYLE = [
  'body{margin:0;font:17px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2330}',
  'main{max-width:34rem;margin:0 auto;padding:2.5rem 1.25rem}',
  'h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}',
  'p{margin:0 0 1rem}',
  '.next{padding:1rem;border-radius:.5rem;background:#fff;border:1px solid #d5d9e0}',
  '.ok h1{color:#1b6e3a}.problem h1{color:#9a3412}',
  'code{font-size:1rem;background:#e8eaef;padding:.1rem .35rem;border-radius:.25rem}',
].join('');
const STYLE_HASH = `sha256-${createHash('sha256').update(STYLE).digest('base64')}`;

/** Every response's headers: the security headers and the content type. */
export function responseHeaders(contentType = 'text/html; charset=utf-8'): Record<string, string> {
  return { ...securityHeaders(STYLE_HASH), 'content-type': contentType };
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

/** Text with `{name}` slots filled in as inline code, every piece escaped. */
function fill(text: string, slots: Record<string, string>): string {
  return escapeHtml(text).replace(/\{(\w+)\}/g, (_, name: string) =>
    slots[name] === undefined ? '' : `<code>${escapeHtml(slots[name])}</code>`,
  );
}

interface PageText {
  status: number;
  title: string;
  message: string;
  next: string;
  tone: 'ok' | 'problem';
}

export function renderPage(text: PageText, slots: Record<string, string> = {}): WebResponse {
  const body = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(text.title)} · esl-sync</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    `<body><main class="${text.tone}">`,
    `<h1>${fill(text.title, slots)}</h1>`,
    `<p>${fill(text.message, slots)}</p>`,
    `<p class="next">${fill(text.next, slots)}</p>`,
    '</main></body>',
    '</html>',
  ].join('\n');
  return { status: text.status, headers: responseHeaders(), body };
}

const AGAIN = 'Nothing was changed. Open the link you were sent again to start over.';

type PageKind =
  | Exclude<ConnectOutcome['kind'], 'redirect' | 'connected'>
  | 'bad-request'
  | 'too-long'
  | 'not-found'
  | 'method-not-allowed'
  | 'internal';

/** What each failure page says, and its HTTP status. */
export const PAGES: Record<PageKind, PageText> = {
  denied: {
    status: 200,
    tone: 'problem',
    title: 'You did not allow the connection',
    message: 'Nothing was changed: Clover gave this service no access this time.',
    next: 'To connect your store, or connect it again, open the link you were sent again and press Allow.',
  },
  'invite-unknown': {
    status: 404,
    tone: 'problem',
    title: 'This link is not valid',
    message: 'We do not know this link. It may be incomplete: some apps cut long links.',
    next: 'Open the whole link exactly as you received it, or ask your installer for a new one.',
  },
  'invite-expired': {
    status: 410,
    tone: 'problem',
    title: 'This link has expired',
    message: 'Links to connect a store only work for a limited time. Nothing was changed.',
    next: 'Ask your installer for a new link.',
  },
  'invite-used': {
    status: 410,
    tone: 'problem',
    title: 'This link has already been used',
    // Also what reloading the "connected" page shows: its owner must not read it as a failure.
    message:
      'Each link connects a store once, and this one already has. If you used it yourself, your store is connected and there is nothing else to do.',
    next: 'If your shelf labels are not following Clover, ask your installer for a new link.',
  },
  'invite-busy': {
    status: 409,
    tone: 'problem',
    title: 'This link is being used right now',
    message: 'Someone is finishing a connection with this link at this moment.',
    next: 'Wait two minutes, then open the link again.',
  },
  'state-tampered': {
    status: 400,
    tone: 'problem',
    title: 'This sign-in link was changed or damaged',
    message: 'The address this page was opened with is not one we made, so we did not use it.',
    next: AGAIN,
  },
  'state-expired': {
    status: 410,
    tone: 'problem',
    title: 'This sign-in took too long',
    message: 'To keep your store safe, a sign-in must be finished within 20 minutes.',
    next: AGAIN,
  },
  'state-used': {
    status: 409,
    tone: 'problem',
    title: 'This sign-in was already finished',
    message:
      'This page was opened a second time, so it did nothing. If it said your store is connected the first time, it still is.',
    next: 'If your store is not connected, open the link you were sent again.',
  },
  'wrong-app': {
    status: 400,
    tone: 'problem',
    title: 'This sign-in was meant for another app',
    message: 'Clover sent this page an answer for a different app.',
    next: AGAIN,
  },
  'wrong-merchant': {
    status: 403,
    tone: 'problem',
    title: 'This link is for another Clover account',
    message: 'It was made to reconnect a different merchant than the one you signed in as.',
    next: 'Sign in to Clover as the store the link was made for, or ask your installer for a new link.',
  },
  'store-conflict': {
    status: 409,
    tone: 'problem',
    title: 'This Clover account is already connected to another store',
    // Which store is not said: this page comes before Clover has proved the visitor is that merchant.
    message:
      'It already keeps the shelf labels of a different store than the one this link was made for. Nothing was changed.',
    next: 'Ask your installer: moving a Clover account to another store is done by them.',
  },
  'code-refused': {
    status: 400,
    tone: 'problem',
    title: 'Clover did not accept this sign-in',
    message: 'Clover answered that this sign-in is no longer valid (it may have been used or timed out).',
    next: AGAIN,
  },
  'token-mismatch': {
    status: 400,
    tone: 'problem',
    title: 'Clover’s answer did not match this Clover account',
    message:
      'The access Clover gave does not open the merchant named in this address, so we did not keep it.',
    next: AGAIN,
  },
  'clover-unavailable': {
    status: 502,
    tone: 'problem',
    title: 'Clover could not be reached',
    message: 'We could not finish the connection with Clover just now. Nothing was changed.',
    next: 'Try again in a few minutes with the same link.',
  },
  'not-configured': {
    status: 503,
    tone: 'problem',
    title: 'Connecting stores is not set up yet',
    message: 'This service cannot finish a Clover sign-in until its Clover app settings are complete.',
    next: 'Please tell your installer. Nothing was changed.',
  },
  'bad-request': {
    status: 400,
    tone: 'problem',
    title: 'This page was opened with an incomplete address',
    message: 'Part of the address is missing or not in the form we expect, so we did not use it.',
    next: AGAIN,
  },
  'too-long': {
    status: 414,
    tone: 'problem',
    title: 'This address is too long',
    message: 'The address this page was opened with is far longer than any we make, so we did not read it.',
    next: AGAIN,
  },
  'not-found': {
    status: 404,
    tone: 'problem',
    title: 'There is no page here',
    message: 'This address does not lead anywhere on this service.',
    next: 'Open the link you were sent exactly as you received it.',
  },
  'method-not-allowed': {
    status: 405,
    tone: 'problem',
    title: 'This page cannot be used this way',
    message: 'This address only answers a browser opening it.',
    next: 'Open the link you were sent in your browser.',
  },
  internal: {
    status: 500,
    tone: 'problem',
    title: 'Something went wrong on our side',
    message: 'We could not finish this step.',
    next: 'Try again in a few minutes with the link you were sent. If it keeps happening, tell your installer.',
  },
};

export function failurePage(kind: PageKind, slots: Record<string, string> = {}): WebResponse {
  return renderPage(PAGES[kind], slots);
}

/** The page for a connection that went through. */
export function connectedPage(outcome: Extract<ConnectOutcome, { kind: 'connected' }>): WebResponse {
  const slots = { merchantId: outcome.merchantId, storeCode: outcome.storeCode ?? '' };
  if (outcome.state === 'pending') {
    return renderPage(
      {
        status: 200,
        tone: 'ok',
        title: 'Clover is connected',
        message:
          'Your Clover account {merchantId} is connected, but it is not linked to your shelf labels yet.',
        next: 'Tell your installer your Clover merchant id {merchantId}: they finish the set-up. You can close this page.',
      },
      slots,
    );
  }
  if (outcome.state === 'disabled') {
    return renderPage(
      {
        status: 200,
        tone: 'ok',
        title: 'Clover is connected again',
        message:
          'Your Clover account {merchantId} is connected to store {storeCode}, but label updates are paused.',
        next: 'Your installer paused them; ask them to start them again. You can close this page.',
      },
      slots,
    );
  }
  return renderPage(
    {
      status: 200,
      tone: 'ok',
      title: outcome.known ? 'Your store is connected again' : 'Your store is connected',
      message:
        'Clover account {merchantId} now keeps the shelf labels of store {storeCode} up to date. Prices and names you change in Clover reach the labels within a few minutes.',
      next: 'Nothing else to do. You can close this page.',
    },
    slots,
  );
}

/** A redirect, with the same headers as every page (no Referer leaves it either). */
export function redirect(location: string): WebResponse {
  return { status: 302, headers: { ...responseHeaders('text/plain; charset=utf-8'), location }, body: '' };
}
