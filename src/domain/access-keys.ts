// Access keys (SPEC §9): automation credentials that never outrank the person who owns them.
// Pure rules shared by admission and the AccessKey controller: who may create a key, what
// its owner holds right now, the intersection of a key's request with that, what a request
// asks beyond it (the admission message), and the names of what a key becomes.
import type { AccessKey, Membership, Team } from '../api/generated.ts';
import { sameEmail } from './email.ts';
import { can, isTeamWideRole, type Role } from './roles.ts';
import { isUnscoped, type ProjectScope } from './scope.ts';
import { parseTime } from './time.ts';

export type KeyRole = AccessKey['spec']['role'];

/** A role and where it applies: a person's rights, a key's request, a key's effective rights. */
export interface Rights {
  readonly role: Role;
  /** Undefined: the whole team. */
  readonly projects?: readonly ProjectScope[] | undefined;
}

export interface KeyRights {
  readonly role: KeyRole;
  readonly projects?: ProjectScope[];
}

/** What the key owner holds in the team now. */
export type OwnerStanding =
  | { readonly kind: 'active'; readonly rights: Rights; readonly expiresAt?: string; readonly source: string }
  | { readonly kind: 'inactive'; readonly message: string };

/** ServiceAccount (and Role, RoleBinding in the control namespace) a key becomes. */
export const keyServiceAccountName = (key: string): string => `roster-key-${key}`;

/** The Kubernetes user name of a key's tokens. */
export const keyServiceAccountUser = (namespace: string, key: string): string => `system:serviceaccount:${namespace}:${keyServiceAccountName(key)}`;

/** Label on everything a key becomes (value: the key's name; its namespace is the team's label). */
export const ACCESS_KEY_LABEL = 'roster.dev/access-key';

/**
 * Whether the operator writes Kubernetes RBAC for a team, and how it names people: only a
 * `kubernetes` identity backend makes people Kubernetes users with Roster-managed bindings.
 * Other backends (keycloak, ldap, scim) hand access to an IdP, and a key (a Kubernetes
 * ServiceAccount) could not be held to its owner's rights there: keys are refused.
 */
export type KeyBackend = { readonly kind: 'kubernetes'; readonly userPrefix: string } | { readonly kind: 'unmanaged'; readonly message: string };

export function keyBackendOf(configs: Readonly<Record<string, { type: string; [key: string]: unknown }>>, team: Team): KeyBackend {
  const name = team.spec.identity?.backend ?? 'default';
  const config = configs[name];
  if (!config) return { kind: 'unmanaged', message: `team ${team.metadata.name} names identity backend ${name}, which the operator does not have configured` };
  if (config.type !== 'kubernetes') {
    return {
      kind: 'unmanaged',
      message:
        `team ${team.metadata.name} uses identity backend ${name} (type ${config.type}), where Roster manages the team's access in the identity provider, not Kubernetes RBAC; ` +
        "an access key is a Kubernetes ServiceAccount that Roster could not hold to its owner's rights there, so keys need a team on a kubernetes identity backend",
    };
  }
  return { kind: 'kubernetes', userPrefix: typeof config.userPrefix === 'string' ? config.userPrefix : '' };
}

/** The email of a Kubernetes user, as the kubernetes backend names people (userPrefix + email); undefined for other users. */
export function emailOfUser(username: string, userPrefix: string): string | undefined {
  if (!username.startsWith(userPrefix)) return undefined;
  const email = username.slice(userPrefix.length);
  return email.includes('@') && !email.startsWith('system:') ? email : undefined;
}

/** What `email` holds in the team now: the owner (once Active), or an Active, unexpired Membership. */
export function ownerStanding(team: Team, memberships: readonly Membership[], email: string, now: Date): OwnerStanding {
  const teamName = team.metadata.name ?? '';
  if (sameEmail(team.spec.owner.email, email)) {
    if (team.status?.owner?.phase === 'Active') return { kind: 'active', rights: { role: 'owner' }, source: `the owner of team ${teamName}` };
    return { kind: 'inactive', message: `${email} owns team ${teamName} but has not accepted the invitation yet` };
  }
  const m = memberships.find((o) => !o.metadata.deletionTimestamp && o.spec.team === team.metadata.name && sameEmail(o.spec.email, email));
  if (!m) return { kind: 'inactive', message: `${email} has no Membership in team ${teamName}` };
  const expiry = m.spec.expiresAt === undefined ? undefined : parseTime(m.spec.expiresAt);
  if (expiry !== undefined && expiry <= now.getTime())
    return { kind: 'inactive', message: `the Membership ${m.metadata.name} of ${email} expired at ${m.spec.expiresAt}` };
  if (m.status?.phase !== 'Active') {
    return { kind: 'inactive', message: `the Membership ${m.metadata.name} of ${email} is ${m.status?.phase ?? 'not reconciled yet'}, not Active` };
  }
  return {
    kind: 'active',
    rights: { role: m.spec.role, ...(m.spec.projects ? { projects: m.spec.projects } : {}) },
    ...(m.spec.expiresAt ? { expiresAt: m.spec.expiresAt } : {}),
    source: `Membership ${m.metadata.name}`,
  };
}

