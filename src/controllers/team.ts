// Teams: invite the owner, give the owner their rights once they accept, carry out an
// ownership transfer, report seats and members, and on deletion remove every member's
// access before the Team goes.
import { reconcileSeatReservations } from '../admission/seat-ledger.ts';
import type { Invitation, Membership, Team, TeamStatus } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import type { Grant } from '../backends/identity/types.ts';
import { IdentityBackendError } from '../backends/identity/types.ts';
import { ConditionType, setCondition, type ConditionInput } from '../domain/conditions.ts';
import { normalizeEmail, sameEmail } from '../domain/email.ts';
import { accessTargets } from '../domain/scope.ts';
import { assignSeats } from '../domain/seats.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { isAlreadyExists, isConflict } from '../runtime/kube-client.ts';
import { writeStatus } from '../runtime/status.ts';
import { FINALIZER, index, labels, splitKey, type OperatorContext } from './context.ts';
import { ACCEPTED_INVITATION_ANNOTATION, backendFor } from './membership.ts';
import { addFinalizer, controllerRef, isControlledBy, randomSuffix, removeFinalizer } from './objects.ts';

export const OWNER_GRANT = 'owner';

function conditions(status: TeamStatus, generation: number | undefined, now: Date, ...inputs: ConditionInput[]): TeamStatus {
  let list = status.conditions;
  for (const input of inputs) list = setCondition(list, input, generation, now);
  return { ...status, conditions: list };
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
    // Members first: each Membership's own finalizer removes that person's access.
    for (const m of memberships) {
      if (!m.metadata.deletionTimestamp) await ctx.client.delete(resources.membership, namespace, m.metadata.name ?? '');
    }
    if (memberships.length > 0) return { kind: 'requeueAfter', ms: 1_000 };
    if (backend) await backend.remove(teamRef, OWNER_GRANT, { email: team.spec.owner.email });
    ctx.audit({ action: 'delete', entity: 'team', team: name, namespace, subject: team.spec.owner.email });
    await removeFinalizer(ctx.client, resources.team, team, FINALIZER);
    return { kind: 'done' };
  }
  if (await addFinalizer(ctx.client, resources.team, team, FINALIZER)) return { kind: 'done' };
  await reconcileSeatReservations(ctx, team);

  const current: TeamStatus = team.status ?? {};
  const ownerEmail = normalizeEmail(team.spec.owner.email);
  const invitations = ownerInvitations(ctx, team);
  const accepted = invitations.find((i) => i.status?.phase === 'Accepted' && sameEmail(i.spec.email, ownerEmail));
  let ownerActive = (current.owner?.phase === 'Active' && sameEmail(current.owner.email ?? '', ownerEmail)) || accepted !== undefined;

  // Ownership transfer: the new owner was an Active admin; the previous owner stays on as admin.
  const previousOwner = current.owner?.phase === 'Active' && current.owner.email && !sameEmail(current.owner.email, ownerEmail) ? current.owner.email : undefined;
  if (previousOwner) {
    const newOwnerMembership = memberships.find((m) => sameEmail(m.spec.email, ownerEmail));
    // Admission checks that the new owner is an Active admin; here an accepted admin is
    // enough, because once the transfer starts their Membership is superseded by ownership.
    if (newOwnerMembership?.spec.role === 'admin' && newOwnerMembership.status?.acceptedAt) {
      await keepPreviousOwnerAsAdmin(ctx, team, previousOwner, memberships);
      ownerActive = true;
      ctx.events.record(team, 'Normal', 'OwnershipTransferred', 'Transfer', `ownership moved from ${previousOwner} to ${ownerEmail}; ${previousOwner} stays on as admin`);
      ctx.audit({ action: 'transfer-ownership', entity: 'team', team: name, namespace, subject: ownerEmail, roleBefore: 'admin', roleAfter: 'owner', detail: `previous owner ${previousOwner} is now admin` });
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
    identityCondition = { type: ConditionType.Ready, status: 'False', reason: 'UnknownIdentityBackend', message: `identity backend "${team.spec.identity?.backend ?? 'default'}" is not configured in the operator` };
  } else if (ownerActive) {
    const projects = ctx.caches.projects.byIndex(index.byTeam, key);
    const grant: Grant = { team: teamRef, key: OWNER_GRANT, person: { email: ownerEmail, name: team.spec.owner.name }, role: 'owner', targets: accessTargets('owner', undefined, projects) };
    try {
      const result = await backend.ensure(grant);
      if (result.changes.length && current.owner?.phase === 'Active' && !previousOwner && current.observedGeneration === generation) {
        ctx.events.record(team, 'Warning', 'DriftCorrected', 'Sync', `owner access had drifted; restored: ${result.changes.join('; ')}`);
      } else if (current.owner?.phase !== 'Active') {
        ctx.events.record(team, 'Normal', 'OwnerActive', 'Provision', `${ownerEmail} accepted ownership of team ${name}`);
        ctx.audit({ action: 'activate', entity: 'team', team: name, namespace, subject: ownerEmail, roleAfter: 'owner' });
      }
    } catch (e) {
      ctx.metrics.backendErrors.inc({ backend: backend.name, operation: 'ensure' });
      const reason = e instanceof IdentityBackendError ? e.reason.replace(/[^A-Za-z0-9]/g, '') || 'BackendError' : 'BackendError';
      identityCondition = { type: ConditionType.Ready, status: 'False', reason, message: e instanceof Error ? e.message : String(e) };
    }
  }

  const seats = assignSeats(team, memberships, ctx.caches.invitations.byIndex(index.byTeam, key), { now });
  const status = conditions(
    {
      ...current,
      observedGeneration: generation,
      owner: { email: ownerEmail, phase: ownerActive ? 'Active' : 'Invited', ...(ownerInvitation ? { invitation: ownerInvitation } : {}) },
      seats: seats.usage,
      members: seats.members,
    },
    generation,
    now,
    { type: ConditionType.OwnerActive, status: ownerActive ? 'True' : 'False', reason: ownerActive ? 'Accepted' : 'AwaitingAcceptance', message: ownerActive ? `${ownerEmail} owns the team` : `waiting for ${ownerEmail} to accept the invitation` },
    { type: ConditionType.SeatsAvailable, status: seats.usage.available > 0 ? 'True' : 'False', reason: seats.usage.available > 0 ? 'SeatsLeft' : 'SeatLimitReached', message: `${seats.usage.limit - seats.usage.available} of ${seats.usage.limit} seats in use` },
    identityCondition,
  );
  try {
    await writeStatus(ctx.client, resources.team, team, status);
  } catch (e) {
    if (!isConflict(e)) throw e;
  }
  if (identityCondition.status === 'False' && backend) throw new Error(identityCondition.message);
  return { kind: 'done' };
}

