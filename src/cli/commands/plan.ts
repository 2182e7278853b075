// `plan -f PATH... [--prune]`: what applying the manifests would do, per person (SPEC §8).
// Every roster object in the files goes to the API server as a server-side dry run
// (dryRun=All), so the real admission rules answer (denials with their message, warnings);
// what the server would store is then planned with the operator's own code
// (domain/access-plan.ts: seats, scope, tenancy, the removal brake) against the cluster as it
// is. Exit codes as `terraform plan -detailed-exitcode`: 0 no change, 2 changes, 1 error or any
// denial.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { Invitation, Membership, Project, Team } from '../../api/generated.ts';
import { apiVersion, resources } from '../../api/resources.ts';
import { planTeam, type AccessSnapshot, type Grant, type PersonChange, type TeamPlan } from '../../domain/access-plan.ts';
import { parseDuration } from '../../domain/duration.ts';
import { DEFAULT_BRAKE, type BrakePolicy } from '../../domain/removal-brake.ts';
import type { SeatUsage } from '../../domain/seats.ts';
import type { KubeObject, ResourceRef } from '../../runtime/kube-client.ts';
import type { NamespaceFacts, TenancyPolicy } from '../../tenancy/namespaces.ts';
import { listAll, readNamespace, type Connection } from '../cluster.ts';
import type { Command } from '../command.ts';
import { CliError, ExitCode, isApiStatus, oneLine, UsageError } from '../errors.ts';
import { PROGRAM } from '../help.ts';
import { renderData } from '../output.ts';
import { parseObjectName } from '../values.ts';

const NAME = 'plan';
const DEFAULT_NAMESPACE_LABEL = 'roster.dev/team';
const DEFAULT_OPERATOR_NAMESPACE = 'roster-system';
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
// What the operator stamps on objects it creates itself (controllers/context.ts labels): prune leaves them alone.
const MANAGED_BY = 'app.kubernetes.io/managed-by';

const KINDS = { Team: resources.team, Membership: resources.membership, Invitation: resources.invitation, Project: resources.project } as const;
type RosterKind = keyof typeof KINDS;
const KIND_ORDER: readonly RosterKind[] = ['Team', 'Project', 'Membership', 'Invitation'];
const isRosterKind = (kind: unknown): kind is RosterKind => typeof kind === 'string' && kind in KINDS;

interface Manifest {
  readonly kind: RosterKind;
  readonly object: KubeObject & { spec?: unknown };
  readonly source: string;
}

interface NamespaceManifest {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export type ObjectAction = 'create' | 'update' | 'unchanged' | 'delete';

/** The API server's answer to one object's dry run. */
export interface ObjectVerdict {
  readonly kind: RosterKind;
  readonly namespace: string;
  readonly name: string;
  readonly action: ObjectAction;
  readonly allowed: boolean;
  /** The denial's message, when denied. */
  readonly message?: string;
  readonly warnings: readonly string[];
  readonly source?: string;
}

// ---------------------------------------------------------------------------------------
// Reading the files

function collectFiles(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new CliError(ExitCode.no, `cannot read ${path}: no such file or directory`);
  }
  if (!stat.isDirectory()) return [path];
  // A directory: its manifests, recursively (the GitOps repository's folder), in name order.
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? collectFiles(join(path, e.name)) : ['.yaml', '.yml', '.json'].includes(extname(e.name)) ? [join(path, e.name)] : []));
}

interface ReadResult {
  readonly manifests: Manifest[];
  readonly namespaces: NamespaceManifest[];
  readonly ignored: string[];
}

