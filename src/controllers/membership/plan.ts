// The Membership controller's decisions, as a pure function: the facts gathered from the
// caches once (gather.ts) in, one step out. A step says what to write and which access to
// grant or remove; the executor (../membership.ts) carries it out and is the one place that
// removes a person's access. Where the outcome of a call decides the status (the backend's
// answer, the Invitation the API server returns), the step carries a pure continuation.
// Learned from cert-manager's policies (gather the world, then named pure checks) and
// controller-runtime's controllerutil (decide in memory, write in one place).
import { changedBy, createdBy, deletedBy } from '../../audit/actor.ts';
import type { TeamChange } from '../../audit/record.ts';
import type { Invitation, Membership, MembershipStatus, Project, Team } from '../../api/generated.ts';
import type { EnsureResult, Grant } from '../../backends/identity/types.ts';
import { ConditionType, getCondition, removeCondition, setConditions, type ConditionInput } from '../../domain/conditions.ts';
import { sameEmail } from '../../domain/email.ts';
import { attemptOf, ATTEMPT_LABEL, deliverySummaryOf, invitationNameFor, nextAttempt, type DeliverySummary } from '../../domain/invitation-state.ts';
import { isTeamWideRole } from '../../domain/roles.ts';
import { accessTargets, isUnscoped } from '../../domain/scope.ts';
import type { SeatState } from '../../domain/seats.ts';
import { statusChanged } from '../../runtime/status.ts';
import { FINALIZER, labels } from '../context.ts';
import { controllerRef } from '../objects.ts';

export type Status = MembershipStatus;

/** Everything a decision about one Membership reads, gathered once. */
export interface MembershipFacts {
  readonly membership: Membership;
  readonly now: Date;
  readonly team: Team | undefined;
  /** The name of the team's identity backend, when the operator configures it. */
  readonly backend: string | undefined;
  readonly namespaceTerminating: boolean;
  /** The removal brake let this (deleted) Membership's removal through, or need not be asked. */
  readonly removalLetThrough: boolean;
  readonly seat: SeatState | undefined;
  readonly seatUsage: { readonly limit: number; readonly available: number } | undefined;
  /** When the person accepted, from the Membership or an accepted invitation of theirs. */
  readonly acceptedAt: string | undefined;
  /** Invitations this Membership controls. */
  readonly ownedInvitations: readonly Invitation[];
  readonly projects: readonly Project[];
}

export const grantKey = (m: Membership): string => `member:${m.metadata.name}`;

/** A grant's removal, the Event that says so, and the status that follows. */
export interface Withdrawal {
  readonly removeAccess: boolean;
  /** Pending invitations to delete: their links die and their seats free. */
  readonly revokeInvitations: readonly string[];
  readonly status: Status;
  readonly optimistic: boolean;
  readonly change?: (removed: readonly string[]) => TeamChange;
}

export type MembershipStep =
  | { readonly kind: 'nothing' }
  | { readonly kind: 'requeue'; readonly ms: number }
  | { readonly kind: 'addFinalizer' }
  | { readonly kind: 'holdRemoval'; readonly status: Status }
  | { readonly kind: 'finalize'; readonly revokeInvitations: readonly string[]; readonly change: (removed: readonly string[]) => TeamChange }
  | ({ readonly kind: 'withdraw'; readonly requeueMs?: number } & Withdrawal)
  | {
      readonly kind: 'invite';
      /** The invitation as it should be (created when there is none, applied when `current` is out of line). */
      readonly invitation: Invitation;
      /** The live invitation, if there is one. */
      readonly current?: Invitation;
      readonly inLine: boolean;
      readonly status: (invitation: Invitation) => Status;
      readonly created: (invitation: Invitation) => TeamChange;
      readonly requeueMs?: number;
    }
  | {
      readonly kind: 'provision';
      readonly grant: Grant;
      readonly synced: (result: EnsureResult) => { readonly status: Status; readonly change?: TeamChange; readonly optimistic: boolean };
      readonly failed: (reason: string, message: string) => Status;
      readonly requeueMs?: number;
    };

function conditions(facts: MembershipFacts, status: Status, ...inputs: ConditionInput[]): Status {
  const generation = facts.membership.metadata.generation;
  return { ...status, observedGeneration: generation, conditions: setConditions('Membership', status.conditions, inputs, generation, facts.now) };
}

/** Without what only an Invited membership carries (the mail's fate). */
function settled(status: Status): Status {
  const { delivery: _gone, invitation: _link, ...rest } = status;
  return { ...rest, conditions: removeCondition(rest.conditions, ConditionType.Delivered) };
}

const pendingInvitations = (facts: MembershipFacts) => facts.ownedInvitations.filter((i) => i.status?.phase !== 'Accepted').map((i) => i.metadata.name ?? '');