async function createOwnerInvitation(ctx: OperatorContext, team: Team): Promise<Invitation> {
  const invitation: Invitation = {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: {
      name: `${(team.metadata.name ?? 'team').slice(0, 230)}-owner-${randomSuffix()}`,
      namespace: team.metadata.namespace,
      labels: { [labels.managedBy]: 'roster', [labels.team]: team.metadata.name ?? '', [labels.owner]: 'true' },
      ownerReferences: [controllerRef(team, 'Team')],
    },
    spec: {
      team: team.metadata.name ?? '',
      email: normalizeEmail(team.spec.owner.email),
      role: 'owner',
      ...(team.spec.owner.name ? { name: team.spec.owner.name } : {}),
    },
  };
  const created = await ctx.client.apply(resources.invitation, invitation);
  ctx.events.record(team, 'Normal', 'OwnerInvited', 'Invite', `invitation ${created.metadata.name} created for owner ${invitation.spec.email}`);
  return created;
}

/** The previous owner keeps admin access through a Membership the operator creates, already accepted. */
async function keepPreviousOwnerAsAdmin(ctx: OperatorContext, team: Team, previousOwner: string, memberships: Membership[]): Promise<void> {
  if (memberships.some((m) => sameEmail(m.spec.email, previousOwner))) return;
  const ownerInvitation = ownerInvitations(ctx, team).find((i) => i.status?.phase === 'Accepted' && sameEmail(i.spec.email, previousOwner));
  const local = previousOwner.split('@')[0]!.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '') || 'owner';
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
    const acceptedAt = ctx.now().toISOString().replace(/\.\d+Z$/, 'Z');
    await ctx.client.patch(resources.membership, created.metadata.namespace, created.metadata.name ?? '', 'merge', { status: { acceptedAt } }, 'status');
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
}
