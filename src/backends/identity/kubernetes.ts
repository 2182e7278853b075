// The embedded default backend: people are Kubernetes users (the name the cluster's
// authenticator gives them: their email by default). A role becomes a RoleBinding to a
// ClusterRole in each in-scope namespace, and owner/admin/billing get rights on the team's
// own roster objects in the team's namespace. The API server enforces the result, so
// `kubectl auth can-i --as <email>` is the proof.
//
// Subjects (kubernetes-subjects.ts): by default the binding's subject is the User
// <userPrefix><email>, one binding per grant. With `subject: Group` Roster binds groups the
// platform's IdP fills (Roster does not manage IdP membership then): one binding per group,
// ClusterRole and namespace, shared by every grant that maps to it. Each grant holding it
// marks it with its own label (holder.roster.dev/<grant id>); a grant that stops mapping
// to it takes its mark off, and the binding is deleted only when no mark is left, with a
// resourceVersion precondition so that a grant marking it meanwhile keeps it.
import { createHash } from 'node:crypto';
import { clusterRolesFor, TEAM_CLUSTER_ROLES, type NamespaceClusterRoles } from '../../domain/role-bindings.ts';
import { resources } from '../../api/resources.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { Assignment } from '../../tenancy/namespaces.ts';
import { isAlreadyExists, isConflict, isNotFound, KubeApiError, type KubeClient, type KubeObject } from '../../runtime/kube-client.ts';
import { DEFAULT_SUBJECT_MAPPING, describeSubject, groupSubjectName, userSubjectName, type KubeSubject, type SubjectMapping } from './kubernetes-subjects.ts';
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
/** Prefix of the label each grant holding a shared group binding puts on it (Group mode). */
export const HOLDER_LABEL_PREFIX = 'holder.roster.dev/';

export function holderLabel(team: TeamRef, key: string): string {
  return `${HOLDER_LABEL_PREFIX}${grantId(team, key)}`;
}

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
  /** Which subject to bind (User with a prefix, or Groups); default User with no prefix. */
  subjects?: SubjectMapping;
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

export interface DesiredBinding {
  namespace: string;
  clusterRole: string;
  subject: KubeSubject;
}

/** The name of the shared binding of one group to one ClusterRole (the same in every namespace). */
export function groupBindingName(team: TeamRef, role: string, subject: KubeSubject, clusterRole: string): string {
  const id = createHash('sha256').update(`${subject.name}\n${clusterRole}`).digest('hex').slice(0, 10);
  return `roster-g-${team.name}-${role}-${id}`.slice(0, 253);
}

/**
 * The bindings a grant wants. `assigned` is the tenancy check, asked for every namespace
 * outside the control namespace. In Group mode a scoped grant (grant.scoped) gets one group
 * per environment so that the group reaches no further than the scope; otherwise one group
 * per team and role.
 */
