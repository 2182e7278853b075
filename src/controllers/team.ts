// Teams: invite the owner, give the owner their rights once they accept, carry out an
// ownership transfer, report seats and members, and on deletion remove every member's
// access before the Team goes.
import { reconcileSeatReservations } from '../seats/ledger.ts';
import { changedBy, createdBy, deletedBy } from '../audit/actor.ts';
import { recordChange, type TeamChange } from '../audit/record.ts';
import type { Invitation, Membership, Team, TeamStatus } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import type { Grant } from '../backends/identity/types.ts';
import { IdentityBackendError } from '../backends/identity/types.ts';
import { ConditionType, setConditions, type ConditionInput } from '../domain/conditions.ts';
import { normalizeEmail, sameEmail } from '../domain/email.ts';
import { ATTEMPT_LABEL, invitationNameFor, nextAttempt } from '../domain/invitation-state.ts';
import { accessTargets } from '../domain/scope.ts';
import { assignSeats } from '../domain/seats.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { isAlreadyExists, isConflict } from '../runtime/kube-client.ts';
import { writeStatus } from '../runtime/status.ts';
import { FINALIZER, index, labels, splitKey, type OperatorContext } from './context.ts';
import { ACCEPTED_INVITATION_ANNOTATION, backendFor } from './membership.ts';
import { planRemovals, type RemovalPlan } from './removals.ts';
import { addFinalizer, controllerRef, isControlledBy, isNamespaceTerminating, randomSuffix, removeFinalizer } from './objects.ts';

export const OWNER_GRANT = 'owner';

function conditions(status: TeamStatus, generation: number | undefined, now: Date, ...inputs: ConditionInput[]): TeamStatus {
  return { ...status, conditions: setConditions('Team', status.conditions, inputs, generation, now) };
}

export function ownerInvitations(ctx: OperatorContext, team: Team): Invitation[] {
  return ctx.caches.invitations
    .byIndex(index.byTeam, `${team.metadata.namespace}/${team.metadata.name}`)
    .filter((i) => i.spec.role === 'owner' && isControlledBy(i, team));
}

