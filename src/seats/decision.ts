// The webhook's seat arithmetic (pure). The cache alone cannot answer "is there a seat
// left?" under concurrency: two admissions can both see the last seat, and an object just
// admitted is not in any cache yet. So seats in use = what assignSeats counts over the cache
// + live reservations (made by admissions, kept in a per-team ledger, see ledger.ts)
// whose object the cache does not show yet.
import type { Invitation, Membership, Team } from '../api/generated.ts';
import { normalizeEmail } from '../domain/email.ts';
import { assignSeats, isStandaloneInvitation, seatDenialMessage } from '../domain/seats.ts';
import { parseTime } from '../domain/time.ts';

/** One admission's hold on a seat, until its object shows up in the caches or it expires. */
export interface SeatReservation {
  /** The admission request's UID: the ledger key, so a retried admission reserves once. */
  readonly requestUid: string;
  readonly kind: 'Membership' | 'Invitation';
  readonly name: string;
  /** The object's UID (the API server assigns it before validating admission). */
  readonly uid?: string;
  readonly email: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** When a controller first saw the object in its cache. */
  readonly confirmedAt?: string;
}

/**
 * A confirmed reservation stops counting this long after confirmation, even where a cache
 * does not show its object (the object may have been deleted since); until then it covers
 * replicas whose caches lag a little.
 */
export const CONFIRMATION_GRACE_MS = 2_000;

/** What an admission wants a seat for. */
export interface SeatClaim {
  readonly requestUid: string;
  readonly kind: 'Membership' | 'Invitation';
  readonly name: string;
  readonly uid?: string;
  readonly email: string;
}

export interface TeamObjects {
  readonly team: Team;
  readonly memberships: readonly Membership[];
  readonly invitations: readonly Invitation[];
}

export type SeatDecision =
  | { readonly kind: 'noSeatNeeded' }
  | { readonly kind: 'reserve'; readonly inUse: number; readonly limit: number }
  | { readonly kind: 'deny'; readonly message: string };

/** The default reservation window (webhook.seatReservationSeconds). */
export const DEFAULT_RESERVATION_WINDOW_MS = 30_000;
/** How far ahead of this replica's clock another replica's createdAt may be. */
export const CLOCK_SKEW_MS = 10_000;

/**
 * Whether a reservation stopped holding a seat. Anyone who can write the ledger ConfigMap can
 * also write entries, so an entry is trusted only for the reservation window after the time it
 * claims to be created, whatever expiresAt it carries; an entry created in the future (beyond
 * clock skew) is forged and never counts. Two forged entries with expiresAt 2099 would
 * otherwise block two seats for ever.
 */
export function isExpired(reservation: Pick<SeatReservation, 'createdAt' | 'expiresAt'>, now: Date, windowMs = DEFAULT_RESERVATION_WINDOW_MS): boolean {
  const at = parseTime(reservation.expiresAt);
  const created = parseTime(reservation.createdAt);
  if (at === undefined || created === undefined) return true;
  if (created > now.getTime() + CLOCK_SKEW_MS) return true;
  // +1 s: the ledger rounds expiresAt up to whole seconds.
  return Math.min(at, created + windowMs + 1_000) <= now.getTime();
}

/**
 * A block in the ledger: replica `replica` may admit up to `seats` new seat-takers without
 * writing, until it expires (see ledger.ts). Everyone else counts it as `seats` taken, with
 * no email; it expires by the same rules as an entry (isExpired), so a forged one holds
 * seats for one reservation window at most, like a forged entry.
 */
export interface SeatBlock {
  /** The ledger key, `block.<replica>.<n>`. */
  readonly key: string;
  readonly replica: string;
  readonly seats: number;
  readonly createdAt: string;
  readonly expiresAt: string;
}

/** A block counts for at most this many seats (the bound of webhook.seatBlockSize), whatever it says. */
export const MAX_BLOCK_SEATS = 1_000;

/** Seats the unexpired blocks hold between them. */
export function heldSeats(blocks: readonly SeatBlock[], now: Date, windowMs = DEFAULT_RESERVATION_WINDOW_MS): number {
  return blocks.filter((b) => !isExpired(b, now, windowMs)).reduce((n, b) => n + Math.min(b.seats, MAX_BLOCK_SEATS), 0);
}

/** Whether the caches already show the reservation's object (so they count it themselves). */
export function isInCache(reservation: SeatReservation, objects: Pick<TeamObjects, 'memberships' | 'invitations'>): boolean {
  const list: readonly (Membership | Invitation)[] = reservation.kind === 'Membership' ? objects.memberships : objects.invitations;
  return list.some((o) => (reservation.uid ? o.metadata.uid === reservation.uid : o.metadata.name === reservation.name));
}

