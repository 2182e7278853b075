// The Invitation controller's decisions, as a pure function: the facts gathered from the
// caches once (gather.ts) in, one step out; the executor (../invitation.ts) carries it out.
//
// A mail is the one step with three acts, and their order is the at-most-once guarantee: the
// executor mints the link and asks the step for the intent (the link's hash and the delivery
// in state Sending), writes it with optimistic locking, only then sends, and afterwards writes
// what the step says of the outcome. The planner never sees the token: only its id and hash.
import { asInviter, changedBy, resentBy } from '../../audit/actor.ts';
import type { TeamChange } from '../../audit/record.ts';
import type { Invitation, InvitationStatus, Membership, Team } from '../../api/generated.ts';
import type { InvitationMailData } from '../../backends/mail/templates.ts';
import { ConditionType, getCondition, setConditions, type ConditionInput } from '../../domain/conditions.ts';
import { sameEmail } from '../../domain/email.ts';
import { invitationTtlMs, mailHold, mailsInWindow, planInvitation, RESEND_ANNOTATION, withMailAt, type MailHold } from '../../domain/invitation-state.ts';
import { formatTime } from '../../domain/time.ts';
import { isStandaloneInvitation } from '../../domain/seats.ts';
import { labels } from '../context.ts';
import { ACCEPTED_INVITATION_ANNOTATION } from '../membership/gather.ts';

export type Status = InvitationStatus;

/** Everything a decision about one Invitation reads, gathered once. */
export interface InvitationFacts {
  readonly invitation: Invitation;
  readonly now: Date;
  readonly team: Team | undefined;
  readonly namespaceTerminating: boolean;
  /** A standalone invitation the seat count leaves without a seat. */
  readonly overSeatLimit: boolean;
  /** The team's mails, this invitation's included (mailTimes: ms, sorted): the daily quota counts them all. */
  readonly teamMails: readonly number[];
  readonly mailLimits: { readonly resendCooldownSeconds: number; readonly dailyQuotaPerTeam: number };
  /** The operator's sender (mail.from). */
  readonly mailFrom: string;
  /** The user the admission webhook recorded as asking for the invitation (or its Membership, or the Team). */
  readonly requester: string | undefined;
  /** The team's Memberships: the mail names an inviting member by their name. */
  readonly teamMemberships: readonly Membership[];
}

/** An Event without an audit line. */
export interface Note {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly action: string;
  readonly note: string;
}

export type Result = { readonly kind: 'done' } | { readonly kind: 'requeue' } | { readonly kind: 'requeueAfter'; readonly ms: number };

/** The new link, as the planner may see it. */
export interface Link {
  readonly linkId: string;
  readonly hash: string;
}

export interface Mail {
  /** Recorded before the mail goes, whatever happens to it. */
  readonly notes?: readonly Note[];
  readonly from: string;
  readonly to: string;
  /** The mail's content but the accept URL, which holds the token only the executor knows. */
  readonly content: Omit<InvitationMailData, 'acceptUrl'>;
  readonly intent: (link: Link, messageId: string) => Status;
  readonly sent: (link: Link, intent: Status) => { readonly status: Status; readonly change: TeamChange; readonly result: Result };
  readonly failed: (
    intent: Status,
    error: { readonly message: string; readonly retryable: boolean },
  ) => { readonly status: Status; readonly event: Note; readonly result: Result };
}

export type InvitationStep =
  | { readonly kind: 'nothing'; readonly result: Result }
  /** A spec the operator cannot act on (a TTL the CRD should have refused). */
  | { readonly kind: 'fail'; readonly message: string }
  | {
      readonly kind: 'write';
      readonly status: Status;
      /** Recorded whatever the write does. */
      readonly notes?: readonly Note[];
      /** Recorded only by the reconcile whose (optimistic) write won: a stale one stays silent. */
      readonly onWin?: { readonly notes?: readonly Note[]; readonly changes?: readonly TeamChange[] };
      readonly result: Result;
    }
  | ({ readonly kind: 'mail' } & Mail)
  /** An accepted standalone invitation becomes a Membership (once). */
  | {
      readonly kind: 'join';
      /** The person's Membership already exists: record its name. */
      readonly existing?: string;
      readonly membership?: Membership;
      readonly created?: (membership: Membership) => TeamChange;
    };

const done: Result = { kind: 'done' };
const nothing: InvitationStep = { kind: 'nothing', result: done };
const after = (at: Date | number, now: Date, slackMs: number): Result => ({
  kind: 'requeueAfter',
  ms: Math.max(0, (typeof at === 'number' ? at : at.getTime()) - now.getTime()) + slackMs,
});

