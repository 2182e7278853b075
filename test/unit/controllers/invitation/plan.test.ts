// The Invitation planner with plain data: one step per situation, no API server, no SMTP.
import { describe, expect, it } from 'vitest';
import type { Invitation, Membership, Team } from '../../../../src/api/generated.ts';
import { planInvitationStep, type InvitationFacts, type InvitationStep } from '../../../../src/controllers/invitation/plan.ts';
import { mailTimes } from '../../../../src/domain/invitation-state.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const LINK = { linkId: 'abc123def456', hash: 'f'.repeat(64) };

function invitation(spec: Partial<Invitation['spec']> = {}, metadata: Partial<Invitation['metadata']> = {}, status?: Invitation['status']): Invitation {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: { name: 'riley', namespace: 'acme', uid: 'uid-inv', generation: 1, annotations: { 'roster.dev/created-by': 'ada@acme.com' }, ...metadata },
    spec: { team: 'acme', email: 'riley@acme.com', role: 'developer', ...spec },
    ...(status ? { status } : {}),
  };
}

const team: Team = {
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Team',
  metadata: { name: 'acme', namespace: 'acme', uid: 'uid-acme' },
  spec: { owner: { email: 'liam@acme.com', name: 'Liam' }, seats: 5 },
};

function facts(inv: Invitation, extra: Partial<InvitationFacts> = {}): InvitationFacts {
  return {
    invitation: inv,
    now: NOW,
    team,
    namespaceTerminating: false,
    overSeatLimit: false,
    teamMails: [],
    mailLimits: { resendCooldownSeconds: 60, dailyQuotaPerTeam: 200 },
    mailFrom: 'roster@acme.com',
    requester: 'ada@acme.com',
    teamMemberships: [],
    ...extra,
  };
}

function expectKind<K extends InvitationStep['kind']>(step: InvitationStep, kind: K): Extract<InvitationStep, { kind: K }> {
  expect(step.kind).toBe(kind);
  return step as Extract<InvitationStep, { kind: K }>;
}

const condition = (status: Invitation['status'], type: string) => status?.conditions?.find((c) => c.type === type);

/** A Pending invitation whose link went out an hour ago. */
const sentStatus: Invitation['status'] = {
  phase: 'Pending',
  sentAt: '2026-06-01T11:00:00Z',
  expiresAt: '2026-06-08T11:00:00Z',
  deliveries: 1,
  link: { id: 'old', hash: 'e'.repeat(64) },
  delivery: { linkId: 'old', messageId: '<m@acme.com>', state: 'Sent', attempts: 0 },
  recentMails: ['2026-06-01T11:00:00Z'],
};

