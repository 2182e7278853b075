// The embedded default backend: people are Kubernetes users (the name the cluster's
// authenticator gives them: their email by default). A role becomes a RoleBinding to a
// ClusterRole in each in-scope namespace, and owner/admin/billing get rights on the team's
// own roster objects in the team's namespace. The API server enforces the result, so
// `kubectl auth can-i --as <email>` is the proof.
import { createHash } from 'node:crypto';
import { clusterRolesFor, TEAM_CLUSTER_ROLES, type NamespaceClusterRoles } from '../../domain/role-bindings.ts';
import { resources } from '../../api/resources.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { Assignment } from '../../tenancy/namespaces.ts';
import { KubeApiError, type KubeClient, type KubeObject } from '../../runtime/kube-client.ts';
import {
  cancelledError,
  IdentityBackendError,
  throwIfCancelled,
  type CallOptions,
  type EnsureResult,
  type Grant,
  type IdentityBackend,
  type Person,
  type TeamRef,
} from './types.ts';

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const TEAM_LABEL = 'roster.dev/team';
export const TEAM_NAMESPACE_LABEL = 'roster.dev/team-namespace';
export const GRANT_LABEL = 'roster.dev/grant';
export const GRANT_ANNOTATION = 'roster.dev/grant-key';

/** ClusterRoles on the team's own roster objects; the operator keeps them in place (decided in src/domain/role-bindings.ts). */
export const teamClusterRoles = TEAM_CLUSTER_ROLES;

export interface RoleBinding extends KubeObject {
  subjects?: Array<{ kind: string; name: string; apiGroup?: string; namespace?: string }>;
  roleRef: { apiGroup: string; kind: string; name: string };
}

export interface KubernetesBackendOptions {
  name: string;
  client: KubeClient;
  /** A cache of RoleBindings labelled managed-by=roster, cluster-wide. */
  roleBindings: Informer<RoleBinding>;
  /** Role → ClusterRole bound in project namespaces (operator config `roleBindings`). */
  clusterRoles: NamespaceClusterRoles;
  /** How the cluster's authenticator names people (default: their email). */
  userName?: (person: Person) => string;
  /**
   * Whether the team in a control namespace may reach a namespace (src/tenancy). Asked again
   * right before every binding, whatever the caller already filtered: this is the last
   * step before the API server gets a RoleBinding, so no path around it grants access.
   */
  assignment: (controlNamespace: string, namespace: string) => Assignment;
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

  private desired(grant: Grant): DesiredBinding[] {
    const out: DesiredBinding[] = [];
    const { namespaceClusterRole, teamClusterRole } = clusterRolesFor(grant.role, this.options.clusterRoles);
    if (namespaceClusterRole) {
      for (const namespace of new Set(grant.targets.map((t) => t.namespace))) {
        if (this.assigned(grant.team.namespace, namespace)) out.push({ namespace, clusterRole: namespaceClusterRole });
      }
    }
    if (teamClusterRole) out.push({ namespace: grant.team.namespace, clusterRole: teamClusterRole });
    return out;
  }

  private assigned(controlNamespace: string, namespace: string): boolean {
    try {
      return this.options.assignment(controlNamespace, namespace).kind === 'assigned';
    } catch (e) {
      throw new IdentityBackendError('CacheNotSynced', e instanceof Error ? e.message : String(e));
    }
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

  async ensure(grant: Grant, { signal }: CallOptions = {}): Promise<EnsureResult> {
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
      const what = `bind ${user} to ${d.clusterRole} in ${d.namespace}`;
      throwIfCancelled(signal, what);
      try {
        if (have && have.roleRef.name !== d.clusterRole) {
          // roleRef is immutable: replace the binding.
          await this.options.client.delete(resources.roleBinding, d.namespace, name, { signal });
        }
        await this.options.client.apply(resources.roleBinding, binding, undefined, { signal });
      } catch (e) {
        throw signal?.aborted ? cancelledError(what, e) : toBackendError(e, what);
      }
      changes.push(`${have ? 'updated' : 'created'} RoleBinding ${d.namespace}/${name} (${d.clusterRole})`);
    }
    for (const b of current) {
      const key = `${b.metadata.namespace}/${b.metadata.name}`;
      if (wanted.has(key)) continue;
      await this.deleteBinding(b, signal);
      changes.push(`deleted RoleBinding ${key}`);
    }
    return { subject: user, changes };
  }

  async remove(team: TeamRef, key: string, _person?: Person, { signal }: CallOptions = {}): Promise<string[]> {
    const changes: string[] = [];
    for (const b of this.existing(team, key)) {
      await this.deleteBinding(b, signal);
      changes.push(`deleted RoleBinding ${b.metadata.namespace}/${b.metadata.name}`);
    }
    return changes;
  }

  private async deleteBinding(b: RoleBinding, signal: AbortSignal | undefined): Promise<void> {
    const what = `delete RoleBinding ${b.metadata.namespace}/${b.metadata.name}`;
    throwIfCancelled(signal, what);
    try {
      await this.options.client.delete(resources.roleBinding, b.metadata.namespace, b.metadata.name ?? '', { signal });
    } catch (e) {
      throw signal?.aborted ? cancelledError(what, e) : toBackendError(e, what);
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
    role(teamClusterRoles.owner, [{ apiGroups: [rosterGroup], resources: ['teams', 'projects', 'memberships', 'invitations'], verbs: [...read, ...write] }]),
    role(teamClusterRoles.admin, [
      { apiGroups: [rosterGroup], resources: ['teams'], verbs: read },
      { apiGroups: [rosterGroup], resources: ['projects', 'memberships', 'invitations'], verbs: [...read, ...write] },
    ]),
    role(teamClusterRoles.billing, [{ apiGroups: [rosterGroup], resources: ['teams'], verbs: read }]),
  ] as KubeObject[];
}
