// How the kubernetes backend names its subjects (User with a prefix, or Groups), the bindings
// a grant wants in each mode, and that `kubectl roster can-i` names the same subject.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../../src/config.ts';
import { desiredBindings, groupBindingName } from '../../../../src/backends/identity/kubernetes.ts';
import { describeSubject, groupSubjectName, userSubjectName, type SubjectMapping } from '../../../../src/backends/identity/kubernetes-subjects.ts';
import type { Grant } from '../../../../src/backends/identity/types.ts';
import { reviewPersonAccess, type NamespaceObjects, type NamespaceReading } from '../../../../src/cli/access-review.ts';
import { membership, project, team } from '../../cli/fixtures.ts';

const clusterRoles = { admin: 'admin', developer: 'edit', observer: 'view' };
const users: SubjectMapping = { subject: 'User', userPrefix: 'oidc:', groupPrefix: '' };
const groups: SubjectMapping = { subject: 'Group', userPrefix: '', groupPrefix: '' };
const acme = { namespace: 'acme', name: 'acme' };
const targets = [
  { project: 'shop', environment: 'staging', namespace: 'shop-staging' },
  { project: 'shop', environment: 'production', namespace: 'shop-production' },
];
const developer: Grant = { team: acme, key: 'm-riley', person: { email: 'Riley@acme.com' }, role: 'developer', targets };
const everywhere = () => true;

describe('subject names', () => {
  it('prefixes the address as written for users, and names groups by team, role and scope', () => {
    expect(userSubjectName(users, 'Riley@acme.com')).toBe('oidc:Riley@acme.com');
    expect(groupSubjectName(groups, { controlNamespace: 'acme', team: 'acme', role: 'developer' })).toBe('roster:acme:acme:developer');
    expect(
      groupSubjectName({ groupPrefix: 'oidc:' }, { controlNamespace: 'acme', team: 'web', role: 'developer', project: 'shop', environment: 'staging' }),
    ).toBe('oidc:roster:acme:web:developer:shop:staging');
    expect(describeSubject({ kind: 'Group', name: 'roster:acme:acme:admin' })).toBe('Group roster:acme:acme:admin');
  });

  it('gives each group and ClusterRole its own binding name, the same for every grant that maps to it', () => {
    const a = groupBindingName(acme, 'developer', { kind: 'Group', name: 'roster:acme:acme:developer' }, 'edit');
    expect(groupBindingName(acme, 'developer', { kind: 'Group', name: 'roster:acme:acme:developer' }, 'edit')).toBe(a);
    expect(groupBindingName(acme, 'developer', { kind: 'Group', name: 'roster:acme:acme:developer:shop:staging' }, 'edit')).not.toBe(a);
    expect(groupBindingName(acme, 'developer', { kind: 'Group', name: 'roster:acme:acme:developer' }, 'view')).not.toBe(a);
  });
});

describe('desired bindings', () => {
  it('User mode: the prefixed user in every assigned environment', () => {
    expect(desiredBindings(developer, clusterRoles, users, everywhere)).toEqual([
      { namespace: 'shop-staging', clusterRole: 'edit', subject: { kind: 'User', name: 'oidc:Riley@acme.com' } },
      { namespace: 'shop-production', clusterRole: 'edit', subject: { kind: 'User', name: 'oidc:Riley@acme.com' } },
    ]);
  });

  it('Group mode, team-wide: one group for the team and role, in every environment', () => {
    expect(desiredBindings(developer, clusterRoles, groups, everywhere)).toEqual([
      { namespace: 'shop-staging', clusterRole: 'edit', subject: { kind: 'Group', name: 'roster:acme:acme:developer' } },
      { namespace: 'shop-production', clusterRole: 'edit', subject: { kind: 'Group', name: 'roster:acme:acme:developer' } },
    ]);
  });

  it('Group mode, scoped: one group per environment, bound only there, so the group never widens the scope', () => {
    const scoped: Grant = { ...developer, targets: [targets[0]!], scoped: true };
    expect(desiredBindings(scoped, clusterRoles, groups, everywhere)).toEqual([
      { namespace: 'shop-staging', clusterRole: 'edit', subject: { kind: 'Group', name: 'roster:acme:acme:developer:shop:staging' } },
    ]);
  });

  it('Group mode: team rights go to the team and role group in the control namespace', () => {
    const owner: Grant = { team: acme, key: 'owner', person: { email: 'liam@acme.com' }, role: 'owner', targets: [targets[0]!] };
    expect(desiredBindings(owner, clusterRoles, { ...groups, groupPrefix: 'oidc:' }, everywhere)).toEqual([
      { namespace: 'shop-staging', clusterRole: 'admin', subject: { kind: 'Group', name: 'oidc:roster:acme:acme:owner' } },
      { namespace: 'acme', clusterRole: 'roster:team-owner', subject: { kind: 'Group', name: 'oidc:roster:acme:acme:owner' } },
    ]);
  });

  it('asks the tenancy check for every environment and binds nothing where it says no, in both modes', () => {
    const asked: string[] = [];
    const onlyStaging = (ns: string) => (asked.push(ns), ns === 'shop-staging');
    expect(desiredBindings(developer, clusterRoles, groups, onlyStaging).map((d) => d.namespace)).toEqual(['shop-staging']);
    expect(desiredBindings(developer, clusterRoles, users, onlyStaging).map((d) => d.namespace)).toEqual(['shop-staging']);
    expect(asked).toEqual(['shop-staging', 'shop-production', 'shop-staging', 'shop-production']);
  });
});

