// Teams: gather the facts from the caches (team/gather.ts), decide with the pure planner
// (team/plan.ts), and carry the decision out here: invite the owner, give the owner their
// rights once they accept, carry out an ownership transfer, report seats, members and held
// removals, and on deletion remove every member's access before the Team goes.
import { recordChange } from '../audit/record.ts';
import type { Invitation, Team, TeamStatus } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import { IdentityBackendError, type IdentityBackend } from '../backends/identity/types.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { isAlreadyExists } from '../runtime/kube-client.ts';
import { reconcileSeatReservations } from '../seats/ledger.ts';
import { FINALIZER, splitKey, type OperatorContext } from './context.ts';
import { backendFor } from './membership/gather.ts';
import { addFinalizer, removeFinalizer, writeStatusWon } from './objects.ts';
import { gatherTeam } from './team/gather.ts';
import { OWNER_GRANT, planTeam, type TeamOutcome, type TeamStep } from './team/plan.ts';

export { OWNER_GRANT } from './team/plan.ts';
export { firstTeamIn, ownerInvitations } from './team/gather.ts';

export async function reconcileTeam(ctx: OperatorContext, key: string): Promise<ReconcileResult> {
  const [namespace, name] = splitKey(key);
  const team = ctx.caches.teams.get(namespace, name);
  if (!team) return { kind: 'done' };
  const step = planTeam(gatherTeam(ctx, team));
  return await execute(ctx, team, backendFor(ctx, team), step);
}

async function execute(ctx: OperatorContext, team: Team, backend: IdentityBackend | undefined, step: TeamStep): Promise<ReconcileResult> {
  const namespace = team.metadata.namespace ?? '';
  const name = team.metadata.name ?? '';
  switch (step.kind) {
    case 'nothing':
      return { kind: 'done' };
    case 'requeue':
      return { kind: 'requeueAfter', ms: step.ms };
    case 'addFinalizer':
      await addFinalizer(ctx.client, resources.team, team, FINALIZER);
      return { kind: 'done' };
    case 'namespaceTaken':
      if ((await write(ctx, team, step.status, false)) && step.change) recordChange(ctx, step.change);
      return { kind: 'done' };
    case 'deleteMembers': {
      for (const m of step.memberships) await ctx.client.delete(resources.membership, namespace, m);
      // Deleting a team is a mass removal too: the brake holds it the same way.
      if ((await write(ctx, team, step.status, true)) && step.hold) recordChange(ctx, step.hold);
      ctx.metrics.removalsHeld.set({ namespace, team: name }, step.status.removals?.held?.length ?? 0);
      return { kind: 'requeueAfter', ms: 1_000 };
    }
    case 'finalize':
      if (backend) await backend.remove({ namespace, name }, OWNER_GRANT, { email: team.spec.owner.email }, { signal: ctx.signal });
      await removeFinalizer(ctx.client, resources.team, team, FINALIZER);
      recordChange(ctx, step.change);
      return { kind: 'done' };
    case 'sync':
      return await sync(ctx, team, backend, step);
  }
}

async function sync(
  ctx: OperatorContext,
  team: Team,
  backend: IdentityBackend | undefined,
  step: Extract<TeamStep, { kind: 'sync' }>,
): Promise<ReconcileResult> {
  const namespace = team.metadata.namespace ?? '';
  await reconcileSeatReservations(ctx, team);
  if (step.formerOwnerMembership) await keepFormerOwner(ctx, step.formerOwnerMembership);
  for (const inv of step.revokeInvitations) await ctx.client.patch(resources.invitation, namespace, inv, 'merge', { spec: { revoked: true } });
  let ownerInvitation = step.ownerInvitation;
  if (step.createOwnerInvitation) ownerInvitation = (await createOwnerInvitation(ctx, team, step.createOwnerInvitation)).metadata.name;
  let grant: TeamOutcome['grant'];
  if (step.grant && backend) {
    try {
      grant = { result: await backend.ensure(step.grant, { signal: ctx.signal }) };
    } catch (e) {
      ctx.metrics.backendErrors.inc({ backend: backend.name, operation: 'ensure' });
      const reason = e instanceof IdentityBackendError ? e.reason.replace(/[^A-Za-z0-9]/g, '') || 'BackendError' : 'BackendError';
      grant = { failed: { reason, message: e instanceof Error ? e.message : String(e) } };
    }
  }
  const outcome = step.result({ ...(ownerInvitation ? { ownerInvitation } : {}), ...(grant ? { grant } : {}) });
  if (outcome.drift) ctx.events.record(team, 'Warning', 'DriftCorrected', 'Sync', outcome.drift);
  if (await write(ctx, team, outcome.status, outcome.optimistic)) {
    for (const change of outcome.changes) recordChange(ctx, change);
    ctx.metrics.removalsHeld.set({ namespace, team: team.metadata.name ?? '' }, outcome.status.removals?.held?.length ?? 0);
  }
  if (outcome.failure) throw new Error(outcome.failure);
  return { kind: 'done' };
}

const write = (ctx: OperatorContext, team: Team, status: TeamStatus, optimistic: boolean): Promise<boolean> =>
  writeStatusWon(ctx.client, resources.team, team, status, optimistic);

/** Creates the owner's invitation (AlreadyExists: a reconcile from a stale cache made it: the same one). */
async function createOwnerInvitation(
  ctx: OperatorContext,
  team: Team,
  create: NonNullable<Extract<TeamStep, { kind: 'sync' }>['createOwnerInvitation']>,
): Promise<Invitation> {
  try {
    const created = await ctx.client.create(resources.invitation, create.invitation);
    recordChange(ctx, create.created(created));
    return created;
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    return await ctx.client.get<Invitation>(resources.invitation, team.metadata.namespace, create.invitation.metadata.name ?? '');
  }
}

/** The previous owner keeps admin access through a Membership the operator creates, already accepted. */
async function keepFormerOwner(ctx: OperatorContext, membership: NonNullable<Extract<TeamStep, { kind: 'sync' }>['formerOwnerMembership']>): Promise<void> {
  try {
    const created = await ctx.client.create(resources.membership, membership);
    // The previous owner accepted long ago: record it, so no new invitation goes out. A merge
    // patch of this one field, not writeStatus: the rest of this status is the Membership
    // controller's, which may already be writing it; a whole-status write from here would
    // race it, and a 409 would mail an invitation.
    const acceptedAt = ctx
      .now()
      .toISOString()
      .replace(/\.\d+Z$/, 'Z');
    await ctx.client.patch(resources.membership, created.metadata.namespace, created.metadata.name ?? '', 'merge', { status: { acceptedAt } }, 'status');
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
}