export function desiredBindings(
  grant: Grant,
  clusterRoles: NamespaceClusterRoles,
  mapping: SubjectMapping,
  assigned: (namespace: string) => boolean,
): DesiredBinding[] {
  const { namespaceClusterRole, teamClusterRole } = clusterRolesFor(grant.role, clusterRoles);
  const user: KubeSubject = { kind: 'User', name: userSubjectName(mapping, grant.person.email) };
  const group = (target?: { project: string; environment: string }): KubeSubject => ({
    kind: 'Group',
    name: groupSubjectName(mapping, {
      controlNamespace: grant.team.namespace,
      team: grant.team.name,
      role: grant.role,
      ...(target ? { project: target.project, environment: target.environment } : {}),
    }),
  });
  const byGroup = mapping.subject === 'Group';
  const out: DesiredBinding[] = [];
  const seen = new Set<string>();
  const add = (d: DesiredBinding) => {
    const k = `${d.namespace}\n${d.clusterRole}\n${d.subject.name}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push(d);
  };
  if (namespaceClusterRole) {
    for (const t of grant.targets) {
      if (!assigned(t.namespace)) continue;
      const subject = !byGroup ? user : grant.scoped ? group(t) : group();
      add({ namespace: t.namespace, clusterRole: namespaceClusterRole, subject });
    }
  }
  if (teamClusterRole) add({ namespace: grant.team.namespace, clusterRole: teamClusterRole, subject: byGroup ? group() : user });
  return out;
}

export class KubernetesIdentityBackend implements IdentityBackend {
  readonly type = 'kubernetes' as const;
  readonly name: string;
  private readonly options: KubernetesBackendOptions;

  constructor(options: KubernetesBackendOptions) {
    this.name = options.name;
    this.options = options;
  }

  private get mapping(): SubjectMapping {
    return this.options.subjects ?? DEFAULT_SUBJECT_MAPPING;
  }

  private userName(person: Person): string {
    return userSubjectName(this.mapping, this.options.userName?.(person) ?? person.email);
  }

  private desired(grant: Grant): DesiredBinding[] {
    const person = { ...grant.person, email: this.options.userName?.(grant.person) ?? grant.person.email };
    return desiredBindings({ ...grant, person }, this.options.clusterRoles, this.mapping, (ns) => this.assigned(grant.team.namespace, ns));
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

  /** The shared group bindings this grant holds (Group mode, or left from it). */
  private held(team: TeamRef, key: string): RoleBinding[] {
    if (!this.options.roleBindings.hasSynced()) {
      throw new IdentityBackendError('CacheNotSynced', 'the RoleBinding cache has not synced yet; not touching access until it has');
    }
    return this.options.roleBindings.byLabel({ [holderLabel(team, key)]: 'true' });
  }

  async ensure(grant: Grant, options: CallOptions = {}): Promise<EnsureResult> {
    if (this.mapping.subject === 'Group') return await this.ensureGroups(grant, options);
    const { signal } = options;
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
      const subjectOk = have?.subjects?.length === 1 && have.subjects[0]?.kind === 'User' && have.subjects[0]?.name === d.subject.name;
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
        subjects: [{ kind: 'User', name: d.subject.name, apiGroup: 'rbac.authorization.k8s.io' }],
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
    // Shared group bindings left from Group mode.
    for (const b of this.held(grant.team, grant.key)) changes.push(...(await this.release(b, holderLabel(grant.team, grant.key), signal)));
    return { subject: user, changes };
  }

  private async ensureGroups(grant: Grant, { signal }: CallOptions): Promise<EnsureResult> {
    const holder = holderLabel(grant.team, grant.key);
    const desired = this.desired(grant);
    const perUser = this.existing(grant.team, grant.key);
    const held = this.held(grant.team, grant.key);
    const changes: string[] = [];
    const wanted = new Set<string>();
    for (const d of desired) {
      const name = groupBindingName(grant.team, grant.role, d.subject, d.clusterRole);
      wanted.add(`${d.namespace}/${name}`);
      const have = this.options.roleBindings.get(d.namespace, name);
      const subjectOk = have?.subjects?.length === 1 && have.subjects[0]?.kind === 'Group' && have.subjects[0]?.name === d.subject.name;
      if (have && subjectOk && have.roleRef.name === d.clusterRole && have.metadata.labels?.[holder] === 'true') continue;
      const labels = { [MANAGED_BY]: 'roster', [TEAM_LABEL]: grant.team.name, [TEAM_NAMESPACE_LABEL]: grant.team.namespace, [holder]: 'true' };
      const subjects = [{ kind: 'Group', name: d.subject.name, apiGroup: 'rbac.authorization.k8s.io' }];
      const what = `bind ${describeSubject(d.subject)} to ${d.clusterRole} in ${d.namespace}`;
      throwIfCancelled(signal, what);
      try {
        let created = false;
        if (!have) {
          try {
            await this.options.client.create<RoleBinding>(resources.roleBinding, {
              apiVersion: 'rbac.authorization.k8s.io/v1',
              kind: 'RoleBinding',
              metadata: { name, namespace: d.namespace, labels },
              subjects,
              roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: d.clusterRole },
            });
            created = true;
          } catch (e) {
            // Another grant created it since the cache last saw it: add this grant's mark below.
            if (!isAlreadyExists(e)) throw e;
          }
        }
        // A merge patch adds this grant's mark and leaves the other grants' marks alone.
        if (!created)
          await this.options.client.patch(resources.roleBinding, d.namespace, name, 'merge', { metadata: { labels }, subjects }, undefined, { signal });
        changes.push(`${created ? 'created' : 'joined'} RoleBinding ${d.namespace}/${name} (${describeSubject(d.subject)} → ${d.clusterRole})`);
      } catch (e) {
        throw signal?.aborted ? cancelledError(what, e) : toBackendError(e, what);
      }
    }
    for (const b of held) {
      if (wanted.has(`${b.metadata.namespace}/${b.metadata.name}`)) continue;
      changes.push(...(await this.release(b, holder, signal)));
    }
    // Per-person bindings left from User mode.
    for (const b of perUser) {
      await this.deleteBinding(b, signal);
      changes.push(`deleted RoleBinding ${b.metadata.namespace}/${b.metadata.name}`);
    }
    const groups = [...new Set(desired.map((d) => d.subject.name))];
    return { subject: groups.length > 0 ? groups.map((g) => `Group ${g}`).join(', ') : 'no group', changes };
  }

  /** Takes this grant's mark off a shared group binding, and deletes it when no grant holds it any more. */
  private async release(b: RoleBinding, holder: string, signal: AbortSignal | undefined): Promise<string[]> {
    const ref = `${b.metadata.namespace}/${b.metadata.name}`;
    const what = `release RoleBinding ${ref}`;
    throwIfCancelled(signal, what);
    try {
      let after: RoleBinding;
      try {
        after = await this.options.client.patch<RoleBinding>(
          resources.roleBinding,
          b.metadata.namespace,
          b.metadata.name ?? '',
          'merge',
          { metadata: { labels: { [holder]: null } } },
          undefined,
          { signal },
        );
      } catch (e) {
        if (isNotFound(e)) return [];
        throw e;
      }
      const others = Object.keys(after.metadata.labels ?? {}).filter((k) => k.startsWith(HOLDER_LABEL_PREFIX));
      if (others.length > 0) return [`left RoleBinding ${ref} (still held by ${others.length} other grant${others.length === 1 ? '' : 's'})`];
      try {
        const version = after.metadata.resourceVersion;
        await this.options.client.delete(resources.roleBinding, b.metadata.namespace, b.metadata.name ?? '', {
          signal,
          ...(version ? { preconditionsResourceVersion: version } : {}),
        });
      } catch (e) {
        // Changed since: another grant took it meanwhile, so it stays.
        if (isConflict(e)) return [`left RoleBinding ${ref} (taken by another grant meanwhile)`];
        throw e;
      }
      return [`deleted RoleBinding ${ref}`];
    } catch (e) {
      throw signal?.aborted ? cancelledError(what, e) : toBackendError(e, what);
    }
  }

  async remove(team: TeamRef, key: string, _person?: Person, { signal }: CallOptions = {}): Promise<string[]> {
    const changes: string[] = [];
    for (const b of this.existing(team, key)) {
      await this.deleteBinding(b, signal);
      changes.push(`deleted RoleBinding ${b.metadata.namespace}/${b.metadata.name}`);
    }
    for (const b of this.held(team, key)) changes.push(...(await this.release(b, holderLabel(team, key), signal)));
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
    role(teamClusterRoles.owner, [
      { apiGroups: [rosterGroup], resources: ['teams', 'projects', 'memberships', 'invitations', 'accesskeys'], verbs: [...read, ...write] },
    ]),
    role(teamClusterRoles.admin, [
      { apiGroups: [rosterGroup], resources: ['teams'], verbs: read },
      { apiGroups: [rosterGroup], resources: ['projects', 'memberships', 'invitations', 'accesskeys'], verbs: [...read, ...write] },
    ]),
    role(teamClusterRoles.billing, [{ apiGroups: [rosterGroup], resources: ['teams'], verbs: read }]),
  ] as KubeObject[];
}
