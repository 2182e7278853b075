// Property-based: random objects through the validators, and random or malformed bodies
// through the real HTTPS endpoint. Nothing crashes, nothing answers 500, and every denial
// carries a message.
import { Agent, request } from 'node:https';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Invitation, Membership, Project, Team } from '../../../src/api/generated.ts';
import { generateCa, issueServingCertificate } from '../../../src/admission/certificates.ts';
import { AdmissionHandler, type SeatReserver } from '../../../src/admission/handler.ts';
import { AdmissionServer } from '../../../src/admission/server.ts';
import type { SeatDecision } from '../../../src/seats/decision.ts';
import {
  validateInvitation,
  validateMembership,
  validateProject,
  validateTeam,
  type AdmissionView,
  type Change,
  type Verdict,
} from '../../../src/admission/validators.ts';
import { silentLogger } from '../../../src/runtime/logger.ts';
import { ctx, FakeCache, invitation, membership, NS, project, team } from './fixtures.ts';

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const email = fc.oneof(fc.emailAddress(), fc.constantFrom('liam@acme.com', 'riley@acme.com', 'Riley@ACME.com', ' x@y.z', 'nope', ''), fc.string());
const role = fc.oneof(fc.constantFrom('owner', 'admin', 'developer', 'observer', 'billing'), fc.string());
const scope = maybe(
  fc.array(
    fc.record(
      { name: fc.oneof(fc.constantFrom('shop', 'blog'), fc.string()), environments: maybe(fc.array(fc.constantFrom('production', 'staging', 'qa'))) },
      { requiredKeys: ['name'] },
    ),
    { maxLength: 3 },
  ),
);
const time = fc.oneof(
  fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.string(),
);
const ownerRefs = maybe(
  fc.array(
    fc.record({
      apiVersion: fc.constantFrom('roster.dev/v1alpha1', 'v1'),
      kind: fc.constantFrom('Team', 'Membership', 'ConfigMap'),
      name: fc.constantFrom('acme', 'riley', 'x'),
      uid: fc.constantFrom('team-uid', 'u'),
      controller: fc.boolean(),
    }),
    { maxLength: 2 },
  ),
);
const metadata = fc.record(
  {
    name: fc.oneof(fc.constantFrom('riley', 'acme', 'zoe'), fc.string()),
    namespace: fc.constant(NS),
    uid: fc.string(),
    ownerReferences: ownerRefs,
    annotations: maybe(fc.dictionary(fc.constantFrom('roster.dev/invitation', 'roster.dev/created-by', 'x'), fc.string())),
    deletionTimestamp: maybe(time),
  },
  { requiredKeys: ['name', 'namespace'] },
);
const memberSpec = fc.record(
  {
    team: fc.oneof(fc.constant('acme'), fc.constant('nope'), fc.anything()),
    email,
    role,
    name: maybe(fc.string()),
    projects: scope,
    expiresAt: maybe(fc.oneof(time, fc.anything())),
    revoked: maybe(fc.boolean()),
  },
  { requiredKeys: [] },
);
const status = maybe(
  fc.record(
    { phase: fc.constantFrom('Invited', 'Active', 'Expired', 'OverSeatLimit', 'Failed', 'Pending', 'Accepted'), membership: maybe(fc.string()) },
    { requiredKeys: [] },
  ),
);
/** Mostly well-formed objects, sometimes not objects at all. */
const object = fc.oneof(
  { weight: 8, arbitrary: fc.record({ apiVersion: fc.constant('roster.dev/v1alpha1'), metadata, spec: memberSpec, status }, { requiredKeys: ['metadata'] }) },
  { weight: 1, arbitrary: fc.anything() },
);
const teamObject = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      metadata,
      spec: fc.record(
        { owner: fc.oneof(fc.record({ email, name: maybe(fc.string()) }), fc.anything()), seats: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.anything()) },
        { requiredKeys: [] },
      ),
      status: maybe(fc.record({ owner: fc.record({ email, phase: fc.constantFrom('Active', 'Invited') }) })),
    }),
  },
  { weight: 1, arbitrary: fc.anything() },
);
const projectObject = fc.oneof(
  fc.record({
    metadata,
    spec: fc.record(
      {
        team: fc.oneof(fc.constant('acme'), fc.anything()),
        environments: fc.oneof(
          fc.array(fc.record({ name: fc.constantFrom('production', 'staging', 'qa'), namespace: fc.string() }), { maxLength: 3 }),
          fc.anything(),
        ),
      },
      { requiredKeys: [] },
    ),
  }),
  fc.anything(),
);

