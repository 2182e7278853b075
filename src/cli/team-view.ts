// What `members` and `seats` show, computed from a team's objects with plain data in and
// plain data out: the owner, every Membership, and the standalone Invitations still pending;
// seats from the Team's status, with a per-person breakdown from the same seat rules the
// operator uses (domain/seats.ts), so the two agree by construction.
import type { Condition, Invitation, Membership, Project, Team } from '../api/generated.ts';
import { getCondition } from '../domain/conditions.ts';
import { normalizeEmail, sameEmail } from '../domain/email.ts';
import { deliverySummaryOf, type DeliverySummary } from '../domain/invitation-state.ts';
import type { Role } from '../domain/roles.ts';
import { describeScope, type ProjectScope } from '../domain/scope.ts';
import { assignSeats, isStandaloneInvitation, type SeatState, type SeatUsage } from '../domain/seats.ts';

/** A team and the objects that name it (same namespace, spec.team). */
export interface TeamSnapshot {
  readonly team: Team;
  readonly memberships: readonly Membership[];
  readonly invitations: readonly Invitation[];
  readonly projects: readonly Project[];
}

export type MemberSource = 'owner' | 'membership' | 'invitation';

export interface MemberRow {
  readonly email: string;
  readonly name?: string;
  readonly role: Role;
  /** spec.projects; absent means the whole team. */
  readonly projects?: readonly ProjectScope[];
  /** describeScope: `the whole team`, `shop (staging)`, `no projects`. */
  readonly scope: string;
  /**
   * The phase of the object in OBJECT, in that object's own words (one vocabulary with
   * `kubectl get`): owner: the Team's status.owner.phase (Invited | Active); Membership: its
   * status.phase; standalone Invitation: its status.phase (Pending). Unknown until the operator reports.
   */
  readonly phase: string;
  /** Where the row comes from. */
  readonly source: MemberSource;
  /** `team/acme`, `membership/riley`, `invitation/jordan-7kq2p`. */
  readonly object: string;
  /** When the row's object was created. */
  readonly since?: string;
  readonly expiresAt?: string;
  /** The Ready condition's message when the row is not Active (why not). */
  readonly detail?: string;
  /** While invited: what became of the invitation mail (Sent, Sending, Failed, Unconfirmed, Deferred). */
  readonly delivery?: DeliverySummary;
  /** Owner row: the owner's own Membership, superseded by ownership (listed here, not twice). */
  readonly superseded?: string;
}

/** The PHASE column: the phase, plus what went wrong with the mail when something did. */
export function phaseLabel(row: Pick<MemberRow, 'phase' | 'delivery'>): string {
  return row.delivery === 'Unconfirmed' || row.delivery === 'Failed' || row.delivery === 'Deferred'
    ? `${row.phase} (mail ${row.delivery.toLowerCase()})`
    : row.phase;
}

/** The mail of a row's invitation, and for an unconfirmed one how to resend. */
function deliveryFields(
  invitation: Invitation | undefined,
  resendName: string,
  namespace: string | undefined,
): { delivery?: DeliverySummary; resendHint?: string } {
  const delivery = deliverySummaryOf(invitation?.status);
  if (delivery === undefined) return {};
  const resendHint =
    delivery === 'Unconfirmed'
      ? `the operator stopped while mailing the invitation and does not send it twice; if it did not arrive, resend: kubectl roster resend ${resendName}${namespace ? ` -n ${namespace}` : ''}`
      : undefined;
  return { delivery, ...(resendHint ? { resendHint } : {}) };
}

/** Whether a standalone invitation is still waiting for its person (not accepted, revoked or expired). */
export function isPendingStandalone(invitation: Invitation): boolean {
  const phase = invitation.status?.phase;
  return isStandaloneInvitation(invitation) && invitation.spec.revoked !== true && (phase === undefined || phase === 'Pending');
}

function ownerPhase(team: Team): string {
  const status = team.status?.owner;
  if (status?.phase === undefined) return 'Unknown';
  // During a transfer the status still describes the previous owner until the operator acts.
  if (status.email !== undefined && !sameEmail(status.email, team.spec.owner.email)) return 'Unknown';
  return status.phase;
}

