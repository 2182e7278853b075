// Memberships: gather the facts from the caches (membership/gather.ts), decide with the pure
// planner (membership/plan.ts), and carry the decision out here — the one place where a
// person's access is granted or removed in the identity backend.
import { recordChange } from '../audit/record.ts';
import type { Invitation, Membership } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import type { IdentityBackend } from '../backends/identity/types.ts';
import { IdentityBackendError } from '../backends/identity/types.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { isAlreadyExists, isNotFound } from '../runtime/kube-client.ts';
import { FINALIZER, splitKey, type OperatorContext } from './context.ts';
import { backendFor, gatherMembership } from './membership/gather.ts';
import { grantKey, planMembership, type MembershipStep, type Status } from './membership/plan.ts';
import { addFinalizer, removeFinalizer, writeStatusWon } from './objects.ts';

export { ACCEPTED_INVITATION_ANNOTATION, backendFor, invitationsOf } from './membership/gather.ts';
export { grantKey } from './membership/plan.ts';

export async function reconcileMembership(ctx: OperatorContext, key: string): Promise<ReconcileResult> {
  const [namespace, name] = splitKey(key);
  const m = ctx.caches.memberships.get(namespace, name);
  if (!m) return { kind: 'done' };
  const facts = gatherMembership(ctx, m);
  const team = facts.team;
  const backend = team ? backendFor(ctx, team) : undefined;
  return await execute(ctx, m, backend, planMembership(facts));
}

const after = (ms: number | undefined): ReconcileResult => (ms === undefined ? { kind: 'done' } : { kind: 'requeueAfter', ms });

async function execute(ctx: OperatorContext, m: Membership, backend: IdentityBackend | undefined, step: MembershipStep): Promise<ReconcileResult> {
  switch (step.kind) {
    case 'nothing':
      return { kind: 'done' };
    case 'requeue':
      return { kind: 'requeueAfter', ms: step.ms };
    case 'addFinalizer':
      await addFinalizer(ctx.client, resources.membership, m, FINALIZER);
      return { kind: 'done' }; // the update brings us back
    case 'holdRemoval':
      await write(ctx, m, step.status, false);
      return { kind: 'done' }; // the Team's status names it once it is let through, and that brings us back
    case 'finalize': {
      const removed = backend ? await removeAccess(ctx, backend, m) : [];
      await deleteInvitations(ctx, m, step.revokeInvitations);
      // Recorded once: only the reconcile whose finalizer removal wins says so (a stale one gets 409).
      await removeFinalizer(ctx.client, resources.membership, m, FINALIZER);
      recordChange(ctx, step.change(removed));
      return { kind: 'done' };
    }
    case 'withdraw': {
      const removed = step.removeAccess && backend ? await removeAccess(ctx, backend, m) : [];
      await deleteInvitations(ctx, m, step.revokeInvitations);
      if ((await write(ctx, m, step.status, step.optimistic)) && step.change) recordChange(ctx, step.change(removed));
      return after(step.requeueMs);
    }
    case 'invite': {
      const invitation = await ensureInvitation(ctx, m, step);
      await write(ctx, m, step.status(invitation), false);
      return after(step.requeueMs);
    }
    case 'provision': {
      if (!backend) return { kind: 'done' }; // the planner only provisions with a configured backend
      let result;
      try {
        result = await backend.ensure(step.grant, { signal: ctx.signal });
      } catch (e) {
        ctx.metrics.backendErrors.inc({ backend: backend.name, operation: 'ensure' });
        const reason = e instanceof IdentityBackendError ? e.reason.replace(/[^A-Za-z0-9]/g, '') || 'BackendError' : 'BackendError';
        await write(ctx, m, step.failed(reason, e instanceof Error ? e.message : String(e)), false);
        throw e;
      }
      const outcome = step.synced(result);
      const won = await write(ctx, m, outcome.status, outcome.optimistic);
      // Only the reconcile whose status write won says what changed (a stale one would repeat
      // it); drift this reconcile corrected is its own to report.
      if (outcome.change && (won || outcome.change.reason === 'DriftCorrected')) recordChange(ctx, outcome.change);
      return after(step.requeueMs);
    }
  }
}

const write = (ctx: OperatorContext, m: Membership, status: Status, optimistic: boolean): Promise<boolean> =>
  writeStatusWon(ctx.client, resources.membership, m, status, optimistic);

/** The one place a Membership's access is removed from the identity backend. */
async function removeAccess(ctx: OperatorContext, backend: IdentityBackend, m: Membership): Promise<string[]> {
  try {
    return await backend.remove(
      { namespace: m.metadata.namespace ?? '', name: m.spec.team },
      grantKey(m),
      { email: m.spec.email, name: m.spec.name },
      { signal: ctx.signal },
    );
  } catch (e) {
    ctx.metrics.backendErrors.inc({ backend: backend.name, operation: 'remove' });
    throw e;
  }
}

/** Pending invitations of the membership are deleted: their links die and their seats free. */
async function deleteInvitations(ctx: OperatorContext, m: Membership, names: readonly string[]): Promise<void> {
  for (const name of names) {
    try {
      await ctx.client.delete(resources.invitation, m.metadata.namespace, name);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

/** Creates the invitation the plan names (AlreadyExists: a reconcile from a stale cache made it), or brings the live one in line. */
async function ensureInvitation(ctx: OperatorContext, m: Membership, step: Extract<MembershipStep, { kind: 'invite' }>): Promise<Invitation> {
  if (step.current) {
    if (!step.inLine) await ctx.client.apply(resources.invitation, step.invitation);
    return step.current;
  }
  let created: Invitation;
  try {
    created = await ctx.client.create(resources.invitation, step.invitation);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    return await ctx.client.get<Invitation>(resources.invitation, m.metadata.namespace, step.invitation.metadata.name ?? '');
  }
  recordChange(ctx, step.created(created));
  return created;
}
