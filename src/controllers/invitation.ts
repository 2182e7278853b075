// Invitations: mint links, mail them at most once each, expire, revoke, resend, and turn an
// accepted standalone invitation into a Membership. Gather the facts (invitation/gather.ts),
// decide with the pure planner (invitation/plan.ts), carry the decision out here.
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
import { recordChange } from '../audit/record.ts';
import type { Invitation, Membership } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import { isMailError } from '../backends/mail/types.ts';
import { createMessageId } from '../backends/mail/message-id.ts';
import { renderInvitationMail } from '../backends/mail/templates.ts';
import { mintToken } from '../domain/tokens.ts';
import { TerminalError, type ReconcileResult } from '../runtime/controller.ts';
import { isAlreadyExists, isConflict } from '../runtime/kube-client.ts';
import { statusChanged, writeStatus } from '../runtime/status.ts';
import { splitKey, type OperatorContext } from './context.ts';
import { gatherInvitation } from './invitation/gather.ts';
import { planInvitationStep, type InvitationStep, type Mail, type Note, type Status } from './invitation/plan.ts';
import { controllerRef, writeStatusWon } from './objects.ts';

export { inviterOf } from './invitation/plan.ts';

export function acceptUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/invite/${token}`;
}

export async function reconcileInvitation(ctx: OperatorContext, key: string): Promise<ReconcileResult> {
  const [namespace, name] = splitKey(key);
  const invitation = ctx.caches.invitations.get(namespace, name);
  if (!invitation) return { kind: 'done' };
  return await execute(ctx, invitation, planInvitationStep(gatherInvitation(ctx, invitation)));
}

async function execute(ctx: OperatorContext, invitation: Invitation, step: InvitationStep): Promise<ReconcileResult> {
  switch (step.kind) {
    case 'nothing':
      return step.result;
    case 'fail':
      throw new TerminalError(step.message);
    case 'write': {
      for (const note of step.notes ?? []) record(ctx, invitation, note);
      if (await writeIfChanged(ctx, invitation, step.status)) {
        for (const note of step.onWin?.notes ?? []) record(ctx, invitation, note);
        for (const change of step.onWin?.changes ?? []) recordChange(ctx, change);
      }
      return step.result;
    }
    case 'mail':
      return await mintAndSend(ctx, invitation, step);
    case 'join':
      await join(ctx, invitation, step);
      return { kind: 'done' };
  }
}

const record = (ctx: OperatorContext, invitation: Invitation, n: Note): void => ctx.events.record(invitation, n.type, n.reason, n.action, n.note);

/** Writes the status if it changed; false when nothing changed or another reconcile's write won. */
async function writeIfChanged(ctx: OperatorContext, invitation: Invitation, status: Status): Promise<boolean> {
  return statusChanged(invitation.status, status) && (await writeStatusWon(ctx.client, resources.invitation, invitation, status, true));
}

/** Intent, send, confirm: the order that makes a mail go at most once per link. */
async function mintAndSend(ctx: OperatorContext, invitation: Invitation, mail: Mail): Promise<ReconcileResult> {
  for (const note of mail.notes ?? []) record(ctx, invitation, note);
  const token = mintToken();
  const link = { linkId: token.linkId, hash: token.hash };
  const messageId = createMessageId(mail.from);
  // 1. Record the intent. Compare-and-swap: a 409 (another reconcile, a stale cache) stops the send right here.
  const intent = mail.intent(link, messageId);
  let recorded: Invitation;
  try {
    recorded = (await writeStatus(ctx.client, resources.invitation, invitation, intent, { optimistic: true })) ?? invitation;
  } catch (e) {
    if (isConflict(e)) return { kind: 'requeue' };
    throw e;
  }
  // 2. Send.
  let outcome: { status: Status; result: ReconcileResult };
  try {
    const rendered = renderInvitationMail({ ...mail.content, acceptUrl: acceptUrl(ctx.publicUrl, token.token) }, ctx.templates);
    await ctx.mail.send(
      { from: mail.from, to: mail.to, subject: rendered.subject, text: rendered.text, html: rendered.html, messageId },
      { signal: ctx.signal },
    );
    ctx.metrics.mailsSent.inc({ backend: ctx.mail.name });
    const sent = mail.sent(link, intent);
    recordChange(ctx, sent.change);
    outcome = sent;
  } catch (e) {
    ctx.metrics.mailsFailed.inc({ backend: ctx.mail.name });
    const failed = mail.failed(intent, { message: e instanceof Error ? e.message : String(e), retryable: isMailError(e) ? e.retryable : true });
    record(ctx, invitation, failed.event);
    outcome = failed;
  }
  // 3. Confirm. If this write fails, the next reconcile sees Sending and never resends.
  await writeStatus(ctx.client, resources.invitation, recorded, outcome.status, { optimistic: true });
  return outcome.result;
}

/** Accepting a standalone Invitation creates the Membership (once), which then owns the invitation. */
async function join(ctx: OperatorContext, invitation: Invitation, step: Extract<InvitationStep, { kind: 'join' }>): Promise<void> {
  if (step.existing !== undefined) {
    await writeStatus(ctx.client, resources.invitation, invitation, { ...invitation.status, membership: step.existing }, { optimistic: true });
    return;
  }
  if (!step.membership) return;
  const namespace = invitation.metadata.namespace ?? '';
  try {
    const created = await ctx.client.create(resources.membership, step.membership);
    if (step.created) recordChange(ctx, step.created(created));
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
  // The invitation now belongs to its Membership: deleting the Membership removes it too.
  const name = step.membership.metadata.name ?? '';
  const createdMembership = await ctx.client.get<Membership>(resources.membership, namespace, name);
  const owned = await ctx.client.patch<Invitation>(resources.invitation, namespace, invitation.metadata.name ?? '', 'merge', {
    metadata: { ownerReferences: [{ ...controllerRef(createdMembership, 'Membership'), controller: false }] },
  });
  // On the copy that patch returned; a 409 here retries, and the branch above records it.
  await writeStatus(ctx.client, resources.invitation, owned, { ...owned.status, membership: name }, { optimistic: true });
}
