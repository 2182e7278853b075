// Access keys (SPEC §9) against the real API server: a key never outranks its owner. Rights
// are proven twice — by SubjectAccessReview for the key's ServiceAccount user, and with a
// real token from the TokenRequest API used in real requests — while the owner is
// demoted, removed, and the key deleted. People act through impersonation (kubectl --as),
// with the operator's webhooks registered, as in test/integration/security.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import type { AccessKey, Membership } from '../../src/api/generated.ts';
import { resources } from '../../src/api/resources.ts';
import { keyServiceAccountUser } from '../../src/domain/access-keys.ts';
import { KubeApiError, KubeClient, type KubeObject } from '../../src/runtime/kube-client.ts';
import { kubectl } from './kubectl.ts';
import { eventually } from './support/eventually.ts';
import type { OperatorProcess } from './support/operator.ts';
import { removeNamespaces } from './support/cleanup.ts';
import { acceptLatest } from './support/invitations.ts';
import { startSmtpServer, type TestSmtpServer } from './support/smtp.ts';
import { removeWebhook, startWebhookOperator, TEST_LABEL } from './admission/support.ts';
import { canI as canIAt, applyAs as applyAsAt, refusedAs as refusedAsAt } from './support/access.ts';
import { runCli } from '../../src/cli/app.ts';

const kubeconfig = inject('kubeconfigPath');
const suite = 'access-keys';
const control = 'ak-acme';
const staging = 'ak-shop-staging';
const production = 'ak-shop-prod';
const free = 'ak-free'; // exists, assigned to nobody

const owen = 'owen@ak.example'; // the team's owner
const riley = 'riley@ak.example'; // Active admin: owns the ci-deploy key
const dana = 'dana@ak.example'; // Active developer
const ada = 'ada@ak.example'; // Active admin whose Membership ends in 10 days

let admin: KubeClient;
let operator: OperatorProcess;
let smtp: TestSmtpServer;
const clients: KubeClient[] = [];

const days = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
const saUser = (key: string) => keyServiceAccountUser(control, key);
const canI = (user: string, verb: string, resource: string, namespace: string, group = '') => canIAt(admin, user, verb, resource, namespace, group);

const applyAs = (user: string | undefined, manifest: string) => applyAsAt(kubeconfig, user, manifest);
const refusedAs = (user: string, manifest: string, message: string | RegExp) => refusedAsAt(kubeconfig, user, manifest, message);

const keyManifest = (name: string, spec: string) => `apiVersion: roster.dev/v1alpha1
kind: AccessKey
metadata: { name: ${name}, namespace: ${control} }
spec: { team: acme, ${spec} }
`;

/** A short-lived token for a key's ServiceAccount, minted as `user` (TokenRequest through kubectl). */
async function mintAs(user: string, key: string) {
  return await kubectl(kubeconfig, ['create', 'token', `roster-key-${key}`, '-n', control, '--duration', '10m', `--as=${user}`]);
}

/** A client that authenticates with a bearer token only (the admin kubeconfig's cluster, nothing else). */
function tokenClient(token: string): KubeClient {
  const base = new KubeConfig();
  base.loadFromFile(kubeconfig);
  const cluster = base.getCurrentCluster();
  if (!cluster) throw new Error('no cluster in the kubeconfig');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'key', token }],
    contexts: [{ name: 'key', cluster: cluster.name, user: 'key' }],
    currentContext: 'key',
  });
  const client = new KubeClient(kc, { fieldManager: 'ci' });
  clients.push(client);
  return client;
}

/** The HTTP status of writing a ConfigMap with the token's client (200/201 = allowed). */
async function writeStatusWith(client: KubeClient, namespace: string): Promise<number> {
  try {
    await client.apply(resources.configMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'deployed-by-ci', namespace },
      data: { at: String(Date.now()) },
    });
    return 200;
  } catch (e) {
    if (e instanceof KubeApiError) return e.status;
    throw e;
  }
}

