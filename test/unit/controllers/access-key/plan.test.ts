// The AccessKey planner with plain data: what a key becomes, and the writes to get there.
import { describe, expect, it } from 'vitest';
import type { AccessKey } from '../../../../src/api/generated.ts';
import { project as fixtureProject, team as fixtureTeam } from '../../admission/fixtures.ts';
import type { RoleBinding } from '../../../../src/backends/identity/kubernetes.ts';
import { ownerStanding } from '../../../../src/domain/access-keys.ts';
import { environmentBindingName, KEY_FINALIZER, planAccessKey, type AccessKeyFacts } from '../../../../src/controllers/access-key/plan.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const team = fixtureTeam({}, { owner: { email: 'liam@acme.com', phase: 'Active' } });
const project = fixtureProject('shop', ['staging', 'production', 'qa']);

function key(spec: Partial<AccessKey['spec']> = {}, metadata: Partial<AccessKey['metadata']> = {}, status?: AccessKey['status']): AccessKey {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'AccessKey',
    metadata: { name: 'ci', namespace: 'acme', uid: 'uid-ci', generation: 1, finalizers: [KEY_FINALIZER], ...metadata },
    spec: {
      team: 'acme',
      owner: 'liam@acme.com',
      role: 'developer',
      projects: [{ name: 'shop', environments: ['staging', 'qa'] }],
      expiresAt: '2026-07-01T00:00:00Z',
      ...spec,
    },
    ...(status ? { status } : {}),
  };
}

function facts(k: AccessKey, extra: Partial<AccessKeyFacts> = {}): AccessKeyFacts {
  return {
    key: k,
    now: NOW,
    team,
    backend: { kind: 'kubernetes', userPrefix: 'oidc:' },
    standing: ownerStanding(team, [], k.spec.owner ?? '', NOW),
    projects: [project],
    // shop-qa is not assigned to the team
    assignment: (ns) => (ns === 'shop-qa' ? { kind: 'refused', reason: 'NotAssigned', message: 'not assigned' } : { kind: 'assigned' }),
    clusterRoles: { admin: 'admin', developer: 'edit', observer: 'view' },
    bindings: [],
    ...extra,
  };
}

