import { describe, expect, it } from 'vitest';
import type { Invitation, Membership, Project, Team } from '../../../src/api/generated.ts';
import { AdmissionHandler, type SeatReserver } from '../../../src/admission/handler.ts';
import { allowedSenderDomains, parseSender, resendCooldownProblem, senderProblem, type MailPolicy } from '../../../src/admission/mail-rules.ts';
import { validateInvitation, validateTeam, type Verdict } from '../../../src/admission/validators.ts';
import { silentLogger } from '../../../src/runtime/logger.ts';
import { create, ctx, FakeCache, invitation, membership, NOW, NS, team, update, view } from './fixtures.ts';

const policy: MailPolicy = { allowedSenderDomains: [], defaultFrom: 'Roster <roster@acme.com>', resendCooldownSeconds: 60 };
const mailCtx = { ...ctx, mail: policy };

function deniedWith(verdict: Verdict, message: string | RegExp): void {
  expect(verdict.allowed, 'expected a denial').toBe(false);
  if (!verdict.allowed) expect(verdict.message).toMatch(message);
}

function allowedVerdict(verdict: Verdict): void {
  if (!verdict.allowed) throw new Error(`expected allowed, got: ${verdict.message}`);
}

describe('parseSender', () => {
  it('reads one mailbox, with or without a display name, as nodemailer sends it', () => {
    expect(parseSender('Acme <team@acme.com>')).toEqual({ address: 'team@acme.com', domain: 'acme.com' });
    expect(parseSender('team@ACME.com')).toEqual({ address: 'team@ACME.com', domain: 'acme.com' });
    expect(parseSender('"Acme, Inc." <team@acme.com>')).toEqual({ address: 'team@acme.com', domain: 'acme.com' });
  });

  it('sees the address that goes out, not one dressed up in the display name or a comment', () => {
    expect(parseSender('"team@acme.com" <mallory@evil.example>')).toMatchObject({ domain: 'evil.example' });
    expect(parseSender('team@acme.com <mallory@evil.example>')).toMatchObject({ domain: 'evil.example' });
    expect(parseSender('mallory@evil.example (team@acme.com)')).toMatchObject({ domain: 'evil.example' });
  });

  it('refuses lists, groups, header injection and non-addresses', () => {
    expect(parseSender('a@acme.com, b@evil.example')).toMatch(/exactly one sender/);
    expect(parseSender('G: a@acme.com;')).toMatch(/exactly one sender/);
    expect(parseSender('Acme <team@acme.com>\r\nBcc: victim@evil.example')).toMatch(/line break/);
    expect(parseSender('Acme')).toMatch(/not an email address/);
    expect(parseSender('a@b@acme.com')).toMatch(/not an email address/);
  });
});

describe('allowedSenderDomains', () => {
  it('is the configured list (lower-case), or else the domain of mail.from', () => {
    expect(allowedSenderDomains({ allowedSenderDomains: ['Acme.com', 'acme.io', 'acme.com'], defaultFrom: 'x@other.example' })).toEqual([
      'acme.com',
      'acme.io',
    ]);
    expect(allowedSenderDomains({ allowedSenderDomains: [], defaultFrom: 'Roster <roster@Acme.com>' })).toEqual(['acme.com']);
  });
});

describe('senderProblem', () => {
  it('admits an allowed domain, in any case', () => {
    expect(senderProblem('Acme <team@acme.com>', policy)).toBeUndefined();
    expect(senderProblem('TEAM@ACME.COM', policy)).toBeUndefined();
  });

  it('denies another domain, naming the allowed ones and what to do', () => {
    const problem = senderProblem('Acme <team@evil.example>', policy);
    expect(problem).toContain('sends from domain evil.example, which this operator may not send from (allowed: acme.com)');
    expect(problem).toContain('use an address in one of those domains, or remove spec.invitations.from');
    expect(problem).toContain('mail.allowedSenderDomains');
  });

  it('matches domains exactly: no subdomains, no suffixes', () => {
    expect(senderProblem('a@mail.acme.com', policy)).toMatch(/domain mail.acme.com/);
    expect(senderProblem('a@notacme.com', policy)).toMatch(/domain notacme.com/);
    expect(senderProblem('a@acme.com.evil.example', policy)).toMatch(/domain acme.com.evil.example/);
    expect(senderProblem('a@mail.acme.com', { ...policy, allowedSenderDomains: ['mail.acme.com'] })).toBeUndefined();
    expect(senderProblem('a@acme.com', { ...policy, allowedSenderDomains: ['mail.acme.com'] })).toMatch(/allowed: mail.acme.com/);
  });

  it('says why a malformed sender is refused', () => {
    expect(senderProblem('a@acme.com, b@evil.example', policy)).toMatch(/is not a sender address: it must name exactly one sender address/);
  });
});

