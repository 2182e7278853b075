// Memberships: invite the person, provision them once they accept, keep the identity
// backend in line (role, scope, drift), and remove access on expiry, on going over the
// seat limit, and before the object disappears (finalizer).
import { changedBy } from '../admission/actor.ts';
import type { Invitation, Membership, MembershipStatus, Team } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import type { Grant, IdentityBackend } from '../backends/identity/types.ts';
import { IdentityBackendError } from '../backends/identity/types.ts';
import { ConditionType, getCondition, setCondition, type ConditionInput } from '../domain/conditions.ts';
import { sameEmail } from '../domain/email.ts';
import { accessTargets } from '../domain/scope.ts';
import { assignSeats } from '../domain/seats.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { isConflict, isNotFound } from '../runtime/kube-client.ts';
import { statusChanged, writeStatus } from '../runtime/status.ts';
import { FINALIZER, index, labels, splitKey, type OperatorContext } from './context.ts';
import { addFinalizer, controllerRef, isControlledBy, randomSuffix, removeFinalizer } from './objects.ts';

type Status = MembershipStatus;

export const grantKey = (m: Membership): string => `member:${m.metadata.name}`;

function conditions(status: Status, generation: number | undefined, now: Date, ...inputs: ConditionInput[]): Status {
  let list = status.conditions;
  for (const input of inputs) list = setCondition(list, input, generation, now);
  return { ...status, conditions: list };
}

/** The invitations that belong to a membership (created for it, or accepted into it). */
export function invitationsOf(ctx: OperatorContext, m: Membership): Invitation[] {
  return ctx.caches.invitations.byIndex(index.byMembership, `${m.metadata.namespace}/${m.metadata.name}`);
}

/** Names the Accepted invitation a Membership was created from (standalone accept, ownership transfer). */
export const ACCEPTED_INVITATION_ANNOTATION = 'roster.dev/invitation';

/**
 * When the person accepted: the membership's own record, an accepted invitation of its own,
 * or the accepted invitation it was created from (same person, same namespace). Trusting
 * the annotation grants nothing new: it only counts an acceptance that person already gave.
 */
function acceptance(ctx: OperatorContext, m: Membership): string | undefined {
  if (m.status?.acceptedAt) return m.status.acceptedAt;
  const named = m.metadata.annotations?.[ACCEPTED_INVITATION_ANNOTATION];
  const candidates = [...invitationsOf(ctx, m), ...(named ? [ctx.caches.invitations.get(m.metadata.namespace, named)] : [])];
  const accepted = candidates.find((i) => i?.status?.phase === 'Accepted' && i.spec.team === m.spec.team && sameEmail(i.spec.email, m.spec.email));
  return accepted?.status?.acceptedAt;
}

export function backendFor(ctx: OperatorContext, team: Team): IdentityBackend | undefined {
  return ctx.identity(team.spec.identity?.backend ?? 'default');
}

