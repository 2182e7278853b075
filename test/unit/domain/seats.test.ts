import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Invitation, Membership, MembershipStatus, Team } from '../../../src/api/generated.ts';
import { admitNewSeat, assignSeats, isOwnerActive, isStandaloneInvitation, seatDenialMessage, seatLimitProblem, seatUsage } from '../../../src/domain/seats.ts';

const T0 = Date.UTC(2026, 0, 1);
const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString().replace('.000Z', 'Z');

function team(seats: number, ownerPhase: 'Invited' | 'Active' | undefined = 'Active', ownerEmail = 'liam@acme.com'): Team {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Team',
    metadata: { name: 'acme', namespace: 'acme' },
    spec: { owner: { email: ownerEmail }, seats },
    ...(ownerPhase ? { status: { owner: { email: ownerEmail, phase: ownerPhase } } } : {}),
  };
}

interface MemberOptions {
  phase?: MembershipStatus['phase'];
  created?: number;
  email?: string;
  acceptedAt?: string;
  expiresAt?: string;
  deleting?: boolean;
  team?: string;
}

function member(name: string, options: MemberOptions = {}): Membership {
  const status: MembershipStatus = {};
  if (options.phase) status.phase = options.phase;
  if (options.acceptedAt) status.acceptedAt = options.acceptedAt;
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Membership',
    metadata: {
      name,
      namespace: 'acme',
      creationTimestamp: at(options.created ?? 0),
      ...(options.deleting ? { deletionTimestamp: at(100) } : {}),
    },
    spec: {
      team: options.team ?? 'acme',
      email: options.email ?? `${name}@acme.com`,
      role: 'developer',
      ...(options.expiresAt ? { expiresAt: options.expiresAt } : {}),
    },
    ...(options.phase || options.acceptedAt ? { status } : {}),
  };
}

interface InvitationOptions {
  phase?: 'Pending' | 'Accepted' | 'Revoked' | 'Expired';
  created?: number;
  email?: string;
  revoked?: boolean;
  ownedBy?: 'Membership' | 'Team';
  expiresAt?: string;
}

function invitation(name: string, options: InvitationOptions = {}): Invitation {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: {
      name,
      namespace: 'acme',
      creationTimestamp: at(options.created ?? 0),
      ...(options.ownedBy ? { ownerReferences: [{ apiVersion: 'roster.dev/v1alpha1', kind: options.ownedBy, name: 'x', uid: 'u', controller: true }] } : {}),
    },
    spec: { team: 'acme', email: options.email ?? `${name}@acme.com`, role: 'observer', ...(options.revoked ? { revoked: true } : {}) },
    ...(options.phase || options.expiresAt
      ? { status: { ...(options.phase ? { phase: options.phase } : {}), ...(options.expiresAt ? { expiresAt: options.expiresAt } : {}) } }
      : {}),
  };
}

const names = (list: readonly { metadata: { name?: string } }[]): string[] => list.map((o) => o.metadata.name ?? '');

