// The group model shared by the group-based identity backends (keycloak, ldap, scim): which
// groups a grant puts a person in, what they are called, how Roster recognises its own
// groups, and the add/remove plan from "what the backend says" to "what the grant says".
// Pure: no I/O; the adapters translate the plan into their backend's calls.
//
// Groups, for team T in namespace N (prefix P, default "roster"):
//   P_N_T                          every person in the team (any role)
//   P_N_T_<role>                   the person's role in the team (owner, admin, developer, observer, billing)
//   P_N_T_<role>_<project>_<env>   the role in one environment of one project (one per access target)
// Kubernetes names never contain "_" (namespaces, environments: DNS labels; teams, projects:
// DNS subdomains) and roles are a fixed set, so a name can never mean two groups.
//
// Every group Roster creates carries a marker with its exact identity, the "tag"
// `N/T[/<role>[/<project>/<env>]]`; adapters only ever touch (add to, remove from) groups
// whose marker they can read, so groups people made by hand are never modified.
import { ROLES, type Role } from '../../domain/roles.ts';
import type { Grant, TeamRef } from './types.ts';

export const DEFAULT_GROUP_PREFIX = 'roster';

export interface GroupScope {
  readonly project: string;
  readonly environment: string;
}

/** One Roster-managed group: the team's, a role's in the team, or a role's in one environment. */
export interface GroupSpec {
  readonly team: TeamRef;
  readonly role?: Role;
  readonly scope?: GroupScope;
}

/** The group's name in the backend (cn, Keycloak group name, SCIM displayName). */
export function groupName(spec: GroupSpec, prefix: string = DEFAULT_GROUP_PREFIX): string {
  const parts = [prefix, spec.team.namespace, spec.team.name];
  if (spec.role) parts.push(spec.role);
  if (spec.role && spec.scope) parts.push(spec.scope.project, spec.scope.environment);
  return parts.join('_');
}

/** The exact identity of a group, stored in its marker: `ns/team[/role[/project/env]]`. */
export function groupTag(spec: GroupSpec): string {
  const parts = [spec.team.namespace, spec.team.name];
  if (spec.role) parts.push(spec.role);
  if (spec.role && spec.scope) parts.push(spec.scope.project, spec.scope.environment);
  return parts.join('/');
}

/** The tag of a team (also the tag of its all-members group). */
export function teamTag(team: TeamRef): string {
  return `${team.namespace}/${team.name}`;
}

/** Reads a tag back; undefined for anything that is not a well-formed tag. */
export function parseGroupTag(tag: string): GroupSpec | undefined {
  const parts = tag.split('/');
  if (parts.some((p) => !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(p))) return undefined;
  const [namespace, name, role, project, environment] = parts;
  if (!namespace || !name) return undefined;
  const team = { namespace, name };
  if (parts.length === 2) return { team };
  if (!role || !(ROLES as readonly string[]).includes(role)) return undefined;
  if (parts.length === 3) return { team, role: role as Role };
  if (parts.length === 5 && project && environment) return { team, role: role as Role, scope: { project, environment } };
  return undefined;
}

/** Whether a tag names a group of this team. */
export function isTagOfTeam(tag: string, team: TeamRef): boolean {
  const spec = parseGroupTag(tag);
  return spec !== undefined && spec.team.namespace === team.namespace && spec.team.name === team.name;
}

/** The groups a grant puts its person in, without duplicates, team group first. */
export function desiredGroups(grant: Pick<Grant, 'team' | 'role' | 'targets'>): GroupSpec[] {
  const out: GroupSpec[] = [{ team: grant.team }, { team: grant.team, role: grant.role }];
  const seen = new Set<string>();
  for (const t of grant.targets) {
    const spec: GroupSpec = { team: grant.team, role: grant.role, scope: { project: t.project, environment: t.environment } };
    const tag = groupTag(spec);
    if (seen.has(tag)) continue;
    seen.add(tag);
    out.push(spec);
  }
  return out;
}

/** A group the backend reports the person in, with whatever the adapter needs to act on it. */
export interface HeldGroup<Ref> {
  readonly tag: string;
  readonly ref: Ref;
}

export interface MembershipPlan<Ref> {
  /** Groups the person must be added to (the group may not exist yet). */
  readonly add: GroupSpec[];
  /** Roster-managed groups of the team the person must leave. */
  readonly remove: HeldGroup<Ref>[];
}

/**
 * From the team's Roster-managed groups the person is in now (a complete read: adapters throw
 * instead of calling this with a partial one) to the desired ones. Groups of other teams and
 * groups without a readable marker are never planned for removal.
 */
export function planMembership<Ref>(team: TeamRef, desired: readonly GroupSpec[], held: readonly HeldGroup<Ref>[]): MembershipPlan<Ref> {
  const wanted = new Set(desired.map(groupTag));
  const have = new Set(held.map((h) => h.tag));
  const add = desired.filter((d) => !have.has(groupTag(d)));
  const remove: HeldGroup<Ref>[] = [];
  const removing = new Set<string>();
  for (const h of held) {
    if (wanted.has(h.tag) || removing.has(h.tag) || !isTagOfTeam(h.tag, team)) continue;
    removing.add(h.tag);
    remove.push(h);
  }
  return { add, remove };
}

/** Splits a list into consecutive chunks of at most `size` items. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const n = Math.max(1, Math.floor(size));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}

/** A readable description of a group for `changes`, Events and errors. */
export function describeGroup(spec: GroupSpec, prefix: string = DEFAULT_GROUP_PREFIX): string {
  return groupName(spec, prefix);
}