export async function reconcileMembership(ctx: OperatorContext, key: string): Promise<ReconcileResult> {
  const [namespace, name] = splitKey(key);
  const m = ctx.caches.memberships.get(namespace, name);
  if (!m) return { kind: 'done' };
  const now = ctx.now();
  const generation = m.metadata.generation;
  const team = ctx.caches.teams.get(namespace, m.spec.team);
  const backend = team ? backendFor(ctx, team) : undefined;
  const teamRef = { namespace, name: m.spec.team };

  if (m.metadata.deletionTimestamp) {
    if (!(m.metadata.finalizers ?? []).includes(FINALIZER)) return { kind: 'done' };
    const removed = backend ? await removeAccess(ctx, backend, m) : [];
    for (const inv of invitationsOf(ctx, m)) {
      if (inv.status?.phase !== 'Accepted' && isControlledBy(inv, m)) await ctx.client.delete(resources.invitation, namespace, inv.metadata.name ?? '');
    }
    ctx.audit({ action: 'remove', entity: 'member', team: m.spec.team, namespace, subject: m.spec.email, roleBefore: m.spec.role, detail: removed.join('; ') || undefined });
    ctx.events.record(m, 'Normal', 'AccessRemoved', 'Delete', `access of ${m.spec.email} removed${removed.length ? `: ${removed.length} grant(s)` : ''}`);
    await removeFinalizer(ctx.client, resources.membership, m, FINALIZER);
    return { kind: 'done' };
  }
  if (await addFinalizer(ctx.client, resources.membership, m, FINALIZER)) return { kind: 'done' }; // the update brings us back

  const current: Status = m.status ?? {};
  const write = async (status: Status) => {
    try {
      await writeStatus(ctx.client, resources.membership, m, { ...status, observedGeneration: generation });
    } catch (e) {
      if (!isConflict(e)) throw e;
    }
  };

  if (!team) {
    await write(conditions(current, generation, now, { type: ConditionType.Ready, status: 'False', reason: 'TeamNotFound', message: `team ${m.spec.team} does not exist in namespace ${namespace}; create it or fix spec.team` }));
    return { kind: 'done' };
  }
  if (!backend) {
    await write(conditions({ ...current, phase: 'Failed' }, generation, now, { type: ConditionType.Ready, status: 'False', reason: 'UnknownIdentityBackend', message: `team ${team.metadata.name} uses identity backend "${team.spec.identity?.backend ?? 'default'}", which the operator does not configure` }));
    return { kind: 'done' };
  }

  // Expired: access ends, the pending link dies.
  const expiresAt = m.spec.expiresAt ? Date.parse(m.spec.expiresAt) : undefined;
  if (expiresAt !== undefined && expiresAt <= now.getTime()) {
    const removed = await removeAccess(ctx, backend, m);
    await revokePending(ctx, m);
    const { invitation: _none, ...rest } = current;
    const status = conditions({ ...rest, phase: 'Expired', identity: undefined }, generation, now, { type: ConditionType.Ready, status: 'False', reason: 'Expired', message: `access ended at ${m.spec.expiresAt}; raise spec.expiresAt to restore it` }, { type: ConditionType.IdentitySynced, status: 'True', reason: 'AccessRemoved', message: 'no access granted' });
    if (current.phase !== 'Expired') {
      ctx.events.record(m, 'Normal', 'Expired', 'Expire', `access of ${m.spec.email} expired`);
      ctx.audit({ action: 'expire', entity: 'member', team: team.metadata.name ?? '', namespace, subject: m.spec.email, roleBefore: m.spec.role, detail: removed.join('; ') || undefined });
    }
    await write(status);
    return { kind: 'done' };
  }

  // The owner holds the team through Team spec.owner; a Membership for the same person is superseded.
  if (sameEmail(team.spec.owner.email, m.spec.email)) {
    await removeAccess(ctx, backend, m);
    await revokePending(ctx, m);
    await write(conditions({ ...current, phase: 'Failed', identity: undefined }, generation, now, { type: ConditionType.Ready, status: 'False', reason: 'SupersededByOwnership', message: `${m.spec.email} is the owner of team ${team.metadata.name}; delete this Membership` }));
    return { kind: 'done' };
  }

  // Seats: the controller's second line behind admission.
  const teamKey = `${namespace}/${team.metadata.name}`;
  const seats = assignSeats(team, ctx.caches.memberships.byIndex(index.byTeam, teamKey), ctx.caches.invitations.byIndex(index.byTeam, teamKey), { now });
  if (seats.memberships.get(name) === 'overLimit') {
    await removeAccess(ctx, backend, m);
    await revokePending(ctx, m);
    if (current.phase !== 'OverSeatLimit') ctx.events.record(m, 'Warning', 'OverSeatLimit', 'Admit', `team ${team.metadata.name} has no seat left for ${m.spec.email}`);
    await write(conditions({ ...current, phase: 'OverSeatLimit', identity: undefined }, generation, now, { type: ConditionType.Ready, status: 'False', reason: 'OverSeatLimit', message: `team ${team.metadata.name} has ${seats.usage.limit - seats.usage.available} of ${seats.usage.limit} seats in use; raise spec.seats or remove a member` }));
    return { kind: 'done' };
  }

  const acceptedAt = acceptance(ctx, m);
  if (!acceptedAt && m.metadata.labels?.[labels.createdBy] === 'ownership-transfer') {
    // The Team controller records the former owner's acceptance right after creating this.
    return { kind: 'requeueAfter', ms: 1_000 };
  }
  if (!acceptedAt) {
    const invitation = await ensureInvitation(ctx, m, team);
    await write(
      conditions({ ...current, phase: 'Invited', invitation: invitation.metadata.name }, generation, now,
        { type: ConditionType.Accepted, status: 'False', reason: 'AwaitingAcceptance', message: `invitation ${invitation.metadata.name} sent to ${m.spec.email}` },
        { type: ConditionType.Ready, status: 'False', reason: 'AwaitingAcceptance', message: `waiting for ${m.spec.email} to accept` }),
    );
    return requeueForExpiry(expiresAt, now);
  }

  // Accepted: provision exactly what the manifests say.
  const projects = ctx.caches.projects.byIndex(index.byTeam, teamKey);
  const targets = accessTargets(m.spec.role, m.spec.projects, projects);
  const grant: Grant = { team: teamRef, key: grantKey(m), person: { email: m.spec.email, name: m.spec.name }, role: m.spec.role, targets };
  const scope = targets.map((t) => `${t.project}/${t.environment}`);
  let result;
  try {
    result = await backend.ensure(grant);
  } catch (e) {
    ctx.metrics.backendErrors.inc({ backend: backend.name, operation: 'ensure' });
    const reason = e instanceof IdentityBackendError ? e.reason.replace(/[^A-Za-z0-9]/g, '') || 'BackendError' : 'BackendError';
    await write(conditions({ ...current, acceptedAt }, generation, now, { type: ConditionType.IdentitySynced, status: 'False', reason, message: e instanceof Error ? e.message : String(e) }, { type: ConditionType.Ready, status: 'False', reason, message: `identity backend ${backend.name} failed; retrying` }));
    throw e;
  }
  const wasSynced = getCondition(current.conditions, ConditionType.IdentitySynced)?.status === 'True';
  const specUnchanged = current.observedGeneration === generation && current.identity?.role === m.spec.role;
  if (result.changes.length && wasSynced && specUnchanged && current.phase === 'Active') {
    ctx.events.record(m, 'Warning', 'DriftCorrected', 'Sync', `identity backend ${backend.name} had drifted; restored: ${result.changes.join('; ')}`);
    ctx.audit({ action: 'drift-corrected', entity: 'member', team: team.metadata.name ?? '', namespace, subject: m.spec.email, roleAfter: m.spec.role, detail: result.changes.join('; ') });
  } else if (current.phase !== 'Active') {
    ctx.events.record(m, 'Normal', 'Activated', 'Provision', `${m.spec.email} accepted and has ${m.spec.role} access`);
    ctx.audit({ action: 'activate', entity: 'member', team: team.metadata.name ?? '', namespace, subject: m.spec.email, roleAfter: m.spec.role });
  } else if (current.identity?.role !== m.spec.role || statusChanged(current.identity?.scope, scope)) {
    ctx.events.record(m, 'Normal', 'AccessChanged', 'Provision', `${m.spec.email} now has ${m.spec.role} access${scope.length ? ` in ${scope.join(', ')}` : ''}`);
    ctx.audit({ action: 'change-role', entity: 'member', team: team.metadata.name ?? '', namespace, subject: m.spec.email, roleBefore: current.identity?.role, roleAfter: m.spec.role, actor: changedBy(m) });
  }
  const { invitation: _done, ...rest } = current;
  await write(
    conditions({ ...rest, phase: 'Active', acceptedAt, identity: { backend: backend.name, subject: result.subject, role: m.spec.role, scope } }, generation, now,
      { type: ConditionType.Accepted, status: 'True', reason: 'Accepted', message: `accepted at ${acceptedAt}` },
      { type: ConditionType.IdentitySynced, status: 'True', reason: 'Synced', message: `identity backend ${backend.name} matches` },
      { type: ConditionType.Ready, status: 'True', reason: 'Active', message: `${m.spec.email} has ${m.spec.role} access` }),
  );
  return requeueForExpiry(expiresAt, now);
}

