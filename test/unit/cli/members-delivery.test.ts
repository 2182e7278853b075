// `members` and the invitation mail: an unconfirmed or held mail shows next to the phase with
// the resend command; an owner's superseded Membership does not list the person twice.
import { describe, expect, it } from 'vitest';
import type { Invitation, Membership } from '../../../src/api/generated.ts';
import { memberRows, phaseLabel } from '../../../src/cli/team-view.ts';
import { invitation, membership, team } from './fixtures.ts';

const t = team('acme', 'liam@acme.com', { ownerPhase: 'Active', seats: 5 });
const withInvitation = (m: Membership, name: string): Membership => ({ ...m, status: { ...m.status, invitation: name } });
const delivered = (i: Invitation, state: 'Sent' | 'Unconfirmed'): Invitation => ({ ...i, status: { phase: 'Pending', delivery: { state } } });

describe('members: the invitation mail', () => {
  it('says Invited (mail unconfirmed) with the resend command, and nothing extra when it was sent', () => {
    const rows = memberRows({
      team: t,
      projects: [],
      memberships: [
        withInvitation(membership('ava', 'acme', 'ava@acme.com', 'admin', { phase: 'Invited' }), 'ava-1'),
        withInvitation(membership('bo', 'acme', 'bo@acme.com', 'admin', { phase: 'Invited' }), 'bo-1'),
      ],
      invitations: [
        delivered(invitation('ava-1', 'acme', 'ava@acme.com', 'admin', { ownedBy: { kind: 'Membership', name: 'ava' } }), 'Unconfirmed'),
        delivered(invitation('bo-1', 'acme', 'bo@acme.com', 'admin', { ownedBy: { kind: 'Membership', name: 'bo' } }), 'Sent'),
        delivered(invitation('kim', 'acme', 'kim@acme.com', 'developer'), 'Unconfirmed'),
      ],
    });
    const ava = rows.find((r) => r.email === 'ava@acme.com')!;
    expect(ava).toMatchObject({ phase: 'Invited', delivery: 'Unconfirmed' });
    expect(phaseLabel(ava)).toBe('Invited (mail unconfirmed)');
    expect(ava.detail).toContain('kubectl roster resend ava');
    const bo = rows.find((r) => r.email === 'bo@acme.com')!;
    expect(phaseLabel(bo)).toBe('Invited');
    expect(bo.delivery).toBe('Sent');
    expect(phaseLabel(rows.find((r) => r.email === 'kim@acme.com')!)).toBe('Pending (mail unconfirmed)');
  });

  it('lists the owner once when they also have a Membership (superseded by ownership)', () => {
    const rows = memberRows({
      team: t,
      projects: [],
      invitations: [],
      memberships: [membership('liam', 'acme', 'Liam@acme.com', 'admin', { phase: 'Superseded' })],
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ email: 'liam@acme.com', role: 'owner', superseded: 'membership/liam' });
  });
});
