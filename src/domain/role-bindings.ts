// Which Kubernetes ClusterRoles a role becomes with the embedded `kubernetes` identity
// backend (SPEC §5): THE one place this is decided. The backend binds what this returns,
// the operator config takes its defaults from here, and the Helm chart's values are tested
// against these constants (test/unit/chart/role-bindings.test.ts), so they cannot drift.
import { hasProjectAccess, type Role } from './roles.ts';

/** The configurable part (operator config `roleBindings`): the ClusterRole per role in project namespaces. */
export interface NamespaceClusterRoles {
  readonly admin: string;
  readonly developer: string;
  readonly observer: string;
}

/** The built-in aggregated ClusterRoles. */
export const DEFAULT_NAMESPACE_CLUSTER_ROLES = { admin: 'admin', developer: 'edit', observer: 'view' } as const satisfies NamespaceClusterRoles;

/** ClusterRoles on the team's own roster objects, in the team's namespace (not configurable: the operator keeps them in place). */
export const TEAM_CLUSTER_ROLES = {
  owner: 'roster:team-owner',
  admin: 'roster:team-admin',
  billing: 'roster:team-billing',
} as const;

export interface RoleClusterRoles {
  /** Bound in each in-scope environment namespace; undefined: the role has no access there. */
  readonly namespaceClusterRole?: string;
  /** Bound in the team's own (control) namespace; undefined: no rights on the roster objects. */
  readonly teamClusterRole?: string;
}

/**
 * The ClusterRoles for `role`. The owner gets what an admin gets in project namespaces (its
 * extra rights — billing, plan, ownership — are not Kubernetes rights); billing has no
 * project access at all.
 */
export function clusterRolesFor(role: Role, configured: NamespaceClusterRoles = DEFAULT_NAMESPACE_CLUSTER_ROLES): RoleClusterRoles {
  const namespaceClusterRole = !hasProjectAccess(role)
    ? undefined
    : role === 'owner' || role === 'admin'
      ? configured.admin
      : role === 'developer'
        ? configured.developer
        : configured.observer;
  // Owner and admin manage the team's members; billing reads the Team (its seats and plan).
  const teamClusterRole = role === 'developer' || role === 'observer' ? undefined : TEAM_CLUSTER_ROLES[role];
  return { ...(namespaceClusterRole !== undefined ? { namespaceClusterRole } : {}), ...(teamClusterRole !== undefined ? { teamClusterRole } : {}) };
}
