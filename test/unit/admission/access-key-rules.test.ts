// AccessKey admission with plain data: owner stamping, who may create keys, over-asking and tenancy.
import { describe, expect, it } from 'vitest';
import type { AccessKey, Membership } from '../../../src/api/generated.ts';
import { ownerPatch, validateAccessKey, type AccessKeyPolicy } from '../../../src/admission/access-key-rules.ts';
import type { AdmissionView, Change } from '../../../src/admission/validators.ts';
import { keyBackendOf } from '../../../src/domain/access-keys.ts';
import type { NamespaceFacts } from '../../../src/tenancy/namespaces.ts';
import { membership, NOW, project, team } from './fixtures.ts';

const policy: AccessKeyPolicy = { maxLifetimeDays: 90, backendOf: (t) => keyBackendOf({ default: { type: 'kubernetes', userPrefix: 'oidc:' } }, t) };
const activeTeam = team({}, { owner: { email: 'liam@acme.com', phase: 'Active' } });
const active = (m: Membership): Membership => ({ ...m, status: { phase: 'Active' } });
const tenancy = { namespaceLabel: 'roster.dev/team', operatorNamespace: 'roster-system' };
const view = (memberships: Membership[] = []): AdmissionView => ({
  team: activeTeam,
  memberships,
  invitations: [],
  projects: [project('shop')],
  reservations: [],
  namespaces: new Map<string, NamespaceFacts>([
    ['shop-staging', { labels: { 'roster.dev/team': 'acme' }, holdsTeam: false }],
    ['shop-production', { labels: {}, holdsTeam: false }],
  ]),
});
const key = (spec: Partial<AccessKey['spec']> = {}): AccessKey => ({
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'AccessKey',
  metadata: { name: 'ci', namespace: 'acme' },
  spec: { team: 'acme', role: 'developer', projects: [{ name: 'shop', environments: ['staging'] }], expiresAt: '2026-07-01T00:00:00Z', ...spec },
});
const create = (k: AccessKey, username: string): Change<AccessKey> => ({ operation: 'CREATE', object: k, user: { username, groups: [] }, requestUid: 'u1' });
const ctx = { now: NOW, tenancy };

describe('ownerPatch', () => {
  it('stamps the requester on create, whatever the manifest says, and puts a dropped owner back on update', () => {
    expect(ownerPatch('CREATE', key({ owner: 'eve@acme.com' }), undefined, 'oidc:riley@acme.com', activeTeam, policy)).toEqual([
      { op: 'replace', path: '/spec/owner', value: 'riley@acme.com' },
    ]);
    expect(ownerPatch('CREATE', key(), undefined, 'system:admin', activeTeam, policy)).toEqual([]);
    expect(ownerPatch('UPDATE', key(), key({ owner: 'riley@acme.com' }), 'oidc:eve@acme.com', activeTeam, policy)).toEqual([
      { op: 'add', path: '/spec/owner', value: 'riley@acme.com' },
    ]);
  });
});

