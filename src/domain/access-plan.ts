// Who has which access in a team, and what a change of manifests does to it (SPEC §8). Pure:
// plain snapshots in (the team, its memberships, invitations and projects, what is known of
// the environment namespaces, the time), per-person access out. The rules are the operator's
// own: seats from assignSeats, places from accessTargets, the tenancy rule from
// namespaceAssignment, the removal brake from decideRemovals. `kubectl roster plan` diffs two
// snapshots (the cluster now, the cluster after the apply); the membership controller can ask
// accessOf for one snapshot.
//
// A person's access exists only once their Membership is Active (accepted). A new Membership
// means an invitation is mailed and nothing is granted until it is accepted; a role or scope
// change of an Active member takes effect at once; a deleted Membership loses its access unless
// the removal brake holds it; an expiry in the past grants nothing (and is never held).

import type { Invitation, Membership, Project, Team } from '../api/generated.ts';
import { namespaceAssignment, type NamespaceFacts, type TenancyPolicy } from '../tenancy/namespaces.ts';
import { normalizeEmail } from './email.ts';
import { decideRemovals, stricter, type BrakeDecision, type BrakePolicy, type PendingRemoval } from './removal-brake.ts';
import { grantOf, type Permission, type Role } from './roles.ts';
import { accessTargets, describeScope, type AccessTarget, type ProjectScope } from './scope.ts';
import { assignSeats, isOwnerActive, invitationNeedsSeat, type SeatState, type SeatUsage } from './seats.ts';
import { parseDuration } from './duration.ts';
import { formatTime, parseTime } from './time.ts';

/** Everything one team's access depends on. */
export interface AccessSnapshot {
  /** The team's control namespace. */
  readonly controlNamespace: string;
  /** Undefined when there is no Team (not created yet, or deleted). */
  readonly team: Team | undefined;
  readonly memberships: readonly Membership[];
  readonly invitations: readonly Invitation[];
  readonly projects: readonly Project[];
  /** What is known of each environment namespace; a namespace missing here counts as not existing. */
  readonly namespaces: ReadonlyMap<string, NamespaceFacts>;
  readonly policy: TenancyPolicy;
  /** Memberships on their way out whose removal the brake holds: they keep their access. */
  readonly held?: ReadonlySet<string>;
  readonly now: Date;
}

/** The permissions granted in environment namespaces (the rest live in the control namespace). */
export const ENVIRONMENT_PERMISSIONS: readonly Permission[] = ['view', 'deploy'];

/** A place a person reaches and what they may do there. */
export interface EnvironmentAccess extends AccessTarget {
  readonly permissions: readonly Permission[];
}

/** A place in a person's scope where Roster grants nothing (SPEC §7), and why. */
export interface UnreachableEnvironment extends AccessTarget {
  readonly reason: string;
}

/** `active`: has the role's access; `invited`: waits for acceptance, nothing granted; `none`: nothing granted. */
export type AccessState = 'active' | 'invited' | 'none';

export interface PersonAccess {
  /** The address as the manifest writes it. */
  readonly email: string;
  readonly role: Role;
  readonly projects?: readonly ProjectScope[];
  /** describeScope of role and projects. */
  readonly scope: string;
  /** `team/acme` (owner), `membership/riley` or `invitation/riley-x7k2p` (standalone). */
  readonly via: string;
  readonly state: AccessState;
  /** Why the state is what it is, in words a person can act on. */
  readonly reason: string;
  readonly seat: SeatState;
  /** Where the person has access now (empty unless active). */
  readonly environments: readonly EnvironmentAccess[];
  /** Places in scope where nothing is granted (tenancy), only for active people. */
  readonly unreachable: readonly UnreachableEnvironment[];
  /** Held by the removal brake: the Membership is deleted but access stays until released. */
  readonly held?: boolean;
}

export interface TeamAccess {
  /** By normalized email. */
  readonly people: ReadonlyMap<string, PersonAccess>;
  /** Undefined when there is no Team. */
  readonly seats: SeatUsage | undefined;
}

const isTerminating = (o: { metadata: { deletionTimestamp?: string } }): boolean => Boolean(o.metadata.deletionTimestamp);

function environmentPermissions(role: Role): Permission[] {
  return ENVIRONMENT_PERMISSIONS.filter((p) => grantOf(role, p) !== 'no');
}