async function keyStatus(name: string) {
  return (await admin.get<AccessKey>(resources.accessKey, control, name)).status;
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  const namespaces: Array<[string, Record<string, string>]> = [
    [control, { [TEST_LABEL]: suite }],
    [staging, { 'roster.dev/team': control }],
    [production, { 'roster.dev/team': control }],
  ];
  for (const [name, labels] of namespaces) await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  smtp = await startSmtpServer();
  operator = await startWebhookOperator(admin, suite, { kubeconfigPath: kubeconfig, smtpPort: smtp.port });
  const setup = await applyAs(
    undefined,
    `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${control} }
spec: { owner: { email: ${owen} }, seats: 10 }
---
apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: shop, namespace: ${control} }
spec: { team: acme, environments: [{ name: staging, namespace: ${staging} }, { name: production, namespace: ${production} }] }
---
apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: side, namespace: ${control} }
spec: { team: acme, environments: [{ name: main, namespace: ${free} }] }
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: riley, namespace: ${control} }
spec: { team: acme, email: ${riley}, role: admin }
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: dana, namespace: ${control} }
spec: { team: acme, email: ${dana}, role: developer }
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: ada, namespace: ${control} }
spec: { team: acme, email: ${ada}, role: admin, expiresAt: "${days(10)}" }
`,
  );
  expect(setup.code, setup.stderr).toBe(0);
  // Project side's namespace did not exist when it was admitted; now it does, assigned to nobody.
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: free } });
  for (const person of [owen, riley, dana, ada]) await acceptLatest(smtp, person);
  await eventually(
    async () => {
      for (const name of ['riley', 'dana', 'ada']) expect((await admin.get<Membership>(resources.membership, control, name)).status?.phase).toBe('Active');
      expect(await canI(riley, 'create', 'memberships', control, 'roster.dev')).toBe(true);
    },
    60_000,
    250,
  );
}, 180_000);

afterAll(async () => {
  if (admin) await removeNamespaces(admin, [control, staging, production, free]);
  await operator?.kill('SIGTERM');
  if (admin) await removeWebhook(admin, suite);
  await smtp?.stop();
  for (const c of clients) c.close();
  admin?.close();
});

