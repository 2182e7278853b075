// The Team planner with plain data: one step per situation, no API server.
import { describe, expect, it } from 'vitest';
import type { Invitation, Membership, Team } from '../../../../src/api/generated.ts';
import { ConditionType } from '../../../../src/domain/conditions.ts';
import type { RemovalPlan } from '../../../../src/controllers/removals.ts';
import { planTeam, type TeamFacts } from '../../../../src/controllers/team/plan.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const FINALIZER = 'roster.dev/access';

function team(status?: Team['status'], metadata: Partial<Team['metadata']> = {}, owner = 'liam@acme.com'): Team {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Team',
    metadata: {
      name: 'acme',
      namespace: 'acme',
      uid: 'uid-acme',
      generation: 1,
      finalizers: [FINALIZER],
      creationTimestamp: '2026-01-01T00:00:00Z',
      annotations: { 'roster.dev/created-by': 'platform' },
      ...metadata,
    },
    spec: { owner: { email: owner }, seats: 5 },
    ...(status ? { status } : {}),
  };
}

const noRemovals: RemovalPlan = {
  removals: undefined,
  decision: undefined,
  condition: { type: ConditionType.RemovalsHeld, status: 'False', reason: 'NoneHeld', message: 'no removal is held' },
  newHold: false,
};

function facts(t: Team, extra: Partial<TeamFacts> = {}): TeamFacts {
  return {
    team: t,
    now: NOW,
    backend: 'default',
    namespaceTerminating: false,
    firstInNamespace: t,
    memberships: [],
    ownerInvitations: [],
    projects: [],
    seats: { usage: { limit: 5, used: 1, pending: 0, available: 4, summary: '1/5' }, members: 1 },
    removals: noRemovals,
    ...extra,
  };
}

const admin = (email: string, acceptedAt?: string): Membership => ({
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Membership',
  metadata: { name: email.split('@')[0], namespace: 'acme' },
  spec: { team: 'acme', email, role: 'admin' },
  ...(acceptedAt ? { status: { phase: 'Active', acceptedAt } } : {}),
});

const ownerInvitation = (email: string, phase: string): Invitation => ({
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Invitation',
  metadata: { name: `acme-owner-${email.split('@')[0]}`, namespace: 'acme', labels: { 'roster.dev/attempt': '0' } },
  spec: { team: 'acme', email, role: 'owner' },
  status: { phase: phase as 'Pending' },
});

describe('planTeam', () => {
  it('leaves a second Team in a namespace alone, saying so once', () => {
    const older = team(undefined, { name: 'first' });
    const step = planTeam(facts(team(), { firstInNamespace: older }));
    expect(step).toMatchObject({ kind: 'namespaceTaken', change: { reason: 'NamespaceTaken' } });
    const again = planTeam(
      facts(team({ conditions: [{ type: 'Ready', status: 'False', reason: 'NamespaceTaken', message: '', lastTransitionTime: '2026-06-01T11:00:00Z' }] }), {
        firstInNamespace: older,
      }),
    );
    expect(again.kind === 'namespaceTaken' && again.change).toBeUndefined();
  });

  it('invites the owner with a name fixed by the team and the owner, once', () => {
    const step = planTeam(facts(team()));
    expect(step.kind).toBe('sync');
    if (step.kind !== 'sync') return;
    const name = step.createOwnerInvitation?.invitation.metadata.name;
    expect(name).toBeTruthy();
    const again = planTeam(facts(team()));
    expect(again.kind === 'sync' && again.createOwnerInvitation?.invitation.metadata.name).toBe(name);
    expect(step.grant).toBeUndefined();
    expect(step.createOwnerInvitation?.created(step.createOwnerInvitation.invitation)).toMatchObject({ reason: 'OwnerInvited', actor: 'platform' });
    const live = planTeam(facts(team(), { ownerInvitations: [ownerInvitation('liam@acme.com', 'Pending')] }));
    expect(live.kind === 'sync' && live.createOwnerInvitation).toBeUndefined();
  });

  it('grants the owner once they accepted, and says so after the write', () => {
    const step = planTeam(facts(team(), { ownerInvitations: [ownerInvitation('liam@acme.com', 'Accepted')] }));
    expect(step.kind === 'sync' && step.grant).toMatchObject({ key: 'owner', role: 'owner' });
    if (step.kind !== 'sync') return;
    const outcome = step.result({ grant: { result: { subject: 'liam@acme.com', changes: ['created RoleBinding'] } } });
    expect(outcome.status.owner).toMatchObject({ phase: 'Active' });
    expect(outcome.changes.map((c) => c.reason)).toEqual(['OwnerActive']);
    expect(outcome.optimistic).toBe(true);
    const failed = step.result({ grant: { failed: { reason: 'Unreachable', message: 'down' } } });
    expect(failed.failure).toBe('down');
  });

  it('transfers ownership to an accepted admin, keeping the previous owner on as admin', () => {
    const t = team({ owner: { email: 'liam@acme.com', phase: 'Active' } }, { annotations: { 'roster.dev/changed-by': 'liam@acme.com' } }, 'noah@acme.com');
    const step = planTeam(facts(t, { memberships: [admin('noah@acme.com', '2026-05-01T00:00:00Z')] }));
    expect(step.kind).toBe('sync');
    if (step.kind !== 'sync') return;
    expect(step.formerOwnerMembership).toMatchObject({ spec: { email: 'liam@acme.com', role: 'admin' } });
    expect(
      planTeam(facts(t, { memberships: [admin('noah@acme.com', '2026-05-01T00:00:00Z')] })).kind === 'sync' && step.formerOwnerMembership?.metadata.name,
    ).toBeTruthy();
    const outcome = step.result({ grant: { result: { subject: 'noah@acme.com', changes: [] } } });
    expect(outcome.changes.map((c) => [c.reason, c.actor])).toEqual([['OwnershipTransferred', 'liam@acme.com']]);
  });

  it('on deletion waits for the actor, deletes the members through the brake, then finalizes', () => {
    const deleting = (ago: number, annotations: Record<string, string> = {}) =>
      team(undefined, { deletionTimestamp: new Date(NOW.getTime() - ago).toISOString(), annotations });
    expect(planTeam(facts(deleting(500)))).toEqual({ kind: 'requeue', ms: 250 });
    const members = [admin('noah@acme.com', '2026-05-01T00:00:00Z')];
    expect(planTeam(facts(deleting(5_000), { memberships: members }))).toMatchObject({ kind: 'deleteMembers', memberships: ['noah'] });
    expect(planTeam(facts(deleting(5_000, { 'roster.dev/deleted-by': 'ops@acme.com' })))).toMatchObject({
      kind: 'finalize',
      change: { reason: 'TeamDeleted', actor: 'ops@acme.com' },
    });
  });
});
