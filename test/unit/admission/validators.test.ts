import { describe, expect, it } from 'vitest';
import { validateInvitation, validateMembership, validateProject, validateTeam, type Verdict } from '../../../src/admission/validators.ts';
import type { SeatReservation } from '../../../src/seats/decision.ts';
import { create, ctx, invitation, membership, NOW, project, team, update, view } from './fixtures.ts';

function deniedWith(verdict: Verdict, message: string | RegExp): void {
  expect(verdict.allowed).toBe(false);
  if (!verdict.allowed) expect(verdict.message).toMatch(message);
}

function allowedVerdict(verdict: Verdict): Extract<Verdict, { allowed: true }> {
  if (!verdict.allowed) throw new Error(`expected allowed, got: ${verdict.message}`);
  return verdict;
}

const fullTeam = (seats: number) => {
  const members = Array.from({ length: seats - 1 }, (_, i) => membership(`m${i}`));
  return view({ team: team({ seats }), memberships: members });
};

describe('Membership', () => {
  it('allows a plain create and asks for a seat', () => {
    const v = allowedVerdict(validateMembership(create(membership('riley')), view(), ctx));
    expect(v.seat).toMatchObject({ kind: 'Membership', name: 'riley', email: 'riley@acme.com' });
  });

  it('admits an address not all in lower case, warning that it is bound as written (issue 10 item 8)', () => {
    const v = allowedVerdict(validateMembership(create(membership('riley', { email: 'Riley@Acme.com' })), view(), ctx));
    expect(v.warnings).toEqual([
      'Membership riley binds Kubernetes user Riley@Acme.com as written in spec.email (user names are case-sensitive): the authenticator must present exactly that. If it presents riley@acme.com, recreate it in lower case',
    ]);
    // Admission warnings are cut at 240 characters (src/admission/review.ts).
    expect(v.warnings[0]!.length).toBeLessThanOrEqual(240);
    expect(v.seat).toMatchObject({ kind: 'Membership', email: 'Riley@Acme.com' });
    expect(allowedVerdict(validateMembership(create(membership('riley')), view(), ctx)).warnings).toEqual([]);
    // Only on create: the address cannot change afterwards, so updates stay quiet.
    const old = membership('riley', { email: 'Riley@Acme.com' });
    expect(
      allowedVerdict(validateMembership(update(old, { ...old, spec: { ...old.spec, role: 'observer' } }), view({ memberships: [old] }), ctx)).warnings,
    ).toEqual([]);
  });

  it('refuses a missing team', () => {
    deniedWith(
      validateMembership(create(membership('riley')), view({ team: undefined }), ctx),
      'team acme does not exist in namespace acme; create the Team first, or fix spec.team',
    );
  });

  it('refuses the owner as a member, whatever the case', () => {
    deniedWith(
      validateMembership(create(membership('liam', { email: 'LIAM@acme.com' })), view(), ctx),
      'LIAM@acme.com is the owner of team acme (Team spec.owner) and needs no Membership',
    );
  });

  it('refuses role owner', () => {
    deniedWith(validateMembership(create(membership('x', { role: 'owner' as never })), view(), ctx), 'role owner is not allowed');
  });

  it('refuses a second Membership for the same person', () => {
    const existing = membership('riley');
    deniedWith(
      validateMembership(create(membership('riley2', { email: ' Riley@ACME.com' })), view({ memberships: [existing] }), ctx),
      'already has Membership riley in team acme; edit that Membership instead',
    );
  });

  it('finds that person through the team-and-email index when the webhook has one, without the team list', () => {
    const existing = membership('riley');
    const asked: string[] = [];
    const membershipsOf = (email: string) => (asked.push(email), [existing]);
    deniedWith(
      validateMembership(create(membership('riley2', { email: ' Riley@ACME.com' })), view({ memberships: [], membershipsOf }), ctx),
      'already has Membership riley in team acme; edit that Membership instead',
    );
    expect(asked).toEqual([' Riley@ACME.com']);
  });

  it('lets a Membership replace one that is being deleted', () => {
    const leaving = membership('riley');
    leaving.metadata.deletionTimestamp = NOW.toISOString();
    allowedVerdict(validateMembership(create(membership('riley2', { email: 'riley@acme.com' })), view({ memberships: [leaving] }), ctx));
  });

  it('refuses scopes on team-wide roles, unknown projects and environments', () => {
    deniedWith(
      validateMembership(create(membership('a', { role: 'admin', projects: [{ name: 'shop' }] })), view(), ctx),
      /team-wide and takes no projects; remove spec.projects/,
    );
    deniedWith(
      validateMembership(create(membership('a', { projects: [{ name: 'blog' }] })), view(), ctx),
      'project blog does not exist; create a Project named blog first, or use one of: shop',
    );
    deniedWith(
      validateMembership(create(membership('a', { projects: [{ name: 'shop', environments: ['qa'] }] })), view(), ctx),
      'project shop has no environment "qa"; it has production, staging',
    );
    allowedVerdict(validateMembership(create(membership('a', { projects: [{ name: 'shop', environments: ['staging'] }] })), view(), ctx));
  });

  it('refuses malformed emails and past or unreadable expiry', () => {
    deniedWith(validateMembership(create(membership('a', { email: 'nope' })), view(), ctx), 'spec.email must be an email address such as riley@acme.com');
    deniedWith(
      validateMembership(create(membership('a', { expiresAt: '2026-05-01T00:00:00Z' })), view(), ctx),
      'spec.expiresAt 2026-05-01T00:00:00Z is in the past; set a future time',
    );
    deniedWith(validateMembership(create(membership('a', { expiresAt: 'tomorrow' })), view(), ctx), 'spec.expiresAt must be an RFC 3339 time');
    allowedVerdict(validateMembership(create(membership('a', { expiresAt: '2027-01-01T00:00:00Z' })), view(), ctx));
  });

  it('names every problem at once', () => {
    const v = validateMembership(create(membership('liam', { email: 'liam@acme.com', expiresAt: '2020-01-01T00:00:00Z' })), view(), ctx);
    deniedWith(v, /in the past.*; .*is the owner/);
  });

  it("refuses the last seat taken, in the SPEC's words", () => {
    deniedWith(validateMembership(create(membership('new')), fullTeam(10), ctx), 'team acme has 10 of 10 seats in use; raise spec.seats or remove a member');
  });

  it('counts live reservations as seats in use', () => {
    const reservation: SeatReservation = {
      requestUid: 'r1',
      kind: 'Membership',
      name: 'racer',
      email: 'racer@acme.com',
      createdAt: NOW.toISOString(),
      expiresAt: new Date(NOW.getTime() + 30_000).toISOString(),
    };
    const almost = fullTeam(10);
    const v = { ...almost, memberships: almost.memberships.slice(1), reservations: [reservation] };
    deniedWith(validateMembership(create(membership('new')), v, ctx), 'team acme has 10 of 10 seats in use');
    deniedWith(
      validateMembership(create(membership('twin', { email: 'racer@acme.com' })), { ...v, team: team({ seats: 20 }) }, ctx),
      'racer@acme.com is being added to team acme right now (Membership racer)',
    );
  });

  it('lets the Membership of an accepted standalone Invitation take over its seat', () => {
    const full = fullTeam(10);
    const accepted = invitation('noah', {}, {}, { phase: 'Accepted' });
    const m = membership('noah', { email: 'noah@acme.com' });
    m.metadata.annotations = { 'roster.dev/invitation': 'noah' };
    const v = allowedVerdict(validateMembership(create(m), { ...full, invitations: [accepted] }, ctx));
    expect(v.seat).toBeUndefined();
    // Without the hand-over the team really is full.
    deniedWith(validateMembership(create(membership('noah')), full, ctx), '10 of 10');
  });

  it('on update: team and email stay, scope is checked when it changes, untouched fields are not re-judged', () => {
    const old = membership('riley', { projects: [{ name: 'gone' }] });
    deniedWith(validateMembership(update(old, { ...old, spec: { ...old.spec, email: 'other@acme.com' } }), view(), ctx), 'spec.email is immutable');
    deniedWith(validateMembership(update(old, { ...old, spec: { ...old.spec, team: 'other' } }), view(), ctx), 'spec.team is immutable');
    // A stale project reference does not block an unrelated edit…
    allowedVerdict(validateMembership(update(old, { ...old, spec: { ...old.spec, name: 'Riley Park' } }), view(), ctx));
    // …but a new one is checked.
    deniedWith(
      validateMembership(update(old, { ...old, spec: { ...old.spec, projects: [{ name: 'shop', environments: ['qa'] }] } }), view(), ctx),
      'has no environment "qa"',
    );
    deniedWith(validateMembership(update(old, { ...old, spec: { ...old.spec, role: 'admin' } }), view(), ctx), 'team-wide');
  });

  it('on update: reviving an expired Membership needs a free seat', () => {
    const expired = membership('old', { expiresAt: '2026-01-01T00:00:00Z' }, { phase: 'Expired' });
    const full = fullTeam(10);
    const revived = { ...expired, spec: { ...expired.spec, expiresAt: '2027-01-01T00:00:00Z' } };
    deniedWith(validateMembership(update(expired, revived), { ...full, memberships: [...full.memberships, expired] }, ctx), '10 of 10 seats');
    const roomy = { ...full, team: team({ seats: 11 }), memberships: [...full.memberships, expired] };
    const v = allowedVerdict(validateMembership(update(expired, revived), roomy, ctx));
    expect(v.seat).toBeUndefined(); // the object exists: nothing to reserve
  });
});

