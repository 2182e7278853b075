// The AccessKey decision, pure: from the gathered facts (gather.ts) to the objects the key
// should be (a ServiceAccount, the owner's token Role and RoleBinding in the control
// namespace, a RoleBinding per in-scope assigned environment namespace), the writes that
// get there from what exists, and the status. The executor (../access-key.ts) applies it.
import { createHash } from 'node:crypto';
import type { AccessKey, AccessKeyStatus, Project, Team } from '../../api/generated.ts';
import { apiVersion } from '../../api/resources.ts';
import { MANAGED_BY, TEAM_LABEL, TEAM_NAMESPACE_LABEL, type RoleBinding } from '../../backends/identity/kubernetes.ts';
import { ACCESS_KEY_LABEL, effectiveKeyRights, keyServiceAccountName, type KeyBackend, type KeyRights, type OwnerStanding } from '../../domain/access-keys.ts';
import { ConditionType, setConditions } from '../../domain/conditions.ts';
import { clusterRolesFor, type NamespaceClusterRoles } from '../../domain/role-bindings.ts';
import { accessTargets, describeScope } from '../../domain/scope.ts';
import { parseTime } from '../../domain/time.ts';
import type { KubeObject } from '../../runtime/kube-client.ts';
import type { Assignment } from '../../tenancy/namespaces.ts';

import { FINALIZER as KEY_FINALIZER } from '../../api/resources.ts';

export { KEY_FINALIZER };
/** Timers cannot wait longer than ~24.8 days; look again daily until the expiry is near. */
const MAX_REQUEUE_MS = 86_400_000;

export interface TokenRole extends KubeObject {
  rules?: Array<{ apiGroups?: string[]; resources?: string[]; verbs?: string[]; resourceNames?: string[] }>;
}

export interface AccessKeyFacts {
  readonly key: AccessKey;
  readonly now: Date;
  readonly team?: Team;
  readonly backend?: KeyBackend;
  /** What the owner holds in the team now (undefined without a team). */
  readonly standing?: OwnerStanding;
  readonly projects: readonly Project[];
  /** The tenancy rule for this team's control namespace. */
  readonly assignment: (namespace: string) => Assignment;
  readonly clusterRoles: NamespaceClusterRoles;
  /** What exists now, from the caches. */
  readonly serviceAccount?: KubeObject;
  readonly tokenRole?: TokenRole;
  readonly bindings: readonly RoleBinding[];
}

export type KeyObjectKind = 'ServiceAccount' | 'Role' | 'RoleBinding';
export type KeyWrite =
  | { readonly kind: 'apply'; readonly object: KubeObject & { kind: KeyObjectKind }; readonly replace: boolean }
  | { readonly kind: 'delete'; readonly object: KeyObjectKind; readonly namespace: string; readonly name: string };

export interface KeyChange {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly note: string;
}

export type AccessKeyPlan =
  | { readonly kind: 'addFinalizer' }
  | { readonly kind: 'finalize'; readonly writes: readonly KeyWrite[]; readonly change: KeyChange }
  | {
      readonly kind: 'sync';
      readonly writes: readonly KeyWrite[];
      readonly status: AccessKeyStatus;
      readonly change?: KeyChange;
      readonly requeueMs?: number;
    };

type Phase = NonNullable<AccessKeyStatus['phase']>;

interface Outcome {
  readonly phase: Phase;
  readonly reason: string;
  readonly message: string;
  readonly effective?: KeyRights;
}

/** Why the key holds what it holds (or nothing), before any object is compared. */
export function keyOutcome(facts: AccessKeyFacts): Outcome {
  const { key, team, backend, standing, now } = facts;
  const owner = key.spec.owner ?? '(no owner)';
  const expiry = parseTime(key.spec.expiresAt);
  if (expiry === undefined || expiry <= now.getTime()) {
    return { phase: 'Expired', reason: 'Expired', message: `the key expired at ${key.spec.expiresAt}; its ServiceAccount and every token it minted are gone` };
  }
  if (!team) return { phase: 'Suspended', reason: 'TeamNotFound', message: `team ${key.spec.team} does not exist in namespace ${key.metadata.namespace}` };
  if (backend?.kind !== 'kubernetes') {
    return { phase: 'Suspended', reason: 'KeysUnsupported', message: backend?.message ?? 'the team has no identity backend' };
  }
  if (!key.spec.owner) return { phase: 'Suspended', reason: 'OwnerInactive', message: 'the key has no spec.owner (the webhook stamps it on create)' };
  if (standing?.kind !== 'active') {
    return {
      phase: 'Suspended',
      reason: 'OwnerInactive',
      message: `${standing?.message ?? 'unknown owner'}; the key holds nothing until ${owner} is Active again`,
    };
  }
  const effective = effectiveKeyRights(key.spec, standing.rights);
  if (!effective) {
    return {
      phase: 'Suspended',
      reason: 'OutsideOwnerRights',
      message: `${owner} (${standing.source}, role ${standing.rights.role}) no longer reaches anything this key asks for; it holds nothing`,
    };
  }
  return {
    phase: 'Active',
    reason: 'Active',
    message: `acts for ${owner} as ${effective.role} in ${describeScope(effective.role, effective.projects)}`,
    effective,
  };
}