describe('validateAccessKey', () => {
  const riley = active(membership('riley', { role: 'admin' }));
  const dev = active(membership('dana', { role: 'developer' }));

  it('admits an Active admin’s key scoped to an assigned environment', () => {
    expect(validateAccessKey(create(key({ owner: 'riley@acme.com' }), 'oidc:riley@acme.com'), view([riley]), ctx, policy)).toEqual({
      allowed: true,
      warnings: [],
    });
  });

  it('refuses developers, strangers, system users and other people’s names', () => {
    const verdict = (k: AccessKey, user: string) => validateAccessKey(create(k, user), view([riley, dev]), ctx, policy);
    expect(verdict(key({ owner: 'dana@acme.com' }), 'oidc:dana@acme.com')).toMatchObject({
      allowed: false,
      message: expect.stringMatching(/dana@acme.com is developer in team acme; only the owner or an admin/),
    });
    expect(verdict(key({ owner: 'eve@acme.com' }), 'oidc:eve@acme.com')).toMatchObject({
      allowed: false,
      message: expect.stringMatching(/eve@acme.com has no Membership/),
    });
    expect(verdict(key(), 'system:serviceaccount:acme:ci')).toMatchObject({
      allowed: false,
      message: expect.stringMatching(/is not one; create it as yourself/),
    });
    expect(verdict(key(), 'oidc:riley@acme.com')).toMatchObject({ allowed: false, message: expect.stringMatching(/spec.owner was not stamped/) });
    expect(verdict(key({ owner: 'dana@acme.com' }), 'oidc:riley@acme.com')).toMatchObject({
      allowed: false,
      message: expect.stringMatching(/spec.owner must be the person creating the key/),
    });
  });

  it('refuses an environment in a namespace not assigned to the team, and a key outliving its owner', () => {
    const prod = validateAccessKey(
      create(key({ owner: 'riley@acme.com', projects: [{ name: 'shop', environments: ['production'] }] }), 'oidc:riley@acme.com'),
      view([riley]),
      ctx,
      policy,
    );
    expect(prod).toMatchObject({ allowed: false, message: expect.stringMatching(/environment shop\/production: namespace shop-production is not assigned/) });
    const brief = active(membership('ada', { role: 'admin', expiresAt: '2026-06-10T00:00:00Z' }));
    const outlives = validateAccessKey(create(key({ owner: 'ada@acme.com' }), 'oidc:ada@acme.com'), view([brief]), ctx, policy);
    expect(outlives).toMatchObject({ allowed: false, message: expect.stringMatching(/a key never outlives its owner/) });
  });

  it('refuses teams whose identity backend is not kubernetes, saying why', () => {
    const keycloak: AccessKeyPolicy = { maxLifetimeDays: 90, backendOf: (t) => keyBackendOf({ default: { type: 'keycloak' } }, t) };
    expect(validateAccessKey(create(key(), 'riley@acme.com'), view([riley]), ctx, keycloak)).toMatchObject({
      allowed: false,
      message: expect.stringMatching(/keys need a team on a kubernetes identity backend/),
    });
  });

  it('refuses a change of owner or expiry on update', () => {
    const old = key({ owner: 'riley@acme.com' });
    const change: Change<AccessKey> = {
      operation: 'UPDATE',
      object: key({ owner: 'dana@acme.com' }),
      oldObject: old,
      user: { username: 'x', groups: [] },
      requestUid: 'u2',
    };
    expect(validateAccessKey(change, view([riley]), ctx, policy)).toMatchObject({ allowed: false, message: expect.stringMatching(/spec.owner is immutable/) });
  });

  it('lets an update narrow a key but never widen it (an admin cannot grow a colleague’s key)', () => {
    const old = key({ owner: 'riley@acme.com', projects: [{ name: 'shop', environments: ['staging'] }] });
    const update = (projects: AccessKey['spec']['projects']): Change<AccessKey> => ({
      operation: 'UPDATE',
      object: { ...old, spec: { ...old.spec, ...(projects ? { projects } : {}) } },
      oldObject: old,
      user: { username: 'oidc:noah@acme.com', groups: [] },
      requestUid: 'u3',
    });
    const wider = validateAccessKey(update([{ name: 'shop', environments: ['staging', 'production'] }]), view([riley]), ctx, policy);
    expect(wider).toMatchObject({ allowed: false, message: expect.stringContaining('shop/production, beyond what the key asked for') });
    const whole = {
      ...update(undefined),
      object: { ...old, spec: { team: 'acme', role: 'developer' as const, owner: 'riley@acme.com', expiresAt: old.spec.expiresAt } },
    };
    expect(validateAccessKey(whole, view([riley]), ctx, policy)).toMatchObject({ allowed: false, message: expect.stringContaining('the whole team') });
    const observer = { ...update(undefined), object: { ...old, spec: { ...old.spec, role: 'observer' as const } } };
    expect(validateAccessKey(observer, view([riley]), ctx, policy)).toEqual({ allowed: true, warnings: [] });
  });
});
