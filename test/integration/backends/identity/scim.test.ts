// The scim identity backend against a real SCIM 2.0 service provider (scim2-server from PyPI,
// started once for this file) reached through a fault-injecting front: provisioning, role and
// scope changes, drift, removal, and reads that fail (5xx, a page that stops early, a
// timeout) or a provider that is down — none of which may ever lead to a removal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityBackend } from '../../../../src/backends/identity/registry.ts';
import { IdentityBackendError, type IdentityBackend } from '../../../../src/backends/identity/types.ts';
import { grant, production, staging, team } from './fixtures.ts';
import { failMatching, isWrite } from '../../support/http-front.ts';
import { startScimServer, type TestScimServer } from '../../support/scim.ts';

interface ListResponse<T> {
  totalResults: number;
  Resources?: T[];
}
interface User {
  id: string;
  userName: string;
  active?: boolean;
  externalId?: string;
}
interface Group {
  id: string;
  displayName: string;
  externalId?: string;
  members?: Array<{ value: string }>;
}

let scim: TestScimServer;
let backend: IdentityBackend;

function scimBackend(server: TestScimServer, extra: Record<string, unknown> = {}): IdentityBackend {
  return createIdentityBackend('idp', { type: 'scim', baseUrl: server.baseUrl, tokenFile: server.tokenFile, timeoutMs: 2_000, pageSize: 2, ...extra } as never);
}

async function usersNamed(server: TestScimServer, email: string): Promise<User[]> {
  const res = await server.api<ListResponse<User>>('GET', `/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`);
  return res.body.Resources ?? [];
}

async function allGroups(server: TestScimServer): Promise<Group[]> {
  const res = await server.api<ListResponse<Group>>('GET', '/Groups?count=1000');
  return res.body.Resources ?? [];
}

/** displayNames of the groups the person is in, sorted. */
async function groupsOf(server: TestScimServer, email: string): Promise<string[]> {
  const [user] = await usersNamed(server, email);
  if (!user) return [];
  return (await allGroups(server))
    .filter((g) => g.members?.some((m) => m.value === user.id))
    .map((g) => g.displayName)
    .sort();
}

async function groupNamed(server: TestScimServer, displayName: string): Promise<Group> {
  const group = (await allGroups(server)).find((g) => g.displayName === displayName);
  if (!group) throw new Error(`no group ${displayName}`);
  return group;
}