function readManifests(paths: readonly string[], defaultNamespace: string): ReadResult {
  const manifests: Manifest[] = [];
  const namespaces: NamespaceManifest[] = [];
  const ignored: string[] = [];
  const seen = new Set<string>();
  for (const file of paths.flatMap(collectFiles)) {
    const docs = parseAllDocuments(readFileSync(file, 'utf8'));
    for (const doc of Array.isArray(docs) ? docs : [docs]) {
      if (doc.errors.length > 0) throw new CliError(ExitCode.no, `${file}: not valid YAML: ${doc.errors[0]!.message}`);
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) continue;
      const items = isObject(value) && value.kind === 'List' && Array.isArray(value.items) ? (value.items as unknown[]) : [value];
      for (const item of items) {
        if (!isObject(item) || typeof item.kind !== 'string' || !isObject(item.metadata) || typeof item.metadata.name !== 'string') {
          throw new CliError(ExitCode.no, `${file}: every document needs apiVersion, kind and metadata.name`);
        }
        const name = item.metadata.name;
        if (item.kind === 'Namespace' && item.apiVersion === 'v1') {
          namespaces.push({ name, labels: isObject(item.metadata.labels) ? (item.metadata.labels as Record<string, string>) : {} });
          continue;
        }
        if (!isRosterKind(item.kind) || typeof item.apiVersion !== 'string' || !item.apiVersion.startsWith('roster.dev/')) {
          ignored.push(`${item.kind}/${name} (${file}): not a roster object`);
          continue;
        }
        if (item.apiVersion !== apiVersion)
          throw new CliError(ExitCode.no, `${file}: ${item.kind}/${name} has apiVersion ${item.apiVersion}; this plugin plans ${apiVersion}`);
        const namespace = typeof item.metadata.namespace === 'string' && item.metadata.namespace !== '' ? item.metadata.namespace : defaultNamespace;
        const key = `${item.kind}/${namespace}/${name}`;
        if (seen.has(key)) throw new CliError(ExitCode.no, `${file}: ${item.kind} ${name} in namespace ${namespace} appears twice in the files; keep one`);
        seen.add(key);
        const object = { ...item, metadata: { ...item.metadata, namespace } } as unknown as Manifest['object'];
        manifests.push({ kind: item.kind, object, source: file });
      }
    }
  }
  return { manifests, namespaces, ignored };
}

function isObject(value: unknown): value is Record<string, unknown> & { metadata?: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------
// Dry runs

/** JSON with sorted keys, so two specs compare by content. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (isObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));
}

const deniedMessage = (e: unknown): string | undefined => {
  // Admission denials and schema/CEL refusals: 400, 403 (webhook), 409, 422.
  if (!(e instanceof Error) || e.name !== 'KubeApiError') return undefined;
  const { status, body } = e as Error & { status: number; body: unknown };
  if (![400, 403, 409, 422].includes(status)) return undefined;
  const message = isObject(body) && typeof body.message === 'string' ? body.message : e.message;
  return oneLine(message);
};

interface DryRun {
  readonly verdict: ObjectVerdict;
  /** What the server would store (undefined when denied or deleted). */
  readonly result?: KubeObject;
}

async function dryRunApply(conn: Connection, manifest: Manifest, current: KubeObject | undefined): Promise<DryRun> {
  const ref: ResourceRef = KINDS[manifest.kind];
  const namespace = manifest.object.metadata.namespace ?? conn.namespace;
  const name = manifest.object.metadata.name ?? '';
  const warnings: string[] = [];
  const query = { dryRun: 'All', fieldManager: 'kubectl-roster' };
  const base = { kind: manifest.kind, namespace, name, source: manifest.source };
  try {
    if (current === undefined) {
      const result = await conn.client.request<KubeObject>('create', 'POST', resourcePathOf(ref, namespace), { body: manifest.object, query, warnings });
      return { verdict: { ...base, action: 'create', allowed: true, warnings }, result };
    }
    // The file is the whole desired spec (as GitOps means it): replace the spec, keep the
    // object's own metadata and add the file's labels and annotations.
    const { managedFields: _managed, ...metadata } = current.metadata as KubeObject['metadata'] & { managedFields?: unknown };
    const body = {
      ...manifest.object,
      metadata: {
        ...metadata,
        labels: { ...current.metadata.labels, ...manifest.object.metadata.labels },
        annotations: { ...current.metadata.annotations, ...manifest.object.metadata.annotations },
      },
      status: (current as { status?: unknown }).status,
    };
    const result = await conn.client.request<KubeObject & { spec?: unknown }>('update', 'PUT', resourcePathOf(ref, namespace, name), { body, query, warnings });
    const changed = canonical(result.spec) !== canonical((current as { spec?: unknown }).spec);
    return { verdict: { ...base, action: changed ? 'update' : 'unchanged', allowed: true, warnings }, result };
  } catch (e) {
    const message = deniedMessage(e);
    if (message === undefined) throw e;
    const action = current === undefined ? 'create' : 'update';
    return { verdict: { ...base, action, allowed: false, message, warnings } };
  }
}