function places(snapshot: AccessSnapshot, role: Role, scope: readonly ProjectScope[] | undefined): Pick<PersonAccess, 'environments' | 'unreachable'> {
  const teamName = snapshot.team?.metadata.name ?? '';
  const projects = snapshot.projects.filter((p) => p.spec.team === teamName && !isTerminating(p));
  const permissions = environmentPermissions(role);
  const environments: EnvironmentAccess[] = [];
  const unreachable: UnreachableEnvironment[] = [];
  for (const target of accessTargets(role, scope, projects)) {
    const facts = snapshot.namespaces.get(target.namespace) ?? { labels: undefined, holdsTeam: false };
    const verdict = namespaceAssignment(snapshot.policy, snapshot.controlNamespace, target.namespace, facts);
    if (verdict.kind === 'assigned') environments.push({ ...target, permissions });
    else unreachable.push({ ...target, reason: verdict.message });
  }
  return { environments, unreachable };
}

function membershipState(m: Membership, seat: SeatState, snapshot: AccessSnapshot): { state: AccessState; reason: string; held?: boolean } {
  const name = m.metadata.name ?? '';
  const expires = parseTime(m.spec.expiresAt);
  // Expiry is intended: never held, whatever the brake says.
  if (m.status?.phase === 'Expired' || (expires !== undefined && expires <= snapshot.now.getTime())) {
    return { state: 'none', reason: `membership ${name} expired at ${m.spec.expiresAt ?? 'its expiry'}; raise spec.expiresAt to restore it` };
  }
  if (isTerminating(m)) {
    if (snapshot.held?.has(name) && m.status?.phase === 'Active') {
      return {
        state: 'active',
        held: true,
        reason: `membership ${name} is deleted but the removal brake holds it: access stays until an owner or admin runs kubectl roster release`,
      };
    }
    return { state: 'none', reason: `membership ${name} is deleted; its access is removed` };
  }
  if (seat === 'overLimit') {
    return { state: 'none', reason: `membership ${name} is over the team's seat limit and grants nothing; raise the Team's spec.seats or remove a member` };
  }
  switch (m.status?.phase) {
    case 'Active':
      return { state: 'active', reason: `membership ${name} is Active` };
    case 'Failed':
      return { state: 'none', reason: `membership ${name} is Failed; see its conditions` };
    case undefined:
      return { state: 'invited', reason: `membership ${name} is new: an invitation is mailed to ${m.spec.email}; nothing is granted until they accept` };
    case 'OverSeatLimit':
      if (m.status.acceptedAt) return { state: 'active', reason: `membership ${name} was accepted and now has a seat` };
      return {
        state: 'invited',
        reason: `membership ${name} now has a seat: an invitation is mailed to ${m.spec.email}; nothing is granted until they accept`,
      };
    case 'Superseded':
      return { state: 'none', reason: `${m.spec.email} owns the team, which includes everything membership ${name} grants` };
    case 'Invited':
      return {
        state: 'invited',
        reason: `${m.spec.email} has not accepted the invitation yet (membership ${name} is Invited); nothing is granted until they do`,
      };
  }
}

/** Each person's access in one snapshot: the owner, every Membership, every pending standalone Invitation. */
export function accessOf(snapshot: AccessSnapshot): TeamAccess {
  const people = new Map<string, PersonAccess>();
  const { team } = snapshot;
  if (team === undefined) return { people, seats: undefined };
  const teamName = team.metadata.name ?? '';
  const memberships = snapshot.memberships.filter((m) => m.spec.team === teamName);
  const invitations = snapshot.invitations.filter((i) => i.spec.team === teamName);
  const seats = assignSeats(team, memberships, invitations, { now: snapshot.now });

  const owner = team.spec.owner.email;
  const ownerActive = isOwnerActive(team) && !isTerminating(team);
  people.set(normalizeEmail(owner), {
    email: owner,
    role: 'owner',
    scope: describeScope('owner', undefined),
    via: `team/${teamName}`,
    seat: seats.owner,
    ...(ownerActive
      ? { state: 'active', reason: `${owner} owns team ${teamName}`, ...places(snapshot, 'owner', undefined) }
      : isTerminating(team)
        ? { state: 'none', reason: `team ${teamName} is deleted`, environments: [], unreachable: [] }
        : { state: 'invited', reason: `${owner} owns team ${teamName} but has not accepted the owner invitation yet`, environments: [], unreachable: [] }),
  });

  for (const m of memberships) {
    const key = normalizeEmail(m.spec.email);
    if (people.has(key)) continue; // the owner, or a duplicate admission refuses
    const seat = seats.memberships.get(m.metadata.name ?? '') ?? 'none';
    const { state, reason, held } = membershipState(m, seat, snapshot);
    people.set(key, {
      email: m.spec.email,
      role: m.spec.role,
      ...(m.spec.projects ? { projects: m.spec.projects } : {}),
      scope: describeScope(m.spec.role, m.spec.projects),
      via: `membership/${m.metadata.name ?? ''}`,
      state,
      reason,
      seat,
      ...(held ? { held } : {}),
      ...(state === 'active' ? places(snapshot, m.spec.role, m.spec.projects) : { environments: [], unreachable: [] }),
    });
  }

  for (const i of invitations) {
    const key = normalizeEmail(i.spec.email);
    if (people.has(key) || !invitationNeedsSeat(i, { now: snapshot.now })) continue;
    const seat = seats.invitations.get(i.metadata.name ?? '') ?? 'none';
    const name = i.metadata.name ?? '';
    people.set(key, {
      email: i.spec.email,
      role: i.spec.role,
      ...(i.spec.projects ? { projects: i.spec.projects } : {}),
      scope: describeScope(i.spec.role, i.spec.projects),
      via: `invitation/${name}`,
      state: seat === 'overLimit' ? 'none' : 'invited',
      reason:
        seat === 'overLimit'
          ? `invitation ${name} is past the team's seat limit and is not mailed; raise the Team's spec.seats or remove a member`
          : `invitation ${name} waits for ${i.spec.email} to accept; nothing is granted until they do`,
      seat,
      environments: [],
      unreachable: [],
    });
  }
  return { people, seats: seats.usage };
}

