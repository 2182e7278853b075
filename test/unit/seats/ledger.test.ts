// The ledger's compare-and-swap against an in-memory API server that enforces
// resourceVersion the way the real one does: many concurrent reservations from several
// "replicas" never admit more than the free seats.
import { describe, expect, it } from 'vitest';
import { KubeApiError, type KubeObject, type ResourceRef } from '../../../src/runtime/kube-client.ts';
import {
  ledgerName,
  ledgerTeamKey,
  parseLedger,
  reconcileSeatReservations,
  SeatLedger,
  serializeLedger,
  settleReservations,
  type ConfigMap,
} from '../../../src/seats/ledger.ts';
import { silentLogger } from '../../../src/runtime/logger.ts';
import { decideSeat, liveReservations, type SeatReservation } from '../../../src/seats/decision.ts';
import { membership, NOW, team } from '../admission/fixtures.ts';

class FakeApi {
  objects = new Map<string, ConfigMap>();
  rv = 0;
  writes = 0;
  reads = 0;
  private key(ns: string | undefined, name: string) {
    return `${ns}/${name}`;
  }
  private async tick() {
    await new Promise((r) => setImmediate(r));
  }
  async find<T extends KubeObject>(_ref: ResourceRef, ns: string | undefined, name: string): Promise<T | undefined> {
    await this.tick();
    this.reads++;
    const o = this.objects.get(this.key(ns, name));
    return o ? (structuredClone(o) as unknown as T) : undefined;
  }
  async create<T extends KubeObject>(_ref: ResourceRef, object: T): Promise<T> {
    await this.tick();
    const k = this.key(object.metadata.namespace, object.metadata.name ?? '');
    if (this.objects.has(k)) throw new KubeApiError(409, 'AlreadyExists', 'exists', {});
    const stored = { ...structuredClone(object), metadata: { ...object.metadata, resourceVersion: String(++this.rv) } } as unknown as ConfigMap;
    this.objects.set(k, stored);
    this.writes++;
    return structuredClone(stored) as unknown as T;
  }
  async replace<T extends KubeObject>(_ref: ResourceRef, object: T): Promise<T> {
    await this.tick();
    const k = this.key(object.metadata.namespace, object.metadata.name ?? '');
    const current = this.objects.get(k);
    if (!current || current.metadata.resourceVersion !== object.metadata.resourceVersion)
      throw new KubeApiError(409, 'Conflict', 'the object has been modified', {});
    const stored = { ...structuredClone(object), metadata: { ...object.metadata, resourceVersion: String(++this.rv) } } as unknown as ConfigMap;
    this.objects.set(k, stored);
    this.writes++;
    return structuredClone(stored) as unknown as T;
  }
}

const now = () => NOW;

