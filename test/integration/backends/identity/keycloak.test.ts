// The keycloak identity backend against a real Keycloak (the Maven Central distribution in
// start-dev, started once for this file; its realm mails through the test SMTP server). Roster
// authenticates as a confidential client with only the realm-management roles the README
// documents. Provisioning with Keycloak's own set-password mail, linking an existing user, role
// and scope changes, drift, reads that fail, removal that ends sessions, and Keycloak down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type KcAdminClient from '@keycloak/keycloak-admin-client';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createIdentityBackend } from '../../../../src/backends/identity/registry.ts';
import { IdentityBackendError, type IdentityBackend } from '../../../../src/backends/identity/types.ts';
import { grant, production, staging, team } from './fixtures.ts';
import { failMatching, isWrite } from '../../support/http-front.ts';
import { startKeycloak, type TestKeycloak } from '../../support/keycloak.ts';
import { startSmtpServer, type TestSmtpServer } from '../../support/smtp.ts';

let smtp: TestSmtpServer;
let kc: TestKeycloak;
let admin: KcAdminClient;
let backend: IdentityBackend;
let viaFront: IdentityBackend;

async function fresh(): Promise<KcAdminClient> {
  admin = await kc.admin();
  return admin;
}

async function userOf(email: string) {
  const users = await (await fresh()).users.find({ email, exact: true });
  expect(users.length).toBeLessThanOrEqual(1);
  return users[0];
}

async function groupsOf(email: string): Promise<string[]> {
  const user = await userOf(email);
  if (!user?.id) return [];
  return (await admin.users.listGroups({ id: user.id, max: 1000 })).map((g) => g.name ?? '').sort();
}

async function groupId(name: string): Promise<string> {
  const [group] = (await (await fresh()).groups.find({ search: name, exact: true })).filter((g) => g.name === name);
  if (!group?.id) throw new Error(`no group ${name}`);
  return group.id;
}

async function failure(promise: Promise<unknown>): Promise<IdentityBackendError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IdentityBackendError);
  return error as IdentityBackendError;
}

