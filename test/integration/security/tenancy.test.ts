// SPEC §7 as an attacker tries it. A team admin (Ada) whose admin rights Roster itself granted
// tries to use Roster to reach what is not the team's: kube-system, another team's namespace,
// the operator's namespace, the team's own control namespace, a namespace nobody assigned.
// Every attempt runs as Ada through impersonation against the real API server, with the
// operator's webhook registered; every one must end with a clear denial and, proven by
// SubjectAccessReview, no access gained. Then the second line: with the webhook out of the
// way, the operator still binds nothing outside the team's assigned namespaces, and bindings
// follow a namespace's assignment label as a cluster admin sets, changes and removes it.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Membership, Project } from '../../../src/api/generated.ts';
import { resources } from '../../../src/api/resources.ts';
import { webhookConfigurationResources, type WebhookConfigurationObject } from '../../../src/admission/registration.ts';
import { ledgerName } from '../../../src/seats/ledger.ts';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.ts';
import { kubectl } from '../kubectl.ts';
import { eventually } from '../support/eventually.ts';
import type { OperatorProcess } from '../support/operator.ts';
import { removeNamespaces } from '../support/cleanup.ts';
import { acceptLatest } from '../support/invitations.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { removeWebhook, startWebhookOperator, TEST_LABEL } from '../admission/support.ts';
import { canI as canIAt, applyAs as applyAsAt, refusedAs as refusedAsAt } from '../support/access.ts';
import { kstatusCompute, type KstatusObject } from '../../unit/domain/kstatus.ts';

const kubeconfig = inject('kubeconfigPath');
const suite = 'tenancy';
const TEAM_LABEL = 'roster.dev/team';
// Control namespaces (the webhook applies to them) and environment namespaces.
const acme = 'sec-acme';
const globex = 'sec-globex';
const ledgerNs = 'sec-ledger';
const shopProd = 'sec-shop-prod'; // assigned to acme
const globexWeb = 'sec-globex-web'; // assigned to globex
const unassigned = 'sec-free'; // nobody's
const later = 'sec-later'; // created during the test
const operatorNamespace = 'default'; // test/integration/support/operator.ts runs the operator there

const ada = 'ada@acme.example'; // Active admin of acme
const owen = 'owen@acme.example'; // owner of acme

let admin: KubeClient;
let operator: OperatorProcess;
let smtp: TestSmtpServer;

const applyAs = (user: string | undefined, manifest: string) => applyAsAt(kubeconfig, user, manifest);
const refusedAs = (user: string, manifest: string, message: string | RegExp) => refusedAsAt(kubeconfig, user, manifest, message);

const canI = (user: string, verb: string, resource: string, namespace: string, group = '') => canIAt(admin, user, verb, resource, namespace, group);

/** What an admin of the team would get in an environment (ClusterRole admin). */
const adminThere = (user: string, namespace: string) => canI(user, 'update', 'deployments', namespace, 'apps');

const project = (name: string, namespaces: string[]) => `apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: ${name}, namespace: ${acme} }
spec:
  team: acme
  environments: [${namespaces.map((ns, i) => `{ name: env${i}, namespace: ${ns} }`).join(', ')}]
`;

async function rosterBindingsIn(namespace: string): Promise<string[]> {
  const list = await admin.list<KubeObject>(resources.roleBinding, namespace, { labelSelector: 'app.kubernetes.io/managed-by=roster' });
  return list.items.map((b) => b.metadata.name ?? '');
}