describe('SeatLedger', () => {
  it('admits exactly the free seats when 100 claims race from three replicas', async () => {
    const api = new FakeApi();
    const t = team({ seats: 11 }); // owner + 10 free
    const replicas = [0, 1, 2].map(() => new SeatLedger({ client: api as never, ttlMs: 30_000, now, random: () => 0.5 }));
    const snapshot = () => ({ team: t, memberships: [], invitations: [] });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        replicas[i % 3]!.reserve(
          { requestUid: `req-${i}`, kind: 'Membership', name: `m${i}`, email: `m${i}@acme.com` },
          { dryRun: false, deadline: Date.now() + 20_000, snapshot },
        ),
      ),
    );
    expect(results.filter((r) => r.kind === 'reserve')).toHaveLength(10);
    const denied = results.filter((r) => r.kind === 'deny');
    expect(denied).toHaveLength(90);
    for (const d of denied) expect(d.kind === 'deny' && d.message).toBe('team acme has 11 of 11 seats in use; raise spec.seats or remove a member');
    const ledger = parseLedger(api.objects.get(`acme/${ledgerName('acme')}`));
    expect(ledger).toHaveLength(10);
    expect(replicas.reduce((n, r) => n + r.stats.conflicts, 0)).toBeGreaterThan(0); // the replicas really did collide
  });

  it('commits a burst into one team in a few writes, each claim counting the ones before it', async () => {
    const api = new FakeApi();
    const t = team({ seats: 31 }); // owner + 30 free
    const ledger = new SeatLedger({ client: api as never, ttlMs: 30_000, now, random: () => 0.5 });
    const snapshot = () => ({ team: t, memberships: [], invitations: [] });
    const claim = (i: number, email = `m${i}@acme.com`) =>
      ledger.reserve({ requestUid: `req-${i}`, kind: 'Membership', name: `m${i}`, email }, { dryRun: false, deadline: Date.now() + 20_000, snapshot });
    // 40 at once, and one person twice under two names: the second of those is a duplicate.
    const results = await Promise.all([...Array.from({ length: 40 }, (_, i) => claim(i)), claim(99, 'm3@acme.com')]);
    expect(results.filter((r) => r.kind === 'reserve')).toHaveLength(30);
    expect(results.at(-1)).toMatchObject({ kind: 'deny', message: expect.stringContaining('is being added to team acme right now') });
    expect(parseLedger(api.objects.get(`acme/${ledgerName('acme')}`))).toHaveLength(30);
    // One claim ran alone, the rest waited for it and went together: two writes, not thirty.
    expect(api.writes).toBe(2);
    expect(ledger.stats).toMatchObject({ commits: 2, reserved: 30, conflicts: 0 });
  });

  it('dry-run decides and writes nothing; a retried admission reserves once', async () => {
    const api = new FakeApi();
    const ledger = new SeatLedger({ client: api as never, ttlMs: 30_000, now });
    const snapshot = () => ({ team: team({ seats: 2 }), memberships: [], invitations: [] });
    const claim = { requestUid: 'r1', kind: 'Membership' as const, name: 'a', email: 'a@acme.com' };
    expect((await ledger.reserve(claim, { dryRun: true, deadline: Date.now() + 5_000, snapshot })).kind).toBe('reserve');
    expect(api.writes).toBe(0);
    expect((await ledger.reserve(claim, { dryRun: false, deadline: Date.now() + 5_000, snapshot })).kind).toBe('reserve');
    expect((await ledger.reserve(claim, { dryRun: false, deadline: Date.now() + 5_000, snapshot })).kind).toBe('noSeatNeeded');
    expect(api.writes).toBe(1);
    // The seat is gone for anyone else.
    const other = await ledger.reserve(
      { requestUid: 'r2', kind: 'Membership', name: 'b', email: 'b@acme.com' },
      { dryRun: true, deadline: Date.now() + 5_000, snapshot },
    );
    expect(other).toEqual({ kind: 'deny', message: 'team acme has 2 of 2 seats in use; raise spec.seats or remove a member' });
  });

  it('stops at its deadline with a denial that says to retry', async () => {
    const api = new FakeApi();
    const ledger = new SeatLedger({ client: api as never, ttlMs: 30_000, now });
    const decision = await ledger.reserve(
      { requestUid: 'r', kind: 'Membership', name: 'a', email: 'a@acme.com' },
      { dryRun: false, deadline: Date.now() - 1, snapshot: () => ({ team: team(), memberships: [], invitations: [] }) },
    );
    expect(decision).toEqual({ kind: 'deny', message: expect.stringContaining('retry') });
  });
});