/** One permission in one place, for diffs. */
export interface Grant extends AccessTarget {
  readonly permission: Permission;
}

export type ChangeKind = 'added' | 'removed' | 'changed' | 'unchanged';

export interface PersonChange {
  readonly email: string;
  readonly kind: ChangeKind;
  readonly before?: PersonAccess;
  readonly after?: PersonAccess;
  readonly role?: { readonly from: Role | undefined; readonly to: Role | undefined };
  readonly scope?: { readonly from: string | undefined; readonly to: string | undefined };
  readonly state?: { readonly from: AccessState | undefined; readonly to: AccessState | undefined };
  readonly gained: readonly Grant[];
  readonly lost: readonly Grant[];
  /** An invitation would be mailed to this person. */
  readonly mailed: boolean;
  /** The removal brake would hold this person's removal: access stays until released. */
  readonly held: boolean;
}

function grants(person: PersonAccess | undefined): Grant[] {
  if (person === undefined || person.state !== 'active') return [];
  return person.environments.flatMap((e) =>
    e.permissions.map((permission) => ({ project: e.project, environment: e.environment, namespace: e.namespace, permission })),
  );
}

const grantKey = (g: Grant): string => `${g.permission}\u0000${g.project}\u0000${g.environment}\u0000${g.namespace}`;

function minus(a: readonly Grant[], b: readonly Grant[]): Grant[] {
  const keys = new Set(b.map(grantKey));
  return a.filter((g) => !keys.has(grantKey(g)));
}

/** The object that makes the person's standing, as a key that tells new objects from old ones. */
function standingObject(person: PersonAccess | undefined): string | undefined {
  return person?.via;
}

/** What changes for each person between two snapshots of one team, sorted by email. */
export function diffAccess(before: TeamAccess, after: TeamAccess): PersonChange[] {
  const keys = [...new Set([...before.people.keys(), ...after.people.keys()])].sort();
  return keys.map((key) => {
    const b = before.people.get(key);
    const a = after.people.get(key);
    const gained = minus(grants(a), grants(b));
    const lost = minus(grants(b), grants(a));
    const role = b?.role !== a?.role ? { from: b?.role, to: a?.role } : undefined;
    const scope = b?.scope !== a?.scope ? { from: b?.scope, to: a?.scope } : undefined;
    const state = b?.state !== a?.state ? { from: b?.state, to: a?.state } : undefined;
    // A new invitation goes out when the person waits for acceptance through an object that
    // did not stand for them before (a new Membership, a new standalone Invitation, a new owner).
    const mailed = a?.state === 'invited' && (b === undefined || b.state === 'none' || standingObject(b) !== standingObject(a));
    const held = a?.held === true && b?.held !== true;
    const kind: ChangeKind =
      b === undefined
        ? 'added'
        : a === undefined
          ? 'removed'
          : role || scope || state || gained.length || lost.length || held || standingObject(a) !== standingObject(b)
            ? 'changed'
            : 'unchanged';
    return {
      email: a?.email ?? b?.email ?? key,
      kind,
      ...(b ? { before: b } : {}),
      ...(a ? { after: a } : {}),
      ...(role ? { role } : {}),
      ...(scope ? { scope } : {}),
      ...(state ? { state } : {}),
      gained,
      lost,
      mailed,
      held,
    };
  });
}