function mailsTo(address: string) {
  return smtp.messages.filter((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((t) => t?.value.some((v) => v.address === address)));
}

async function passwordLogin(username: string, password: string): Promise<Response> {
  return await fetch(`${kc.url}/realms/${kc.realm}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', client_id: 'admin-cli', username, password }),
  });
}

let secretDir: string | undefined;

beforeAll(async () => {
  smtp = await startSmtpServer();
  kc = await startKeycloak({ smtpPort: smtp.port });
  // Roster's own confidential client with the least rights the README documents.
  const a = await fresh();
  const secret = `secret-${Math.random().toString(36).slice(2)}`;
  const { id: clientUuid } = await a.clients.create({
    clientId: 'roster-operator',
    publicClient: false,
    serviceAccountsEnabled: true,
    standardFlowEnabled: false,
    secret,
  });
  const serviceAccount = await a.clients.getServiceAccountUser({ id: clientUuid });
  const [realmManagement] = await a.clients.find({ clientId: 'realm-management' });
  const roles = await Promise.all(
    ['manage-users', 'view-users', 'query-groups'].map((name) => a.clients.findRole({ id: realmManagement!.id!, roleName: name })),
  );
  await a.users.addClientRoleMappings({
    id: serviceAccount.id!,
    clientUniqueId: realmManagement!.id!,
    roles: roles.map((r) => ({ id: r!.id!, name: r!.name! })),
  });
  // A directory of its own (removed after), not a guessable shared /tmp name that may exist already.
  secretDir = mkdtempSync(join(tmpdir(), 'roster-kc-client-'));
  const secretFile = join(secretDir, 'client-secret');
  writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  const config = { type: 'keycloak' as const, realm: kc.realm, clientId: 'roster-operator', clientSecretFile: secretFile, timeoutMs: 5_000, pageSize: 2 };
  backend = createIdentityBackend('sso', { ...config, url: kc.url });
  viaFront = createIdentityBackend('sso-front', { ...config, url: kc.front.url });
}, 600_000);

afterAll(async () => {
  await kc?.stop();
  await smtp?.stop();
  if (secretDir) rmSync(secretDir, { recursive: true, force: true });
}, 60_000);

describe('keycloak backend', () => {
  it("accept: creates the user, sends Keycloak's set-password mail, and adds the team, role and scope groups", async () => {
    const result = await backend.ensure(grant('riley@acme.com', 'developer', [staging], 'Riley Park'));
    const user = await userOf('riley@acme.com');
    expect(user).toMatchObject({ username: 'riley@acme.com', firstName: 'Riley', lastName: 'Park', enabled: true, requiredActions: ['UPDATE_PASSWORD'] });
    expect(result.subject).toBe(user!.id);
    expect(result.changes).toEqual([
      'created Keycloak user riley@acme.com',
      "sent Keycloak's set-password mail to riley@acme.com",
      'added riley@acme.com to Keycloak group roster_acme_acme',
      'added riley@acme.com to Keycloak group roster_acme_acme_developer',
      'added riley@acme.com to Keycloak group roster_acme_acme_developer_shop_staging',
    ]);
    expect(await groupsOf('riley@acme.com')).toEqual(['roster_acme_acme', 'roster_acme_acme_developer', 'roster_acme_acme_developer_shop_staging']);
    const group = await admin.groups.findOne({ id: await groupId('roster_acme_acme_developer') });
    expect(group?.attributes).toMatchObject({ 'roster.dev/managed': ['true'], 'roster.dev/team': ['acme/acme'], 'roster.dev/group': ['acme/acme/developer'] });
    // Keycloak's own mail arrived at the test SMTP server, with its action link.
    await smtp.waitForMessages(1, 30_000);
    const [mail] = mailsTo('riley@acme.com');
    expect(mail?.text).toContain(`${kc.url}/realms/${kc.realm}/login-actions/action-token?key=`);
    expect(mail?.text).toMatch(/Update Password/);
    // Nothing to do the second time, and no second mail.
    expect((await backend.ensure(grant('riley@acme.com', 'developer', [staging], 'Riley Park'))).changes).toEqual([]);
    expect(mailsTo('riley@acme.com')).toHaveLength(1);
  });

  it('accept: an existing user is linked, not created, and gets no mail', async () => {
    const { id } = await (await fresh()).users.create({ username: 'noah', email: 'noah@acme.com', enabled: true, emailVerified: true });
    const result = await backend.ensure(grant('noah@acme.com', 'developer', [staging]));
    expect(result.subject).toBe(id);
    expect(result.changes.every((c) => c.startsWith('added noah@acme.com to Keycloak group'))).toBe(true);
    expect(mailsTo('noah@acme.com')).toHaveLength(0);
    expect(await groupsOf('noah@acme.com')).toEqual(['roster_acme_acme', 'roster_acme_acme_developer', 'roster_acme_acme_developer_shop_staging']);
  });

  it('role and scope changes move group memberships', async () => {
    await backend.ensure(grant('riley@acme.com', 'observer', [staging]));
    expect(await groupsOf('riley@acme.com')).toEqual(['roster_acme_acme', 'roster_acme_acme_observer', 'roster_acme_acme_observer_shop_staging']);
    await backend.ensure(grant('riley@acme.com', 'observer', [production, staging]));
    expect(await groupsOf('riley@acme.com')).toEqual([
      'roster_acme_acme',
      'roster_acme_acme_observer',
      'roster_acme_acme_observer_shop_production',
      'roster_acme_acme_observer_shop_staging',
    ]);
    expect(await groupsOf('noah@acme.com')).toEqual(['roster_acme_acme', 'roster_acme_acme_developer', 'roster_acme_acme_developer_shop_staging']);
  });

  it('drift: memberships changed by hand are put back and reported; groups Roster does not own are left alone', async () => {
    const a = await fresh();
    const riley = (await userOf('riley@acme.com'))!;
    const { id: wiki } = await a.groups.create({ name: 'wiki-editors' });
    await a.users.addToGroup({ id: riley.id!, groupId: wiki });
    await a.users.delFromGroup({ id: riley.id!, groupId: await groupId('roster_acme_acme_observer') });
    await a.users.addToGroup({ id: riley.id!, groupId: await groupId('roster_acme_acme_developer') });
    const result = await backend.ensure(grant('riley@acme.com', 'observer', [production, staging]));
    expect(result.changes.sort()).toEqual([
      'added riley@acme.com to Keycloak group roster_acme_acme_observer',
      'removed riley@acme.com from Keycloak group roster_acme_acme_developer',
    ]);
    expect(await groupsOf('riley@acme.com')).toEqual([
      'roster_acme_acme',
      'roster_acme_acme_observer',
      'roster_acme_acme_observer_shop_production',
      'roster_acme_acme_observer_shop_staging',
      'wiki-editors',
    ]);
  });

  it("a read that fails (a 5xx, or a list shorter than Keycloak's own count) throws a retryable error and removes nothing", async () => {
    const riley = (await userOf('riley@acme.com'))!;
    await admin.users.addToGroup({ id: riley.id!, groupId: await groupId('roster_acme_acme_developer') });
    const before = await groupsOf('riley@acme.com');
    const groupsRead = (url: string) => url.includes(`/users/${riley.id}/groups`) && !url.includes('/count');
    const faults = [
      { fault: failMatching((e) => groupsRead(e.url), 500, '{"error":"unknown_error"}'), reason: 'ServerError' },
      {
        fault: async (e: { url: string }, upstream: () => Promise<{ status: number; headers: Record<string, string>; body: string }>) => {
          if (!groupsRead(e.url) || !e.url.includes('first=2')) return undefined;
          const reply = await upstream();
          return { ...reply, body: '[]' }; // the second page comes back empty: fewer groups than counted
        },
        reason: 'PartialRead',
      },
    ];
    for (const { fault, reason } of faults) {
      kc.front.setFault(fault);
      const seen = kc.front.requests.length;
      try {
        const error = await failure(viaFront.ensure(grant('riley@acme.com', 'observer', [production, staging])));
        expect(error.reason).toBe(reason);
        expect(error.retryable).toBe(true);
        expect(error.message).toMatch(/could not read the Keycloak groups of riley@acme.com/);
        await failure(viaFront.remove(team, 'member:riley', { email: 'riley@acme.com' }));
      } finally {
        kc.front.setFault(undefined);
      }
      expect(kc.front.requests.slice(seen).filter((r) => isWrite(r) && !r.url.includes('/protocol/openid-connect/token'))).toEqual([]);
      expect(await groupsOf('riley@acme.com')).toEqual(before);
    }
    const result = await viaFront.ensure(grant('riley@acme.com', 'observer', [production, staging]));
    expect(result.changes).toEqual(['removed riley@acme.com from Keycloak group roster_acme_acme_developer']);
  });

  it('a cancelled call (the operator stopping) rejects at once, retryable, and writes nothing', async () => {
    const before = await groupsOf('riley@acme.com');
    // Cancelled before it starts: not one request.
    let seen = kc.front.requests.length;
    const early = await failure(viaFront.ensure(grant('quinn@acme.com', 'developer', [staging]), { signal: AbortSignal.abort() }));
    expect(early).toMatchObject({ reason: 'Cancelled', retryable: true });
    expect(kc.front.requests.length).toBe(seen);
    expect(await userOf('quinn@acme.com')).toBeUndefined();
    // Cancelled while the read of riley's groups hangs (a role change would write next).
    const riley = (await userOf('riley@acme.com'))!;
    let arrived!: () => void;
    const held = new Promise<void>((r) => (arrived = r));
    kc.front.setFault(async (e) => {
      if (!e.url.includes(`/users/${riley.id}/groups`)) return undefined;
      arrived();
      await new Promise((r) => setTimeout(r, 1_500));
      return { status: 504, headers: {}, body: '' };
    });
    seen = kc.front.requests.length;
    const abort = new AbortController();
    try {
      const call = failure(viaFront.ensure(grant('riley@acme.com', 'developer', [staging]), { signal: abort.signal }));
      await held;
      const cancelledAt = performance.now();
      abort.abort(new Error('controller membership stopped'));
      const error = await call;
      expect(performance.now() - cancelledAt).toBeLessThan(500); // not the 5 s request timeout
      expect(error).toMatchObject({ reason: 'Cancelled', retryable: true });
      expect(error.message).toContain('the operator is stopping');
      await new Promise((r) => setTimeout(r, 1_600)); // the held read has been answered by now
    } finally {
      kc.front.setFault(undefined);
    }
    expect(kc.front.requests.slice(seen).filter((r) => isWrite(r) && !r.url.includes('/protocol/openid-connect/token'))).toEqual([]);
    expect(await groupsOf('riley@acme.com')).toEqual(before);
  });

  it("removal takes the team's groups away and ends the user's sessions; the account stays", async () => {
    const a = await fresh();
    const riley = (await userOf('riley@acme.com'))!;
    await a.users.resetPassword({ id: riley.id!, credential: { type: 'password', value: 'riley-Password-1', temporary: false } });
    await a.users.update({ id: riley.id! }, { requiredActions: [] });
    const login = await passwordLogin('riley@acme.com', 'riley-Password-1');
    expect(login.status, await login.clone().text()).toBe(200);
    const { refresh_token: refreshToken } = (await login.json()) as { refresh_token: string };
    expect(await a.users.listSessions({ id: riley.id! })).toHaveLength(1);

    const changes = await backend.remove(team, 'member:riley', { email: 'riley@acme.com' });
    expect(changes).toContain('ended the Keycloak sessions of riley@acme.com');
    expect(await groupsOf('riley@acme.com')).toEqual(['wiki-editors']);
    expect(await (await fresh()).users.listSessions({ id: riley.id! })).toHaveLength(0);
    const refreshed = await fetch(`${kc.url}/realms/${kc.realm}/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'admin-cli', refresh_token: refreshToken }),
    });
    expect(refreshed.status).toBe(400);
    expect(await userOf('riley@acme.com')).toMatchObject({ enabled: true });
    expect(await backend.remove(team, 'member:riley', { email: 'riley@acme.com' })).toEqual([]);
  });

  it('Keycloak down: a retryable error with a readable reason; after the restart nothing is lost and nothing duplicated', async () => {
    const noahBefore = await groupsOf('noah@acme.com');
    const groupCount = (await admin.groups.count()).count;
    await kc.halt();
    try {
      const error = await failure(backend.ensure(grant('noah@acme.com', 'developer', [staging])));
      expect(error.retryable).toBe(true);
      expect(error.reason).toBe('Unreachable');
      expect(error.message).toContain(kc.url);
    } finally {
      await kc.resume();
    }
    expect((await backend.ensure(grant('noah@acme.com', 'developer', [staging]))).changes).toEqual([]);
    expect(await groupsOf('noah@acme.com')).toEqual(noahBefore);
    expect((await admin.groups.count()).count).toBe(groupCount);
    expect(await (await fresh()).users.find({ email: 'noah@acme.com', exact: true })).toHaveLength(1);
  }, 600_000);
});