describe('seat usage', () => {
  it('reproduces the SPEC example: 7 used, 2 pending, 1 available of 10', () => {
    const memberships = [
      ...['a', 'b', 'c', 'd', 'e', 'f'].map((n, i) => member(n, { phase: 'Active', created: i })),
      member('g', { phase: 'Invited', created: 10 }),
    ];
    const invitations = [invitation('h', { phase: 'Pending', created: 11 }), invitation('g-inv', { ownedBy: 'Membership', email: 'g@acme.com' })];
    expect(seatUsage(team(10), memberships, invitations)).toEqual({ limit: 10, used: 7, pending: 2, available: 1, summary: '9/10' });
    expect(assignSeats(team(10), memberships, invitations).members).toBe(7);
  });

  it('always seats the owner: used when Active, pending otherwise', () => {
    expect(seatUsage(team(3), [], [])).toEqual({ limit: 3, used: 1, pending: 0, available: 2, summary: '1/3' });
    expect(seatUsage(team(3, 'Invited'), [], [])).toEqual({ limit: 3, used: 0, pending: 1, available: 2, summary: '1/3' });
    const fresh = team(3);
    delete fresh.status;
    expect(seatUsage(fresh, [], []).pending).toBe(1);
    expect(assignSeats(team(3, 'Invited'), [], []).members).toBe(0);
  });

  it('treats an Active status for a previous owner as not yet Active for the new one', () => {
    const t = team(3);
    t.spec.owner.email = 'riley@acme.com';
    expect(isOwnerActive(t)).toBe(false);
    expect(assignSeats(t, [], []).owner).toBe('pending');
  });

  it('counts accepted members as used and the rest as pending', () => {
    const usage = seatUsage(
      team(10),
      [
        member('a', { phase: 'Active' }),
        member('b', { phase: 'Invited' }),
        member('c'),
        member('d', { phase: 'Failed' }),
        member('e', { phase: 'Failed', acceptedAt: at(1) }),
      ],
      [],
    );
    expect(usage).toMatchObject({ used: 3, pending: 3, available: 4, summary: '6/10' });
  });

  it('frees the seats of expired members and of members being deleted', () => {
    const memberships = [
      member('a', { phase: 'Expired' }),
      member('b', { phase: 'Active', deleting: true }),
      member('c', { phase: 'Active', expiresAt: at(5) }),
    ];
    expect(seatUsage(team(5), memberships, []).used).toBe(2); // without `now`, c's expiry is the controller's to notice
    expect(seatUsage(team(5), memberships, [], { now: new Date(T0 + 5 * 60_000) }).used).toBe(1);
    const states = assignSeats(team(5), memberships, []).memberships;
    expect(states.get('a')).toBe('none');
    expect(states.get('b')).toBe('none');
  });

  it('counts only standalone invitations that are still pending', () => {
    const invitations = [
      invitation('pending', { phase: 'Pending' }),
      invitation('fresh'),
      invitation('revoking', { revoked: true }),
      invitation('revoked', { phase: 'Revoked', revoked: true }),
      invitation('expired', { phase: 'Expired' }),
      invitation('accepted', { phase: 'Accepted' }),
      invitation('owned', { phase: 'Pending', ownedBy: 'Membership' }),
      invitation('owner', { phase: 'Pending', ownedBy: 'Team', email: 'other@acme.com' }),
      invitation('late', { phase: 'Pending', expiresAt: at(10) }),
    ];
    const a = assignSeats(team(20), [], invitations, { now: new Date(T0 + 10 * 60_000) });
    expect(a.usage.pending).toBe(2);
    expect(
      [...a.invitations]
        .filter(([, s]) => s === 'pending')
        .map(([n]) => n)
        .sort(),
    ).toEqual(['fresh', 'pending']);
    expect(seatUsage(team(20), [], invitations).pending).toBe(3); // no `now`: 'late' still counts
  });

  it('recognises standalone invitations by the absence of a roster owner reference', () => {
    expect(isStandaloneInvitation(invitation('a'))).toBe(true);
    expect(isStandaloneInvitation(invitation('b', { ownedBy: 'Membership' }))).toBe(false);
    expect(isStandaloneInvitation(invitation('c', { ownedBy: 'Team' }))).toBe(false);
    const foreign = invitation('d');
    foreign.metadata.ownerReferences = [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', name: 'x', uid: 'u' }];
    expect(isStandaloneInvitation(foreign)).toBe(true);
  });

  it("gives one person one seat: an accepted standalone invitation's new Membership shares it", () => {
    const a = assignSeats(team(2), [member('riley', { created: 5 })], [invitation('riley-inv', { phase: 'Pending', created: 1, email: 'Riley@ACME.com' })]);
    expect(a.usage).toMatchObject({ used: 1, pending: 1, available: 0 });
    expect(a.invitations.get('riley-inv')).toBe('pending');
    expect(a.memberships.get('riley')).toBe('shared');
    expect(names(a.withinLimit)).toEqual(['riley']);
  });

  it("does not charge a membership for the owner's own email (a transfer in flight)", () => {
    const a = assignSeats(team(1), [member('liam', { phase: 'Active', email: 'liam@acme.com' })], []);
    expect(a.memberships.get('liam')).toBe('shared');
    expect(a.overSeatLimit).toEqual([]);
    expect(a.usage.summary).toBe('1/1');
  });

  it('ignores objects of other teams', () => {
    const other = member('x', { team: 'globex', phase: 'Active' });
    const elsewhere = member('y', { phase: 'Active' });
    elsewhere.metadata.namespace = 'globex';
    const a = assignSeats(team(5), [other, elsewhere], []);
    expect(a.usage.used).toBe(1);
    expect(a.memberships.get('x')).toBe('none');
    expect(a.memberships.get('y')).toBe('none');
  });
});

describe('assignSeats over the limit', () => {
  it('seats the oldest first, ties broken by name', () => {
    const a = assignSeats(team(3), [member('c', { created: 1 }), member('b', { created: 2 }), member('a', { created: 2 }), member('z', { created: 0 })], []);
    expect(names(a.withinLimit)).toEqual(['z', 'c']);
    expect(names(a.overSeatLimit)).toEqual(['a', 'b']);
    expect(a.memberships.get('a')).toBe('overLimit');
    expect(a.usage).toEqual({ limit: 3, used: 1, pending: 2, available: 0, summary: '3/3' });
  });

  it('keeps people who have access before older objects that never got a seat', () => {
    const a = assignSeats(team(2), [member('old', { created: 0, phase: 'Invited' }), member('active', { created: 9, phase: 'Active' })], []);
    expect(names(a.withinLimit)).toEqual(['active']);
    expect(names(a.overSeatLimit)).toEqual(['old']);
  });

  it('makes OverSeatLimit members wait behind newer pending ones, and gives the oldest the next free seat', () => {
    const waiting = [member('w2', { created: 2, phase: 'OverSeatLimit' }), member('w1', { created: 1, phase: 'OverSeatLimit' })];
    const full = assignSeats(team(2), [...waiting, member('new', { created: 5, phase: 'Invited' })], []);
    expect(names(full.withinLimit)).toEqual(['new']);
    expect(names(full.overSeatLimit)).toEqual(['w1', 'w2']);
    const freed = assignSeats(team(3), [...waiting, member('new', { created: 5, phase: 'Invited' })], []);
    expect(names(freed.withinLimit)).toEqual(['new', 'w1']);
    expect(names(freed.overSeatLimit)).toEqual(['w2']);
  });

  it('reports standalone invitations past the limit, after memberships of the same age', () => {
    const a = assignSeats(team(2), [member('m', { created: 3 })], [invitation('i', { created: 3 }), invitation('j', { created: 1 })]);
    expect(a.invitations.get('j')).toBe('pending');
    expect(a.memberships.get('m')).toBe('overLimit');
    expect(names(a.invitationsOverLimit)).toEqual(['i']);
  });

  it('sorts objects without a creationTimestamp last', () => {
    const unborn = member('a');
    delete unborn.metadata.creationTimestamp;
    const a = assignSeats(team(2), [unborn, member('b', { created: 50 })], []);
    expect(names(a.overSeatLimit)).toEqual(['a']);
  });
});

// ---- properties ----

const phaseArb = fc.constantFrom<MembershipStatus['phase'] | undefined>(undefined, 'Invited', 'Active', 'Expired', 'OverSeatLimit', 'Failed');
const membershipsArb = fc
  .array(
    fc.record({
      phase: phaseArb,
      created: fc.nat(20),
      email: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'liam'),
      deleting: fc.boolean(),
      accepted: fc.boolean(),
    }),
    { maxLength: 12 },
  )
  .map((rows) =>
    rows.map((r, i) =>
      member(`m${i}`, {
        phase: r.phase,
        created: r.created,
        email: `${r.email}@acme.com`,
        deleting: r.deleting && i % 3 === 0,
        ...(r.accepted ? { acceptedAt: at(0) } : {}),
      }),
    ),
  );