async function dryRunDelete(conn: Connection, kind: RosterKind, object: KubeObject): Promise<ObjectVerdict> {
  const namespace = object.metadata.namespace ?? conn.namespace;
  const name = object.metadata.name ?? '';
  const warnings: string[] = [];
  const base = { kind, namespace, name, action: 'delete' as const };
  try {
    await conn.client.request('delete', 'DELETE', resourcePathOf(KINDS[kind], namespace, name), {
      body: { kind: 'DeleteOptions', apiVersion: 'v1', dryRun: ['All'] },
      query: { dryRun: 'All' },
      warnings,
    });
    return { ...base, allowed: true, warnings };
  } catch (e) {
    if (isApiStatus(e, 404)) return { ...base, allowed: true, warnings };
    const message = deniedMessage(e);
    if (message === undefined) throw e;
    return { ...base, allowed: false, message, warnings };
  }
}

function resourcePathOf(ref: ResourceRef, namespace: string, name?: string): string {
  const base = ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  return `${base}/namespaces/${encodeURIComponent(namespace)}/${ref.plural}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

// ---------------------------------------------------------------------------------------
// The cluster now, and after

interface NamespaceObjects {
  teams: Team[];
  memberships: Membership[];
  invitations: Invitation[];
  projects: Project[];
}

const emptyObjects = (): NamespaceObjects => ({ teams: [], memberships: [], invitations: [], projects: [] });

function bucket(objects: NamespaceObjects, kind: RosterKind): KubeObject[] {
  switch (kind) {
    case 'Team':
      return objects.teams;
    case 'Membership':
      return objects.memberships;
    case 'Invitation':
      return objects.invitations;
    case 'Project':
      return objects.projects;
  }
}

async function readCluster(conn: Connection, namespace: string): Promise<NamespaceObjects> {
  const here = { ...conn, namespace };
  const [teams, memberships, invitations, projects] = await Promise.all([
    listAll<Team>(here, resources.team),
    listAll<Membership>(here, resources.membership),
    listAll<Invitation>(here, resources.invitation),
    listAll<Project>(here, resources.project),
  ]);
  return { teams, memberships, invitations, projects };
}

/** Objects the operator made itself (owner invitations, Memberships of accepted invitations): not the files' to prune. */
function madeByOperator(object: KubeObject): boolean {
  return object.metadata.labels?.[MANAGED_BY] === 'roster' || (object.metadata.ownerReferences ?? []).some((r) => r.apiVersion.startsWith('roster.dev/'));
}

async function readFacts(conn: Connection, names: readonly string[]): Promise<Map<string, NamespaceFacts>> {
  const facts = new Map<string, NamespaceFacts>();
  await Promise.all(
    names.map(async (name) => {
      const reading = await readNamespace(conn, name);
      if (reading.labels !== undefined && 'unreadable' in reading.labels) {
        throw new CliError(
          ExitCode.no,
          `cannot plan access in namespace ${name}: ${reading.labels.unreadable}; plan needs to read the environment namespaces' labels`,
        );
      }
      if (typeof reading.holdsTeam !== 'boolean') throw new CliError(ExitCode.no, `cannot plan access in namespace ${name}: ${reading.holdsTeam.unreadable}`);
      facts.set(name, { labels: reading.labels as Readonly<Record<string, string>> | undefined, holdsTeam: reading.holdsTeam });
    }),
  );
  return facts;
}

function environmentNamespaces(projects: readonly Project[]): string[] {
  return projects.flatMap((p) => p.spec.environments.map((e) => e.namespace));
}