const labelsOf = (key: AccessKey, team: string): Record<string, string> => ({
  [MANAGED_BY]: 'roster',
  [TEAM_LABEL]: team,
  [TEAM_NAMESPACE_LABEL]: key.metadata.namespace ?? '',
  [ACCESS_KEY_LABEL]: key.metadata.name ?? '',
});

function ownerRef(key: AccessKey) {
  return [{ apiVersion, kind: 'AccessKey', name: key.metadata.name ?? '', uid: key.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }];
}

/** The environment RoleBinding's name: per key, and distinct between teams (a namespace may be reassigned). */
export function environmentBindingName(key: AccessKey): string {
  const team = createHash('sha256')
    .update(key.metadata.namespace ?? '')
    .digest('hex')
    .slice(0, 6);
  return `${keyServiceAccountName(key.metadata.name ?? '')}-${team}`;
}

/** The objects an Active key is, in the control namespace and in each reachable environment namespace. */
export function desiredObjects(
  facts: AccessKeyFacts,
  effective: KeyRights | undefined,
  userName: string | undefined,
): Array<KubeObject & { kind: KeyObjectKind }> {
  const { key } = facts;
  const namespace = key.metadata.namespace ?? '';
  const sa = keyServiceAccountName(key.metadata.name ?? '');
  const labels = labelsOf(key, key.spec.team);
  const meta = (ns: string) => ({ name: sa, namespace: ns, labels });
  const out: Array<KubeObject & { kind: KeyObjectKind }> = [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { ...meta(namespace), ownerReferences: ownerRef(key) },
      automountServiceAccountToken: false,
    } as KubeObject & {
      kind: 'ServiceAccount';
    },
  ];
  if (userName !== undefined) {
    // Only the owner may mint tokens, and only for this ServiceAccount.
    out.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { ...meta(namespace), ownerReferences: ownerRef(key) },
      rules: [{ apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'], resourceNames: [sa] }],
    } as KubeObject & { kind: 'Role' });
    out.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { ...meta(namespace), ownerReferences: ownerRef(key) },
      subjects: [{ kind: 'User', name: userName, apiGroup: 'rbac.authorization.k8s.io' }],
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: sa },
    } as KubeObject & { kind: 'RoleBinding' });
  }
  const clusterRole = effective ? clusterRolesFor(effective.role, facts.clusterRoles).namespaceClusterRole : undefined;
  if (effective && clusterRole) {
    const namespaces = new Set(
      accessTargets(effective.role, effective.projects, facts.projects)
        .map((t) => t.namespace)
        .filter((ns) => facts.assignment(ns).kind === 'assigned'),
    );
    for (const ns of [...namespaces].sort()) {
      out.push({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: environmentBindingName(key), namespace: ns, labels },
        subjects: [{ kind: 'ServiceAccount', name: sa, namespace }],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
      } as KubeObject & { kind: 'RoleBinding' });
    }
  }
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const labelsHeld = (have: KubeObject, want: KubeObject) => Object.entries(want.metadata.labels ?? {}).every(([k, v]) => have.metadata.labels?.[k] === v);

/** The writes from what exists to what should: apply what differs, delete what is not wanted. */
export function diffObjects(facts: AccessKeyFacts, desired: ReadonlyArray<KubeObject & { kind: KeyObjectKind }>): KeyWrite[] {
  const writes: KeyWrite[] = [];
  const wanted = new Set(desired.map((d) => `${d.kind}/${d.metadata.namespace}/${d.metadata.name}`));
  const bindingAt = (ns: string | undefined, name: string | undefined) => facts.bindings.find((b) => b.metadata.namespace === ns && b.metadata.name === name);
  for (const d of desired) {
    const { namespace, name } = d.metadata;
    if (d.kind === 'ServiceAccount') {
      if (!facts.serviceAccount || !labelsHeld(facts.serviceAccount, d)) writes.push({ kind: 'apply', object: d, replace: false });
    } else if (d.kind === 'Role') {
      if (!facts.tokenRole || !labelsHeld(facts.tokenRole, d) || !same(facts.tokenRole.rules, (d as TokenRole).rules)) {
        writes.push({ kind: 'apply', object: d, replace: false });
      }
    } else {
      const have = bindingAt(namespace, name);
      const want = d as RoleBinding;
      if (have && labelsHeld(have, d) && same(have.subjects, want.subjects) && same(have.roleRef, want.roleRef)) continue;
      // roleRef is immutable: a binding to another role is replaced.
      writes.push({ kind: 'apply', object: d, replace: have !== undefined && !same(have.roleRef, want.roleRef) });
    }
  }
  for (const b of facts.bindings) {
    if (!wanted.has(`RoleBinding/${b.metadata.namespace}/${b.metadata.name}`)) {
      writes.push({ kind: 'delete', object: 'RoleBinding', namespace: b.metadata.namespace ?? '', name: b.metadata.name ?? '' });
    }
  }
  const ns = facts.key.metadata.namespace ?? '';
  if (facts.tokenRole && !wanted.has(`Role/${ns}/${facts.tokenRole.metadata.name}`)) {
    writes.push({ kind: 'delete', object: 'Role', namespace: ns, name: facts.tokenRole.metadata.name ?? '' });
  }
  if (facts.serviceAccount && !wanted.has(`ServiceAccount/${ns}/${facts.serviceAccount.metadata.name}`)) {
    writes.push({ kind: 'delete', object: 'ServiceAccount', namespace: ns, name: facts.serviceAccount.metadata.name ?? '' });
  }
  return writes;
}