export function planMembership(facts: MembershipFacts): MembershipStep {
  const m = facts.membership;
  if (m.metadata.deletionTimestamp) return planDeletion(facts);
  // The namespace is going, and the Membership with it: creating anything there only earns a 403.
  if (facts.namespaceTerminating) return { kind: 'nothing' };
  if (!(m.metadata.finalizers ?? []).includes(FINALIZER)) return { kind: 'addFinalizer' };
  const current = m.status ?? {};
  const { team } = facts;
  if (!team) {
    const message = `team ${m.spec.team} does not exist in namespace ${m.metadata.namespace}; create it or fix spec.team`;
    return withdraw(facts, conditions(facts, current, { type: ConditionType.Ready, status: 'False', reason: 'TeamNotFound', message }), false);
  }
  if (!facts.backend) {
    const message = `team ${team.metadata.name} uses identity backend "${team.spec.identity?.backend ?? 'default'}", which the operator does not configure`;
    return withdraw(
      facts,
      conditions(facts, { ...current, phase: 'Failed' }, { type: ConditionType.Ready, status: 'False', reason: 'UnknownIdentityBackend', message }),
      false,
    );
  }
  return planWithTeam(facts, team, facts.backend, current);
}

function planDeletion(facts: MembershipFacts): MembershipStep {
  const m = facts.membership;
  if (!(m.metadata.finalizers ?? []).includes(FINALIZER)) return { kind: 'nothing' };
  // The webhook's deletion hook names who deleted it a moment after the delete; wait briefly for it.
  const actor = deletedBy(m);
  const sinceDeletion = facts.now.getTime() - Date.parse(m.metadata.deletionTimestamp ?? '');
  if (!actor && sinceDeletion >= 0 && sinceDeletion < 2_000) return { kind: 'requeue', ms: 250 };
  // The removal brake (SPEC §8): the Team controller lets removals through one team at a time.
  if (!facts.removalLetThrough) {
    const message = `the removal brake holds this removal; ${m.spec.email} keeps access until an owner or admin runs: kubectl roster release ${m.spec.team} -n ${m.metadata.namespace}`;
    const status = {
      ...(m.status ?? {}),
      conditions: setConditions(
        'Membership',
        m.status?.conditions,
        [{ type: ConditionType.Ready, status: 'False', reason: 'RemovalHeld', message }],
        m.metadata.generation,
        facts.now,
      ),
    };
    return { kind: 'holdRemoval', status };
  }
  return {
    kind: 'finalize',
    revokeInvitations: pendingInvitations(facts),
    change: (removed) => ({
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
        namespace: m.metadata.namespace ?? '',
        subject: m.spec.email,
        roleBefore: m.spec.role,
        detail: removed.join('; ') || undefined,
      },
    }),
  };
}

function withdraw(facts: MembershipFacts, status: Status, removeAccess: boolean, change?: Withdrawal['change'], optimistic = false): MembershipStep {
  return {
    kind: 'withdraw',
    removeAccess,
    revokeInvitations: removeAccess ? pendingInvitations(facts) : [],
    status,
    optimistic,
    ...(change ? { change } : {}),
  };
}

function requeueForExpiry(m: Membership, now: Date): { requeueMs?: number } {
  const expiresAt = m.spec.expiresAt ? Date.parse(m.spec.expiresAt) : undefined;
  return expiresAt === undefined ? {} : { requeueMs: Math.max(0, expiresAt - now.getTime()) + 50 };
}

function planWithTeam(facts: MembershipFacts, team: Team, backend: string, current: Status): MembershipStep {
  const m = facts.membership;
  // Expired: access ends, the pending link dies.
  if (m.spec.expiresAt && Date.parse(m.spec.expiresAt) <= facts.now.getTime()) return planExpired(facts, team, current);
  // The owner holds the team through Team spec.owner; a Membership for the same person is
  // superseded — not a failure (GitOps tools must not show Degraded after every transfer).
  if (sameEmail(team.spec.owner.email, m.spec.email)) {
    const message = `${m.spec.email} owns team ${team.metadata.name}, which includes everything this Membership grants; it takes effect again if ownership moves to someone else. Delete it if that should not happen.`;
    return withdraw(
      facts,
      conditions(
        facts,
        { ...settled(current), phase: 'Superseded', identity: undefined },
        { type: ConditionType.Ready, status: 'True', reason: 'Superseded', message },
      ),
      true,
    );
  }
  // Seats: the controller's second line behind admission.
  if (facts.seat === 'overLimit') return planOverSeatLimit(facts, team, current);
  if (!facts.acceptedAt) {
    // The Team controller records the former owner's acceptance right after creating this.
    if (m.metadata.labels?.[labels.createdBy] === 'ownership-transfer') return { kind: 'requeue', ms: 1_000 };
    return planInvite(facts, team, current);
  }
  return planProvision(facts, team, backend, current, facts.acceptedAt);
}