const views = fc.record({
  team: maybe(fc.integer({ min: 1, max: 6 }).map((seats) => team({ seats }))),
  memberships: fc.array(
    fc.constantFrom('riley', 'noah', 'maya', 'zoe').map((n) => membership(n)),
    { maxLength: 4 },
  ),
  invitations: fc.array(
    fc.constantFrom('kai', 'ava').map((n) => invitation(n)),
    { maxLength: 2 },
  ),
  projects: fc.constant([project('shop')]),
  reservations: fc.constant([]),
}) as fc.Arbitrary<AdmissionView>;

const operation = fc.constantFrom('CREATE' as const, 'UPDATE' as const);
const user = fc.constantFrom('riley@acme.com', ctx.operatorUsername, '');

function checkVerdict(verdict: Verdict): void {
  expect(typeof verdict.allowed).toBe('boolean');
  if (!verdict.allowed) expect(verdict.message.trim().length).toBeGreaterThan(0);
}

describe('validators, fuzzed', () => {
  const change = <T>(op: 'CREATE' | 'UPDATE', obj: unknown, old: unknown, username: string): Change<T> => ({
    operation: op,
    object: obj as T,
    oldObject: (op === 'UPDATE' ? old : undefined) as T,
    user: { username, groups: [] },
    requestUid: 'r',
  });

  it('Membership and Invitation: never throw; denials say why', () => {
    fc.assert(
      fc.property(operation, object, object, views, user, (op, obj, old, view, username) => {
        checkVerdict(validateMembership(change<Membership>(op, obj, old, username), view, ctx));
        checkVerdict(validateInvitation(change<Invitation>(op, obj, old, username), view, ctx));
      }),
      { numRuns: 2000 },
    );
  });

  it('Team and Project: never throw; denials say why', () => {
    fc.assert(
      fc.property(operation, teamObject, teamObject, projectObject, projectObject, views, (op, t, oldT, p, oldP, view) => {
        checkVerdict(validateTeam(change<Team>(op, t, oldT, 'x'), view, ctx));
        checkVerdict(validateProject(change<Project>(op, p, oldP, 'x'), view));
      }),
      { numRuns: 2000 },
    );
  });
});

const reserver: SeatReserver = {
  async reserve(claim): Promise<SeatDecision> {
    return claim.email.startsWith('full')
      ? { kind: 'deny', message: 'team acme has 3 of 3 seats in use; raise spec.seats or remove a member' }
      : { kind: 'reserve', inUse: 1, limit: 3 };
  },
  async live() {
    return [];
  },
};

