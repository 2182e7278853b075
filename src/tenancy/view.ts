// The tenancy rule over the live caches: namespaces (labels) from a namespace informer and
// which namespaces hold a Team from the Team informer, so that checking a binding costs no
// API request. Admission, the controllers and the kubernetes backend share one instance.
import { namespaceAssignment, splitByAssignment, type Assignment, type AssignmentReport, type NamespaceFacts, type TenancyPolicy } from './namespaces.ts';

interface Named {
  readonly metadata: { readonly name?: string; readonly namespace?: string; readonly labels?: Readonly<Record<string, string>> };
}

/** The parts of an informer the view reads. */
export interface NamespaceCache {
  get(namespace: undefined, name: string): Named | undefined;
  hasSynced(): boolean;
}

export interface TeamCache {
  /** Teams in a namespace (an index lookup, not a scan). */
  inNamespace(namespace: string): readonly Named[];
  hasSynced(): boolean;
}

/** Thrown when the caches cannot answer yet: callers retry rather than bind or unbind. */
export class TenancyNotSynced extends Error {
  override name = 'TenancyNotSynced';
  constructor() {
    super('the namespace cache has not synced yet; not granting or removing access until it has');
  }
}

export class TenancyView {
  readonly policy: TenancyPolicy;
  private readonly namespaces: NamespaceCache;
  private readonly teams: TeamCache;

  constructor(policy: TenancyPolicy, namespaces: NamespaceCache, teams: TeamCache) {
    this.policy = policy;
    this.namespaces = namespaces;
    this.teams = teams;
  }

  synced(): boolean {
    return this.namespaces.hasSynced() && this.teams.hasSynced();
  }

  facts(namespace: string): NamespaceFacts {
    const ns = this.namespaces.get(undefined, namespace);
    return { labels: ns ? (ns.metadata.labels ?? {}) : undefined, holdsTeam: this.teams.inNamespace(namespace).length > 0 };
  }

  /** Whether the team in `controlNamespace` may reach `namespace`; throws TenancyNotSynced before the caches are ready. */
  assignment(controlNamespace: string, namespace: string): Assignment {
    if (!this.synced()) throw new TenancyNotSynced();
    return namespaceAssignment(this.policy, controlNamespace, namespace, this.facts(namespace));
  }

  split<T extends { readonly namespace: string }>(controlNamespace: string, targets: readonly T[]): AssignmentReport<T> {
    if (!this.synced()) throw new TenancyNotSynced();
    return splitByAssignment(targets, (namespace) => this.assignment(controlNamespace, namespace));
  }

  /** Only the targets the team may reach. */
  reachable<T extends { readonly namespace: string }>(controlNamespace: string, targets: readonly T[]): T[] {
    return this.split(controlNamespace, targets).reachable;
  }

  /** The team control namespaces whose access depends on this namespace's assignment label. */
  static labelChanged(policy: TenancyPolicy, before: Named | undefined, after: Named | undefined): string[] {
    const a = before?.metadata.labels?.[policy.namespaceLabel];
    const b = after?.metadata.labels?.[policy.namespaceLabel];
    return a === b ? [] : [a, b].filter((v): v is string => typeof v === 'string' && v !== '');
  }
}