// ---------------------------------------------------------------------------------------
// The plan

export interface PlanReport {
  /** Something would change (exit 2 unless denied). */
  readonly changes: boolean;
  /** The API server would refuse something (exit 1). */
  readonly denied: boolean;
  readonly prune: boolean;
  readonly teams: readonly TeamPlanView[];
  /** Every object's dry run, unchanged ones included. */
  readonly objects: readonly ObjectVerdict[];
  /** Documents that are not roster objects (Namespaces are read for their labels). */
  readonly ignored: readonly string[];
}

export interface TeamPlanView extends Omit<TeamPlan, 'people' | 'brake'> {
  /** People whose access or standing changes. */
  readonly people: readonly PersonChange[];
  readonly unchanged: number;
  readonly brake?: {
    readonly activeMembers: number;
    readonly allowed: number;
    readonly window: string;
    readonly proceed: readonly string[];
    readonly held: readonly string[];
    readonly holdId?: string;
  };
  /** People the seat limit leaves without access (the webhook refuses them when applied together). */
  readonly overSeatLimit: readonly string[];
}

export const plan: Command = {
  markdown: true,
  errorExitCode: ExitCode.no,
  spec: {
    name: NAME,
    summary: 'Show what applying manifests would do, per person (exit 0 no change, 2 changes, 1 denied or error)',
    description: [
      'Show what applying the manifests would do, per person: who gains or loses which role, scope and',
      'environment (namespace), which invitations would be mailed, seats before and after, what the',
      "webhook says (every object is sent to the API server as a server-side dry run, so the cluster's",
      'real admission rules answer: denials with their message, warnings) and which removals the removal',
      'brake would hold. Nothing is changed.',
      '',
      'A new Membership grants nothing until its person accepts the mailed invitation; a role or scope',
      'change of an Active member takes effect at once; a deleted Membership loses its access unless the',
      'removal brake holds it. Environments count only in namespaces assigned to the team (SPEC §7):',
      'Namespace objects in the files are read for their labels.',
      '',
      "--prune treats the files as the whole desired state of the namespaces they cover (as Argo CD's",
      'prune does): roster objects there that the files do not hold are deleted, except those the',
      'operator made itself.',
      '',
      'Output: a table (default), -o markdown for a pull-request comment, -o json or yaml.',
      'Exit codes (as terraform plan -detailed-exitcode): 0 no change, 2 changes, 1 an error or any',
      'denial by the API server or the seat limit.',
    ].join('\n'),
    args: [],
    flags: [
      {
        name: 'filename',
        short: 'f',
        value: 'PATH',
        multiple: true,
        required: true,
        description: 'a manifest file or a directory of them (recursively: .yaml, .yml, .json); repeatable',
      },
      { name: 'prune', description: 'delete roster objects of the covered namespaces that the files do not hold' },
      {
        name: 'namespace-label',
        value: 'KEY',
        description: `the label that assigns a namespace to a team, as in the operator's tenancy.namespaceLabel (default ${DEFAULT_NAMESPACE_LABEL})`,
      },
      {
        name: 'operator-namespace',
        value: 'NAMESPACE',
        description: `the roster operator's namespace, as in its namespace setting (default ${DEFAULT_OPERATOR_NAMESPACE})`,
      },
      { name: 'brake-max-fraction', value: 'FRACTION', description: `the operator's removalBrake.maxFraction (default ${DEFAULT_BRAKE.maxFraction})` },
      { name: 'brake-min-people', value: 'N', description: `the operator's removalBrake.minPeople (default ${DEFAULT_BRAKE.minPeople})` },
      { name: 'brake-window', value: 'DURATION', description: "the operator's removalBrake.window (default 10m)" },
    ],
    examples: [
      '# What would merging this branch do to team acme?',
      `${PROGRAM} plan -f teams/acme/`,
      '',
      '# As Argo CD with prune would apply it, as a pull-request comment (exit 0 no change, 2 changes, 1 denied)',
      `${PROGRAM} plan -f teams/acme/ -f platform/namespaces.yaml --prune -o markdown`,
    ],
  },

  async run({ flags, global, io, connect, now }) {
    const policy = tenancyPolicy(flags.string('namespace-label'), flags.string('operator-namespace'));
    const brake = brakePolicy(flags.string('brake-max-fraction'), flags.string('brake-min-people'), flags.string('brake-window'));
    const prune = flags.boolean('prune');
    const conn = await connect();
    const { manifests, namespaces: namespaceManifests, ignored } = readManifests(flags.all('filename'), conn.namespace);
    if (manifests.length === 0) throw new CliError(ExitCode.no, `no roster objects (${apiVersion}) in ${flags.all('filename').join(', ')}`);
    const at = now();

    const covered = [...new Set(manifests.map((m) => m.object.metadata.namespace ?? conn.namespace))].sort();
    const current = new Map(await Promise.all(covered.map(async (ns): Promise<[string, NamespaceObjects]> => [ns, await readCluster(conn, ns)])));

    // Dry runs, Teams and Projects first (the order an apply should take).
    const verdicts: ObjectVerdict[] = [];
    const desired = new Map<string, NamespaceObjects>();
    for (const ns of covered) {
      const now_ = current.get(ns)!;
      const after = emptyObjects();
      const inFiles = manifests.filter((m) => (m.object.metadata.namespace ?? conn.namespace) === ns);
      for (const kind of KIND_ORDER) {
        const live = bucket(now_, kind).filter((o) => !o.metadata.deletionTimestamp);
        const wanted = inFiles.filter((m) => m.kind === kind);
        for (const manifest of wanted) {
          const existing = live.find((o) => o.metadata.name === manifest.object.metadata.name);
          const run = await dryRunApply(conn, manifest, existing);
          verdicts.push(run.verdict);
          // A denied object does not change: the cluster keeps what it has.
          const kept = run.result ?? existing;
          if (kept) bucket(after, kind).push(withStatus(kept, existing));
        }
        for (const object of live) {
          if (wanted.some((m) => m.object.metadata.name === object.metadata.name)) continue;
          if (prune && !madeByOperator(object)) {
            const verdict = await dryRunDelete(conn, kind, object);
            verdicts.push({ ...verdict });
            if (verdict.allowed) continue;
          }
          bucket(after, kind).push(object);
        }
      }
      desired.set(ns, after);
    }

    // Namespace facts: as the cluster has them, and as the files' Namespace objects would label them.
    const envs = [...new Set([...current.values(), ...desired.values()].flatMap((o) => environmentNamespaces(o.projects)))].sort();
    const factsNow = await readFacts(conn, envs);
    const factsAfter = new Map(factsNow);
    for (const nsm of namespaceManifests) {
      const before = factsNow.get(nsm.name);
      factsAfter.set(nsm.name, { labels: { ...(before?.labels ?? {}), ...nsm.labels }, holdsTeam: before?.holdsTeam ?? false });
    }
    for (const [ns, objects] of desired) {
      if (objects.teams.length > 0 && factsAfter.has(ns)) factsAfter.set(ns, { ...factsAfter.get(ns)!, holdsTeam: true });
    }

    const teams: TeamPlanView[] = [];
    for (const ns of covered) {
      const before = current.get(ns)!;
      const after = desired.get(ns)!;
      const teamBefore = before.teams.find((t) => !t.metadata.deletionTimestamp) ?? before.teams[0];
      const teamAfter = after.teams[0];
      if (!teamBefore && !teamAfter) continue;
      const snapshot = (
        objects: NamespaceObjects,
        team: Team | undefined,
        namespaces: Map<string, NamespaceFacts>,
        held?: ReadonlySet<string>,
      ): AccessSnapshot => ({
        controlNamespace: ns,
        team,
        memberships: objects.memberships,
        invitations: objects.invitations,
        projects: objects.projects,
        namespaces,
        policy,
        now: at,
        ...(held ? { held } : {}),
      });
      const heldNow = new Set((teamBefore?.status?.removals?.held ?? []).flatMap((h) => (h.name ? [h.name] : [])));
      const result = planTeam(snapshot(before, teamBefore, factsNow, heldNow), snapshot(after, teamAfter, factsAfter), brake);
      teams.push(viewOf(result));
    }

    const denied = verdicts.some((v) => !v.allowed) || teams.some((t) => t.overSeatLimit.length > 0);
    const changes = verdicts.some((v) => v.allowed && v.action !== 'unchanged') || teams.some((t) => t.people.length > 0);
    const report: PlanReport = { changes, denied, prune, teams, objects: verdicts, ignored };

    const format = global.output;
    if (format === 'json' || format === 'yaml') io.out(renderData(format, report));
    else if (format === 'markdown') io.out(renderMarkdown(report));
    else io.out(renderText(report));
    return denied ? ExitCode.no : changes ? ExitCode.changes : ExitCode.ok;
  },
};