export async function reconcileTeam(ctx: OperatorContext, key: string): Promise<ReconcileResult> {
  const [namespace, name] = splitKey(key);
  const team = ctx.caches.teams.get(namespace, name);
  if (!team) return { kind: 'done' };
  const now = ctx.now();
  const generation = team.metadata.generation;
  const backend = backendFor(ctx, team);
  const teamRef = { namespace, name };
  const memberships = ctx.caches.memberships.byIndex(index.byTeam, key);

  if (team.metadata.deletionTimestamp) {
    if (!(team.metadata.finalizers ?? []).includes(FINALIZER)) return { kind: 'done' };
    // The webhook's deletion hook names who deleted it a moment after the delete; wait briefly for it.
    const sinceDeletion = now.getTime() - Date.parse(team.metadata.deletionTimestamp);
    if (!deletedBy(team) && sinceDeletion >= 0 && sinceDeletion < 2_000) return { kind: 'requeueAfter', ms: 250 };
    // Members first: each Membership's own finalizer removes that person's access.
    for (const m of memberships) {
      if (!m.metadata.deletionTimestamp) await ctx.client.delete(resources.membership, namespace, m.metadata.name ?? '');
    }
    if (memberships.length > 0) {
      // Deleting a team is a mass removal too: the brake holds it the same way.
      await writeRemovals(ctx, team, planRemovals(ctx, team, memberships, now), { ...(team.status ?? {}) }, generation, now);
      return { kind: 'requeueAfter', ms: 1_000 };
    }
    if (backend) await backend.remove(teamRef, OWNER_GRANT, { email: team.spec.owner.email }, { signal: ctx.signal });
    await removeFinalizer(ctx.client, resources.team, team, FINALIZER);
    recordChange(ctx, {
      regarding: team,
      type: 'Normal',
      reason: 'TeamDeleted',
      action: 'Delete',
      note: `team ${name} deleted; every member's access removed`,
      actor: deletedBy(team),
      audit: { action: 'delete', entity: 'team', team: name, namespace, subject: team.spec.owner.email },
    });
    return { kind: 'done' };
  }
  // The namespace is going, and the Team with it: creating anything there only earns a 403
  // (issue 10 item 8). The finalizer above removes access once the Team is deleted.
  if (isNamespaceTerminating(ctx.caches.namespaces, namespace)) return { kind: 'done' };
  // One Team per namespace (SPEC §7): namespace RBAC on the control namespace is team RBAC
  // only while one team lives there. Admission refuses a second Team; one that got in anyway
  // (webhook off, or two creates racing) is left alone: no invitation, no access.
  const first = firstTeamIn(ctx, namespace);
  if (first && first.metadata.name !== name) {
    const message = `namespace ${namespace} already holds team ${first.metadata.name}, and a namespace holds one team; delete this Team and create it in a namespace of its own`;
    const status = conditions({ ...(team.status ?? {}), observedGeneration: generation }, generation, now, {
      type: ConditionType.Ready,
      status: 'False',
      reason: 'NamespaceTaken',
      message,
    });
    if (team.status?.conditions?.find((c) => c.type === ConditionType.Ready)?.reason !== 'NamespaceTaken')
      ctx.events.record(team, 'Warning', 'NamespaceTaken', 'Admit', message);
    try {
      await writeStatus(ctx.client, resources.team, team, status);
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
    return { kind: 'done' };
  }
  if (await addFinalizer(ctx.client, resources.team, team, FINALIZER)) return { kind: 'done' };
  await reconcileSeatReservations(ctx, team);

  const current: TeamStatus = team.status ?? {};
  const ownerEmail = normalizeEmail(team.spec.owner.email);
  const invitations = ownerInvitations(ctx, team);
  const accepted = invitations.find((i) => i.status?.phase === 'Accepted' && sameEmail(i.spec.email, ownerEmail));
  let ownerActive = (current.owner?.phase === 'Active' && sameEmail(current.owner.email ?? '', ownerEmail)) || accepted !== undefined;

  // What changed, recorded once the status write that makes it true has won.
  const changes: TeamChange[] = [];
  // Ownership transfer: the new owner was an Active admin; the previous owner stays on as admin.
  const previousOwner =
    current.owner?.phase === 'Active' && current.owner.email && !sameEmail(current.owner.email, ownerEmail) ? current.owner.email : undefined;
  if (previousOwner) {
    const newOwnerMembership = memberships.find((m) => sameEmail(m.spec.email, ownerEmail));
    // Admission checks that the new owner is an Active admin; here an accepted admin is
    // enough, because once the transfer starts their Membership is superseded by ownership.
    if (newOwnerMembership?.spec.role === 'admin' && newOwnerMembership.status?.acceptedAt) {
      await keepPreviousOwnerAsAdmin(ctx, team, previousOwner, memberships);
      ownerActive = true;
      changes.push({
        regarding: team,
        type: 'Normal',
        reason: 'OwnershipTransferred',
        action: 'Transfer',
        note: `ownership moved from ${previousOwner} to ${ownerEmail}; ${previousOwner} stays on as admin`,
        actor: changedBy(team),
        audit: {
          action: 'transfer-ownership',
          entity: 'team',
          team: name,
          namespace,
          subject: ownerEmail,
          roleBefore: 'admin',
          roleAfter: 'owner',
          detail: `previous owner ${previousOwner} is now admin`,
        },
      });
    }
  }

  // Stale owner invitations (for someone who is no longer the owner) are revoked.
  for (const inv of invitations) {
    if (!sameEmail(inv.spec.email, ownerEmail) && inv.status?.phase !== 'Accepted' && !inv.spec.revoked) {
      await ctx.client.patch(resources.invitation, namespace, inv.metadata.name ?? '', 'merge', { spec: { revoked: true } });
    }
  }

  let ownerInvitation: string | undefined;
  if (!ownerActive) {
    const live = invitations.find((i) => sameEmail(i.spec.email, ownerEmail) && i.status?.phase !== 'Revoked' && !i.spec.revoked);
    ownerInvitation = live?.metadata.name ?? (await createOwnerInvitation(ctx, team)).metadata.name;
  }

  let identityCondition: ConditionInput = { type: ConditionType.Ready, status: 'True', reason: 'Reconciled', message: 'the team is reconciled' };
  if (!backend) {
    identityCondition = {
      type: ConditionType.Ready,
      status: 'False',
      reason: 'UnknownIdentityBackend',
      message: `identity backend "${team.spec.identity?.backend ?? 'default'}" is not configured in the operator`,
    };
  } else if (ownerActive) {
    const projects = ctx.caches.projects.byIndex(index.byTeam, key);
    // Bound as written, like a Membership's spec.email: the name the authenticator presents (issue 10 item 8).
    const grant: Grant = {
      team: teamRef,
      key: OWNER_GRANT,
      person: { email: team.spec.owner.email, name: team.spec.owner.name },
      role: 'owner',
      targets: accessTargets('owner', undefined, projects),
    };
    try {
      const result = await backend.ensure(grant, { signal: ctx.signal });
      if (result.changes.length && current.owner?.phase === 'Active' && !previousOwner && current.observedGeneration === generation) {
        ctx.events.record(team, 'Warning', 'DriftCorrected', 'Sync', `owner access had drifted; restored: ${result.changes.join('; ')}`);
      } else if (current.owner?.phase !== 'Active') {
        changes.push({
          regarding: team,
          type: 'Normal',
          reason: 'OwnerActive',
          action: 'Provision',
          note: `${ownerEmail} accepted ownership of team ${name}`,
          actor: ownerEmail,
          audit: { action: 'activate', entity: 'team', team: name, namespace, subject: ownerEmail, roleAfter: 'owner' },
        });
      }
    } catch (e) {
      ctx.metrics.backendErrors.inc({ backend: backend.name, operation: 'ensure' });
      const reason = e instanceof IdentityBackendError ? e.reason.replace(/[^A-Za-z0-9]/g, '') || 'BackendError' : 'BackendError';
      identityCondition = { type: ConditionType.Ready, status: 'False', reason, message: e instanceof Error ? e.message : String(e) };
    }
  }

  const seats = assignSeats(team, memberships, ctx.caches.invitations.byIndex(index.byTeam, key), { now });
  const removals = planRemovals(ctx, team, memberships, now);
  const { removals: _before, ...rest } = current;
  const status = conditions(
    {
      ...rest,
      observedGeneration: generation,
      owner: { email: ownerEmail, phase: ownerActive ? 'Active' : 'Invited', ...(ownerInvitation ? { invitation: ownerInvitation } : {}) },
      seats: seats.usage,
      members: seats.members,
      ...(removals.removals ? { removals: removals.removals } : {}),
    },
    generation,
    now,
    {
      type: ConditionType.OwnerActive,
      status: ownerActive ? 'True' : 'False',
      reason: ownerActive ? 'Accepted' : 'AwaitingAcceptance',
      message: ownerActive ? `${ownerEmail} owns the team` : `waiting for ${ownerEmail} to accept the invitation`,
    },
    {
      type: ConditionType.SeatsAvailable,
      status: seats.usage.available > 0 ? 'True' : 'False',
      reason: seats.usage.available > 0 ? 'SeatsLeft' : 'SeatLimitReached',
      message: `${seats.usage.limit - seats.usage.available} of ${seats.usage.limit} seats in use`,
    },
    removals.condition,
    // Held removals wait for a person: the team is not settled (kstatus: Stalled).
    removals.condition.status === 'True' && identityCondition.status === 'True'
      ? { ...removals.condition, type: ConditionType.Ready, status: 'False' }
      : identityCondition,
  );
  if (removals.newHold) changes.push(holdEvent(team, removals));
  // The brake's decisions are a compare-and-swap on the Team's status: two reconciles from
  // different cache states cannot both spend the last allowance.
  try {
    await writeStatus(ctx.client, resources.team, team, status, { optimistic: changes.length > 0 || removals.decision !== undefined });
    for (const change of changes) recordChange(ctx, change);
    ctx.metrics.removalsHeld.set({ namespace, team: name }, removals.decision?.held.length ?? 0);
  } catch (e) {
    if (!isConflict(e)) throw e;
  }
  if (identityCondition.status === 'False' && backend) throw new Error(identityCondition.message);
  return { kind: 'done' };
}

function holdEvent(team: Team, removals: RemovalPlan): TeamChange {
  return { regarding: team, type: 'Warning', reason: 'RemovalsHeld', action: 'Hold', note: removals.condition.message };
}

/** The brake's decision for a Team on its way out (its Memberships are being deleted). */
async function writeRemovals(
  ctx: OperatorContext,
  team: Team,
  removals: RemovalPlan,
  current: TeamStatus,
  generation: number | undefined,
  now: Date,
): Promise<void> {
  const { removals: _before, ...rest } = current;
  const status = conditions({ ...rest, ...(removals.removals ? { removals: removals.removals } : {}) }, generation, now, removals.condition);
  try {
    await writeStatus(ctx.client, resources.team, team, status, { optimistic: true });
    if (removals.newHold) recordChange(ctx, holdEvent(team, removals));
    ctx.metrics.removalsHeld.set({ namespace: team.metadata.namespace ?? '', team: team.metadata.name ?? '' }, removals.decision?.held.length ?? 0);
  } catch (e) {
    if (!isConflict(e)) throw e;
  }
}

/** The Team that holds a namespace: the oldest one there (then by name), whatever came later. */
export function firstTeamIn(ctx: OperatorContext, namespace: string): Team | undefined {
  const teams = ctx.caches.teams
    .byIndex(index.byNamespace, namespace)
    .filter((t) => !t.metadata.deletionTimestamp || (t.metadata.finalizers ?? []).includes(FINALIZER));
  const created = (t: Team) => Date.parse(t.metadata.creationTimestamp ?? '') || 0;
  return teams.sort((a, b) => created(a) - created(b) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))[0];
}