describe('the Invitation planner', () => {
  it('does nothing while the namespace is terminating or the invitation is being deleted', () => {
    expectKind(planInvitationStep(facts(invitation(), { namespaceTerminating: true })), 'nothing');
    expectKind(planInvitationStep(facts(invitation({}, { deletionTimestamp: NOW.toISOString() }))), 'nothing');
  });

  it('says the team is missing, and mails nothing', () => {
    const step = expectKind(planInvitationStep(facts(invitation(), { team: undefined })), 'write');
    expect(condition(step.status, 'Ready')).toMatchObject({ status: 'False', reason: 'TeamNotFound' });
  });

  it('mails a new invitation: the intent is written Sending, before the send, with the link hash only', () => {
    const step = expectKind(planInvitationStep(facts(invitation())), 'mail');
    expect(step.to).toBe('riley@acme.com');
    expect(step.from).toBe('roster@acme.com');
    expect(step.content).toMatchObject({ inviterName: undefined, inviterEmail: 'ada@acme.com' }); // not a member: named by address
    const intent = step.intent(LINK, '<id@acme.com>');
    expect(intent.phase).toBe('Pending');
    expect(intent.link).toEqual({ id: LINK.linkId, hash: LINK.hash });
    expect(intent.delivery).toMatchObject({ state: 'Sending', linkId: LINK.linkId, messageId: '<id@acme.com>', attempts: 0 });
    expect(intent.deliveries).toBe(0);
    expect(intent.recentMails).toEqual(['2026-06-01T12:00:00Z']);
    expect(intent.inviter).toBe('ada@acme.com');
    expect(JSON.stringify(intent)).not.toContain('token');

    const sent = step.sent(LINK, intent);
    expect(sent.status.delivery?.state).toBe('Sent');
    expect(sent.status.deliveries).toBe(1);
    expect(sent.status.sentAt).toBe('2026-06-01T12:00:00Z');
    expect(sent.change).toMatchObject({ reason: 'Sent', actor: 'ada@acme.com', audit: { action: 'invite', subject: 'riley@acme.com' } });
    expect(sent.result).toEqual({ kind: 'requeueAfter', ms: 7 * 24 * 3_600_000 + 50 });
  });

  it('names an inviting member by their Membership name', () => {
    const ada: Membership = {
      apiVersion: 'roster.dev/v1alpha1',
      kind: 'Membership',
      metadata: { name: 'ada', namespace: 'acme' },
      spec: { team: 'acme', email: 'Ada@acme.com', role: 'admin', name: 'Ada L.' },
    };
    const step = expectKind(planInvitationStep(facts(invitation(), { teamMemberships: [ada] })), 'mail');
    expect(step.content).toMatchObject({ inviterName: 'Ada L.', inviterEmail: 'ada@acme.com' });
  });

  it('a failed send drops the link, frees the quota and retries only when the failure is retryable', () => {
    const step = expectKind(planInvitationStep(facts(invitation())), 'mail');
    const intent = step.intent(LINK, '<id@acme.com>');
    const failed = step.failed(intent, { message: 'connection refused', retryable: true });
    expect(failed.status.link).toBeUndefined();
    expect(failed.status.recentMails).toEqual([]);
    expect(failed.status.delivery).toMatchObject({ state: 'Failed', attempts: 1 });
    expect(failed.event.reason).toBe('SendFailed');
    expect(failed.result).toEqual({ kind: 'requeue' });
    const rejected = step.failed(intent, { message: '550 no such user', retryable: false });
    expect(rejected.event.reason).toBe('SendRejected');
    expect(rejected.result).toEqual({ kind: 'done' });
  });

  it('never mails again a delivery left Sending (at most once), and says so only if its write wins', () => {
    const inv = invitation({}, {}, { ...sentStatus, delivery: { ...sentStatus.delivery!, state: 'Sending' } });
    const step = expectKind(planInvitationStep(facts(inv)), 'write');
    expect(step.status.delivery?.state).toBe('Unconfirmed');
    expect(condition(step.status, 'Delivered')).toMatchObject({ status: 'Unknown', reason: 'DeliveryUnconfirmed' });
    expect(step.notes ?? []).toEqual([]);
    expect(step.onWin?.notes?.map((n) => n.reason)).toEqual(['DeliveryUnconfirmed']);
  });

  it('mails a Sending delivery again with a fresh link when the team chose AtLeastOnce, marked a possible duplicate', () => {
    const inv = invitation({}, {}, { ...sentStatus, delivery: { ...sentStatus.delivery!, state: 'Sending', attempts: 2 } });
    const atLeastOnce: Team = { ...team, spec: { ...team.spec, invitations: { delivery: 'AtLeastOnce' } } };
    const step = expectKind(planInvitationStep(facts(inv, { team: atLeastOnce })), 'mail');
    const intent = step.intent(LINK, '<id@acme.com>');
    expect(intent.delivery).toMatchObject({ state: 'Sending', possibleDuplicate: true, attempts: 2 });
    expect(intent.expiresAt).toBe(sentStatus.expiresAt); // the link keeps its expiry
    expect(step.sent(LINK, intent).change).toMatchObject({ type: 'Warning', reason: 'Redelivered', audit: { action: 'redeliver' } });
  });

  it('holds a mail past the daily quota: nothing is sent, and the hold is announced once', () => {
    const full = Array.from({ length: 3 }, (_, i) => [`2026-06-01T0${i}:00:00Z`]);
    const step = expectKind(
      planInvitationStep(facts(invitation(), { teamMails: mailTimes(full), mailLimits: { resendCooldownSeconds: 60, dailyQuotaPerTeam: 3 } })),
      'write',
    );
    expect(condition(step.status, 'Delivered')).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
    expect(step.onWin?.notes?.map((n) => n.reason)).toEqual(['QuotaExceeded']);
    expect(step.result).toEqual({ kind: 'requeueAfter', ms: 12 * 3_600_000 + 100 }); // the oldest mail leaves the window at 00:00 next day
    // Already held: the same hold is not announced again.
    const again = expectKind(
      planInvitationStep(
        facts(invitation({}, {}, step.status), { teamMails: mailTimes(full), mailLimits: { resendCooldownSeconds: 60, dailyQuotaPerTeam: 3 } }),
      ),
      'write',
    );
    expect(again.onWin?.notes).toEqual([]);
  });

  it('defers a resend inside the cooldown and keeps the annotation for later', () => {
    const inv = invitation({}, { annotations: { 'roster.dev/resend': 'r1' } }, { ...sentStatus, sentAt: '2026-06-01T11:59:30Z' });
    const step = expectKind(planInvitationStep(facts(inv)), 'write');
    expect(condition(step.status, 'Delivered')).toMatchObject({ reason: 'ResendCooldown' });
    expect(step.status.resendToken).toBeUndefined();
    expect(step.result).toEqual({ kind: 'requeueAfter', ms: 30_000 + 100 });
  });

  it('resends with a fresh link once the cooldown is over, by whoever asked for the resend', () => {
    const inv = invitation({}, { annotations: { 'roster.dev/resend': 'r1', 'roster.dev/resent-by': 'sam@acme.com' } }, sentStatus);
    const step = expectKind(planInvitationStep(facts(inv)), 'mail');
    const intent = step.intent(LINK, '<id@acme.com>');
    expect(intent.resendToken).toBe('r1');
    expect(intent.deliveries).toBe(1);
    expect(step.sent(LINK, intent).change).toMatchObject({ reason: 'Resent', actor: 'sam@acme.com', audit: { action: 'resend' } });
  });

  it('revokes: the link dies, and the revocation is recorded only by the write that wins', () => {
    const inv = invitation({ revoked: true }, { annotations: { 'roster.dev/changed-by': 'liam@acme.com' } }, sentStatus);
    const step = expectKind(planInvitationStep(facts(inv)), 'write');
    expect(step.status.phase).toBe('Revoked');
    expect(step.status.link).toBeUndefined();
    expect(condition(step.status, 'Ready')).toMatchObject({ status: 'True', reason: 'Revoked' }); // settled, as declared (kstatus)
    expect(step.onWin?.changes?.map((c) => [c.reason, c.actor])).toEqual([['Revoked', 'liam@acme.com']]);
  });

  it('expires a link past its expiry and tells how to resend', () => {
    const step = expectKind(planInvitationStep(facts(invitation({}, {}, { ...sentStatus, expiresAt: '2026-06-01T11:30:00Z' }))), 'write');
    expect(step.status.phase).toBe('Expired');
    expect(condition(step.status, 'Ready')?.message).toContain('roster.dev/resend');
    expect(step.onWin?.notes?.map((n) => n.reason)).toEqual(['Expired']);
  });

  it('a standalone invitation without a seat waits for one, unmailed', () => {
    const step = expectKind(planInvitationStep(facts(invitation(), { overSeatLimit: true })), 'write');
    expect(condition(step.status, 'Delivered')).toMatchObject({ status: 'False', reason: 'OverSeatLimit' });
  });

  it('refuses a resend of an accepted invitation with a Warning', () => {
    const accepted = invitation(
      {},
      { annotations: { 'roster.dev/resend': 'r2' }, ownerReferences: [{ apiVersion: 'roster.dev/v1alpha1', kind: 'Membership', name: 'riley', uid: 'u' }] },
      { ...sentStatus, phase: 'Accepted', acceptedAt: '2026-06-01T11:10:00Z' },
    );
    // An Invitation a Membership controls becomes nothing more once accepted.
    expectKind(planInvitationStep(facts(accepted)), 'nothing');
  });

  it('turns an accepted standalone invitation into a Membership, or records the one that exists', () => {
    const accepted = invitation(
      { projects: [{ name: 'shop', environments: ['staging'] }] },
      {},
      { ...sentStatus, phase: 'Accepted', acceptedAt: '2026-06-01T11:10:00Z' },
    );
    const join = expectKind(planInvitationStep(facts(accepted)), 'join');
    expect(join.membership?.spec).toEqual({
      team: 'acme',
      email: 'riley@acme.com',
      role: 'developer',
      projects: [{ name: 'shop', environments: ['staging'] }],
    });
    expect(join.membership?.metadata.annotations).toEqual({ 'roster.dev/invitation': 'riley' });
    const existing: Membership = {
      apiVersion: 'roster.dev/v1alpha1',
      kind: 'Membership',
      metadata: { name: 'riley-x', namespace: 'acme' },
      spec: { team: 'acme', email: 'RILEY@acme.com', role: 'developer' },
    };
    expect(planInvitationStep(facts(accepted, { teamMemberships: [existing] }))).toEqual({ kind: 'join', existing: 'riley-x' });
    const recorded = invitation({}, {}, { ...accepted.status, membership: 'riley-x' });
    expectKind(planInvitationStep(facts(recorded, { teamMemberships: [existing] })), 'nothing');
  });

  it('fails terminally on a TTL the CRD should have refused', () => {
    const bad: Team = { ...team, spec: { ...team.spec, invitations: { ttl: '5s' } } };
    expect(expectKind(planInvitationStep(facts(invitation(), { team: bad })), 'fail').message).toContain('1m and 8760h');
  });
});
