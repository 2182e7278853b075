// The Team controller's decisions, as a pure function: the facts gathered from the caches
// once (gather.ts) in, one step out. The executor (../team.ts) carries the step out: the
// objects to create or revoke, the owner's grant, then one status write whose content the
// step computes from what the calls returned (pure continuations).
import { createHash } from 'node:crypto';
import { changedBy, createdBy, deletedBy } from '../../audit/actor.ts';
import type { TeamChange } from '../../audit/record.ts';
import type { Invitation, Membership, Project, Team, TeamStatus } from '../../api/generated.ts';
import type { EnsureResult, Grant } from '../../backends/identity/types.ts';
import { ConditionType, setConditions, type ConditionInput } from '../../domain/conditions.ts';
import { normalizeEmail, sameEmail } from '../../domain/email.ts';
import { ATTEMPT_LABEL, invitationNameFor, nextAttempt } from '../../domain/invitation-state.ts';
import { accessTargets } from '../../domain/scope.ts';
import type { SeatUsage } from '../../domain/seats.ts';
import { FINALIZER, labels } from '../context.ts';
import { controllerRef } from '../objects.ts';
import type { RemovalPlan } from '../removals.ts';
import { ACCEPTED_INVITATION_ANNOTATION } from '../membership/gather.ts';

export const OWNER_GRANT = 'owner';

export interface TeamFacts {
  readonly team: Team;
  readonly now: Date;
  /** The name of the team's identity backend, when the operator configures it. */
  readonly backend: string | undefined;
  readonly namespaceTerminating: boolean;
  /** The Team that holds the namespace (the oldest one there). */
  readonly firstInNamespace: Team | undefined;
  readonly memberships: readonly Membership[];
  /** Invitations for the owner this Team controls. */
  readonly ownerInvitations: readonly Invitation[];
  readonly projects: readonly Project[];
  readonly seats: { readonly usage: SeatUsage; readonly members: number };
  readonly removals: RemovalPlan;
}

/** What the executor learned from its calls, for the status. */
export interface TeamOutcome {
  /** The owner's live invitation, when the owner has not accepted. */
  readonly ownerInvitation?: string;
  /** The owner's grant: what the backend said, or why it failed. */
  readonly grant?: { readonly result: EnsureResult } | { readonly failed: { readonly reason: string; readonly message: string } };
}

export type TeamStep =
  | { readonly kind: 'nothing' }
  | { readonly kind: 'requeue'; readonly ms: number }
  | { readonly kind: 'addFinalizer' }
  | { readonly kind: 'namespaceTaken'; readonly status: TeamStatus; readonly change?: TeamChange }
  /** Deleting: each Membership's own finalizer removes that person's access, through the removal brake. */
  | { readonly kind: 'deleteMembers'; readonly memberships: readonly string[]; readonly status: TeamStatus; readonly hold?: TeamChange }
  | { readonly kind: 'finalize'; readonly change: TeamChange }
  | {
      readonly kind: 'sync';
      /** The previous owner, kept on as an admin through a Membership created already accepted. */
      readonly formerOwnerMembership?: Membership;
      /** Owner invitations for someone who is no longer the owner. */
      readonly revokeInvitations: readonly string[];
      /** The owner's invitation to create when the owner has none that lives. */
      readonly createOwnerInvitation?: { readonly invitation: Invitation; readonly created: (inv: Invitation) => TeamChange };
      readonly ownerInvitation?: string;
      readonly grant?: Grant;
      readonly result: (outcome: TeamOutcome) => {
        readonly status: TeamStatus;
        readonly changes: readonly TeamChange[];
        readonly drift?: string;
        readonly optimistic: boolean;
        readonly failure?: string;
      };
    };

function conditions(facts: TeamFacts, status: TeamStatus, ...inputs: ConditionInput[]): TeamStatus {
  const generation = facts.team.metadata.generation;
  return { ...status, conditions: setConditions('Team', status.conditions, inputs, generation, facts.now) };
}

export function holdEvent(team: Team, removals: RemovalPlan): TeamChange {
  return { regarding: team, type: 'Warning', reason: 'RemovalsHeld', action: 'Hold', note: removals.condition.message };
}