function withCondition(status: Status, generation: number | undefined, now: Date, ...inputs: ConditionInput[]): Status {
  return { ...status, conditions: setConditions('Invitation', status.conditions, inputs, generation, now) };
}

export function inviterOf(team: Team): string {
  return team.spec.owner.name ? `${team.spec.owner.name} (${team.spec.owner.email})` : team.spec.owner.email;
}

export function planInvitationStep(facts: InvitationFacts): InvitationStep {
  const { invitation, team } = facts;
  if (invitation.metadata.deletionTimestamp) return nothing;
  // The namespace is going: no link is mailed for a team that is going with it, and no
  // Membership created on accept (the API server would refuse it with 403).
  if (facts.namespaceTerminating) return nothing;
  const current: Status = invitation.status ?? {};
  const generation = invitation.metadata.generation;
  if (!team) {
    const status = withCondition({ ...current, observedGeneration: generation }, generation, facts.now, {
      type: ConditionType.Ready,
      status: 'False',
      reason: 'TeamNotFound',
      message: `team ${invitation.spec.team} does not exist in namespace ${invitation.metadata.namespace}`,
    });
    return { kind: 'write', status, result: done };
  }
  if (current.phase === 'Accepted') return isStandaloneInvitation(invitation) ? join(facts) : nothing;
  // A standalone invitation past the seat limit is not mailed.
  if (facts.overSeatLimit && isStandaloneInvitation(invitation) && !invitation.spec.revoked && current.phase !== 'Revoked') return waitForSeat(facts, team);
  if (current.delivery?.state === 'Sending') return interrupted(facts, team);
  return lifecycle(facts, team);
}

function waitForSeat(facts: InvitationFacts, team: Team): InvitationStep {
  const current: Status = facts.invitation.status ?? {};
  const generation = facts.invitation.metadata.generation;
  const status = withCondition(
    { ...current, observedGeneration: generation },
    generation,
    facts.now,
    {
      type: ConditionType.Delivered,
      status: 'False',
      reason: 'OverSeatLimit',
      message: `team ${team.metadata.name} has no seat left; raise spec.seats or remove a member, and the invitation goes out`,
    },
    { type: ConditionType.Ready, status: 'False', reason: 'OverSeatLimit', message: 'waiting for a free seat' },
  );
  return { kind: 'write', status, result: done };
}

/**
 * A delivery left half-done by a process that stopped mid-send (or a cache that has not seen
 * the confirmation yet: the optimistic writes tell the two apart).
 */
function interrupted(facts: InvitationFacts, team: Team): InvitationStep {
  const { invitation, now } = facts;
  const current: Status = invitation.status ?? {};
  const delivery = current.delivery!;
  const linkLive = current.phase === 'Pending' && !invitation.spec.revoked && Date.parse(current.expiresAt ?? '') > now.getTime();
  if (team.spec.invitations?.delivery === 'AtLeastOnce' && linkLive) {
    // The team prefers a possible duplicate to a possible loss: mail it again, with a fresh link.
    return holdOr(facts, team, false) ?? mail(facts, team, {}, { retry: true, resend: false, redeliver: true });
  }
  // At most once: never sent again.
  const { name, namespace } = invitation.metadata;
  const status = withCondition({ ...current, delivery: { ...delivery, state: 'Unconfirmed' } }, invitation.metadata.generation, now, {
    type: ConditionType.Delivered,
    status: 'Unknown',
    reason: 'DeliveryUnconfirmed',
    message: `the operator stopped while mailing link ${delivery.linkId}; it is not sent twice. If ${invitation.spec.email} did not get it, resend: kubectl roster resend ${name} -n ${namespace} (or kubectl annotate invitation ${name} -n ${namespace} ${RESEND_ANNOTATION}=$(date +%s) --overwrite)`,
  });
  const note = `mail for link ${delivery.linkId} may not have been delivered; not sending it again. Resend if ${invitation.spec.email} did not get it: kubectl roster resend ${name} -n ${namespace}`;
  // Only the reconcile whose write won may say so: one from a stale cache (the send was in
  // fact confirmed) loses with 409 and stays silent.
  return { kind: 'write', status, onWin: { notes: [{ type: 'Warning', reason: 'DeliveryUnconfirmed', action: 'Send', note }] }, result: done };
}

