// `kubectl roster can-i EMAIL VERB`: finds the person's standing in the namespace's teams
// (owner, Membership, or only an invitation) and answers from the role matrix and scope
// (domain/scope.ts reviewAccess). A membership grants nothing until it is Active, so the
// answer for an Invited, Expired, OverSeatLimit or Failed membership is no, with why.
import type { Invitation, Membership, Project, Team } from '../api/generated.ts';
import { sameEmail } from '../domain/email.ts';
import type { Permission, Role } from '../domain/roles.ts';
import { describeScope, reviewAccess, type ProjectScope } from '../domain/scope.ts';
import { isOwnerActive } from '../domain/seats.ts';
import { parseTime } from '../domain/time.ts';
import { isPendingStandalone, notReadyDetail } from './team-view.ts';

export interface AccessQuestion {
  readonly email: string;
  readonly permission: Permission;
  readonly project?: string;
  readonly environment?: string;
  /** Only this team (--team). */
  readonly team?: string;
}

/** Everything in the namespace the answer may depend on. */
export interface NamespaceObjects {
  readonly namespace: string;
  readonly teams: readonly Team[];
  readonly memberships: readonly Membership[];
  readonly invitations: readonly Invitation[];
  readonly projects: readonly Project[];
}

export interface AccessAnswer {
  readonly allowed: boolean;
  /** Why, in words a person can act on. */
  readonly reason: string;
  readonly email: string;
  readonly permission: Permission;
  readonly project?: string;
  readonly environment?: string;
  /** The team the answer is about, when the person is in one. */
  readonly team?: string;
  /** The role the answer comes from (even when the answer is no because it is not active yet). */
  readonly role?: Role;
  readonly scope?: string;
  /** `team/acme` (owner) or `membership/riley`. */
  readonly via?: string;
}

export type AccessOutcome =
  | { readonly kind: 'answer'; readonly answer: AccessAnswer }
  /** The person is in several teams here and the question does not say which: ask with --team. */
  | { readonly kind: 'ambiguous'; readonly teams: readonly string[] }
  /** --team names a team that does not exist. */
  | { readonly kind: 'teamNotFound'; readonly team: string };

interface Standing {
  readonly team: Team;
  readonly role: Role;
  readonly scope: readonly ProjectScope[] | undefined;
  readonly via: string;
  /** Undefined when the standing grants its role; else why it grants nothing. */
  readonly inactive?: string;
}

function membershipInactive(m: Membership, now: Date): string | undefined {
  const expires = parseTime(m.spec.expiresAt);
  const name = m.metadata.name ?? '';
  if (m.metadata.deletionTimestamp) return `membership ${name} is being deleted; its access is being removed`;
  if (m.status?.phase === 'Expired' || (expires !== undefined && expires <= now.getTime())) {
    return `membership ${name} expired at ${m.spec.expiresAt ?? 'its expiry'}; raise spec.expiresAt to restore it`;
  }
  switch (m.status?.phase) {
    case 'Active':
      return undefined;
    case 'Invited':
      if (m.status.acceptedAt) {
        const why = notReadyDetail(m.status.conditions, 'Invited');
        return `${m.spec.email} accepted at ${m.status.acceptedAt} but is not provisioned yet${why ? `: ${why}` : ''}`;
      }
      return `${m.spec.email} has not accepted the invitation yet (membership ${name} is Invited); nothing is granted until they do — resend it with: kubectl roster resend ${m.status.invitation ?? name}`;
    case 'OverSeatLimit':
      return `membership ${name} is over the team's seat limit and grants nothing; raise the Team's spec.seats or remove a member`;
    case 'Failed': {
      const why = notReadyDetail(m.status.conditions, 'Failed');
      return `membership ${name} is Failed${why ? `: ${why}` : ''}`;
    }
    case undefined:
      return `membership ${name} has not been reconciled by the operator yet, so it grants nothing yet`;
  }
}

