// Which namespaces a team may reach (SPEC §7), as a pure rule. A namespace serves as a
// Project environment only when the platform assigned it to the team with a label on the
// namespace (namespaces are cluster-scoped, so team members cannot label them), and never
// when it is a system namespace, the operator's own, or any team's control namespace: admin
// there would let a person edit a Team, its seat ledger and its Memberships around the role
// matrix. Admission, the controllers and the kubernetes backend all ask this one function.

/** Namespaces no team ever reaches, whatever their labels say. */
export const RESERVED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

export interface TenancyPolicy {
  /** The label that assigns a namespace to a team; its value is the team's control namespace. */
  readonly namespaceLabel: string;
  /** The operator's own namespace (its token, Secrets and Lease live there). */
  readonly operatorNamespace: string;
}

/** What the rule needs to know about one namespace. */
export interface NamespaceFacts {
  /** The namespace's labels, or undefined when it does not exist. */
  readonly labels: Readonly<Record<string, string>> | undefined;
  /** Whether some Team lives in it (it is a control namespace). */
  readonly holdsTeam: boolean;
}

export type RefusalReason = 'Reserved' | 'OperatorNamespace' | 'ControlNamespace' | 'NotAssigned' | 'AssignedElsewhere';

export type Assignment =
  | { readonly kind: 'assigned' }
  /** Does not exist yet: admitted with a warning, bound once it exists and is assigned. */
  | { readonly kind: 'missing'; readonly message: string }
  | { readonly kind: 'refused'; readonly reason: RefusalReason; readonly message: string };

export function labelCommand(policy: TenancyPolicy, namespace: string, controlNamespace: string): string {
  return `kubectl label namespace ${namespace} ${policy.namespaceLabel}=${controlNamespace}`;
}

/**
 * Whether team members of `controlNamespace` may get access in `namespace`. The checks that
 * hold whatever the labels say come first, so no label can open a reserved namespace.
 */
export function namespaceAssignment(policy: TenancyPolicy, controlNamespace: string, namespace: string, facts: NamespaceFacts): Assignment {
  const team = `the team in namespace ${controlNamespace}`;
  if (RESERVED_NAMESPACES.includes(namespace)) {
    return {
      kind: 'refused',
      reason: 'Reserved',
      message: `namespace ${namespace} is a system namespace and never serves as an environment; use a namespace of your own`,
    };
  }
  if (namespace === policy.operatorNamespace) {
    return {
      kind: 'refused',
      reason: 'OperatorNamespace',
      message: `namespace ${namespace} is the roster operator's own namespace and never serves as an environment; use a namespace of your own`,
    };
  }
  if (namespace === controlNamespace) {
    return {
      kind: 'refused',
      reason: 'ControlNamespace',
      message: `namespace ${namespace} holds the team's own roster objects and never serves as an environment (access there would let people edit the Team around its roles); run the environment in another namespace`,
    };
  }
  if (facts.holdsTeam) {
    return {
      kind: 'refused',
      reason: 'ControlNamespace',
      message: `namespace ${namespace} holds another team's roster objects and never serves as an environment; run the environment in another namespace`,
    };
  }
  if (facts.labels === undefined) {
    return {
      kind: 'missing',
      message: `namespace ${namespace} does not exist yet; nobody gets access there until it exists and a cluster admin assigns it to ${team} (${labelCommand(policy, namespace, controlNamespace)})`,
    };
  }
  const owner = facts.labels[policy.namespaceLabel];
  if (owner === controlNamespace) return { kind: 'assigned' };
  if (owner === undefined || owner === '') {
    return {
      kind: 'refused',
      reason: 'NotAssigned',
      message: `namespace ${namespace} is not assigned to ${team}; a cluster admin assigns it with \`${labelCommand(policy, namespace, controlNamespace)}\``,
    };
  }
  return {
    kind: 'refused',
    reason: 'AssignedElsewhere',
    message: `namespace ${namespace} is assigned to the team in namespace ${owner} (${policy.namespaceLabel}=${owner}), not to ${team}; use a namespace assigned to this team, or ask a cluster admin to reassign it`,
  };
}

/** Namespaces a team may not use as they stand, each with why; `missing` ones are listed apart. */
export interface AssignmentReport<T extends { readonly namespace: string }> {
  readonly reachable: T[];
  readonly missing: Array<{ readonly target: T; readonly message: string }>;
  readonly refused: Array<{ readonly target: T; readonly reason: RefusalReason; readonly message: string }>;
}

/** Splits access targets (or environments) into those the team may reach and the rest. */
export function splitByAssignment<T extends { readonly namespace: string }>(
  targets: readonly T[],
  assignment: (namespace: string) => Assignment,
): AssignmentReport<T> {
  const report: AssignmentReport<T> = { reachable: [], missing: [], refused: [] };
  for (const target of targets) {
    const a = assignment(target.namespace);
    if (a.kind === 'assigned') report.reachable.push(target);
    else if (a.kind === 'missing') report.missing.push({ target, message: a.message });
    else report.refused.push({ target, reason: a.reason, message: a.message });
  }
  return report;
}

/** Namespaces in which no Team may be created (a Team there would make them a control namespace). */
export function teamNamespaceProblem(policy: TenancyPolicy, namespace: string): string | undefined {
  if (RESERVED_NAMESPACES.includes(namespace) || namespace === policy.operatorNamespace) {
    return `namespace ${namespace} is ${namespace === policy.operatorNamespace ? "the roster operator's own namespace" : 'a system namespace'}; create the Team in a namespace of its own`;
  }
  return undefined;
}