/** Why an object is not Active: the most specific failing condition's message (IdentitySynced says more than Ready). */
export function notReadyDetail(conditions: readonly Condition[] | undefined, phase: string): string | undefined {
  if (phase === 'Active') return undefined;
  for (const type of ['IdentitySynced', 'Ready']) {
    const condition = getCondition(conditions, type);
    if (condition !== undefined && condition.status !== 'True' && condition.message !== '') return condition.message;
  }
  return undefined;
}

const byEmail = <T extends { spec: { email: string } }>(a: T, b: T): number =>
  normalizeEmail(a.spec.email) < normalizeEmail(b.spec.email) ? -1 : normalizeEmail(a.spec.email) > normalizeEmail(b.spec.email) ? 1 : 0;

/** The owner first, then Memberships, then pending standalone Invitations, each by email. */
export function memberRows(snapshot: TeamSnapshot): MemberRow[] {
  const { team } = snapshot;
  const teamName = team.metadata.name ?? '';
  const rows: MemberRow[] = [];
  const ownerStatus = ownerPhase(team);
  const invitationNamed = (name: string | undefined) => (name === undefined ? undefined : snapshot.invitations.find((i) => i.metadata.name === name));
  const namespace = team.metadata.namespace;
  const ownerMail = ownerStatus === 'Invited' ? deliveryFields(invitationNamed(team.status?.owner?.invitation), teamName, namespace) : {};
  // A Membership for the owner is superseded by ownership: the person is listed once, as owner.
  const superseded = snapshot.memberships.filter((m) => sameEmail(m.spec.email, team.spec.owner.email));
  rows.push({
    email: team.spec.owner.email,
    ...(team.spec.owner.name ? { name: team.spec.owner.name } : {}),
    role: 'owner',
    scope: describeScope('owner', undefined),
    phase: ownerStatus,
    source: 'owner',
    object: `team/${teamName}`,
    ...(team.metadata.creationTimestamp ? { since: team.metadata.creationTimestamp } : {}),
    ...(ownerStatus !== 'Active'
      ? optionalDetail(
          ownerMail.resendHint ?? notReadyDetail(team.status?.conditions, ownerStatus) ?? getCondition(team.status?.conditions, 'OwnerActive')?.message,
        )
      : {}),
    ...(ownerMail.delivery ? { delivery: ownerMail.delivery } : {}),
    ...(superseded[0] ? { superseded: `membership/${superseded[0].metadata.name ?? ''}` } : {}),
  });
  for (const m of [...snapshot.memberships].sort(byEmail)) {
    if (superseded.includes(m)) continue;
    const phase = m.status?.phase ?? 'Unknown';
    const mail = phase === 'Invited' ? deliveryFields(invitationNamed(m.status?.invitation), m.metadata.name ?? '', namespace) : {};
    const delivery = mail.delivery ?? (phase === 'Invited' ? m.status?.delivery : undefined);
    rows.push({
      email: m.spec.email,
      ...(m.spec.name ? { name: m.spec.name } : {}),
      role: m.spec.role,
      ...(m.spec.projects && m.spec.projects.length > 0 ? { projects: m.spec.projects } : {}),
      scope: describeScope(m.spec.role, m.spec.projects),
      phase,
      source: 'membership',
      object: `membership/${m.metadata.name ?? ''}`,
      ...(m.metadata.creationTimestamp ? { since: m.metadata.creationTimestamp } : {}),
      ...(m.spec.expiresAt ? { expiresAt: m.spec.expiresAt } : {}),
      ...optionalDetail(mail.resendHint ?? notReadyDetail(m.status?.conditions, phase)),
      ...(delivery ? { delivery } : {}),
    });
  }
  for (const inv of [...snapshot.invitations].filter(isPendingStandalone).sort(byEmail)) {
    if (inv.spec.role === 'owner') continue;
    const mail = deliveryFields(inv, inv.metadata.name ?? '', namespace);
    rows.push({
      email: inv.spec.email,
      ...(inv.spec.name ? { name: inv.spec.name } : {}),
      role: inv.spec.role,
      ...(inv.spec.projects && inv.spec.projects.length > 0 ? { projects: inv.spec.projects } : {}),
      scope: describeScope(inv.spec.role, inv.spec.projects),
      phase: inv.status?.phase ?? 'Pending',
      source: 'invitation',
      object: `invitation/${inv.metadata.name ?? ''}`,
      ...(inv.metadata.creationTimestamp ? { since: inv.metadata.creationTimestamp } : {}),
      ...(inv.status?.expiresAt ? { expiresAt: inv.status.expiresAt } : {}),
      ...(mail.delivery ? { delivery: mail.delivery } : {}),
      ...optionalDetail(mail.resendHint),
    });
  }
  return rows;
}

