// Per-person access and its plan with plain data (SPEC §8): the operator's seat, scope,
// tenancy and brake rules, no cluster.
import { describe, expect, it } from 'vitest';
import type { Membership, Team } from '../../../src/api/generated.ts';
import { accessOf, planTeam, teamBrakePolicy, type AccessSnapshot } from '../../../src/domain/access-plan.ts';
import { DEFAULT_BRAKE } from '../../../src/domain/removal-brake.ts';
import type { NamespaceFacts } from '../../../src/tenancy/namespaces.ts';
import { invitation, membership, project, team } from '../cli/fixtures.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const policy = { namespaceLabel: 'roster.dev/team', operatorNamespace: 'roster-system' };
const assigned: NamespaceFacts = { labels: { 'roster.dev/team': 'ns' }, holdsTeam: false };
const shop = project('shop', 'acme', ['production', 'staging']); // namespaces shop-production, shop-staging

function snapshot(memberships: Membership[], options: Partial<AccessSnapshot> = {}): AccessSnapshot {
  return {
    controlNamespace: 'ns',
    team: team('acme', 'liam@acme.com', { ownerPhase: 'Active', seats: 20 }),
    memberships,
    invitations: [],
    projects: [shop],
    namespaces: new Map([
      ['shop-production', assigned],
      ['shop-staging', assigned],
    ]),
    policy,
    now: NOW,
    ...options,
  };
}

const active = (name: string, role: Membership['spec']['role'] = 'developer', options: Parameters<typeof membership>[4] = {}) =>
  membership(name, 'acme', `${name}@acme.com`, role, { phase: 'Active', acceptedAt: '2026-05-01T00:00:00Z', ...options });

describe('accessOf', () => {
  it('grants the role in every assigned environment of its scope once Active, and nothing before', () => {
    const access = accessOf(snapshot([active('riley'), membership('nina', 'acme', 'nina@acme.com', 'developer', { phase: 'Invited' })]));
    const riley = access.people.get('riley@acme.com')!;
    expect(riley.state).toBe('active');
    expect(riley.environments.map((e) => [e.namespace, e.permissions])).toEqual([
      ['shop-production', ['view', 'deploy']],
      ['shop-staging', ['view', 'deploy']],
    ]);
    const nina = access.people.get('nina@acme.com')!;
    expect(nina.state).toBe('invited');
    expect(nina.environments).toEqual([]);
    expect(access.people.get('liam@acme.com')).toMatchObject({ role: 'owner', state: 'active' });
  });

  it('grants nothing in a namespace not assigned to the team, and says why', () => {
    const facts = new Map([
      ['shop-production', { labels: {}, holdsTeam: false }],
      ['shop-staging', assigned],
    ]);
    const riley = accessOf(snapshot([active('riley')], { namespaces: facts })).people.get('riley@acme.com')!;
    expect(riley.environments.map((e) => e.namespace)).toEqual(['shop-staging']);
    expect(riley.unreachable[0]?.reason).toMatch(
      /not assigned to the team in namespace ns; a cluster admin assigns it with `kubectl label namespace shop-production roster.dev\/team=ns`/,
    );
  });

  it('grants nothing past the expiry, nor over the seat limit', () => {
    const access = accessOf(
      snapshot([active('old', 'developer', { expiresAt: '2026-05-31T00:00:00Z' }), active('a'), membership('late', 'acme', 'late@acme.com', 'observer')], {
        team: team('acme', 'liam@acme.com', { ownerPhase: 'Active', seats: 2 }),
      }),
    );
    expect(access.people.get('old@acme.com')).toMatchObject({ state: 'none', environments: [] });
    expect(access.people.get('old@acme.com')!.reason).toMatch(/expired/);
    expect(access.people.get('late@acme.com')).toMatchObject({ state: 'none', seat: 'overLimit' });
    expect(access.seats?.summary).toBe('2/2');
  });

  it('shows a pending standalone invitation as invited', () => {
    const access = accessOf(snapshot([], { invitations: [invitation('kai-x', 'acme', 'kai@acme.com', 'observer')] }));
    expect(access.people.get('kai@acme.com')).toMatchObject({ state: 'invited', via: 'invitation/kai-x' });
  });
});