/** Keys are "security and integration settings, API keys" in the role matrix: owner and admin. */
export function mayCreateKeys(role: Role): boolean {
  return can(role, 'securitySettings');
}

/** The most a role lets a key hold: developer for those who deploy, observer for those who only view. */
function keyCeiling(role: Role): KeyRole | undefined {
  if (can(role, 'deploy')) return 'developer';
  return can(role, 'view') ? 'observer' : undefined;
}

type Places = 'team' | Map<string, 'all' | Set<string>>;

function placesOf(rights: Rights): Places {
  if (isTeamWideRole(rights.role) || isUnscoped(rights.projects)) return 'team';
  const map = new Map<string, 'all' | Set<string>>();
  for (const entry of rights.projects ?? []) {
    const before = map.get(entry.name);
    const envs = entry.environments ?? [];
    map.set(entry.name, envs.length === 0 || before === 'all' ? 'all' : new Set([...(before ?? []), ...envs]));
  }
  return map;
}

function intersectPlaces(a: Places, b: Places): Places {
  if (a === 'team') return b;
  if (b === 'team') return a;
  const out = new Map<string, 'all' | Set<string>>();
  for (const [name, envsA] of a) {
    const envsB = b.get(name);
    if (envsB === undefined) continue;
    if (envsA === 'all') out.set(name, envsB);
    else if (envsB === 'all') out.set(name, envsA);
    else {
      const both = new Set([...envsA].filter((e) => envsB.has(e)));
      if (both.size > 0) out.set(name, both);
    }
  }
  return out;
}

function scopeOf(places: Map<string, 'all' | Set<string>>): ProjectScope[] {
  return [...places.keys()].sort().map((name) => {
    const envs = places.get(name);
    return envs === 'all' || envs === undefined ? { name } : { name, environments: [...envs].sort() };
  });
}

/** The key's effective rights: its request intersected with its owner's; undefined when nothing overlaps. */
export function effectiveKeyRights(request: KeyRights, owner: Rights): KeyRights | undefined {
  const ceiling = keyCeiling(owner.role);
  if (ceiling === undefined) return undefined;
  const role: KeyRole = request.role === 'developer' && ceiling === 'developer' ? 'developer' : 'observer';
  const places = intersectPlaces(placesOf(request), placesOf(owner));
  if (places === 'team') return { role };
  if (places.size === 0) return undefined;
  return { role, projects: scopeOf(places) };
}

/** What a request asks beyond its owner's rights, one phrase per difference (empty: nothing). */
export function keyExcess(request: KeyRights, owner: Rights): string[] {
  const ceiling = keyCeiling(owner.role);
  if (ceiling === undefined) return [`role ${owner.role} has no access to projects, so a key of it could hold nothing`];
  const out: string[] = [];
  if (request.role === 'developer' && ceiling === 'observer') out.push(`role developer where the owner has role ${owner.role} (use role observer)`);
  const mine = placesOf(request);
  const theirs = placesOf(owner);
  if (theirs === 'team') return out;
  const allowed = scopeOf(theirs)
    .map((s) => (s.environments ? `${s.name} (${s.environments.join(', ')})` : s.name))
    .join(', ');
  if (mine === 'team') return [...out, `the whole team where the owner is scoped to ${allowed} (list spec.projects)`];
  for (const [name, envs] of mine) {
    const have = theirs.get(name);
    if (have === undefined) out.push(`project ${name}, outside the owner's scope (${allowed})`);
    else if (have !== 'all' && envs === 'all') out.push(`all environments of ${name} where the owner has only ${[...have].sort().join(', ')}`);
    else if (have !== 'all' && envs !== 'all') {
      const extra = [...envs].filter((e) => !have.has(e)).sort();
      if (extra.length > 0) out.push(`${extra.map((e) => `${name}/${e}`).join(', ')}, outside the owner's scope (${allowed})`);
    }
  }
  return out;
}

/** What is wrong with a key's spec.expiresAt (required, in the future, at most maxDays ahead, not past the owner's own end). */
export function keyExpiryProblem(expiresAt: unknown, now: Date, maxDays: number, ownerExpiresAt?: string): string | undefined {
  const example = new Date(now.getTime() + 30 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const at = typeof expiresAt === 'string' ? parseTime(expiresAt) : undefined;
  if (at === undefined) return `spec.expiresAt is required: an RFC 3339 time at most ${maxDays} days ahead, such as ${example}`;
  if (at <= now.getTime()) return `spec.expiresAt ${String(expiresAt)} is in the past; set a time at most ${maxDays} days ahead, such as ${example}`;
  if (at > now.getTime() + maxDays * 86_400_000) {
    return `spec.expiresAt ${String(expiresAt)} is more than ${maxDays} days ahead (operator config accessKeys.maxLifetimeDays); set an earlier time and create a new key when it runs out`;
  }
  const ownerEnd = ownerExpiresAt === undefined ? undefined : parseTime(ownerExpiresAt);
  if (ownerEnd !== undefined && at > ownerEnd) {
    return `spec.expiresAt ${String(expiresAt)} is after the owner's own access ends (${ownerExpiresAt}); a key never outlives its owner: set ${ownerExpiresAt} or earlier`;
  }
  return undefined;
}
