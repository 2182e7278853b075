// `kubectl roster can-i EMAIL VERB`: finds the person's standing in the namespace's teams
// (owner, Membership, or only an invitation) and answers from the role matrix and scope
// (domain/scope.ts reviewAccess). A membership grants nothing until it is Active, so the
// answer for an Invited, Expired, OverSeatLimit or Failed membership is no, with why.
// Where the answer involves project environments, it also applies the tenancy rule
// (SPEC §7, tenancy/namespaces.ts): the operator binds nothing in a namespace that is not
// assigned to the team, so neither does this answer. The caller reads the namespaces
// (namespacesToRead says which) and passes what it found in as data.
// The person is found whatever the case of the address asked about, but the answer is for
// the Kubernetes user the kubernetes backend binds: the address exactly as the manifest
// writes it (user names are case-sensitive), so it agrees with `kubectl auth can-i --as`.
import type { Invitation, Membership, Project, Team } from '../api/generated.ts';
import { exactUserNote, sameEmail } from '../domain/email.ts';
import type { Permission, Role } from '../domain/roles.ts';
import { accessTargets, describeScope, reviewAccess, type AccessTarget, type ProjectScope } from '../domain/scope.ts';
import { isOwnerActive } from '../domain/seats.ts';
import { parseTime } from '../domain/time.ts';
import { namespaceAssignment, RESERVED_NAMESPACES, type Assignment, type TenancyPolicy } from '../tenancy/namespaces.ts';
import { isPendingStandalone, notReadyDetail } from './team-view.ts';
import { isTeamWideRole } from '../domain/roles.ts';
import { isUnscoped } from '../domain/scope.ts';
import { groupSubjectName, userSubjectName, type KubeSubject, type SubjectMapping } from '../backends/identity/kubernetes-subjects.ts';

export interface AccessQuestion {
  readonly email: string;
  readonly permission: Permission;
  readonly project?: string;
  readonly environment?: string;
  /** Only this team (--team). */
  readonly team?: string;
  /** How the kubernetes backend names subjects (--subject, --user-prefix, --group-prefix); default User, no prefix. */
  readonly subjects?: SubjectMapping;
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
  /**
   * The Kubernetes user the kubernetes identity backend binds for this person: the address
   * exactly as written in Team spec.owner.email or Membership spec.email.
   */
  readonly user?: string;
  /**
   * The Kubernetes subject the answer is about, as the kubernetes backend binds it: User
   * <userPrefix><address>, or in Group mode the group that carries this access (absent when
   * a scoped role's answer spans several environments: ask about one with --environment).
   */
  readonly subject?: KubeSubject;
  /** What the asker should know beside the answer (an address asked in another case). */
  readonly warnings?: readonly string[];
  /** Environments the role covers but where Roster grants nothing (SPEC §7), each with why. */
  readonly unreachable?: readonly UnreachableEnvironment[];
}

export interface UnreachableEnvironment extends AccessTarget {
  /** `refused` by the tenancy rule, `missing` namespace, or `unknown`: the caller could not read it. */
  readonly assignment: 'refused' | 'missing' | 'unknown';
  readonly reason: string;
}

/** A namespace fact the caller was not allowed (or not able) to read, and why. */
export interface Unreadable {
  readonly unreadable: string;
}

/** What the caller found out about one environment namespace. */
export interface NamespaceReading {
  /** The namespace's labels; undefined when it does not exist. */
  readonly labels: Readonly<Record<string, string>> | undefined | Unreadable;
  /** Whether a Team lives in it. */
  readonly holdsTeam: boolean | Unreadable;
}

/** The tenancy rule and what the caller read about the namespaces namespacesToRead named. */
export interface TenancyInput {
  readonly policy: TenancyPolicy;
  readonly namespaces: ReadonlyMap<string, NamespaceReading>;
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
  /** The address as the manifest writes it: the Kubernetes user that is bound. */
  readonly user: string;
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
      user: team.spec.owner.email,
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
    user: membership.spec.email,
    ...(inactive !== undefined ? { inactive } : {}),
  };
}

/** The permissions the identity backends grant in environment namespaces (SPEC §2). */
const ENVIRONMENT_PERMISSIONS: readonly Permission[] = ['view', 'deploy'];

type Resolution =
  | { readonly kind: 'outcome'; readonly outcome: AccessOutcome }
  | {
      readonly kind: 'decided';
      readonly answer: AccessAnswer;
      readonly who: string;
      readonly role: Role;
      /** When the matrix says yes for project access: the environments the answer rests on. */
      readonly targets: readonly AccessTarget[];
    };

