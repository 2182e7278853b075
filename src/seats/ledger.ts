// The per-team seat ledger: a ConfigMap `roster-seats-<team>` in the team's namespace, owned
// by the Team, with one entry per admission that took a seat (keyed by the admission
// request's UID, with an expiry). Admissions reserve with compare-and-swap on its
// resourceVersion, so two replicas (or two requests in one) can never both take the last
// seat; the Team controller drops entries whose object reached the caches, and expired ones.
//
// Why every admitted seat costs a write, even far from the limit (issue 14): skipping the
// write when "free seats > admissions in flight" needs a bound on the admissions in flight,
// and no replica has one. The webhook runs on every replica; an object one replica admitted
// is invisible to the others until their watches deliver it, and nothing limits how many
// creates for one team arrive in that window (one `kubectl apply -f` of 200 Memberships). A
// replica can count only its own. Reserving a block of k seats per replica in one write
// (escrow) would be safe for the count, but it loses the cross-replica "this email is being
// added right now" check below, and the mutating and validating calls of one create may reach
// different replicas. So: every admitted seat is in a compare-and-swap, but claims that wait
// for the same team in one process share one (group commit, SeatLedger.commit), and the
// webhook's ledger requests go ahead of queued resync work in the client's rate limiter.
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Team } from '../api/generated.ts';
import { apiVersion, resources } from '../api/resources.ts';
import { index } from '../api/indexes.ts';
import type { Invitation, Membership } from '../api/generated.ts';
import { formatTime } from '../domain/time.ts';
import { isAlreadyExists, isConflict, withRequestPriority, type KubeClient, type KubeObject } from '../runtime/kube-client.ts';
import type { Logger } from '../runtime/logger.ts';
import {
  DEFAULT_RESERVATION_WINDOW_MS,
  decideSeat,
  isExpired,
  isInCache,
  isSettled,
  liveReservations,
  type SeatClaim,
  type SeatDecision,
  type SeatReservation,
  type TeamObjects,
} from './decision.ts';

export const LEDGER_LABEL = 'roster.dev/seat-ledger';
/** Selects the ledgers, for a watch of them. */
export const LEDGER_SELECTOR = `${LEDGER_LABEL}=true`;

/** The `namespace/name` key of the Team a ledger belongs to (its owner), if it has one. */
export function ledgerTeamKey(configMap: ConfigMap): string | undefined {
  const owner = (configMap.metadata.ownerReferences ?? []).find((o) => o.kind === 'Team' && o.apiVersion.startsWith('roster.dev/'));
  return owner ? `${configMap.metadata.namespace}/${owner.name}` : undefined;
}

export interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** The ledger's name for a team: `roster-seats-<team>`, shortened with a hash when too long. */
export function ledgerName(team: string): string {
  const name = `roster-seats-${team}`;
  if (name.length <= 253) return name;
  return `${name.slice(0, 236)}-${createHash('sha256').update(team).digest('hex').slice(0, 16)}`;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The reservations in a ledger; entries that cannot be read are skipped (and pruned on the next write). */
export function parseLedger(configMap: ConfigMap | undefined): SeatReservation[] {
  const out: SeatReservation[] = [];
  for (const [requestUid, text] of Object.entries(configMap?.data ?? {})) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      continue;
    }
    if (!isRecord(value)) continue;
    const { kind, name, uid, email, createdAt, expiresAt, confirmedAt } = value;
    if ((kind !== 'Membership' && kind !== 'Invitation') || typeof name !== 'string' || typeof email !== 'string' || typeof expiresAt !== 'string') continue;
    out.push({
      requestUid,
      kind,
      name,
      email,
      expiresAt,
      createdAt: typeof createdAt === 'string' ? createdAt : expiresAt,
      ...(typeof uid === 'string' && uid ? { uid } : {}),
      ...(typeof confirmedAt === 'string' ? { confirmedAt } : {}),
    });
  }
  return out;
}

export function serializeLedger(reservations: readonly SeatReservation[]): Record<string, string> {
  const data: Record<string, string> = {};
  for (const r of reservations) {
    data[r.requestUid] = JSON.stringify({
      kind: r.kind,
      name: r.name,
      ...(r.uid ? { uid: r.uid } : {}),
      email: r.email,
      createdAt: r.createdAt,
      expiresAt: r.expiresAt,
      ...(r.confirmedAt ? { confirmedAt: r.confirmedAt } : {}),
    });
  }
  return data;
}

/**
 * The ledger after a look at the caches: entries whose object the caches show are marked
 * confirmed (so a later delete of the object does not bring the seat back), confirmed ones
 * go once the grace is over, expired ones go.
 */