/** The link's lifecycle (SPEC §1): send, resend, expire, revoke. */
function lifecycle(facts: InvitationFacts, team: Team): InvitationStep {
  const { invitation, now } = facts;
  const current: Status = invitation.status ?? {};
  let ttlMs: number;
  try {
    ttlMs = invitationTtlMs(team.spec.invitations?.ttl);
  } catch (e) {
    return { kind: 'fail', message: String(e) };
  }
  const plan = planInvitation({
    revoked: invitation.spec.revoked,
    status: current,
    resendAnnotation: invitation.metadata.annotations?.[RESEND_ANNOTATION],
    now,
    ttlMs,
  });
  const notes: Note[] = plan.rejection ? [{ type: 'Warning', reason: 'ResendRefused', action: 'Resend', note: plan.rejection.message }] : [];
  // A failed send leaves no live link behind (its token is gone); try again with a new one.
  const retryFailed = plan.effect === 'none' && plan.state.phase === 'Pending' && current.delivery?.state === 'Failed';
  if (plan.effect === 'mintAndSend' || retryFailed) {
    const resend = plan.applied.includes('resend');
    const step = holdOr(facts, team, resend) ?? mail(facts, team, plan.status, { retry: retryFailed, resend, redeliver: false });
    return notes.length && (step.kind === 'write' || step.kind === 'mail') ? { ...step, notes } : step;
  }
  const generation = invitation.metadata.generation;
  let status: Status = { ...current, ...plan.status, observedGeneration: generation };
  if (plan.effect === 'invalidateLink' || plan.state.phase !== 'Pending') delete status.link;
  const ended = endedCondition(invitation, plan.state.phase);
  if (ended) status = withCondition(status, generation, now, ended);
  const changes: TeamChange[] = plan.applied.includes('revoke') ? [revoked(invitation, team)] : [];
  const wonNotes: Note[] = plan.applied.includes('expire')
    ? [{ type: 'Normal', reason: 'Expired', action: 'Expire', note: `invitation for ${invitation.spec.email} expired` }]
    : [];
  return { kind: 'write', status, notes, onWin: { notes: wonNotes, changes }, result: plan.requeueAt ? after(plan.requeueAt, now, 50) : done };
}

function endedCondition(invitation: Invitation, phase: string): ConditionInput | undefined {
  const { name, namespace } = invitation.metadata;
  if (phase === 'Revoked')
    return { type: ConditionType.Ready, status: 'False', reason: 'Revoked', message: 'the invitation was revoked; its link no longer works' };
  if (phase === 'Expired') {
    return {
      type: ConditionType.Ready,
      status: 'False',
      reason: 'Expired',
      message: `the link expired; resend to mail a new one: kubectl annotate invitation ${name} -n ${namespace} ${RESEND_ANNOTATION}=$(date +%s) --overwrite`,
    };
  }
  return undefined;
}

function revoked(invitation: Invitation, team: Team): TeamChange {
  return {
    regarding: invitation,
    type: 'Normal',
    reason: 'Revoked',
    action: 'Revoke',
    note: `invitation for ${invitation.spec.email} revoked`,
    actor: changedBy(invitation),
    audit: {
      action: 'revoke',
      entity: 'invitation',
      team: team.metadata.name ?? '',
      namespace: invitation.metadata.namespace ?? '',
      subject: invitation.spec.email,
      roleBefore: invitation.spec.role,
    },
  };
}

/**
 * When the next mail must wait (daily quota, resend cooldown): nothing is sent, the condition
 * says why and until when, the resend annotation is not consumed (so the resend still
 * happens), and the reconcile comes back when the mail may go.
 */
function holdOr(facts: InvitationFacts, team: Team, resend: boolean): InvitationStep | undefined {
  const { invitation, now, mailLimits } = facts;
  const current: Status = invitation.status ?? {};
  const held = mailHold({
    now,
    teamMails: facts.teamMails,
    dailyQuota: mailLimits.dailyQuotaPerTeam,
    resend,
    lastSentAt: current.sentAt,
    cooldownMs: mailLimits.resendCooldownSeconds * 1000,
  });
  if (!held) return undefined;
  const condition = holdCondition(held, team, mailLimits.resendCooldownSeconds);
  const generation = invitation.metadata.generation;
  const status = withCondition({ ...current, observedGeneration: generation }, generation, now, condition);
  // An Event only when this hold begins, and only from the reconcile whose write won.
  const begins = getCondition(current.conditions, ConditionType.Delivered)?.reason !== condition.reason;
  const note: Note = { type: 'Warning', reason: held.kind === 'quota' ? 'QuotaExceeded' : 'ResendDeferred', action: 'Send', note: condition.message };
  return { kind: 'write', status, onWin: { notes: begins ? [note] : [] }, result: after(held.until, now, 100) };
}

