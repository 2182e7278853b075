// SeatIndex against the walk it stands in for: after any sequence of cache changes, its
// answers (when it gives one) are exactly what holdersOf and assignSeats compute from the
// same objects, and it declines where only the walk can tell.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Invitation, Membership, Team } from '../../../src/api/generated.ts';
import { assignSeats } from '../../../src/domain/seats.ts';
import type { InformerEvent } from '../../../src/runtime/informer.ts';
import { holdersOf } from '../../../src/seats/decision.ts';
import { SeatIndex, type SeatIndexSource } from '../../../src/seats/seat-index.ts';

const T0 = Date.UTC(2026, 0, 1);
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString().replace('.000Z', 'Z');
const NOW = new Date(T0 + 50 * 60_000);

/** An informer as far as the index reads it: a store and its events. */
class FakeCache<T extends Membership | Invitation> implements SeatIndexSource<T> {
  readonly store = new Map<string, T>();
  private readonly handlers = new Set<(e: InformerEvent<T>) => void>();
  on(handler: (e: InformerEvent<T>) => void) {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }
  list() {
    return [...this.store.values()];
  }
  get(namespace: string | undefined, name: string) {
    return this.store.get(`${namespace}/${name}`);
  }
  put(object: T) {
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    const old = this.store.get(key);
    this.store.set(key, object);
    for (const h of this.handlers) h(old ? { type: 'updated', key, object, old } : { type: 'added', key, object });
  }
  remove(name: string, namespace = 'acme') {
    const key = `${namespace}/${name}`;
    const old = this.store.get(key);
    if (!old) return;
    this.store.delete(key);
    for (const h of this.handlers) h({ type: 'deleted', key, object: old });
  }
}

function team(seats: number, ownerEmail = 'liam@acme.com', name = 'acme'): Team {
  return { apiVersion: 'roster.dev/v1alpha1', kind: 'Team', metadata: { name, namespace: 'acme' }, spec: { owner: { email: ownerEmail }, seats } };
}

const emailArb = fc.constantFrom<string>('a@x.io', 'A@x.io ', 'b@x.io', 'c@x.io', 'd@x.io', 'e@x.io', 'liam@acme.com');
const timeArb = fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined });

const membershipArb = fc.record({
  name: fc.constantFrom<string>('m1', 'm2', 'm3', 'm4', 'm5', 'm6'),
  team: fc.constantFrom<string>('acme', 'acme', 'acme', 'other'),
  email: emailArb,
  created: fc.integer({ min: 0, max: 5 }),
  phase: fc.constantFrom(undefined, 'Invited', 'Active', 'Expired', 'OverSeatLimit', 'Failed'),
  acceptedAt: fc.boolean(),
  expiresAt: timeArb,
  deleting: fc.boolean(),
});

const invitationArb = fc.record({
  name: fc.constantFrom('i1', 'i2', 'i3', 'i4'),
  team: fc.constantFrom('acme', 'acme', 'other'),
  email: emailArb,
  created: fc.integer({ min: 0, max: 5 }),
  owned: fc.boolean(),
  phase: fc.constantFrom(undefined, 'Pending', 'Accepted', 'Expired', 'Revoked'),
  membership: fc.boolean(),
  revoked: fc.boolean(),
  expiresAt: timeArb,
  deleting: fc.boolean(),
});

type MembershipInput = typeof membershipArb extends fc.Arbitrary<infer V> ? V : never;
type InvitationInput = typeof invitationArb extends fc.Arbitrary<infer V> ? V : never;

function membership(m: MembershipInput): Membership {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Membership',
    metadata: { name: m.name, namespace: 'acme', uid: `uid-${m.name}`, creationTimestamp: at(m.created), ...(m.deleting ? { deletionTimestamp: at(60) } : {}) },
    spec: { team: m.team, email: m.email, role: 'developer', ...(m.expiresAt !== undefined ? { expiresAt: at(m.expiresAt) } : {}) },
    status: { ...(m.phase ? { phase: m.phase } : {}), ...(m.acceptedAt ? { acceptedAt: at(1) } : {}) },
  } as Membership;
}

function invitation(i: InvitationInput): Invitation {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: {
      name: i.name,
      namespace: 'acme',
      uid: `uid-${i.name}`,
      creationTimestamp: at(i.created),
      ...(i.deleting ? { deletionTimestamp: at(60) } : {}),
      ...(i.owned ? { ownerReferences: [{ apiVersion: 'roster.dev/v1alpha1', kind: 'Membership', name: 'm1', uid: 'uid-m1', controller: true }] } : {}),
    },
    spec: { team: i.team, email: i.email, role: 'developer', ...(i.revoked ? { revoked: true } : {}) },
    status: {
      ...(i.phase ? { phase: i.phase } : {}),
      ...(i.membership ? { membership: 'm9' } : {}),
      ...(i.expiresAt !== undefined ? { expiresAt: at(i.expiresAt) } : {}),
    },
  } as Invitation;
}

