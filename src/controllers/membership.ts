// Memberships: invite the person, provision them once they accept, keep the identity
// backend in line (role, scope, drift), and remove access on expiry, on going over the
// seat limit, and before the object disappears (finalizer).
import { changedBy, createdBy, deletedBy } from '../audit/actor.ts';
import { recordChange } from '../audit/record.ts';
import type { Invitation, Membership, MembershipStatus, Team } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import type { Grant, IdentityBackend } from '../backends/identity/types.ts';
import { IdentityBackendError } from '../backends/identity/types.ts';
import { ConditionType, getCondition, removeCondition, setConditions, type ConditionInput } from '../domain/conditions.ts';
import { sameEmail } from '../domain/email.ts';
import { attemptOf, ATTEMPT_LABEL, deliverySummaryOf, invitationNameFor, nextAttempt, type DeliverySummary } from '../domain/invitation-state.ts';
import { accessTargets } from '../domain/scope.ts';
import { assignSeats } from '../domain/seats.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { isAlreadyExists, isConflict, isNotFound } from '../runtime/kube-client.ts';
import { statusChanged, writeStatus } from '../runtime/status.ts';
import { FINALIZER, index, labels, splitKey, type OperatorContext } from './context.ts';
import { addFinalizer, controllerRef, isControlledBy, isNamespaceTerminating, removeFinalizer } from './objects.ts';
import { removalLetThrough } from './removals.ts';

type Status = MembershipStatus;

export const grantKey = (m: Membership): string => `member:${m.metadata.name}`;

