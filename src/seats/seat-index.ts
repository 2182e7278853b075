// Each team's seat holders, kept up to date from the cache events: one object's change costs
// O(1), and so does every question asked of it. The webhook (a seat claim) and the Membership
// controller (a Membership's seat) ask on every admission and every reconcile; walking the
// team for each (assignSeats: a sort of all its objects) cost milliseconds per question in a
// team of thousands, which made a burst into one big team quadratic (issue 14's one-team run
// spent most of its CPU there).
//
// The index answers exactly what the walk would, or nothing when only the walk can tell:
// when an object's expiry has passed that no controller has marked yet (the walk judges
// expiry by the clock), and, for one Membership's seat, when the team has more people than
// seats (who is over the limit depends on the order) or the person has a second object in
// the team (which one holds the seat depends on the order). The caller then walks. A unit
// property test holds both answers to the walk's over random changes.
import type { Invitation, Membership, Team } from '../api/generated.ts';
import { keyOfTeam, teamKeyOf } from '../api/indexes.ts';
import { normalizeEmail } from '../domain/email.ts';
import { invitationNeedsSeat, isAcceptedMembership, isStandaloneInvitation, membershipNeedsSeat, type SeatState } from '../domain/seats.ts';
import { parseTime } from '../domain/time.ts';
import { objectKey, type InformerEvent } from '../runtime/informer.ts';
import { isHandingOver, type SeatHolders, type SeatReservation } from './decision.ts';

/** The cache of one kind, as far as the index reads it. */
export interface SeatIndexSource<T> {
  on(handler: (event: InformerEvent<T>) => void): () => void;
  list(): T[];
  get(namespace: string | undefined, name: string): T | undefined;
}

/** What one object adds to its team's seats, whatever the time (its expiry is kept aside). */
interface Contribution {
  /** `namespace/team`. */
  readonly team: string;
  /** Normalized. */
  readonly email: string;
  /** seat: needs a seat of its own; handover: an accepted standalone Invitation whose Membership is not there yet. */
  readonly kind: 'seat' | 'handover';
  /** When it stops needing a seat (Membership spec.expiresAt, Invitation status.expiresAt), ms. */
  readonly expiresAt: number | undefined;
}

class Tally {
  /** Normalized email → how many of the team's objects need a seat for it. */
  readonly seats = new Map<string, number>();
  readonly handovers = new Map<string, number>();
  /** Contributions with an expiry, and when. */
  readonly expiring = new Map<Contribution, number>();

  get empty(): boolean {
    return this.seats.size === 0 && this.handovers.size === 0;
  }
}

const EMPTY = new Tally();

// Without a clock, membershipNeedsSeat and invitationNeedsSeat leave expiresAt out: it is
// judged at question time (Tally.expiring).

/** A Membership's part: a seat unless it is being deleted or Expired. */
function membershipContribution(m: Membership): Contribution | undefined {
  if (!membershipNeedsSeat(m)) return undefined;
  return { team: teamKeyOf(m), email: normalizeEmail(m.spec.email), kind: 'seat', expiresAt: parseTime(m.spec.expiresAt) };
}

function invitationContribution(i: Invitation): Contribution | undefined {
  if (!isStandaloneInvitation(i)) return undefined;
  if (invitationNeedsSeat(i)) {
    return { team: teamKeyOf(i), email: normalizeEmail(i.spec.email), kind: 'seat', expiresAt: parseTime(i.status?.expiresAt) };
  }
  if (isHandingOver(i)) return { team: teamKeyOf(i), email: normalizeEmail(i.spec.email), kind: 'handover', expiresAt: undefined };
  return undefined;
}

function same(a: Contribution | undefined, b: Contribution | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.team === b.team && a.email === b.email && a.kind === b.kind && a.expiresAt === b.expiresAt);
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

/** What the webhook asks of the index. */
export type SeatHolderIndex = Pick<SeatIndex, 'holders'>;

/** One Membership's seat as assignSeats gives it, and the team's limit and free seats. */
export interface MembershipSeat {
  readonly state: SeatState;
  readonly limit: number;
  readonly available: number;
}

export class SeatIndex {
  private readonly memberships = new Map<string, Contribution>();
  private readonly invitations = new Map<string, Contribution>();
  private readonly teams = new Map<string, Tally>();
  private readonly sources: { memberships: SeatIndexSource<Membership>; invitations: SeatIndexSource<Invitation> };
  private readonly unsubscribe: Array<() => void>;