export function planTeam(facts: TeamFacts): TeamStep {
  const { team } = facts;
  if (team.metadata.deletionTimestamp) return planDeletion(facts);
  // The namespace is going, and the Team with it: creating anything there only earns a 403.
  if (facts.namespaceTerminating) return { kind: 'nothing' };
  // One Team per namespace (SPEC §7): a second one that got in anyway is left alone.
  const first = facts.firstInNamespace;
  if (first && first.metadata.name !== team.metadata.name) {
    const message = `namespace ${team.metadata.namespace} already holds team ${first.metadata.name}, and a namespace holds one team; delete this Team and create it in a namespace of its own`;
    const status = conditions(
      facts,
      { ...(team.status ?? {}), observedGeneration: team.metadata.generation },
      { type: ConditionType.Ready, status: 'False', reason: 'NamespaceTaken', message },
    );
    const already = team.status?.conditions?.find((c) => c.type === ConditionType.Ready)?.reason === 'NamespaceTaken';
    return {
      kind: 'namespaceTaken',
      status,
      ...(already ? {} : { change: { regarding: team, type: 'Warning', reason: 'NamespaceTaken', action: 'Admit', note: message } }),
    };
  }
  if (!(team.metadata.finalizers ?? []).includes(FINALIZER)) return { kind: 'addFinalizer' };
  return planSync(facts);
}

function planDeletion(facts: TeamFacts): TeamStep {
  const { team } = facts;
  if (!(team.metadata.finalizers ?? []).includes(FINALIZER)) return { kind: 'nothing' };
  // The webhook's deletion hook names who deleted it a moment after the delete; wait briefly for it.
  const sinceDeletion = facts.now.getTime() - Date.parse(team.metadata.deletionTimestamp ?? '');
  if (!deletedBy(team) && sinceDeletion >= 0 && sinceDeletion < 2_000) return { kind: 'requeue', ms: 250 };
  if (facts.memberships.length > 0) {
    const { removals: _before, ...rest } = team.status ?? {};
    const status = conditions(facts, { ...rest, ...(facts.removals.removals ? { removals: facts.removals.removals } : {}) }, facts.removals.condition);
    return {
      kind: 'deleteMembers',
      memberships: facts.memberships.filter((m) => !m.metadata.deletionTimestamp).map((m) => m.metadata.name ?? ''),
      status,
      ...(facts.removals.newHold ? { hold: holdEvent(team, facts.removals) } : {}),
    };
  }
  const name = team.metadata.name ?? '';
  const namespace = team.metadata.namespace ?? '';
  return {
    kind: 'finalize',
    change: {
      regarding: team,
      type: 'Normal',
      reason: 'TeamDeleted',
      action: 'Delete',
      note: `team ${name} deleted; every member's access removed`,
      actor: deletedBy(team),
      audit: { action: 'delete', entity: 'team', team: name, namespace, subject: team.spec.owner.email },
    },
  };
}

/** The previous owner stays on as admin: a Membership named by the team and the person, so a stale cache meets AlreadyExists. */
export function formerOwnerMembership(team: Team, previousOwner: string, acceptedOwnerInvitation: string | undefined): Membership {
  const local =
    previousOwner
      .split('@')[0]!
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^-+|-+$/g, '') || 'owner';
  const id = createHash('sha256')
    .update(`${team.metadata.uid}/${normalizeEmail(previousOwner)}`)
    .digest('hex')
    .slice(0, 8);
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Membership',
    metadata: {
      name: `${local.slice(0, 40)}-former-owner-${id}`,
      namespace: team.metadata.namespace,
      labels: { [labels.managedBy]: 'roster', [labels.team]: team.metadata.name ?? '', [labels.createdBy]: 'ownership-transfer' },
      ...(acceptedOwnerInvitation ? { annotations: { [ACCEPTED_INVITATION_ANNOTATION]: acceptedOwnerInvitation } } : {}),
    },
    spec: { team: team.metadata.name ?? '', email: previousOwner, role: 'admin' },
  };
}

/** The owner's invitation, named by the team's uid, the owner's email and the attempt. */
function ownerInvitation(facts: TeamFacts, email: string): Invitation {
  const { team } = facts;
  const attempt = nextAttempt(facts.ownerInvitations.filter((i) => sameEmail(i.spec.email, email)).map((i) => i.metadata.labels));
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: {
      name: invitationNameFor(`${(team.metadata.name ?? 'team').slice(0, 230)}-owner`, team.metadata.uid ?? '', attempt, email),
      namespace: team.metadata.namespace,
      labels: { [labels.managedBy]: 'roster', [labels.team]: team.metadata.name ?? '', [labels.owner]: 'true', [ATTEMPT_LABEL]: String(attempt) },
      ownerReferences: [controllerRef(team, 'Team')],
    },
    spec: { team: team.metadata.name ?? '', email, role: 'owner', ...(team.spec.owner.name ? { name: team.spec.owner.name } : {}) },
  };
}