/**
 * The owner's invitation. Its name is fixed by the team's uid, the owner's email and the
 * attempt (domain/invitation-state.ts): a reconcile from a stale cache meets AlreadyExists
 * instead of mailing the owner a second link.
 */
async function createOwnerInvitation(ctx: OperatorContext, team: Team): Promise<Invitation> {
  const email = normalizeEmail(team.spec.owner.email);
  const attempt = nextAttempt(
    ownerInvitations(ctx, team)
      .filter((i) => sameEmail(i.spec.email, email))
      .map((i) => i.metadata.labels),
  );
  const invitation: Invitation = {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: {
      name: invitationNameFor(`${(team.metadata.name ?? 'team').slice(0, 230)}-owner`, team.metadata.uid ?? '', attempt, email),
      namespace: team.metadata.namespace,
      labels: { [labels.managedBy]: 'roster', [labels.team]: team.metadata.name ?? '', [labels.owner]: 'true', [ATTEMPT_LABEL]: String(attempt) },
      ownerReferences: [controllerRef(team, 'Team')],
    },
    spec: {
      team: team.metadata.name ?? '',
      email: normalizeEmail(team.spec.owner.email),
      role: 'owner',
      ...(team.spec.owner.name ? { name: team.spec.owner.name } : {}),
    },
  };
  let created: Invitation;
  try {
    created = await ctx.client.create(resources.invitation, invitation);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    return await ctx.client.get<Invitation>(resources.invitation, team.metadata.namespace, invitation.metadata.name ?? '');
  }
  recordChange(ctx, {
    regarding: team,
    type: 'Normal',
    reason: 'OwnerInvited',
    action: 'Invite',
    note: `invitation ${created.metadata.name} created for owner ${invitation.spec.email}`,
    actor: changedBy(team) ?? createdBy(team),
  });
  return created;
}