function conditions(status: Status, generation: number | undefined, now: Date, ...inputs: ConditionInput[]): Status {
  return { ...status, conditions: setConditions('Membership', status.conditions, inputs, generation, now) };
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
    // The webhook's deletion hook names who deleted it a moment after the delete; wait briefly for it.
    const actor = deletedBy(m);
    const sinceDeletion = now.getTime() - Date.parse(m.metadata.deletionTimestamp);
    if (!actor && sinceDeletion >= 0 && sinceDeletion < 2_000) return { kind: 'requeueAfter', ms: 250 };
    // The removal brake (SPEC §8): the Team controller lets removals through one team at a time.
    if (!removalLetThrough(ctx, m, team, now)) {
      const held = setConditions(
        'Membership',
        m.status?.conditions,
        [
          {
            type: ConditionType.Ready,
            status: 'False',
            reason: 'RemovalHeld',
            message: `the removal brake holds this removal; ${m.spec.email} keeps access until an owner or admin runs: kubectl roster release ${m.spec.team} -n ${namespace}`,
          },
        ],
        generation,
        now,
      );
      await writeStatus(ctx.client, resources.membership, m, { ...(m.status ?? {}), conditions: held });
      return { kind: 'done' }; // the Team's status names it once it is let through, and that brings us back
    }
    const removed = backend ? await removeAccess(ctx, backend, m) : [];
    for (const inv of invitationsOf(ctx, m)) {
      if (inv.status?.phase !== 'Accepted' && isControlledBy(inv, m)) await ctx.client.delete(resources.invitation, namespace, inv.metadata.name ?? '');
    }
    // Recorded once: only the reconcile whose finalizer removal wins says so (a stale one gets 409).
    await removeFinalizer(ctx.client, resources.membership, m, FINALIZER);
    recordChange(ctx, {
      regarding: m,
      type: 'Normal',
      reason: 'AccessRemoved',
      action: 'Delete',
      note: `access of ${m.spec.email} removed${removed.length ? `: ${removed.length} grant(s)` : ''}`,
      actor,
      audit: {
        action: 'remove',
        entity: 'member',
        team: m.spec.team,
        namespace,
        subject: m.spec.email,
        roleBefore: m.spec.role,
        detail: removed.join('; ') || undefined,
      },
    });
    return { kind: 'done' };
  }
  // The namespace is going, and the Membership with it: creating its invitation there only
  // earns a 403 (issue 10 item 8). The finalizer above removes access once it is deleted.
  if (isNamespaceTerminating(ctx.caches.namespaces, namespace)) return { kind: 'done' };
  if (await addFinalizer(ctx.client, resources.membership, m, FINALIZER)) return { kind: 'done' }; // the update brings us back

  const current: Status = m.status ?? {};
  /** Writes the status; false when another reconcile's write won (its Events are its own). */
  const write = async (status: Status, optimistic = false): Promise<boolean> => {
    try {
      await writeStatus(ctx.client, resources.membership, m, { ...status, observedGeneration: generation }, { optimistic });
      return true;
    } catch (e) {
      if (!isConflict(e)) throw e;
      return false;
    }
  };

  if (!team) {
    await write(
      conditions(current, generation, now, {
        type: ConditionType.Ready,
        status: 'False',
        reason: 'TeamNotFound',
        message: `team ${m.spec.team} does not exist in namespace ${namespace}; create it or fix spec.team`,
      }),
    );
    return { kind: 'done' };
  }
  if (!backend) {
    await write(
      conditions({ ...current, phase: 'Failed' }, generation, now, {
        type: ConditionType.Ready,
        status: 'False',
        reason: 'UnknownIdentityBackend',
        message: `team ${team.metadata.name} uses identity backend "${team.spec.identity?.backend ?? 'default'}", which the operator does not configure`,
      }),
    );
    return { kind: 'done' };
  }

  // Expired: access ends, the pending link dies.
  const expiresAt = m.spec.expiresAt ? Date.parse(m.spec.expiresAt) : undefined;
  if (expiresAt !== undefined && expiresAt <= now.getTime()) {
    const removed = await removeAccess(ctx, backend, m);
    await revokePending(ctx, m);
    const { invitation: _none, ...rest } = settled(current);
    const status = conditions(
      { ...rest, phase: 'Expired', identity: undefined },
      generation,
      now,
      { type: ConditionType.Ready, status: 'False', reason: 'Expired', message: `access ended at ${m.spec.expiresAt}; raise spec.expiresAt to restore it` },
      { type: ConditionType.IdentitySynced, status: 'True', reason: 'AccessRemoved', message: 'no access granted' },
    );
    if ((await write(status, current.phase !== 'Expired')) && current.phase !== 'Expired') {
      // Expiry was set by whoever last wrote spec.expiresAt.
      recordChange(ctx, {
        regarding: m,
        type: 'Normal',
        reason: 'Expired',
        action: 'Expire',
        note: `access of ${m.spec.email} expired at ${m.spec.expiresAt}`,
        actor: changedBy(m) ?? createdBy(m),
        audit: {
          action: 'expire',
          entity: 'member',
          team: team.metadata.name ?? '',
          namespace,
          subject: m.spec.email,
          roleBefore: m.spec.role,
          detail: removed.join('; ') || undefined,
        },
      });
    }
    return { kind: 'done' };
  }

  // The owner holds the team through Team spec.owner; a Membership for the same person is superseded.
  if (sameEmail(team.spec.owner.email, m.spec.email)) {
    await removeAccess(ctx, backend, m);
    await revokePending(ctx, m);
    // Not a failure (GitOps tools must not show Degraded after every transfer): ownership
    // includes everything this grants, and it takes effect again if ownership moves on.
    await write(
      conditions({ ...settled(current), phase: 'Superseded', identity: undefined }, generation, now, {
        type: ConditionType.Ready,
        status: 'True',
        reason: 'Superseded',
        message: `${m.spec.email} owns team ${team.metadata.name}, which includes everything this Membership grants; it takes effect again if ownership moves to someone else. Delete it if that should not happen.`,
      }),
    );
    return { kind: 'done' };
  }

  // Seats: the controller's second line behind admission.
  const teamKey = `${namespace}/${team.metadata.name}`;
  const seats = assignSeats(team, ctx.caches.memberships.byIndex(index.byTeam, teamKey), ctx.caches.invitations.byIndex(index.byTeam, teamKey), { now });
  if (seats.memberships.get(name) === 'overLimit') {
    await removeAccess(ctx, backend, m);
    await revokePending(ctx, m);
    const won = await write(
      conditions({ ...settled(current), phase: 'OverSeatLimit', identity: undefined }, generation, now, {
        type: ConditionType.Ready,
        status: 'False',
        reason: 'OverSeatLimit',
        message: `team ${team.metadata.name} has ${seats.usage.limit - seats.usage.available} of ${seats.usage.limit} seats in use; raise spec.seats or remove a member`,
      }),
      current.phase !== 'OverSeatLimit',
    );
    if (won && current.phase !== 'OverSeatLimit')
      ctx.events.record(m, 'Warning', 'OverSeatLimit', 'Admit', `team ${team.metadata.name} has no seat left for ${m.spec.email}`);
    return { kind: 'done' };
  }

  const acceptedAt = acceptance(ctx, m);
  if (!acceptedAt && m.metadata.labels?.[labels.createdBy] === 'ownership-transfer') {
    // The Team controller records the former owner's acceptance right after creating this.
    return { kind: 'requeueAfter', ms: 1_000 };
  }
  if (!acceptedAt) {
    const invitation = await ensureInvitation(ctx, m, team);
    const mail = deliveryOf(invitation, m);
    const { delivery: _before, ...rest } = current;
    await write(
      conditions(
        { ...rest, phase: 'Invited', invitation: invitation.metadata.name, ...(mail.summary ? { delivery: mail.summary } : {}) },
        generation,
        now,
        { type: ConditionType.Accepted, status: 'False', reason: 'AwaitingAcceptance', message: mail.accepted },
        mail.delivered,
        { type: ConditionType.Ready, status: 'False', reason: 'AwaitingAcceptance', message: mail.ready },
      ),
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
    result = await backend.ensure(grant, { signal: ctx.signal });
  } catch (e) {
    ctx.metrics.backendErrors.inc({ backend: backend.name, operation: 'ensure' });
    const reason = e instanceof IdentityBackendError ? e.reason.replace(/[^A-Za-z0-9]/g, '') || 'BackendError' : 'BackendError';
    await write(
      conditions(
        { ...current, acceptedAt },
        generation,
        now,
        { type: ConditionType.IdentitySynced, status: 'False', reason, message: e instanceof Error ? e.message : String(e) },
        { type: ConditionType.Ready, status: 'False', reason, message: `identity backend ${backend.name} failed; retrying` },
      ),
    );
    throw e;
  }
  const wasSynced = getCondition(current.conditions, ConditionType.IdentitySynced)?.status === 'True';
  const specUnchanged = current.observedGeneration === generation && current.identity?.role === m.spec.role;
  const teamName = team.metadata.name ?? '';
  const change =
    result.changes.length && wasSynced && specUnchanged && current.phase === 'Active'
      ? ({
          regarding: m,
          type: 'Warning',
          reason: 'DriftCorrected',
          action: 'Sync',
          note: `identity backend ${backend.name} had drifted; restored: ${result.changes.join('; ')}`,
          audit: {
            action: 'drift-corrected',
            entity: 'member',
            team: teamName,
            namespace,
            subject: m.spec.email,
            roleAfter: m.spec.role,
            detail: result.changes.join('; '),
          },
        } as const)
      : current.phase !== 'Active'
        ? ({
            regarding: m,
            type: 'Normal',
            reason: 'Activated',
            action: 'Provision',
            note: `${m.spec.email} accepted and has ${m.spec.role} access`,
            actor: m.spec.email,
            audit: { action: 'activate', entity: 'member', team: teamName, namespace, subject: m.spec.email, roleAfter: m.spec.role },
          } as const)
        : current.identity?.role !== m.spec.role || statusChanged(current.identity?.scope, scope)
          ? ({
              regarding: m,
              type: 'Normal',
              reason: 'AccessChanged',
              action: 'Provision',
              note: `${m.spec.email} now has ${m.spec.role} access${scope.length ? ` in ${scope.join(', ')}` : ''}`,
              actor: changedBy(m),
              audit: {
                action: 'change-role',
                entity: 'member',
                team: teamName,
                namespace,
                subject: m.spec.email,
                roleBefore: current.identity?.role,
                roleAfter: m.spec.role,
              },
            } as const)
          : undefined;
  const { invitation: _done, ...rest } = settled(current);
  const won = await write(
    conditions(
      { ...rest, phase: 'Active', acceptedAt, identity: { backend: backend.name, subject: result.subject, role: m.spec.role, scope } },
      generation,
      now,
      { type: ConditionType.Accepted, status: 'True', reason: 'Accepted', message: `accepted at ${acceptedAt}` },
      { type: ConditionType.IdentitySynced, status: 'True', reason: 'Synced', message: `identity backend ${backend.name} matches` },
      { type: ConditionType.Ready, status: 'True', reason: 'Active', message: `${m.spec.email} has ${m.spec.role} access` },
    ),
    change !== undefined,
  );
  // Only the reconcile whose status write won says what changed (a stale one would repeat it).
  if (change && (won || change.reason === 'DriftCorrected')) recordChange(ctx, change);
  return requeueForExpiry(expiresAt, now);
}