/**
 * Ownership transfer: the new owner was an Active admin (admission checked); here an accepted
 * admin is enough, because once the transfer starts their Membership is superseded. The
 * previous owner stays on as admin, through a Membership created already accepted.
 */
function planTransfer(
  facts: TeamFacts,
  current: TeamStatus,
  ownerEmail: string,
): { readonly previousOwner?: string; readonly former?: Membership; readonly change?: TeamChange } {
  const { team } = facts;
  const previousOwner =
    current.owner?.phase === 'Active' && current.owner.email && !sameEmail(current.owner.email, ownerEmail) ? current.owner.email : undefined;
  if (!previousOwner) return {};
  const newOwner = facts.memberships.find((m) => sameEmail(m.spec.email, ownerEmail));
  if (newOwner?.spec.role !== 'admin' || !newOwner.status?.acceptedAt) return { previousOwner };
  let former: Membership | undefined;
  if (!facts.memberships.some((m) => sameEmail(m.spec.email, previousOwner))) {
    const acceptedBefore = facts.ownerInvitations.find((i) => i.status?.phase === 'Accepted' && sameEmail(i.spec.email, previousOwner));
    former = formerOwnerMembership(team, previousOwner, acceptedBefore?.metadata.name);
  }
  const change: TeamChange = {
    regarding: team,
    type: 'Normal',
    reason: 'OwnershipTransferred',
    action: 'Transfer',
    note: `ownership moved from ${previousOwner} to ${ownerEmail}; ${previousOwner} stays on as admin`,
    actor: changedBy(team),
    audit: {
      action: 'transfer-ownership',
      entity: 'team',
      team: team.metadata.name ?? '',
      namespace: team.metadata.namespace ?? '',
      subject: ownerEmail,
      roleBefore: 'admin',
      roleAfter: 'owner',
      detail: `previous owner ${previousOwner} is now admin`,
    },
  };
  return { previousOwner, ...(former ? { former } : {}), change };
}

function planSync(facts: TeamFacts): TeamStep {
  const { team } = facts;
  const name = team.metadata.name ?? '';
  const namespace = team.metadata.namespace ?? '';
  const current: TeamStatus = team.status ?? {};
  const ownerEmail = normalizeEmail(team.spec.owner.email);
  const accepted = facts.ownerInvitations.find((i) => i.status?.phase === 'Accepted' && sameEmail(i.spec.email, ownerEmail));
  let ownerActive = (current.owner?.phase === 'Active' && sameEmail(current.owner.email ?? '', ownerEmail)) || accepted !== undefined;
  const changes: TeamChange[] = [];

  const transfer = planTransfer(facts, current, ownerEmail);
  if (transfer.change) {
    ownerActive = true;
    changes.push(transfer.change);
  }
  const { previousOwner, former } = transfer;
  const revokeInvitations = facts.ownerInvitations
    .filter((i) => !sameEmail(i.spec.email, ownerEmail) && i.status?.phase !== 'Accepted' && !i.spec.revoked)
    .map((i) => i.metadata.name ?? '');
  const live = ownerActive
    ? undefined
    : facts.ownerInvitations.find((i) => sameEmail(i.spec.email, ownerEmail) && i.status?.phase !== 'Revoked' && !i.spec.revoked);
  const create = !ownerActive && !live ? ownerInvitation(facts, ownerEmail) : undefined;
  // Bound as written, like a Membership's spec.email: the name the authenticator presents.
  const grant: Grant | undefined =
    facts.backend && ownerActive
      ? {
          team: { namespace, name },
          key: OWNER_GRANT,
          person: { email: team.spec.owner.email, name: team.spec.owner.name },
          role: 'owner',
          targets: accessTargets('owner', undefined, facts.projects),
        }
      : undefined;

  return {
    kind: 'sync',
    ...(former ? { formerOwnerMembership: former } : {}),
    revokeInvitations,
    ...(create
      ? {
          createOwnerInvitation: {
            invitation: create,
            created: (inv) => ({
              regarding: team,
              type: 'Normal',
              reason: 'OwnerInvited',
              action: 'Invite',
              note: `invitation ${inv.metadata.name} created for owner ${ownerEmail}`,
              actor: changedBy(team) ?? createdBy(team),
            }),
          },
        }
      : {}),
    ...(live ? { ownerInvitation: live.metadata.name ?? '' } : {}),
    ...(grant ? { grant } : {}),
    result: (outcome) => syncOutcome(facts, { ownerActive, ownerEmail, previousOwner, changes }, outcome),
  };
}