describe('the ledger format and pruning', () => {
  const r = (name: string, createdAgoMs: number, ttlMs = 30_000, uid?: string): SeatReservation => ({
    requestUid: `req-${name}`,
    kind: 'Membership',
    name,
    email: `${name}@acme.com`,
    createdAt: new Date(NOW.getTime() - createdAgoMs).toISOString(),
    expiresAt: new Date(NOW.getTime() - createdAgoMs + ttlMs).toISOString(),
    ...(uid ? { uid } : {}),
  });

  it('round-trips and skips unreadable entries', () => {
    const list = [r('a', 0, 30_000, 'uid-a'), r('b', 0)];
    const data = { ...serializeLedger(list), junk: '{not json', other: '{"kind":"Team"}' };
    expect(parseLedger({ metadata: {}, data })).toEqual(list);
  });

  it('confirms reservations whose object is cached, drops expired ones and settled ones', () => {
    const m = membership('arrived');
    const settled = { ...r('settled', 10_000), confirmedAt: new Date(NOW.getTime() - 5_000).toISOString() };
    const list = [r('expired', 60_000), settled, r('arrived', 1_000, 30_000, m.metadata.uid), r('waiting', 1_000)];
    const next = settleReservations(list, { memberships: [m], invitations: [] }, NOW);
    expect(next.map((x) => x.name)).toEqual(['arrived', 'waiting']);
    expect(next[0]?.confirmedAt).toBe(NOW.toISOString());
    expect(next[1]?.confirmedAt).toBeUndefined();
  });

  it('a confirmed reservation whose object was deleted stops counting after the grace', () => {
    const t = team({ seats: 3 });
    const confirmed = { ...r('gone', 3_000), confirmedAt: new Date(NOW.getTime() - 1_000).toISOString() };
    const objects = { team: t, memberships: [], invitations: [] };
    expect(liveReservations([confirmed], objects, NOW)).toHaveLength(1); // a lagging cache may not show it yet
    expect(liveReservations([confirmed], objects, new Date(NOW.getTime() + 1_500))).toHaveLength(0);
  });

  it('does not count a reservation twice once its object is cached', () => {
    const m = membership('x');
    const reservation = r('x', 1_000, 30_000, m.metadata.uid);
    const decision = decideSeat(
      { team: team({ seats: 3 }), memberships: [m], invitations: [] },
      [],
      { requestUid: 'n', kind: 'Membership', name: 'n', email: 'n@acme.com' },
      NOW,
    );
    expect(decision).toEqual({ kind: 'reserve', inUse: 3, limit: 3 });
    // liveReservations would have filtered it; passing it anyway, the email is already seated.
    const again = decideSeat(
      { team: team({ seats: 3 }), memberships: [m], invitations: [] },
      [reservation],
      { requestUid: 'n', kind: 'Membership', name: 'n', email: 'n@acme.com' },
      NOW,
    );
    expect(again).toEqual(decision);
  });

  it('shortens long ledger names to a valid length', () => {
    expect(ledgerName('acme')).toBe('roster-seats-acme');
    expect(ledgerName('x'.repeat(253)).length).toBeLessThanOrEqual(253);
    expect(ledgerName('x'.repeat(253))).not.toBe(ledgerName(`${'x'.repeat(252)}y`));
  });
});

describe('forged ledger entries', () => {
  const forged = (requestUid: string, createdAt: string, expiresAt = '2099-01-01T00:00:00Z'): SeatReservation => ({
    requestUid,
    kind: 'Membership',
    name: requestUid,
    email: `${requestUid}@evil.example`,
    createdAt,
    expiresAt,
  });

  it('count only for the reservation window after their creation time, whatever expiresAt says', () => {
    const objects = { team: team({ seats: 3 }), memberships: [], invitations: [] };
    const entries = [forged('a', new Date(NOW.getTime() - 60_000).toISOString()), forged('b', new Date(NOW.getTime() - 60_000).toISOString())];
    expect(liveReservations(entries, objects, NOW, 30_000)).toHaveLength(0);
    const decision = decideSeat(
      objects,
      liveReservations(entries, objects, NOW, 30_000),
      { requestUid: 'real', kind: 'Membership', name: 'riley', email: 'riley@acme.com' },
      NOW,
    );
    expect(decision.kind).toBe('reserve');
  });

  it('created in the future never count', () => {
    const objects = { team: team({ seats: 3 }), memberships: [], invitations: [] };
    expect(liveReservations([forged('a', '2099-01-01T00:00:00Z')], objects, NOW, 30_000)).toHaveLength(0);
    // Without a createdAt the ledger reads expiresAt as the creation time: also the future.
    const parsed = parseLedger({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'roster-seats-acme' },
      data: { x: JSON.stringify({ kind: 'Membership', name: 'x', email: 'x@evil.example', expiresAt: '2099-01-01T00:00:00Z' }) },
    });
    expect(liveReservations(parsed, objects, NOW, 30_000)).toHaveLength(0);
  });

  it('a fresh honest reservation still holds its seat', () => {
    const objects = { team: team({ seats: 3 }), memberships: [], invitations: [] };
    const honest = forged('h', new Date(NOW.getTime() - 5_000).toISOString(), new Date(NOW.getTime() + 26_000).toISOString());
    expect(liveReservations([honest], objects, NOW, 30_000)).toHaveLength(1);
  });

  it('are dropped when the ledger is settled', () => {
    const entries = [forged('a', new Date(NOW.getTime() - 60_000).toISOString())];
    expect(settleReservations(entries, { memberships: [], invitations: [] }, NOW, 30_000)).toHaveLength(0);
  });
});