async function projectCondition(name: string, type: string) {
  const p = await admin.get<Project>(resources.project, acme, name);
  return p.status?.conditions?.find((c) => c.type === type);
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  const namespaces: Array<[string, Record<string, string>]> = [
    [acme, { [TEST_LABEL]: suite }],
    [globex, { [TEST_LABEL]: suite }],
    [ledgerNs, { [TEST_LABEL]: suite }],
    [shopProd, { [TEAM_LABEL]: acme }],
    [globexWeb, { [TEAM_LABEL]: globex }],
    [unassigned, {}],
  ];
  for (const [name, labels] of namespaces) await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  smtp = await startSmtpServer();
  operator = await startWebhookOperator(admin, suite, { kubeconfigPath: kubeconfig, smtpPort: smtp.port });

  const setup = await applyAs(
    undefined,
    `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${acme} }
spec: { owner: { email: ${owen} }, seats: 5 }
---
apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: shop, namespace: ${acme} }
spec: { team: acme, environments: [{ name: production, namespace: ${shopProd} }] }
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: ada, namespace: ${acme} }
spec: { team: acme, email: ${ada}, role: admin }
---
apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: globex, namespace: ${globex} }
spec: { owner: { email: gus@globex.example }, seats: 3 }
---
apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: web, namespace: ${globex} }
spec: { team: globex, environments: [{ name: production, namespace: ${globexWeb} }] }
`,
  );
  expect(setup.code, setup.stderr).toBe(0);
  await acceptLatest(smtp, owen);
  await acceptLatest(smtp, ada);
  // Positive control: Roster made Ada an admin of the team's environment and its roster objects.
  await eventually(
    async () => {
      const m = await admin.get<Membership>(resources.membership, acme, 'ada');
      expect(m.status?.phase).toBe('Active');
      expect(await adminThere(ada, shopProd)).toBe(true);
      expect(await canI(ada, 'create', 'projects', acme, 'roster.dev')).toBe(true);
      // kstatus sees a settled team as Current (Flux health checks, `kstatus`).
      expect(kstatusCompute(m as KstatusObject).status).toBe('Current');
      expect(kstatusCompute((await admin.get<KstatusObject & KubeObject>(resources.team, acme, 'acme')) as KstatusObject).status).toBe('Current');
      expect(kstatusCompute((await admin.get<KstatusObject & KubeObject>(resources.project, acme, 'shop')) as KstatusObject).status).toBe('Current');
    },
    60_000,
    250,
  );
}, 180_000);

afterAll(async () => {
  if (admin) await removeNamespaces(admin, [acme, globex, ledgerNs, shopProd, globexWeb, unassigned, later]);
  await operator?.kill('SIGTERM');
  if (admin) await removeWebhook(admin, suite);
  await smtp?.stop();
  admin?.close();
});

