/** How the CLI's data reads as text lines (with --json the data is printed as it is instead). */
import type { RefresherRun } from '../store/heartbeat.ts';
import type { MerchantView } from '../store/merchants.ts';

export function merchantLine(v: MerchantView): string {
  const c = v.lastSyncCounts;
  const sync = v.lastSyncAt
    ? `last sync ${v.lastSyncAt} ${v.lastSyncStatus}` +
      (v.lastSyncStatus === 'partial' && v.readIncompleteSince ? ` since ${v.readIncompleteSince}` : '') +
      (v.lastSyncStatus === 'error' && v.syncFailingSince ? ` since ${v.syncFailingSince}` : '') +
      (v.lastSyncError ? ` (${v.lastSyncError})` : '') +
      (c ? `: fetched ${c.fetched}, changed ${c.changed}, removed ${c.removed}, invalid ${c.invalid}` : '')
    : 'never synced';
  const warning = v.refreshTokenExpiringSoon ? `  ! refresh token expires ${v.refreshTokenExpiresAt}` : '';
  // Only an active store is polled: an interval named for any other would mislead.
  const cadence = v.state === 'active' ? `${v.pollCadence} poll interval` : 'not polled';
  const notices = `  last webhook notice ${v.lastNoticeAt ?? 'never'}, ${cadence}`;
  // A store disabled after Clover refused its tokens still needs its owner: its state alone hides it.
  const refused =
    v.tokensRefusedAt !== undefined && v.state !== 'needs_reauth'
      ? `, needs re-authorization (Clover refused its tokens ${v.tokensRefusedAt})`
      : '';
  return `${v.merchantId}  store ${v.storeCode ?? '-'}  ${v.state}${v.stateReason ? ` (${v.stateReason})` : ''}${refused}  ${sync}${notices}${warning}`;
}

/** A store's shelf in numbers, as kept on its merchant record. */
export function shelfLine(v: MerchantView): string {
  const s = v.shelf;
  if (!s) return '  shelf: not counted yet (its next poll counts it)';
  return (
    `  shelf: ${s.onShelf} on shelf, ${s.outOfStep} to push, ${s.refused} refused, ` +
    `${s.invalid} invalid, ${s.removed} removed, of ${s.items} item(s)` +
    (s.countedAt ? ` (counted afresh ${s.countedAt})` : '')
  );
}

/** A store whose pushes fail, whatever else it waits on: its labels are not reaching Hipoink. */
export function pushFailureLine(
  v: Pick<MerchantView, 'pushFailingSince' | 'lastPushError'>,
  cli: string,
): string | undefined {
  if (v.pushFailingSince === undefined) return undefined;
  return `  ! its labels are not reaching Hipoink (pushes failing since ${v.pushFailingSince}: ${v.lastPushError ?? 'unknown'}); pushes that may pass are retried, and the store's next poll queues any set aside again, so its labels follow at the first poll once Hipoink answers (\`${cli} tick\` polls now); \`${cli} dlq list --queue push\` shows the letters`;
}

/**
 * Failures several active stores share word for word: one cause for the whole fleet (Clover or
 * Hipoink down, the app's credentials refused) reads as one line before the stores' own.
 */
export function sharedFailureLines(views: readonly MerchantView[]): string[] {
  const lines: string[] = [];
  const alike = (what: string, errorOf: (v: MerchantView) => string | undefined) => {
    const stores = new Map<string, number>();
    for (const v of views) {
      const error = v.state === 'active' ? errorOf(v) : undefined;
      if (error !== undefined) stores.set(error, (stores.get(error) ?? 0) + 1);
    }
    for (const [error, count] of stores)
      if (count > 1) lines.push(`! ${count} stores' ${what} fail alike: ${error}`);
  };
  alike('polls', (v) => (v.lastSyncStatus === 'error' ? v.lastSyncError : undefined));
  alike('pushes', (v) => (v.pushFailingSince !== undefined ? v.lastPushError : undefined));
  return lines;
}

/** What an operator does about a merchant that waits on someone; undefined when none waits. */
export function attentionHint(v: MerchantView, cli: string): string | undefined {
  if (v.state === 'needs_reauth') {
    return `re-authorize: \`${cli} merchants reconnect ${v.merchantId}\` gives a link to send the store`;
  }
  if (v.state === 'pending') {
    return `connected through Clover, no store code yet: \`${cli} merchants assign ${v.merchantId} --store-code CODE\``;
  }
  if (v.tokensDeletedAt !== undefined) {
    return `the Clover app was uninstalled ${v.tokensDeletedAt} (labels kept): \`${cli} merchants reconnect ${v.merchantId}\` gives a link that connects it again`;
  }
  // Disabled after Clover refused its tokens: enabling it alone would spend the refused token.
  if (v.tokensRefusedAt !== undefined) {
    const then =
      v.state === 'disabled'
        ? `; once it is used, \`${cli} merchants enable ${v.merchantId}\` starts it`
        : '';
    return `re-authorize: \`${cli} merchants reconnect ${v.merchantId}\` gives a link to send the store (Clover refused its tokens ${v.tokensRefusedAt}${then})`;
  }
  if (v.movingFrom !== undefined) {
    return `its labels are moving from store ${v.movingFrom} to store ${v.storeCode}, and store ${v.movingFrom}'s no longer follow Clover: unless that move is running now, \`${cli} merchants assign ${v.merchantId} --store-code ${v.storeCode}\` finishes it`;
  }
  // Not "not on the shelf": a refused label, or an item invalid since, keeps its last label there.
  if (v.shelf && v.shelf.invalid + v.shelf.refused > 0) {
    return `items whose labels do not show them as they are in Clover (invalid, or refused by Hipoink): \`${cli} merchants show ${v.merchantId}\` lists them with their reasons`;
  }
  return undefined;
}

/** The backup token refresher's heartbeat, as operators read it. */
export function refresherLine(run: (RefresherRun & { late: boolean }) | undefined, now = Date.now()): string {
  if (!run) return 'token refresher: no run recorded yet';
  const ago = Math.round((now - run.finishedAt) / 60_000);
  const line =
    `token refresher: last run ${new Date(run.finishedAt).toISOString()} (${ago} min ago): ` +
    `${run.checked} checked, ${run.refreshed} refreshed, ${run.failed} failed`;
  return run.late
    ? `${line} — LATE: it runs every ${Math.round(run.intervalSeconds / 60)} min; check its schedule and logs`
    : line;
}
