// The ldap identity backend against a real OpenLDAP (slapd started once for this file), then
// end to end: the operator process provisions an accepted Membership of a Team that uses the
// backend, puts back a membership removed by hand (with a DriftCorrected Event), reports an
// unreachable server as IdentitySynced=False and recovers, and removes access on deletion.
import { createServer, connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Attribute, Change, EqualityFilter, type Client } from 'ldapts';
import type { Membership } from '../../../../src/api/generated.ts';
import { resources } from '../../../../src/api/resources.ts';
import { createIdentityBackend } from '../../../../src/backends/identity/registry.ts';
import { IdentityBackendError, type IdentityBackend } from '../../../../src/backends/identity/types.ts';
import { grant, production, staging, team, blog } from './fixtures.ts';
import { KubeClient } from '../../../../src/runtime/kube-client.ts';
import { kubectl } from '../../kubectl.ts';
import { eventRecorded } from '../../support/events.ts';
import { eventually } from '../../support/eventually.ts';
import { startLdapServer, type TestLdapServer } from '../../support/ldap.ts';
import { startOperator, type OperatorProcess } from '../../support/operator.ts';
import { removeNamespaces } from '../../support/cleanup.ts';
import { startSmtpServer, type TestSmtpServer } from '../../support/smtp.ts';

let ldap: TestLdapServer;
let backend: IdentityBackend;

function ldapBackend(bindDn: string, name = 'corp', url = ldap.url): IdentityBackend {
  return createIdentityBackend(name, {
    type: 'ldap',
    url,
    bindDn,
    bindPasswordFile: ldap.rosterPasswordFile,
    peopleDn: ldap.peopleDn,
    groupsDn: ldap.groupsDn,
    timeoutMs: 3_000,
    connectTimeoutMs: 1_000,
  });
}

async function withAdmin<T>(run: (c: Client) => Promise<T>): Promise<T> {
  const c = await ldap.adminClient();
  try {
    return await run(c);
  } finally {
    await c.unbind();
  }
}

async function peopleWithMail(email: string): Promise<string[]> {
  return await withAdmin(async (c) =>
    (await c.search(ldap.peopleDn, { scope: 'sub', filter: new EqualityFilter({ attribute: 'mail', value: email }) })).searchEntries.map((e) => e.dn),
  );
}

/** The cn of every group (Roster's or not) that has the person as a member, sorted. */
async function groupsOf(email: string): Promise<string[]> {
  const [dn] = await peopleWithMail(email);
  if (!dn) return [];
  return await withAdmin(async (c) => {
    const { searchEntries } = await c.search(ldap.groupsDn, {
      scope: 'sub',
      filter: new EqualityFilter({ attribute: 'member', value: dn }),
      attributes: ['cn'],
    });
    return searchEntries.map((e) => String(e.cn)).sort();
  });
}

async function allGroupNames(): Promise<string[]> {
  return await withAdmin(async (c) =>
    (await c.search(ldap.groupsDn, { scope: 'one', filter: '(objectClass=groupOfNames)', attributes: ['cn'] })).searchEntries.map((e) => String(e.cn)).sort(),
  );
}

async function modifyMember(groupCn: string, email: string, operation: 'add' | 'delete'): Promise<void> {
  const [dn] = await peopleWithMail(email);
  await withAdmin((c) => c.modify(`cn=${groupCn},${ldap.groupsDn}`, new Change({ operation, modification: new Attribute({ type: 'member', values: [dn!] }) })));
}

/**
 * A TCP relay in front of slapd that passes the connection's first exchange (the bind) and
 * then holds whatever the client sends next, so a test can cancel a call in flight.
 */