export function isSettled(reservation: SeatReservation, now: Date, graceMs = CONFIRMATION_GRACE_MS): boolean {
  const confirmed = parseTime(reservation.confirmedAt);
  return confirmed !== undefined && now.getTime() - confirmed >= graceMs;
}

/** Reservations that still hold a seat of their own: not expired or settled, object not in the cache yet. */
export function liveReservations(
  reservations: readonly SeatReservation[],
  objects: TeamObjects,
  now: Date,
  windowMs = DEFAULT_RESERVATION_WINDOW_MS,
): SeatReservation[] {
  return reservations.filter((r) => !isExpired(r, now, windowMs) && !isSettled(r, now) && !isInCache(r, objects));
}

interface Seated {
  readonly emails: Set<string>;
  inUse: number;
}

/**
 * Who needs a seat now, uncapped (an over-full team reports its true number): assignSeats
 * over the cache, seats handed over by accepted invitations, then live reservations.
 */
function seated(objects: TeamObjects, live: readonly SeatReservation[], now: Date, skipRequestUid?: string): Seated {
  const team = { ...objects.team, spec: { ...objects.team.spec, seats: Number.MAX_SAFE_INTEGER } };
  const assignment = assignSeats(team, objects.memberships, objects.invitations, { now });
  const emails = new Set<string>([normalizeEmail(objects.team.spec.owner.email)]);
  for (const m of objects.memberships) {
    const state = assignment.memberships.get(m.metadata.name ?? '');
    if (state === 'used' || state === 'pending') emails.add(normalizeEmail(m.spec.email));
  }
  for (const i of objects.invitations) {
    const state = assignment.invitations.get(i.metadata.name ?? '');
    if (state === 'used' || state === 'pending') emails.add(normalizeEmail(i.spec.email));
  }
  const result: Seated = { emails, inUse: assignment.usage.used + assignment.usage.pending };
  // An accepted standalone Invitation hands its seat to the Membership its acceptance
  // creates; until that Membership exists the seat stays taken.
  for (const i of objects.invitations) {
    if (!isStandaloneInvitation(i) || i.status?.phase !== 'Accepted' || i.status.membership || i.metadata.deletionTimestamp) continue;
    const email = normalizeEmail(i.spec.email);
    if (emails.has(email)) continue;
    emails.add(email);
    result.inUse++;
  }
  for (const r of live) {
    if (r.requestUid === skipRequestUid) continue;
    const email = normalizeEmail(r.email);
    if (emails.has(email)) continue;
    emails.add(email);
    result.inUse++;
  }
  return result;
}

/**
 * Seats in use, counting everyone (not capped at the limit): what spec.seats cannot go below.
 * `held`: seats that blocks hold (heldSeats), counted on top.
 */
export function seatsInUse(objects: TeamObjects, live: readonly SeatReservation[], now: Date, held = 0): number {
  return seated(objects, live, now).inUse + held;
}

/**
 * Whether a new Membership or standalone Invitation may take a seat. `live` are the ledger's
 * live reservations (see liveReservations). `handover`: the claim takes over the seat of an
 * accepted standalone Invitation, so it needs no new one. `held`: seats other replicas' blocks
 * hold (heldSeats), released within `heldForSeconds`; a denial they alone cause says so.
 */
export function decideSeat(
  objects: TeamObjects,
  live: readonly SeatReservation[],
  claim: SeatClaim,
  now: Date,
  handover = false,
  held = 0,
  heldForSeconds?: number,
): SeatDecision {
  const email = normalizeEmail(claim.email);
  const teamName = objects.team.metadata.name ?? claim.name;
  // Someone else is adding this person right now: the second one is a duplicate.
  const racing = live.find(
    (r) =>
      r.requestUid !== claim.requestUid &&
      normalizeEmail(r.email) === email &&
      r.name !== claim.name &&
      (claim.kind === 'Invitation' || r.kind === 'Membership'),
  );
  if (racing) {
    return {
      kind: 'deny',
      message: `${claim.email} is being added to team ${teamName} right now (${racing.kind} ${racing.name}); edit that ${racing.kind} instead of creating another`,
    };
  }
  if (handover) return { kind: 'noSeatNeeded' };
  const { emails, inUse } = seated(objects, live, now, claim.requestUid);
  if (emails.has(email)) return { kind: 'noSeatNeeded' };
  const limit = objects.team.spec.seats;
  if (inUse >= limit) return { kind: 'deny', message: seatDenialMessage(teamName, inUse, limit) };
  if (inUse + held >= limit) {
    return {
      kind: 'deny',
      message:
        `team ${teamName} has ${inUse} of ${limit} seats in use, and ${held} more ${held === 1 ? 'is' : 'are'} held for a few seconds ` +
        'by admissions on another replica of the roster webhook; retry in a moment' +
        (heldForSeconds === undefined ? '' : ` (they are released within ${heldForSeconds} s)`),
    };
  }
  return { kind: 'reserve', inUse: inUse + held + 1, limit };
}
