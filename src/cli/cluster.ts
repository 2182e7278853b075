// The plugin's way into the cluster: the project's one KubeClient, built from the same
// kubeconfig kubectl would use (--kubeconfig, else $KUBECONFIG, else ~/.kube/config;
// --context; the context's namespace unless -n says otherwise), and the reads every
// command shares. The client library is loaded on first use, so help and usage errors
// answer at once.
import type { Invitation, Membership, Project, Team } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import type { KubeConfig as KubeConfigClass } from '@kubernetes/client-node';
import type { KubeClient, KubeObject, ResourceRef } from '../runtime/kube-client.ts';
import type { NamespaceReading } from './access-review.ts';
import type { GlobalOptions } from './args.ts';
import { CliError, ExitCode, isApiStatus, refuse } from './errors.ts';
import type { TeamSnapshot } from './team-view.ts';

export interface Connection {
  readonly client: KubeClient;
  readonly namespace: string;
  /** The API server's URL, for messages. */
  readonly server: string;
}

export async function connect(options: GlobalOptions): Promise<Connection> {
  const [{ KubeConfig }, { KubeClient }] = await Promise.all([import('@kubernetes/client-node'), import('../runtime/kube-client.ts')]);
  const kc = options.as === undefined ? new KubeConfig() : new (impersonating(KubeConfig))(options.as, options.asGroups ?? []);
  try {
    if (options.kubeconfig !== undefined) kc.loadFromFile(options.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new CliError(
      ExitCode.api,
      `cannot load kubeconfig${options.kubeconfig ? ` ${options.kubeconfig}` : ''}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (options.context !== undefined) {
    if (kc.getContextObject(options.context) === null) {
      const known = kc.getContexts().map((c) => c.name);
      throw new CliError(ExitCode.api, `context ${options.context} is not in the kubeconfig${known.length ? `; it has: ${known.join(', ')}` : ''}`);
    }
    kc.setCurrentContext(options.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new CliError(ExitCode.api, 'the kubeconfig has no current cluster; pass --kubeconfig or --context');
  const namespace = options.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const client = new KubeClient(kc, {
    fieldManager: 'kubectl-roster',
    userAgent: 'kubectl-roster',
    timeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
  });
  return { client, namespace, server: cluster.server };
}

/** Each request's limit without --request-timeout (kubectl waits forever; a CLI that hangs helps nobody). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * A KubeConfig that adds kubectl's impersonation headers (--as, --as-group) to every request
 * KubeClient makes; they replace the kubeconfig's own `as`. A subclass, because KubeClient
 * takes every request's headers and credentials from KubeConfig.applyToHTTPSOptions.
 */
function impersonating(Base: typeof KubeConfigClass) {
  return class ImpersonatingKubeConfig extends Base {
    readonly #user: string;
    readonly #groups: readonly string[];
    constructor(user: string, groups: readonly string[]) {
      super();
      this.#user = user;
      this.#groups = groups;
    }
    override async applyToHTTPSOptions(opts: Parameters<KubeConfigClass['applyToHTTPSOptions']>[0]): Promise<void> {
      await super.applyToHTTPSOptions(opts);
      const headers = (opts.headers ??= {}) as Record<string, string | string[]>;
      headers['Impersonate-User'] = this.#user;
      if (this.#groups.length > 0) headers['Impersonate-Group'] = [...this.#groups];
    }
  };
}

/** Every object of a kind in the namespace, following `continue` pages. */
export async function listAll<T extends KubeObject>(conn: Connection, ref: ResourceRef, query: Record<string, string> = {}): Promise<T[]> {
  const items: T[] = [];
  let token: string | undefined;
  do {
    const page = await conn.client.list<T>(ref, conn.namespace, { ...query, limit: 500, ...(token ? { continue: token } : {}) });
    items.push(...page.items);
    token = page.metadata.continue || undefined;
  } while (token);
  return items;
}

/** The Team, or a "not found" that names the namespace and the teams it does have. */
export async function getTeam(conn: Connection, name: string): Promise<Team> {
  const team = await conn.client.find<Team>(resources.team, conn.namespace, name);
  if (team) return team;
  const others = (await listAll<Team>(conn, resources.team)).map((t) => t.metadata.name ?? '');
  throw refuse(
    others.length === 0
      ? `team ${name} not found: there are no teams in namespace ${conn.namespace} (pick the team's namespace with -n)`
      : `team ${name} not found in namespace ${conn.namespace}; teams here: ${others.join(', ')}`,
  );
}

/** The team, then everything that names it (read in parallel). */
export async function loadTeam(conn: Connection, name: string): Promise<TeamSnapshot> {
  const team = await getTeam(conn, name); // first, so a missing team is what the user hears about
  const [memberships, invitations, projects] = await Promise.all([
    listAll<Membership>(conn, resources.membership),
    listAll<Invitation>(conn, resources.invitation),
    listAll<Project>(conn, resources.project),
  ]);
  return {
    team,
    memberships: memberships.filter((m) => m.spec.team === name),
    invitations: invitations.filter((i) => i.spec.team === name),
    projects: projects.filter((p) => p.spec.team === name),
  };
}

/**
 * What the tenancy rule needs about an environment namespace: its labels (undefined when it
 * does not exist) and whether a Team lives there. A read the API server forbids becomes
 * "unreadable, because": a person may ask can-i without the right to read namespaces, and
 * the answer must then say it cannot tell rather than guess.
 */
export async function readNamespace(conn: Connection, name: string): Promise<NamespaceReading> {
  const forbidden = (e: unknown, what: string): { unreadable: string } => {
    if (!isApiStatus(e, 403)) throw e;
    return { unreadable: `the API server does not let you ${what}` };
  };
  let labels: NamespaceReading['labels'];
  try {
    const namespace = await conn.client.find<KubeObject>(resources.namespace, undefined, name);
    if (namespace === undefined) return { labels: undefined, holdsTeam: false }; // no namespace, no Team in it
    labels = namespace.metadata.labels ?? {};
  } catch (e) {
    labels = forbidden(e, `get namespace ${name}`);
  }
  let holdsTeam: NamespaceReading['holdsTeam'];
  try {
    holdsTeam = (await conn.client.list<Team>(resources.team, name, { limit: 1 })).items.length > 0;
  } catch (e) {
    holdsTeam = forbidden(e, `list teams in namespace ${name}`);
  }
  return { labels, holdsTeam };
}