describe('resendCooldownProblem', () => {
  const sentAt = (secondsAgo: number) => new Date(NOW.getTime() - secondsAgo * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const inv = (resend: string | undefined, status: Invitation['status'] | null = { phase: 'Pending', sentAt: sentAt(12) }) =>
    invitation('riley', {}, resend === undefined ? {} : { annotations: { 'roster.dev/resend': resend } }, status ?? undefined);

  it('denies a new resend value within the cooldown, with the time since the mail and the time left', () => {
    expect(resendCooldownProblem(inv('2'), inv('1'), NOW, 60)).toBe(
      'invitation riley was mailed 12 s ago; resend again in 48 s (one mail per invitation every 60 s, mail.resendCooldownSeconds)',
    );
    expect(resendCooldownProblem(inv('1'), inv(undefined), NOW, 60)).toMatch(/resend again in 48 s/);
  });

  it('admits a resend after the cooldown, or when it is off', () => {
    const old = inv('1', { phase: 'Pending', sentAt: sentAt(60) });
    expect(resendCooldownProblem({ ...old, metadata: { ...old.metadata, annotations: { 'roster.dev/resend': '2' } } }, old, NOW, 60)).toBeUndefined();
    expect(resendCooldownProblem(inv('2'), inv('1'), NOW, 0)).toBeUndefined();
  });

  it('only judges a changed, non-empty resend value', () => {
    expect(resendCooldownProblem(inv('1'), inv('1'), NOW, 60)).toBeUndefined();
    expect(resendCooldownProblem(inv(undefined), inv('1'), NOW, 60)).toBeUndefined();
    expect(resendCooldownProblem(inv(''), inv('1'), NOW, 60)).toBeUndefined();
  });

  it('leaves invitations never mailed, accepted or revoked alone (nothing would be mailed, or the controller refuses)', () => {
    expect(resendCooldownProblem(inv('2', null), inv('1', null), NOW, 60)).toBeUndefined();
    expect(
      resendCooldownProblem(inv('2', { phase: 'Accepted', sentAt: sentAt(1) }), inv('1', { phase: 'Accepted', sentAt: sentAt(1) }), NOW, 60),
    ).toBeUndefined();
    expect(
      resendCooldownProblem(inv('2', { phase: 'Revoked', sentAt: sentAt(1) }), inv('1', { phase: 'Revoked', sentAt: sentAt(1) }), NOW, 60),
    ).toBeUndefined();
  });

  it('counts an expired invitation (a resend revives it and mails) and a sentAt ahead of the clock as just mailed', () => {
    expect(resendCooldownProblem(inv('2', { phase: 'Expired', sentAt: sentAt(5) }), inv('1', { phase: 'Expired', sentAt: sentAt(5) }), NOW, 60)).toMatch(
      /mailed 5 s ago; resend again in 55 s/,
    );
    expect(resendCooldownProblem(inv('2', { phase: 'Pending', sentAt: sentAt(-30) }), inv('1', { phase: 'Pending', sentAt: sentAt(-30) }), NOW, 60)).toMatch(
      /mailed 0 s ago; resend again in 60 s/,
    );
  });
});

describe('validateTeam: the sender allow-list', () => {
  const withFrom = (from: string | undefined) => team(from === undefined ? {} : { invitations: { from } });

  it('denies a foreign sender on create', () => {
    deniedWith(validateTeam(create(withFrom('Acme <team@evil.example>')), view({ team: undefined }), mailCtx), /domain evil.example.*allowed: acme.com/);
    allowedVerdict(validateTeam(create(withFrom('Acme <team@acme.com>')), view({ team: undefined }), mailCtx));
    allowedVerdict(validateTeam(create(withFrom(undefined)), view({ team: undefined }), mailCtx));
  });

  it('denies an update that changes from to a foreign sender, and leaves an unchanged one alone', () => {
    deniedWith(validateTeam(update(withFrom('team@acme.com'), withFrom('team@evil.example')), view(), mailCtx), /domain evil.example/);
    allowedVerdict(validateTeam(update(withFrom(undefined), withFrom('team@acme.com')), view(), mailCtx));
    // Admitted before the allow-list changed: other edits to the Team still go through.
    const legacy = withFrom('team@legacy.example');
    allowedVerdict(validateTeam(update(legacy, { ...legacy, spec: { ...legacy.spec, displayName: 'Acme' } }), view(), mailCtx));
  });

  it("is off without the operator's mail settings (unit callers)", () => {
    allowedVerdict(validateTeam(create(withFrom('team@evil.example')), view({ team: undefined }), ctx));
  });
});

describe('validateInvitation: revoking an invitation the operator keeps', () => {
  const m = membership('riley');
  const forMembership = invitation(
    'riley-abcde',
    { email: 'riley@acme.com' },
    { ownerReferences: [{ apiVersion: 'roster.dev/v1alpha1', kind: 'Membership', name: 'riley', uid: m.metadata.uid ?? '', controller: true }] },
  );
  const forOwner = invitation(
    'acme-owner-x',
    { email: 'liam@acme.com', role: 'owner' },
    { ownerReferences: [{ apiVersion: 'roster.dev/v1alpha1', kind: 'Team', name: 'acme', uid: 'team-uid', controller: true }] },
  );
  const revoked = (i: Invitation): Invitation => ({ ...i, spec: { ...i.spec, revoked: true } });

  it("denies a person revoking a Membership's invitation, saying to delete the Membership or set its expiresAt", () => {
    deniedWith(
      validateInvitation(update(forMembership, revoked(forMembership), 'alice@acme.com'), view({ memberships: [m] }), ctx),
      'invitation riley-abcde belongs to Membership riley: revoking it would only make the operator mail riley@acme.com a new link; to withdraw the invitation delete the Membership (kubectl delete membership riley -n acme), or set its spec.expiresAt',
    );
  });

  it('denies a person revoking the owner invitation, saying to edit Team spec.owner', () => {
    deniedWith(validateInvitation(update(forOwner, revoked(forOwner), 'alice@acme.com'), view(), ctx), /follows Team spec.owner.*edit Team spec.owner/);
  });

  it('lets the operator revoke them, and people revoke standalone invitations', () => {
    allowedVerdict(validateInvitation(update(forMembership, revoked(forMembership), ctx.operatorUsername), view({ memberships: [m] }), ctx));
    allowedVerdict(validateInvitation(update(forOwner, revoked(forOwner), ctx.operatorUsername), view(), ctx));
    const standalone = invitation('kai');
    allowedVerdict(validateInvitation(update(standalone, revoked(standalone), 'alice@acme.com'), view(), ctx));
  });

  it("fails closed when the operator's user name is unknown", () => {
    deniedWith(
      validateInvitation(update(forMembership, revoked(forMembership), ctx.operatorUsername), view({ memberships: [m] }), { now: NOW }),
      /belongs to Membership riley/,
    );
  });
});

describe('the handler: the resend cooldown runs before "spec unchanged" admits', () => {
  const reserver: SeatReserver = { reserve: async () => ({ kind: 'reserve', inUse: 1, limit: 10 }), live: async () => [] };
  const handler = new AdmissionHandler({
    caches: {
      teams: new FakeCache<Team>([team()]),
      memberships: new FakeCache<Membership>([]),
      invitations: new FakeCache<Invitation>([]),
      projects: new FakeCache<Project>([]),
    },
    ledger: reserver,
    logger: silentLogger,
    now: () => NOW,
    mail: policy,
  });
  const mailed = invitation(
    'kai',
    {},
    { annotations: { 'roster.dev/resend': '1' } },
    { phase: 'Pending', sentAt: new Date(NOW.getTime() - 12_000).toISOString() },
  );
  const resent = (i: Invitation, value: string): Invitation => ({ ...i, metadata: { ...i.metadata, annotations: { 'roster.dev/resend': value } } });
  const review = (oldObject: Invitation, object: Invitation) =>
    handler.validate(
      {
        uid: 'u1',
        kind: { group: 'roster.dev', version: 'v1alpha1', kind: 'Invitation' },
        namespace: NS,
        name: 'kai',
        operation: 'UPDATE',
        userInfo: { username: 'alice@acme.com', groups: [] },
        object,
        oldObject,
        dryRun: false,
      },
      Date.now() + 5000,
    );

  it('denies a resend 12 s after the last mail with the time left', async () => {
    const answer = await review(mailed, resent(mailed, '2'));
    expect(answer.response).toMatchObject({
      allowed: false,
      status: { message: expect.stringContaining('invitation kai was mailed 12 s ago; resend again in 48 s') },
    });
  });

  it('still admits other metadata changes, and an invitation on its way out', async () => {
    expect((await review(mailed, { ...mailed, metadata: { ...mailed.metadata, labels: { tier: 'gold' } } })).response.allowed).toBe(true);
    const leaving = { ...mailed, metadata: { ...mailed.metadata, deletionTimestamp: NOW.toISOString(), finalizers: [] } };
    expect((await review({ ...leaving, metadata: { ...leaving.metadata, finalizers: ['x'] } }, resent(leaving, '2'))).response.allowed).toBe(true);
  });
});