describe('reconcileSeatReservations (the Team controller settling a ledger)', () => {
  const reservation = (name: string, ageMs: number, confirmedAgoMs?: number): SeatReservation => ({
    requestUid: `req-${name}`,
    kind: 'Membership',
    name,
    email: `${name}@acme.com`,
    createdAt: new Date(NOW.getTime() - ageMs).toISOString(),
    expiresAt: new Date(NOW.getTime() - ageMs + 30_000).toISOString(),
    ...(confirmedAgoMs === undefined ? {} : { confirmedAt: new Date(NOW.getTime() - confirmedAgoMs).toISOString() }),
  });

  async function settle(cached: 'synced' | 'unsynced' | 'none') {
    const api = new FakeApi();
    const t = team({ seats: 5 });
    const ns = t.metadata.namespace!;
    await api.create({ resource: 'configmaps' } as never, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: ledgerName('acme'), namespace: ns },
      data: serializeLedger([reservation('riley', 5_000, 3_000), reservation('maya', 1_000)]),
    });
    const inCache = api.objects.get(`${ns}/${ledgerName('acme')}`)!;
    const readsBefore = api.reads;
    const seatLedgers = {
      get: (n: string | undefined, name: string) => (n === ns && name === inCache.metadata.name ? inCache : undefined),
      hasSynced: () => cached === 'synced',
    };
    await reconcileSeatReservations(
      {
        client: api as never,
        caches: {
          memberships: { byIndex: () => [membership('maya')] },
          invitations: { byIndex: () => [] },
          ...(cached === 'none' ? {} : { seatLedgers }),
        },
        logger: silentLogger,
        now,
      },
      t,
    );
    const after = parseLedger(api.objects.get(`${ns}/${ledgerName('acme')}`));
    return { gets: api.reads - readsBefore, after };
  }

  it('reads the ledger from the watch cache, not with a GET, and settles it', async () => {
    const { gets, after } = await settle('synced');
    expect(gets).toBe(0);
    // riley was confirmed long enough ago: gone; maya is in the cache now: confirmed.
    expect(after.map((r) => [r.name, r.confirmedAt])).toEqual([['maya', NOW.toISOString()]]);
  });

  it('reads it live until the cache has synced, or without one', async () => {
    for (const cached of ['unsynced', 'none'] as const) {
      const { gets, after } = await settle(cached);
      expect(gets).toBe(1);
      expect(after.map((r) => r.name)).toEqual(['maya']);
    }
  });

  it('maps a ledger to the Team that owns it', () => {
    const owned = { metadata: { namespace: 'acme-ns', ownerReferences: [{ apiVersion: 'roster.dev/v1alpha1', kind: 'Team', name: 'acme', uid: 'u' }] } };
    expect(ledgerTeamKey(owned)).toBe('acme-ns/acme');
    expect(ledgerTeamKey({ metadata: { namespace: 'acme-ns' } })).toBeUndefined();
  });
});