function requeueForExpiry(expiresAt: number | undefined, now: Date): ReconcileResult {
  return expiresAt === undefined ? { kind: 'done' } : { kind: 'requeueAfter', ms: Math.max(0, expiresAt - now.getTime()) + 50 };
}

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

/** Without what only an Invited membership carries (the mail's fate). */
function settled(status: Status): Status {
  const { delivery: _gone, ...rest } = status;
  return { ...rest, conditions: removeCondition(rest.conditions, ConditionType.Delivered) };
}

/** What the Membership says about its invitation's mail: an unconfirmed delivery must not look sent. */
function deliveryOf(inv: Invitation, m: Membership): { summary: DeliverySummary | undefined; delivered: ConditionInput; accepted: string; ready: string } {
  const name = inv.metadata.name ?? '';
  const summary = deliverySummaryOf(inv.status);
  const resend = `kubectl roster resend ${m.metadata.name} -n ${m.metadata.namespace}`;
  const waiting = `waiting for ${m.spec.email} to accept`;
  const own = getCondition(inv.status?.conditions, ConditionType.Delivered);
  switch (summary) {
    case 'Sent':
      return {
        summary,
        delivered: {
          type: ConditionType.Delivered,
          status: 'True',
          reason: 'Sent',
          message: `invitation ${name} mailed to ${m.spec.email}${inv.status?.delivery?.possibleDuplicate ? ' (again, after an interrupted send: a possible duplicate)' : ''}`,
        },
        accepted: `invitation ${name} mailed to ${m.spec.email}`,
        ready: waiting,
      };
    case 'Unconfirmed': {
      const message = `the operator stopped while mailing invitation ${name} and does not send a link twice (team delivery policy AtMostOnce): ${m.spec.email} may have no mail. If it did not arrive, resend: ${resend}`;
      return {
        summary,
        delivered: { type: ConditionType.Delivered, status: 'Unknown', reason: 'DeliveryUnconfirmed', message },
        accepted: `delivery of invitation ${name} to ${m.spec.email} is unconfirmed`,
        ready: `${waiting}; delivery unconfirmed, resend if the mail did not arrive: ${resend}`,
      };
    }
    case 'Failed':
    case 'Deferred': {
      const reason = own?.reason ?? (summary === 'Failed' ? 'SendFailed' : 'Deferred');
      const message = own?.message ?? `invitation ${name} is not mailed yet`;
      return {
        summary,
        delivered: { type: ConditionType.Delivered, status: own?.status ?? 'False', reason, message },
        accepted: `invitation ${name} not mailed yet: ${message}`,
        ready: `${waiting}; invitation not mailed yet: ${message}`,
      };
    }
    case 'Sending':
    case undefined:
      return {
        summary,
        delivered: { type: ConditionType.Delivered, status: 'Unknown', reason: 'Sending', message: `invitation ${name} is being mailed to ${m.spec.email}` },
        accepted: `invitation ${name} is being mailed to ${m.spec.email}`,
        ready: waiting,
      };
  }
}

