// The Membership planner with plain data: one step per situation, no API server.
import { describe, expect, it } from 'vitest';
import type { Invitation, Membership, Project, Team } from '../../../../src/api/generated.ts';
import { planMembership, type MembershipFacts } from '../../../../src/controllers/membership/plan.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const FINALIZER = 'roster.dev/access';

function membership(overrides: Partial<Membership['spec']> = {}, metadata: Partial<Membership['metadata']> = {}, status?: Membership['status']): Membership {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Membership',
    metadata: {
      name: 'riley',
      namespace: 'acme',
      uid: 'uid-riley',
      generation: 2,
      finalizers: [FINALIZER],
      annotations: { 'roster.dev/created-by': 'ada@acme.com' },
      ...metadata,
    },
    spec: { team: 'acme', email: 'riley@acme.com', role: 'developer', ...overrides },
    ...(status ? { status } : {}),
  };
}

const team: Team = {
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Team',
  metadata: { name: 'acme', namespace: 'acme', uid: 'uid-acme' },
  spec: { owner: { email: 'liam@acme.com' }, seats: 5 },
};
const project: Project = {
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Project',
  metadata: { name: 'shop', namespace: 'acme' },
  spec: {
    team: 'acme',
    environments: [
      { name: 'staging', namespace: 'shop-staging' },
      { name: 'production', namespace: 'shop-prod' },
    ],
  },
};

function facts(m: Membership, extra: Partial<MembershipFacts> = {}): MembershipFacts {
  return {
    membership: m,
    now: NOW,
    team,
    backend: 'default',
    namespaceTerminating: false,
    removalLetThrough: true,
    seat: 'used',
    seatUsage: { limit: 5, available: 2 },
    acceptedAt: undefined,
    ownedInvitations: [],
    projects: [project],
    ...extra,
  };
}

const invitation = (name: string, phase?: string, attempt = '0'): Invitation => ({
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Invitation',
  metadata: { name, namespace: 'acme', labels: { 'roster.dev/attempt': attempt } },
  spec: { team: 'acme', email: 'riley@acme.com', role: 'developer' },
  ...(phase ? { status: { phase: phase as 'Pending' } } : {}),
});

