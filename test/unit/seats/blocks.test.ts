// Seat blocks (escrow): a replica sets seats aside in one ledger write and admits into them
// from memory. Simulated replicas (SeatLedger instances) over an in-memory API server whose
// compare-and-swap and lagging watch behave like the real ones.
import { describe, expect, it } from 'vitest';
import type { Invitation, Membership, Project } from '../../../src/api/generated.ts';
import { AdmissionHandler } from '../../../src/admission/handler.ts';
import { silentLogger } from '../../../src/runtime/logger.ts';
import { decideSeat, heldSeats, seatsInUse, type SeatBlock, type SeatDecision } from '../../../src/seats/decision.ts';
import {
  ledgerName,
  parseBlocks,
  parseLedger,
  reconcileSeatReservations,
  SeatLedger,
  serializeBlocks,
  serializeLedger,
  type ConfigMap,
} from '../../../src/seats/ledger.ts';
import { validateTeam } from '../../../src/admission/validators.ts';
import { ctx, FakeCache, membership, NOW, team, update, view } from '../admission/fixtures.ts';
import { LedgerApi } from './support.ts';

const TTL = 30_000;
const KEY = `acme/${ledgerName('acme')}`;

function replica(api: LedgerApi, options: { blockSize?: number; now?: () => Date; name?: string } = {}) {
  return new SeatLedger({
    client: api as never,
    ttlMs: TTL,
    now: options.now ?? (() => NOW),
    random: () => 0.5,
    blockSize: options.blockSize ?? 16,
    cache: api.cache,
    ...(options.name ? { replica: options.name } : {}),
  });
}

function claimer(seats: number, cached: () => Membership[] = () => []) {
  const t = team({ seats });
  const snapshot = () => ({ team: t, memberships: cached(), invitations: [] });
  return (ledger: SeatLedger, i: number, options: { email?: string; dryRun?: boolean; requestUid?: string } = {}): Promise<SeatDecision> =>
    ledger.reserve(
      { requestUid: options.requestUid ?? `req-${i}`, kind: 'Membership', name: `m${i}`, uid: `uid-m${i}`, email: options.email ?? `m${i}@acme.com` },
      { dryRun: options.dryRun ?? false, deadline: Date.now() + 20_000, snapshot },
    );
}

const ledgerOf = (api: LedgerApi) => api.objects.get(KEY);
const block = (key: string, seats: number, createdAgoMs: number, expiresAt?: string): SeatBlock => ({
  key,
  replica: key.split('.')[1] ?? 'x',
  seats,
  createdAt: new Date(NOW.getTime() - createdAgoMs).toISOString(),
  expiresAt: expiresAt ?? new Date(NOW.getTime() - createdAgoMs + TTL).toISOString(),
});