/** An updated object keeps the status it has in the cluster (the apply does not touch status). */
function withStatus(object: KubeObject, existing: KubeObject | undefined): KubeObject {
  if (existing === undefined) {
    const { status: _status, ...rest } = object as KubeObject & { status?: unknown };
    return rest as KubeObject;
  }
  return { ...object, status: (existing as { status?: unknown }).status } as KubeObject;
}

function viewOf(plan: TeamPlan): TeamPlanView {
  const changed = plan.people.filter((p) => p.kind !== 'unchanged');
  const overSeatLimit = plan.people.filter((p) => p.after?.seat === 'overLimit' && p.before?.seat !== 'overLimit').map((p) => p.email);
  return {
    controlNamespace: plan.controlNamespace,
    team: plan.team,
    seats: plan.seats,
    people: changed,
    unchanged: plan.people.length - changed.length,
    overSeatLimit,
    ...(plan.brake
      ? {
          brake: {
            activeMembers: plan.brake.activeMembers,
            allowed: plan.brake.allowed,
            window: formatWindow(plan.brake.policy.windowMs),
            proceed: plan.brake.proceed.map((r) => r.email),
            held: plan.brake.held.map((r) => r.email),
            ...(plan.brake.holdId ? { holdId: plan.brake.holdId } : {}),
          },
        }
      : {}),
  };
}