function describeRights(rights: KeyRights | undefined): string {
  return rights ? `${rights.role} in ${describeScope(rights.role, rights.projects)}` : 'nothing';
}

/** The Event and audit line for a change of phase or of effective rights; none when nothing changed. */
function changeOf(key: AccessKey, outcome: Outcome): KeyChange | undefined {
  const before = key.status;
  const was = before?.phase;
  const previous = before?.effective?.role ? (before.effective as KeyRights) : undefined;
  if (was === outcome.phase && same(previous, outcome.effective)) return undefined;
  const who = `key ${key.metadata.name} of ${key.spec.owner ?? '(no owner)'}`;
  if (outcome.phase === 'Active') {
    const reason = was === 'Active' ? 'Narrowed' : 'Activated';
    const what =
      was === 'Active' ? `now holds ${describeRights(outcome.effective)} (was ${describeRights(previous)})` : `holds ${describeRights(outcome.effective)}`;
    return {
      type: 'Normal',
      reason: was === 'Active' && outcome.effective?.role === 'developer' && previous?.role === 'observer' ? 'Widened' : reason,
      note: `${who} ${what}`,
    };
  }
  return { type: outcome.phase === 'Expired' ? 'Normal' : 'Warning', reason: outcome.phase, note: `${who} ${outcome.phase.toLowerCase()}: ${outcome.message}` };
}

export function planAccessKey(facts: AccessKeyFacts): AccessKeyPlan {
  const { key } = facts;
  const userName = facts.backend?.kind === 'kubernetes' && key.spec.owner ? `${facts.backend.userPrefix}${key.spec.owner}` : undefined;
  if (key.metadata.deletionTimestamp) {
    if (!(key.metadata.finalizers ?? []).includes(KEY_FINALIZER)) return { kind: 'sync', writes: [], status: key.status ?? {} };
    const note = `key ${key.metadata.name} of ${key.spec.owner ?? '(no owner)'} revoked: its ServiceAccount is deleted, which invalidates every token it minted`;
    return { kind: 'finalize', writes: diffObjects(facts, []), change: { type: 'Normal', reason: 'Revoked', note } };
  }
  if (!(key.metadata.finalizers ?? []).includes(KEY_FINALIZER)) return { kind: 'addFinalizer' };

  const outcome = keyOutcome(facts);
  // Expired: nothing stays (deleting the ServiceAccount kills its tokens). Suspended: the
  // ServiceAccount and the owner's token role stay, so the key resumes; no environment access.
  const desired = outcome.phase === 'Expired' ? [] : desiredObjects(facts, outcome.phase === 'Active' ? outcome.effective : undefined, userName);
  const generation = key.metadata.generation;
  const status: AccessKeyStatus = {
    observedGeneration: generation,
    phase: outcome.phase,
    ...(outcome.effective
      ? {
          effective: {
            role: outcome.effective.role,
            ...(outcome.effective.projects
              ? { projects: outcome.effective.projects.map((p) => ({ name: p.name, ...(p.environments ? { environments: [...p.environments] } : {}) })) }
              : {}),
          },
        }
      : {}),
    ...(outcome.phase !== 'Expired' ? { serviceAccount: keyServiceAccountName(key.metadata.name ?? '') } : {}),
    conditions: setConditions(
      'AccessKey',
      key.status?.conditions,
      [{ type: ConditionType.Ready, status: outcome.phase === 'Active' ? 'True' : 'False', reason: outcome.reason, message: outcome.message }],
      generation,
      facts.now,
    ),
  };
  const expiry = parseTime(key.spec.expiresAt);
  const change = changeOf(key, outcome);
  return {
    kind: 'sync',
    writes: diffObjects(facts, desired),
    status,
    ...(change ? { change } : {}),
    ...(outcome.phase !== 'Expired' && expiry !== undefined ? { requeueMs: Math.min(MAX_REQUEUE_MS, Math.max(1000, expiry - facts.now.getTime() + 500)) } : {}),
  };
}
