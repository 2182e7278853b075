// `kubectl roster audit TEAM`: the team's history as the operator recorded it, in Events
// (events.k8s.io/v1) on the Team and on the Memberships, Invitations and Projects that
// name it — oldest first, newest last. An Event points at its object by uid; objects that
// are gone (a deleted Membership's AccessRemoved) cannot be asked which team they were in,
// so their Events count for the team only when it is the only Team in the namespace.
import type { AccessKey, Invitation, Membership, Project, Team } from '../api/generated.ts';
import { group } from '../api/resources.ts';
import { actorOfNote } from '../audit/record.ts';
import type { KubeEvent } from '../runtime/events.ts';

/** The fields we read of an Event, as the API server returns it (series and the deprecated core fields included). */
export interface EventRecord extends Partial<Omit<KubeEvent, 'metadata'>> {
  metadata: KubeEvent['metadata'];
  deprecatedLastTimestamp?: string;
  deprecatedFirstTimestamp?: string;
  deprecatedCount?: number;
}

export interface AuditEntry {
  /** When it last happened (RFC 3339). */
  readonly time: string;
  readonly type: string;
  readonly reason: string;
  /** `membership/riley`. */
  readonly object: string;
  readonly kind: string;
  readonly name: string;
  readonly note: string;
  /** Who did it, as the operator recorded it at the end of the note ("(by riley@acme.com)"). */
  readonly actor?: string;
  /** How many times it happened (an Event series folds repeats). */
  readonly count: number;
  /** Who recorded it (reportingController). */
  readonly reporter?: string;
}

export interface TeamObjects {
  readonly team: Team;
  readonly namespace: string;
  /** Every Team in the namespace (to know whether Events of deleted objects can only be this team's). */
  readonly teamsInNamespace: number;
  readonly memberships: readonly Membership[];
  readonly invitations: readonly Invitation[];
  readonly projects: readonly Project[];
  /** The team's access keys (SPEC §9: keys appear in the audit). */
  readonly accessKeys?: readonly AccessKey[];
}

const ROSTER_KINDS = new Set(['Team', 'Membership', 'Invitation', 'Project', 'AccessKey']);

/** When an Event last happened: its series' last observation, else its time, else the deprecated fields, else creation. */
export function eventTime(event: EventRecord): string | undefined {
  return event.series?.lastObservedTime ?? event.eventTime ?? event.deprecatedLastTimestamp ?? event.metadata.creationTimestamp;
}

function isRosterObject(ref: KubeEvent['regarding'] | undefined): boolean {
  if (ref?.kind === undefined || !ROSTER_KINDS.has(ref.kind)) return false;
  return ref.apiVersion === undefined || ref.apiVersion.startsWith(`${group}/`);
}

/**
 * The team's Events, oldest first (ties keep the order they came in). `since` drops what
 * happened before it.
 */
export function auditTrail(objects: TeamObjects, events: readonly EventRecord[], since?: Date): AuditEntry[] {
  const teamName = objects.team.metadata.name ?? '';
  const uids = new Set<string>();
  const names = new Set<string>();
  const add = (kind: string, o: { metadata: { uid?: string; name?: string } }) => {
    if (o.metadata.uid) uids.add(o.metadata.uid);
    names.add(`${kind}/${o.metadata.name ?? ''}`);
  };
  add('Team', objects.team);
  for (const m of objects.memberships) if (m.spec.team === teamName) add('Membership', m);
  for (const i of objects.invitations) if (i.spec.team === teamName) add('Invitation', i);
  for (const p of objects.projects) if (p.spec.team === teamName) add('Project', p);
  for (const k of objects.accessKeys ?? []) if (k.spec.team === teamName) add('AccessKey', k);
  const onlyTeam = objects.teamsInNamespace <= 1;

  const entries: { entry: AuditEntry; at: number; i: number }[] = [];
  events.forEach((event, i) => {
    const ref = event.regarding;
    if (!isRosterObject(ref)) return;
    if ((ref?.namespace ?? event.metadata.namespace) !== objects.namespace) return;
    const known = ref?.uid ? uids.has(ref.uid) : names.has(`${ref?.kind}/${ref?.name ?? ''}`);
    if (!known) {
      // Another object of the same kind and name may exist now (recreated); its uid differs.
      // A Team Event with another uid is an earlier team of the same name, or another team.
      const sameTeamName = ref?.kind === 'Team' && ref.name === teamName;
      if (!onlyTeam || (ref?.kind === 'Team' && !sameTeamName)) return;
    }
    const time = eventTime(event);
    const at = time === undefined ? Number.NaN : Date.parse(time);
    if (since !== undefined && !(at >= since.getTime())) return;
    const kind = ref?.kind ?? '';
    const name = ref?.name ?? '';
    entries.push({
      entry: {
        time: time ?? '',
        type: event.type ?? '',
        reason: event.reason ?? '',
        object: `${kind.toLowerCase()}/${name}`,
        kind,
        name,
        ...actorOfNote(event.note ?? ''),
        count: event.series?.count ?? event.deprecatedCount ?? 1,
        ...(event.reportingController ? { reporter: event.reportingController } : {}),
      },
      at: Number.isNaN(at) ? 0 : at,
      i,
    });
  });
  return entries.sort((a, b) => a.at - b.at || a.i - b.i).map((e) => e.entry);
}
