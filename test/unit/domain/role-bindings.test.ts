import { describe, expect, it } from 'vitest';
import { clusterRolesFor, DEFAULT_NAMESPACE_CLUSTER_ROLES, TEAM_CLUSTER_ROLES } from '../../../src/domain/role-bindings.ts';
import { hasProjectAccess, mayManageRoster, ROLES } from '../../../src/domain/roles.ts';

describe('role → ClusterRoles (kubernetes identity backend)', () => {
  it('maps every role as SPEC §5 says, with the default ClusterRoles', () => {
    expect(Object.fromEntries(ROLES.map((role) => [role, clusterRolesFor(role)]))).toEqual({
      owner: { namespaceClusterRole: 'admin', teamClusterRole: 'roster:team-owner' },
      admin: { namespaceClusterRole: 'admin', teamClusterRole: 'roster:team-admin' },
      developer: { namespaceClusterRole: 'edit' },
      observer: { namespaceClusterRole: 'view' },
      billing: { teamClusterRole: 'roster:team-billing' },
    });
  });

  it('takes the namespace ClusterRoles from the configured mapping; the team ClusterRoles are fixed', () => {
    const configured = { admin: 'acme-admin', developer: 'acme-dev', observer: 'view' };
    expect(clusterRolesFor('owner', configured)).toEqual({ namespaceClusterRole: 'acme-admin', teamClusterRole: TEAM_CLUSTER_ROLES.owner });
    expect(clusterRolesFor('developer', configured)).toEqual({ namespaceClusterRole: 'acme-dev' });
    expect(clusterRolesFor('billing', configured)).toEqual({ teamClusterRole: TEAM_CLUSTER_ROLES.billing });
  });

  it('agrees with the role matrix: a namespace binding exactly for roles with project access; member managers get a team role that writes', () => {
    for (const role of ROLES) {
      expect(clusterRolesFor(role).namespaceClusterRole !== undefined, role).toBe(hasProjectAccess(role));
      if (mayManageRoster(role)) expect(clusterRolesFor(role).teamClusterRole, role).toBeDefined();
    }
    expect(DEFAULT_NAMESPACE_CLUSTER_ROLES).toEqual({ admin: 'admin', developer: 'edit', observer: 'view' });
  });
});