describe('the HTTPS endpoint, fuzzed', () => {
  let server: AdmissionServer;
  let agent: Agent;
  let ca: string;

  beforeAll(async () => {
    const now = new Date();
    // (RSA key generation for the CA and the serving certificate.)
    const authority = await generateCa('test-ca', now, 3600_000);
    const serving = await issueServingCertificate(authority, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, now, 3600_000);
    ca = authority.cert;
    const handler = new AdmissionHandler({
      caches: {
        teams: new FakeCache([team()]),
        memberships: new FakeCache([membership('riley')]),
        invitations: new FakeCache<Invitation>([]),
        projects: new FakeCache([project('shop')]),
      },
      ledger: reserver,
      logger: silentLogger,
      operatorUsername: async () => ctx.operatorUsername,
    });
    server = new AdmissionServer({ handler, logger: silentLogger, maxBodyBytes: 64 * 1024 });
    await server.listen(0, '127.0.0.1', { ...serving, caBundle: ca });
    agent = new Agent({ keepAlive: true, ca, maxSockets: 4 });
  }, 60_000);

  afterAll(async () => {
    agent?.destroy();
    await server?.close();
  });

  function post(
    path: string,
    body: string | Buffer,
    method = 'POST',
    contentType = 'application/json',
  ): Promise<{ status: number; body: string; alpn: string | false | null }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: server.port, path, method, agent, headers: { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          const alpn = (res.socket as import('node:tls').TLSSocket).alpnProtocol;
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), alpn }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  const review = (request: unknown) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
  const kinds = fc.constantFrom('Team', 'Membership', 'Invitation', 'Project', 'ConfigMap');
  const requestArb = fc.record(
    {
      uid: fc.oneof(fc.uuid(), fc.constant(''), fc.anything()),
      kind: fc.oneof(
        kinds.map((kind) => ({ group: kind === 'ConfigMap' ? '' : 'roster.dev', version: 'v1alpha1', kind })),
        fc.anything(),
      ),
      operation: fc.oneof(fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT'), fc.anything()),
      namespace: maybe(fc.constantFrom(NS, 'other')),
      subResource: maybe(fc.constantFrom('status', '')),
      userInfo: fc.oneof(fc.record({ username: user, groups: fc.array(fc.string(), { maxLength: 2 }) }), fc.anything()),
      object: fc.oneof(object, teamObject, projectObject),
      oldObject: fc.oneof(object, teamObject, projectObject),
      dryRun: fc.oneof(fc.boolean(), fc.anything()),
    },
    { requiredKeys: [] },
  );
  const body = fc.oneof(
    { weight: 6, arbitrary: requestArb.map(review) },
    { weight: 1, arbitrary: fc.json() },
    { weight: 1, arbitrary: fc.string() },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', '{', 'null', '[]', '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}', review(null), review({ uid: 'u' })),
    },
  );

  it('answers every body without a 500, and every denial carries a message', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/validate', '/mutate'), body, async (path, payload) => {
        const res = await post(path, payload);
        expect([200, 400]).toContain(res.status);
        if (res.status !== 200) {
          expect(res.body.trim().length).toBeGreaterThan(0);
          return;
        }
        const answer = JSON.parse(res.body) as {
          apiVersion: string;
          kind: string;
          response: { uid: string; allowed: boolean; status?: { message?: string }; patch?: string; patchType?: string };
        };
        expect(answer.apiVersion).toBe('admission.k8s.io/v1');
        expect(answer.kind).toBe('AdmissionReview');
        expect(typeof answer.response.uid).toBe('string');
        expect(answer.response.uid.length).toBeGreaterThan(0);
        if (!answer.response.allowed) expect(answer.response.status?.message?.trim().length).toBeGreaterThan(0);
        if (answer.response.patch) {
          expect(answer.response.patchType).toBe('JSONPatch');
          expect(Array.isArray(JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8')))).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  }, 120_000);

  it('turns away wrong paths, methods, content types and oversized bodies with 4xx, over HTTP/1.1', async () => {
    const ok = await post(
      '/validate',
      review({ uid: 'u1', kind: { group: '', version: 'v1', kind: 'ConfigMap' }, operation: 'CREATE', userInfo: { username: 'x' } }),
    );
    expect(ok.status).toBe(200);
    expect(ok.alpn === false || ok.alpn === null || ok.alpn === 'http/1.1').toBe(true);
    expect((await post('/nope', '{}')).status).toBe(404);
    expect((await post('/validate', '', 'GET')).status).toBe(405);
    expect((await post('/validate', '{}', 'POST', 'text/plain')).status).toBe(415);
    expect((await post('/validate', Buffer.alloc(100 * 1024, 'a'))).status).toBe(413);
  }, 30_000);

  it('denies with the SPEC sentence when the ledger has no seat, and stamps the actor on create', async () => {
    const m = membership('full', { email: 'full@acme.com' });
    const denied = JSON.parse(
      (
        await post(
          '/validate',
          review({
            uid: 'u2',
            kind: { group: 'roster.dev', version: 'v1alpha1', kind: 'Membership' },
            operation: 'CREATE',
            namespace: NS,
            userInfo: { username: 'riley@acme.com' },
            object: m,
          }),
        )
      ).body,
    ) as { response: { allowed: boolean; status: { message: string; code: number } } };
    expect(denied.response).toMatchObject({
      allowed: false,
      status: { code: 403, message: 'team acme has 3 of 3 seats in use; raise spec.seats or remove a member' },
    });
    const mutated = JSON.parse(
      (
        await post(
          '/mutate',
          review({
            uid: 'u3',
            kind: { group: 'roster.dev', version: 'v1alpha1', kind: 'Membership' },
            operation: 'CREATE',
            namespace: NS,
            userInfo: { username: 'riley@acme.com' },
            object: m,
          }),
        )
      ).body,
    ) as { response: { allowed: boolean; patch: string } };
    expect(mutated.response.allowed).toBe(true);
    expect(JSON.parse(Buffer.from(mutated.response.patch, 'base64').toString())).toEqual([
      { op: 'add', path: '/metadata/annotations', value: { 'roster.dev/created-by': 'riley@acme.com' } },
      // The controller's finalizer, set at admission: the controller need not PATCH it in.
      { op: 'add', path: '/metadata/finalizers', value: ['roster.dev/access'] },
    ]);
  }, 30_000);

  it.each(['Membership', 'Team'] as const)(
    'adds the %s finalizer next to others, once, and only on create',
    async (kind) => {
      const patchOf = async (operation: 'CREATE' | 'UPDATE', finalizers: string[]) => {
        const base = kind === 'Team' ? team() : membership('fin', { email: 'fin@acme.com' });
        const m = { ...base, metadata: { name: 'fin', namespace: NS, annotations: {}, finalizers } };
        const res = JSON.parse(
          (
            await post(
              '/mutate',
              review({
                uid: 'u4',
                kind: { group: 'roster.dev', version: 'v1alpha1', kind },
                operation,
                namespace: NS,
                userInfo: { username: 'riley@acme.com' },
                object: m,
                ...(operation === 'UPDATE' ? { oldObject: m } : {}),
              }),
            )
          ).body,
        ) as { response: { patch?: string } };
        const ops = res.response.patch ? (JSON.parse(Buffer.from(res.response.patch, 'base64').toString()) as Array<{ path: string; value?: unknown }>) : [];
        return ops.filter((o) => o.path.startsWith('/metadata/finalizers'));
      };
      expect(await patchOf('CREATE', ['example.com/keep'])).toEqual([{ op: 'add', path: '/metadata/finalizers/-', value: 'roster.dev/access' }]);
      expect(await patchOf('CREATE', ['roster.dev/access'])).toEqual([]);
      expect(await patchOf('UPDATE', [])).toEqual([]);
    },
    30_000,
  );
});

describe('updates that leave the spec alone', () => {
  // The Team is gone (deleted first while its namespace goes): every spec rule would now say
  // "team acme does not exist". Dropping a finalizer must still get through.
  const handler = new AdmissionHandler({
    caches: {
      teams: new FakeCache<Team>([]),
      memberships: new FakeCache([membership('riley')]),
      invitations: new FakeCache<Invitation>([]),
      projects: new FakeCache<Project>([]),
    },
    ledger: reserver,
    logger: silentLogger,
    operatorUsername: async () => ctx.operatorUsername,
  });
  const review = (oldObject: Membership, object: Membership) =>
    handler.validate(
      {
        uid: 'u1',
        kind: { group: 'roster.dev', version: 'v1alpha1', kind: 'Membership' },
        namespace: NS,
        name: 'riley',
        operation: 'UPDATE',
        userInfo: { username: 'system:serviceaccount:roster:roster', groups: [] },
        object,
        oldObject,
        dryRun: false,
      },
      Date.now() + 5000,
    );
  const leaving = (m: Membership, finalizers: string[]): Membership => ({
    ...m,
    metadata: { ...m.metadata, deletionTimestamp: '2026-11-23T12:00:00Z', finalizers },
  });

  it('lets an object on its way out drop its finalizer', async () => {
    const riley = membership('riley');
    const verdict = await review(leaving(riley, ['roster.dev/access']), leaving(riley, []));
    expect(verdict.response.allowed).toBe(true);
  });

  it('lets labels and annotations change without judging the spec again', async () => {
    const riley = membership('riley');
    const verdict = await review(riley, { ...riley, metadata: { ...riley.metadata, labels: { tier: 'gold' } } });
    expect(verdict.response.allowed).toBe(true);
  });

  it('still judges a spec change', async () => {
    const riley = membership('riley');
    const verdict = await review(riley, { ...riley, spec: { ...riley.spec, role: 'observer' } });
    expect(verdict.response.allowed).toBe(false);
    expect(verdict.response.status?.message).toContain('acme');
  });
});