async function patchMember(server: TestScimServer, displayName: string, email: string, op: 'add' | 'remove'): Promise<void> {
  const group = await groupNamed(server, displayName);
  const [user] = await usersNamed(server, email);
  const operation = op === 'add' ? { op, path: 'members', value: [{ value: user!.id }] } : { op, path: `members[value eq "${user!.id}"]` };
  const res = await server.api('PATCH', `/Groups/${group.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [operation] });
  expect(res.status).toBeLessThan(300);
}

async function failure(promise: Promise<unknown>): Promise<IdentityBackendError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IdentityBackendError);
  return error as IdentityBackendError;
}

beforeAll(async () => {
  scim = await startScimServer();
  backend = scimBackend(scim);
});

afterAll(async () => {
  await scim?.stop();
});

describe('scim backend', () => {
  it('accept: creates the user and puts them in the team, role and scope groups', async () => {
    const result = await backend.ensure(grant('riley@acme.com', 'developer', [staging], 'Riley Park'));
    const users = await usersNamed(scim, 'riley@acme.com');
    expect(users).toHaveLength(1);
    expect(result.subject).toBe(users[0]!.id);
    expect(users[0]).toMatchObject({ active: true, externalId: 'roster:riley@acme.com' });
    expect(await groupsOf(scim, 'riley@acme.com')).toEqual(['roster_acme_acme', 'roster_acme_acme_developer', 'roster_acme_acme_developer_shop_staging']);
    expect(await groupNamed(scim, 'roster_acme_acme_developer')).toMatchObject({ externalId: 'roster:acme/acme/developer' });
    expect(result.changes).toEqual([
      'created SCIM user riley@acme.com',
      'created SCIM group roster_acme_acme with riley@acme.com',
      'created SCIM group roster_acme_acme_developer with riley@acme.com',
      'created SCIM group roster_acme_acme_developer_shop_staging with riley@acme.com',
    ]);
    expect((await backend.ensure(grant('riley@acme.com', 'developer', [staging]))).changes).toEqual([]);
  });

  it('accept: an existing user is linked by userName; existing Roster groups are reused (PATCH with If-Match)', async () => {
    const created = await scim.api<User>('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'noah@acme.com' });
    expect(created.status).toBe(201);
    const before = scim.requests.length;
    const result = await backend.ensure(grant('noah@acme.com', 'developer', [staging]));
    expect(result.subject).toBe(created.body.id);
    expect(result.changes).toEqual([
      'added noah@acme.com to SCIM group roster_acme_acme',
      'added noah@acme.com to SCIM group roster_acme_acme_developer',
      'added noah@acme.com to SCIM group roster_acme_acme_developer_shop_staging',
    ]);
    const patches = scim.requests.slice(before).filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(3);
    for (const p of patches) expect(p.ifMatch).toMatch(/^W\/"\d+"$/); // the provider announced ETag support
    expect(await usersNamed(scim, 'noah@acme.com')).toHaveLength(1);
    expect((await allGroups(scim)).filter((g) => g.displayName === 'roster_acme_acme')).toHaveLength(1);
  });

  it('role and scope changes move the person between groups; other members stay', async () => {
    await backend.ensure(grant('riley@acme.com', 'observer', [staging]));
    expect(await groupsOf(scim, 'riley@acme.com')).toEqual(['roster_acme_acme', 'roster_acme_acme_observer', 'roster_acme_acme_observer_shop_staging']);
    await backend.ensure(grant('riley@acme.com', 'observer', [production]));
    expect(await groupsOf(scim, 'riley@acme.com')).toEqual(['roster_acme_acme', 'roster_acme_acme_observer', 'roster_acme_acme_observer_shop_production']);
    expect(await groupsOf(scim, 'noah@acme.com')).toEqual(['roster_acme_acme', 'roster_acme_acme_developer', 'roster_acme_acme_developer_shop_staging']);
  });

  it('drift: memberships changed by hand are put back and reported; groups Roster does not own are left alone', async () => {
    const [riley] = await usersNamed(scim, 'riley@acme.com');
    await scim.api('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'wiki-editors',
      members: [{ value: riley!.id }],
    });
    await patchMember(scim, 'roster_acme_acme_observer', 'riley@acme.com', 'remove');
    await patchMember(scim, 'roster_acme_acme_developer', 'riley@acme.com', 'add');
    const result = await backend.ensure(grant('riley@acme.com', 'observer', [production]));
    expect(result.changes.sort()).toEqual([
      'added riley@acme.com to SCIM group roster_acme_acme_observer',
      'removed riley@acme.com from SCIM group roster_acme_acme_developer',
    ]);
    expect(await groupsOf(scim, 'riley@acme.com')).toEqual([
      'roster_acme_acme',
      'roster_acme_acme_observer',
      'roster_acme_acme_observer_shop_production',
      'wiki-editors',
    ]);
  });

  describe('a read that fails never removes anything', () => {
    const groupsRead = (url: string) => url.includes('/Groups?') && url.includes('members');

    it.each([
      ['a 503 on the groups read', failMatching((e) => groupsRead(e.url), 503), 'ServerError'],
      [
        'a page that stops early (totalResults says more)',
        async (e: { url: string }, upstream: () => Promise<{ status: number; headers: Record<string, string>; body: string }>) => {
          if (!groupsRead(e.url) || !e.url.includes('startIndex=3')) return undefined;
          const reply = await upstream();
          const page = JSON.parse(reply.body) as { Resources?: unknown[] };
          return { ...reply, body: JSON.stringify({ ...page, Resources: [], itemsPerPage: 0 }) };
        },
        'PartialRead',
      ],
      [
        'a read that times out',
        async (e: { url: string }) => {
          if (!groupsRead(e.url)) return undefined;
          await new Promise((r) => setTimeout(r, 3_000));
          return { status: 504, headers: {}, body: '' };
        },
        'Timeout',
      ],
    ])('%s', async (_name, fault, reason) => {
      // Drift a complete read would correct by removing: riley added by hand to the admin group.
      await backend.ensure(grant('noah@acme.com', 'admin', []));
      await patchMember(scim, 'roster_acme_acme_admin', 'riley@acme.com', 'add');
      const before = await groupsOf(scim, 'riley@acme.com');
      expect(before).toContain('roster_acme_acme_admin');
      scim.setFault(fault);
      const seen = scim.requests.length;
      try {
        const error = await failure(backend.ensure(grant('riley@acme.com', 'observer', [production])));
        expect(error.reason).toBe(reason);
        expect(error.retryable).toBe(true);
        expect(error.message).toMatch(/could not read the SCIM groups of riley@acme.com/);
        const removal = await failure(backend.remove(team, 'member:riley', { email: 'riley@acme.com' }));
        expect(removal.retryable).toBe(true);
      } finally {
        scim.setFault(undefined);
      }
      expect(scim.requests.slice(seen).filter(isWrite)).toEqual([]);
      expect(await groupsOf(scim, 'riley@acme.com')).toEqual(before);
      // A complete read corrects the drift.
      const result = await backend.ensure(grant('riley@acme.com', 'observer', [production]));
      expect(result.changes).toEqual(['removed riley@acme.com from SCIM group roster_acme_acme_admin']);
    });
  });

  it('the provider down: a retryable error with a readable reason; afterwards nothing is lost and nothing duplicated', async () => {
    const before = await groupsOf(scim, 'riley@acme.com');
    const groupCount = (await allGroups(scim)).length;
    await scim.halt();
    try {
      const error = await failure(backend.ensure(grant('riley@acme.com', 'observer', [production])));
      expect(error.reason).toBe('Unreachable');
      expect(error.retryable).toBe(true);
      expect(error.message).toContain(scim.baseUrl);
    } finally {
      await scim.resume();
    }
    expect((await backend.ensure(grant('riley@acme.com', 'observer', [production]))).changes).toEqual([]);
    expect(await groupsOf(scim, 'riley@acme.com')).toEqual(before);
    expect((await allGroups(scim)).length).toBe(groupCount);
    expect(await usersNamed(scim, 'riley@acme.com')).toHaveLength(1);
  });

  it('a cancelled call (the operator stopping) rejects at once, retryable, and writes nothing', async () => {
    await backend.ensure(grant('riley@acme.com', 'observer', [production]));
    const before = await groupsOf(scim, 'riley@acme.com');
    // Cancelled before it starts: not one request.
    let seen = scim.requests.length;
    const early = await failure(backend.ensure(grant('quinn@acme.com', 'developer', [staging]), { signal: AbortSignal.abort() }));
    expect(early).toMatchObject({ reason: 'Cancelled', retryable: true });
    expect(scim.requests.length).toBe(seen);
    expect(await usersNamed(scim, 'quinn@acme.com')).toEqual([]);
    // Cancelled while the groups read hangs (a role change would write next): it gives up at once.
    let arrived!: () => void;
    const held = new Promise<void>((r) => (arrived = r));
    scim.setFault(async (e) => {
      if (!(e.url.includes('/Groups?') && e.url.includes('members'))) return undefined;
      arrived();
      await new Promise((r) => setTimeout(r, 1_500));
      return { status: 504, headers: {}, body: '' };
    });
    seen = scim.requests.length;
    const abort = new AbortController();
    try {
      const call = failure(backend.ensure(grant('riley@acme.com', 'developer', [staging]), { signal: abort.signal }));
      await held;
      const cancelledAt = performance.now();
      abort.abort(new Error('controller membership stopped'));
      const error = await call;
      expect(performance.now() - cancelledAt).toBeLessThan(500); // not the 2 s request timeout
      expect(error).toMatchObject({ reason: 'Cancelled', retryable: true });
      expect(error.message).toContain('the operator is stopping');
      await new Promise((r) => setTimeout(r, 1_600)); // the held read has been answered by now
    } finally {
      scim.setFault(undefined);
    }
    expect(scim.requests.slice(seen).filter(isWrite)).toEqual([]);
    expect(await groupsOf(scim, 'riley@acme.com')).toEqual(before);
  });

  it('a hand-made group with a Roster name is not adopted', async () => {
    await scim.api('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'roster_acme_acme_billing' });
    const error = await failure(backend.ensure(grant('maya@acme.com', 'billing', [])));
    expect(error.reason).toBe('GroupNameTaken');
    expect(error.retryable).toBe(false);
    expect(await groupsOf(scim, 'maya@acme.com')).toEqual([]); // nothing written before the reads were done
  });

  it("removal takes the team's Roster groups away; the account stays active (the default)", async () => {
    const changes = await backend.remove(team, 'member:riley', { email: 'riley@acme.com' });
    expect(changes).toHaveLength(3);
    expect(await groupsOf(scim, 'riley@acme.com')).toEqual(['wiki-editors']);
    expect((await usersNamed(scim, 'riley@acme.com'))[0]).toMatchObject({ active: true });
    expect(await backend.remove(team, 'member:riley', { email: 'riley@acme.com' })).toEqual([]);
  });

  it('with deactivateOnRemoval, a user Roster created is deactivated once in no Roster group, and reactivated by a grant', async () => {
    const deactivating = scimBackend(scim, { deactivateOnRemoval: true, groupPrefix: 'rstr' });
    const other = { namespace: 'acme', name: 'other' };
    await deactivating.ensure(grant('zoe@acme.com', 'developer', [staging]));
    await deactivating.ensure({ team: other, key: 'member:zoe', person: { email: 'zoe@acme.com' }, role: 'observer', targets: [] });
    // Still in team "other": stays active.
    await deactivating.remove(team, 'member:zoe', { email: 'zoe@acme.com' });
    expect((await usersNamed(scim, 'zoe@acme.com'))[0]).toMatchObject({ active: true });
    const changes = await deactivating.remove(other, 'member:zoe', { email: 'zoe@acme.com' });
    expect(changes).toContain('deactivated SCIM user zoe@acme.com (in no Roster group any more)');
    expect((await usersNamed(scim, 'zoe@acme.com'))[0]).toMatchObject({ active: false });
    const back = await deactivating.ensure(grant('zoe@acme.com', 'developer', [staging]));
    expect(back.changes[0]).toBe('reactivated SCIM user zoe@acme.com');
    expect((await usersNamed(scim, 'zoe@acme.com'))[0]).toMatchObject({ active: true });
    // A user Roster did not create (noah) is never deactivated.
    await deactivating.ensure(grant('noah@acme.com', 'developer', []));
    await backend.remove(team, 'member:noah', { email: 'noah@acme.com' });
    await deactivating.remove(team, 'member:noah', { email: 'noah@acme.com' });
    expect((await usersNamed(scim, 'noah@acme.com'))[0]?.active).not.toBe(false);
  });
});

describe('scim backend, provider without PATCH', () => {
  let plain: TestScimServer;

  beforeAll(async () => {
    plain = await startScimServer({
      serviceProviderConfig: {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
        patch: { supported: false },
        bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
        filter: { supported: true, maxResults: 1000 },
        changePassword: { supported: false },
        sort: { supported: false },
        etag: { supported: true },
        authenticationSchemes: [],
      },
    });
  });

  afterAll(async () => {
    await plain?.stop();
  });

  it('changes members by GET + PUT with If-Match', async () => {
    const b = scimBackend(plain);
    await b.ensure(grant('riley@acme.com', 'developer', [staging]));
    await b.ensure(grant('noah@acme.com', 'developer', [staging]));
    await b.ensure(grant('riley@acme.com', 'observer', [staging]));
    expect(await groupsOf(plain, 'riley@acme.com')).toEqual(['roster_acme_acme', 'roster_acme_acme_observer', 'roster_acme_acme_observer_shop_staging']);
    expect(await groupsOf(plain, 'noah@acme.com')).toEqual(['roster_acme_acme', 'roster_acme_acme_developer', 'roster_acme_acme_developer_shop_staging']);
    expect(plain.requests.some((r) => r.method === 'PATCH')).toBe(false);
    const puts = plain.requests.filter((r) => r.method === 'PUT');
    expect(puts.length).toBeGreaterThan(0);
    for (const p of puts) expect(p.ifMatch).toBeTruthy();
  });
});
