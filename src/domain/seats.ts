// Seat accounting (SPEC §1 Team, §3). A seat is a person: the owner, every Membership and
// every standalone Invitation still pending take one, and the same email never takes two.
//
// assignSeats decides, deterministically, which objects hold the limited seats. It is the
// controller's re-check of §3 (anything that admission let through past the limit, e.g.
// two concurrent admissions that both saw the last seat, gets phase OverSeatLimit) and the
// basis of the webhook's check, so both agree by construction.
//
// Who gets a seat, in this order, until the limit is reached:
//   1. the owner — always (spec.seats >= 1 by CRD rule);
//   2. accepted Memberships (phase Active, or accepted and since Failed) — people who have
//      access keep it rather than lose it to an older object that never got a seat;
//   3. not-yet-accepted Memberships (Invited, Failed before accepting, no status yet) and
//      standalone pending Invitations;
//   4. Memberships currently OverSeatLimit — they wait, and the oldest gets the next free seat.
// Within a tier: by metadata.creationTimestamp (missing = newest), then name. An object whose
// email already holds a seat is `shared` (no second seat: e.g. a standalone Invitation and
// the Membership its acceptance created, or the new owner's admin Membership during a transfer).
//
// Taking no seat at all: Memberships that are Expired (phase, or spec.expiresAt past `now`)
// or being deleted (their access is on its way out and the seat is freed at once, as the SPEC
// says); Invitations owned by a Membership or the Team (their owner is counted instead), and
// standalone ones that are revoked, Accepted, Expired (phase, or status.expiresAt past `now`)
// or being deleted.
//
// Counting: `used` = owner if Active + accepted Memberships holding a seat; `pending` = owner if
// not Active yet + the other seat holders; in use = used + pending <= limit, always;
// available = limit - in use (never below zero); summary = "<in use>/<limit>".

import type { Invitation, Membership, Team } from '../api/generated.ts';
import { normalizeEmail, sameEmail } from './email.ts';
import { parseTime } from './time.ts';

/** What one object contributes to the team's seats. */
export type SeatState =
  | 'used' // holds a seat, accepted
  | 'pending' // holds a seat, not accepted yet
  | 'shared' // the same person already holds a seat through another object
  | 'overLimit' // needs a seat and none is left: phase OverSeatLimit, no access
  | 'none'; // takes no seat (expired, being deleted, not a pending standalone invitation, other team)

/** The shape of Team status.seats exactly (no extra fields, so the status diff stays clean). */
export interface SeatUsage {
  limit: number;
  used: number;
  pending: number;
  available: number;
  summary: string;
}

export interface SeatAssignment {
  readonly usage: SeatUsage;
  readonly owner: 'used' | 'pending';
  /** Active people, owner included (Team status.members). */
  readonly members: number;
  /** By metadata.name, every Membership passed in. */
  readonly memberships: ReadonlyMap<string, SeatState>;
  /** By metadata.name, every Invitation passed in. */
  readonly invitations: ReadonlyMap<string, SeatState>;
  /** Memberships that may have access (used, pending or shared), in seat order. */
  readonly withinLimit: readonly Membership[];
  /** Memberships that must be OverSeatLimit, in seat order. */
  readonly overSeatLimit: readonly Membership[];
  /** Standalone pending Invitations past the limit (should not be mailed), in seat order. */
  readonly invitationsOverLimit: readonly Invitation[];
}

export interface SeatOptions {
  /** When given, objects past their expiry time count as expired even before a controller marks them. */
  readonly now?: Date;
}

const ROSTER_GROUP_PREFIX = 'roster.dev/';

/**
 * A standalone Invitation is one a person created directly: it has no owner reference to a
 * roster.dev Membership or Team (those the operator creates for a Membership, or for the owner).
 */
export function isStandaloneInvitation(invitation: Invitation): boolean {
  return !(invitation.metadata.ownerReferences ?? []).some(
    (ref) => ref.apiVersion.startsWith(ROSTER_GROUP_PREFIX) && (ref.kind === 'Membership' || ref.kind === 'Team'),
  );
}