/**
 * The membership's invitation, owned by it and kept in line with it through server-side apply.
 * Its name is fixed by the membership's uid and the attempt (domain/invitation-state.ts), so
 * a reconcile from a stale cache meets AlreadyExists instead of creating a second one.
 */
async function ensureInvitation(ctx: OperatorContext, m: Membership, team: Team): Promise<Invitation> {
  const mine = invitationsOf(ctx, m).filter((i) => isControlledBy(i, m));
  const live = mine.filter((i) => i.status?.phase !== 'Revoked' && sameEmail(i.spec.email, m.spec.email));
  const existing = live[0];
  const attempt = existing ? (attemptOf(existing.metadata.labels) ?? 0) : nextAttempt(mine.map((i) => i.metadata.labels));
  const desired: Invitation = {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: {
      name: existing?.metadata.name ?? invitationNameFor(m.metadata.name ?? 'member', m.metadata.uid ?? '', attempt),
      namespace: m.metadata.namespace,
      labels: {
        [labels.managedBy]: 'roster',
        [labels.team]: team.metadata.name ?? '',
        [labels.membership]: (m.metadata.name ?? '').slice(0, 63),
        [ATTEMPT_LABEL]: String(attempt),
      },
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
    const inLine =
      existing.spec.role === desired.spec.role && !statusChanged(existing.spec.projects, desired.spec.projects) && existing.spec.name === desired.spec.name;
    if (!inLine) await ctx.client.apply(resources.invitation, desired);
    return existing;
  }
  let created: Invitation;
  try {
    created = await ctx.client.create(resources.invitation, desired);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    // Created a moment ago by a reconcile this cache has not caught up with: the same one.
    return await ctx.client.get<Invitation>(resources.invitation, m.metadata.namespace, desired.metadata.name ?? '');
  }
  recordChange(ctx, {
    regarding: m,
    type: 'Normal',
    reason: 'Invited',
    action: 'Invite',
    note: `invitation ${created.metadata.name} created for ${m.spec.email}`,
    actor: createdBy(m),
  });
  return created;
}