function formatWindow(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}

function tenancyPolicy(label: string | undefined, operatorNamespace: string | undefined): TenancyPolicy {
  const namespaceLabel = label ?? DEFAULT_NAMESPACE_LABEL;
  if (namespaceLabel.length > 316 || !LABEL_KEY.test(namespaceLabel)) {
    throw new UsageError(
      `--namespace-label ${JSON.stringify(namespaceLabel)} is not a label key; use the operator's tenancy.namespaceLabel, such as ${DEFAULT_NAMESPACE_LABEL}`,
      NAME,
    );
  }
  return { namespaceLabel, operatorNamespace: parseObjectName(operatorNamespace ?? DEFAULT_OPERATOR_NAMESPACE, '--operator-namespace', NAME) };
}

function brakePolicy(fraction: string | undefined, minPeople: string | undefined, window: string | undefined): BrakePolicy {
  const maxFraction = fraction === undefined ? DEFAULT_BRAKE.maxFraction : Number(fraction);
  if (!Number.isFinite(maxFraction) || maxFraction < 0 || maxFraction > 1)
    throw new UsageError(`--brake-max-fraction takes a number from 0 to 1, such as 0.25, not ${JSON.stringify(fraction)}`, NAME);
  const people = minPeople === undefined ? DEFAULT_BRAKE.minPeople : Number(minPeople);
  if (!Number.isInteger(people) || people < 0)
    throw new UsageError(`--brake-min-people takes a whole number, such as 2, not ${JSON.stringify(minPeople)}`, NAME);
  let windowMs = DEFAULT_BRAKE.windowMs;
  if (window !== undefined) {
    try {
      windowMs = parseDuration(window);
    } catch {
      throw new UsageError(`--brake-window takes a duration such as 10m or 1h, not ${JSON.stringify(window)}`, NAME);
    }
  }
  return { maxFraction, minPeople: people, windowMs };
}

