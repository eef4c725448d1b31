import { describe, expect, it } from 'vitest';
import {
  APP_UNINSTALLED,
  nextMerchantState,
  planAuthorization,
  stateAfterUninstall,
} from '../../src/connect/authorize.ts';
import {
  InviteDaysSchema,
  inviteKeyOf,
  inviteProblem,
  inviteUrl,
  newInvite,
  StoreCodeSchema,
} from '../../src/connect/invites.ts';
import { MAX_STATE_LENGTH, newNonce, signState, verifyState } from '../../src/connect/state.ts';

const KEY = 'k'.repeat(40);
const NOW = 1_800_000_000_000;

describe('OAuth state', () => {
  const state = { nonce: newNonce(), expiresAt: NOW + 60_000, inviteKey: 'a'.repeat(43) };

  it('round-trips a state we signed, with or without an invite', () => {
    expect(verifyState(signState(state, KEY), KEY, NOW)).toEqual({ ok: true, state });
    const launch = { nonce: state.nonce, expiresAt: state.expiresAt };
    expect(verifyState(signState(launch, KEY), KEY, NOW)).toEqual({ ok: true, state: launch });
  });

  it('refuses a state past its time as expired, and only an authentic one', () => {
    expect(verifyState(signState(state, KEY), KEY, state.expiresAt)).toEqual({
      ok: false,
      problem: 'expired',
    });
    const forged = signState(state, 'x'.repeat(40));
    expect(verifyState(forged, KEY, state.expiresAt + 1)).toEqual({ ok: false, problem: 'tampered' });
  });

  it('calls anything not exactly as issued tampered', () => {
    const token = signState(state, KEY);
    const [version, payload, signature] = token.split('.') as [string, string, string];
    const otherPayload = Buffer.from(
      JSON.stringify({ n: state.nonce, e: state.expiresAt + 86_400_000, i: state.inviteKey }),
    ).toString('base64url');
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'AB' : 'AA'}`;
    for (const bad of [
      `${version}.${otherPayload}.${signature}`, // a later expiry, same signature
      `${version}.${payload}.${flipped}`,
      `v2.${payload}.${signature}`,
      `${version}.${payload}`,
      `${token}.extra`,
      '',
      'not-a-state',
      `${version}.${payload}.${signature}=`,
      'x'.repeat(MAX_STATE_LENGTH + 1),
      signState(state, `${KEY}!`),
    ]) {
      expect(verifyState(bad, KEY, NOW), bad).toEqual({ ok: false, problem: 'tampered' });
    }
  });

  it('refuses to sign or verify with a short key', () => {
    expect(() => signState(state, 'short')).toThrow(/at least 32 characters/);
    expect(() => verifyState(signState(state, KEY), 'short', NOW)).toThrow(/at least 32/);
  });

  it('puts nothing but the nonce, expiry and invite key into the state', () => {
    const [, payload] = signState(state, KEY).split('.') as [string, string];
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toEqual({
      n: state.nonce,
      e: state.expiresAt,
      i: state.inviteKey,
    });
  });
});

describe('invites', () => {
  it('are single use, expire after 7 days by default, and are stored by the hash of their id', () => {
    const { id, invite } = newInvite({ storeCode: 'store-003' }, { now: NOW });
    expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(invite.key).toBe(inviteKeyOf(id));
    expect(invite.key).not.toContain(id);
    expect(invite.expiresAt - NOW).toBe(7 * 86_400_000);
    expect(newInvite({ forMerchant: 'M1' }, { now: NOW, days: 0.5 }).invite.expiresAt - NOW).toBe(43_200_000);
    expect(newInvite({ storeCode: 's' }, { now: NOW }).id).not.toBe(id);

    expect(inviteProblem(invite, NOW)).toBeUndefined();
    expect(inviteProblem(undefined, NOW)).toBe('unknown');
    expect(inviteProblem(invite, invite.expiresAt)).toBe('expired');
    expect(inviteProblem({ ...invite, usedAt: NOW }, NOW)).toBe('used');
    // Used wins over expired: the owner learns it was used, not that it ran out.
    expect(inviteProblem({ ...invite, usedAt: NOW }, invite.expiresAt + 1)).toBe('used');
    expect(inviteProblem({ ...invite, claimedBy: 'n', claimedUntil: NOW + 1 }, NOW)).toBe('busy');
    expect(inviteProblem({ ...invite, claimedBy: 'n', claimedUntil: NOW }, NOW)).toBeUndefined();
  });

  it('takes only ids in the form we issue', () => {
    for (const bad of ['', 'short', 'x'.repeat(25), 'abc$defghijklmnopqrstuvw', '../../../../etc/passwd12'])
      expect(inviteKeyOf(bad), bad).toBeUndefined();
    expect(inviteUrl('http://127.0.0.1:5/', 'ID')).toBe('http://127.0.0.1:5/connect?invite=ID');
  });

  it('checks store codes and lifetimes as operators type them', () => {
    expect(StoreCodeSchema.safeParse('store-003').success).toBe(true);
    for (const bad of ['', 'with space', 'x'.repeat(65), 'tab\there', 'é'])
      expect(StoreCodeSchema.safeParse(bad).success, bad).toBe(false);
    expect(InviteDaysSchema.parse('2.5')).toBe(2.5);
    for (const bad of ['0', '-1', '31', 'abc', 'Infinity'])
      expect(InviteDaysSchema.safeParse(bad).success).toBe(false);
  });
});

describe('authorization plan', () => {
  const active = { storeCode: 'store-1', state: 'active' as const };

  it('binds a new merchant to the invite’s store, or leaves it pending without one', () => {
    expect(planAuthorization('M', undefined, { storeCode: 'store-3' })).toEqual({
      ok: true,
      storeCode: 'store-3',
      state: 'active',
    });
    expect(planAuthorization('M', undefined, undefined)).toEqual({ ok: true, state: 'pending' });
  });

  it('lets a known merchant re-authorize into active and keep its store', () => {
    for (const invite of [undefined, { storeCode: 'store-1' }, { forMerchant: 'M' }]) {
      expect(planAuthorization('M', { ...active, state: 'needs_reauth' }, invite)).toEqual({
        ok: true,
        storeCode: 'store-1',
        state: 'active',
      });
    }
    // A pending merchant taking a store invite gets its store.
    expect(planAuthorization('M', { state: 'pending' }, { storeCode: 'store-9' })).toMatchObject({
      state: 'active',
      storeCode: 'store-9',
    });
    // Disabled by an operator stays disabled.
    expect(planAuthorization('M', { ...active, state: 'disabled' }, undefined)).toMatchObject({
      state: 'disabled',
    });
    const byOperator = { ...active, state: 'disabled' as const, stateReason: 'closed for the winter' };
    expect(planAuthorization('M', byOperator, { forMerchant: 'M' })).toMatchObject({ state: 'disabled' });
  });

  it('restores a merchant disabled because the app was uninstalled, and only the connect flow does', () => {
    const uninstalled = { ...active, state: 'disabled' as const, stateReason: APP_UNINSTALLED };
    for (const invite of [undefined, { forMerchant: 'M' }, { storeCode: 'store-1' }])
      expect(planAuthorization('M', uninstalled, invite)).toEqual({
        ok: true,
        storeCode: 'store-1',
        state: 'active',
      });
    // Uninstalled while pending: back to pending, waiting for its store code.
    expect(planAuthorization('M', { state: 'disabled', stateReason: APP_UNINSTALLED }, undefined)).toEqual({
      ok: true,
      state: 'pending',
    });
    // Without fresh tokens (merchants assign) the reason is not given: it stays disabled.
    expect(nextMerchantState('s', 'disabled')).toBe('disabled');
    expect(nextMerchantState('s', 'disabled', APP_UNINSTALLED)).toBe('active');
  });

  it('disables on uninstall, keeping an operator’s own disable and reason', () => {
    for (const state of ['active', 'needs_reauth', 'pending'] as const)
      expect(stateAfterUninstall({ state })).toEqual({ state: 'disabled', reason: APP_UNINSTALLED });
    expect(stateAfterUninstall({ state: 'disabled', stateReason: APP_UNINSTALLED })).toEqual({
      state: 'disabled',
      reason: APP_UNINSTALLED,
    });
    expect(
      stateAfterUninstall({ state: 'disabled', stateReason: 'disabled by an operator' }),
    ).toBeUndefined();
  });

  it('refuses a store invite for a merchant shown in another store, and a reconnect link for another merchant', () => {
    expect(planAuthorization('M', active, { storeCode: 'store-2' })).toEqual({
      ok: false,
      problem: 'store-conflict',
      storeCode: 'store-1',
    });
    expect(planAuthorization('M', active, { forMerchant: 'OTHER' })).toEqual({
      ok: false,
      problem: 'wrong-merchant',
    });
  });

  it('makes a merchant active once it has a store code, unless an operator disabled it', () => {
    expect(nextMerchantState('s', 'pending')).toBe('active');
    expect(nextMerchantState(undefined, 'active')).toBe('pending');
    expect(nextMerchantState('s', 'disabled')).toBe('disabled');
  });
});