function holdCondition(held: MailHold, team: Team, cooldownSeconds: number): ConditionInput & { message: string } {
  const until = formatTime(held.until);
  return held.kind === 'quota'
    ? {
        type: ConditionType.Delivered,
        status: 'False',
        reason: 'QuotaExceeded',
        message: `team ${team.metadata.name} sent ${held.sent} invitation mails in the last 24 h, its daily quota (mail.dailyQuotaPerTeam=${held.quota}); nothing was sent. The mail goes out at ${until}; an operator administrator may raise the quota.`,
      }
    : {
        type: ConditionType.Delivered,
        status: 'Unknown',
        reason: 'ResendCooldown',
        message: `a resend waits until ${until}: one mail per invitation every ${cooldownSeconds} s (mail.resendCooldownSeconds); the current link still works`,
      };
}

/** Who the mail names as inviter: the person the status records (as the accept page does), else the owner. */
export function mailInviter(team: Team, inviter: string | undefined, members: readonly Membership[]): { name?: string; email?: string } {
  const owner = { ...(team.spec.owner.name ? { name: team.spec.owner.name } : {}), email: team.spec.owner.email };
  if (inviter === undefined || inviter === inviterOf(team) || sameEmail(inviter, team.spec.owner.email)) return owner;
  if (!inviter.includes('@')) return { name: inviter };
  const member = members.find((m) => sameEmail(m.spec.email, inviter));
  return { ...(member?.spec.name ? { name: member.spec.name } : {}), email: inviter };
}

interface How {
  readonly retry: boolean;
  readonly resend: boolean;
  readonly redeliver: boolean;
}

function mail(facts: InvitationFacts, team: Team, planned: Status, how: How): InvitationStep {
  const { invitation, now } = facts;
  const previous: Status = invitation.status ?? {};
  const expiresAt = how.retry ? (previous.expiresAt ?? planned.expiresAt) : planned.expiresAt;
  const inviter = previous.inviter ?? asInviter(facts.requester) ?? inviterOf(team);
  const named = mailInviter(team, inviter, facts.teamMemberships);
  return {
    kind: 'mail',
    from: team.spec.invitations?.from ?? facts.mailFrom,
    to: invitation.spec.email,
    content: {
      teamName: team.metadata.name ?? '',
      teamDisplayName: team.spec.displayName,
      inviterName: named.name,
      inviterEmail: named.email,
      inviteeName: invitation.spec.name,
      inviteeEmail: invitation.spec.email,
      role: invitation.spec.role,
      scope: invitation.spec.projects?.map((p) => ({ project: p.name, environments: p.environments })),
      expiresAt: new Date(expiresAt ?? now),
      message: invitation.spec.message,
    },
    intent: (link, messageId) => intentStatus(facts, planned, how, { expiresAt, inviter, link, messageId }),
    sent: (link, intent) => sentOutcome(facts, team, how, link, intent, expiresAt),
    failed: (intent, error) => failedOutcome(facts, intent, error),
  };
}

/** 1. The intent (link hash + Message-ID), recorded before anything leaves the building. */
function intentStatus(
  facts: InvitationFacts,
  planned: Status,
  how: How,
  at: { expiresAt: string | undefined; inviter: string; link: Link; messageId: string },
): Status {
  const { invitation, now } = facts;
  const previous: Status = invitation.status ?? {};
  const generation = invitation.metadata.generation;
  return withCondition(
    {
      ...previous,
      ...planned,
      phase: 'Pending',
      expiresAt: at.expiresAt,
      deliveries: previous.deliveries ?? 0,
      observedGeneration: generation,
      inviter: at.inviter,
      link: { id: at.link.linkId, hash: at.link.hash },
      delivery: {
        linkId: at.link.linkId,
        messageId: at.messageId,
        state: 'Sending',
        attempts: how.retry ? (previous.delivery?.attempts ?? 0) : 0,
        ...(how.redeliver ? { possibleDuplicate: true } : {}),
      },
      // The mail counts against the team's quota from here: a crash mid-send may have sent it.
      recentMails: withMailAt(previous.recentMails, now),
    },
    generation,
    now,
    { type: ConditionType.Delivered, status: 'Unknown', reason: 'Sending', message: `mailing link ${at.link.linkId} to ${invitation.spec.email}` },
  );
}

