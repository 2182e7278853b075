// The access-key rules with plain data: a key never outranks its owner.
import { describe, expect, it } from 'vitest';
import type { Membership } from '../../../src/api/generated.ts';
import { team as fixtureTeam } from '../admission/fixtures.ts';
import { effectiveKeyRights, emailOfUser, keyBackendOf, keyExcess, keyExpiryProblem, mayCreateKeys, ownerStanding } from '../../../src/domain/access-keys.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const team = fixtureTeam({}, { owner: { email: 'liam@acme.com', phase: 'Active' } });
const member = (spec: Partial<Membership['spec']>, phase: NonNullable<Membership['status']>['phase'] = 'Active'): Membership => ({
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Membership',
  metadata: { name: 'riley', namespace: 'acme' },
  spec: { team: 'acme', email: 'riley@acme.com', role: 'admin', ...spec },
  status: { phase },
});

describe('effectiveKeyRights', () => {
  it('is the request when the owner is team-wide', () => {
    expect(effectiveKeyRights({ role: 'developer', projects: [{ name: 'shop', environments: ['staging'] }] }, { role: 'admin' })).toEqual({
      role: 'developer',
      projects: [{ name: 'shop', environments: ['staging'] }],
    });
    expect(effectiveKeyRights({ role: 'developer' }, { role: 'owner' })).toEqual({ role: 'developer' });
  });

  it('drops to observer under an observer owner, and to nothing under billing', () => {
    expect(effectiveKeyRights({ role: 'developer' }, { role: 'observer' })).toEqual({ role: 'observer' });
    expect(effectiveKeyRights({ role: 'observer' }, { role: 'developer' })).toEqual({ role: 'observer' });
    expect(effectiveKeyRights({ role: 'developer' }, { role: 'billing' })).toBeUndefined();
  });

  it('intersects scopes by project and environment', () => {
    const owner = { role: 'developer' as const, projects: [{ name: 'shop', environments: ['staging', 'qa'] }, { name: 'wiki' }] };
    expect(effectiveKeyRights({ role: 'developer' }, owner)).toEqual({
      role: 'developer',
      projects: [{ name: 'shop', environments: ['qa', 'staging'] }, { name: 'wiki' }],
    });
    expect(effectiveKeyRights({ role: 'developer', projects: [{ name: 'shop' }] }, owner)?.projects).toEqual([
      { name: 'shop', environments: ['qa', 'staging'] },
    ]);
    expect(effectiveKeyRights({ role: 'developer', projects: [{ name: 'shop', environments: ['production'] }] }, owner)).toBeUndefined();
    expect(effectiveKeyRights({ role: 'developer', projects: [{ name: 'blog' }] }, owner)).toBeUndefined();
  });
});

describe('keyExcess', () => {
  it('names each difference', () => {
    const owner = { role: 'observer' as const, projects: [{ name: 'shop', environments: ['staging'] }] };
    expect(keyExcess({ role: 'developer', projects: [{ name: 'shop', environments: ['staging', 'production'] }, { name: 'wiki' }] }, owner)).toEqual([
      'role developer where the owner has role observer (use role observer)',
      "shop/production, outside the owner's scope (shop (staging))",
      "project wiki, outside the owner's scope (shop (staging))",
    ]);
    expect(keyExcess({ role: 'observer' }, owner)).toEqual(['the whole team where the owner is scoped to shop (staging) (list spec.projects)']);
    expect(keyExcess({ role: 'developer', projects: [{ name: 'shop' }] }, { role: 'admin' })).toEqual([]);
  });
});

describe('ownerStanding and who may create keys', () => {
  it('knows the owner, Active members, and everyone else', () => {
    expect(ownerStanding(team, [], 'Liam@acme.com', NOW)).toMatchObject({ kind: 'active', rights: { role: 'owner' } });
    expect(ownerStanding(team, [member({})], 'riley@acme.com', NOW)).toMatchObject({ kind: 'active', rights: { role: 'admin' } });
    expect(ownerStanding(team, [member({}, 'OverSeatLimit')], 'riley@acme.com', NOW)).toMatchObject({ kind: 'inactive' });
    expect(ownerStanding(team, [member({ expiresAt: '2026-05-01T00:00:00Z' })], 'riley@acme.com', NOW)).toMatchObject({ kind: 'inactive' });
    expect(ownerStanding(team, [], 'eve@acme.com', NOW)).toMatchObject({ kind: 'inactive', message: 'eve@acme.com has no Membership in team acme' });
  });

  it('lets owner and admin create keys, per the role matrix', () => {
    expect(['owner', 'admin', 'developer', 'observer', 'billing'].filter((r) => mayCreateKeys(r as 'owner'))).toEqual(['owner', 'admin']);
  });
});

describe('keyExpiryProblem', () => {
  it('requires a time within the limit and within the owner’s own access', () => {
    expect(keyExpiryProblem(undefined, NOW, 90)).toMatch(/spec.expiresAt is required/);
    expect(keyExpiryProblem('2026-05-01T00:00:00Z', NOW, 90)).toMatch(/in the past/);
    expect(keyExpiryProblem('2026-12-01T00:00:00Z', NOW, 90)).toMatch(/more than 90 days ahead/);
    expect(keyExpiryProblem('2026-07-01T00:00:00Z', NOW, 90)).toBeUndefined();
    expect(keyExpiryProblem('2026-07-01T00:00:00Z', NOW, 90, '2026-06-15T00:00:00Z')).toMatch(/a key never outlives its owner/);
  });
});

describe('identity backends', () => {
  it('keys only for teams on a kubernetes backend, whose people are users named prefix+email', () => {
    expect(keyBackendOf({ default: { type: 'kubernetes', userPrefix: 'oidc:' } }, team)).toEqual({ kind: 'kubernetes', userPrefix: 'oidc:' });
    expect(keyBackendOf({ default: { type: 'keycloak' } }, team)).toMatchObject({
      kind: 'unmanaged',
      message: expect.stringMatching(/keys need a team on a kubernetes identity backend/),
    });
    expect(emailOfUser('oidc:riley@acme.com', 'oidc:')).toBe('riley@acme.com');
    expect(emailOfUser('riley@acme.com', 'oidc:')).toBeUndefined();
    expect(emailOfUser('system:serviceaccount:acme:roster-key-x', '')).toBeUndefined();
  });
});
