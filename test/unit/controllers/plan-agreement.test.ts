// `kubectl roster plan` (src/domain/access-plan.ts) and the operator's Membership planner must
// say the same thing about a person: whether they have access, wait for an invitation, or have
// none, and in which environment namespaces. Both are built on the same rules (assignSeats,
// accessTargets, namespaceAssignment, the brake's verdict); this test holds them to it, one
// situation at a time, with the facts the controller would gather from the same snapshot.
import { describe, expect, it } from 'vitest';
import type { Membership, Project, Team } from '../../../src/api/generated.ts';
import { planMembership, type MembershipFacts } from '../../../src/controllers/membership/plan.ts';
import { accessOf, type AccessSnapshot } from '../../../src/domain/access-plan.ts';
import { normalizeEmail } from '../../../src/domain/email.ts';
import { assignSeats } from '../../../src/domain/seats.ts';
import { namespaceAssignment, type NamespaceFacts, type TenancyPolicy } from '../../../src/tenancy/namespaces.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const ACCEPTED = '2026-05-01T00:00:00Z';
const policy: TenancyPolicy = { namespaceLabel: 'roster.dev/team', operatorNamespace: 'roster-system' };
const assigned: NamespaceFacts = { labels: { 'roster.dev/team': 'acme' }, holdsTeam: false };
const unassigned: NamespaceFacts = { labels: {}, holdsTeam: false };

const team = (seats: number): Team => ({
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Team',
  metadata: { name: 'acme', namespace: 'acme', uid: 'uid-acme' },
  spec: { owner: { email: 'liam@acme.com' }, seats },
  status: { owner: { email: 'liam@acme.com', phase: 'Active' } },
});
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

function member(
  name: string,
  spec: Partial<Membership['spec']>,
  state: 'new' | 'invited' | 'active',
  metadata: Partial<Membership['metadata']> = {},
): Membership {
  const status: Membership['status'] | undefined =
    state === 'new' ? undefined : state === 'invited' ? { phase: 'Invited' } : { phase: 'Active', acceptedAt: ACCEPTED };
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Membership',
    metadata: { name, namespace: 'acme', uid: `uid-${name}`, generation: 1, finalizers: ['roster.dev/access'], ...metadata },
    spec: { team: 'acme', email: `${name}@acme.com`, role: 'developer', ...spec },
    ...(status ? { status } : {}),
  };
}

interface Situation {
  readonly seats?: number;
  readonly memberships: readonly Membership[];
  readonly namespaces?: Record<string, NamespaceFacts>;
  /** Deleted Memberships the removal brake holds. */
  readonly held?: readonly string[];
}

/** What the operator ends with for one person: the planner's step, and the namespaces the kubernetes backend would bind. */
function operatorView(s: Situation, m: Membership): { state: string; namespaces: string[] } {
  const t = team(s.seats ?? 10);
  const namespaces = new Map(Object.entries(s.namespaces ?? { 'shop-staging': assigned, 'shop-prod': assigned }));
  const seat = assignSeats(t, s.memberships, [], { now: NOW }).memberships.get(m.metadata.name ?? '');
  const facts: MembershipFacts = {
    membership: m,
    now: NOW,
    team: t,
    backend: 'default',
    namespaceTerminating: false,
    removalLetThrough: !(s.held ?? []).includes(m.metadata.name ?? ''),
    seat,
    seatUsage: undefined,
    acceptedAt: m.status?.acceptedAt,
    ownedInvitations: [],
    projects: [project],
  };
  const step = planMembership(facts);
  switch (step.kind) {
    case 'provision':
      return {
        state: 'active',
        // The kubernetes backend binds only the namespaces assigned to the team (SPEC §7).
        namespaces: step.grant.targets
          .filter(
            (target) =>
              namespaceAssignment(policy, 'acme', target.namespace, namespaces.get(target.namespace) ?? { labels: undefined, holdsTeam: false }).kind ===
              'assigned',
          )
          .map((target) => target.namespace),
      };
    case 'invite':
      return { state: 'invited', namespaces: [] };
    case 'holdRemoval':
      // Access stays as it was while the brake holds the removal.
      return { state: 'active', namespaces: [...(m.status?.identity?.scope ?? [])] };
    default:
      return { state: 'none', namespaces: [] };
  }
}

function planView(s: Situation, m: Membership): { state: string; namespaces: string[] } {
  const snapshot: AccessSnapshot = {
    controlNamespace: 'acme',
    team: team(s.seats ?? 10),
    memberships: s.memberships,
    invitations: [],
    projects: [project],
    namespaces: new Map(Object.entries(s.namespaces ?? { 'shop-staging': assigned, 'shop-prod': assigned })),
    policy,
    held: new Set(s.held ?? []),
    now: NOW,
  };
  const person = accessOf(snapshot).people.get(normalizeEmail(m.spec.email));
  if (person?.held) return { state: 'active', namespaces: [...(m.status?.identity?.scope ?? [])] };
  return { state: person?.state ?? 'none', namespaces: (person?.environments ?? []).map((e) => e.namespace) };
}

const situations: Array<[string, Situation]> = [
  ['an accepted developer scoped to staging', { memberships: [member('riley', { projects: [{ name: 'shop', environments: ['staging'] }] }, 'active')] }],
  ['an accepted admin, team-wide', { memberships: [member('noah', { role: 'admin' }, 'active')] }],
  [
    'an accepted observer whose production namespace is not assigned',
    { memberships: [member('ines', { role: 'observer' }, 'active')], namespaces: { 'shop-staging': assigned, 'shop-prod': unassigned } },
  ],
  ['a new Membership', { memberships: [member('sam', {}, 'new')] }],
  ['a person who has not accepted yet', { memberships: [member('sam', {}, 'invited')] }],
  ['an expired Membership', { memberships: [member('old', { expiresAt: '2026-05-31T00:00:00Z' }, 'active')] }],
  [
    'a Membership past the seat limit',
    {
      seats: 2,
      memberships: [
        member('a', {}, 'active', { creationTimestamp: '2026-01-01T00:00:00Z' }),
        member('b', {}, 'active', { creationTimestamp: '2026-02-01T00:00:00Z' }),
      ],
    },
  ],
  ['a deleted Membership the brake lets through', { memberships: [member('gone', {}, 'active', { deletionTimestamp: '2026-06-01T11:59:00Z' })] }],
  [
    'a deleted Membership the brake holds',
    {
      memberships: [member('held', {}, 'active', { deletionTimestamp: '2026-06-01T11:59:00Z', annotations: { 'roster.dev/deleted-by': 'x' } })],
      held: ['held'],
    },
  ],
];

describe('kubectl roster plan and the operator agree on each person', () => {
  for (const [name, situation] of situations) {
    it(name, () => {
      for (const m of situation.memberships) expect(planView(situation, m), m.metadata.name).toEqual(operatorView(situation, m));
    });
  }

  it('the situations cover every outcome (so the agreement is not vacuous)', () => {
    const states = new Set(situations.flatMap(([, s]) => s.memberships.map((m) => operatorView(s, m).state)));
    expect([...states].sort()).toEqual(['active', 'invited', 'none']);
    const partial = situations[2]![1];
    expect(operatorView(partial, partial.memberships[0]!).namespaces).toEqual(['shop-staging']);
  });
});