/** A Team's own brake settings (spec.removalBrake) as a partial policy; stricter() keeps only what tightens. */
export function teamBrakePolicy(team: Team | undefined): Partial<BrakePolicy> | undefined {
  const own = team?.spec.removalBrake;
  if (!own) return undefined;
  let windowMs: number | undefined;
  try {
    windowMs = own.window !== undefined ? parseDuration(own.window) : undefined;
  } catch {
    windowMs = undefined; // the CRD's CEL rule refuses malformed windows; ignore one that slipped by
  }
  return {
    ...(own.maxFraction !== undefined ? { maxFraction: own.maxFraction } : {}),
    ...(own.minPeople !== undefined ? { minPeople: own.minPeople } : {}),
    ...(windowMs !== undefined ? { windowMs } : {}),
  };
}

export interface TeamPlan {
  readonly controlNamespace: string;
  readonly team: string | undefined;
  readonly people: readonly PersonChange[];
  readonly seats: { readonly before: SeatUsage | undefined; readonly after: SeatUsage | undefined };
  /** The brake's verdict on the removals this change asks for (undefined: none asked for). */
  readonly brake?: BrakeDecision & { readonly policy: BrakePolicy; readonly activeMembers: number };
}

function expiredAt(m: Membership, now: Date): boolean {
  const at = parseTime(m.spec.expiresAt);
  return m.status?.phase === 'Expired' || (at !== undefined && at <= now.getTime());
}

/**
 * Plans one team: `current` is the cluster now; `desired` holds the objects as they would be
 * after the apply (statuses carried over from the cluster for objects that exist; new objects
 * have none). Memberships present in `current` and absent from `desired` are deletions; Active
 * ones go through the removal brake (`operatorBrake`, tightened by the Team's own), and those it
 * holds stay with their access.
 */
export function planTeam(current: AccessSnapshot, desired: AccessSnapshot, operatorBrake: BrakePolicy): TeamPlan {
  const teamName = current.team?.metadata.name ?? desired.team?.metadata.name;
  const ofTeam = (m: Membership): boolean => m.spec.team === teamName;
  const currentMembers = current.memberships.filter(ofTeam);
  const desiredNames = new Set(desired.team ? desired.memberships.filter(ofTeam).map((m) => m.metadata.name ?? '') : []);
  const now = desired.now;
  const at = formatTime(now);
  const alreadyHeld = current.held ?? new Set<string>();

  // Removals that take access: Active Memberships going away (expiry is intended, never held),
  // plus those already on their way out and held.
  const pending: PendingRemoval[] = [];
  const deleted: Membership[] = [];
  for (const m of currentMembers) {
    const name = m.metadata.name ?? '';
    if (isTerminating(m)) {
      if (alreadyHeld.has(name)) pending.push({ name, email: m.spec.email, requestedAt: m.metadata.deletionTimestamp ?? at });
      continue;
    }
    if (desiredNames.has(name)) continue;
    deleted.push(m);
    if (m.status?.phase === 'Active' && !expiredAt(m, now)) pending.push({ name, email: m.spec.email, requestedAt: at });
  }

  let brake: TeamPlan['brake'];
  let held = new Set<string>();
  const team = current.team ?? desired.team;
  if (pending.length > 0) {
    const policy = stricter(operatorBrake, teamBrakePolicy(desired.team ?? current.team));
    const activeMembers = currentMembers.filter((m) => m.status?.phase === 'Active').length;
    const past = (team?.status?.removals?.recent ?? []).flatMap((r) => (r.name && r.at ? [{ name: r.name, at: r.at }] : []));
    const decision = decideRemovals({ policy, activeMembers, past, pending, now });
    brake = { ...decision, policy, activeMembers };
    held = new Set(decision.held.map((h) => h.name));
  }

  // After the apply: deleted Memberships the brake holds stay (finalizer), on their way out.
  const keptHeld = deleted.filter((m) => held.has(m.metadata.name ?? '')).map((m) => ({ ...m, metadata: { ...m.metadata, deletionTimestamp: at } }));
  const stillHeld = currentMembers.filter((m) => isTerminating(m) && held.has(m.metadata.name ?? ''));
  // A deleted Team is held the same way: while removals are held it stays (finalizer) for them.
  const afterTeam =
    desired.team ?? (held.size > 0 && current.team ? { ...current.team, metadata: { ...current.team.metadata, deletionTimestamp: at } } : undefined);
  const afterSnapshot: AccessSnapshot = {
    ...desired,
    team: afterTeam,
    memberships: [...(desired.team ? desired.memberships : []), ...keptHeld, ...stillHeld],
    held,
  };
  const before = accessOf(current);
  const after = accessOf(afterSnapshot);
  return {
    controlNamespace: current.controlNamespace,
    team: teamName,
    people: diffAccess(before, after),
    seats: { before: before.seats, after: after.seats },
    ...(brake ? { brake } : {}),
  };
}
