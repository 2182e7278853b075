// The per-team seat ledger: a ConfigMap `roster-seats-<team>` in the team's namespace, owned
// by the Team. It holds two kinds of entries, each with an expiry: one per admission that
// took a seat (keyed by the admission request's UID), and blocks (`block.<replica>.<n>`: this
// replica may admit up to k new seat-takers without writing). Admissions write with
// compare-and-swap on its resourceVersion, so two replicas (or two requests in one) can
// never both take the last seat; the Team controller drops entries whose object reached the
// caches, and expired entries. An expired block counts for nothing and goes with the next
// write of the ledger (no write of its own).
//
// Why a burst costs a few writes, not one per create (issue 14): no replica can bound the
// admissions in flight on the others (an object one replica admitted is invisible to the
// others until their watches deliver it), so a seat taken without a write must have been
// set aside in one beforehand. A replica that needs a seat writes a block of
// k = min(webhook.seatBlockSize, floor(free / 2)) seats in the group commit's one
// compare-and-swap (reading the ledger from its watch first: a stale copy costs a 409),
// then admits into it from memory, deciding against the caches, the ledger as its watch
// shows it, other replicas' blocks and its own admissions in flight. Every other reader
// counts an unexpired block as k seats taken (more than it may use, and the objects it
// admitted again once cached: over-counting, never under), so blocks, entries and cached
// objects stay within the limit at every write. A block is used for new admissions only in
// the first half of its window, so all it admitted stays counted for half a window at
// least (the ledger's assumption: caches catch up within it); a new block is appended,
// never replaces one, and stops counting when it expires.
//
// Near the limit the over-counting would turn people away who fit, so: no block smaller
// than half of seatBlockSize (2 at least), and from then on every seat is an entry, as
// before blocks; the first such write also turns this replica's blocks into entries, one
// per admission (others count those exactly, and see their emails). A denial that only
// other replicas' blocks cause says to retry, and within how long they are released.
//
// What blocks give up: the cross-replica "this email is being added right now" check, far
// from the limit. Two replicas admitting the same new email under blocks in the same
// instant (before either's watch shows the other's object) both let it in. Seats stay
// right (seats count distinct emails; the second object is `shared`); the team has two
// Memberships for one person, each invited and granted on its own, and removing the person
// means deleting both, as `kubectl get memberships` shows. Within one replica, near the
// limit, and once the first object is cached (milliseconds), the duplicate is refused as
// before. Claims that wait for the same team in one process share one commit (group
// commit, SeatLedger.commit), and the webhook's ledger requests go ahead of queued resync
// work in the client's rate limiter.
import { createHash, randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Team } from '../api/generated.ts';
import { apiVersion, resources } from '../api/resources.ts';
import { index, keyOfTeam } from '../api/indexes.ts';
import type { Invitation, Membership } from '../api/generated.ts';
import { formatTime } from '../domain/time.ts';
import { isAlreadyExists, isConflict, withRequestPriority, type KubeClient, type KubeObject } from '../runtime/kube-client.ts';
import type { Logger } from '../runtime/logger.ts';
import {
  DEFAULT_RESERVATION_WINDOW_MS,
  decideSeat,
  heldSeats,
  holdersFrom,
  isExpired,
  isInCache,
  isSettled,
  liveReservations,
  seatsInUse,
  CONFIRMATION_GRACE_MS,
  type SeatBlock,
  type SeatClaim,
  type SeatDecision,
  type SeatHolders,
  type SeatReservation,
  type SeatSource,
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

/** The ledger's keys with their JSON objects; values that are not one are skipped. */
function ledgerValues(configMap: ConfigMap | undefined): Array<[string, Record<string, unknown>]> {
  const out: Array<[string, Record<string, unknown>]> = [];
  for (const [key, text] of Object.entries(configMap?.data ?? {})) {
    try {
      const value: unknown = JSON.parse(text);
      if (isRecord(value)) out.push([key, value]);
    } catch {
      /* unreadable: skipped */
    }
  }
  return out;
}

/** The reservations in a ledger; entries that cannot be read are skipped (and pruned on the next write). */
export function parseLedger(configMap: ConfigMap | undefined): SeatReservation[] {
  const out: SeatReservation[] = [];
  for (const [requestUid, value] of ledgerValues(configMap)) {
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

const BLOCK_PREFIX = 'block.';

/** The blocks in a ledger; unreadable ones are skipped (and pruned on the next write). */
export function parseBlocks(configMap: ConfigMap | undefined): SeatBlock[] {
  const out: SeatBlock[] = [];
  for (const [key, value] of ledgerValues(configMap)) {
    if (!key.startsWith(BLOCK_PREFIX)) continue;
    const { kind, replica, seats, createdAt, expiresAt } = value;
    if (kind !== 'Block' || typeof replica !== 'string' || typeof createdAt !== 'string' || typeof expiresAt !== 'string') continue;
    if (typeof seats !== 'number' || !Number.isInteger(seats) || seats < 1) continue;
    out.push({ key, replica, seats, createdAt, expiresAt });
  }
  return out;
}

export function serializeBlocks(blocks: readonly SeatBlock[]): Record<string, string> {
  const data: Record<string, string> = {};
  for (const b of blocks) data[b.key] = JSON.stringify({ kind: 'Block', replica: b.replica, seats: b.seats, createdAt: b.createdAt, expiresAt: b.expiresAt });
  return data;
}

/** When a block (or entry) stops counting, ms since the epoch (see isExpired). */
function expiryOf(r: Pick<SeatBlock, 'createdAt' | 'expiresAt'>, windowMs: number): number {
  return Math.min(Date.parse(r.expiresAt), Date.parse(r.createdAt) + windowMs + 1_000);
}

/**
 * The ledger after a look at the caches: entries whose object the caches show are marked
 * confirmed (so a later delete of the object does not bring the seat back), confirmed ones
 * go once the grace is over, expired ones go.
 */
export function settleReservations(
  reservations: readonly SeatReservation[],
  objects: Pick<TeamObjects, 'memberships' | 'invitations'> | Pick<SeatHolders, 'shows'>,
  now: Date,
  windowMs = DEFAULT_RESERVATION_WINDOW_MS,
): SeatReservation[] {
  const shows = 'shows' in objects ? objects.shows : (r: SeatReservation) => isInCache(r, objects);
  return reservations
    .filter((r) => !isExpired(r, now, windowMs) && !isSettled(r, now))
    .map((r) => (r.confirmedAt || !shows(r) ? r : { ...r, confirmedAt: now.toISOString() }));
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
  /** The team's seat holders (or its objects) as the caches show them now (called on every attempt). */
  snapshot: () => SeatSource;
  /** The team, when the caller has it (else the snapshot's). */
  team?: Team;
  handover?: boolean;
}

/** The watched ledgers (caches.seatLedgers, see LedgerSettler). */
export interface LedgerCache {
  get(namespace: string | undefined, name: string): ConfigMap | undefined;
  hasSynced(): boolean;
}

export interface SeatLedgerOptions {
  client: KubeClient;
  ttlMs: number;
  now?: () => Date;
  logger?: Logger;
  random?: () => number;
  /** webhook.seatBlockSize: the most seats one block sets aside; 0 or absent: no blocks, every seat is an entry. */
  blockSize?: number;
  /**
   * The watched ledgers: a commit reads the ledger from here first and admissions under a
   * block read nothing else. A stale copy costs a 409 on the write, after which it GETs.
   */
  cache?: LedgerCache;
  /** This replica's name in block keys (random by default: one per process is enough). */
  replica?: string;
}

/** A block this replica wrote, and what it admitted under it (in memory only). */
interface OwnBlock {
  readonly block: SeatBlock;
  /** When it was written, this replica's clock (ms). */
  readonly writtenAt: number;
  readonly admissions: SeatReservation[];
  /** No more admissions under it (past half its window, or gone from the ledger); never undone. */
  retired: boolean;
  /** Its admissions were written as entries and the block taken out of the ledger (near the limit). */
  flushed: boolean;
}

/** What one commit decided, before the write that backs it. */
interface Plan {
  readonly answers: Array<[Waiting, SeatDecision]>;
  readonly entries: SeatReservation[];
  /** New blocks, written by this commit. */
  readonly blocks: OwnBlock[];
  /** Admissions under a block (an old one or a new one). */
  readonly charges: Array<{ readonly to: OwnBlock; readonly admission: SeatReservation }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SeatLedger {
  private readonly client: KubeClient;
  private readonly ttlMs: number;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly logger: Logger | undefined;
  private readonly blockSize: number;
  private readonly cache: LedgerCache | undefined;
  readonly replica: string;
  private blockSerial = 0;
  /** This replica's unexpired blocks, per team. */
  private readonly own = new Map<string, OwnBlock[]>();
  private lastSweep = 0;
  /**
   * Claims waiting per team in this process. One commit runs per team at a time, and every
   * claim that arrived meanwhile goes into the next one: one read and one compare-and-swap
   * for the whole group (group commit), so a burst into one team costs a few writes, not one
   * per create, and no claim waits behind a queue of round trips.
   */
  private readonly waiting = new Map<string, { claims: Waiting[]; running: boolean }>();
  /** reserved: seats taken (entries and admissions under blocks); blocks: blocks written; fromBlocks: admissions under them. */
  readonly stats = { reserved: 0, conflicts: 0, denied: 0, contended: 0, commits: 0, blocks: 0, fromBlocks: 0 };

  constructor(options: SeatLedgerOptions) {
    this.client = options.client;
    this.ttlMs = options.ttlMs;
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.logger = options.logger;
    this.blockSize = Math.max(0, Math.floor(options.blockSize ?? 0));
    this.cache = options.cache;
    this.replica = options.replica ?? randomBytes(6).toString('hex');
  }

  /** The ledger: the watched copy unless `fresh` (or no synced cache), else a GET. */
  private async current(team: Team, fresh: boolean): Promise<ConfigMap | undefined> {
    const namespace = team.metadata.namespace;
    const name = ledgerName(team.metadata.name ?? '');
    if (!fresh && this.cache?.hasSynced()) return this.cache.get(namespace, name);
    return await this.client.find<ConfigMap>(resources.configMap, namespace, name);
  }

  async read(team: Team): Promise<SeatReservation[]> {
    return parseLedger(await this.current(team, true));
  }

  /** Live reservations for a team (for decisions that write nothing, such as lowering spec.seats). */
  async live(objects: SeatSource): Promise<SeatReservation[]> {
    return (await this.liveSeats(objects)).reservations;
  }

  /** live(), and the seats every unexpired block holds: this replica's too, whose room it may still use. */
  async liveSeats(objects: SeatSource): Promise<{ reservations: SeatReservation[]; held: number }> {
    const current = await this.current(objects.team, true);
    const now = this.now();
    const blocks = new Map(parseBlocks(current).map((b) => [b.key, b]));
    for (const o of this.ownBlocks(keyOfTeam(objects.team), now)) if (!o.flushed) blocks.set(o.block.key, o.block);
    return { reservations: liveReservations(parseLedger(current), objects, now, this.ttlMs), held: heldSeats([...blocks.values()], now, this.ttlMs) };
  }

  /** Decides a seat claim against the caches plus the ledger and, unless dry-run, records it atomically. */
  reserve(claim: SeatClaim, options: ReserveOptions): Promise<SeatDecision> {
    const key = keyOfTeam(options.team ?? options.snapshot().team);
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
   * Decides every claim of the batch in arrival order against one read of the ledger (the
   * watched copy first), each counting the seats the ones before it took, then records the
   * new entries and blocks in one compare-and-swap; a batch that fits in this replica's
   * blocks writes nothing. A conflict (another replica, the Team controller settling, a
   * stale watched copy) GETs and decides the whole batch again; nothing is answered, and
   * nothing charged to a block, before the write that backs it won.
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
      const snapshot = batch[0]!.options.snapshot();
      const current = await this.current(snapshot.team, attempt > 0);
      const now = this.now();
      const objects = holdersFrom(snapshot, now);
      const key = keyOfTeam(objects.team);
      const plan = this.plan(batch, objects, current, now);
      const flush = plan.entries.length > 0;
      if (flush || plan.blocks.length > 0) {
        // Blocks: the ledger's unexpired ones, and this replica's own it still counts on (should
        // someone have removed them). Near the limit (this write has entries) this replica's
        // blocks become entries, one per admission: the others then count them exactly (and
        // see their emails) instead of counting whole blocks on top of the cached objects.
        const blocks = new Map(parseBlocks(current).map((b) => [b.key, b]));
        const entries = [...plan.entries];
        for (const o of [...this.ownBlocks(key, now), ...plan.blocks]) {
          if (o.flushed || flush) blocks.delete(o.block.key);
          else blocks.set(o.block.key, o.block);
          if (flush && !o.flushed) entries.push(...o.admissions, ...plan.charges.filter((c) => c.to === o).map((c) => c.admission));
        }
        const data = {
          ...serializeLedger([...settleReservations(parseLedger(current), objects, now, this.ttlMs), ...entries]),
          ...serializeBlocks([...blocks.values()].filter((b) => !isExpired(b, now, this.ttlMs))),
        };
        try {
          if (current)
            await this.client.replace(resources.configMap, { ...current, data }); // resourceVersion: compare-and-swap
          else await this.client.create(resources.configMap, ledgerObject(objects.team, data));
        } catch (e) {
          if (!isConflict(e) && !isAlreadyExists(e)) throw e;
          this.stats.conflicts++;
          this.logger?.debug({ team: objects.team.metadata.name, attempt, claims: batch.length }, 'seat ledger changed under us; re-reading');
          await sleep(attempt === 0 ? 0 : Math.min(200, 5 * 2 ** Math.min(attempt, 5)) * (0.5 + this.random()));
          continue;
        }
        this.stats.commits++;
        if (plan.blocks.length > 0) {
          this.stats.blocks += plan.blocks.length;
          this.logger?.debug({ team: objects.team.metadata.name, seats: plan.blocks.map((o) => o.block.seats) }, 'seat block taken');
        }
      }
      this.apply(key, plan, flush);
      for (const [w, decision] of plan.answers) {
        if (decision.kind === 'deny') this.stats.denied++;
        w.resolve(decision);
      }
      return;
    }
  }

  private plan(batch: readonly Waiting[], objects: SeatHolders, current: ConfigMap | undefined, now: Date): Plan {
    const reservations = parseLedger(current);
    const own = this.ownBlocks(keyOfTeam(objects.team), now);
    for (const o of own) if (!o.retired && !this.usable(o, current, now)) o.retired = true;
    const ownKeys = new Set(own.map((o) => o.block.key));
    // Blocks of other replicas (and any under this replica's name it did not write) hold all their seats.
    const others = parseBlocks(current).filter((b) => !ownKeys.has(b.key) && !isExpired(b, now, this.ttlMs));
    const held = heldSeats(others, now, this.ttlMs);
    const heldFor = Math.ceil((Math.max(0, ...others.map((b) => expiryOf(b, this.ttlMs))) - now.getTime()) / 1000);
    const admitted = own.flatMap((o) => o.admissions);
    // An admission under one of this replica's blocks expires with the block (ownBlocks has
    // dropped expired ones) and is never confirmed: it holds a seat until the caches show its
    // object. (No time stamps to parse: a burst keeps thousands of them for a window.)
    const live = [...liveReservations(reservations, objects, now, this.ttlMs), ...admitted.filter((a) => !objects.shows(a))];
    const plan: Plan = { answers: [], entries: [], blocks: [], charges: [] };
    const room = new Map(own.filter((o) => !o.retired).map((o) => [o, o.block.seats - o.admissions.length]));
    const taken = () => [...live, ...plan.entries, ...plan.charges.map((c) => c.admission)];
    for (const w of batch) {
      const uid = w.claim.requestUid;
      const holds = (r: SeatReservation) => r.requestUid === uid;
      if (reservations.some((r) => holds(r) && !isExpired(r, now, this.ttlMs)) || admitted.some(holds) || taken().some(holds)) {
        plan.answers.push([w, { kind: 'noSeatNeeded' }]); // a retried admission that already holds its seat
        continue;
      }
      const decision = decideSeat(objects, taken(), w.claim, now, w.options.handover, held, heldFor);
      plan.answers.push([w, decision]);
      if (decision.kind !== 'reserve' || w.options.dryRun) continue;
      const entry = this.entryFor(w.claim, now);
      let to = [...room].find(([, left]) => left > 0)?.[0];
      if (!to) {
        to = this.newBlock(objects, taken(), held, now);
        if (to) plan.blocks.push(to);
      }
      if (!to) {
        plan.entries.push(entry);
        continue;
      }
      room.set(to, (room.get(to) ?? to.block.seats) - 1);
      plan.charges.push({ to, admission: { ...entry, expiresAt: to.block.expiresAt } });
    }
    return plan;
  }

  /** After the write won (or none was needed): the new blocks and the admissions under blocks become this replica's. */
  private apply(key: string, plan: Plan, flushed: boolean): void {
    let list = this.own.get(key);
    if (plan.blocks.length > 0) {
      // A new block is taken only when no old one has room: the old ones take no more admissions.
      for (const o of list ?? []) o.retired = true;
      if (!list) this.own.set(key, (list = []));
      list.push(...plan.blocks);
    }
    for (const c of plan.charges) c.to.admissions.push(c.admission);
    // Still counted here (their admissions, as ever), no longer in the ledger as blocks.
    if (flushed) for (const o of list ?? []) o.retired = o.flushed = true;
    this.stats.reserved += plan.entries.length + plan.charges.length;
    this.stats.fromBlocks += plan.charges.length;
  }

  /**
   * A block for the claim about to take a seat, when far enough from the limit: half the
   * free seats (the other replicas need room too), at most blockSize, and at least half of
   * blockSize (2 at least): a smaller one would save few writes, while the other replicas
   * count it whole on top of the objects it admitted until it expires, which near the limit
   * turns people away who would fit. Nearer the limit every seat is an entry.
   */
  private newBlock(objects: SeatHolders, taken: readonly SeatReservation[], held: number, now: Date): OwnBlock | undefined {
    if (this.blockSize === 0) return undefined;
    const free = objects.team.spec.seats - seatsInUse(objects, taken, now, held);
    const seats = Math.min(this.blockSize, Math.floor(free / 2));
    if (seats < Math.max(2, Math.ceil(this.blockSize / 2))) return undefined;
    const block: SeatBlock = {
      key: `${BLOCK_PREFIX}${this.replica}.${++this.blockSerial}`,
      replica: this.replica,
      seats,
      createdAt: now.toISOString(),
      expiresAt: formatTime(new Date(now.getTime() + this.ttlMs + 999)),
    };
    return { block, writtenAt: now.getTime(), admissions: [], retired: false, flushed: false };
  }

  /**
   * Whether a block may take new admissions: in the first half of its window (so all it
   * admitted stays counted by the others for half a window at least), and still in the
   * ledger as the watch shows it (a ledger deleted or edited meanwhile no longer tells the
   * others about it); a block written a moment ago may not have reached the watch yet.
   */
  private usable(o: OwnBlock, current: ConfigMap | undefined, now: Date): boolean {
    if (now.getTime() - Date.parse(o.block.createdAt) >= this.ttlMs / 2) return false;
    return current?.data?.[o.block.key] !== undefined || now.getTime() - o.writtenAt < CONFIRMATION_GRACE_MS;
  }

  /** This replica's unexpired blocks for a team; expired ones (and their admissions) are forgotten. */
  private ownBlocks(key: string, now: Date): OwnBlock[] {
    const at = now.getTime();
    const alive = (o: OwnBlock) => expiryOf(o.block, this.ttlMs) > at;
    if (at - this.lastSweep > this.ttlMs) {
      this.lastSweep = at;
      for (const [k, list] of this.own) if (!list.some(alive)) this.own.delete(k);
    }
    const list = (this.own.get(key) ?? []).filter(alive);
    if (list.length > 0) this.own.set(key, list);
    else this.own.delete(key);
    return list;
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
    readonly seatLedgers?: LedgerCache;
  };
  readonly logger: Logger;
  now(): Date;
  /** webhook.seatReservationSeconds, in ms. */
  readonly seatReservationMs?: number;
}

/**
 * The Team controller's half of the ledger, called on every reconcile: confirms reservations
 * whose object is now in the caches (and drops them after a short grace), and drops expired
 * entries (an entry's object never came: a later admission denied it, or the create failed).
 * Writes only when an entry changed; never fails the reconcile. Expired blocks go with such
 * a write, or with the next admission's: no reader counts them, so a write of their own would
 * only tidy the ConfigMap, at one write per team and burst (issue 14's write budget).
 */
export async function reconcileSeatReservations(ctx: LedgerSettler, team: Team): Promise<void> {
  const namespace = team.metadata.namespace ?? '';
  const name = ledgerName(team.metadata.name ?? '');
  try {
    const cache = ctx.caches.seatLedgers;
    const current = cache?.hasSynced() ? cache.get(namespace, name) : await ctx.client.find<ConfigMap>(resources.configMap, namespace, name);
    if (!current) return;
    const key = keyOfTeam(team);
    const before = parseLedger(current);
    if (before.length === 0) return; // blocks alone: nothing to settle
    const objects = { memberships: ctx.caches.memberships.byIndex(index.byTeam, key), invitations: ctx.caches.invitations.byIndex(index.byTeam, key) };
    const now = ctx.now();
    const windowMs = ctx.seatReservationMs ?? DEFAULT_RESERVATION_WINDOW_MS;
    const entries = serializeLedger(settleReservations(before, objects, now, windowMs));
    if (isDeepStrictEqual(entries, serializeLedger(before))) return;
    const data = { ...entries, ...serializeBlocks(parseBlocks(current).filter((b) => !isExpired(b, now, windowMs))) };
    await ctx.client.replace(resources.configMap, { ...current, data });
    ctx.logger.debug({ team: key, before: Object.keys(current.data ?? {}).length, after: Object.keys(data).length }, 'seat reservations settled');
  } catch (e) {
    // A conflict: an admission wrote meanwhile, and its watch event brings the Team back.
    if (!isConflict(e)) ctx.logger.warn({ err: e instanceof Error ? e.message : String(e), team: team.metadata.name }, 'could not settle seat reservations');
  }
}
