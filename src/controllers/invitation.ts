// Invitations: mint links, mail them at most once each, expire, revoke, resend, and turn an
// accepted standalone invitation into a Membership.
//
// At most one mail per link, even across a crash: before sending, the controller records in
// status the new link's hash and a delivery intent (state Sending, with the Message-ID),
// with optimistic locking; only then does it send, and afterwards it records Sent. A
// reconcile that finds a delivery still Sending knows a previous process stopped between
// the two writes, cannot know whether the mail left, and so never sends that link again: it
// marks the delivery Unconfirmed and tells people to resend if it did not arrive.
import { asInviter, changedBy, requesterOf } from '../admission/actor.ts';
import type { Invitation, InvitationStatus, Membership, Team } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import { isMailError } from '../backends/mail/types.ts';
import { createMessageId } from '../backends/mail/message-id.ts';
import { renderInvitationMail } from '../backends/mail/templates.ts';
import { ConditionType, setCondition, type ConditionInput } from '../domain/conditions.ts';
import { invitationTtlMs, planInvitation, RESEND_ANNOTATION } from '../domain/invitation-state.ts';
import { assignSeats, isStandaloneInvitation } from '../domain/seats.ts';
import { mintToken } from '../domain/tokens.ts';
import { TerminalError, type ReconcileResult } from '../runtime/controller.ts';
import { isAlreadyExists, isConflict } from '../runtime/kube-client.ts';
import { statusChanged } from '../runtime/status.ts';
import { index, labels, splitKey, type OperatorContext } from './context.ts';
import { ACCEPTED_INVITATION_ANNOTATION } from './membership.ts';
import { controllerRef, replaceStatus } from './objects.ts';

type Status = InvitationStatus;

function withCondition(status: Status, generation: number | undefined, now: Date, ...inputs: ConditionInput[]): Status {
  let conditions = status.conditions;
  for (const input of inputs) conditions = setCondition(conditions, input, generation, now);
  return { ...status, conditions };
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
      const status = withCondition({ ...current, observedGeneration: generation }, generation, now, {
        type: ConditionType.Delivered,
        status: 'False',
        reason: 'OverSeatLimit',
        message: `team ${team.metadata.name} has no seat left; raise spec.seats or remove a member, and the invitation goes out`,
      }, { type: ConditionType.Ready, status: 'False', reason: 'OverSeatLimit', message: 'waiting for a free seat' });
      await writeIfChanged(ctx, invitation, status);
      return { kind: 'done' };
    }
  }

  // A delivery left half-done by a process that stopped mid-send is never retried.
  if (current.delivery?.state === 'Sending') {
    const status = withCondition(
      { ...current, delivery: { ...current.delivery, state: 'Unconfirmed' } },
      generation,
      now,
      {
        type: ConditionType.Delivered,
        status: 'Unknown',
        reason: 'DeliveryUnconfirmed',
        message: `the operator stopped while mailing link ${current.delivery.linkId}; it is not sent twice. If ${invitation.spec.email} did not get it, resend: kubectl annotate invitation ${name} -n ${namespace} ${RESEND_ANNOTATION}=$(date +%s) --overwrite`,
      },
    );
    await writeIfChanged(ctx, invitation, status);
    ctx.events.record(invitation, 'Warning', 'DeliveryUnconfirmed', 'Send', `mail for link ${current.delivery.linkId} may not have been delivered; not sending it again`);
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
    return await mintAndSend(ctx, invitation, team, plan.status, { retry: retryFailed, resend: plan.applied.includes('resend') });
  }

  let status: Status = { ...current, ...plan.status, observedGeneration: generation };
  if (plan.effect === 'invalidateLink' || plan.state.phase !== 'Pending') delete status.link;
  switch (plan.state.phase) {
    case 'Revoked':
      status = withCondition(status, generation, now, { type: ConditionType.Ready, status: 'False', reason: 'Revoked', message: 'the invitation was revoked; its link no longer works' });
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
    ctx.events.record(invitation, 'Normal', 'Revoked', 'Revoke', `invitation for ${invitation.spec.email} revoked`);
    ctx.audit({ action: 'revoke', entity: 'invitation', team: team.metadata.name ?? '', namespace, subject: invitation.spec.email, roleBefore: invitation.spec.role, actor: changedBy(invitation) });
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
    await replaceStatus(ctx.client, resources.invitation, invitation, status);
  } catch (e) {
    if (isConflict(e)) return false; // the cache is behind; the watch brings the new version
    throw e;
  }
  return true;
}