function belongsTo(team: Team, object: Membership | Invitation): boolean {
  const sameNamespace =
    team.metadata.namespace === undefined || object.metadata.namespace === undefined || team.metadata.namespace === object.metadata.namespace;
  return sameNamespace && object.spec.team === team.metadata.name;
}

function isPast(time: string | undefined, now: Date | undefined): boolean {
  const at = parseTime(time);
  return now !== undefined && at !== undefined && at <= now.getTime();
}

function isTerminating(object: Membership | Invitation): boolean {
  return object.metadata.deletionTimestamp !== undefined && object.metadata.deletionTimestamp !== '';
}

/** Whether a Membership takes part in seat accounting at all (not expired, not being deleted). */
export function membershipNeedsSeat(membership: Membership, options: SeatOptions = {}): boolean {
  return !isTerminating(membership) && membership.status?.phase !== 'Expired' && !isPast(membership.spec.expiresAt, options.now);
}

/** Whether a Membership has been accepted (it counts as `used` rather than `pending`). */
export function isAcceptedMembership(membership: Membership): boolean {
  return membership.status?.phase === 'Active' || Boolean(membership.status?.acceptedAt);
}

/** Whether an Invitation is a standalone one still pending (it holds a seat). */
export function invitationNeedsSeat(invitation: Invitation, options: SeatOptions = {}): boolean {
  const phase = invitation.status?.phase;
  return (
    isStandaloneInvitation(invitation) &&
    !isTerminating(invitation) &&
    invitation.spec.revoked !== true &&
    (phase === undefined || phase === 'Pending') &&
    !isPast(invitation.status?.expiresAt, options.now)
  );
}

/** Whether the Team's owner has accepted (status.owner is Active for the current spec.owner). */
export function isOwnerActive(team: Team): boolean {
  const status = team.status?.owner;
  if (status?.phase !== 'Active') return false;
  return status.email === undefined || sameEmail(status.email, team.spec.owner.email);
}

/** `created`: metadata.creationTimestamp in ms, parsed once (a sort compares each candidate log n times). */
type Candidate =
  | { kind: 'membership'; tier: number; created: number; object: Membership; accepted: boolean }
  | { kind: 'invitation'; tier: number; created: number; object: Invitation; accepted: false };

function creationMs(object: Membership | Invitation): number {
  return parseTime(object.metadata.creationTimestamp) ?? Number.POSITIVE_INFINITY;
}

function compareCandidates(a: Candidate, b: Candidate): number {
  if (a.tier !== b.tier) return a.tier - b.tier;
  const ta = a.created;
  const tb = b.created;
  if (ta !== tb) return ta < tb ? -1 : 1;
  const na = a.object.metadata.name ?? '';
  const nb = b.object.metadata.name ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  return a.kind === b.kind ? 0 : a.kind === 'membership' ? -1 : 1;
}

