// The state of the world an Invitation decision reads, gathered from the shared caches once
// (no API request), as plain data for the pure planner (plan.ts).
import { requesterOf } from '../../audit/actor.ts';
import type { Invitation } from '../../api/generated.ts';
import { mailTimes } from '../../domain/invitation-state.ts';
import { assignSeats, isStandaloneInvitation } from '../../domain/seats.ts';
import { index, teamKeyOf, type OperatorContext } from '../context.ts';
import { isNamespaceTerminating } from '../objects.ts';
import type { InvitationFacts } from './plan.ts';

export function gatherInvitation(ctx: OperatorContext, invitation: Invitation): InvitationFacts {
  const namespace = invitation.metadata.namespace ?? '';
  const now = ctx.now();
  const team = ctx.caches.teams.get(namespace, invitation.spec.team);
  const teamKey = teamKeyOf(invitation);
  const memberships = team ? ctx.caches.memberships.byIndex(index.byTeam, teamKey) : [];
  const invitations = () => ctx.caches.invitations.byIndex(index.byTeam, teamKey);
  // Only a standalone invitation takes a seat of its own.
  const overSeatLimit =
    team !== undefined &&
    isStandaloneInvitation(invitation) &&
    assignSeats(team, memberships, invitations(), { now }).invitationsOverLimit.some((i) => i.metadata.name === invitation.metadata.name);
  return {
    invitation,
    now,
    team,
    namespaceTerminating: isNamespaceTerminating(ctx.caches.namespaces, namespace),
    overSeatLimit,
    teamMails: !team ? [] : (ctx.teamMails?.times(teamKey) ?? mailTimes(invitations().map((i) => i.status?.recentMails))),
    mailLimits: ctx.mailLimits,
    mailFrom: ctx.mailFrom,
    requester: requesterOf(invitation, { membership: (m) => ctx.caches.memberships.get(namespace, m), team }),
    teamMemberships: memberships,
  };
}