describe('a developer key scoped to staging', () => {
  let token = '';

  it('is created by its owner, who is stamped from the request whatever the manifest says', async () => {
    // The manifest names someone else as owner: the webhook replaces it with the requester.
    const result = await applyAs(
      riley,
      keyManifest('ci-deploy', `owner: ${dana}, role: developer, projects: [{ name: shop, environments: [staging] }], expiresAt: "${days(30)}"`),
    );
    expect(result.code, result.stderr).toBe(0);
    const key = await admin.get<AccessKey>(resources.accessKey, control, 'ci-deploy');
    expect(key.spec.owner).toBe(riley);
    await eventually(async () => {
      const status = await keyStatus('ci-deploy');
      expect(status?.phase).toBe('Active');
      expect(status?.effective).toEqual({ role: 'developer', projects: [{ name: 'shop', environments: ['staging'] }] });
      expect(status?.serviceAccount).toBe('roster-key-ci-deploy');
      expect(status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    }, 30_000);
  });

  it('may update deployments in staging and not in production (SubjectAccessReview)', async () => {
    await eventually(async () => {
      expect(await canI(saUser('ci-deploy'), 'update', 'deployments', staging, 'apps')).toBe(true);
      expect(await canI(saUser('ci-deploy'), 'update', 'deployments', production, 'apps')).toBe(false);
      expect(await canI(saUser('ci-deploy'), 'get', 'memberships', control, 'roster.dev')).toBe(false);
    }, 30_000);
  });

  it('has no token Secret: its owner mints short-lived tokens, and they work where the key reaches', async () => {
    const secrets = await admin.list<KubeObject & { type?: string }>(resources.secret, control);
    expect(secrets.items.filter((s) => s.type === 'kubernetes.io/service-account-token')).toEqual([]);
    const minted = await eventually(async () => {
      const r = await mintAs(riley, 'ci-deploy');
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    }, 30_000);
    token = minted;
    const ci = tokenClient(token);
    expect(await writeStatusWith(ci, staging)).toBe(200);
    expect(await writeStatusWith(ci, production)).toBe(403);
  });

  it('another member cannot mint a token for it', async () => {
    const r = await mintAs(dana, 'ci-deploy');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/forbidden/i);
  });

  it('cannot have its owner changed', async () => {
    await refusedAs(
      riley,
      keyManifest(
        'ci-deploy',
        `owner: ${dana}, role: developer, projects: [{ name: shop, environments: [staging] }], expiresAt: "${(await admin.get<AccessKey>(resources.accessKey, control, 'ci-deploy')).spec.expiresAt}"`,
      ),
      /spec\.owner is immutable/,
    );
    expect((await admin.get<AccessKey>(resources.accessKey, control, 'ci-deploy')).spec.owner).toBe(riley);
  });

  it('shrinks at once when its owner is demoted to observer', async () => {
    await admin.patch(resources.membership, control, 'riley', 'merge', { spec: { role: 'observer' } });
    await eventually(async () => {
      expect((await keyStatus('ci-deploy'))?.effective?.role).toBe('observer');
      expect(await canI(saUser('ci-deploy'), 'update', 'deployments', staging, 'apps')).toBe(false);
      expect(await canI(saUser('ci-deploy'), 'get', 'deployments', staging, 'apps')).toBe(true);
    }, 30_000);
    await eventually(async () => expect(await writeStatusWith(tokenClient(token), staging)).toBe(403), 30_000);
  });

  it('is suspended when its owner is removed, and its token gets 403', async () => {
    await admin.delete(resources.membership, control, 'riley');
    await eventually(async () => {
      const status = await keyStatus('ci-deploy');
      expect(status?.phase).toBe('Suspended');
      expect(status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('OwnerInactive');
      expect(await canI(saUser('ci-deploy'), 'get', 'deployments', staging, 'apps')).toBe(false);
    }, 60_000);
    const ci = tokenClient(token);
    await eventually(async () => {
      try {
        await ci.list(resources.configMap, staging);
        throw new Error('still allowed');
      } catch (e) {
        expect(e instanceof KubeApiError ? e.status : e).toBe(403);
      }
    }, 30_000);
  });
});

/** The plugin in-process, as `kubectl roster ARGS --kubeconfig … [--as USER]`: exit code and what it printed. */
async function roster(args: string[], as?: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { out: (t: string) => (out += t), err: (t: string) => (err += t) };
  const code = await runCli([...args, '--kubeconfig', kubeconfig, ...(as ? ['--as', as] : [])], { io });
  return { code, out, err };
}

describe('kubectl roster key, members and can-i', () => {
  it('creates a key, mints a token that prints alone, answers can-i from the API server, lists it, and revokes it', async () => {
    const created = await roster(
      ['key', 'create', 'cli-key', '--team', 'acme', '--role', 'developer', '--project', 'shop:staging', '--expires', '72h', '-n', control],
      owen,
    );
    expect(created.code, created.err).toBe(0);
    expect(created.out).toContain(`accesskey.roster.dev/cli-key created for ${owen}`);
    await eventually(async () => expect((await keyStatus('cli-key'))?.phase).toBe('Active'), 30_000);

    const minted = await eventually(async () => {
      const r = await roster(['key', 'token', 'cli-key', '--duration', '10m', '-n', control], owen);
      expect(r.code, r.err).toBe(0);
      return r.out;
    }, 30_000);
    expect(minted).toMatch(/^[A-Za-z0-9_.-]+\n$/); // only the token, for TOKEN=$(...)
    const ci = tokenClient(minted.trim());
    await eventually(async () => expect(await writeStatusWith(ci, staging)).toBe(200), 30_000);

    const yes = await eventually(async () => {
      const r = await roster(['can-i', 'key/cli-key', 'update', 'deployments', '-n', staging]);
      expect(r.code, r.out + r.err).toBe(0);
      return r;
    }, 30_000);
    expect(yes.out).toMatch(/^yes\nkey cli-key of owen@ak\.example is Active and holds developer/);
    const no = await roster(['can-i', 'key/cli-key', 'update', 'deployments', '-n', production]);
    expect(no.code).toBe(1);
    expect(no.out).toMatch(/^no\n/);

    const members = await roster(['members', 'acme', '-n', control]);
    expect(members.code, members.err).toBe(0);
    expect(members.out).toMatch(/key\/cli-key\s+owen@ak\.example\s+developer\s+developer\s+Active/);
    const list = await roster(['key', 'list', 'acme', '-n', control, '-o', 'json']);
    expect(JSON.parse(list.out).map((k: AccessKey) => k.metadata.name)).toContain('cli-key');

    // The audit names the key and its owner (an Event on the key, credited to its creator).
    await eventually(async () => {
      const audit = await roster(['audit', 'acme', '-n', control]);
      expect(audit.out).toMatch(/Activated\s+accesskey\/cli-key\s+owen@ak\.example\s+key cli-key of owen@ak\.example holds developer in shop \(staging\)/);
    }, 30_000);

    const revoked = await roster(['key', 'revoke', 'cli-key', '-n', control], owen);
    expect(revoked.code, revoked.err).toBe(0);
    await eventually(async () => expect(await writeStatusWith(ci, staging)).toBe(401), 30_000);
  });
});

describe('deleting a key', () => {
  it('invalidates every token it minted (401)', async () => {
    const result = await applyAs(owen, keyManifest('release', `role: developer, expiresAt: "${days(7)}"`));
    expect(result.code, result.stderr).toBe(0);
    await eventually(async () => expect((await keyStatus('release'))?.phase).toBe('Active'), 30_000);
    const token = await eventually(async () => {
      const r = await mintAs(owen, 'release');
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    }, 30_000);
    const ci = tokenClient(token);
    await eventually(async () => expect(await writeStatusWith(ci, production)).toBe(200), 30_000);
    await admin.delete(resources.accessKey, control, 'release');
    await eventually(async () => expect(await writeStatusWith(ci, production)).toBe(401), 30_000);
    await eventually(async () => expect(await admin.find(resources.serviceAccount, control, 'roster-key-release')).toBeUndefined(), 30_000);
  });
});

describe('a key that runs out', () => {
  it('is Expired at spec.expiresAt: its ServiceAccount goes, and its tokens with it (401)', async () => {
    const expiresAt = new Date(Date.now() + 25_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const result = await applyAs(owen, keyManifest('brief', `role: observer, expiresAt: "${expiresAt}"`));
    expect(result.code, result.stderr).toBe(0);
    await eventually(async () => expect((await keyStatus('brief'))?.phase).toBe('Active'), 20_000);
    const token = await eventually(async () => {
      const r = await mintAs(owen, 'brief');
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    }, 20_000);
    const ci = tokenClient(token);
    await eventually(async () => expect((await ci.list(resources.configMap, staging)).items).toBeDefined(), 20_000);
    await eventually(
      async () => {
        const status = await keyStatus('brief');
        expect(status?.phase).toBe('Expired');
        expect(status?.serviceAccount).toBeUndefined();
      },
      60_000,
      500,
    );
    expect(await admin.find(resources.serviceAccount, control, 'roster-key-brief')).toBeUndefined();
    await eventually(async () => expect(await writeStatusWith(ci, staging)).toBe(401), 30_000);
  }, 120_000);
});

describe('attackers and over-asking keys', () => {
  it('a developer (not owner or admin) cannot create a key, even where RBAC would let her', async () => {
    // Roster gives developers no rights on the team's roster objects: RBAC refuses first.
    await refusedAs(dana, keyManifest('dana-key', `role: developer, expiresAt: "${days(7)}"`), /cannot (get|create|patch) resource "accesskeys"/);
    // A lax hand-written Role lets her write AccessKeys: the webhook still refuses.
    const lax = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: lax-keys, namespace: ${control} }
rules: [{ apiGroups: [roster.dev], resources: [accesskeys], verbs: [get, list, create, patch] }]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: lax-keys, namespace: ${control} }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: lax-keys }
subjects: [{ kind: User, name: ${dana}, apiGroup: rbac.authorization.k8s.io }]
`;
    expect((await applyAs(undefined, lax)).code).toBe(0);
    await eventually(async () => expect(await canI(dana, 'create', 'accesskeys', control, 'roster.dev')).toBe(true), 30_000);
    await refusedAs(
      dana,
      keyManifest('dana-key', `role: developer, expiresAt: "${days(7)}"`),
      /dana@ak\.example is developer in team acme; only the owner or an admin may create access keys/,
    );
    expect(await admin.find(resources.accessKey, control, 'dana-key')).toBeUndefined();
  });

  it('a key asking for more than its owner has is denied, naming the difference', async () => {
    // Ada's own access ends in 10 days: a 30-day key would outlive it.
    await refusedAs(ada, keyManifest('ada-key', `role: developer, expiresAt: "${days(30)}"`), /is after the owner's own access ends/);
    await refusedAs(owen, keyManifest('too-long', `role: developer, expiresAt: "${days(120)}"`), /more than 90 days ahead/);
  });

  it('a key cannot reach a namespace not assigned to the team', async () => {
    await refusedAs(
      owen,
      keyManifest('sneaky', `role: developer, projects: [{ name: side }], expiresAt: "${days(7)}"`),
      /environment side\/main: namespace ak-free is not assigned to the team in namespace ak-acme/,
    );
    expect(await canI(saUser('sneaky'), 'get', 'configmaps', free)).toBe(false);
  });

  it('an admin role cannot be asked for', async () => {
    await refusedAs(owen, keyManifest('admin-key', `role: admin, expiresAt: "${days(7)}"`), /role must be developer or observer/);
  });
});
