// The embedded default backend: people are Kubernetes users (the name the cluster's
// authenticator gives them: their email by default). A role becomes a RoleBinding to a
// ClusterRole in each in-scope namespace, and owner/admin/billing get rights on the team's
// own roster objects in the team's namespace. The API server enforces the result, so
// `kubectl auth can-i --as <email>` is the proof.
import { createHash } from 'node:crypto';
import type { Role } from '../../domain/roles.ts';
import { resources } from '../../api/resources.ts';
import type { Informer } from '../../runtime/informer.ts';
import { KubeApiError, type KubeClient, type KubeObject } from '../../runtime/kube-client.ts';
import { IdentityBackendError, type EnsureResult, type Grant, type IdentityBackend, type Person, type TeamRef } from './types.ts';

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const TEAM_LABEL = 'roster.dev/team';
export const TEAM_NAMESPACE_LABEL = 'roster.dev/team-namespace';
export const GRANT_LABEL = 'roster.dev/grant';
export const GRANT_ANNOTATION = 'roster.dev/grant-key';

/** ClusterRoles on the team's own roster objects; the operator keeps them in place. */
export const teamClusterRoles = {
  owner: 'roster:team-owner',
  admin: 'roster:team-admin',
  billing: 'roster:team-billing',
} as const;

export interface RoleBinding extends KubeObject {
  subjects?: Array<{ kind: string; name: string; apiGroup?: string; namespace?: string }>;
  roleRef: { apiGroup: string; kind: string; name: string };
}

export interface KubernetesBackendOptions {
  name: string;
  client: KubeClient;
  /** A cache of RoleBindings labelled managed-by=roster, cluster-wide. */
  roleBindings: Informer<RoleBinding>;
  /** Role → ClusterRole bound in project namespaces. */
  clusterRoles: { admin: string; developer: string; observer: string };
  /** How the cluster's authenticator names people (default: their email). */
  userName?: (person: Person) => string;
}

/** A label-safe, stable id for a grant (label values are at most 63 characters). */
export function grantId(team: TeamRef, key: string): string {
  return createHash('sha256').update(`${team.namespace}/${team.name}/${key}`).digest('hex').slice(0, 20);
}

interface DesiredBinding {
  namespace: string;
  clusterRole: string;
}

export class KubernetesIdentityBackend implements IdentityBackend {
  readonly type = 'kubernetes' as const;
  readonly name: string;
  private readonly options: KubernetesBackendOptions;

  constructor(options: KubernetesBackendOptions) {
    this.name = options.name;
    this.options = options;
  }

  private userName(person: Person): string {
    return this.options.userName?.(person) ?? person.email;
  }

  private projectClusterRole(role: Role): string | undefined {
    switch (role) {
      case 'owner':
      case 'admin':
        return this.options.clusterRoles.admin;
      case 'developer':
        return this.options.clusterRoles.developer;
      case 'observer':
        return this.options.clusterRoles.observer;
      case 'billing':
        return undefined;
    }
  }

  private desired(grant: Grant): DesiredBinding[] {
    const out: DesiredBinding[] = [];
    const projectRole = this.projectClusterRole(grant.role);
    if (projectRole) {
      for (const namespace of new Set(grant.targets.map((t) => t.namespace))) out.push({ namespace, clusterRole: projectRole });
    }
    const teamRole = grant.role === 'owner' || grant.role === 'admin' || grant.role === 'billing' ? teamClusterRoles[grant.role] : undefined;
    if (teamRole) out.push({ namespace: grant.team.namespace, clusterRole: teamRole });
    return out;
  }

  private bindingName(grant: { team: TeamRef; key: string }, clusterRole: string): string {
    const id = grantId(grant.team, grant.key);
    const role = clusterRole.replace(/[^a-z0-9-]/g, '-');
    return `roster-${grant.team.name}-${role}-${id.slice(0, 10)}`.slice(0, 253);
  }

  private existing(team: TeamRef, key: string): RoleBinding[] {
    if (!this.options.roleBindings.hasSynced()) {
      throw new IdentityBackendError('CacheNotSynced', 'the RoleBinding cache has not synced yet; not touching access until it has');
    }
    return this.options.roleBindings.byLabel({ [GRANT_LABEL]: grantId(team, key) });
  }

