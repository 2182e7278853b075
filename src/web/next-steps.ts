// What the accept page says after "Accept": the scope in words, whether access is live yet
// (the page polls a status id, never the spent link), and the line that proves it.
import { randomBytes } from 'node:crypto';
import type { Membership } from '../api/generated.ts';
import { hasProjectAccess, isTeamWideRole, parseRole, type Role } from '../domain/roles.ts';
import { accessNamespaces, accessTargets, describeScope, isUnscoped, type AccessTarget, type ProjectLike, type ProjectScope } from '../domain/scope.ts';

/** How long a status id answers after Accept: long enough to watch access arrive, short enough to be worthless later. */
export const STATUS_ID_TTL_MS = 10 * 60_000;
/** At most this many can-i lines: one per in-scope namespace. */
export const MAX_CHECKS = 3;

function joinWords(parts: readonly string[]): string {
  if (parts.length <= 1) return parts.join('');
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]!}`;
}

function placesInWords(targets: readonly AccessTarget[]): string {
  const byProject = new Map<string, AccessTarget[]>();
  for (const t of targets) byProject.set(t.project, [...(byProject.get(t.project) ?? []), t]);
  return [...byProject]
    .map(([project, envs]) => {
      const list = joinWords(envs.map((e) => `${e.environment} (namespace ${e.namespace})`));
      return `project ${project}, environment${envs.length === 1 ? '' : 's'} ${list}`;
    })
    .join('; ');
}

/**
 * The role and where it applies, in words: "developer in project shop, environment staging
 * (namespace shop-staging)"; team-wide roles and unscoped ones: "admin in every project of
 * team Acme", followed by today's environments when there are any.
 */
export function scopeInWords(roleText: string, scope: readonly ProjectScope[] | undefined, projects: readonly ProjectLike[], teamName: string): string {
  const role: Role | undefined = parseRole(roleText);
  if (role === undefined) return roleText;
  if (!hasProjectAccess(role)) return `${role} of team ${teamName} (no access to its projects)`;
  const targets = accessTargets(role, scope, projects);
  if (isTeamWideRole(role) || isUnscoped(scope)) {
    const head = `${role} in every project of team ${teamName}`;
    return targets.length > 0 ? `${head} (today: ${placesInWords(targets)})` : `${head} (it has no projects yet)`;
  }
  // A scope naming projects that do not exist yet still says what was granted.
  return targets.length > 0 ? `${role} in ${placesInWords(targets)}` : `${role} in ${describeScope(role, scope)} (not set up yet)`;
}

function shellWord(text: string): string {
  return /^[A-Za-z0-9@._+:=/-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * `kubectl auth can-i` lines that prove access with the kubernetes backend: one per
 * in-scope namespace (at most MAX_CHECKS), with a verb the role's default ClusterRole
 * (admin, edit, view) grants; roles without project access check the team's own objects.
 */
export function canICommands(
  roleText: string,
  scope: readonly ProjectScope[] | undefined,
  projects: readonly ProjectLike[],
  controlNamespace: string,
  subject: string,
): string[] {
  const role = parseRole(roleText);
  if (role === undefined) return [];
  const as = `--as ${shellWord(subject)}`;
  const namespaces = accessNamespaces(accessTargets(role, scope, projects)).slice(0, MAX_CHECKS);
  if (namespaces.length === 0) {
    // developer/observer without an environment get nothing to check; the others have the Team.
    return role === 'developer' || role === 'observer' ? [] : [`kubectl auth can-i get teams.roster.dev -n ${shellWord(controlNamespace)} ${as}`];
  }
  const what = role === 'observer' ? 'list pods' : 'create deployments';
  return namespaces.map((ns) => `kubectl auth can-i ${what} -n ${shellWord(ns)} ${as}`);
}

export interface AccessStatus {
  /** The Membership's phase, or Pending while it is not linked yet. */
  phase: string;
  live: boolean;
  /** Whether the page should keep asking. */
  final: boolean;
  message: string;
  checks: string[];
}

/** What the page says about a Membership (undefined: not created or linked yet). */
export function accessStatusOf(membership: Membership | undefined, checks: () => string[]): AccessStatus {
  const phase = membership?.status?.phase;
  switch (phase) {
    case 'Active':
      return { phase, live: true, final: true, message: 'Your access is live.', checks: checks() };
    case 'Superseded':
      return {
        phase,
        live: true,
        final: true,
        message: 'Your access is live: you own this team, which includes everything this invitation grants.',
        checks: checks(),
      };
    case 'OverSeatLimit':
      return {
        phase,
        live: false,
        final: false,
        message:
          'The team has no free seat for you yet. Ask its owner to free a seat or raise the seat limit; you get access as soon as a seat frees (this page keeps checking).',
        checks: [],
      };
    case 'Expired':
      return { phase, live: false, final: true, message: 'This membership has expired. Ask the team’s admins to extend it.', checks: [] };
    case 'Failed': {
      const ready = membership?.status?.conditions?.find((c) => c.type === 'Ready');
      const why = ready?.reason ? ` (${ready.reason})` : '';
      return {
        phase,
        live: false,
        final: false,
        message: `Setting up your access failed${why}. The operator keeps retrying; if this stays, tell the team’s admins: they see why on Membership ${membership?.metadata.name ?? ''}.`,
        checks: [],
      };
    }
    default:
      return { phase: phase ?? 'Pending', live: false, final: false, message: 'Your access is being set up now.', checks: [] };
  }
}

/** What a status id stands for: the accepted Invitation (and its Membership once known). Never the link. */
export interface AcceptedRef {
  namespace: string;
  invitation: string;
  membership?: string;
}

/**
 * Status ids: random, unguessable, issued once per Accept, answering for STATUS_ID_TTL_MS.
 * In memory on the replica that took the Accept (see the README on several replicas).
 */
export class StatusIds {
  private readonly ids = new Map<string, AcceptedRef & { expires: number }>();
  private readonly ttlMs: number;
  constructor(ttlMs = STATUS_ID_TTL_MS) {
    this.ttlMs = ttlMs;
  }

  issue(ref: AcceptedRef, now: number): string {
    this.prune(now);
    const id = randomBytes(24).toString('base64url');
    this.ids.set(id, { ...ref, expires: now + this.ttlMs });
    return id;
  }

  lookup(id: string, now: number): AcceptedRef | undefined {
    const entry = this.ids.get(id);
    if (!entry) return undefined;
    if (entry.expires <= now) {
      this.ids.delete(id);
      return undefined;
    }
    const { expires: _expires, ...ref } = entry;
    return ref;
  }

  private prune(now: number): void {
    for (const [id, entry] of this.ids) if (entry.expires <= now) this.ids.delete(id);
    // Bounded memory: Accepts are rare and each costs a valid link, but be safe.
    if (this.ids.size >= 10_000) this.ids.delete(this.ids.keys().next().value!);
  }
}

export function isWellFormedStatusId(text: string): boolean {
  return /^[A-Za-z0-9_-]{32}$/.test(text);
}

/** The poller of the accepted page: text only (textContent), stops when the answer is final. */
export function statusScript(path: string): string {
  return `(function(){
var line=document.getElementById('status'),checks=document.getElementById('checks'),tries=0;
function show(s){line.textContent=s.message;line.className=s.live?'live':(s.final?'bad':'');
if(s.checks&&s.checks.length){checks.textContent='';var p=document.createElement('p');p.textContent='Check it with kubectl:';checks.appendChild(p);
s.checks.forEach(function(c){var pre=document.createElement('pre');pre.textContent=c;checks.appendChild(pre);});}}
function poll(){tries++;fetch(${JSON.stringify(path)},{cache:'no-store',credentials:'omit'}).then(function(r){
if(r.status===429){setTimeout(poll,10000);return null;}
if(!r.ok){line.textContent='This page stopped checking. Your access arrives on its own; ask the team’s admins if it does not.';return null;}
return r.json();}).then(function(s){if(!s)return;show(s);if(!s.final&&tries<300)setTimeout(poll,2000);})
.catch(function(){if(tries<300)setTimeout(poll,5000);});}
poll();})();`;
}
