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

/**
 * Who holds a team's seats as the caches show them, uncapped (an over-full team reports its
 * true number): the owner, everyone assignSeats gives a seat or a share of one, and the
 * people whose accepted standalone Invitation hands its seat to a Membership not created yet.
 * The webhook counts reservations on top. Two sources: holdersOf walks the team's objects;
 * SeatIndex (seat-index.ts) keeps the answer per team as the caches change, for teams of
 * thousands, where the walk cost milliseconds per admission.
 */
export interface SeatHolders {
  readonly team: Team;
  /** Whether this person (a normalized email) holds a seat. */
  has(email: string): boolean;
  /** How many people hold one. */
  readonly count: number;
  /** Whether the caches show a reservation's object (they count it themselves then). */
  shows(reservation: Pick<SeatReservation, 'kind' | 'name' | 'uid'>): boolean;
}

/** What the seat decisions read: a team's objects (walked) or its holders (already counted). */
export type SeatSource = TeamObjects | SeatHolders;

/** Whether the listed objects include a reservation's object. */
export function isInCache(reservation: Pick<SeatReservation, 'kind' | 'name' | 'uid'>, objects: Pick<TeamObjects, 'memberships' | 'invitations'>): boolean {
  const list: readonly (Membership | Invitation)[] = reservation.kind === 'Membership' ? objects.memberships : objects.invitations;
  return list.some((o) => (reservation.uid ? o.metadata.uid === reservation.uid : o.metadata.name === reservation.name));
}

/** The seat holders of a team, by walking its objects (assignSeats with no limit). */
export function holdersOf(objects: TeamObjects, now: Date): SeatHolders {
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
  // An accepted standalone Invitation hands its seat to the Membership its acceptance
  // creates; until that Membership exists the seat stays taken.
  for (const i of objects.invitations) {
    if (isHandingOver(i)) emails.add(normalizeEmail(i.spec.email));
  }
  return { team: objects.team, has: (email) => emails.has(email), count: emails.size, shows: (r) => isInCache(r, objects) };
}

/** An accepted standalone Invitation whose Membership does not exist yet: its seat stays taken. */
export function isHandingOver(invitation: Invitation): boolean {
  return (
    isStandaloneInvitation(invitation) && invitation.status?.phase === 'Accepted' && !invitation.status.membership && !invitation.metadata.deletionTimestamp
  );
}

/** The holders a source names: itself, or the walk of its objects. */
export function holdersFrom(source: SeatSource, now: Date): SeatHolders {
  return 'shows' in source ? source : holdersOf(source, now);
}

export function isSettled(reservation: SeatReservation, now: Date, graceMs = CONFIRMATION_GRACE_MS): boolean {
  const confirmed = parseTime(reservation.confirmedAt);
  return confirmed !== undefined && now.getTime() - confirmed >= graceMs;
}

/** Reservations that still hold a seat of their own: not expired or settled, object not in the cache yet. */
export function liveReservations(
  reservations: readonly SeatReservation[],
  source: SeatSource,
  now: Date,
  windowMs = DEFAULT_RESERVATION_WINDOW_MS,
): SeatReservation[] {
  const live = reservations.filter((r) => !isExpired(r, now, windowMs) && !isSettled(r, now));
  if (live.length === 0) return live;
  const holders = holdersFrom(source, now);
  return live.filter((r) => !holders.shows(r));
}

interface Seated {
  has(email: string): boolean;
  readonly inUse: number;
}

/** Who needs a seat now, uncapped: the holders, then live reservations for people not among them. */
function seated(holders: SeatHolders, live: readonly SeatReservation[], skipRequestUid?: string): Seated {
  const extra = new Set<string>();
  for (const r of live) {
    if (r.requestUid === skipRequestUid) continue;
    const email = normalizeEmail(r.email);
    if (!holders.has(email)) extra.add(email);
  }
  return { has: (email) => holders.has(email) || extra.has(email), inUse: holders.count + extra.size };
}

/**
 * Seats in use, counting everyone (not capped at the limit): what spec.seats cannot go below.
 * `held`: seats that blocks hold (heldSeats), counted on top.
 */
export function seatsInUse(source: SeatSource, live: readonly SeatReservation[], now: Date, held = 0): number {
  return seated(holdersFrom(source, now), live).inUse + held;
}

/**
 * Whether a new Membership or standalone Invitation may take a seat. `live` are the ledger's
 * live reservations (see liveReservations). `handover`: the claim takes over the seat of an
 * accepted standalone Invitation, so it needs no new one. `held`: seats other replicas' blocks
 * hold (heldSeats), released within `heldForSeconds`; a denial they alone cause says so.
 */
export function decideSeat(
  source: SeatSource,
  live: readonly SeatReservation[],
  claim: SeatClaim,
  now: Date,
  handover = false,
  held = 0,
  heldForSeconds?: number,
): SeatDecision {
  const email = normalizeEmail(claim.email);
  const holders = holdersFrom(source, now);
  const teamName = holders.team.metadata.name ?? claim.name;
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
  const { has, inUse } = seated(holders, live, claim.requestUid);
  if (has(email)) return { kind: 'noSeatNeeded' };
  const limit = holders.team.spec.seats;
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
