// Which changes wake which reconciles: the policy the controllers' watches follow, in one
// place, as named rules (src/operator.ts only wires them to the manager). Every rule maps an
// informer event to the keys of the objects whose decision may have changed; anything more
// would cost reconciles, anything less would leave a decision stale until the next resync.
import type { Invitation, Membership, Team } from '../api/generated.ts';
import { GRANT_ANNOTATION } from '../backends/identity/kubernetes.ts';
import { ACCESS_KEY_LABEL } from '../domain/access-keys.ts';
import type { InformerEvent } from '../runtime/informer.ts';
import type { KubeObject } from '../runtime/kube-client.ts';
import { ownerKeys, watch, type Watch } from '../runtime/manager.ts';
import { ledgerName, ledgerTeamKey, parseLedger } from '../seats/ledger.ts';
import { TenancyView } from '../tenancy/view.ts';
import { keyOwnerIndexValue } from './access-key/gather.ts';
import { index, teamKey, type Caches } from './context.ts';

type Event = InformerEvent<KubeObject>;

const keysOf = (list: readonly KubeObject[]): string[] => list.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);

/** The team an object belongs to (spec.team), as a Team key. */
function teamOf(e: Event): string[] {
  const o = e.object as unknown as { metadata: { namespace?: string }; spec?: { team?: string } };
  return o.spec?.team ? [teamKey(o.metadata.namespace, o.spec.team)] : [];
}

/** Keys of a grant's owner, from the annotation on the RoleBindings the kubernetes backend writes. */
export function grantOwnerKeys(event: Event): { team?: string; membership?: string } {
  const value = event.object.metadata.annotations?.[GRANT_ANNOTATION];
  if (!value) return {};
  const [namespace, team, ...rest] = value.split('/');
  const key = rest.join('/');
  if (key === 'owner') return { team: `${namespace}/${team}` };
  if (key.startsWith('member:')) return { membership: `${namespace}/${key.slice('member:'.length)}` };
  return {};
}

/**
 * Team status changes with every member; only spec changes (seats, owner, ttl) and deletion
 * concern a team's memberships and invitations. Fanning out on every status write would make
 * a team of n members cost n² reconciles.
 */
function specChanged(e: Event): boolean {
  return (
    e.type !== 'updated' ||
    e.old.metadata.generation !== e.object.metadata.generation ||
    e.object.metadata.deletionTimestamp !== e.old.metadata.deletionTimestamp
  );
}

/** Removals the brake let through since the last version (Team status.removals.approved). */
function newlyApproved(before: Team, after: Team): string[] {
  const was = new Set(before.status?.removals?.approved ?? []);
  return (after.status?.removals?.approved ?? []).filter((n) => !was.has(n));
}

/** The lookups the rules share, over one set of caches. */
function lookups(caches: Caches, tenancy: TenancyView) {
  const membershipsOfTeams = (teams: string[]) => teams.flatMap((t) => keysOf(caches.memberships.byIndex(index.byTeam, t)));
  const teamsOfControlNamespaces = (controlNamespaces: string[]) => controlNamespaces.flatMap((ns) => keysOf(caches.teams.byIndex(index.byNamespace, ns)));
  // A namespace's assignment label decides who may reach it: when it changes, the teams it
  // named before and after look again.
  const assignmentChanged = (e: Event) =>
    TenancyView.labelChanged(
      tenancy.policy,
      e.type === 'updated' ? e.old : e.type === 'added' ? undefined : e.object,
      e.type === 'deleted' ? undefined : e.object,
    );
  // A team created in (or gone from) a namespace assigned to another team changes that one's reach.
  const teamsReachingNamespace = (e: Event) => {
    const label = caches.namespaces.get(undefined, e.object.metadata.namespace ?? '')?.metadata.labels?.[tenancy.policy.namespaceLabel];
    return e.type === 'added' || e.type === 'deleted' ? teamsOfControlNamespaces(label ? [label] : []) : [];
  };
  const projectsOfNamespace = (namespace: string) => keysOf(caches.projects.byIndex(index.byEnvironmentNamespace, namespace));
  const keysOfTeams = (teams: string[]) => teams.flatMap((t) => keysOf(caches.accessKeys.byIndex(index.byTeam, t)));
  // The objects a key owns carry its name and team namespace in labels.
  const keyOfObject = (e: Event) => {
    const name = e.object.metadata.labels?.[ACCESS_KEY_LABEL];
    const ns = e.object.metadata.labels?.['roster.dev/team-namespace'];
    return name && ns ? [`${ns}/${name}`] : [];
  };

  return { membershipsOfTeams, teamsOfControlNamespaces, assignmentChanged, teamsReachingNamespace, projectsOfNamespace, keysOfTeams, keyOfObject };
}

type Lookups = ReturnType<typeof lookups>;

/**
 * How long a Team waits after a member's or invitation's change before it looks: a bulk
 * onboarding changes each member several times within a second or two, and the Team's status
 * (seat summary, counts) is then written once or twice, not once per change (issue 14).
 */
export const TEAM_COALESCE_MS = 1000;

/**
 * Except for a new object the team's seat ledger holds an unconfirmed entry for: the Team
 * confirms it at once, or a delete within the wait would leave the entry holding the seat
 * until it expires (entries exist near the limit; far from it admissions go into blocks).
 */