const invitationsArb = fc
  .array(
    fc.record({
      phase: fc.constantFrom<InvitationOptions['phase'] | undefined>(undefined, 'Pending', 'Accepted', 'Revoked', 'Expired'),
      created: fc.nat(20),
      email: fc.constantFrom('a', 'b', 'i', 'j', 'k'),
      standalone: fc.boolean(),
    }),
    { maxLength: 6 },
  )
  .map((rows) =>
    rows.map((r, i) =>
      invitation(`i${i}`, { phase: r.phase, created: r.created, email: `${r.email}@acme.com`, ...(r.standalone ? {} : { ownedBy: 'Membership' as const }) }),
    ),
  );
const teamArb = fc.record({ seats: fc.integer({ min: 1, max: 8 }), ownerActive: fc.boolean() }).map((t) => team(t.seats, t.ownerActive ? 'Active' : 'Invited'));

describe('assignSeats properties', () => {
  it('never has more seats in use than the limit, and fills seats before refusing', () => {
    fc.assert(
      fc.property(teamArb, membershipsArb, invitationsArb, (t, ms, is) => {
        const a = assignSeats(t, ms, is);
        const inUse = a.usage.used + a.usage.pending;
        expect(inUse).toBeLessThanOrEqual(a.usage.limit);
        expect(a.usage.available).toBe(a.usage.limit - inUse);
        expect(a.usage.summary).toBe(`${inUse}/${a.usage.limit}`);
        if (a.overSeatLimit.length > 0 || a.invitationsOverLimit.length > 0) expect(inUse).toBe(a.usage.limit);
        // distinct people holding a seat, owner included, equals the count
        const holders = new Set([t.spec.owner.email]);
        for (const m of ms) if (['used', 'pending'].includes(a.memberships.get(m.metadata.name ?? '') ?? '')) holders.add(m.spec.email);
        for (const i of is) if (a.invitations.get(i.metadata.name ?? '') === 'pending') holders.add(i.spec.email);
        expect(holders.size).toBe(inUse);
        expect(a.members).toBeLessThanOrEqual(a.usage.used);
      }),
    );
  });

  it('does not depend on the order objects are listed in', () => {
    fc.assert(
      fc.property(teamArb, membershipsArb, invitationsArb, fc.nat(), (t, ms, is, seed) => {
        const shuffle = <X>(xs: X[]): X[] =>
          xs
            .map((x, i) => ({ x, k: (i * 7919 + seed) % 101 }))
            .sort((p, q) => p.k - q.k)
            .map((p) => p.x);
        const a = assignSeats(t, ms, is);
        const b = assignSeats(t, shuffle([...ms]), shuffle([...is]));
        expect(new Map(b.memberships)).toEqual(new Map(a.memberships));
        expect(b.usage).toEqual(a.usage);
      }),
    );
  });

  it("is a fixpoint: marking the over-limit members OverSeatLimit changes nobody's seat", () => {
    fc.assert(
      fc.property(teamArb, membershipsArb, invitationsArb, (t, ms, is) => {
        const first = assignSeats(t, ms, is);
        const over = new Set(names(first.overSeatLimit));
        const marked = ms.map((m) => (over.has(m.metadata.name ?? '') ? { ...m, status: { ...m.status, phase: 'OverSeatLimit' as const } } : m));
        const second = assignSeats(t, marked, is);
        expect(names(second.overSeatLimit).sort()).toEqual(names(first.overSeatLimit).sort());
        expect(names(second.withinLimit)).toEqual(names(first.withinLimit));
        expect(second.usage).toEqual(first.usage);
      }),
    );
  });

  it('admitting one newcomer at a time until refused never passes the limit', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'), { maxLength: 20 }),
        (seats, emails) => {
          const t = team(seats);
          const ms: Membership[] = [];
          for (const [i, e] of emails.entries()) {
            const verdict = admitNewSeat(t, ms, [], `${e}@acme.com`);
            if (verdict.allowed && verdict.needsNewSeat) ms.push(member(`m${i}`, { email: `${e}@acme.com`, created: i }));
          }
          const a = assignSeats(t, ms, []);
          expect(a.overSeatLimit).toEqual([]);
          expect(a.usage.used + a.usage.pending).toBeLessThanOrEqual(seats);
        },
      ),
    );
  });
});