function requeueForExpiry(expiresAt: number | undefined, now: Date): ReconcileResult {
  return expiresAt === undefined ? { kind: 'done' } : { kind: 'requeueAfter', ms: Math.max(0, expiresAt - now.getTime()) + 50 };
}

async function removeAccess(ctx: OperatorContext, backend: IdentityBackend, m: Membership): Promise<string[]> {
  try {
    return await backend.remove({ namespace: m.metadata.namespace ?? '', name: m.spec.team }, grantKey(m), { email: m.spec.email, name: m.spec.name });
  } catch (e) {
    ctx.metrics.backendErrors.inc({ backend: backend.name, operation: 'remove' });
    throw e;
  }
}

/** Pending invitations of the membership are deleted: their links die and their seats free. */
async function revokePending(ctx: OperatorContext, m: Membership): Promise<void> {
  for (const inv of invitationsOf(ctx, m)) {
    if (!isControlledBy(inv, m) || inv.status?.phase === 'Accepted') continue;
    try {
      await ctx.client.delete(resources.invitation, m.metadata.namespace, inv.metadata.name ?? '');
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

/** The membership's invitation, owned by it and kept in line with it through server-side apply. */
async function ensureInvitation(ctx: OperatorContext, m: Membership, team: Team): Promise<Invitation> {
  const live = invitationsOf(ctx, m).filter((i) => isControlledBy(i, m) && i.status?.phase !== 'Revoked' && sameEmail(i.spec.email, m.spec.email));
  const existing = live[0];
  const desired: Invitation = {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: {
      name: existing?.metadata.name ?? `${(m.metadata.name ?? 'member').slice(0, 240)}-${randomSuffix()}`,
      namespace: m.metadata.namespace,
      labels: { [labels.managedBy]: 'roster', [labels.team]: team.metadata.name ?? '', [labels.membership]: (m.metadata.name ?? '').slice(0, 63) },
      ownerReferences: [controllerRef(m, 'Membership')],
    },
    spec: {
      team: m.spec.team,
      email: m.spec.email,
      role: m.spec.role,
      ...(m.spec.name ? { name: m.spec.name } : {}),
      ...(m.spec.projects ? { projects: m.spec.projects } : {}),
    },
  };
  if (existing) {
    const inLine = existing.spec.role === desired.spec.role && !statusChanged(existing.spec.projects, desired.spec.projects) && existing.spec.name === desired.spec.name;
    if (!inLine) await ctx.client.apply(resources.invitation, desired);
    return existing;
  }
  const created = await ctx.client.apply(resources.invitation, desired);
  ctx.events.record(m, 'Normal', 'Invited', 'Invite', `invitation ${created.metadata.name} created for ${m.spec.email}`);
  return created;
}