  constructor(sources: { memberships: SeatIndexSource<Membership>; invitations: SeatIndexSource<Invitation> }) {
    this.sources = sources;
    this.unsubscribe = [
      sources.memberships.on((e) => this.follow(this.memberships, e, membershipContribution)),
      sources.invitations.on((e) => this.follow(this.invitations, e, invitationContribution)),
    ];
    for (const m of sources.memberships.list()) this.set(this.memberships, objectKey(m), membershipContribution(m));
    for (const i of sources.invitations.list()) this.set(this.invitations, objectKey(i), invitationContribution(i));
  }

  close(): void {
    for (const stop of this.unsubscribe) stop();
  }

  /**
   * The team's seat holders (see SeatHolders), or undefined when an expiry has passed unmarked:
   * walk the team then. The answer is live: every read sees the caches as they are at that
   * moment, so `count`, `has` and `shows` always agree with each other (a decision that read
   * the count before an await and `shows` after it would drop a seat from both sides).
   */
  holders(team: Team, now: Date): SeatHolders | undefined {
    const key = keyOfTeam(team);
    const initial = this.teams.get(key);
    if (initial && this.expired(initial, now)) return undefined;
    const owner = normalizeEmail(team.spec.owner.email);
    const tally = () => this.teams.get(key) ?? EMPTY;
    return {
      team,
      get count() {
        const { seats, handovers } = tally();
        let count = seats.size + (seats.has(owner) ? 0 : 1);
        for (const email of handovers.keys()) if (email !== owner && !seats.has(email)) count++;
        return count;
      },
      has: (email) => email === owner || tally().seats.has(email) || tally().handovers.has(email),
      shows: (r) => this.shows(team, r),
    };
  }

  /** What assignSeats says of this Membership, or undefined when only the walk can tell (see the top of this file). */
  membershipSeat(team: Team, m: Membership, now: Date): MembershipSeat | undefined {
    const key = keyOfTeam(team);
    const mine = membershipContribution(m);
    // The caller's copy must be the one counted here (a reconcile reads the same cache).
    if (!same(mine, this.memberships.get(objectKey(m)))) return undefined;
    if (mine && mine.team !== key) return undefined;
    const tally = this.teams.get(key) ?? new Tally();
    if (this.expired(tally, now)) return undefined;
    const owner = normalizeEmail(team.spec.owner.email);
    const people = tally.seats.size + (tally.seats.has(owner) ? 0 : 1);
    const limit = team.spec.seats;
    if (people > limit) return undefined;
    const usage = { limit, available: limit - people };
    if (!mine) return { state: 'none', ...usage };
    if (mine.email === owner) return { state: 'shared', ...usage };
    if (tally.seats.get(mine.email) !== 1) return undefined;
    return { state: isAcceptedMembership(m) ? 'used' : 'pending', ...usage };
  }

  private expired(tally: Tally, now: Date): boolean {
    for (const at of tally.expiring.values()) if (at <= now.getTime()) return true;
    return false;
  }

  private shows(team: Team, r: Pick<SeatReservation, 'kind' | 'name' | 'uid'>): boolean {
    const source: SeatIndexSource<Membership | Invitation> = r.kind === 'Membership' ? this.sources.memberships : this.sources.invitations;
    const o = source.get(team.metadata.namespace, r.name);
    if (!o || o.spec.team !== team.metadata.name) return false;
    return r.uid ? o.metadata.uid === r.uid : true;
  }

  private follow<T extends Membership | Invitation>(
    map: Map<string, Contribution>,
    event: InformerEvent<T>,
    contribution: (o: T) => Contribution | undefined,
  ): void {
    this.set(map, event.key, event.type === 'deleted' ? undefined : contribution(event.object));
  }

  private set(map: Map<string, Contribution>, key: string, next: Contribution | undefined): void {
    const previous = map.get(key);
    if (same(previous, next)) return;
    if (previous) this.count(previous, -1);
    if (next) {
      map.set(key, next);
      this.count(next, 1);
    } else map.delete(key);
  }

  private count(c: Contribution, by: 1 | -1): void {
    let tally = this.teams.get(c.team);
    if (!tally) this.teams.set(c.team, (tally = new Tally()));
    bump(c.kind === 'seat' ? tally.seats : tally.handovers, c.email, by);
    if (c.expiresAt !== undefined) {
      if (by > 0) tally.expiring.set(c, c.expiresAt);
      else for (const [other] of tally.expiring) if (same(other, c)) tally.expiring.delete(other);
    }
    if (tally.empty) this.teams.delete(c.team);
  }
}