  async ensure(grant: Grant): Promise<EnsureResult> {
    const user = this.userName(grant.person);
    const id = grantId(grant.team, grant.key);
    const desired = this.desired(grant);
    const current = this.existing(grant.team, grant.key);
    const changes: string[] = [];
    const wanted = new Set<string>();
    for (const d of desired) {
      const name = this.bindingName(grant, d.clusterRole);
      wanted.add(`${d.namespace}/${name}`);
      const have = current.find((b) => b.metadata.namespace === d.namespace && b.metadata.name === name);
      const subjectOk = have?.subjects?.length === 1 && have.subjects[0]?.kind === 'User' && have.subjects[0]?.name === user;
      if (have && subjectOk && have.roleRef.name === d.clusterRole) continue;
      const binding: RoleBinding = {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: {
          name,
          namespace: d.namespace,
          labels: {
            [MANAGED_BY]: 'roster',
            [TEAM_LABEL]: grant.team.name,
            [TEAM_NAMESPACE_LABEL]: grant.team.namespace,
            [GRANT_LABEL]: id,
          },
          annotations: { [GRANT_ANNOTATION]: `${grant.team.namespace}/${grant.team.name}/${grant.key}` },
        },
        subjects: [{ kind: 'User', name: user, apiGroup: 'rbac.authorization.k8s.io' }],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: d.clusterRole },
      };
      try {
        if (have && have.roleRef.name !== d.clusterRole) {
          // roleRef is immutable: replace the binding.
          await this.options.client.delete(resources.roleBinding, d.namespace, name);
        }
        await this.options.client.apply(resources.roleBinding, binding);
      } catch (e) {
        throw toBackendError(e, `bind ${user} to ${d.clusterRole} in ${d.namespace}`);
      }
      changes.push(`${have ? 'updated' : 'created'} RoleBinding ${d.namespace}/${name} (${d.clusterRole})`);
    }
    for (const b of current) {
      const key = `${b.metadata.namespace}/${b.metadata.name}`;
      if (wanted.has(key)) continue;
      await this.deleteBinding(b);
      changes.push(`deleted RoleBinding ${key}`);
    }
    return { subject: user, changes };
  }

  async remove(team: TeamRef, key: string): Promise<string[]> {
    const changes: string[] = [];
    for (const b of this.existing(team, key)) {
      await this.deleteBinding(b);
      changes.push(`deleted RoleBinding ${b.metadata.namespace}/${b.metadata.name}`);
    }
    return changes;
  }

  private async deleteBinding(b: RoleBinding): Promise<void> {
    try {
      await this.options.client.delete(resources.roleBinding, b.metadata.namespace, b.metadata.name ?? '');
    } catch (e) {
      throw toBackendError(e, `delete RoleBinding ${b.metadata.namespace}/${b.metadata.name}`);
    }
  }
}

function toBackendError(e: unknown, what: string): IdentityBackendError {
  if (e instanceof KubeApiError) {
    const retryable = e.status >= 500 || e.status === 429 || e.status === 409;
    const reason = e.status === 403 ? 'Forbidden' : e.status === 404 ? 'NotFound' : 'ApiError';
    return new IdentityBackendError(reason, `could not ${what}: ${e.message}`, { retryable, cause: e });
  }
  return new IdentityBackendError('Unreachable', `could not ${what}: ${String(e)}`, { retryable: true, cause: e });
}

/** The ClusterRoles on the team's own roster objects (also rendered by the Helm chart). */
export function teamClusterRoleObjects(): KubeObject[] {
  const rosterGroup = 'roster.dev';
  const read = ['get', 'list', 'watch'];
  const write = ['create', 'update', 'patch', 'delete'];
  const role = (name: string, rules: unknown[]) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name, labels: { [MANAGED_BY]: 'roster' } },
    rules,
  });
  return [
    role(teamClusterRoles.owner, [
      { apiGroups: [rosterGroup], resources: ['teams', 'projects', 'memberships', 'invitations'], verbs: [...read, ...write] },
    ]),
    role(teamClusterRoles.admin, [
      { apiGroups: [rosterGroup], resources: ['teams'], verbs: read },
      { apiGroups: [rosterGroup], resources: ['projects', 'memberships', 'invitations'], verbs: [...read, ...write] },
    ]),
    role(teamClusterRoles.billing, [{ apiGroups: [rosterGroup], resources: ['teams'], verbs: read }]),
  ] as KubeObject[];
}
