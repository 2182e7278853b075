import { describe, expect, it } from 'vitest';
import { memberRows, seatLabel, seatReport, type TeamSnapshot } from '../../../src/cli/team-view.ts';
import { condition, invitation, membership, project, team } from './fixtures.ts';

const now = new Date('2026-03-01T12:00:00Z');

function snapshot(overrides: Partial<TeamSnapshot> = {}): TeamSnapshot {
  return {
    team: team('acme', 'liam@acme.com', { ownerPhase: 'Active', seats: 5 }),
    projects: [project('shop', 'acme', ['production', 'staging'])],
    memberships: [
      membership('riley', 'acme', 'riley@acme.com', 'developer', { phase: 'Active', projects: [{ name: 'shop', environments: ['staging'] }] }),
      membership('ava', 'acme', 'ava@acme.com', 'admin', { phase: 'Invited', conditions: [condition('Ready', 'False', 'waiting for ava@acme.com to accept')] }),
      membership('bo', 'acme', 'bo@acme.com', 'observer'),
    ],
    invitations: [
      invitation('jordan-x1', 'acme', 'jordan@acme.com', 'observer', { phase: 'Pending', projects: [{ name: 'shop' }] }),
      invitation('kim-x2', 'acme', 'kim@acme.com', 'developer'), // created, not sent yet
      invitation('old-x3', 'acme', 'old@acme.com', 'developer', { phase: 'Revoked', revoked: true }),
      invitation('gone-x4', 'acme', 'gone@acme.com', 'developer', { phase: 'Accepted' }),
      invitation('exp-x5', 'acme', 'exp@acme.com', 'developer', { phase: 'Expired' }),
      invitation('ava-x6', 'acme', 'ava@acme.com', 'admin', { phase: 'Pending', ownedBy: { kind: 'Membership', name: 'ava' } }),
      invitation('acme-owner-x7', 'acme', 'liam@acme.com', 'owner', { phase: 'Accepted', ownedBy: { kind: 'Team', name: 'acme' } }),
    ],
    ...overrides,
  };
}

describe('members', () => {
  it('lists the owner, then memberships, then pending standalone invitations, each by email', () => {
    const rows = memberRows(snapshot());
    expect(rows.map((r) => [r.email, r.role, r.scope, r.phase, r.object])).toEqual([
      ['liam@acme.com', 'owner', 'the whole team', 'Active', 'team/acme'],
      ['ava@acme.com', 'admin', 'the whole team', 'Invited', 'membership/ava'],
      ['bo@acme.com', 'observer', 'the whole team', 'Unknown', 'membership/bo'],
      ['riley@acme.com', 'developer', 'shop (staging)', 'Active', 'membership/riley'],
      ['jordan@acme.com', 'observer', 'shop', 'Pending', 'invitation/jordan-x1'],
      ['kim@acme.com', 'developer', 'the whole team', 'Pending', 'invitation/kim-x2'],
    ]);
  });

  it("says why a row is not active, preferring the identity backend's message", () => {
    const rows = memberRows(
      snapshot({
        memberships: [
          membership('ava', 'acme', 'ava@acme.com', 'admin', {
            phase: 'Invited',
            acceptedAt: '2026-03-01T11:00:00Z',
            conditions: [
              condition('Ready', 'False', 'identity backend default failed; retrying'),
              condition('IdentitySynced', 'False', 'namespace shop-prod not found'),
            ],
          }),
          membership('riley', 'acme', 'riley@acme.com', 'developer', { phase: 'Active', conditions: [condition('Ready', 'True', 'fine')] }),
        ],
      }),
    );
    expect(rows.find((r) => r.email === 'ava@acme.com')?.detail).toBe('namespace shop-prod not found');
    expect(rows.find((r) => r.email === 'riley@acme.com')).not.toHaveProperty('detail');
  });

  it('shows the owner as Unknown while a transfer is not yet seen by the operator', () => {
    const t = team('acme', 'ava@acme.com', { status: { owner: { email: 'liam@acme.com', phase: 'Active' } } });
    expect(memberRows(snapshot({ team: t }))[0]).toMatchObject({ email: 'ava@acme.com', role: 'owner', phase: 'Unknown' });
  });
});

describe('seats', () => {
  it("takes the numbers from the Team's status and explains who holds which seat", () => {
    const t = team('acme', 'liam@acme.com', {
      seats: 5,
      status: { owner: { email: 'liam@acme.com', phase: 'Active' }, seats: { limit: 5, used: 2, pending: 3, available: 0, summary: '5/5' } },
    });
    const report = seatReport(snapshot({ team: t }), now);
    expect(report).toMatchObject({ team: 'acme', limit: 5, used: 2, pending: 3, available: 0, source: 'status' });
    expect(report.breakdown.map((r) => [r.email, r.seat, r.object])).toEqual([
      ['liam@acme.com', 'used', 'team/acme'],
      ['riley@acme.com', 'used', 'membership/riley'],
      ['ava@acme.com', 'pending', 'membership/ava'],
      ['bo@acme.com', 'pending', 'membership/bo'],
      ['jordan@acme.com', 'pending', 'invitation/jordan-x1'],
      ['kim@acme.com', 'overLimit', 'invitation/kim-x2'],
    ]);
  });

  it('counts from the objects when the operator has not reported yet, and marks the same person as shared', () => {
    const s = snapshot({
      team: team('acme', 'liam@acme.com', { seats: 3 }),
      invitations: [invitation('riley-again', 'acme', 'riley@acme.com', 'developer', { phase: 'Pending' })],
    });
    const report = seatReport(s, now);
    expect(report).toMatchObject({ source: 'computed', limit: 3, used: 1, pending: 2, available: 0 });
    expect(report.breakdown.map((r) => `${r.email}:${r.seat}`)).toEqual([
      'riley@acme.com:used',
      'liam@acme.com:pending',
      'ava@acme.com:pending',
      'riley@acme.com:shared',
      'bo@acme.com:overLimit',
    ]);
    expect(seatLabel('shared')).toBe('shared (same person)');
    expect(seatLabel('overLimit')).toBe('over limit (no access)');
  });
});