function planExpired(facts: MembershipFacts, team: Team, current: Status): MembershipStep {
  const m = facts.membership;
  const status = conditions(
    facts,
    { ...settled(current), phase: 'Expired', identity: undefined },
    { type: ConditionType.Ready, status: 'False', reason: 'Expired', message: `access ended at ${m.spec.expiresAt}; raise spec.expiresAt to restore it` },
    { type: ConditionType.IdentitySynced, status: 'True', reason: 'AccessRemoved', message: 'no access granted' },
  );
  const first = current.phase !== 'Expired';
  // Expiry was set by whoever last wrote spec.expiresAt.
  const change = (removed: readonly string[]): TeamChange => ({
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
      namespace: m.metadata.namespace ?? '',
      subject: m.spec.email,
      roleBefore: m.spec.role,
      detail: removed.join('; ') || undefined,
    },
  });
  return withdraw(facts, status, true, first ? change : undefined, first);
}

function planOverSeatLimit(facts: MembershipFacts, team: Team, current: Status): MembershipStep {
  const m = facts.membership;
  const teamName = team.metadata.name ?? '';
  const usage = facts.seatUsage ?? { limit: team.spec.seats, available: 0 };
  const message = `team ${teamName} has ${usage.limit - usage.available} of ${usage.limit} seats in use; raise spec.seats or remove a member`;
  const first = current.phase !== 'OverSeatLimit';
  const status = conditions(
    facts,
    { ...settled(current), phase: 'OverSeatLimit', identity: undefined },
    { type: ConditionType.Ready, status: 'False', reason: 'OverSeatLimit', message },
  );
  const change = (): TeamChange => ({
    regarding: m,
    type: 'Warning',
    reason: 'OverSeatLimit',
    action: 'Admit',
    note: `team ${teamName} has no seat left for ${m.spec.email}`,
  });
  return withdraw(facts, status, true, first ? change : undefined, first);
}