describe('a team admin claiming namespaces that are not the team’s', () => {
  it.each([
    ['kube-system', /namespace kube-system is a system namespace/],
    [operatorNamespace, /roster operator's own namespace/],
    [acme, /holds the team's own roster objects/],
    [globex, /holds another team's roster objects/],
    [globexWeb, /is assigned to the team in namespace sec-globex \(roster\.dev\/team=sec-globex\), not to the team in namespace sec-acme/],
    [
      unassigned,
      /is not assigned to the team in namespace sec-acme; a cluster admin assigns it with `kubectl label namespace sec-free roster.dev\/team=sec-acme`/,
    ],
  ])('is refused for %s, and gains nothing there', async (namespace, message) => {
    await refusedAs(ada, project(`claim-${namespace.replace(/[^a-z0-9-]/g, '')}`, [namespace]), message);
    expect(await adminThere(ada, namespace)).toBe(false);
    expect(await canI(ada, 'get', 'secrets', namespace)).toBe(false);
  });

  it('cannot move an existing environment there either', async () => {
    await refusedAs(
      ada,
      `apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: shop, namespace: ${acme} }
spec: { team: acme, environments: [{ name: production, namespace: kube-system }] }
`,
      /namespace kube-system is a system namespace/,
    );
    expect(await adminThere(ada, 'kube-system')).toBe(false);
    expect(await adminThere(ada, shopProd)).toBe(true);
  });

  it('a second Team in the control namespace is refused, even for the owner', async () => {
    await eventually(async () => expect(await canI(owen, 'create', 'teams', acme, 'roster.dev')).toBe(true), 30_000);
    await refusedAs(
      owen,
      `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme-shadow, namespace: ${acme} }
spec: { owner: { email: ${owen} }, seats: 50 }
`,
      /namespace sec-acme already holds team acme, and a namespace holds one team/,
    );
  });
});

describe('the operator’s own check, whatever admission let through', () => {
  it('binds nothing outside assigned namespaces when the webhook is out of the way', async () => {
    const name = `roster-test-${suite}`;
    const saved = await admin.get<WebhookConfigurationObject>(webhookConfigurationResources.validating, undefined, name);
    await admin.delete(webhookConfigurationResources.validating, undefined, name);
    try {
      // Without the validating webhook (failurePolicy Ignore, a misconfigured chart…) the API server admits it.
      // The API server drops the webhook a moment after its configuration goes; until then it refuses (and creates nothing).
      await eventually(async () => {
        const result = await applyAs(ada, project('sneaky', ['kube-system', operatorNamespace, globexWeb, unassigned, shopProd]));
        expect(result.code, result.stderr).toBe(0);
      }, 10_000);
      await eventually(async () => {
        const condition = await projectCondition('sneaky', 'EnvironmentsAssigned');
        expect(condition?.status).toBe('False');
        expect(condition?.reason).toBe('NamespaceNotAssigned');
        expect(condition?.message).toContain('kube-system');
        expect(condition?.message).toContain(unassigned);
      }, 30_000);
      // What Flux and kstatus make of it: Failed (a person must act), not "in progress" for ever.
      const sneaky = await admin.get<Project>(resources.project, acme, 'sneaky');
      expect(kstatusCompute(sneaky as KstatusObject)).toMatchObject({ status: 'Failed' });
      // Give the operator time to act on the new project; then nothing may have been bound.
      await new Promise((r) => setTimeout(r, 2_000));
      for (const namespace of ['kube-system', operatorNamespace, globexWeb, unassigned]) {
        expect(await rosterBindingsIn(namespace), namespace).toEqual([]);
        expect(await adminThere(ada, namespace), namespace).toBe(false);
      }
      expect(await adminThere(ada, shopProd)).toBe(true);

      // A second Team in the control namespace gets in the same way: it stays inert.
      const shadow = await applyAs(
        owen,
        `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme-shadow, namespace: ${acme} }
spec: { owner: { email: mallory@evil.example }, seats: 50 }
`,
      );
      expect(shadow.code, shadow.stderr).toBe(0);
      await eventually(async () => {
        const t = await admin.get<KubeObject & { status?: { conditions?: Array<{ type: string; reason: string; message: string }> } }>(
          resources.team,
          acme,
          'acme-shadow',
        );
        const ready = t.status?.conditions?.find((c) => c.type === 'Ready');
        expect(ready?.reason).toBe('NamespaceTaken');
        expect(ready?.message).toContain('already holds team acme');
        expect(kstatusCompute(t as KstatusObject).status).toBe('Failed');
      }, 30_000);
      const invitations = await admin.list<KubeObject & { spec: { team: string } }>(resources.invitation, acme);
      expect(invitations.items.filter((i) => i.spec.team === 'acme-shadow')).toEqual([]);
      expect(smtp.messages.some((m) => JSON.stringify(m.to).includes('mallory@evil.example'))).toBe(false);
      await admin.delete(resources.team, acme, 'acme-shadow');
    } finally {
      const { metadata, ...rest } = saved;
      await admin.create(webhookConfigurationResources.validating, {
        ...rest,
        metadata: { name: metadata.name, labels: metadata.labels },
      } as WebhookConfigurationObject);
      await admin.delete(resources.project, acme, 'sneaky');
      // The next tests need the webhook back: wait until the API server calls it again (a dry run creates nothing).
      await eventually(async () => {
        const probe = await kubectl(kubeconfig, ['apply', '--dry-run=server', '-f', '-', `--as=${ada}`], project('probe', ['kube-system']));
        expect(probe.stderr).toMatch(/namespace kube-system is a system namespace/);
      }, 10_000);
    }
  });

  it('binds a namespace once it is assigned, and unbinds it when the label is removed or changed', async () => {
    const applied = await applyAs(ada, project('later', [later]));
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toMatch(/namespace sec-later does not exist yet/);
    await eventually(async () => expect((await projectCondition('later', 'EnvironmentsAssigned'))?.reason).toBe('NamespaceMissing'), 30_000);

    await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: later } });
    await eventually(async () => expect((await projectCondition('later', 'EnvironmentsAssigned'))?.reason).toBe('NamespaceNotAssigned'), 30_000);
    expect(await rosterBindingsIn(later)).toEqual([]);
    expect(await adminThere(ada, later)).toBe(false);

    const label = (value: string | null) => admin.patch(resources.namespace, undefined, later, 'merge', { metadata: { labels: { [TEAM_LABEL]: value } } });
    await label(acme);
    await eventually(
      async () => {
        expect(await adminThere(ada, later)).toBe(true);
        expect(await adminThere(owen, later)).toBe(true);
        expect((await projectCondition('later', 'EnvironmentsAssigned'))?.status).toBe('True');
      },
      30_000,
      250,
    );

    await label(null);
    await eventually(
      async () => {
        expect(await adminThere(ada, later)).toBe(false);
        expect(await adminThere(owen, later)).toBe(false);
        expect(await rosterBindingsIn(later)).toEqual([]);
      },
      30_000,
      250,
    );

    await label(acme);
    await eventually(async () => expect(await adminThere(ada, later)).toBe(true), 30_000, 250);
    await label(globex); // reassigned to another team: acme's people lose it
    await eventually(
      async () => {
        expect(await adminThere(ada, later)).toBe(false);
        expect(await rosterBindingsIn(later)).toEqual([]);
      },
      30_000,
      250,
    );
  });
});

