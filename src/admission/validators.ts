// The rules of SPEC §3 as pure functions, one per kind: an object change plus a view of the
// team (read from the same caches the controllers use) in, a verdict out. Every denial
// says what to do instead. Seats are decided here against the view; the handler then makes
// the decision hold under concurrency with a reservation (src/seats/ledger.ts).
import { isDeepStrictEqual } from 'node:util';
import type { Invitation, Membership, Project, Team } from '../api/generated.ts';
import { emailProblem, exactUserNote, sameEmail } from '../domain/email.ts';
import { isTeamWideRole, type Role } from '../domain/roles.ts';
import { scopeReferenceProblems, teamWideScopeProblem, type ProjectScope } from '../domain/scope.ts';
import { invitationNeedsSeat, isStandaloneInvitation, membershipNeedsSeat, seatLimitProblem } from '../domain/seats.ts';
import { parseTime } from '../domain/time.ts';
import { namespaceAssignment, teamNamespaceProblem, type NamespaceFacts, type TenancyPolicy } from '../tenancy/namespaces.ts';
import { senderProblem, type MailPolicy } from './mail-rules.ts';
import { decideSeat, seatsInUse, type SeatClaim, type SeatHolders, type SeatReservation } from '../seats/decision.ts';

/** What the validators read about one team; `team` is undefined when it does not exist. */
export interface AdmissionView {
  readonly team?: Team;
  readonly memberships: readonly Membership[];
  readonly invitations: readonly Invitation[];
  readonly projects: readonly Project[];
  /** The team's Memberships for one person (any spelling of the address); else the rules look through `memberships`. */
  readonly membershipsOf?: (email: string) => readonly Membership[];
  /** The team's seat holders as the seat index keeps them (else the seat check walks memberships and invitations). */
  readonly seatHolders?: SeatHolders;
  /** Live seat reservations (not expired, object not in the caches yet). */
  readonly reservations: readonly SeatReservation[];
  /** Seats the ledger's blocks hold on top (src/seats/ledger.ts); read only when lowering spec.seats. */
  readonly heldSeats?: number;
  /** Projects: what is known of each environment's namespace (absent = does not exist). */
  readonly namespaces?: ReadonlyMap<string, NamespaceFacts>;
  /** Teams: the other Teams already in the namespace. */
  readonly teamsInNamespace?: readonly Team[];
}

export interface Requester {
  readonly username: string;
  readonly groups: readonly string[];
}

export interface RuleContext {
  readonly now: Date;
  /** The operator's own user name, when known: only it may create owner invitations. */
  readonly operatorUsername?: string;
  /** Which namespaces a team may reach (SPEC §7). */
  readonly tenancy?: TenancyPolicy;
  /** The operator's mail settings (sender allow-list); without them the mail rules are skipped. */
  readonly mail?: MailPolicy;
}

export interface Change<T> {
  readonly operation: 'CREATE' | 'UPDATE';
  readonly object: T;
  readonly oldObject?: T;
  readonly user: Requester;
  /** The admission request's UID (the seat reservation key). */
  readonly requestUid: string;
}

export type Verdict =
  { readonly allowed: true; readonly warnings: readonly string[]; readonly seat?: SeatClaim } | { readonly allowed: false; readonly message: string };

export const INVITATION_ANNOTATION = 'roster.dev/invitation';