function standingIn(team: Team, objects: NamespaceObjects, email: string, now: Date): Standing | undefined {
  const teamName = team.metadata.name ?? '';
  if (sameEmail(team.spec.owner.email, email)) {
    return {
      team,
      role: 'owner',
      scope: undefined,
      via: `team/${teamName}`,
      ...(isOwnerActive(team) ? {} : { inactive: `${email} owns team ${teamName} but has not accepted the owner invitation yet` }),
    };
  }
  const membership = objects.memberships.find((m) => m.spec.team === teamName && sameEmail(m.spec.email, email));
  if (membership === undefined) return undefined;
  const inactive = membershipInactive(membership, now);
  return {
    team,
    role: membership.spec.role,
    scope: membership.spec.projects,
    via: `membership/${membership.metadata.name ?? ''}`,
    ...(inactive !== undefined ? { inactive } : {}),
  };
}

/** Answers an access question about a person in a namespace's teams. Pure. */
export function reviewPersonAccess(objects: NamespaceObjects, question: AccessQuestion, now: Date): AccessOutcome {
  const { email, permission, project, environment } = question;
  const base = {
    email,
    permission,
    ...(project !== undefined ? { project } : {}),
    ...(environment !== undefined ? { environment } : {}),
  };
  let teams = [...objects.teams];
  if (question.team !== undefined) {
    teams = teams.filter((t) => t.metadata.name === question.team);
    if (teams.length === 0) return { kind: 'teamNotFound', team: question.team };
  }
  // A project belongs to one team: the question is about that team.
  if (project !== undefined) {
    const owners = new Set(objects.projects.filter((p) => p.metadata.name === project).map((p) => p.spec.team));
    const withProject = teams.filter((t) => owners.has(t.metadata.name ?? ''));
    if (withProject.length > 0) teams = withProject;
  }

  const standings = teams.map((t) => standingIn(t, objects, email, now)).filter((s): s is Standing => s !== undefined);
  if (standings.length > 1) return { kind: 'ambiguous', teams: standings.map((s) => s.team.metadata.name ?? '') };

  const standing = standings[0];
  if (standing === undefined) {
    const where = teams.length === 1 ? `team ${teams[0]!.metadata.name}` : `any team in namespace ${objects.namespace}`;
    const invitation = objects.invitations.find(
      (i) => isPendingStandalone(i) && sameEmail(i.spec.email, email) && teams.some((t) => t.metadata.name === i.spec.team),
    );
    const reason = invitation
      ? `${email} is not a member of ${where} yet: invitation ${invitation.metadata.name} (${invitation.spec.role}) is waiting for them to accept`
      : teams.length === 0
        ? `there are no teams in namespace ${objects.namespace}`
        : `${email} is neither the owner nor a member of ${where}`;
    return {
      kind: 'answer',
      answer: { ...base, allowed: false, reason, ...(teams.length === 1 ? { team: teams[0]!.metadata.name ?? '' } : {}) },
    };
  }

  const teamName = standing.team.metadata.name ?? '';
  const about = {
    team: teamName,
    role: standing.role,
    scope: describeScope(standing.role, standing.scope),
    via: standing.via,
  };
  if (standing.inactive !== undefined) {
    return { kind: 'answer', answer: { ...base, ...about, allowed: false, reason: standing.inactive } };
  }
  const teamProjects = objects.projects.filter((p) => p.spec.team === teamName);
  const decision = reviewAccess(standing.role, standing.scope, teamProjects, {
    permission,
    ...(project !== undefined ? { project } : {}),
    ...(environment !== undefined ? { environment } : {}),
  });
  const who = standing.role === 'owner' ? `${email} owns team ${teamName}` : `${email} is ${standing.role} in team ${teamName} (${standing.via})`;
  return { kind: 'answer', answer: { ...base, ...about, allowed: decision.allowed, reason: `${who}: ${decision.reason}` } };
}
