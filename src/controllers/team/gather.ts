// The state of the world a Team decision reads, gathered from the shared caches once, as
// plain data for the pure planner (plan.ts).
import type { Invitation, Team } from '../../api/generated.ts';
import { assignSeats } from '../../domain/seats.ts';
import { FINALIZER, index, keyOfTeam, type OperatorContext } from '../context.ts';
import { backendFor } from '../membership/gather.ts';
import { isControlledBy, isNamespaceTerminating } from '../objects.ts';
import { planRemovals } from '../removals.ts';
import type { TeamFacts } from './plan.ts';

export function ownerInvitations(ctx: OperatorContext, team: Team): Invitation[] {
  return ctx.caches.invitations.byIndex(index.byTeam, keyOfTeam(team)).filter((i) => i.spec.role === 'owner' && isControlledBy(i, team));
}

/** The Team that holds a namespace: the oldest one there (then by name), whatever came later. */
export function firstTeamIn(ctx: OperatorContext, namespace: string): Team | undefined {
  const teams = ctx.caches.teams
    .byIndex(index.byNamespace, namespace)
    .filter((t) => !t.metadata.deletionTimestamp || (t.metadata.finalizers ?? []).includes(FINALIZER));
  const created = (t: Team) => Date.parse(t.metadata.creationTimestamp ?? '') || 0;
  return teams.sort((a, b) => created(a) - created(b) || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))[0];
}

export function gatherTeam(ctx: OperatorContext, team: Team): TeamFacts {
  const namespace = team.metadata.namespace ?? '';
  const key = keyOfTeam(team);
  const now = ctx.now();
  const memberships = ctx.caches.memberships.byIndex(index.byTeam, key);
  const seats = assignSeats(team, memberships, ctx.caches.invitations.byIndex(index.byTeam, key), { now });
  return {
    team,
    now,
    backend: backendFor(ctx, team)?.name,
    namespaceTerminating: isNamespaceTerminating(ctx.caches.namespaces, namespace),
    firstInNamespace: firstTeamIn(ctx, namespace),
    memberships,
    ownerInvitations: ownerInvitations(ctx, team),
    projects: ctx.caches.projects.byIndex(index.byTeam, key),
    seats: { usage: seats.usage, members: seats.members },
    removals: planRemovals(ctx, team, memberships, now),
  };
}