/** The previous owner keeps admin access through a Membership the operator creates, already accepted. */
async function keepPreviousOwnerAsAdmin(ctx: OperatorContext, team: Team, previousOwner: string, memberships: Membership[]): Promise<void> {
  if (memberships.some((m) => sameEmail(m.spec.email, previousOwner))) return;
  const ownerInvitation = ownerInvitations(ctx, team).find((i) => i.status?.phase === 'Accepted' && sameEmail(i.spec.email, previousOwner));
  const local =
    previousOwner
      .split('@')[0]!
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^-+|-+$/g, '') || 'owner';
  const membership: Membership = {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Membership',
    metadata: {
      name: `${local.slice(0, 40)}-former-owner-${randomSuffix()}`,
      namespace: team.metadata.namespace,
      labels: { [labels.managedBy]: 'roster', [labels.team]: team.metadata.name ?? '', [labels.createdBy]: 'ownership-transfer' },
      ...(ownerInvitation ? { annotations: { [ACCEPTED_INVITATION_ANNOTATION]: ownerInvitation.metadata.name ?? '' } } : {}),
    },
    spec: { team: team.metadata.name ?? '', email: previousOwner, role: 'admin' },
  };
  try {
    const created = await ctx.client.create(resources.membership, membership);
    // The previous owner accepted long ago: record it, so no new invitation goes out.
    // A merge patch of this one field, not writeStatus: the rest of this status is the
    // Membership controller's, which may already be writing it (its finalizer, its first
    // status); a whole-status write from here would race it, and a 409 would mail an invitation.
    const acceptedAt = ctx
      .now()
      .toISOString()
      .replace(/\.\d+Z$/, 'Z');
    await ctx.client.patch(resources.membership, created.metadata.namespace, created.metadata.name ?? '', 'merge', { status: { acceptedAt } }, 'status');
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
}