async function mintAndSend(
  ctx: OperatorContext,
  invitation: Invitation,
  team: Team,
  planned: Status,
  how: { retry: boolean; resend: boolean },
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

  // 1. Record the intent (link hash + Message-ID) before anything leaves the building.
  const intent: Status = withCondition(
    {
      ...previous,
      ...planned,
      phase: 'Pending',
      expiresAt,
      deliveries: sentBefore,
      observedGeneration: generation,
      inviter: previous.inviter ?? asInviter(requester) ?? inviterOf(team),
      link: { id: token.linkId, hash: token.hash },
      delivery: { linkId: token.linkId, messageId, state: 'Sending', attempts: how.retry ? (previous.delivery?.attempts ?? 0) : 0 },
    },
    generation,
    now,
    { type: ConditionType.Delivered, status: 'Unknown', reason: 'Sending', message: `mailing link ${token.linkId} to ${invitation.spec.email}` },
  );
  let recorded: Invitation;
  try {
    recorded = await replaceStatus(ctx.client, resources.invitation, invitation, intent);
  } catch (e) {
    if (isConflict(e)) return { kind: 'requeue' };
    throw e;
  }

  // 2. Send.
  const mail = renderInvitationMail({
    teamName: team.metadata.name ?? '',
    teamDisplayName: team.spec.displayName,
    inviterName: team.spec.owner.name,
    inviterEmail: team.spec.owner.email,
    inviteeName: invitation.spec.name,
    inviteeEmail: invitation.spec.email,
    role: invitation.spec.role,
    scope: invitation.spec.projects?.map((p) => ({ project: p.name, environments: p.environments })),
    expiresAt: new Date(expiresAt ?? now),
    acceptUrl: acceptUrl(ctx.publicUrl, token.token),
    message: invitation.spec.message,
  }, ctx.templates);
  let outcome: Status;
  let result: ReconcileResult = { kind: 'done' };
  try {
    await ctx.mail.send({
      from: team.spec.invitations?.from ?? ctx.mailFrom,
      to: invitation.spec.email,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId,
    });
    ctx.metrics.mailsSent.inc({ backend: ctx.mail.name });
    outcome = withCondition(
      { ...intent, deliveries: sentBefore + 1, sentAt: now.toISOString().replace(/\.\d+Z$/, 'Z'), delivery: { ...intent.delivery!, state: 'Sent' } },
      generation,
      now,
      { type: ConditionType.Delivered, status: 'True', reason: 'Sent', message: `link ${token.linkId} mailed to ${invitation.spec.email}` },
      { type: ConditionType.Ready, status: 'True', reason: 'Pending', message: `waiting for ${invitation.spec.email} to accept` },
    );
    ctx.events.record(invitation, 'Normal', how.resend ? 'Resent' : 'Sent', 'Send', `invitation mailed to ${invitation.spec.email} (link ${token.linkId})`);
    ctx.audit({ action: how.resend ? 'resend' : 'invite', entity: 'invitation', team: team.metadata.name ?? '', namespace, subject: invitation.spec.email, roleAfter: invitation.spec.role, actor: requester ?? previous.inviter });
    const expires = Date.parse(expiresAt ?? '');
    if (Number.isFinite(expires)) result = { kind: 'requeueAfter', ms: Math.max(0, expires - now.getTime()) + 50 };
  } catch (e) {
    ctx.metrics.mailsFailed.inc({ backend: ctx.mail.name });
    const retryable = isMailError(e) ? e.retryable : true;
    const message = e instanceof Error ? e.message : String(e);
    // The link was never mailed: drop it, so nothing can accept a link nobody received.
    const { link: _dead, ...rest } = intent;
    outcome = withCondition(
      { ...rest, delivery: { ...intent.delivery!, state: 'Failed', attempts: (intent.delivery?.attempts ?? 0) + 1 } },
      generation,
      now,
      { type: ConditionType.Delivered, status: 'False', reason: retryable ? 'SendFailed' : 'SendRejected', message: `could not mail ${invitation.spec.email}: ${message}` },
    );
    ctx.events.record(invitation, 'Warning', retryable ? 'SendFailed' : 'SendRejected', 'Send', `could not mail ${invitation.spec.email}: ${message}`);
    result = retryable ? { kind: 'requeue' } : { kind: 'done' };
  }

  // 3. Confirm. If this write fails, the next reconcile sees Sending and never resends.
  await ctx.client.replace<Invitation>(resources.invitation, { ...recorded, status: outcome }, 'status');
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
      await replaceStatus(ctx.client, resources.invitation, invitation, { ...invitation.status, membership: existing.metadata.name });
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
    ctx.events.record(invitation, 'Normal', 'MembershipCreated', 'Accept', `accepted: created Membership ${created.metadata.name}`);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
  // The invitation now belongs to its Membership: deleting the Membership removes it too.
  const createdMembership = await ctx.client.get<Membership>(resources.membership, namespace, membership.metadata.name ?? '');
  await ctx.client.patch(resources.invitation, namespace, invitation.metadata.name ?? '', 'merge', {
    metadata: { ownerReferences: [{ ...controllerRef(createdMembership, 'Membership'), controller: false }] },
  });
  await ctx.client.patch(resources.invitation, namespace, invitation.metadata.name ?? '', 'merge', { status: { membership: membership.metadata.name } }, 'status');
}