/** The Invitation a Membership owns, as it should be. */
function invitationFor(m: Membership, team: Team, name: string | undefined, attempt: number): Invitation {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: {
      name: name ?? invitationNameFor(m.metadata.name ?? 'member', m.metadata.uid ?? '', attempt),
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
}

/** The membership's invitation: owned by it, named by its uid and the attempt, so a stale cache meets AlreadyExists. */
function planInvite(facts: MembershipFacts, team: Team, current: Status): MembershipStep {
  const m = facts.membership;
  const live = facts.ownedInvitations.filter((i) => i.status?.phase !== 'Revoked' && sameEmail(i.spec.email, m.spec.email));
  const existing = live[0];
  const attempt = existing ? (attemptOf(existing.metadata.labels) ?? 0) : nextAttempt(facts.ownedInvitations.map((i) => i.metadata.labels));
  const invitation = invitationFor(m, team, existing?.metadata.name, attempt);
  const inLine =
    existing !== undefined &&
    existing.spec.role === invitation.spec.role &&
    !statusChanged(existing.spec.projects, invitation.spec.projects) &&
    existing.spec.name === invitation.spec.name;
  return {
    kind: 'invite',
    invitation,
    ...(existing ? { current: existing } : {}),
    inLine,
    status: (inv) => {
      const mail = deliveryOf(inv, m);
      // A mail on its way is not news: the Membership is written once, when the delivery has an
      // outcome (sent, held, failed, unconfirmed), which the invitation's next status write
      // brings here (usually milliseconds later). Writing "Invited, sending" first would cost
      // one more write per person (issue 14). Meanwhile the invitation is found by its owner
      // reference (invitationsOf) and `kubectl roster` shows the live one.
      const untouched = mail.summary === undefined && !getCondition(inv.status?.conditions, ConditionType.Delivered);
      if (untouched || mail.summary === 'Sending') return current;
      const { delivery: _before, ...rest } = current;
      return conditions(
        facts,
        { ...rest, phase: 'Invited', invitation: inv.metadata.name, ...(mail.summary ? { delivery: mail.summary } : {}) },
        { type: ConditionType.Accepted, status: 'False', reason: 'AwaitingAcceptance', message: mail.accepted },
        mail.delivered,
        { type: ConditionType.Ready, status: 'False', reason: 'AwaitingAcceptance', message: mail.ready },
      );
    },
    created: (inv) => ({
      regarding: m,
      type: 'Normal',
      reason: 'Invited',
      action: 'Invite',
      note: `invitation ${inv.metadata.name} created for ${m.spec.email}`,
      actor: createdBy(m),
    }),
    ...requeueForExpiry(m, facts.now),
  };
}

/** Accepted: provision exactly what the manifests say, and say what changed. */
function planProvision(facts: MembershipFacts, team: Team, backend: string, current: Status, acceptedAt: string): MembershipStep {
  const m = facts.membership;
  const namespace = m.metadata.namespace ?? '';
  const targets = accessTargets(m.spec.role, m.spec.projects, facts.projects);
  const scope = targets.map((t) => `${t.project}/${t.environment}`);
  const grant: Grant = {
    team: { namespace, name: m.spec.team },
    key: grantKey(m),
    person: { email: m.spec.email, name: m.spec.name },
    role: m.spec.role,
    targets,
    scoped: !isTeamWideRole(m.spec.role) && !isUnscoped(m.spec.projects),
  };
  const changeFor = (result: EnsureResult): TeamChange | undefined => accessChange(facts, team, backend, current, scope, result);
  return {
    kind: 'provision',
    grant,
    synced: (result) => {
      const change = changeFor(result);
      const status = conditions(
        facts,
        { ...settled(current), phase: 'Active', acceptedAt, identity: { backend, subject: result.subject, role: m.spec.role, scope } },
        { type: ConditionType.Accepted, status: 'True', reason: 'Accepted', message: `accepted at ${acceptedAt}` },
        { type: ConditionType.IdentitySynced, status: 'True', reason: 'Synced', message: `identity backend ${backend} matches` },
        { type: ConditionType.Ready, status: 'True', reason: 'Active', message: `${m.spec.email} has ${m.spec.role} access` },
      );
      return { status, optimistic: change !== undefined, ...(change ? { change } : {}) };
    },
    failed: (reason, message) =>
      conditions(
        facts,
        { ...current, acceptedAt },
        { type: ConditionType.IdentitySynced, status: 'False', reason, message },
        { type: ConditionType.Ready, status: 'False', reason, message: `identity backend ${backend} failed; retrying` },
      ),
    ...requeueForExpiry(m, facts.now),
  };
}

/** What a successful sync changed, for the Event and the audit: drift put back, activation, or a new role or scope. */
function accessChange(
  facts: MembershipFacts,
  team: Team,
  backend: string,
  current: Status,
  scope: readonly string[],
  result: EnsureResult,
): TeamChange | undefined {
  const m = facts.membership;
  const wasSynced = getCondition(current.conditions, ConditionType.IdentitySynced)?.status === 'True';
  const specUnchanged = current.observedGeneration === m.metadata.generation && current.identity?.role === m.spec.role;
  const audit = { entity: 'member', team: team.metadata.name ?? '', namespace: m.metadata.namespace ?? '', subject: m.spec.email } as const;
  if (result.changes.length && wasSynced && specUnchanged && current.phase === 'Active') {
    const restored = result.changes.join('; ');
    return {
      regarding: m,
      type: 'Warning',
      reason: 'DriftCorrected',
      action: 'Sync',
      note: `identity backend ${backend} had drifted; restored: ${restored}`,
      audit: { ...audit, action: 'drift-corrected', roleAfter: m.spec.role, detail: restored },
    };
  }
  if (current.phase !== 'Active') {
    return {
      regarding: m,
      type: 'Normal',
      reason: 'Activated',
      action: 'Provision',
      note: `${m.spec.email} accepted and has ${m.spec.role} access`,
      actor: m.spec.email,
      audit: { ...audit, action: 'activate', roleAfter: m.spec.role },
    };
  }
  if (current.identity?.role !== m.spec.role || statusChanged(current.identity?.scope, [...scope])) {
    return {
      regarding: m,
      type: 'Normal',
      reason: 'AccessChanged',
      action: 'Provision',
      note: `${m.spec.email} now has ${m.spec.role} access${scope.length ? ` in ${scope.join(', ')}` : ''}`,
      actor: changedBy(m),
      audit: { ...audit, action: 'change-role', roleBefore: current.identity?.role, roleAfter: m.spec.role },
    };
  }
  return undefined;
}

/** What the Membership says about its invitation's mail: an unconfirmed delivery must not look sent. */
export function deliveryOf(
  inv: Invitation,
  m: Membership,
): { summary: DeliverySummary | undefined; delivered: ConditionInput; accepted: string; ready: string } {
  const name = inv.metadata.name ?? '';
  const summary = deliverySummaryOf(inv.status);
  const resend = `kubectl roster resend ${m.metadata.name} -n ${m.metadata.namespace}`;
  const waiting = `waiting for ${m.spec.email} to accept`;
  const own = getCondition(inv.status?.conditions, ConditionType.Delivered);
  switch (summary) {
    case 'Sent': {
      const again = inv.status?.delivery?.possibleDuplicate ? ' (again, after an interrupted send: a possible duplicate)' : '';
      return {
        summary,
        delivered: { type: ConditionType.Delivered, status: 'True', reason: 'Sent', message: `invitation ${name} mailed to ${m.spec.email}${again}` },
        accepted: `invitation ${name} mailed to ${m.spec.email}`,
        ready: waiting,
      };
    }
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