describe('planMembership', () => {
  it('adds the finalizer first, and does nothing in a terminating namespace', () => {
    expect(planMembership(facts(membership({}, { finalizers: [] }))).kind).toBe('addFinalizer');
    expect(planMembership(facts(membership(), { namespaceTerminating: true })).kind).toBe('nothing');
  });

  it('invites a person who has not accepted, with a name fixed by uid and attempt', () => {
    const step = planMembership(facts(membership()));
    expect(step.kind).toBe('invite');
    if (step.kind !== 'invite') return;
    expect(step.current).toBeUndefined();
    const again = planMembership(facts(membership()));
    expect(again.kind === 'invite' && again.invitation.metadata.name).toBe(step.invitation.metadata.name);
    expect(step.invitation.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Membership', name: 'riley', controller: true });
    expect(step.created(step.invitation)).toMatchObject({ reason: 'Invited', actor: 'ada@acme.com' });
    // A mail on its way is not news: the Membership is written once, with the delivery's outcome (issue 14's write budget).
    expect(step.status(step.invitation)).toEqual({});
    const sending = { ...step.invitation, status: { phase: 'Pending' as const, delivery: { linkId: 'l', messageId: '<m>', state: 'Sending' as const } } };
    expect(step.status(sending)).toEqual({});
    const sent = { ...step.invitation, status: { phase: 'Pending' as const, delivery: { linkId: 'l', messageId: '<m>', state: 'Sent' as const } } };
    expect(step.status(sent)).toMatchObject({ phase: 'Invited', invitation: step.invitation.metadata.name, delivery: 'Sent' });
  });

  it('keeps a live invitation, and moves to the next attempt after a revoked one', () => {
    const live = planMembership(facts(membership(), { ownedInvitations: [invitation('riley-live', 'Pending')] }));
    expect(live.kind === 'invite' && live.current?.metadata.name).toBe('riley-live');
    expect(live.kind === 'invite' && live.inLine).toBe(true);
    const revoked = planMembership(facts(membership(), { ownedInvitations: [invitation('riley-old', 'Revoked', '0')] }));
    expect(revoked.kind === 'invite' && revoked.invitation.metadata.labels?.['roster.dev/attempt']).toBe('1');
    const changedRole = planMembership(facts(membership({ role: 'observer' }), { ownedInvitations: [invitation('riley-live', 'Pending')] }));
    expect(changedRole.kind === 'invite' && changedRole.inLine).toBe(false);
  });

  it('provisions an accepted person with exactly the scope the manifests say, and says they were activated', () => {
    const step = planMembership(facts(membership({ projects: [{ name: 'shop', environments: ['staging'] }] }), { acceptedAt: '2026-06-01T11:00:00Z' }));
    expect(step.kind).toBe('provision');
    if (step.kind !== 'provision') return;
    expect(step.grant.targets).toEqual([{ project: 'shop', environment: 'staging', namespace: 'shop-staging' }]);
    const outcome = step.synced({ subject: 'riley@acme.com', changes: ['created RoleBinding'] });
    expect(outcome.status).toMatchObject({ phase: 'Active', acceptedAt: '2026-06-01T11:00:00Z', identity: { scope: ['shop/staging'] } });
    expect(outcome.change).toMatchObject({ reason: 'Activated', actor: 'riley@acme.com' });
    expect(outcome.optimistic).toBe(true);
    expect(step.failed('Unreachable', 'down')).toMatchObject({
      conditions: expect.arrayContaining([expect.objectContaining({ type: 'IdentitySynced', status: 'False', reason: 'Unreachable' })]),
    });
  });

  it('reports a role change by whoever changed it, and drift as drift', () => {
    const active = {
      phase: 'Active' as const,
      observedGeneration: 2,
      acceptedAt: '2026-06-01T11:00:00Z',
      identity: { backend: 'default', subject: 'riley@acme.com', role: 'observer', scope: [] },
      conditions: [{ type: 'IdentitySynced', status: 'True' as const, reason: 'Synced', message: '', lastTransitionTime: '2026-06-01T11:00:00Z' }],
    };
    const changed = planMembership(
      facts(membership({}, { annotations: { 'roster.dev/changed-by': 'noah@acme.com' } }, active), { acceptedAt: active.acceptedAt }),
    );
    expect(changed.kind === 'provision' && changed.synced({ subject: 'riley@acme.com', changes: [] }).change).toMatchObject({
      reason: 'AccessChanged',
      actor: 'noah@acme.com',
    });
    const same = { ...active, identity: { ...active.identity, role: 'developer', scope: ['shop/staging', 'shop/production'] } };
    const drift = planMembership(facts(membership({}, {}, same), { acceptedAt: active.acceptedAt }));
    expect(drift.kind === 'provision' && drift.synced({ subject: 'riley@acme.com', changes: ['created RoleBinding'] }).change).toMatchObject({
      reason: 'DriftCorrected',
    });
    expect(drift.kind === 'provision' && drift.synced({ subject: 'riley@acme.com', changes: [] }).change).toBeUndefined();
  });

  it('withdraws access on expiry (credited to whoever set expiresAt), over the seat limit, and when superseded by ownership', () => {
    const expired = planMembership(facts(membership({ expiresAt: '2026-05-01T00:00:00Z' }), { ownedInvitations: [invitation('riley-live', 'Pending')] }));
    expect(expired).toMatchObject({ kind: 'withdraw', removeAccess: true, revokeInvitations: ['riley-live'], status: { phase: 'Expired' } });
    expect(expired.kind === 'withdraw' && expired.change?.([])).toMatchObject({ reason: 'Expired', actor: 'ada@acme.com' });
    expect(planMembership(facts(membership(), { seat: 'overLimit' }))).toMatchObject({
      kind: 'withdraw',
      removeAccess: true,
      status: { phase: 'OverSeatLimit' },
    });
    const owner = planMembership(facts(membership({ email: 'Liam@acme.com' })));
    expect(owner).toMatchObject({ kind: 'withdraw', removeAccess: true, status: { phase: 'Superseded' } });
  });

  it('waits for the deletion actor, holds a removal the brake holds, and otherwise finalizes with the actor', () => {
    const deleting = (ago: number, annotations: Record<string, string> = {}) =>
      membership({}, { deletionTimestamp: new Date(NOW.getTime() - ago).toISOString(), annotations });
    expect(planMembership(facts(deleting(500)))).toEqual({ kind: 'requeue', ms: 250 });
    expect(planMembership(facts(deleting(5_000, { 'roster.dev/deleted-by': 'noah@acme.com' }), { removalLetThrough: false })).kind).toBe('holdRemoval');
    const step = planMembership(
      facts(deleting(500, { 'roster.dev/deleted-by': 'noah@acme.com' }), {
        ownedInvitations: [invitation('riley-live', 'Pending'), invitation('riley-accepted', 'Accepted')],
      }),
    );
    expect(step).toMatchObject({ kind: 'finalize', revokeInvitations: ['riley-live'] });
    expect(step.kind === 'finalize' && step.change(['deleted RoleBinding x'])).toMatchObject({
      reason: 'AccessRemoved',
      actor: 'noah@acme.com',
      audit: { action: 'remove' },
    });
  });

  it('grants nothing without a team or a configured backend', () => {
    expect(planMembership(facts(membership(), { team: undefined }))).toMatchObject({ kind: 'withdraw', removeAccess: false });
    expect(planMembership(facts(membership(), { backend: undefined }))).toMatchObject({ kind: 'withdraw', removeAccess: false, status: { phase: 'Failed' } });
  });
});
