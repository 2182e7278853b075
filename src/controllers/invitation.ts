// Invitations: mint links, mail them at most once each, expire, revoke, resend, and turn an
// accepted standalone invitation into a Membership.
//
// At most one mail per link, even across a crash: before sending, the controller records in
// status the new link's hash and a delivery intent (state Sending, with the Message-ID),
// with optimistic locking; only then does it send, and afterwards it records Sent. A
// reconcile that finds a delivery still Sending knows a previous process stopped between
// the two writes, cannot know whether the mail left, and so never sends that link again: it
// marks the delivery Unconfirmed and tells people to resend if it did not arrive. A Team may
// choose the opposite trade-off (spec.invitations.delivery: AtLeastOnce): such a delivery is
// mailed again with a fresh link and recorded as a possible duplicate.
//
// Before any mail: the team's daily quota and, for a resend a person asked for, the
// cooldown since the last mail (SPEC §7). Held mails wait; nothing is dropped.
import { asInviter, changedBy, requesterOf, resentBy } from '../audit/actor.ts';
import { recordChange } from '../audit/record.ts';
import type { Invitation, InvitationStatus, Membership, Team } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import { isMailError } from '../backends/mail/types.ts';
import { createMessageId } from '../backends/mail/message-id.ts';
import { renderInvitationMail } from '../backends/mail/templates.ts';
import { ConditionType, getCondition, setConditions, type ConditionInput } from '../domain/conditions.ts';
import { sameEmail } from '../domain/email.ts';
import { invitationTtlMs, mailHold, mailsInWindow, planInvitation, RESEND_ANNOTATION, withMailAt, type MailHold } from '../domain/invitation-state.ts';
import { formatTime } from '../domain/time.ts';
import { assignSeats, isStandaloneInvitation } from '../domain/seats.ts';
import { mintToken } from '../domain/tokens.ts';
import { TerminalError, type ReconcileResult } from '../runtime/controller.ts';
import { isAlreadyExists, isConflict } from '../runtime/kube-client.ts';
import { statusChanged, writeStatus } from '../runtime/status.ts';
import { index, labels, splitKey, type OperatorContext } from './context.ts';
import { ACCEPTED_INVITATION_ANNOTATION } from './membership.ts';
import { controllerRef, isNamespaceTerminating } from './objects.ts';

type Status = InvitationStatus;

function withCondition(status: Status, generation: number | undefined, now: Date, ...inputs: ConditionInput[]): Status {
  return { ...status, conditions: setConditions('Invitation', status.conditions, inputs, generation, now) };
}

export function inviterOf(team: Team): string {
  return team.spec.owner.name ? `${team.spec.owner.name} (${team.spec.owner.email})` : team.spec.owner.email;
}