const allowed = (warnings: readonly string[] = [], seat?: SeatClaim): Verdict => ({ allowed: true, warnings, ...(seat ? { seat } : {}) });
const denied = (problems: readonly string[]): Verdict => ({ allowed: false, message: problems.join('; ') });

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The fields the rules read, checked for shape (the API server's schema normally did this). */
function shapeProblems(object: unknown, kind: string, fields: Record<string, 'string' | 'number' | 'object'>): string[] {
  if (!isRecord(object)) return [`the ${kind} is not an object`];
  const problems: string[] = [];
  if (!isRecord(object.metadata)) problems.push(`${kind} metadata is missing`);
  if (!isRecord(object.spec)) return [...problems, `${kind} spec is missing`];
  for (const [path, type] of Object.entries(fields)) {
    let value: unknown = object.spec;
    for (const part of path.split('.')) value = isRecord(value) ? value[part] : undefined;
    const ok = type === 'object' ? isRecord(value) : typeof value === type && (type !== 'number' || Number.isFinite(value));
    if (!ok) problems.push(`spec.${path} must be a${type === 'object' ? 'n' : ''} ${type}`);
  }
  if (object.spec.projects !== undefined && !validScope(object.spec.projects)) {
    problems.push('spec.projects must be a list of { name, environments? }');
  }
  return problems;
}

function validScope(v: unknown): boolean {
  return (
    Array.isArray(v) &&
    v.every(
      (p) =>
        isRecord(p) &&
        typeof p.name === 'string' &&
        (p.environments === undefined || (Array.isArray(p.environments) && p.environments.every((e) => typeof e === 'string'))),
    )
  );
}

/** An update must carry the old object, with a spec: without it no rule can compare. */
function malformedUpdate<T>(change: Change<T>, kind: string): Verdict | undefined {
  if (change.operation !== 'UPDATE') return undefined;
  const old = change.oldObject as unknown;
  if (isRecord(old) && isRecord(old.spec)) return undefined;
  return denied([`malformed admission request: an update of a ${kind} without the old object's spec`]);
}

function teamMissing(name: string, namespace: string | undefined): string {
  return `team ${name} does not exist in namespace ${namespace ?? '(none)'}; create the Team first, or fix spec.team`;
}

function immutabilityProblems(object: { spec: { team: string; email?: string } }, old: { spec: { team: string; email?: string } } | undefined): string[] {
  if (!old || !isRecord(old.spec)) return [];
  const problems: string[] = [];
  if (object.spec.team !== old.spec.team) problems.push('spec.team is immutable; create a new object in the other team instead');
  if (object.spec.email !== undefined && object.spec.email !== old.spec.email) problems.push('spec.email is immutable; create a new object for another person');
  return problems;
}

function ownerRoleProblem(kind: 'Membership' | 'Invitation'): string {
  return `role owner is not allowed on a ${kind}: a team has exactly one owner, set in Team spec.owner (edit it to transfer ownership); use role admin instead`;
}

/** Scope rules, checked on create and whenever role or projects change. */
function scopeProblems(
  role: Role,
  scope: readonly ProjectScope[] | undefined,
  old: { spec: { role: string; projects?: unknown } } | undefined,
  projects: readonly Project[],
): string[] {
  const changed = !old || old.spec.role !== role || !isDeepStrictEqual(old.spec.projects, scope);
  if (!changed) return [];
  const teamWide = teamWideScopeProblem(role, scope);
  if (teamWide) return [teamWide];
  const referencesChanged = !old || !isDeepStrictEqual(old.spec.projects, scope);
  return referencesChanged && !isTeamWideRole(role) ? scopeReferenceProblems(scope, projects) : [];
}

function expiryProblem(expiresAt: string | undefined, oldExpiresAt: string | undefined, isUpdate: boolean, now: Date): string | undefined {
  if (expiresAt === undefined || (isUpdate && expiresAt === oldExpiresAt)) return undefined;
  if (typeof expiresAt !== 'string') return 'spec.expiresAt must be an RFC 3339 time such as 2027-03-31T00:00:00Z';
  const at = parseTime(expiresAt);
  if (at === undefined) return `spec.expiresAt must be an RFC 3339 time such as 2027-03-31T00:00:00Z, not ${JSON.stringify(expiresAt)}`;
  if (at <= now.getTime()) {
    return `spec.expiresAt ${expiresAt} is in the past; set a future time, or omit it for access without an end (to end access now, delete the object)`;
  }
  return undefined;
}

const live = <T extends Membership | Invitation>(o: T) => !o.metadata.deletionTimestamp;

function seatVerdict(view: AdmissionView, team: Team, claim: SeatClaim, now: Date, warnings: readonly string[], handover = false): Verdict {
  const source = view.seatHolders ?? { team, memberships: view.memberships, invitations: view.invitations };
  const decision = decideSeat(source, view.reservations, claim, now, handover);
  if (decision.kind === 'deny') return denied([decision.message]);
  return allowed(warnings, decision.kind === 'reserve' ? claim : undefined);
}

export function validateMembership(change: Change<Membership>, view: AdmissionView, ctx: RuleContext): Verdict {
  const shape = shapeProblems(change.object, 'Membership', { team: 'string', email: 'string', role: 'string' });
  if (shape.length) return denied(shape);
  const malformed = malformedUpdate(change, 'Membership');
  if (malformed) return malformed;
  const { object: m, oldObject: old } = change;
  const isUpdate = change.operation === 'UPDATE';
  const immutable = isUpdate ? immutabilityProblems(m, old) : [];
  if (immutable.length) return denied(immutable);

  const problems: string[] = [];
  if ((m.spec.role as string) === 'owner') problems.push(ownerRoleProblem('Membership'));
  const badEmail = isUpdate ? undefined : emailProblem(m.spec.email, 'spec.email');
  if (badEmail) problems.push(badEmail);
  const expiry = expiryProblem(m.spec.expiresAt, old?.spec.expiresAt, isUpdate, ctx.now);
  if (expiry) problems.push(expiry);
  const team = view.team;
  if (!team) return denied([...problems, teamMissing(m.spec.team, m.metadata.namespace)]);
  const teamName = team.metadata.name ?? m.spec.team;

  if (!isUpdate) {
    if (sameEmail(team.spec.owner.email, m.spec.email)) {
      problems.push(
        `${m.spec.email} is the owner of team ${teamName} (Team spec.owner) and needs no Membership; to make someone else the owner, edit Team spec.owner`,
      );
    }
    const other = (view.membershipsOf?.(m.spec.email) ?? view.memberships).find(
      (o) => live(o) && o.metadata.name !== m.metadata.name && sameEmail(o.spec.email, m.spec.email),
    );
    if (other) {
      problems.push(`${m.spec.email} already has Membership ${other.metadata.name} in team ${teamName}; edit that Membership instead of creating a second one`);
    }
  }
  if ((m.spec.role as string) !== 'owner') problems.push(...scopeProblems(m.spec.role, m.spec.projects, old, view.projects));
  if (problems.length) return denied(problems);

  const warnings: string[] = [];
  if (!isUpdate) {
    const mixedCase = mixedCaseEmailWarning('Membership', m.metadata.name, m.spec.email);
    if (mixedCase) warnings.push(mixedCase);
    const claim: SeatClaim = { requestUid: change.requestUid, kind: 'Membership', name: m.metadata.name ?? '', uid: m.metadata.uid, email: m.spec.email };
    return seatVerdict(view, team, claim, ctx.now, warnings, isHandover(m, view));
  }
  // An expired Membership whose expiry moves into the future needs its seat back.
  // (The status still says Expired during this update: judge the new spec alone.)
  if (
    old &&
    !membershipNeedsSeat(old, { now: ctx.now }) &&
    membershipNeedsSeat({ ...m, status: undefined }, { now: ctx.now }) &&
    !old.metadata.deletionTimestamp
  ) {
    // Walked without this Membership (the index counts it).
    const { seatHolders: _counted, ...rest } = view;
    const others = { ...rest, memberships: view.memberships.filter((o) => o.metadata.name !== m.metadata.name) };
    const claim: SeatClaim = { requestUid: change.requestUid, kind: 'Membership', name: m.metadata.name ?? '', uid: m.metadata.uid, email: m.spec.email };
    const verdict = seatVerdict(others, team, claim, ctx.now, warnings);
    // The object already exists: no reservation, the controller re-checks the limit.
    return verdict.allowed ? allowed(warnings) : verdict;
  }
  return allowed(warnings);
}

/** A Membership created for an accepted standalone Invitation takes over that invitation's seat. */
function isHandover(m: Membership, view: AdmissionView): boolean {
  const name = m.metadata.annotations?.[INVITATION_ANNOTATION];
  if (!name) return false;
  const inv = view.invitations.find((i) => i.metadata.name === name);
  return (
    inv !== undefined &&
    isStandaloneInvitation(inv) &&
    inv.status?.phase === 'Accepted' &&
    sameEmail(inv.spec.email, m.spec.email) &&
    inv.spec.team === m.spec.team &&
    (!inv.status.membership || inv.status.membership === m.metadata.name)
  );
}

export function validateInvitation(change: Change<Invitation>, view: AdmissionView, ctx: RuleContext): Verdict {
  const shape = shapeProblems(change.object, 'Invitation', { team: 'string', email: 'string', role: 'string' });
  if (shape.length) return denied(shape);
  const malformed = malformedUpdate(change, 'Invitation');
  if (malformed) return malformed;
  const { object: inv, oldObject: old } = change;
  const isUpdate = change.operation === 'UPDATE';
  const immutable = isUpdate ? immutabilityProblems(inv, old) : [];
  if (immutable.length) return denied(immutable);

  const problems: string[] = [];
  const badEmail = isUpdate ? undefined : emailProblem(inv.spec.email, 'spec.email');
  if (badEmail) problems.push(badEmail);
  const team = view.team;
  if (!team) return denied([...problems, teamMissing(inv.spec.team, inv.metadata.namespace)]);
  const teamName = team.metadata.name ?? inv.spec.team;
  const refs = inv.metadata.ownerReferences ?? [];
  const teamRef = refs.find((r) => r.kind === 'Team' && r.apiVersion.startsWith('roster.dev/'));
  const membershipRef = refs.find((r) => r.kind === 'Membership' && r.apiVersion.startsWith('roster.dev/'));

  // The operator re-invites for a Membership (or Team spec.owner) whose invitation is revoked,
  // so a revoke by anyone else would only mail a new link (issue 10 item 5).
  const revoking = isUpdate && inv.spec.revoked === true && old?.spec.revoked !== true;
  if (revoking && (membershipRef || teamRef) && !(ctx.operatorUsername !== undefined && change.user.username === ctx.operatorUsername)) {
    return denied([followerRevokeProblem(inv, membershipRef?.name, teamName)]);
  }

  const becomesOwner = inv.spec.role === 'owner' && (!isUpdate || old?.spec.role !== 'owner');
  if (becomesOwner) {
    const byOperator = ctx.operatorUsername !== undefined && change.user.username === ctx.operatorUsername;
    const controlledByTeam = refs.some((r) => r.kind === 'Team' && r.controller === true && r.uid === team.metadata.uid && r.name === team.metadata.name);
    if (!byOperator || !controlledByTeam || !sameEmail(inv.spec.email, team.spec.owner.email)) {
      return denied([
        `role owner is not allowed: the operator invites the owner named in Team spec.owner itself (edit it to transfer ownership); invite with role admin instead`,
      ]);
    }
  }

  if (!isUpdate && inv.spec.role !== 'owner') {
    if (teamRef) {
      problems.push(
        `an Invitation owned by a Team is the operator's invitation for the team owner; remove metadata.ownerReferences to invite ${inv.spec.email} yourself`,
      );
    } else if (membershipRef) {
      const owner = view.memberships.find((m) => m.metadata.name === membershipRef.name);
      if (!owner || !sameEmail(owner.spec.email, inv.spec.email) || (membershipRef.uid && owner.metadata.uid && membershipRef.uid !== owner.metadata.uid)) {
        problems.push(
          `metadata.ownerReferences names Membership ${membershipRef.name}, which is not a Membership for ${inv.spec.email} in team ${teamName}; remove the owner reference to create a standalone invitation`,
        );
      }
    } else {
      if (sameEmail(team.spec.owner.email, inv.spec.email)) {
        problems.push(`${inv.spec.email} is the owner of team ${teamName} (Team spec.owner) and needs no invitation`);
      }
      const member = (view.membershipsOf?.(inv.spec.email) ?? view.memberships).find((m) => live(m) && sameEmail(m.spec.email, inv.spec.email));
      if (member) {
        problems.push(`${inv.spec.email} already has Membership ${member.metadata.name} in team ${teamName}; edit its spec.role instead of inviting again`);
      }
      const pending = view.invitations.find(
        (i) => i.metadata.name !== inv.metadata.name && sameEmail(i.spec.email, inv.spec.email) && invitationNeedsSeat(i, { now: ctx.now }),
      );
      if (pending) {
        problems.push(
          `a pending invitation ${pending.metadata.name} for ${inv.spec.email} already exists in team ${teamName}; resend it (kubectl annotate invitation ${pending.metadata.name} roster.dev/resend=$(date +%s) --overwrite) or revoke it first`,
        );
      }
    }
  }
  if (inv.spec.role !== 'owner') problems.push(...scopeProblems(inv.spec.role, inv.spec.projects, old, view.projects));
  if (problems.length) return denied(problems);

  // Only standalone invitations: the operator's own copy a Membership's (or Team's) address.
  const mixedCase = !isUpdate && isStandaloneInvitation(inv) ? mixedCaseEmailWarning('Invitation', inv.metadata.name, inv.spec.email) : undefined;
  if (!isUpdate && isStandaloneInvitation(inv) && inv.spec.revoked !== true) {
    const claim: SeatClaim = { requestUid: change.requestUid, kind: 'Invitation', name: inv.metadata.name ?? '', uid: inv.metadata.uid, email: inv.spec.email };
    return seatVerdict(view, team, claim, ctx.now, mixedCase ? [mixedCase] : []);
  }
  if (mixedCase) return allowed([mixedCase]);
  return allowed();
}

/**
 * An address not all in lower case is admitted (it is what an OIDC authenticator may present),
 * but the kubernetes backend binds it exactly as written: say so while it can still be fixed.
 */
function mixedCaseEmailWarning(kind: 'Membership' | 'Invitation' | 'Team', name: string | undefined, email: string): string | undefined {
  if (email === email.toLowerCase()) return undefined;
  const holder = `${kind} ${name ?? ''}${kind === 'Invitation' ? ' (once accepted)' : ''}`;
  const field = kind === 'Team' ? 'spec.owner.email' : 'spec.email';
  // spec.email is immutable; the owner's address may be edited.
  const fix = kind === 'Team' ? `write ${field} in lower case` : 'recreate it in lower case';
  return `${exactUserNote(holder, email, field)}. If it presents ${email.toLowerCase()}, ${fix}`;
}

function followerRevokeProblem(inv: Invitation, membership: string | undefined, teamName: string): string {
  const name = inv.metadata.name ?? '';
  const namespace = inv.metadata.namespace ?? '<namespace>';
  if (membership) {
    return `invitation ${name} belongs to Membership ${membership}: revoking it would only make the operator mail ${inv.spec.email} a new link; to withdraw the invitation delete the Membership (kubectl delete membership ${membership} -n ${namespace}), or set its spec.expiresAt to end the access at a set time`;
  }
  return `invitation ${name} invites the owner of team ${teamName} and follows Team spec.owner: revoking it would only make the operator mail a new link; to invite someone else as owner, edit Team spec.owner`;
}

/** spec.invitations.from on create, and whenever it changes: only allowed sender domains (SPEC §7). */
function senderProblemOf(team: Team, old: Team | undefined, ctx: RuleContext): string | undefined {
  const from = isRecord(team.spec.invitations) ? team.spec.invitations.from : undefined;
  if (!ctx.mail || typeof from !== 'string') return undefined;
  const oldFrom = old && isRecord(old.spec) && isRecord(old.spec.invitations) ? old.spec.invitations.from : undefined;
  if (old && from === oldFrom) return undefined;
  return senderProblem(from, ctx.mail);
}

export function validateTeam(change: Change<Team>, view: AdmissionView, ctx: RuleContext): Verdict {
  const shape = shapeProblems(change.object, 'Team', { owner: 'object', 'owner.email': 'string', seats: 'number' });
  if (shape.length) return denied(shape);
  const malformed = malformedUpdate(change, 'Team');
  if (malformed) return malformed;
  const { object: team, oldObject: old } = change;
  const sender = senderProblemOf(team, change.operation === 'UPDATE' ? old : undefined, ctx);
  if (sender) return denied([sender]);
  if (change.operation === 'CREATE') return teamCreationVerdict(team, view, ctx);
  if (!old || !isRecord(old.spec) || !isRecord(old.spec.owner)) return allowed();
  const name = team.metadata.name ?? '';
  const problems: string[] = [];
  const warnings: string[] = [];

  // The old object passed the schema once; still, read it defensively.
  const oldSeats = typeof old.spec.seats === 'number' ? old.spec.seats : Number.POSITIVE_INFINITY;
  const oldOwner = typeof old.spec.owner.email === 'string' ? old.spec.owner.email : '';
  if (team.spec.seats < oldSeats) {
    const held = view.heldSeats ?? 0;
    const inUse = seatsInUse({ team, memberships: view.memberships, invitations: view.invitations }, view.reservations, ctx.now, held);
    const problem = seatLimitProblem(name, team.spec.seats, inUse);
    // Seats that admissions in flight hold go within seconds: then only waiting helps.
    if (problem)
      problems.push(
        held > 0 && team.spec.seats >= inUse - held
          ? `${problem}, or retry in a moment: ${held} of them are held for a few seconds by admissions in flight`
          : problem,
      );
  }

  if (!sameEmail(team.spec.owner.email, oldOwner)) {
    const newOwner = team.spec.owner.email;
    const badEmail = emailProblem(newOwner, 'spec.owner.email');
    const ownerAccepted = old.status?.owner?.phase === 'Active';
    if (badEmail) {
      problems.push(badEmail);
    } else if (!ownerAccepted) {
      // Nobody owns the team yet: this corrects the invitation's address, it transfers nothing.
      warnings.push(`${oldOwner || 'the previous owner'} never accepted ownership; the owner invitation goes to ${newOwner} instead`);
    } else {
      const candidate = view.memberships.find((m) => live(m) && sameEmail(m.spec.email, newOwner));
      const how = `ownership of team ${name} can go only to an Active admin of the team`;
      if (!candidate) {
        problems.push(
          `${how}, and ${newOwner} is not a member; create a Membership for ${newOwner} with role admin, wait until it is Active, then edit spec.owner`,
        );
      } else if (candidate.spec.role !== 'admin') {
        problems.push(
          `${how}, and ${newOwner} has role ${candidate.spec.role}; change Membership ${candidate.metadata.name} to role admin first, then edit spec.owner`,
        );
      } else if (candidate.status?.phase !== 'Active') {
        problems.push(
          `${how}, and ${newOwner}'s Membership ${candidate.metadata.name} is ${candidate.status?.phase ?? 'not reconciled yet'}, not Active; wait until they accept, then edit spec.owner`,
        );
      }
    }
  }
  if (team.spec.owner.email !== oldOwner) {
    const mixedCase = mixedCaseEmailWarning('Team', name, team.spec.owner.email);
    if (mixedCase) warnings.push(mixedCase);
  }
  if (problems.length) return denied(problems);
  return allowed(warnings);
}

/** One Team per namespace, and never in a system namespace or the operator's (SPEC §7). */
function teamCreationVerdict(team: Team, view: AdmissionView, ctx: RuleContext): Verdict {
  const namespace = team.metadata.namespace ?? '';
  const reserved = ctx.tenancy ? teamNamespaceProblem(ctx.tenancy, namespace) : undefined;
  if (reserved) return denied([reserved]);
  const other = (view.teamsInNamespace ?? []).find((t) => t.metadata.name !== team.metadata.name);
  if (other) {
    return denied([
      `namespace ${namespace} already holds team ${other.metadata.name}, and a namespace holds one team (its RBAC is the team's); create team ${team.metadata.name} in a namespace of its own`,
    ]);
  }
  const mixedCase = mixedCaseEmailWarning('Team', team.metadata.name, team.spec.owner.email);
  return allowed(mixedCase ? [mixedCase] : []);
}

/** Environments a Project adds or moves must name namespaces assigned to the team (SPEC §7). */
function environmentVerdicts(project: Project, old: Project | undefined, view: AdmissionView, ctx: RuleContext): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (!ctx.tenancy) return { problems, warnings };
  const before = new Set(
    (isRecord(old?.spec) && Array.isArray(old.spec.environments) ? old.spec.environments : [])
      .filter(isRecord)
      .map((e) => `${String(e.name)}=${String(e.namespace)}`),
  );
  const control = project.metadata.namespace ?? '';
  for (const env of project.spec.environments) {
    if (typeof env.namespace !== 'string' || before.has(`${env.name}=${env.namespace}`)) continue;
    const facts = view.namespaces?.get(env.namespace) ?? { labels: undefined, holdsTeam: false };
    const verdict = namespaceAssignment(ctx.tenancy, control, env.namespace, facts);
    if (verdict.kind === 'refused') problems.push(`environment ${env.name}: ${verdict.message}`);
    else if (verdict.kind === 'missing') warnings.push(`environment ${env.name}: ${verdict.message}`);
  }
  return { problems, warnings };
}