describe('seat blocks across replicas', () => {
  it('never admits more than the free seats when three replicas race 200 claims for 40 seats', async () => {
    const api = new LedgerApi(2);
    // Admitted objects reach the (shared) caches later, slower than the burst arrives.
    const cached: Membership[] = [];
    const claim = claimer(41, () => cached); // the owner + 40 free
    const replicas = ['a', 'b', 'c'].map((name) => replica(api, { name }));
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i % 7)); // spread over a few ms, as a burst arrives
        const decision = await claim(replicas[i % 3]!, i);
        if (decision.kind === 'reserve') {
          const m = membership(`m${i}`);
          setTimeout(() => cached.push({ ...m, metadata: { ...m.metadata, uid: `uid-m${i}` } }), 30);
        }
        return decision;
      }),
    );
    const admitted = results.filter((r) => r.kind === 'reserve').length;
    expect(admitted).toBeLessThanOrEqual(40);
    expect(admitted).toBeGreaterThanOrEqual(20); // blocks over-count for a while, never by more than they hold
    // Blocks really were used, and most seats cost no write.
    expect(replicas.reduce((n, r) => n + r.stats.blocks, 0)).toBeGreaterThan(1);
    expect(replicas.reduce((n, r) => n + r.stats.fromBlocks, 0)).toBeGreaterThan(admitted / 2);
    expect(api.writes).toBeLessThan(admitted);
    for (const r of results) if (r.kind === 'deny') expect(r.message).toMatch(/seats in use; raise spec.seats|retry in a moment/);
  });

  it('a burst of 50 into one team from one replica costs at most ceil(50/16)+1 writes', async () => {
    for (const sequential of [false, true]) {
      const api = new LedgerApi();
      const ledger = replica(api);
      const claim = claimer(1_000);
      const results: SeatDecision[] = [];
      if (sequential) for (let i = 0; i < 50; i++) results.push(await claim(ledger, i));
      else results.push(...(await Promise.all(Array.from({ length: 50 }, (_, i) => claim(ledger, i)))));
      expect(results.every((r) => r.kind === 'reserve')).toBe(true);
      expect(api.writes).toBeLessThanOrEqual(Math.ceil(50 / 16) + 1);
      const blocks = parseBlocks(ledgerOf(api));
      expect(blocks.reduce((n, b) => n + b.seats, 0)).toBeGreaterThanOrEqual(50);
      expect(blocks.every((b) => b.seats <= 16 && b.replica === ledger.replica)).toBe(true);
      expect(parseLedger(ledgerOf(api))).toEqual([]); // no per-request entries
      expect(ledger.stats).toMatchObject({ reserved: 50, fromBlocks: 50 });
    }
  });

  it('takes at most half the free seats, and near the limit writes an entry per seat, its blocks’ admissions too', async () => {
    const api = new LedgerApi();
    const ledger = replica(api, { blockSize: 4 });
    const claim = claimer(8); // the owner + 7 free: a block of 3, then 4 free: one of 2, then entries
    const results: SeatDecision[] = [];
    for (let i = 0; i < 5; i++) results.push(await claim(ledger, i));
    expect(parseBlocks(ledgerOf(api)).map((b) => b.seats)).toEqual([3, 2]);
    expect(parseLedger(ledgerOf(api))).toEqual([]);
    for (let i = 5; i < 9; i++) results.push(await claim(ledger, i));
    expect(results.map((r) => r.kind)).toEqual([...Array<string>(7).fill('reserve'), 'deny', 'deny']);
    expect(results.at(-1)).toEqual({ kind: 'deny', message: 'team acme has 8 of 8 seats in use; raise spec.seats or remove a member' });
    // The blocks became entries: everyone else now counts each person once, by email.
    expect(parseBlocks(ledgerOf(api))).toEqual([]);
    expect(parseLedger(ledgerOf(api)).map((r) => r.name)).toEqual(['m5', 'm0', 'm1', 'm2', 'm3', 'm4', 'm6']);
    expect(api.writes).toBe(4);
  });

  it('takes no block smaller than half its size: with 10 free seats and blocks of 16, every seat is an entry', async () => {
    const api = new LedgerApi();
    const ledger = replica(api);
    const claim = claimer(11);
    for (let i = 0; i < 10; i++) expect(await claim(ledger, i)).toMatchObject({ kind: 'reserve' });
    expect(api.writes).toBe(10);
    expect(parseBlocks(ledgerOf(api))).toEqual([]);
    expect(ledger.stats.blocks).toBe(0);
  });

  it('a denial that only another replica’s block causes says to retry in a moment', async () => {
    const api = new LedgerApi();
    const [a, b] = [replica(api, { name: 'a', blockSize: 4 }), replica(api, { name: 'b', blockSize: 4 })];
    const claim = claimer(5); // the owner + 4 free
    expect(await claim(a, 1)).toMatchObject({ kind: 'reserve' }); // a takes a block of 2
    await new Promise((r) => setTimeout(r, 5)); // b's watch shows it
    expect(await claim(b, 2)).toMatchObject({ kind: 'reserve' }); // 2 free: entries from here
    expect(await claim(b, 3)).toMatchObject({ kind: 'reserve' });
    const denied = await claim(b, 4);
    expect(denied).toEqual({
      kind: 'deny',
      message:
        'team acme has 3 of 5 seats in use, and 2 more are held for a few seconds by admissions on another replica of the roster webhook; retry in a moment (they are released within 30 s)',
    });
    // a still has one seat in its block; after that the team is full for a too.
    expect(await claim(a, 5)).toMatchObject({ kind: 'reserve' });
    expect(await claim(a, 6)).toEqual({ kind: 'deny', message: 'team acme has 5 of 5 seats in use; raise spec.seats or remove a member' });
  });

  it('dry-run writes nothing and charges nothing', async () => {
    const api = new LedgerApi();
    const ledger = replica(api);
    const claim = claimer(20);
    expect(await claim(ledger, 1)).toMatchObject({ kind: 'reserve' });
    const writes = api.writes;
    for (let i = 2; i < 40; i++) expect(await claim(ledger, i, { dryRun: true })).toMatchObject({ kind: 'reserve' });
    expect(api.writes).toBe(writes);
    expect(ledger.stats.fromBlocks).toBe(1);
    // A dry run on an empty ledger writes nothing either.
    const fresh = new LedgerApi();
    expect(await claim(replica(fresh), 1, { dryRun: true })).toMatchObject({ kind: 'reserve' });
    expect(fresh.writes).toBe(0);
  });

  it('denies the same email in flight on this replica as racing, and answers a retried admission once', async () => {
    const api = new LedgerApi();
    const ledger = replica(api);
    const claim = claimer(20);
    expect(await claim(ledger, 1, { email: 'riley@acme.com' })).toMatchObject({ kind: 'reserve' });
    expect(await claim(ledger, 2, { email: 'Riley@acme.com' })).toEqual({
      kind: 'deny',
      message: 'Riley@acme.com is being added to team acme right now (Membership m1); edit that Membership instead of creating another',
    });
    expect(await claim(ledger, 1, { email: 'riley@acme.com' })).toEqual({ kind: 'noSeatNeeded' });
    expect(ledger.stats.fromBlocks).toBe(1);
  });

  it('uses a block only in the first half of its window, and not once it is gone from the ledger', async () => {
    let now = NOW;
    const api = new LedgerApi();
    const ledger = replica(api, { now: () => now });
    const claim = claimer(100);
    await claim(ledger, 1);
    await new Promise((r) => setTimeout(r, 5));
    now = new Date(NOW.getTime() + TTL / 2 - 1);
    await claim(ledger, 2);
    expect(api.writes).toBe(1);
    now = new Date(NOW.getTime() + TTL / 2);
    await claim(ledger, 3);
    expect(api.writes).toBe(2); // a new block; the old one still counts for the others until it expires
    expect(parseBlocks(ledgerOf(api))).toHaveLength(2);

    // Someone deletes the ledger: past the watch's grace the block is not used any more, and the new write puts it back.
    api.remove('acme', ledgerName('acme'));
    now = new Date(now.getTime() + 3_000);
    await new Promise((r) => setTimeout(r, 5));
    await claim(ledger, 4);
    expect(api.writes).toBe(3);
    expect(parseBlocks(ledgerOf(api))).toHaveLength(3);
  });
});