// ---------------------------------------------------------------------------------------
// Rendering

/** `deploy, view in shop/staging (namespace shop-staging)`, one line per place. */
function describeGrants(grants: readonly Grant[]): string[] {
  const byPlace = new Map<string, string[]>();
  for (const g of grants) {
    const place = `${g.project}/${g.environment} (namespace ${g.namespace})`;
    byPlace.set(place, [...(byPlace.get(place) ?? []), g.permission]);
  }
  return [...byPlace].map(([place, permissions]) => `${permissions.sort().join(', ')} in ${place}`);
}

interface Described {
  /** `+` added, `-` loses access or removed, `~` changed, `!` held. */
  readonly sign: '+' | '-' | '~' | '!';
  readonly headline: string;
  readonly gains: readonly string[];
  readonly losses: readonly string[];
}

export function describePerson(p: PersonChange): Described {
  const gains = describeGrants(p.gained);
  const losses = describeGrants(p.lost);
  const a = p.after;
  const b = p.before;
  if (p.held) {
    return { sign: '!', headline: `removal held by the removal brake: keeps ${b?.role ?? a?.role} access until an owner or admin releases it`, gains, losses };
  }
  if (a === undefined) return { sign: '-', headline: `removed (was ${b?.role}, ${b?.scope}, ${b?.state})`, gains, losses };
  const parts: string[] = [];
  if (b === undefined) parts.push(`new ${a.role}, ${a.scope}`);
  else {
    if (p.role) parts.push(`role ${p.role.from} → ${p.role.to}`);
    if (p.scope) parts.push(`scope ${p.scope.from} → ${p.scope.to}`);
  }
  if (p.mailed) parts.push('invitation mailed; no access until accepted');
  else if (a.state !== 'active' && (b === undefined || b.state === 'active' || p.state)) parts.push(a.reason);
  else if (b && b.via !== a.via) parts.push(`now through ${a.via}`);
  const losesAll = b?.state === 'active' && a.state !== 'active';
  const sign = b === undefined ? '+' : losesAll ? '-' : '~';
  return { sign, headline: parts.join('; ') || a.reason, gains, losses };
}

function seatLine(before: SeatUsage | undefined, after: SeatUsage | undefined): string {
  const show = (s: SeatUsage | undefined): string => (s ? `${s.summary} (${s.available} available)` : 'no team');
  return `${show(before)} → ${show(after)}`;
}

function teamTitle(t: TeamPlanView): string {
  return `team ${t.team ?? '<none>'} (namespace ${t.controlNamespace})`;
}

function brakeLines(t: TeamPlanView): string[] {
  const b = t.brake;
  if (!b) return [];
  const asked = b.proceed.length + b.held.length;
  const lines = [`removal brake: ${asked} removal${asked === 1 ? '' : 's'} of ${b.activeMembers} active members; ${b.allowed} allowed within ${b.window}`];
  if (b.held.length > 0) {
    lines.push(`  held (keep their access until released): ${b.held.join(', ')}`);
    lines.push(`  release after the apply with: ${PROGRAM} release ${t.team ?? ''} -n ${t.controlNamespace}`);
  }
  return lines;
}

function summary(report: PlanReport): string {
  const people = report.teams.flatMap((t) => t.people);
  const count = (f: (p: PersonChange) => boolean): number => people.filter(f).length;
  const parts = [
    `${count((p) => p.mailed)} invitation(s) to mail`,
    `${count((p) => p.gained.length > 0)} gaining access`,
    `${count((p) => p.lost.length > 0 && !p.held)} losing access`,
    `${count((p) => p.held)} held by the brake`,
  ];
  const denials = report.objects.filter((o) => !o.allowed).length + report.teams.reduce((n, t) => n + t.overSeatLimit.length, 0);
  const verdict = report.denied ? `${denials} denied` : report.changes ? 'changes' : 'no change';
  return `Plan: ${parts.join(', ')}; ${verdict}.`;
}

const objectLabel = (o: ObjectVerdict): string => `${o.kind.toLowerCase()}/${o.name} -n ${o.namespace}`;

