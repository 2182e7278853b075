// Mixed-case email addresses (issue 10 item 8). Kubernetes user names are case-sensitive and
// come from the cluster's authenticator (an OIDC email claim keeps the IdP's case), so the
// kubernetes backend binds the address exactly as written in the manifest. Proven with the
// API server's own authorizer (SubjectAccessReview, what `kubectl auth can-i --as` asks):
// the written spelling gets the access, another spelling gets none, and `kubectl roster
// can-i` says the same for both, naming the bound user and warning about the other spelling.
// Admission admits such an address with a warning that says so (Membership and Team here).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Membership, Team } from '../../src/api/generated.ts';
import { resources } from '../../src/api/resources.ts';
import type { RoleBinding } from '../../src/backends/identity/kubernetes.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import { projectRoot } from '../../controlplane/harness.ts';
import { removeWebhook, startWebhookOperator, testNamespace } from './admission/support.ts';
import { canI } from './support/access.ts';
import { kubectl } from './kubectl.ts';
import { eventually } from './support/eventually.ts';
import { removeNamespaces } from './support/cleanup.ts';
import type { OperatorProcess } from './support/operator.ts';
import { startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
const suite = 'mixed-case';
const ns = 'mixed-e2e';
const staging = 'mixed-e2e-staging';
const plugin = join(projectRoot, 'bin', 'kubectl-roster');
const RILEY = 'Riley@Mixed.example';
const MORGAN = 'Morgan@Mixed.example';
let admin: KubeClient;
let smtp: TestSmtpServer;
let operator: OperatorProcess;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function roster(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(plugin, [...args, '-n', ns], { cwd: projectRoot, env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 99) : 0, stdout, stderr }),
    );
  });
}

/** What the API server's authorizer says: the same question `kubectl auth can-i --as USER` asks. */
const allowedFor = (user: string, verb: string, group: string, resource: string, namespace: string) => canI(admin, user, verb, resource, namespace, group);

/** The accept link in the newest mail to `email` (mail addresses are matched without case). */
async function acceptMailTo(email: string): Promise<void> {
  const link = await eventually(() => {
    const mail = smtp.messages
      .filter((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((t) => t?.value.some((v) => v.address?.toLowerCase() === email.toLowerCase())))
      .at(-1);
    const match = /(http:\/\/127\.0\.0\.1:\d+\/invite\/[A-Za-z0-9_-]+)/.exec(mail?.text ?? '');
    if (!match) throw new Error(`no mail with a link for ${email} yet`);
    return match[1]!;
  }, 30_000);
  expect((await fetch(link, { method: 'POST' })).status).toBe(200);
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  await testNamespace(admin, ns, suite);
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: staging, labels: { 'roster.dev/team': ns } } });
  smtp = await startSmtpServer();
  operator = await startWebhookOperator(admin, suite, { kubeconfigPath: kubeconfig, smtpPort: smtp.port });
});

afterAll(async () => {
  if (admin) await removeNamespaces(admin, [ns, staging]); // while the operator runs its finalizers
  await operator?.kill('SIGTERM');
  if (admin) await removeWebhook(admin, suite);
  await smtp?.stop();
  admin?.close();
});