describe('blocks read by everyone else', () => {
  const objects = { team: team({ seats: 10 }), memberships: [], invitations: [] };
  const claim = { requestUid: 'r', kind: 'Membership' as const, name: 'riley', email: 'riley@acme.com' };

  it('forged ones count only for the window after their creation time, never from the future, and never above the cap', () => {
    expect(heldSeats([block('block.x.1', 5, 60_000, '2099-01-01T00:00:00Z')], NOW, TTL)).toBe(0);
    expect(heldSeats([{ ...block('block.x.2', 5, 0), createdAt: '2099-01-01T00:00:00Z', expiresAt: '2099-01-01T00:00:30Z' }], NOW, TTL)).toBe(0);
    expect(heldSeats([block('block.x.3', 5, 5_000)], NOW, TTL)).toBe(5);
    expect(heldSeats([block('block.x.4', 1e9, 5_000)], NOW, TTL)).toBe(1_000);
    expect(decideSeat(objects, [], claim, NOW, false, heldSeats([block('block.x.1', 9, 60_000, '2099-01-01T00:00:00Z')], NOW, TTL)).kind).toBe('reserve');
    // Unreadable ones are skipped, and a block is no per-request entry.
    const data = { ...serializeBlocks([block('block.x.5', 3, 0)]), 'block.x.6': '{"kind":"Block","replica":"x","seats":-4}', 'block.x.7': 'nope' };
    const configMap: ConfigMap = { metadata: {}, data };
    expect(parseBlocks(configMap).map((b) => b.key)).toEqual(['block.x.5']);
    expect(parseLedger(configMap)).toEqual([]);
  });

  it('count for lowering spec.seats, with this replica’s own', async () => {
    const api = new LedgerApi();
    const ledger = replica(api);
    await claimer(20)(ledger, 1);
    const { held } = await ledger.liveSeats({ team: team({ seats: 20 }), memberships: [], invitations: [] });
    expect(held).toBe(9); // floor(19 / 2)
    expect(seatsInUse({ team: team({ seats: 20 }), memberships: [], invitations: [] }, [], NOW, held)).toBe(10);
  });

  it('lowering spec.seats below what blocks hold is refused with a retry, and the webhook counts them', async () => {
    const lower = (held: number) => validateTeam(update(team({ seats: 20 }), team({ seats: 5 })), view({ heldSeats: held }), ctx);
    expect(lower(0).allowed).toBe(true);
    expect(lower(9)).toEqual({
      allowed: false,
      message:
        'team acme has 10 seats in use, so spec.seats cannot go below 10; remove members or revoke pending invitations first, or retry in a moment: 9 of them are held for a few seconds by admissions in flight',
    });
  });

  it('the webhook counts them, this replica’s own too, when spec.seats is lowered', async () => {
    const api = new LedgerApi();
    const ledger = replica(api);
    await claimer(20)(ledger, 1); // a block of 9
    const handler = new AdmissionHandler({
      caches: {
        teams: new FakeCache([team({ seats: 20 })]),
        memberships: new FakeCache<Membership>([]),
        invitations: new FakeCache<Invitation>([]),
        projects: new FakeCache<Project>([]),
      },
      ledger,
      logger: silentLogger,
    });
    const lowerTo = (seats: number) =>
      handler.validate(
        {
          uid: `u${seats}`,
          kind: { group: 'roster.dev', version: 'v1alpha1', kind: 'Team' },
          operation: 'UPDATE',
          namespace: 'acme',
          name: 'acme',
          userInfo: { username: 'liam@acme.com', groups: [] },
          object: team({ seats }),
          oldObject: team({ seats: 20 }),
          dryRun: false,
        },
        Date.now() + 5_000,
      );
    expect((await lowerTo(10)).response.allowed).toBe(true); // the owner + 9 held
    const refused = (await lowerTo(9)).response;
    expect(refused.allowed).toBe(false);
    expect(refused.status?.message).toContain('cannot go below 10');
    expect(refused.status?.message).toContain('9 of them are held for a few seconds by admissions in flight');
  });

  it('the Team controller spends no write on expired blocks; one it writes for an entry drops them', async () => {
    const api = new LedgerApi();
    await api.create({ resource: 'configmaps' } as never, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: ledgerName('acme'), namespace: 'acme' },
      data: serializeBlocks([block('block.x.1', 4, 40_000), block('block.y.1', 4, 10_000)]),
    });
    const settler = {
      client: api as never,
      caches: { memberships: { byIndex: () => [] }, invitations: { byIndex: () => [] } },
      logger: silentLogger,
      now: () => NOW,
      seatReservationMs: TTL,
    };
    const stored = () => ledgerOf(api)!;
    const written = stored().metadata.resourceVersion;
    await reconcileSeatReservations(settler, team());
    // block.x.1 expired: it counts for nothing (heldSeats), and is not worth a write of its own.
    expect(stored().metadata.resourceVersion).toBe(written);
    expect(heldSeats(parseBlocks(stored()), NOW, TTL)).toBe(4);
    // An entry whose object reached the cache is confirmed: that write drops the expired block.
    const m = { metadata: { name: 'm1', namespace: 'acme', uid: 'uid-m1' }, spec: { team: 'acme', email: 'p@x.io', role: 'developer' } } as Membership;
    const entry = {
      requestUid: 'r1',
      kind: 'Membership' as const,
      name: 'm1',
      uid: 'uid-m1',
      email: 'p@x.io',
      createdAt: NOW.toISOString(),
      expiresAt: '2099-01-01T00:00:00Z',
    };
    await api.replace({ resource: 'configmaps' } as never, { ...stored(), data: { ...stored().data, ...serializeLedger([entry]) } } as ConfigMap);
    await reconcileSeatReservations({ ...settler, caches: { memberships: { byIndex: () => [m] }, invitations: { byIndex: () => [] } } }, team());
    expect(parseBlocks(stored()).map((b) => b.key)).toEqual(['block.y.1']);
    expect(parseLedger(stored())[0]?.confirmedAt).toBe(NOW.toISOString());
  });
});