/** What the sync decided before its calls, for the status their outcome completes. */
interface SyncDecision {
  readonly ownerActive: boolean;
  readonly ownerEmail: string;
  readonly previousOwner: string | undefined;
  readonly changes: readonly TeamChange[];
}

/** Ready as the identity backend leaves it: unknown backend, failed grant, drift put back, or the owner newly active. */
function identityOutcome(
  facts: TeamFacts,
  decision: SyncDecision,
  outcome: TeamOutcome,
): { readonly identity: ConditionInput; readonly drift?: string; readonly activated?: TeamChange } {
  const { team } = facts;
  const current: TeamStatus = team.status ?? {};
  const reconciled: ConditionInput = { type: ConditionType.Ready, status: 'True', reason: 'Reconciled', message: 'the team is reconciled' };
  if (!facts.backend) {
    return {
      identity: {
        type: ConditionType.Ready,
        status: 'False',
        reason: 'UnknownIdentityBackend',
        message: `identity backend "${team.spec.identity?.backend ?? 'default'}" is not configured in the operator`,
      },
    };
  }
  if (!outcome.grant) return { identity: reconciled };
  if ('failed' in outcome.grant) {
    return { identity: { type: ConditionType.Ready, status: 'False', reason: outcome.grant.failed.reason, message: outcome.grant.failed.message } };
  }
  const restored = outcome.grant.result.changes;
  if (restored.length && current.owner?.phase === 'Active' && !decision.previousOwner && current.observedGeneration === team.metadata.generation) {
    return { identity: reconciled, drift: `owner access had drifted; restored: ${restored.join('; ')}` };
  }
  if (current.owner?.phase === 'Active') return { identity: reconciled };
  const name = team.metadata.name ?? '';
  const { ownerEmail } = decision;
  return {
    identity: reconciled,
    activated: {
      regarding: team,
      type: 'Normal',
      reason: 'OwnerActive',
      action: 'Provision',
      note: `${ownerEmail} accepted ownership of team ${name}`,
      actor: ownerEmail,
      audit: { action: 'activate', entity: 'team', team: name, namespace: team.metadata.namespace ?? '', subject: ownerEmail, roleAfter: 'owner' },
    },
  };
}

/** The Team's status, the changes to record and whether the identity backend failed, once the calls are done. */
function syncOutcome(facts: TeamFacts, decision: SyncDecision, outcome: TeamOutcome): ReturnType<Extract<TeamStep, { kind: 'sync' }>['result']> {
  const { team } = facts;
  const current: TeamStatus = team.status ?? {};
  const { ownerActive, ownerEmail, changes } = decision;
  const all = [...changes];
  const { identity, drift, activated } = identityOutcome(facts, decision, outcome);
  if (activated) all.push(activated);
  const { removals } = facts;
  if (removals.newHold) all.push(holdEvent(team, removals));
  const { usage } = facts.seats;
  const { removals: _before, ...rest } = current;
  const status = conditions(
    facts,
    {
      ...rest,
      observedGeneration: team.metadata.generation,
      owner: { email: ownerEmail, phase: ownerActive ? 'Active' : 'Invited', ...(outcome.ownerInvitation ? { invitation: outcome.ownerInvitation } : {}) },
      seats: usage,
      members: facts.seats.members,
      ...(removals.removals ? { removals: removals.removals } : {}),
    },
    {
      type: ConditionType.OwnerActive,
      status: ownerActive ? 'True' : 'False',
      reason: ownerActive ? 'Accepted' : 'AwaitingAcceptance',
      message: ownerActive ? `${ownerEmail} owns the team` : `waiting for ${ownerEmail} to accept the invitation`,
    },
    {
      type: ConditionType.SeatsAvailable,
      status: usage.available > 0 ? 'True' : 'False',
      reason: usage.available > 0 ? 'SeatsLeft' : 'SeatLimitReached',
      message: `${usage.limit - usage.available} of ${usage.limit} seats in use`,
    },
    removals.condition,
    // Held removals wait for a person: the team is not settled (kstatus: Stalled).
    removals.condition.status === 'True' && identity.status === 'True' ? { ...removals.condition, type: ConditionType.Ready, status: 'False' } : identity,
  );
  // The brake's decisions are a compare-and-swap on the Team's status: two reconciles from
  // different cache states cannot both spend the last allowance.
  const optimistic = all.length > 0 || removals.decision !== undefined;
  return {
    status,
    changes: all,
    optimistic,
    ...(drift ? { drift } : {}),
    ...(identity.status === 'False' && facts.backend ? { failure: identity.message } : {}),
  };
}