describe('an address written in mixed case', () => {
  it('is admitted with a warning, and bound exactly as written', async () => {
    const setup = await kubectl(
      kubeconfig,
      ['apply', '-f', '-'],
      `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: mixed, namespace: ${ns} }
spec: { owner: { email: ${MORGAN} }, seats: 3 }
---
apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: shop, namespace: ${ns} }
spec: { team: mixed, environments: [{ name: staging, namespace: ${staging} }] }
`,
    );
    expect(setup.code, setup.stderr).toBe(0);
    expect(setup.stderr).toBe(
      `Warning: Team mixed binds Kubernetes user ${MORGAN} as written in spec.owner.email (user names are case-sensitive): the authenticator must present exactly that. If it presents morgan@mixed.example, write spec.owner.email in lower case\n`,
    );
    // The webhook knows the Team once the operator's cache has it.
    const member = `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: riley, namespace: ${ns} }
spec: { team: mixed, email: ${RILEY}, role: developer, projects: [{ name: shop, environments: [staging] }] }
`;
    const created = await eventually(
      async () => {
        const run = await kubectl(kubeconfig, ['apply', '-f', '-'], member);
        expect(run.code, run.stderr).toBe(0);
        return run;
      },
      30_000,
      500,
    );
    expect(created.stderr).toContain(
      `Warning: Membership riley binds Kubernetes user ${RILEY} as written in spec.email (user names are case-sensitive): the authenticator must present exactly that. If it presents riley@mixed.example, recreate it in lower case\n`,
    );

    await acceptMailTo(MORGAN);
    await acceptMailTo(RILEY);
    const riley = await eventually(
      async () => {
        const m = await admin.get<Membership>(resources.membership, ns, 'riley');
        expect(m.status?.phase).toBe('Active');
        return m;
      },
      30_000,
      250,
    );
    expect(riley.status?.identity?.subject).toBe(RILEY);
    await eventually(async () => expect((await admin.get<Team>(resources.team, ns, 'mixed')).status?.owner?.phase).toBe('Active'), 30_000, 250);

    const bindings = [
      ...(await admin.list<RoleBinding>(resources.roleBinding, staging)).items,
      ...(await admin.list<RoleBinding>(resources.roleBinding, ns)).items,
    ].filter((b) => b.metadata.labels?.['app.kubernetes.io/managed-by'] === 'roster');
    expect(bindings.flatMap((b) => b.subjects?.map((s) => s.name) ?? []).sort()).toEqual([MORGAN, MORGAN, RILEY]);

    // The API server: the written spelling has the access, the lower-case one none.
    await eventually(async () => expect(await allowedFor(RILEY, 'update', 'apps', 'deployments', staging)).toBe(true), 20_000, 250);
    expect(await allowedFor('riley@mixed.example', 'update', 'apps', 'deployments', staging)).toBe(false);
    await eventually(async () => expect(await allowedFor(MORGAN, 'create', 'roster.dev', 'memberships', ns)).toBe(true), 20_000, 250);
    expect(await allowedFor('morgan@mixed.example', 'create', 'roster.dev', 'memberships', ns)).toBe(false);
  });

  it('kubectl roster can-i agrees with the API server for either spelling, and names the bound user', async () => {
    const questions: Array<{ ask: string[]; verb: string; group: string; resource: string; namespace: string; written: string; holder: string }> = [
      {
        ask: ['deploy', '--project', 'shop', '--environment', 'staging'],
        verb: 'update',
        group: 'apps',
        resource: 'deployments',
        namespace: staging,
        written: RILEY,
        holder: 'Membership riley',
      },
      { ask: ['invite'], verb: 'create', group: 'roster.dev', resource: 'memberships', namespace: ns, written: MORGAN, holder: 'Team mixed' },
    ];
    for (const q of questions) {
      for (const spelling of [q.written, q.written.toLowerCase(), q.written.toUpperCase()]) {
        const cluster = await allowedFor(spelling, q.verb, q.group, q.resource, q.namespace);
        const text = await roster('can-i', spelling, ...q.ask);
        expect({ spelling, code: text.code }).toEqual({ spelling, code: cluster ? 0 : 1 });
        const json = await roster('can-i', spelling, ...q.ask, '-o', 'json');
        const answer = JSON.parse(json.stdout) as { allowed: boolean; user?: string; warnings?: string[]; reason: string };
        expect(answer).toMatchObject({ allowed: cluster, user: q.written });
        if (spelling === q.written) {
          expect(cluster).toBe(true);
          expect(text.stderr).toBe('');
          expect(answer.warnings).toBeUndefined();
        } else {
          expect(cluster).toBe(false);
          expect(text.stdout).toMatch(
            new RegExp(
              `^no\\nKubernetes user ${spelling.replace(/\./g, '\\.')} gets nothing from Roster: ${q.holder} binds Kubernetes user ${q.written.replace(/\./g, '\\.')}.*For ${q.written.replace(/\./g, '\\.')} the answer is yes`,
            ),
          );
          expect(text.stderr).toContain(`warning: asked about ${spelling}, but ${q.holder} binds Kubernetes user ${q.written} as written in`);
          expect(answer.warnings).toHaveLength(1);
          expect(json.stderr).toBe('');
        }
      }
    }
  });
});