describe('Invitation', () => {
  const ownerInvitation = (email = 'liam@acme.com') =>
    invitation(
      'acme-owner-x',
      { email, role: 'owner' },
      { ownerReferences: [{ apiVersion: 'roster.dev/v1alpha1', kind: 'Team', name: 'acme', uid: 'team-uid', controller: true }] },
    );

  it('lets only the operator create the owner invitation, for the owner, controlled by the Team', () => {
    allowedVerdict(validateInvitation(create(ownerInvitation(), ctx.operatorUsername), view(), ctx));
    deniedWith(validateInvitation(create(ownerInvitation(), 'mallory@acme.com'), view(), ctx), 'role owner is not allowed');
    deniedWith(validateInvitation(create(ownerInvitation('mallory@acme.com'), ctx.operatorUsername), view(), ctx), 'role owner is not allowed');
    deniedWith(
      validateInvitation(create(invitation('o', { role: 'owner', email: 'liam@acme.com' }), ctx.operatorUsername), view(), ctx),
      'role owner is not allowed',
    );
    deniedWith(validateInvitation(create(ownerInvitation(), ctx.operatorUsername), view(), { now: NOW }), 'role owner is not allowed'); // operator unknown: fail closed
  });

  it('lets the operator revoke an owner invitation after a transfer (role unchanged)', () => {
    const old = ownerInvitation('former@acme.com');
    allowedVerdict(validateInvitation(update(old, { ...old, spec: { ...old.spec, revoked: true } }, ctx.operatorUsername), view(), ctx));
  });

  it('refuses turning an invitation into an owner invitation', () => {
    const old = invitation('x');
    deniedWith(validateInvitation(update(old, { ...old, spec: { ...old.spec, role: 'owner' } }), view(), ctx), 'role owner is not allowed');
  });

  it('refuses a standalone invitation for the owner, a member, or someone already invited', () => {
    deniedWith(validateInvitation(create(invitation('l', { email: 'liam@acme.com' })), view(), ctx), 'is the owner of team acme');
    deniedWith(
      validateInvitation(create(invitation('r', { email: 'riley@acme.com' })), view({ memberships: [membership('riley')] }), ctx),
      'already has Membership riley in team acme; edit its spec.role instead',
    );
    deniedWith(
      validateInvitation(create(invitation('r2', { email: 'riley@acme.com' })), view({ invitations: [invitation('riley')] }), ctx),
      /a pending invitation riley for riley@acme.com already exists in team acme; resend it \(kubectl annotate invitation riley roster.dev\/resend=/,
    );
    // A revoked one does not count.
    allowedVerdict(
      validateInvitation(create(invitation('r2', { email: 'riley@acme.com' })), view({ invitations: [invitation('riley', { revoked: true })] }), ctx),
    );
  });

  it('takes a seat when standalone, none when the operator makes it for a Membership', () => {
    const m = membership('riley');
    const forMembership = invitation(
      'riley-abc',
      { email: 'riley@acme.com' },
      { ownerReferences: [{ apiVersion: 'roster.dev/v1alpha1', kind: 'Membership', name: 'riley', uid: m.metadata.uid ?? '', controller: true }] },
    );
    const full = fullTeam(10);
    expect(
      allowedVerdict(validateInvitation(create(forMembership, ctx.operatorUsername), { ...full, memberships: [...full.memberships, m] }, ctx)).seat,
    ).toBeUndefined();
    deniedWith(validateInvitation(create(invitation('zoe')), full, ctx), 'team acme has 10 of 10 seats in use; raise spec.seats or remove a member');
    expect(allowedVerdict(validateInvitation(create(invitation('zoe')), view(), ctx)).seat).toMatchObject({ kind: 'Invitation', name: 'zoe' });
  });

  it('refuses forged owner references that would dodge the seat count', () => {
    const full = fullTeam(10);
    const forged = invitation('zoe', {}, { ownerReferences: [{ apiVersion: 'roster.dev/v1alpha1', kind: 'Membership', name: 'nobody', uid: 'x' }] });
    deniedWith(
      validateInvitation(create(forged), full, ctx),
      'metadata.ownerReferences names Membership nobody, which is not a Membership for zoe@acme.com in team acme',
    );
    const teamOwned = invitation(
      'zoe',
      { role: 'admin' },
      { ownerReferences: [{ apiVersion: 'roster.dev/v1alpha1', kind: 'Team', name: 'acme', uid: 'team-uid' }] },
    );
    deniedWith(validateInvitation(create(teamOwned), full, ctx), "an Invitation owned by a Team is the operator's invitation for the team owner");
  });

  it("warns about a standalone invitation to an address not all in lower case, not about the operator's copies", () => {
    const v = allowedVerdict(validateInvitation(create(invitation('zoe', { email: 'Zoe@Acme.com' })), view(), ctx));
    expect(v.seat).toMatchObject({ kind: 'Invitation', name: 'zoe' });
    expect(v.warnings).toHaveLength(1);
    expect(v.warnings[0]).toBe(
      'Invitation zoe (once accepted) binds Kubernetes user Zoe@Acme.com as written in spec.email (user names are case-sensitive): the authenticator must present exactly that. If it presents zoe@acme.com, recreate it in lower case',
    );
    expect(allowedVerdict(validateInvitation(create(invitation('zoe')), view(), ctx)).warnings).toEqual([]);
    // The operator's invitation for a Membership copies its address: the Membership was warned.
    const m = membership('casey', { email: 'Casey@Acme.com' });
    const follower = invitation(
      'casey-abc',
      { email: 'Casey@Acme.com' },
      { ownerReferences: [{ apiVersion: 'roster.dev/v1alpha1', kind: 'Membership', name: 'casey', uid: m.metadata.uid ?? '', controller: true }] },
    );
    expect(allowedVerdict(validateInvitation(create(follower, ctx.operatorUsername), view({ memberships: [m] }), ctx)).warnings).toEqual([]);
  });

  it('checks scope and references', () => {
    deniedWith(validateInvitation(create(invitation('a', { role: 'billing', projects: [{ name: 'shop' }] })), view(), ctx), 'team-wide');
    deniedWith(validateInvitation(create(invitation('a', { projects: [{ name: 'shop', environments: ['qa'] }] })), view(), ctx), 'no environment "qa"');
    deniedWith(validateInvitation(create(invitation('a')), view({ team: undefined }), ctx), 'team acme does not exist');
  });
});

describe('Team', () => {
  const active = (t = team()) => ({ ...t, status: { owner: { email: t.spec.owner.email, phase: 'Active' as const } } });

  it('refuses lowering seats below the seats in use, with the number', () => {
    const old = team({ seats: 10 });
    const v = fullTeam(10);
    deniedWith(
      validateTeam(update(old, team({ seats: 5 })), v, ctx),
      'team acme has 10 seats in use, so spec.seats cannot go below 10; remove members or revoke pending invitations first',
    );
    allowedVerdict(validateTeam(update(old, team({ seats: 12 })), v, ctx));
    allowedVerdict(validateTeam(update(team({ seats: 12 }), team({ seats: 10 })), v, ctx));
  });

  it('counts reservations when lowering seats', () => {
    const r: SeatReservation = {
      requestUid: 'r',
      kind: 'Membership',
      name: 'x',
      email: 'x@acme.com',
      createdAt: NOW.toISOString(),
      expiresAt: new Date(NOW.getTime() + 30_000).toISOString(),
    };
    deniedWith(
      validateTeam(update(team({ seats: 10 }), team({ seats: 1 })), view({ reservations: [r] }), ctx),
      'team acme has 2 seats in use, so spec.seats cannot go below 2',
    );
  });

  it('transfers ownership only to an Active admin', () => {
    const old = active();
    const to = (email: string) => ({ ...old, spec: { ...old.spec, owner: { email } } });
    deniedWith(
      validateTeam(update(old, to('zoe@acme.com')), view(), ctx),
      'ownership of team acme can go only to an Active admin of the team, and zoe@acme.com is not a member; create a Membership for zoe@acme.com with role admin, wait until it is Active, then edit spec.owner',
    );
    deniedWith(
      validateTeam(update(old, to('riley@acme.com')), view({ memberships: [membership('riley', {}, { phase: 'Active' })] }), ctx),
      'riley@acme.com has role developer; change Membership riley to role admin first',
    );
    deniedWith(
      validateTeam(update(old, to('noah@acme.com')), view({ memberships: [membership('noah', { role: 'admin' }, { phase: 'Invited' })] }), ctx),
      "noah@acme.com's Membership noah is Invited, not Active; wait until they accept",
    );
    allowedVerdict(validateTeam(update(old, to('Noah@acme.com')), view({ memberships: [membership('noah', { role: 'admin' }, { phase: 'Active' })] }), ctx));
    // The owner's name is not ownership.
    allowedVerdict(validateTeam(update(old, { ...old, spec: { ...old.spec, owner: { email: 'liam@acme.com', name: 'Liam H.' } } }), view(), ctx));
  });

  it('lets a never-accepted owner address be corrected, with a warning', () => {
    const old = team();
    const v = allowedVerdict(validateTeam(update(old, { ...old, spec: { ...old.spec, owner: { email: 'liam.h@acme.com' } } }), view(), ctx));
    expect(v.warnings.join()).toContain('never accepted ownership');
  });

  it('allows creates', () => {
    expect(allowedVerdict(validateTeam(create(team()), view(), ctx)).warnings).toEqual([]);
  });

  it('warns when the owner address is not all lower case: the owner is bound as written (issue 10 item 8)', () => {
    const mixed = team({ owner: { email: 'Liam@Acme.com' } });
    expect(allowedVerdict(validateTeam(create(mixed), view(), ctx)).warnings).toEqual([
      'Team acme binds Kubernetes user Liam@Acme.com as written in spec.owner.email (user names are case-sensitive): the authenticator must present exactly that. If it presents liam@acme.com, write spec.owner.email in lower case',
    ]);
    // Editing the case of the owner's address re-binds the owner: the new spelling is warned about, the fix is not.
    const active = { ...team(), status: { owner: { email: 'liam@acme.com', phase: 'Active' as const } } };
    const recased = allowedVerdict(validateTeam(update(active, { ...active, spec: { ...active.spec, owner: { email: 'LIAM@acme.com' } } }), view(), ctx));
    expect(recased.warnings).toHaveLength(1);
    expect(recased.warnings[0]).toMatch(/^Team acme binds Kubernetes user LIAM@acme\.com as written/);
    const fixed = { ...mixed, status: { owner: { email: 'liam@acme.com', phase: 'Active' as const } } };
    expect(allowedVerdict(validateTeam(update(fixed, { ...fixed, spec: { ...fixed.spec, owner: { email: 'liam@acme.com' } } }), view(), ctx)).warnings).toEqual(
      [],
    );
    // Unrelated edits of a mixed-case Team stay quiet.
    expect(allowedVerdict(validateTeam(update(fixed, { ...fixed, spec: { ...fixed.spec, seats: 12 } }), view(), ctx)).warnings).toEqual([]);
  });
});

describe('Project', () => {
  it('refuses a missing team on create and warns when scoped environments go away', () => {
    deniedWith(validateProject(create(project('shop')), view({ team: undefined })), 'team acme does not exist');
    const old = project('shop');
    const shrunk = project('shop', ['production']);
    const v = allowedVerdict(
      validateProject(update(old, shrunk), view({ memberships: [membership('riley', { projects: [{ name: 'shop', environments: ['staging'] }] })] })),
    );
    expect(v.warnings).toEqual(['environment staging is still named in the scope of riley; they lose access there']);
  });
});

describe('shape', () => {
  it('refuses objects without the fields the rules read, with a message', () => {
    deniedWith(validateMembership(create({ metadata: {} } as never), view(), ctx), 'Membership spec is missing');
    deniedWith(validateInvitation(create({ metadata: {}, spec: { team: 1 } } as never), view(), ctx), 'spec.team must be a string');
    deniedWith(validateTeam(create({ metadata: {}, spec: { owner: {} } } as never), view(), ctx), 'spec.owner.email must be a string');
  });
});