describe('can-i names the subject it checked', () => {
  const objects: NamespaceObjects = {
    namespace: 'acme',
    teams: [team('acme', 'liam@acme.com', { ownerPhase: 'Active' })],
    projects: [project('shop', 'acme', ['staging', 'production'])],
    memberships: [
      membership('riley', 'acme', 'riley@acme.com', 'developer', { phase: 'Active', projects: [{ name: 'shop', environments: ['staging'] }] }),
      membership('noah', 'acme', 'noah@acme.com', 'developer', { phase: 'Active' }),
    ],
    invitations: [],
  };
  const namespaces = new Map<string, NamespaceReading>(
    ['shop-staging', 'shop-production'].map((n) => [n, { labels: { 'roster.dev/team': 'acme' }, holdsTeam: false }]),
  );
  const ask = (email: string, subjects: SubjectMapping, environment?: string) => {
    const q = { email, permission: 'deploy' as const, subjects, ...(environment ? { project: 'shop', environment } : {}) };
    const outcome = reviewPersonAccess(objects, q, new Date('2026-03-01T12:00:00Z'), {
      policy: { namespaceLabel: 'roster.dev/team', operatorNamespace: 'roster-system' },
      namespaces,
    });
    if (outcome.kind !== 'answer') throw new Error(outcome.kind);
    return outcome.answer;
  };

  it('User mode: the prefixed user, also when the address is asked in another case', () => {
    expect(ask('riley@acme.com', users, 'staging')).toMatchObject({ allowed: true, subject: { kind: 'User', name: 'oidc:riley@acme.com' } });
    expect(ask('Riley@acme.com', users, 'staging')).toMatchObject({ allowed: false, subject: { kind: 'User', name: 'oidc:Riley@acme.com' } });
  });

  it('Group mode: the scoped group for one environment, the team and role group when unscoped', () => {
    expect(ask('riley@acme.com', groups, 'staging')).toMatchObject({
      allowed: true,
      subject: { kind: 'Group', name: 'roster:acme:acme:developer:shop:staging' },
    });
    expect(ask('riley@acme.com', groups, 'production')).toMatchObject({ allowed: false });
    expect(ask('riley@acme.com', groups).subject).toBeUndefined(); // spans environments: no single group
    expect(ask('noah@acme.com', groups, 'production')).toMatchObject({ allowed: true, subject: { kind: 'Group', name: 'roster:acme:acme:developer' } });
  });
});

describe('config and chart', () => {
  const base = { namespace: 'roster-system', publicUrl: 'https://roster.example.com', mail: { from: 'roster@example.com' } };
  const withBackend = (backend: Record<string, unknown>) => () => parseConfig({ ...base, identityBackends: { default: { type: 'kubernetes', ...backend } } });

  it('takes subject, userPrefix and groupPrefix for a kubernetes backend, and refuses system: prefixes and unknown keys', () => {
    expect(withBackend({ subject: 'Group', groupPrefix: 'oidc:' })().identityBackends.default).toMatchObject({ subject: 'Group', groupPrefix: 'oidc:' });
    expect(withBackend({ userPrefix: 'oidc:' })().identityBackends.default).toMatchObject({ userPrefix: 'oidc:' });
    expect(withBackend({ userPrefix: 'system:' })).toThrow(/userPrefix/);
    expect(withBackend({ subject: 'ServiceAccount' })).toThrow(/subject/);
    expect(withBackend({ groupPrefx: 'oidc:' })).toThrow();
  });

  const helm = fileURLToPath(new URL('../../../../.roster/bin/helm', import.meta.url));
  it.skipIf(!existsSync(helm))("the chart's operator fence admits the team's own groups only for a Group backend's prefix", () => {
    const render = (...set: string[]) =>
      execFileSync(helm, ['template', 'r', fileURLToPath(new URL('../../../../charts/roster', import.meta.url)), ...set.flatMap((s) => ['--set', s])], {
        encoding: 'utf8',
      });
    const plain = render();
    expect(plain).toContain("(s.kind == 'Group' && [].exists(");
    const grouped = render('operator.identityBackends.default.subject=Group', 'operator.identityBackends.default.groupPrefix=oidc:');
    expect(grouped).toContain(`(s.kind == 'Group' && ["oidc:"].exists(p, s.name.startsWith(p + 'roster:' + variables.teamNamespace + ':')))`);
  });
});