describe('the seat ledger', () => {
  it('forged entries do not block seats', async () => {
    const applied = await applyAs(
      undefined,
      `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: ledger, namespace: ${ledgerNs} }
spec: { owner: { email: lea@ledger.example }, seats: 3 }
`,
    );
    expect(applied.code, applied.stderr).toBe(0);
    // Someone who can write ConfigMaps in the team's namespace fills the ledger: two entries
    // that claim to last until 2099, one that claims to be created in 2099.
    const longAgo = new Date(Date.now() - 10 * 60_000).toISOString();
    const entry = (name: string, createdAt: string) =>
      JSON.stringify({ kind: 'Membership', name, email: `${name}@evil.example`, createdAt, expiresAt: '2099-01-01T00:00:00Z' });
    await admin.apply(resources.configMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: ledgerName('ledger'), namespace: ledgerNs },
      data: { 'forged-1': entry('ghost1', longAgo), 'forged-2': entry('ghost2', longAgo), 'forged-3': entry('ghost3', '2099-01-01T00:00:00Z') },
    } as KubeObject);
    const member = (name: string) => `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: ${name}, namespace: ${ledgerNs} }
spec: { team: ledger, email: ${name}@ledger.example, role: observer }
`;
    for (const name of ['one', 'two']) {
      const result = await applyAs(undefined, member(name));
      expect(result.code, result.stderr).toBe(0);
    }
    const third = await applyAs(undefined, member('three'));
    expect(third.code).not.toBe(0);
    expect(third.stderr).toMatch(/team ledger has 3 of 3 seats in use; raise spec.seats or remove a member/);
  });
});

describe('an unauthenticated caller of the webhook', () => {
  it('gets no object and no access from a forged AdmissionReview', async () => {
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: '11111111-2222-3333-4444-555555555555',
        kind: { group: 'roster.dev', version: 'v1alpha1', kind: 'Membership' },
        resource: { group: 'roster.dev', version: 'v1alpha1', resource: 'memberships' },
        name: 'mallory',
        namespace: acme,
        operation: 'CREATE',
        userInfo: { username: owen, groups: ['system:authenticated'] },
        object: {
          apiVersion: 'roster.dev/v1alpha1',
          kind: 'Membership',
          metadata: { name: 'mallory', namespace: acme },
          spec: { team: 'acme', email: 'mallory@evil.example', role: 'admin' },
        },
        dryRun: false,
      },
    };
    const { request } = await import('node:https');
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: operator.webhookPort,
          path: '/validate',
          method: 'POST',
          rejectUnauthorized: false,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(review));
    });
    expect(answer.status).toBe(200); // the webhook answers whoever asks; its answer creates nothing
    expect(await admin.find(resources.membership, acme, 'mallory')).toBeUndefined();
    expect(await canI('mallory@evil.example', 'update', 'deployments', shopProd, 'apps')).toBe(false);
    expect(await canI('mallory@evil.example', 'create', 'memberships', acme, 'roster.dev')).toBe(false);
  });
});