describe('planAccessKey', () => {
  it('adds its finalizer first', () => {
    expect(planAccessKey(facts(key({}, { finalizers: [] }))).kind).toBe('addFinalizer');
  });

  it('makes an Active key: ServiceAccount, the owner-only token Role and binding, and bindings in assigned environments only', () => {
    const plan = planAccessKey(facts(key()));
    if (plan.kind !== 'sync') throw new Error(plan.kind);
    expect(plan.status.phase).toBe('Active');
    expect(plan.status.effective).toEqual({ role: 'developer', projects: [{ name: 'shop', environments: ['qa', 'staging'] }] });
    const applied = plan.writes.flatMap((w) => (w.kind === 'apply' ? [w.object] : []));
    expect(applied.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'ServiceAccount acme/roster-key-ci',
      'Role acme/roster-key-ci',
      'RoleBinding acme/roster-key-ci',
      `RoleBinding shop-staging/${environmentBindingName(key())}`,
    ]);
    expect(applied[1]).toMatchObject({ rules: [{ resources: ['serviceaccounts/token'], verbs: ['create'], resourceNames: ['roster-key-ci'] }] });
    expect(applied[2]).toMatchObject({ subjects: [{ kind: 'User', name: 'oidc:liam@acme.com' }], roleRef: { kind: 'Role', name: 'roster-key-ci' } });
    expect(applied[3]).toMatchObject({
      subjects: [{ kind: 'ServiceAccount', name: 'roster-key-ci', namespace: 'acme' }],
      roleRef: { kind: 'ClusterRole', name: 'edit' },
    });
    expect(applied.some((o) => o.kind === ('Secret' as string))).toBe(false);
    expect(plan.change).toMatchObject({ reason: 'Activated', note: 'key ci of liam@acme.com holds developer in shop (qa, staging)' });
    expect(plan.requeueMs).toBe(86_400_000);
  });

  it('writes nothing when everything is in place', () => {
    const first = planAccessKey(facts(key()));
    if (first.kind !== 'sync') throw new Error(first.kind);
    const objects = first.writes.flatMap((w) => (w.kind === 'apply' ? [w.object] : []));
    const again = planAccessKey(
      facts(key({}, {}, first.status), {
        serviceAccount: objects[0]!,
        tokenRole: objects[1]!,
        bindings: objects.slice(2) as RoleBinding[],
      }),
    );
    if (again.kind !== 'sync') throw new Error(again.kind);
    expect(again.writes).toEqual([]);
    expect(again.change).toBeUndefined();
  });

  it('replaces a binding whose ClusterRole changed when the owner is demoted, and deletes bindings no longer wanted', () => {
    const stale = {
      metadata: { name: environmentBindingName(key()), namespace: 'shop-staging' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
    };
    const elsewhere = { metadata: { name: environmentBindingName(key()), namespace: 'shop-production' }, roleRef: stale.roleRef };
    const standing = {
      kind: 'active' as const,
      rights: { role: 'observer' as const, projects: [{ name: 'shop', environments: ['staging'] }] },
      source: 'Membership liam',
    };
    const plan = planAccessKey(
      facts(key({}, {}, { phase: 'Active', effective: { role: 'developer' } }), { standing, bindings: [stale, elsewhere] as RoleBinding[] }),
    );
    if (plan.kind !== 'sync') throw new Error(plan.kind);
    expect(plan.status.effective).toEqual({ role: 'observer', projects: [{ name: 'shop', environments: ['staging'] }] });
    expect(plan.writes).toContainEqual(
      expect.objectContaining({ kind: 'apply', replace: true, object: expect.objectContaining({ roleRef: expect.objectContaining({ name: 'view' }) }) }),
    );
    expect(plan.writes).toContainEqual({ kind: 'delete', object: 'RoleBinding', namespace: 'shop-production', name: environmentBindingName(key()) });
    expect(plan.change?.reason).toBe('Narrowed');
  });

  it('suspends a key whose owner is no longer Active: no environment bindings, the ServiceAccount stays', () => {
    const plan = planAccessKey(
      facts(key({ owner: 'riley@acme.com' }), { standing: { kind: 'inactive', message: 'riley@acme.com has no Membership in team acme' } }),
    );
    if (plan.kind !== 'sync') throw new Error(plan.kind);
    expect(plan.status.phase).toBe('Suspended');
    expect(plan.status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'OwnerInactive' });
    expect(plan.status.conditions?.find((c) => c.type === 'Stalled')?.status).toBe('True');
    const applied = plan.writes.flatMap((w) => (w.kind === 'apply' ? [w.object.metadata.namespace] : []));
    expect(applied.every((ns) => ns === 'acme')).toBe(true);
  });

  it('expires: deletes the ServiceAccount, which kills its tokens', () => {
    const plan = planAccessKey(
      facts(key({ expiresAt: '2026-05-31T00:00:00Z' }), { serviceAccount: { metadata: { name: 'roster-key-ci', namespace: 'acme' } } }),
    );
    if (plan.kind !== 'sync') throw new Error(plan.kind);
    expect(plan.status.phase).toBe('Expired');
    expect(plan.writes).toContainEqual({ kind: 'delete', object: 'ServiceAccount', namespace: 'acme', name: 'roster-key-ci' });
    expect(plan.requeueMs).toBeUndefined();
  });

  it('refuses teams whose backend Roster does not write RBAC for', () => {
    const plan = planAccessKey(facts(key(), { backend: { kind: 'unmanaged', message: 'keycloak team' } }));
    if (plan.kind !== 'sync') throw new Error(plan.kind);
    expect(plan.status.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('KeysUnsupported');
    expect(plan.writes.filter((w) => w.kind === 'apply' && w.object.metadata.namespace !== 'acme')).toEqual([]);
  });

  it('on deletion removes everything, then its finalizer', () => {
    const plan = planAccessKey(
      facts(key({}, { deletionTimestamp: '2026-06-01T11:00:00Z' }), {
        serviceAccount: { metadata: { name: 'roster-key-ci', namespace: 'acme' } },
        bindings: [{ metadata: { name: 'x', namespace: 'shop-staging' }, roleRef: { apiGroup: '', kind: 'ClusterRole', name: 'edit' } }] as RoleBinding[],
      }),
    );
    expect(plan.kind).toBe('finalize');
    if (plan.kind !== 'finalize') return;
    expect(plan.writes).toEqual([
      { kind: 'delete', object: 'RoleBinding', namespace: 'shop-staging', name: 'x' },
      { kind: 'delete', object: 'ServiceAccount', namespace: 'acme', name: 'roster-key-ci' },
    ]);
  });
});