const changeArb = fc.oneof(
  membershipArb.map((m) => ({ kind: 'putMembership' as const, m })),
  invitationArb.map((i) => ({ kind: 'putInvitation' as const, i })),
  fc.constantFrom('m1', 'm2', 'm3', 'm4', 'm5', 'm6').map((name) => ({ kind: 'removeMembership' as const, name })),
  fc.constantFrom('i1', 'i2', 'i3', 'i4').map((name) => ({ kind: 'removeInvitation' as const, name })),
);

describe('SeatIndex', () => {
  it('answers what the walk answers, or declines, after any sequence of cache changes', () => {
    fc.assert(
      fc.property(fc.array(changeArb, { maxLength: 30 }), fc.integer({ min: 1, max: 8 }), fc.nat(3), (changes, seats, preload) => {
        const memberships = new FakeCache<Membership>();
        const invitations = new FakeCache<Invitation>();
        // Some changes before the index exists (it reads the caches when made), the rest after.
        const before = changes.slice(0, preload);
        const apply = (c: (typeof changes)[number]) => {
          if (c.kind === 'putMembership') memberships.put(membership(c.m));
          else if (c.kind === 'putInvitation') invitations.put(invitation(c.i));
          else if (c.kind === 'removeMembership') memberships.remove(c.name);
          else invitations.remove(c.name);
        };
        before.forEach(apply);
        const index = new SeatIndex({ memberships, invitations });
        changes.slice(preload).forEach(apply);

        const t = team(seats);
        const objects = {
          team: t,
          memberships: memberships.list().filter((m) => m.spec.team === 'acme'),
          invitations: invitations.list().filter((i) => i.spec.team === 'acme'),
        };
        const walked = holdersOf(objects, NOW);
        const indexed = index.holders(t, NOW);
        const emails = ['a@x.io', 'b@x.io', 'c@x.io', 'd@x.io', 'e@x.io', 'liam@acme.com', 'z@x.io'];
        if (indexed) {
          expect(indexed.count).toBe(walked.count);
          for (const e of emails) expect(indexed.has(e)).toBe(walked.has(e));
          for (const name of ['m1', 'm2', 'm7']) expect(indexed.shows({ kind: 'Membership', name })).toBe(walked.shows({ kind: 'Membership', name }));
          for (const name of ['i1', 'i4']) expect(indexed.shows({ kind: 'Invitation', name })).toBe(walked.shows({ kind: 'Invitation', name }));
        } else {
          // Declines only when an unmarked expiry has passed.
          const due = [...objects.memberships.map((m) => m.spec.expiresAt), ...objects.invitations.map((i) => i.status?.expiresAt)].some(
            (x) => x !== undefined && Date.parse(x) <= NOW.getTime(),
          );
          expect(due).toBe(true);
        }

        const assignment = assignSeats(t, objects.memberships, objects.invitations, { now: NOW });
        for (const m of objects.memberships) {
          const seat = index.membershipSeat(t, m, NOW);
          if (!seat) continue;
          expect(seat.state).toBe(assignment.memberships.get(m.metadata.name ?? ''));
          expect(seat.limit).toBe(assignment.usage.limit);
          expect(seat.available).toBe(assignment.usage.available);
        }
        index.close();
      }),
      { numRuns: 4000 },
    );
  });

  it('answers for a big team far from its limit without a walk, and declines a Membership that shares its email', () => {
    const memberships = new FakeCache<Membership>();
    const invitations = new FakeCache<Invitation>();
    const index = new SeatIndex({ memberships, invitations });
    const base = { team: 'acme', created: 0, phase: 'Invited' as const, acceptedAt: false, expiresAt: undefined, deleting: false };
    for (let k = 0; k < 2000; k++) memberships.put(membership({ ...base, name: `m${k}`, email: `p${k}@x.io` }));
    const t = team(5000);
    expect(index.holders(t, NOW)?.count).toBe(2001);
    expect(index.membershipSeat(t, memberships.get('acme', 'm7')!, NOW)).toEqual({ state: 'pending', limit: 5000, available: 2999 });
    memberships.put(membership({ ...base, name: 'dup', email: 'p7@x.io', created: 1 }));
    expect(index.membershipSeat(t, memberships.get('acme', 'm7')!, NOW)).toBeUndefined(); // which of the two holds it: the walk's order
    memberships.remove('dup');
    expect(index.membershipSeat(t, memberships.get('acme', 'm7')!, NOW)?.state).toBe('pending');
    expect(index.membershipSeat(team(2000), memberships.get('acme', 'm7')!, NOW)).toBeUndefined(); // more people than seats
  });
});