export function settleReservations(
  reservations: readonly SeatReservation[],
  objects: Pick<TeamObjects, 'memberships' | 'invitations'>,
  now: Date,
  windowMs = DEFAULT_RESERVATION_WINDOW_MS,
): SeatReservation[] {
  return reservations
    .filter((r) => !isExpired(r, now, windowMs) && !isSettled(r, now))
    .map((r) => (r.confirmedAt || !isInCache(r, objects) ? r : { ...r, confirmedAt: now.toISOString() }));
}

function ledgerObject(team: Team, data: Record<string, string>): ConfigMap {
  const teamName = team.metadata.name ?? '';
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: ledgerName(teamName),
      namespace: team.metadata.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'roster', 'roster.dev/team': teamName.slice(0, 63), [LEDGER_LABEL]: 'true' },
      annotations: { 'roster.dev/description': 'Seat reservations of admissions in flight (see the Roster admission webhook); safe to delete.' },
      ...(team.metadata.uid ? { ownerReferences: [{ apiVersion, kind: 'Team', name: teamName, uid: team.metadata.uid }] } : {}),
    },
    data,
  };
}

export interface ReserveOptions {
  dryRun: boolean;
  /** Give up (and deny: the caller may retry) after this time, ms since the epoch. */
  deadline: number;
  /** The team and its objects as the caches show them now (called on every attempt). */
  snapshot: () => TeamObjects;
  handover?: boolean;
}