function verdictText(o: ObjectVerdict): string {
  return o.allowed ? 'allowed' : `denied: ${o.message ?? ''}`;
}

export function renderText(report: PlanReport): string {
  const out: string[] = [];
  for (const t of report.teams) {
    out.push(`${teamTitle(t)}:`);
    if (t.people.length === 0) out.push("  no change in anyone's access");
    for (const p of t.people) {
      const d = describePerson(p);
      out.push(`  ${d.sign} ${p.email}: ${d.headline}`);
      for (const g of d.gains) out.push(`      + ${g}`);
      for (const l of d.losses) out.push(`      - ${l}${p.held ? ' (held: stays)' : ''}`);
    }
    out.push(`  seats: ${seatLine(t.seats.before, t.seats.after)}`);
    for (const email of t.overSeatLimit) out.push(`  over the seat limit: ${email} would get no seat; raise spec.seats or remove a member`);
    out.push(...brakeLines(t).map((l) => `  ${l}`));
    out.push('');
  }
  const shown = report.objects.filter((o) => o.action !== 'unchanged' || !o.allowed || o.warnings.length > 0);
  out.push('admission (server-side dry run):');
  if (shown.length === 0) out.push('  every object unchanged and allowed');
  const width = Math.max(0, ...shown.map((o) => `${o.action} ${objectLabel(o)}`.length));
  for (const o of shown) {
    out.push(`  ${`${o.action} ${objectLabel(o)}`.padEnd(width)}   ${verdictText(o)}`);
    for (const w of o.warnings) out.push(`      warning: ${w}`);
  }
  for (const i of report.ignored) out.push(`  ignored ${i}`);
  out.push('', summary(report));
  return `${out.join('\n')}\n`;
}

const mdCell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, '<br>');

export function renderMarkdown(report: PlanReport): string {
  const out: string[] = ['### kubectl roster plan', ''];
  for (const t of report.teams) {
    out.push(`#### ${teamTitle(t).replace(/^team (\S+) \(namespace (\S+)\)$/, 'Team `$1` (namespace `$2`)')}`, '');
    if (t.people.length === 0) out.push("No change in anyone's access.", '');
    else {
      out.push('| | Person | Change | Gains | Loses |', '|---|---|---|---|---|');
      for (const p of t.people) {
        const d = describePerson(p);
        const losses = d.losses.map((l) => (p.held ? `${l} (held: stays)` : l));
        out.push(`| ${d.sign} | ${mdCell(p.email)} | ${mdCell(d.headline)} | ${mdCell(d.gains.join('\n'))} | ${mdCell(losses.join('\n'))} |`);
      }
      out.push('');
    }
    out.push(`**Seats:** ${seatLine(t.seats.before, t.seats.after)}`, '');
    for (const email of t.overSeatLimit)
      out.push(`:no_entry: **Over the seat limit:** ${mdCell(email)} would get no seat; raise spec.seats or remove a member`, '');
    const brake = brakeLines(t);
    if (brake.length > 0) out.push(`**Removal brake:** ${brake[0]!.replace(/^removal brake: /, '')}`, ...brake.slice(1).map((l) => `- ${l.trim()}`), '');
  }
  const shown = report.objects.filter((o) => o.action !== 'unchanged' || !o.allowed || o.warnings.length > 0);
  out.push('#### Admission (server-side dry run)', '');
  if (shown.length === 0) out.push('Every object unchanged and allowed.', '');
  else {
    out.push('| Action | Object | Verdict |', '|---|---|---|');
    for (const o of shown) {
      const verdict = [o.allowed ? 'allowed' : `**denied**: ${o.message ?? ''}`, ...o.warnings.map((w) => `warning: ${w}`)].join('\n');
      out.push(`| ${o.action} | \`${o.kind.toLowerCase()}/${o.name}\` (${o.namespace}) | ${mdCell(verdict)} |`);
    }
    out.push('');
  }
  out.push(`**${summary(report)}**`);
  return `${out.join('\n')}\n`;
}