describe('planTeam', () => {
  it('a new member: an invitation is mailed, nothing is granted, a seat goes pending', () => {
    const before = snapshot([active('riley')]);
    const after = snapshot([active('riley'), membership('nina', 'acme', 'nina@acme.com', 'developer')]);
    const plan = planTeam(before, after, DEFAULT_BRAKE);
    expect(plan.people.filter((p) => p.kind !== 'unchanged').map((p) => [p.email, p.kind, p.mailed, p.gained.length])).toEqual([
      ['nina@acme.com', 'added', true, 0],
    ]);
    expect([plan.seats.before?.summary, plan.seats.after?.summary]).toEqual(['2/20', '3/20']);
    expect(plan.brake).toBeUndefined();
  });

  it('a role downgrade of an Active member loses deploy at once', () => {
    const plan = planTeam(snapshot([active('riley')]), snapshot([active('riley', 'observer')]), DEFAULT_BRAKE);
    const riley = plan.people.find((p) => p.email === 'riley@acme.com')!;
    expect(riley).toMatchObject({ kind: 'changed', role: { from: 'developer', to: 'observer' }, mailed: false });
    expect(riley.lost.map((g) => `${g.permission}@${g.namespace}`)).toEqual(['deploy@shop-production', 'deploy@shop-staging']);
    expect(riley.gained).toEqual([]);
  });

  it('a scope change moves access between environments', () => {
    const plan = planTeam(
      snapshot([active('riley', 'developer', { projects: [{ name: 'shop', environments: ['staging'] }] })]),
      snapshot([active('riley', 'developer', { projects: [{ name: 'shop', environments: ['production'] }] })]),
      DEFAULT_BRAKE,
    );
    const riley = plan.people.find((p) => p.email === 'riley@acme.com')!;
    expect(riley.scope).toEqual({ from: 'shop (staging)', to: 'shop (production)' });
    expect(riley.gained.map((g) => g.namespace)).toEqual(['shop-production', 'shop-production']);
    expect(riley.lost.map((g) => g.namespace)).toEqual(['shop-staging', 'shop-staging']);
  });

  it('a deleted Active membership loses its access', () => {
    const plan = planTeam(snapshot([active('riley'), active('sam')]), snapshot([active('riley')]), DEFAULT_BRAKE);
    const sam = plan.people.find((p) => p.email === 'sam@acme.com')!;
    expect(sam.kind).toBe('removed');
    expect(sam.lost).toHaveLength(4);
    expect(plan.brake?.proceed.map((r) => r.name)).toEqual(['sam']);
    expect(plan.brake?.held).toEqual([]);
  });

  it('removing 6 of 10 active members: the brake lets 2 go and holds 4, who keep their access', () => {
    const ten = Array.from({ length: 10 }, (_, i) => active(`m${i}`));
    const plan = planTeam(snapshot(ten), snapshot(ten.slice(0, 4)), DEFAULT_BRAKE);
    expect(plan.brake).toMatchObject({ allowed: 2, activeMembers: 10 });
    expect(plan.brake?.proceed).toHaveLength(2);
    expect(plan.brake?.held).toHaveLength(4);
    const held = plan.people.filter((p) => p.held);
    expect(held).toHaveLength(4);
    for (const p of held) {
      expect(p.after?.state).toBe('active');
      expect(p.lost).toEqual([]);
    }
    expect(plan.people.filter((p) => p.kind === 'removed')).toHaveLength(2);
  });

  it('an expiry is never held and a Team may tighten the brake', () => {
    const ten = Array.from({ length: 10 }, (_, i) => active(`m${i}`));
    const expired = ten.map((m, i) => (i < 6 ? { ...m, spec: { ...m.spec, expiresAt: '2026-06-01T11:00:00Z' } } : m));
    expect(planTeam(snapshot(expired), snapshot(expired.slice(6)), DEFAULT_BRAKE).brake).toBeUndefined();

    const strict: Team = {
      ...team('acme', 'liam@acme.com', { ownerPhase: 'Active', seats: 20 }),
      spec: { owner: { email: 'liam@acme.com' }, seats: 20, removalBrake: { minPeople: 1, maxFraction: 0.1 } },
    };
    expect(teamBrakePolicy(strict)).toEqual({ minPeople: 1, maxFraction: 0.1 });
    const plan = planTeam(snapshot(ten, { team: strict }), snapshot(ten.slice(0, 7), { team: strict }), DEFAULT_BRAKE);
    expect(plan.brake?.allowed).toBe(1);
    expect(plan.brake?.held).toHaveLength(2);
  });

  it('no change plans nothing', () => {
    const plan = planTeam(snapshot([active('riley')]), snapshot([active('riley')]), DEFAULT_BRAKE);
    expect(plan.people.every((p) => p.kind === 'unchanged')).toBe(true);
  });

  it('a label added to a namespace grants access there', () => {
    const unassigned = new Map([
      ['shop-production', { labels: {}, holdsTeam: false }],
      ['shop-staging', assigned],
    ]);
    const plan = planTeam(snapshot([active('riley')], { namespaces: unassigned }), snapshot([active('riley')]), DEFAULT_BRAKE);
    expect(plan.people.find((p) => p.email === 'riley@acme.com')!.gained.map((g) => g.namespace)).toEqual(['shop-production', 'shop-production']);
  });
});