function teamDelay(caches: Caches, kind: 'Membership' | 'Invitation') {
  return (e: Event): number => {
    if (e.type !== 'added') return TEAM_COALESCE_MS;
    const { namespace, name, uid } = e.object.metadata;
    const team = (e.object as unknown as { spec?: { team?: string } }).spec?.team;
    const ledger = team ? caches.seatLedgers.get(namespace, ledgerName(team)) : undefined;
    const awaited = parseLedger(ledger).some((r) => !r.confirmedAt && r.kind === kind && (r.uid ? r.uid === uid : r.name === name));
    return awaited ? 0 : TEAM_COALESCE_MS;
  };
}

function teamWatches(caches: Caches, { teamsOfControlNamespaces, assignmentChanged, teamsReachingNamespace }: Lookups): Watch[] {
  return [
    watch(caches.memberships, teamOf, { delayMs: teamDelay(caches, 'Membership') }),
    watch(caches.invitations, teamOf, { delayMs: teamDelay(caches, 'Invitation') }),
    watch(caches.projects, teamOf),
    watch(caches.roleBindings, (e) => [grantOwnerKeys(e).team ?? ''].filter(Boolean)),
    // A reservation written by the webhook: the team settles it once its object is cached.
    watch(caches.seatLedgers, (e) => [ledgerTeamKey(e.object) ?? ''].filter(Boolean)),
    watch(caches.namespaces, (e) => teamsOfControlNamespaces(assignmentChanged(e))),
    watch(caches.teams, teamsReachingNamespace),
    // The team that holds a namespace goes: a second one waiting there gets its turn.
    watch(caches.teams, (e) => (e.type === 'deleted' ? teamsOfControlNamespaces([e.object.metadata.namespace ?? '']) : [])),
  ];
}

function membershipWatches(caches: Caches, { membershipsOfTeams, assignmentChanged, teamsReachingNamespace }: Lookups): Watch[] {
  return [
    watch(caches.invitations, (e) => {
      const accepted = (e.object as Invitation).status?.membership;
      return [...ownerKeys('Membership')(e), ...(accepted ? [`${e.object.metadata.namespace}/${accepted}`] : [])];
    }),
    watch(caches.teams, (e) => (specChanged(e) ? membershipsOfTeams([e.key]) : [])),
    // The removal brake let removals through: those Memberships go on.
    watch(caches.teams, (e) => (e.type === 'updated' ? newlyApproved(e.old as Team, e.object as Team).map((n) => `${e.object.metadata.namespace}/${n}`) : [])),
    // A membership that goes frees a seat: the ones waiting over the limit get another look.
    watch(caches.memberships, (e) =>
      e.type === 'deleted'
        ? teamOf(e).flatMap((t) => keysOf(caches.memberships.byIndex(index.byTeam, t).filter((m) => m.status?.phase === 'OverSeatLimit')))
        : [],
    ),
    watch(caches.projects, (e) => membershipsOfTeams(teamOf(e))),
    watch(caches.roleBindings, (e) => [grantOwnerKeys(e).membership ?? ''].filter(Boolean)),
    watch(caches.namespaces, (e) => assignmentChanged(e).flatMap((ns) => keysOf(caches.memberships.list(ns)))),
    watch(caches.teams, (e) => membershipsOfTeams(teamsReachingNamespace(e))),
  ];
}

function invitationWatches(caches: Caches): Watch[] {
  return [
    watch(caches.teams, (e) => (specChanged(e) ? keysOf(caches.invitations.byIndex(index.byTeam, e.key)) : [])),
    // Seats free up or fill: standalone invitations (no owner) wait on them.
    watch(caches.memberships, (e) => teamOf(e).flatMap((t) => keysOf(caches.invitations.byIndex(index.unownedByTeam, t)))),
  ];
}

function projectWatches(caches: Caches, { assignmentChanged, projectsOfNamespace }: Lookups): Watch[] {
  return [
    watch(caches.memberships, (e) => teamOf(e).flatMap((t) => keysOf(caches.projects.byIndex(index.byTeam, t)))),
    // Assignment, creation or deletion of an environment's namespace changes EnvironmentsAssigned.
    watch(caches.namespaces, (e) => (e.type === 'updated' && assignmentChanged(e).length === 0 ? [] : projectsOfNamespace(e.object.metadata.name ?? ''))),
    watch(caches.teams, (e) => (e.type === 'added' || e.type === 'deleted' ? projectsOfNamespace(e.object.metadata.namespace ?? '') : [])),
  ];
}

/** Access keys follow their owner's Membership and the team (ownership, projects, assignments). */
function accessKeyWatches(caches: Caches, { keysOfTeams, assignmentChanged, keyOfObject }: Lookups): Watch[] {
  return [
    watch(caches.memberships, (e) => {
      const m = e.object as Membership;
      return keysOf(caches.accessKeys.byIndex(index.byKeyOwner, keyOwnerIndexValue(m.metadata.namespace ?? '', m.spec.team, m.spec.email)));
    }),
    watch(caches.teams, (e) => keysOfTeams([e.key])),
    watch(caches.projects, (e) => keysOfTeams(teamOf(e))),
    watch(caches.namespaces, (e) => assignmentChanged(e).flatMap((ns) => keysOf(caches.accessKeys.list(ns)))),
    watch(caches.roleBindings, keyOfObject),
    watch(caches.serviceAccounts, keyOfObject),
    watch(caches.roles, keyOfObject),
  ];
}

/** The rules over one set of caches, per controller. */
export function controllerWatches(caches: Caches, tenancy: TenancyView): Record<'team' | 'membership' | 'invitation' | 'project' | 'accessKey', Watch[]> {
  const l = lookups(caches, tenancy);
  return {
    team: teamWatches(caches, l),
    membership: membershipWatches(caches, l),
    invitation: invitationWatches(caches),
    project: projectWatches(caches, l),
    accessKey: accessKeyWatches(caches, l),
  };
}