export function validateProject(change: Change<Project>, view: AdmissionView, ctx: RuleContext = { now: new Date() }): Verdict {
  const shape = shapeProblems(change.object, 'Project', { team: 'string' });
  if (shape.length) return denied(shape);
  const malformed = malformedUpdate(change, 'Project');
  if (malformed) return malformed;
  const { object: project, oldObject: old } = change;
  if (change.operation === 'UPDATE') {
    const immutable = immutabilityProblems(project, old);
    if (immutable.length) return denied(immutable);
  } else if (!view.team) {
    return denied([teamMissing(project.spec.team, project.metadata.namespace)]);
  }
  const environments: unknown = project.spec.environments;
  if (!Array.isArray(environments) || !environments.every((e) => isRecord(e) && typeof e.name === 'string')) {
    return denied(['spec.environments must list at least one { name, namespace }']);
  }
  const tenancy = environmentVerdicts(project, old, view, ctx);
  if (tenancy.problems.length) return denied(tenancy.problems);
  // Removing an environment that scoped memberships name is allowed, but worth a warning.
  const warnings: string[] = [...tenancy.warnings];
  if (old && Array.isArray(old.spec.environments) && old.spec.environments.every(isRecord)) {
    const kept = new Set(project.spec.environments.map((e) => e.name));
    for (const env of old.spec.environments.filter((e) => !kept.has(e.name))) {
      const users = [...view.memberships, ...view.invitations]
        .filter((o) => (o.spec.projects ?? []).some((p) => p.name === project.metadata.name && (p.environments ?? []).includes(env.name)))
        .map((o) => o.metadata.name);
      if (users.length)
        warnings.push(
          `environment ${env.name} is still named in the scope of ${users.slice(0, 5).join(', ')}${users.length > 5 ? ', …' : ''}; they lose access there`,
        );
    }
  }
  return allowed(warnings);
}