/** The answer from the roster objects and the role matrix alone, and the environments it involves. */
function resolve(objects: NamespaceObjects, question: AccessQuestion, now: Date): Resolution {
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
    if (teams.length === 0) return { kind: 'outcome', outcome: { kind: 'teamNotFound', team: question.team } };
  }
  // A project belongs to one team: the question is about that team.
  if (project !== undefined) {
    const owners = new Set(objects.projects.filter((p) => p.metadata.name === project).map((p) => p.spec.team));
    const withProject = teams.filter((t) => owners.has(t.metadata.name ?? ''));
    if (withProject.length > 0) teams = withProject;
  }

  const standings = teams.map((t) => standingIn(t, objects, email, now)).filter((s): s is Standing => s !== undefined);
  if (standings.length > 1) return { kind: 'outcome', outcome: { kind: 'ambiguous', teams: standings.map((s) => s.team.metadata.name ?? '') } };

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
      kind: 'outcome',
      outcome: { kind: 'answer', answer: { ...base, allowed: false, reason, ...(teams.length === 1 ? { team: teams[0]!.metadata.name ?? '' } : {}) } },
    };
  }

  const teamName = standing.team.metadata.name ?? '';
  const subject = subjectFor(question, objects.namespace, standing);
  const about = {
    team: teamName,
    role: standing.role,
    scope: describeScope(standing.role, standing.scope),
    via: standing.via,
    user: standing.user,
    ...(subject ? { subject } : {}),
  };
  if (standing.inactive !== undefined) {
    return { kind: 'outcome', outcome: { kind: 'answer', answer: { ...base, ...about, allowed: false, reason: standing.inactive } } };
  }
  const teamProjects = objects.projects.filter((p) => p.spec.team === teamName);
  const decision = reviewAccess(standing.role, standing.scope, teamProjects, {
    permission,
    ...(project !== undefined ? { project } : {}),
    ...(environment !== undefined ? { environment } : {}),
  });
  const who = standing.role === 'owner' ? `${email} owns team ${teamName}` : `${email} is ${standing.role} in team ${teamName} (${standing.via})`;
  const answer: AccessAnswer = { ...base, ...about, allowed: decision.allowed, reason: `${who}: ${decision.reason}` };
  // Only a yes for a permission exercised in project environments rests on namespaces: a no
  // stays no, and the other permissions (members, plan, billing) live in the control namespace.
  const targets =
    decision.allowed && ENVIRONMENT_PERMISSIONS.includes(permission)
      ? accessTargets(standing.role, standing.scope, teamProjects).filter(
          (t) => (project === undefined || t.project === project) && (environment === undefined || t.environment === environment),
        )
      : [];
  return { kind: 'decided', answer, who, role: standing.role, targets };
}

/** The subject the kubernetes backend binds for this standing (kubernetes-subjects.ts), when one answers the question. */
function subjectFor(question: AccessQuestion, controlNamespace: string, standing: Standing): KubeSubject | undefined {
  const mapping = question.subjects ?? { subject: 'User', userPrefix: '', groupPrefix: '' };
  if (mapping.subject === 'User') return { kind: 'User', name: userSubjectName(mapping, standing.user) };
  const base = { controlNamespace, team: standing.team.metadata.name ?? '', role: standing.role };
  const scoped = !isTeamWideRole(standing.role) && !isUnscoped(standing.scope);
  // A scoped role's project access is one group per environment; team rights (members, billing) never are scoped.
  if (!scoped || !ENVIRONMENT_PERMISSIONS.includes(question.permission)) return { kind: 'Group', name: groupSubjectName(mapping, base) };
  if (question.project === undefined || question.environment === undefined) return undefined;
  return { kind: 'Group', name: groupSubjectName(mapping, { ...base, project: question.project, environment: question.environment }) };
}

/** Namespaces whose verdict does not depend on anything read from the cluster. */
function decidedByName(policy: TenancyPolicy, controlNamespace: string, namespace: string): boolean {
  return RESERVED_NAMESPACES.includes(namespace) || namespace === policy.operatorNamespace || namespace === controlNamespace;
}

/**
 * The environment namespaces the answer depends on and that must be read from the cluster
 * (their labels, and whether a Team lives there), sorted. Empty when the answer involves no
 * environment, or only ones the rule refuses by name (kube-system, the operator's own…).
 */
export function namespacesToRead(objects: NamespaceObjects, question: AccessQuestion, now: Date, policy: TenancyPolicy): string[] {
  const resolution = resolve(objects, question, now);
  if (resolution.kind !== 'decided') return [];
  const names = resolution.targets.map((t) => t.namespace).filter((n) => !decidedByName(policy, objects.namespace, n));
  return [...new Set(names)].sort();
}

type Verdict = Assignment | { readonly kind: 'unknown'; readonly message: string };

/** The tenancy rule over what could be read; a fact that could not be read only matters when it could turn a no into a yes. */
function verdictFor(tenancy: TenancyInput, controlNamespace: string, namespace: string): Verdict {
  const { policy } = tenancy;
  if (decidedByName(policy, controlNamespace, namespace))
    return namespaceAssignment(policy, controlNamespace, namespace, { labels: undefined, holdsTeam: false });
  const reading = tenancy.namespaces.get(namespace) ?? { labels: { unreadable: 'it was not read' }, holdsTeam: false };
  const cannotTell = (why: string): Verdict => ({
    kind: 'unknown',
    message: `cannot tell whether namespace ${namespace} is assigned to the team in namespace ${controlNamespace}: ${why}; ask someone who may read it, or a cluster admin: kubectl get namespace ${namespace} --show-labels`,
  });
  if (reading.labels !== undefined && 'unreadable' in reading.labels) return cannotTell(reading.labels.unreadable);
  const labels = reading.labels as Readonly<Record<string, string>> | undefined;
  const holdsTeam = typeof reading.holdsTeam === 'boolean' ? reading.holdsTeam : false;
  const verdict = namespaceAssignment(policy, controlNamespace, namespace, { labels, holdsTeam });
  // Unknown whether a Team lives there: that could only refuse, so it matters only for a yes.
  if (verdict.kind === 'assigned' && typeof reading.holdsTeam !== 'boolean') return cannotTell(reading.holdsTeam.unreadable);
  return verdict;
}