/** Decides who holds the team's seats (see the rules at the top of this file). */
export function assignSeats(team: Team, memberships: readonly Membership[], invitations: readonly Invitation[], options: SeatOptions = {}): SeatAssignment {
  const limit = team.spec.seats;
  const ownerActive = isOwnerActive(team);
  const seated = new Set<string>([normalizeEmail(team.spec.owner.email)]);
  let used = ownerActive ? 1 : 0;
  let pending = ownerActive ? 0 : 1;
  let members = ownerActive ? 1 : 0;

  const membershipStates = new Map<string, SeatState>();
  const invitationStates = new Map<string, SeatState>();
  const candidates: Candidate[] = [];
  for (const membership of memberships) {
    membershipStates.set(membership.metadata.name ?? '', 'none');
    if (!belongsTo(team, membership) || !membershipNeedsSeat(membership, options)) continue;
    const accepted = isAcceptedMembership(membership);
    const tier = membership.status?.phase === 'OverSeatLimit' ? 3 : accepted ? 1 : 2;
    candidates.push({ kind: 'membership', tier, created: creationMs(membership), object: membership, accepted });
  }
  for (const invitation of invitations) {
    invitationStates.set(invitation.metadata.name ?? '', 'none');
    if (!belongsTo(team, invitation) || !invitationNeedsSeat(invitation, options)) continue;
    candidates.push({ kind: 'invitation', tier: 2, created: creationMs(invitation), object: invitation, accepted: false });
  }
  candidates.sort(compareCandidates);

  const withinLimit: Membership[] = [];
  const overSeatLimit: Membership[] = [];
  const invitationsOverLimit: Invitation[] = [];
  for (const candidate of candidates) {
    const email = normalizeEmail(candidate.object.spec.email);
    let state: SeatState;
    if (seated.has(email)) {
      state = 'shared';
    } else if (used + pending < limit) {
      seated.add(email);
      state = candidate.accepted ? 'used' : 'pending';
      if (state === 'used') used++;
      else pending++;
    } else {
      state = 'overLimit';
    }

    if (candidate.kind === 'membership') {
      membershipStates.set(candidate.object.metadata.name ?? '', state);
      if (state === 'overLimit') overSeatLimit.push(candidate.object);
      else withinLimit.push(candidate.object);
      if (state === 'used' && candidate.object.status?.phase === 'Active') members++;
    } else {
      invitationStates.set(candidate.object.metadata.name ?? '', state);
      if (state === 'overLimit') invitationsOverLimit.push(candidate.object);
    }
  }

  const inUse = used + pending;
  return {
    usage: { limit, used, pending, available: Math.max(0, limit - inUse), summary: `${inUse}/${limit}` },
    owner: ownerActive ? 'used' : 'pending',
    members,
    memberships: membershipStates,
    invitations: invitationStates,
    withinLimit,
    overSeatLimit,
    invitationsOverLimit,
  };
}

/** Just the numbers for Team status.seats. */
export function seatUsage(team: Team, memberships: readonly Membership[], invitations: readonly Invitation[], options: SeatOptions = {}): SeatUsage {
  return assignSeats(team, memberships, invitations, options).usage;
}

/** The admission denial when no seat is left (SPEC §3). */
export function seatDenialMessage(teamName: string, inUse: number, limit: number): string {
  return `team ${teamName} has ${inUse} of ${limit} seats in use; raise spec.seats or remove a member`;
}

/** The problem with setting Team spec.seats to `newLimit` while `inUse` seats are taken; undefined if fine. */
export function seatLimitProblem(teamName: string, newLimit: number, inUse: number): string | undefined {
  if (newLimit >= inUse) return undefined;
  return `team ${teamName} has ${inUse} seats in use, so spec.seats cannot go below ${inUse}; remove members or revoke pending invitations first`;
}

export type SeatAdmission =
  | { readonly allowed: true; readonly usage: SeatUsage; readonly needsNewSeat: boolean }
  | { readonly allowed: false; readonly usage: SeatUsage; readonly message: string };

/**
 * Whether a new Membership or standalone Invitation for `email` fits (SPEC §3: refuse when
 * used + pending >= seats). The existing objects exclude the new one. A person who already
 * holds a seat needs no new one (other rules refuse real duplicates).
 */
export function admitNewSeat(
  team: Team,
  memberships: readonly Membership[],
  invitations: readonly Invitation[],
  email: string,
  options: SeatOptions = {},
): SeatAdmission {
  const assignment = assignSeats(team, memberships, invitations, options);
  const { usage } = assignment;
  const key = normalizeEmail(email);
  const holdsSeat =
    normalizeEmail(team.spec.owner.email) === key ||
    memberships.some((m) => holds(assignment.memberships.get(m.metadata.name ?? '')) && normalizeEmail(m.spec.email) === key) ||
    invitations.some((i) => holds(assignment.invitations.get(i.metadata.name ?? '')) && normalizeEmail(i.spec.email) === key);
  if (holdsSeat) return { allowed: true, usage, needsNewSeat: false };
  const inUse = usage.used + usage.pending;
  if (inUse >= usage.limit) {
    return { allowed: false, usage, message: seatDenialMessage(team.metadata.name ?? 'this team', inUse, usage.limit) };
  }
  return { allowed: true, usage, needsNewSeat: true };
}

function holds(state: SeatState | undefined): boolean {
  return state === 'used' || state === 'pending';
}