describe('admission helpers', () => {
  it('refuses a newcomer when no seat is left, with the SPEC message', () => {
    const ms = Array.from({ length: 9 }, (_, i) => member(`m${i}`, { phase: 'Active' }));
    const verdict = admitNewSeat(team(10), ms, [], 'new@acme.com');
    expect(verdict).toMatchObject({ allowed: false, message: 'team acme has 10 of 10 seats in use; raise spec.seats or remove a member' });
  });

  it('admits a newcomer into the last free seat', () => {
    const ms = Array.from({ length: 8 }, (_, i) => member(`m${i}`));
    expect(admitNewSeat(team(10), ms, [], 'new@acme.com')).toMatchObject({ allowed: true, needsNewSeat: true });
  });

  it('admits someone who already holds a seat without taking another', () => {
    const ms = [member('riley', { phase: 'Active' })];
    expect(admitNewSeat(team(2), ms, [], 'RILEY@acme.com')).toMatchObject({ allowed: true, needsNewSeat: false });
    expect(admitNewSeat(team(1), [], [], 'liam@acme.com')).toMatchObject({ allowed: true, needsNewSeat: false });
    expect(admitNewSeat(team(2), [member('x', { phase: 'OverSeatLimit', email: 'new@acme.com' }), member('y')], [], 'new@acme.com').allowed).toBe(false);
  });

  it('seatDenialMessage says what to do', () => {
    expect(seatDenialMessage('acme', 10, 10)).toBe('team acme has 10 of 10 seats in use; raise spec.seats or remove a member');
  });

  it('seatLimitProblem refuses lowering the limit below the seats in use', () => {
    expect(seatLimitProblem('acme', 8, 9)).toBe(
      'team acme has 9 seats in use, so spec.seats cannot go below 9; remove members or revoke pending invitations first',
    );
    expect(seatLimitProblem('acme', 9, 9)).toBeUndefined();
    expect(seatLimitProblem('acme', 20, 9)).toBeUndefined();
  });
});