const place = (t: AccessTarget): string => `${t.project}/${t.environment}`;

/**
 * Answers an access question about a person in a namespace's teams. Pure. `objects.namespace`
 * is the teams' control namespace; `tenancy` carries what the caller read about the
 * namespaces namespacesToRead named (a namespace missing from it counts as unreadable).
 *
 * The person is found case-insensitively, but Kubernetes user names are case-sensitive and
 * the kubernetes backend binds the address as written: asked about `riley@acme.com` when the
 * Membership says `Riley@Acme.com`, the answer is no (as `kubectl auth can-i --as
 * riley@acme.com` says), with the answer for the written spelling and a warning.
 */
export function reviewPersonAccess(objects: NamespaceObjects, question: AccessQuestion, now: Date, tenancy: TenancyInput): AccessOutcome {
  const outcome = reviewSpelling(objects, question, now, tenancy);
  if (outcome.kind !== 'answer') return outcome;
  const { user, via } = outcome.answer;
  // Groups do not depend on how the address is spelled.
  if (question.subjects?.subject === 'Group') return outcome;
  if (user === undefined || via === undefined || user === question.email) return outcome;
  const written = reviewSpelling(objects, { ...question, email: user }, now, tenancy);
  const forWritten = written.kind === 'answer' ? written.answer : outcome.answer;
  const [holder, field] = bindingHolder(via);
  const note = exactUserNote(holder, user, field);
  return {
    kind: 'answer',
    answer: {
      ...forWritten,
      email: question.email,
      subject: { kind: 'User', name: userSubjectName(question.subjects ?? { userPrefix: '' }, question.email) },
      allowed: false,
      reason: `Kubernetes user ${question.email} gets nothing from Roster: ${note}. For ${user} the answer is ${forWritten.allowed ? 'yes' : 'no'}: ${forWritten.reason}`,
      warnings: [`asked about ${question.email}, but ${note}`],
    },
  };
}

/** `Membership riley` and `spec.email`, or `Team acme` and `spec.owner.email`, from a `via`. */
function bindingHolder(via: string): [holder: string, field: string] {
  const slash = via.indexOf('/');
  const name = via.slice(slash + 1);
  return via.startsWith('team/') ? [`Team ${name}`, 'spec.owner.email'] : [`Membership ${name}`, 'spec.email'];
}

/** The answer for the address exactly as asked (the person found case-insensitively). */
function reviewSpelling(objects: NamespaceObjects, question: AccessQuestion, now: Date, tenancy: TenancyInput): AccessOutcome {
  const resolution = resolve(objects, question, now);
  if (resolution.kind === 'outcome') return resolution.outcome;
  const { answer, who, role, targets } = resolution;
  if (targets.length === 0) return { kind: 'answer', answer };

  const reachable: AccessTarget[] = [];
  const unreachable: UnreachableEnvironment[] = [];
  for (const target of targets) {
    const verdict = verdictFor(tenancy, objects.namespace, target.namespace);
    if (verdict.kind === 'assigned') reachable.push(target);
    else unreachable.push({ ...target, assignment: verdict.kind, reason: verdict.message });
  }
  if (unreachable.length === 0) return { kind: 'answer', answer };

  const what = answer.permission;
  const list = unreachable.map((u) => `${place(u)}: ${u.reason}`).join('; ');
  let allowed: boolean;
  let reason: string;
  if (question.environment !== undefined) {
    // One environment: it is reachable or it is not.
    allowed = false;
    reason = `${who}: role ${role} would grant ${what} in ${place(unreachable[0]!)}, but Roster grants nothing there: ${unreachable[0]!.reason}`;
  } else if (question.project !== undefined) {
    // The whole project, as reviewAccess reads it: yes only if every environment is reachable.
    allowed = false;
    reason =
      reachable.length === 0
        ? `${who}: Roster grants nothing in project ${question.project}: ${list}`
        : `${who}: role ${role} grants ${what} only in ${reachable.map((t) => t.environment).join(', ')} of ${question.project}, not in ${list}; ask about one environment`;
  } else {
    // Anywhere in scope: yes while some environment is reachable, saying where it is not.
    allowed = reachable.length > 0;
    reason = allowed
      ? `${answer.reason}, except where Roster grants nothing: ${list}`
      : `${who}: role ${role} would grant ${what}, but Roster grants nothing in any environment in its scope: ${list}`;
  }
  return { kind: 'answer', answer: { ...answer, allowed, reason, unreachable } };
}