function optionalDetail(detail: string | undefined): { detail?: string } {
  return detail !== undefined && detail !== '' ? { detail } : {};
}

export const MEMBER_COLUMNS = ['EMAIL', 'ROLE', 'SCOPE', 'PHASE', 'OBJECT', 'AGE'] as const;

/** A person's seat, as `seats` shows it. */
export interface SeatRow {
  readonly email: string;
  readonly seat: Exclude<SeatState, 'none'>;
  readonly role: Role;
  readonly phase: string;
  readonly object: string;
}

export interface SeatReport {
  readonly team: string;
  readonly limit: number;
  readonly used: number;
  readonly pending: number;
  readonly available: number;
  /** `status`: as the operator last reported (Team status.seats); `computed`: no status yet, counted here. */
  readonly source: 'status' | 'computed';
  /** Everyone holding (or waiting for) a seat, in seat order: used, pending, shared, over limit. */
  readonly breakdown: readonly SeatRow[];
}

const SEAT_ORDER: Readonly<Record<SeatRow['seat'], number>> = { used: 0, pending: 1, shared: 2, overLimit: 3 };

/** The seat numbers (from status when the operator has reported them) and who holds what. */
export function seatReport(snapshot: TeamSnapshot, now: Date): SeatReport {
  const { team } = snapshot;
  const assignment = assignSeats(team, snapshot.memberships, snapshot.invitations, { now });
  const rows: SeatRow[] = [
    { email: team.spec.owner.email, seat: assignment.owner, role: 'owner', phase: ownerPhase(team), object: `team/${team.metadata.name ?? ''}` },
  ];
  for (const m of snapshot.memberships) {
    const seat = assignment.memberships.get(m.metadata.name ?? '');
    if (seat === undefined || seat === 'none') continue;
    rows.push({ email: m.spec.email, seat, role: m.spec.role, phase: m.status?.phase ?? 'Unknown', object: `membership/${m.metadata.name ?? ''}` });
  }
  for (const inv of snapshot.invitations) {
    const seat = assignment.invitations.get(inv.metadata.name ?? '');
    if (seat === undefined || seat === 'none') continue;
    rows.push({ email: inv.spec.email, seat, role: inv.spec.role, phase: inv.status?.phase ?? 'Pending', object: `invitation/${inv.metadata.name ?? ''}` });
  }
  const sorted = rows
    .map((row, i) => ({ row, i }))
    .sort((a, b) => SEAT_ORDER[a.row.seat] - SEAT_ORDER[b.row.seat] || a.i - b.i)
    .map(({ row }) => row);

  const reported = team.status?.seats;
  const fromStatus = reported?.limit !== undefined && reported.used !== undefined && reported.pending !== undefined && reported.available !== undefined;
  const usage: SeatUsage = fromStatus
    ? { limit: reported.limit!, used: reported.used!, pending: reported.pending!, available: reported.available!, summary: reported.summary ?? '' }
    : assignment.usage;
  return {
    team: team.metadata.name ?? '',
    limit: usage.limit,
    used: usage.used,
    pending: usage.pending,
    available: usage.available,
    source: fromStatus ? 'status' : 'computed',
    breakdown: sorted,
  };
}

/** How a seat state reads in the table. */
export function seatLabel(seat: SeatRow['seat']): string {
  switch (seat) {
    case 'used':
      return 'used';
    case 'pending':
      return 'pending';
    case 'shared':
      return 'shared (same person)';
    case 'overLimit':
      return 'over limit (no access)';
  }
}