export function acceptUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/invite/${token}`;
}

export async function reconcileInvitation(ctx: OperatorContext, key: string): Promise<ReconcileResult> {
  const [namespace, name] = splitKey(key);
  const invitation = ctx.caches.invitations.get(namespace, name);
  if (!invitation || invitation.metadata.deletionTimestamp) return { kind: 'done' };
  // The namespace is going: no link is mailed for a team that is going with it, and no
  // Membership created on accept (the API server would refuse it with 403).
  if (isNamespaceTerminating(ctx.caches.namespaces, namespace)) return { kind: 'done' };
  const now = ctx.now();
  const generation = invitation.metadata.generation;
  const current: Status = invitation.status ?? {};
  const team = ctx.caches.teams.get(namespace, invitation.spec.team);
  if (!team) {
    const status = withCondition({ ...current, observedGeneration: generation }, generation, now, {
      type: ConditionType.Ready,
      status: 'False',
      reason: 'TeamNotFound',
      message: `team ${invitation.spec.team} does not exist in namespace ${namespace}`,
    });
    await writeIfChanged(ctx, invitation, status);
    return { kind: 'done' };
  }

  // Accepted standalone invitations become Memberships.
  if (current.phase === 'Accepted') {
    if (isStandaloneInvitation(invitation)) await ensureMembershipFor(ctx, invitation);
    return { kind: 'done' };
  }

  // A standalone invitation past the seat limit is not mailed.
  if (isStandaloneInvitation(invitation) && !invitation.spec.revoked && current.phase !== 'Revoked') {
    const teamKey = `${namespace}/${team.metadata.name}`;
    const seats = assignSeats(team, ctx.caches.memberships.byIndex(index.byTeam, teamKey), ctx.caches.invitations.byIndex(index.byTeam, teamKey), { now });
    if (seats.invitationsOverLimit.some((i) => i.metadata.name === name)) {
      const status = withCondition(
        { ...current, observedGeneration: generation },
        generation,
        now,
        {
          type: ConditionType.Delivered,
          status: 'False',
          reason: 'OverSeatLimit',
          message: `team ${team.metadata.name} has no seat left; raise spec.seats or remove a member, and the invitation goes out`,
        },
        { type: ConditionType.Ready, status: 'False', reason: 'OverSeatLimit', message: 'waiting for a free seat' },
      );
      await writeIfChanged(ctx, invitation, status);
      return { kind: 'done' };
    }
  }

  // A delivery left half-done by a process that stopped mid-send (or a cache that has not
  // seen the confirmation yet: the optimistic writes below tell the two apart).
  if (current.delivery?.state === 'Sending') {
    const linkLive = current.phase === 'Pending' && !invitation.spec.revoked && Date.parse(current.expiresAt ?? '') > now.getTime();
    if (team.spec.invitations?.delivery === 'AtLeastOnce' && linkLive) {
      // The team prefers a possible duplicate to a possible loss: mail it again, with a fresh link.
      const held = holdFor(ctx, invitation, team, false);
      if (held) return await holdMail(ctx, invitation, team, held);
      return await mintAndSend(ctx, invitation, team, {}, { retry: true, resend: false, redeliver: true });
    }
    // At most once: never sent again.
    const status = withCondition({ ...current, delivery: { ...current.delivery, state: 'Unconfirmed' } }, generation, now, {
      type: ConditionType.Delivered,
      status: 'Unknown',
      reason: 'DeliveryUnconfirmed',
      message: `the operator stopped while mailing link ${current.delivery.linkId}; it is not sent twice. If ${invitation.spec.email} did not get it, resend: kubectl roster resend ${name} -n ${namespace} (or kubectl annotate invitation ${name} -n ${namespace} ${RESEND_ANNOTATION}=$(date +%s) --overwrite)`,
    });
    // Only the reconcile whose write won may say so: one from a stale cache (the send was in
    // fact confirmed) loses with 409 and stays silent.
    if (await writeIfChanged(ctx, invitation, status)) {
      ctx.events.record(
        invitation,
        'Warning',
        'DeliveryUnconfirmed',
        'Send',
        `mail for link ${current.delivery.linkId} may not have been delivered; not sending it again. Resend if ${invitation.spec.email} did not get it: kubectl roster resend ${name} -n ${namespace}`,
      );
    }
    return { kind: 'done' };
  }

  let ttlMs: number;
  try {
    ttlMs = invitationTtlMs(team.spec.invitations?.ttl);
  } catch (e) {
    throw new TerminalError(String(e));
  }
  const plan = planInvitation({
    revoked: invitation.spec.revoked,
    status: current,
    resendAnnotation: invitation.metadata.annotations?.[RESEND_ANNOTATION],
    now,
    ttlMs,
  });
  // A failed send leaves no live link behind (its token is gone); try again with a new one.
  const retryFailed = plan.effect === 'none' && plan.state.phase === 'Pending' && current.delivery?.state === 'Failed';

  if (plan.rejection) {
    ctx.events.record(invitation, 'Warning', 'ResendRefused', 'Resend', plan.rejection.message);
  }

  if (plan.effect === 'mintAndSend' || retryFailed) {
    const resend = plan.applied.includes('resend');
    const held = holdFor(ctx, invitation, team, resend);
    if (held) return await holdMail(ctx, invitation, team, held);
    return await mintAndSend(ctx, invitation, team, plan.status, { retry: retryFailed, resend, redeliver: false });
  }

  let status: Status = { ...current, ...plan.status, observedGeneration: generation };
  if (plan.effect === 'invalidateLink' || plan.state.phase !== 'Pending') delete status.link;
  switch (plan.state.phase) {
    case 'Revoked':
      status = withCondition(status, generation, now, {
        type: ConditionType.Ready,
        status: 'False',
        reason: 'Revoked',
        message: 'the invitation was revoked; its link no longer works',
      });
      break;
    case 'Expired':
      status = withCondition(status, generation, now, {
        type: ConditionType.Ready,
        status: 'False',
        reason: 'Expired',
        message: `the link expired; resend to mail a new one: kubectl annotate invitation ${name} -n ${namespace} ${RESEND_ANNOTATION}=$(date +%s) --overwrite`,
      });
      break;
    default:
      break;
  }
  const changed = await writeIfChanged(ctx, invitation, status);
  if (changed && plan.applied.includes('revoke')) {
    recordChange(ctx, {
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
        namespace,
        subject: invitation.spec.email,
        roleBefore: invitation.spec.role,
      },
    });
  }
  if (changed && plan.applied.includes('expire')) {
    ctx.events.record(invitation, 'Normal', 'Expired', 'Expire', `invitation for ${invitation.spec.email} expired`);
  }
  if (plan.requeueAt) return { kind: 'requeueAfter', ms: Math.max(0, plan.requeueAt.getTime() - now.getTime()) + 50 };
  return { kind: 'done' };
}

async function writeIfChanged(ctx: OperatorContext, invitation: Invitation, status: Status): Promise<boolean> {
  if (!statusChanged(invitation.status, status)) return false;
  try {
    await writeStatus(ctx.client, resources.invitation, invitation, status, { optimistic: true });
  } catch (e) {
    if (isConflict(e)) return false; // the cache is behind; the watch brings the new version
    throw e;
  }
  return true;
}

/** Whether the next mail of this invitation must wait (daily quota, resend cooldown). */
function holdFor(ctx: OperatorContext, invitation: Invitation, team: Team, resend: boolean): MailHold | undefined {
  const teamInvitations = ctx.caches.invitations.byIndex(index.byTeam, `${invitation.metadata.namespace}/${team.metadata.name}`);
  const others = teamInvitations.filter((i) => i.metadata.uid !== invitation.metadata.uid);
  return mailHold({
    now: ctx.now(),
    teamMails: [...others.map((i) => i.status?.recentMails), invitation.status?.recentMails],
    dailyQuota: ctx.mailLimits.dailyQuotaPerTeam,
    resend,
    lastSentAt: invitation.status?.sentAt,
    cooldownMs: ctx.mailLimits.resendCooldownSeconds * 1000,
  });
}

/**
 * Nothing is sent: the condition says why and until when, the resend annotation is not
 * consumed (so the resend still happens), and the reconcile comes back when the mail may go.
 */
async function holdMail(ctx: OperatorContext, invitation: Invitation, team: Team, held: MailHold): Promise<ReconcileResult> {
  const now = ctx.now();
  const generation = invitation.metadata.generation;
  const current: Status = invitation.status ?? {};
  const until = formatTime(held.until);
  const condition: ConditionInput =
    held.kind === 'quota'
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
          message: `a resend waits until ${until}: one mail per invitation every ${ctx.mailLimits.resendCooldownSeconds} s (mail.resendCooldownSeconds); the current link still works`,
        };
  const before = getCondition(current.conditions, ConditionType.Delivered)?.reason;
  const status = withCondition({ ...current, observedGeneration: generation }, generation, now, condition);
  // An Event only when this hold begins, and only from the reconcile whose write won.
  if ((await writeIfChanged(ctx, invitation, status)) && before !== condition.reason) {
    ctx.events.record(invitation, 'Warning', held.kind === 'quota' ? 'QuotaExceeded' : 'ResendDeferred', 'Send', `${condition.message}`);
  }
  return { kind: 'requeueAfter', ms: Math.max(0, held.until.getTime() - now.getTime()) + 100 };
}

/** Who the mail names as inviter: the person the status records (as the accept page does), else the owner. */
function inviterForMail(ctx: OperatorContext, team: Team, namespace: string, inviter: string | undefined): { name?: string; email?: string } {
  const owner = { ...(team.spec.owner.name ? { name: team.spec.owner.name } : {}), email: team.spec.owner.email };
  if (inviter === undefined || inviter === inviterOf(team) || sameEmail(inviter, team.spec.owner.email)) return owner;
  if (!inviter.includes('@')) return { name: inviter };
  const member = ctx.caches.memberships.byIndex(index.byTeam, `${namespace}/${team.metadata.name}`).find((m) => sameEmail(m.spec.email, inviter));
  return { ...(member?.spec.name ? { name: member.spec.name } : {}), email: inviter };
}

async function mintAndSend(
  ctx: OperatorContext,
  invitation: Invitation,
  team: Team,
  planned: Status,
  how: { retry: boolean; resend: boolean; redeliver: boolean },
): Promise<ReconcileResult> {
  const now = ctx.now();
  const generation = invitation.metadata.generation;
  const namespace = invitation.metadata.namespace ?? '';
  const previous = invitation.status ?? {};
  const token = mintToken();
  const messageId = createMessageId(team.spec.invitations?.from ?? ctx.mailFrom);
  const expiresAt = how.retry ? (previous.expiresAt ?? planned.expiresAt) : planned.expiresAt;
  const sentBefore = previous.deliveries ?? 0;
  // The user the admission webhook recorded as creating the invitation (or its Membership).
  const requester = requesterOf(invitation, { membership: (m) => ctx.caches.memberships.get(namespace, m), team });

  const inviter = previous.inviter ?? asInviter(requester) ?? inviterOf(team);
  // 1. Record the intent (link hash + Message-ID) before anything leaves the building. The
  // mail counts against the team's quota from here: a crash mid-send may have sent it.
  const intent: Status = withCondition(
    {
      ...previous,
      ...planned,
      phase: 'Pending',
      expiresAt,
      deliveries: sentBefore,
      observedGeneration: generation,
      inviter,
      link: { id: token.linkId, hash: token.hash },
      delivery: {
        linkId: token.linkId,
        messageId,
        state: 'Sending',
        attempts: how.retry ? (previous.delivery?.attempts ?? 0) : 0,
        ...(how.redeliver ? { possibleDuplicate: true } : {}),
      },
      recentMails: withMailAt(previous.recentMails, now),
    },
    generation,
    now,
    { type: ConditionType.Delivered, status: 'Unknown', reason: 'Sending', message: `mailing link ${token.linkId} to ${invitation.spec.email}` },
  );
  let recorded: Invitation;
  try {
    // Compare-and-swap: a 409 (another reconcile, a stale cache) stops the send right here.
    recorded = (await writeStatus(ctx.client, resources.invitation, invitation, intent, { optimistic: true })) ?? invitation;
  } catch (e) {
    if (isConflict(e)) return { kind: 'requeue' };
    throw e;
  }

  // 2. Send.
  const named = inviterForMail(ctx, team, namespace, inviter);
  const mail = renderInvitationMail(
    {
      teamName: team.metadata.name ?? '',
      teamDisplayName: team.spec.displayName,
      inviterName: named.name,
      inviterEmail: named.email,
      inviteeName: invitation.spec.name,
      inviteeEmail: invitation.spec.email,
      role: invitation.spec.role,
      scope: invitation.spec.projects?.map((p) => ({ project: p.name, environments: p.environments })),
      expiresAt: new Date(expiresAt ?? now),
      acceptUrl: acceptUrl(ctx.publicUrl, token.token),
      message: invitation.spec.message,
    },
    ctx.templates,
  );
  let outcome: Status;
  let result: ReconcileResult = { kind: 'done' };
  try {
    await ctx.mail.send(
      {
        from: team.spec.invitations?.from ?? ctx.mailFrom,
        to: invitation.spec.email,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId,
      },
      { signal: ctx.signal },
    );
    ctx.metrics.mailsSent.inc({ backend: ctx.mail.name });
    outcome = withCondition(
      { ...intent, deliveries: sentBefore + 1, sentAt: now.toISOString().replace(/\.\d+Z$/, 'Z'), delivery: { ...intent.delivery!, state: 'Sent' } },
      generation,
      now,
      { type: ConditionType.Delivered, status: 'True', reason: 'Sent', message: `link ${token.linkId} mailed to ${invitation.spec.email}` },
      { type: ConditionType.Ready, status: 'True', reason: 'Pending', message: `waiting for ${invitation.spec.email} to accept` },
    );
    // A resend is the doing of whoever changed the resend annotation; a first send, of whoever asked for the invitation.
    const actor = how.resend ? (resentBy(invitation) ?? requester) : (requester ?? previous.inviter);
    const audit = {
      action: how.redeliver ? 'redeliver' : how.resend ? 'resend' : 'invite',
      entity: 'invitation',
      team: team.metadata.name ?? '',
      namespace,
      subject: invitation.spec.email,
      roleAfter: invitation.spec.role,
    } as const;
    if (how.redeliver) {
      recordChange(ctx, {
        regarding: invitation,
        type: 'Warning',
        reason: 'Redelivered',
        action: 'Send',
        note: `an earlier send to ${invitation.spec.email} was interrupted; mailed again with a new link ${token.linkId} (team delivery policy AtLeastOnce): a possible duplicate, only the newer link works`,
        actor,
        audit,
      });
    } else {
      recordChange(ctx, {
        regarding: invitation,
        type: 'Normal',
        reason: how.resend ? 'Resent' : 'Sent',
        action: 'Send',
        note: `invitation mailed to ${invitation.spec.email} (link ${token.linkId})`,
        actor,
        audit,
      });
    }
    const expires = Date.parse(expiresAt ?? '');
    if (Number.isFinite(expires)) result = { kind: 'requeueAfter', ms: Math.max(0, expires - now.getTime()) + 50 };
  } catch (e) {
    ctx.metrics.mailsFailed.inc({ backend: ctx.mail.name });
    const retryable = isMailError(e) ? e.retryable : true;
    const message = e instanceof Error ? e.message : String(e);
    // The link was never mailed: drop it, so nothing can accept a link nobody received.
    const { link: _dead, ...rest } = intent;
    outcome = withCondition(
      // The mail did not leave: it does not count against the quota.
      {
        ...rest,
        recentMails: mailsInWindow(previous.recentMails, now).map((t) => formatTime(new Date(t))),
        delivery: { ...intent.delivery!, state: 'Failed', attempts: (intent.delivery?.attempts ?? 0) + 1 },
      },
      generation,
      now,
      {
        type: ConditionType.Delivered,
        status: 'False',
        reason: retryable ? 'SendFailed' : 'SendRejected',
        message: `could not mail ${invitation.spec.email}: ${message}`,
      },
    );
    ctx.events.record(invitation, 'Warning', retryable ? 'SendFailed' : 'SendRejected', 'Send', `could not mail ${invitation.spec.email}: ${message}`);
    result = retryable ? { kind: 'requeue' } : { kind: 'done' };
  }

  // 3. Confirm. If this write fails, the next reconcile sees Sending and never resends.
  await writeStatus(ctx.client, resources.invitation, recorded, outcome, { optimistic: true });
  return result;
}

/** Accepting a standalone Invitation creates the Membership (once). */
async function ensureMembershipFor(ctx: OperatorContext, invitation: Invitation): Promise<void> {
  const namespace = invitation.metadata.namespace ?? '';
  const existing = ctx.caches.memberships
    .byIndex(index.byTeam, `${namespace}/${invitation.spec.team}`)
    .find((m) => m.spec.email.toLowerCase() === invitation.spec.email.toLowerCase());
  if (existing) {
    if (invitation.status?.membership !== existing.metadata.name) {
      await writeStatus(ctx.client, resources.invitation, invitation, { ...invitation.status, membership: existing.metadata.name }, { optimistic: true });
    }
    return;
  }
  if (invitation.spec.role === 'owner') return;
  const membership: Membership = {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Membership',
    metadata: {
      name: invitation.metadata.name,
      namespace,
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
  try {
    const created = await ctx.client.create(resources.membership, membership);
    recordChange(ctx, {
      regarding: invitation,
      type: 'Normal',
      reason: 'MembershipCreated',
      action: 'Accept',
      note: `accepted: created Membership ${created.metadata.name}`,
      actor: invitation.spec.email,
    });
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
  // The invitation now belongs to its Membership: deleting the Membership removes it too.
  const createdMembership = await ctx.client.get<Membership>(resources.membership, namespace, membership.metadata.name ?? '');
  const owned = await ctx.client.patch<Invitation>(resources.invitation, namespace, invitation.metadata.name ?? '', 'merge', {
    metadata: { ownerReferences: [{ ...controllerRef(createdMembership, 'Membership'), controller: false }] },
  });
  // On the copy that patch returned; a 409 here retries, and the branch above records it.
  await writeStatus(ctx.client, resources.invitation, owned, { ...owned.status, membership: membership.metadata.name }, { optimistic: true });
}