export interface SeatLedgerOptions {
  client: KubeClient;
  ttlMs: number;
  now?: () => Date;
  logger?: Logger;
  random?: () => number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SeatLedger {
  private readonly client: KubeClient;
  private readonly ttlMs: number;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly logger: Logger | undefined;
  /**
   * Claims waiting per team in this process. One commit runs per team at a time, and every
   * claim that arrived meanwhile goes into the next one: one read and one compare-and-swap
   * for the whole group (group commit), so a burst into one team costs a few writes, not one
   * per create, and no claim waits behind a queue of round trips.
   */
  private readonly waiting = new Map<string, { claims: Waiting[]; running: boolean }>();
  readonly stats = { reserved: 0, conflicts: 0, denied: 0, contended: 0, commits: 0 };

  constructor(options: SeatLedgerOptions) {
    this.client = options.client;
    this.ttlMs = options.ttlMs;
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.logger = options.logger;
  }

  async read(team: Team): Promise<SeatReservation[]> {
    return parseLedger(await this.client.find<ConfigMap>(resources.configMap, team.metadata.namespace, ledgerName(team.metadata.name ?? '')));
  }

  /** Live reservations for a team (for decisions that write nothing, such as lowering spec.seats). */
  async live(objects: TeamObjects): Promise<SeatReservation[]> {
    return liveReservations(await this.read(objects.team), objects, this.now(), this.ttlMs);
  }

  /** Decides a seat claim against the caches plus the ledger and, unless dry-run, records it atomically. */
  reserve(claim: SeatClaim, options: ReserveOptions): Promise<SeatDecision> {
    const team = options.snapshot().team;
    const key = `${team.metadata.namespace}/${team.metadata.name}`;
    return new Promise<SeatDecision>((resolve, reject) => {
      let group = this.waiting.get(key);
      if (!group) this.waiting.set(key, (group = { claims: [], running: false }));
      group.claims.push({ claim, options, resolve, reject });
      if (!group.running) void this.drain(key, group);
    });
  }

  private async drain(key: string, group: { claims: Waiting[]; running: boolean }): Promise<void> {
    group.running = true;
    try {
      while (group.claims.length > 0) {
        const batch = group.claims.splice(0);
        try {
          // An admission review waits on this: its API requests go ahead of queued resync work.
          await withRequestPriority('high', () => this.commit(batch));
        } catch (e) {
          for (const w of batch) w.reject(e);
        }
      }
    } finally {
      // No await between the loop's last check and here: a claim pushed now finds running false.
      group.running = false;
      if (this.waiting.get(key) === group && group.claims.length === 0) this.waiting.delete(key);
    }
  }

  /**
   * Decides every claim of the batch in arrival order against one read of the ledger, each
   * counting the seats the ones before it reserved, then records all the reservations in one
   * compare-and-swap. A conflict (another replica, the Team controller settling) re-reads and
   * decides the whole batch again; nothing is answered before the write that backs it won.
   */
  private async commit(batch: Waiting[]): Promise<void> {
    for (let attempt = 0; batch.length > 0; attempt++) {
      const late = batch.filter((w) => Date.now() > w.options.deadline);
      for (const w of late) {
        this.stats.contended++;
        w.resolve({ kind: 'deny', message: 'too many seat reservations for this team at once; retry in a moment' });
      }
      batch = batch.filter((w) => !late.includes(w));
      if (batch.length === 0) return;
      const objects = batch[0]!.options.snapshot();
      const ref = { namespace: objects.team.metadata.namespace, name: ledgerName(objects.team.metadata.name ?? '') };
      const current = await this.client.find<ConfigMap>(resources.configMap, ref.namespace, ref.name);
      const reservations = parseLedger(current);
      const now = this.now();
      const live = liveReservations(reservations, objects, now, this.ttlMs);
      const entries: SeatReservation[] = [];
      const answers: Array<[Waiting, SeatDecision]> = [];
      for (const w of batch) {
        if (reservations.some((r) => r.requestUid === w.claim.requestUid && !isExpired(r, now, this.ttlMs))) {
          answers.push([w, { kind: 'noSeatNeeded' }]); // a retried admission that already holds its seat
          continue;
        }
        const decision = decideSeat(objects, [...live, ...entries], w.claim, now, w.options.handover);
        if (decision.kind === 'reserve' && !w.options.dryRun) entries.push(this.entryFor(w.claim, now));
        answers.push([w, decision]);
      }
      if (entries.length > 0) {
        const data = serializeLedger([...settleReservations(reservations, objects, now, this.ttlMs), ...entries]);
        try {
          if (current)
            await this.client.replace(resources.configMap, { ...current, data }); // resourceVersion: compare-and-swap
          else await this.client.create(resources.configMap, ledgerObject(objects.team, data));
        } catch (e) {
          if (!isConflict(e) && !isAlreadyExists(e)) throw e;
          this.stats.conflicts++;
          this.logger?.debug({ team: objects.team.metadata.name, attempt, claims: batch.length }, 'seat ledger changed under us; re-reading');
          await sleep(Math.min(200, 5 * 2 ** Math.min(attempt, 5)) * (0.5 + this.random()));
          continue;
        }
        this.stats.commits++;
        this.stats.reserved += entries.length;
      }
      for (const [w, decision] of answers) {
        if (decision.kind === 'deny') this.stats.denied++;
        w.resolve(decision);
      }
      return;
    }
  }

  private entryFor(claim: SeatClaim, now: Date): SeatReservation {
    return {
      requestUid: claim.requestUid,
      kind: claim.kind,
      name: claim.name,
      ...(claim.uid ? { uid: claim.uid } : {}),
      email: claim.email,
      createdAt: now.toISOString(),
      expiresAt: formatTime(new Date(now.getTime() + this.ttlMs + 999)),
    };
  }
}

interface Waiting {
  readonly claim: SeatClaim;
  readonly options: ReserveOptions;
  resolve(decision: SeatDecision): void;
  reject(error: unknown): void;
}

/**
 * The Team controller's half of the ledger, called on every reconcile: confirms reservations
 * whose object is now in the caches (and drops them after a short grace), and drops expired
 * ones (their object never came: a later admission denied it, or the create failed). Writes
 * only when something changed; never fails the reconcile.
 */
/** What settling a team's ledger needs: the client, the caches of its objects, the clock. */
export interface LedgerSettler {
  readonly client: KubeClient;
  readonly caches: {
    readonly memberships: { byIndex(index: string, value: string): Membership[] };
    readonly invitations: { byIndex(index: string, value: string): Invitation[] };
    /**
     * The ledgers (ConfigMaps labelled roster.dev/seat-ledger=true), watched: a team reconcile
     * then reads its ledger from memory instead of a GET each time (the controller runs on
     * every Membership and Invitation event of the team). A stale copy costs nothing: the
     * write is a compare-and-swap (409 = skip), and every ledger change brings the Team back.
     */
    readonly seatLedgers?: { get(namespace: string | undefined, name: string): ConfigMap | undefined; hasSynced(): boolean };
  };
  readonly logger: Logger;
  now(): Date;
  /** webhook.seatReservationSeconds, in ms. */
  readonly seatReservationMs?: number;
}

export async function reconcileSeatReservations(ctx: LedgerSettler, team: Team): Promise<void> {
  const namespace = team.metadata.namespace ?? '';
  const name = ledgerName(team.metadata.name ?? '');
  try {
    const cache = ctx.caches.seatLedgers;
    const current = cache?.hasSynced() ? cache.get(namespace, name) : await ctx.client.find<ConfigMap>(resources.configMap, namespace, name);
    if (!current) return;
    const key = `${namespace}/${team.metadata.name}`;
    const objects = { memberships: ctx.caches.memberships.byIndex(index.byTeam, key), invitations: ctx.caches.invitations.byIndex(index.byTeam, key) };
    const data = serializeLedger(settleReservations(parseLedger(current), objects, ctx.now(), ctx.seatReservationMs));
    if (isDeepStrictEqual(data, current.data ?? {})) return;
    await ctx.client.replace(resources.configMap, { ...current, data });
    ctx.logger.debug({ team: key, before: Object.keys(current.data ?? {}).length, after: Object.keys(data).length }, 'seat reservations settled');
  } catch (e) {
    if (isConflict(e)) return; // an admission wrote meanwhile; the next reconcile settles it
    ctx.logger.warn({ err: e instanceof Error ? e.message : String(e), team: team.metadata.name }, 'could not settle seat reservations');
  }
}