/** 3a. The mail left. */
function sentOutcome(facts: InvitationFacts, team: Team, how: How, link: Link, intent: Status, expiresAt: string | undefined): ReturnType<Mail['sent']> {
  const { invitation, now } = facts;
  const generation = invitation.metadata.generation;
  const email = invitation.spec.email;
  const status = withCondition(
    { ...intent, deliveries: (invitation.status?.deliveries ?? 0) + 1, sentAt: formatTime(now), delivery: { ...intent.delivery!, state: 'Sent' } },
    generation,
    now,
    { type: ConditionType.Delivered, status: 'True', reason: 'Sent', message: `link ${link.linkId} mailed to ${email}` },
    { type: ConditionType.Ready, status: 'True', reason: 'Pending', message: `waiting for ${email} to accept` },
  );
  // A resend is the doing of whoever changed the resend annotation; a first send, of whoever asked for the invitation.
  const actor = how.resend ? (resentBy(invitation) ?? facts.requester) : (facts.requester ?? invitation.status?.inviter);
  const audit = {
    action: how.redeliver ? 'redeliver' : how.resend ? 'resend' : 'invite',
    entity: 'invitation',
    team: team.metadata.name ?? '',
    namespace: invitation.metadata.namespace ?? '',
    subject: email,
    roleAfter: invitation.spec.role,
  } as const;
  const change: TeamChange = how.redeliver
    ? {
        regarding: invitation,
        type: 'Warning',
        reason: 'Redelivered',
        action: 'Send',
        note: `an earlier send to ${email} was interrupted; mailed again with a new link ${link.linkId} (team delivery policy AtLeastOnce): a possible duplicate, only the newer link works`,
        actor,
        audit,
      }
    : {
        regarding: invitation,
        type: 'Normal',
        reason: how.resend ? 'Resent' : 'Sent',
        action: 'Send',
        note: `invitation mailed to ${email} (link ${link.linkId})`,
        actor,
        audit,
      };
  const expires = Date.parse(expiresAt ?? '');
  return { status, change, result: Number.isFinite(expires) ? after(expires, now, 50) : done };
}

/** 3b. The mail did not leave: it does not count against the quota, and its link is dropped (nobody received it). */
function failedOutcome(facts: InvitationFacts, intent: Status, error: { readonly message: string; readonly retryable: boolean }): ReturnType<Mail['failed']> {
  const { invitation, now } = facts;
  const { link: _dead, ...rest } = intent;
  const reason = error.retryable ? 'SendFailed' : 'SendRejected';
  const message = `could not mail ${invitation.spec.email}: ${error.message}`;
  const status = withCondition(
    {
      ...rest,
      recentMails: mailsInWindow(invitation.status?.recentMails, now).map((t) => formatTime(new Date(t))),
      delivery: { ...intent.delivery!, state: 'Failed', attempts: (intent.delivery?.attempts ?? 0) + 1 },
    },
    invitation.metadata.generation,
    now,
    { type: ConditionType.Delivered, status: 'False', reason, message },
  );
  return { status, event: { type: 'Warning', reason, action: 'Send', note: message }, result: error.retryable ? { kind: 'requeue' } : done };
}

/** Accepting a standalone Invitation creates the Membership (once). */
function join(facts: InvitationFacts): InvitationStep {
  const { invitation } = facts;
  const existing = facts.teamMemberships.find((m) => sameEmail(m.spec.email, invitation.spec.email));
  if (existing) return invitation.status?.membership === existing.metadata.name ? nothing : { kind: 'join', existing: existing.metadata.name };
  if (invitation.spec.role === 'owner') return nothing;
  const membership: Membership = {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Membership',
    metadata: {
      name: invitation.metadata.name,
      namespace: invitation.metadata.namespace,
      labels: { [labels.managedBy]: 'roster', [labels.team]: invitation.spec.team, [labels.createdBy]: 'invitation' },
      annotations: { [ACCEPTED_INVITATION_ANNOTATION]: invitation.metadata.name ?? '' },
    },
    spec: {
      team: invitation.spec.team,
      email: invitation.spec.email,
      role: invitation.spec.role,
      ...(invitation.spec.name ? { name: invitation.spec.name } : {}),
      ...(invitation.spec.projects ? { projects: invitation.spec.projects } : {}),
    },
  };
  const created = (m: Membership): TeamChange => ({
    regarding: invitation,
    type: 'Normal',
    reason: 'MembershipCreated',
    action: 'Accept',
    note: `accepted: created Membership ${m.metadata.name}`,
    actor: invitation.spec.email,
  });
  return { kind: 'join', membership, created };
}
