// The state of the world a Membership decision reads, gathered from the shared caches once
// (no API request), as plain data for the pure planner (plan.ts).
import type { Invitation, Membership, Team } from '../../api/generated.ts';
import type { IdentityBackend } from '../../backends/identity/types.ts';
import { sameEmail } from '../../domain/email.ts';
import { assignSeats, type SeatState } from '../../domain/seats.ts';
import { index, teamKeyOf, type OperatorContext } from '../context.ts';
import type { MembershipSeat } from '../../seats/seat-index.ts';
import { isControlledBy, isNamespaceTerminating } from '../objects.ts';
import { removalLetThrough } from '../removals.ts';
import type { MembershipFacts } from './plan.ts';

/** Names the Accepted invitation a Membership was created from (standalone accept, ownership transfer). */
export const ACCEPTED_INVITATION_ANNOTATION = 'roster.dev/invitation';

/** The invitations that belong to a membership (created for it, or accepted into it). */
export function invitationsOf(ctx: OperatorContext, m: Membership): Invitation[] {
  return ctx.caches.invitations.byIndex(index.byMembership, `${m.metadata.namespace}/${m.metadata.name}`);
}

export function backendFor(ctx: OperatorContext, team: Team): IdentityBackend | undefined {
  return ctx.identity(team.spec.identity?.backend ?? 'default');
}

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

/** The Membership's seat: from the seat index when it can tell, else by walking the team. */
function seatOf(ctx: OperatorContext, team: Team, teamKey: string, m: Membership, now: Date): Omit<MembershipSeat, 'state'> & { state: SeatState | undefined } {
  const indexed = ctx.seats?.membershipSeat(team, m, now);
  if (indexed) return indexed;
  const seats = assignSeats(team, ctx.caches.memberships.byIndex(index.byTeam, teamKey), ctx.caches.invitations.byIndex(index.byTeam, teamKey), { now });
  return { state: seats.memberships.get(m.metadata.name ?? ''), limit: seats.usage.limit, available: seats.usage.available };
}

export function gatherMembership(ctx: OperatorContext, m: Membership): MembershipFacts {
  const namespace = m.metadata.namespace ?? '';
  const now = ctx.now();
  const team = ctx.caches.teams.get(namespace, m.spec.team);
  const teamKey = teamKeyOf(m);
  const seat = team ? seatOf(ctx, team, teamKey, m, now) : undefined;
  return {
    membership: m,
    now,
    team,
    backend: team ? backendFor(ctx, team)?.name : undefined,
    namespaceTerminating: isNamespaceTerminating(ctx.caches.namespaces, namespace),
    removalLetThrough: m.metadata.deletionTimestamp ? removalLetThrough(ctx, m, team, now) : true,
    seat: seat?.state,
    seatUsage: seat ? { limit: seat.limit, available: seat.available } : undefined,
    acceptedAt: acceptance(ctx, m),
    ownedInvitations: invitationsOf(ctx, m).filter((i) => isControlledBy(i, m)),
    projects: ctx.caches.projects.byIndex(index.byTeam, teamKey),
  };
}