async function holdAfterBind(upstreamPort: number) {
  let held!: () => void;
  let hungUp!: () => void;
  const holding = new Promise<void>((r) => (held = r));
  const clientClosed = new Promise<void>((r) => (hungUp = r));
  const sockets: Socket[] = [];
  const server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    sockets.push(client, upstream);
    let answered = false;
    upstream.on('data', (d) => {
      answered = true;
      client.write(d);
    });
    client.on('data', (d) => (answered ? held() : upstream.write(d)));
    client.on('close', () => {
      hungUp();
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
    for (const s of [client, upstream]) s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    holding,
    clientClosed,
    close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
  };
}

beforeAll(async () => {
  ldap = await startLdapServer();
  backend = ldapBackend(ldap.rosterDn);
});

afterAll(async () => {
  await ldap?.stop();
});

describe('ldap backend', () => {
  it('accept: creates the person and puts them in the team, role and scope groups', async () => {
    const result = await backend.ensure(grant('riley@acme.com', 'developer', [staging], 'Riley Park'));
    const [dn] = await peopleWithMail('riley@acme.com');
    expect(result.subject).toBe(dn);
    expect(result.changes).toContain(`created LDAP entry ${dn}`);
    expect(await groupsOf('riley@acme.com')).toEqual(['roster_acme_acme', 'roster_acme_acme_developer', 'roster_acme_acme_developer_shop_staging']);
    const person = await withAdmin(async (c) => (await c.search(dn!, { scope: 'base' })).searchEntries[0]!);
    expect(person).toMatchObject({ cn: 'Riley Park', sn: 'Park', mail: 'riley@acme.com' });
    // Marked as Roster's, with a placeholder so that it never has to be empty.
    const group = await withAdmin(async (c) => (await c.search(`cn=roster_acme_acme_developer,${ldap.groupsDn}`, { scope: 'base' })).searchEntries[0]!);
    expect(group.businessCategory).toEqual(expect.arrayContaining(['roster.dev/managed', 'roster.dev/team=acme/acme', 'roster.dev/group=acme/acme/developer']));
    expect(group.member).toEqual(expect.arrayContaining([ldap.groupsDn]));
  });

  it('a second ensure of the same grant changes nothing', async () => {
    const result = await backend.ensure(grant('riley@acme.com', 'developer', [staging], 'Riley Park'));
    expect(result.changes).toEqual([]);
  });

  it('accept: an existing person is linked by mail, not duplicated', async () => {
    await withAdmin((c) => c.add(`cn=Noah Jones,${ldap.peopleDn}`, { objectClass: ['inetOrgPerson'], cn: 'Noah Jones', sn: 'Jones', mail: 'noah@acme.com' }));
    const result = await backend.ensure(grant('noah@acme.com', 'admin', [staging, production]));
    expect(result.subject).toBe(`cn=Noah Jones,${ldap.peopleDn}`);
    expect(result.changes.some((c) => c.startsWith('created LDAP entry'))).toBe(false);
    expect(await peopleWithMail('noah@acme.com')).toHaveLength(1);
    expect(await groupsOf('noah@acme.com')).toEqual([
      'roster_acme_acme',
      'roster_acme_acme_admin',
      'roster_acme_acme_admin_shop_production',
      'roster_acme_acme_admin_shop_staging',
    ]);
  });

  it("role change moves the person to the new role's groups", async () => {
    const result = await backend.ensure(grant('riley@acme.com', 'observer', [staging]));
    expect(await groupsOf('riley@acme.com')).toEqual(['roster_acme_acme', 'roster_acme_acme_observer', 'roster_acme_acme_observer_shop_staging']);
    expect(result.changes).toEqual(
      expect.arrayContaining([
        'removed riley@acme.com from LDAP group roster_acme_acme_developer',
        'removed riley@acme.com from LDAP group roster_acme_acme_developer_shop_staging',
      ]),
    );
  });

  it('scope change moves the person between environment groups', async () => {
    await backend.ensure(grant('riley@acme.com', 'observer', [production, blog]));
    expect(await groupsOf('riley@acme.com')).toEqual([
      'roster_acme_acme',
      'roster_acme_acme_observer',
      'roster_acme_acme_observer_blog_production',
      'roster_acme_acme_observer_shop_production',
    ]);
  });

  it('drift: memberships changed by hand are put back and reported; groups Roster does not own are left alone', async () => {
    // A hand-made group (no marker) the person is in, and one named like Roster's team group elsewhere.
    const [dn] = await peopleWithMail('riley@acme.com');
    await withAdmin((c) => c.add(`cn=wiki-editors,${ldap.groupsDn}`, { objectClass: ['groupOfNames'], cn: 'wiki-editors', member: [dn!] }));
    await modifyMember('roster_acme_acme_observer', 'riley@acme.com', 'delete'); // removed by hand
    await modifyMember('roster_acme_acme_admin', 'riley@acme.com', 'add'); // added by hand
    const result = await backend.ensure(grant('riley@acme.com', 'observer', [production, blog]));
    expect(result.changes.sort()).toEqual([
      'added riley@acme.com to LDAP group roster_acme_acme_observer',
      'removed riley@acme.com from LDAP group roster_acme_acme_admin',
    ]);
    expect(await groupsOf('riley@acme.com')).toEqual([
      'roster_acme_acme',
      'roster_acme_acme_observer',
      'roster_acme_acme_observer_blog_production',
      'roster_acme_acme_observer_shop_production',
      'wiki-editors',
    ]);
  });

  it('a read the server cuts short (size limit on a paged search) throws a retryable error and removes nothing', async () => {
    // Drift that a complete read would correct by removing: riley added by hand to the admin group.
    await modifyMember('roster_acme_acme_admin', 'riley@acme.com', 'add');
    const before = await groupsOf('riley@acme.com');
    const limited = ldapBackend(ldap.limitedDn, 'corp-limited');
    const error = await limited.ensure(grant('riley@acme.com', 'observer', [production, blog])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdentityBackendError);
    expect((error as IdentityBackendError).retryable).toBe(true);
    expect((error as IdentityBackendError).reason).toBe('PartialRead');
    expect((error as Error).message).toMatch(/could not read the LDAP groups/);
    expect(await groupsOf('riley@acme.com')).toEqual(before);
    const removal = await limited.remove(team, 'member:riley', { email: 'riley@acme.com' }).catch((e: unknown) => e);
    expect(removal).toBeInstanceOf(IdentityBackendError);
    expect(await groupsOf('riley@acme.com')).toEqual(before);
    // With a complete read, the hand-made addition goes.
    const result = await backend.ensure(grant('riley@acme.com', 'observer', [production, blog]));
    expect(result.changes).toEqual(['removed riley@acme.com from LDAP group roster_acme_acme_admin']);
  });

  it('the server down: a retryable error with a readable reason; after the restart nothing is lost and nothing duplicated', async () => {
    const groupsBefore = await allGroupNames();
    const rileyBefore = await groupsOf('riley@acme.com');
    await ldap.halt();
    try {
      const error = await backend.ensure(grant('riley@acme.com', 'observer', [production, blog])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IdentityBackendError);
      expect((error as IdentityBackendError).retryable).toBe(true);
      expect((error as IdentityBackendError).reason).toBe('Unreachable');
      expect((error as Error).message).toContain(ldap.url);
      expect((error as Error).message).toMatch(/ECONNREFUSED/);
      const removal = await backend.remove(team, 'member:riley', { email: 'riley@acme.com' }).catch((e: unknown) => e);
      expect(removal).toBeInstanceOf(IdentityBackendError);
    } finally {
      await ldap.resume();
    }
    const result = await backend.ensure(grant('riley@acme.com', 'observer', [production, blog]));
    expect(result.changes).toEqual([]);
    expect(await groupsOf('riley@acme.com')).toEqual(rileyBefore);
    expect(await allGroupNames()).toEqual(groupsBefore);
    expect(await peopleWithMail('riley@acme.com')).toHaveLength(1);
  });

  it('a cancelled call (the operator stopping) rejects at once, creates nothing and hangs up', async () => {
    // Cancelled before it starts: no connection, no entry.
    const early = await backend.ensure(grant('quinn@acme.com', 'developer', [staging]), { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(IdentityBackendError);
    expect(early).toMatchObject({ reason: 'Cancelled', retryable: true });
    expect(await peopleWithMail('quinn@acme.com')).toEqual([]);
    // Cancelled while the person lookup hangs (a create would come next).
    const relay = await holdAfterBind(ldap.port);
    try {
      const relayed = ldapBackend(ldap.rosterDn, 'corp', `ldap://127.0.0.1:${relay.port}`);
      const abort = new AbortController();
      const call = relayed.ensure(grant('quinn@acme.com', 'developer', [staging]), { signal: abort.signal }).catch((e: unknown) => e);
      await relay.holding;
      const cancelledAt = performance.now();
      abort.abort(new Error('controller membership stopped'));
      const error = await call;
      expect(performance.now() - cancelledAt).toBeLessThan(500); // not the 3 s operation timeout
      expect(error).toMatchObject({ reason: 'Cancelled', retryable: true });
      expect((error as Error).message).toContain('find the LDAP entry of quinn@acme.com was cancelled');
      await relay.clientClosed; // the connection was closed, not left to time out
    } finally {
      await relay.close();
    }
    expect(await peopleWithMail('quinn@acme.com')).toEqual([]);
  });

  it("removal takes every Roster group of the team away; the person's entry and other groups stay", async () => {
    const changes = await backend.remove(team, 'member:riley', { email: 'riley@acme.com' });
    expect(changes).toHaveLength(4);
    expect(await groupsOf('riley@acme.com')).toEqual(['wiki-editors']);
    expect(await peopleWithMail('riley@acme.com')).toHaveLength(1);
    expect(await backend.remove(team, 'member:riley', { email: 'riley@acme.com' })).toEqual([]);
    // Noah (another member) keeps his groups.
    expect(await groupsOf('noah@acme.com')).toHaveLength(4);
  });

  it('a group of another team is never touched', async () => {
    const other = { namespace: 'acme', name: 'acme-admin' }; // "acme" + "admin" must not read as team acme, role admin
    await backend.ensure({ team: other, key: 'member:noah', person: { email: 'noah@acme.com' }, role: 'observer', targets: [] });
    expect(await groupsOf('noah@acme.com')).toContain('roster_acme_acme-admin_observer');
    await backend.remove(team, 'member:noah', { email: 'noah@acme.com' });
    expect(await groupsOf('noah@acme.com')).toEqual(['roster_acme_acme-admin', 'roster_acme_acme-admin_observer']);
  });
});

describe('ldap backend, end to end with the operator', () => {
  const kubeconfig = inject('kubeconfigPath');
  const ns = 'globex-ldap-e2e';
  let admin: KubeClient;
  let smtp: TestSmtpServer;
  let operator: OperatorProcess;

  const membership = () => admin.get<Membership>(resources.membership, ns, 'riley');
  const condition = (m: Membership, type: string) => m.status?.conditions?.find((c) => c.type === type);
  const teamGroups = ['roster_globex-ldap-e2e_globex', 'roster_globex-ldap-e2e_globex_developer', 'roster_globex-ldap-e2e_globex_developer_shop_staging'];

  beforeAll(async () => {
    admin = KubeClient.fromFile(kubeconfig);
    await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    smtp = await startSmtpServer();
    operator = await startOperator({
      kubeconfigPath: kubeconfig,
      smtpPort: smtp.port,
      config: {
        resyncMinutes: 0.05, // every 3 s: drift in LDAP is noticed by resync (no watch on LDAP)
        identityBackends: {
          default: { type: 'kubernetes' },
          // The test's slapd listens on loopback with plain ldap://.
          corp: {
            type: 'ldap',
            url: ldap.url,
            bindDn: ldap.rosterDn,
            bindPasswordFile: ldap.rosterPasswordFile,
            peopleDn: ldap.peopleDn,
            groupsDn: ldap.groupsDn,
            timeoutMs: 3000,
            connectTimeoutMs: 1000,
            allowInsecure: true,
          },
        },
      },
    });
  });

  afterAll(async () => {
    if (admin) await removeNamespaces(admin, [ns]); // while the operator runs its finalizers
    await operator?.kill('SIGTERM');
    await smtp?.stop();
    admin?.close();
  });

  it('an accepted Membership of a Team on the ldap backend is in its LDAP groups; a removal by hand is put back with a DriftCorrected Event', async () => {
    const manifest = `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: globex, namespace: ${ns} }
spec:
  owner: { email: hank@globex.example }
  seats: 5
  identity: { backend: corp }
---
apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: shop, namespace: ${ns} }
spec:
  team: globex
  environments: [{ name: staging, namespace: shop-staging-ldap }, { name: production, namespace: shop-prod-ldap }]
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: riley, namespace: ${ns} }
spec: { team: globex, email: riley@globex.example, name: Riley Park, role: developer, projects: [{ name: shop, environments: [staging] }] }
`;
    const applied = await kubectl(kubeconfig, ['apply', '-f', '-'], manifest);
    expect(applied.code, applied.stderr).toBe(0);
    const link = await eventually(() => {
      const mail = smtp.messages.find((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((t) => t?.value.some((v) => v.address === 'riley@globex.example')));
      const match = /(http:\/\/127\.0\.0\.1:\d+\/invite\/[A-Za-z0-9_-]+)/.exec(mail?.text ?? '');
      expect(match).toBeTruthy();
      return match![1]!;
    }, 30_000);
    expect((await fetch(link, { method: 'POST' })).status).toBe(200);

    await eventually(async () => {
      const m = await membership();
      expect(m.status?.phase).toBe('Active');
      expect(condition(m, 'IdentitySynced')?.status).toBe('True');
    }, 30_000);
    const [dn] = await peopleWithMail('riley@globex.example');
    expect((await membership()).status?.identity).toMatchObject({ backend: 'corp', subject: dn });
    expect(await groupsOf('riley@globex.example')).toEqual(teamGroups);

    await modifyMember('roster_globex-ldap-e2e_globex_developer', 'riley@globex.example', 'delete');
    await eventually(async () => expect(await groupsOf('riley@globex.example')).toEqual(teamGroups), 30_000);
    const drift = await eventRecorded(admin, ns, 'DriftCorrected', 'riley', 30_000);
    expect(drift.note).toContain('added riley@globex.example to LDAP group roster_globex-ldap-e2e_globex_developer');
  });

  it('the LDAP server down: IdentitySynced=False with the reason, then recovery with nothing lost and nothing duplicated', async () => {
    await ldap.halt();
    try {
      await eventually(
        async () => {
          const synced = condition(await membership(), 'IdentitySynced');
          expect(synced?.status).toBe('False');
          expect(synced?.reason).toBe('Unreachable');
          expect(synced?.message).toContain(ldap.url);
        },
        60_000,
        500,
      );
    } finally {
      await ldap.resume();
    }
    await eventually(async () => expect(condition(await membership(), 'IdentitySynced')?.status).toBe('True'), 90_000, 500);
    expect(await groupsOf('riley@globex.example')).toEqual(teamGroups);
    expect(await peopleWithMail('riley@globex.example')).toHaveLength(1);
    expect((await allGroupNames()).filter((n) => n.startsWith('roster_globex-ldap-e2e_globex'))).toEqual(expect.arrayContaining(teamGroups));
  });

  it('deleting the Membership takes the LDAP groups away before the object goes', async () => {
    const deleted = await kubectl(kubeconfig, ['delete', 'membership', 'riley', '-n', ns, '--wait=true']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(await groupsOf('riley@globex.example')).toEqual([]);
    expect(await peopleWithMail('riley@globex.example')).toHaveLength(1);
  });
});
