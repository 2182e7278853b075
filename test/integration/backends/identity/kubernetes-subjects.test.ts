// The kubernetes backend's subjects against the real API server, proven by
// SubjectAccessReview (what `kubectl auth can-i` asks): with userPrefix `oidc:` the binding is
// for `oidc:<email>` and not the bare address; with subject Group, Roster binds groups (one per
// team and role, per environment for scoped roles) whoever the IdP puts in them, and a group
// binding shared by several members stays until the last of them is gone.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Membership } from '../../../../src/api/generated.ts';
import { resources } from '../../../../src/api/resources.ts';
import { KubeClient, type KubeObject } from '../../../../src/runtime/kube-client.ts';
import { kubectl } from '../../kubectl.ts';
import { canI } from '../../support/access.ts';
import { removeNamespaces } from '../../support/cleanup.ts';
import { eventually } from '../../support/eventually.ts';
import { accept, linkIn } from '../../support/invitations.ts';
import { startOperator, type OperatorProcess } from '../../support/operator.ts';
import { startSmtpServer, type TestSmtpServer } from '../../support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
const users = 'ksub-users'; // team acme, default backend: User oidc:<email>
const groups = 'ksub-groups'; // team acme, backend "groups": subject Group
const env = (control: string, name: string) => `${control}-${name}`;
const namespaces = [users, groups, env(users, 'staging'), env(users, 'production'), env(groups, 'staging'), env(groups, 'production')];

let admin: KubeClient;
let smtp: TestSmtpServer;
let operator: OperatorProcess;

const deploy = (user: string, namespace: string, groupsOf: string[] = ['system:authenticated']) =>
  canI(admin, user, 'update', 'deployments', namespace, 'apps', groupsOf);
const scopedGroup = `roster:${groups}:acme:developer:shop:staging`;
const teamGroup = `roster:${groups}:acme:developer`;

function manifests(control: string, backend: string, members: Array<{ name: string; email: string; scoped: boolean }>): string {
  const docs = [
    `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${control} }
spec: { owner: { email: owner@acme.com }, seats: 10, identity: { backend: ${backend} } }`,
    `apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: shop, namespace: ${control} }
spec: { team: acme, environments: [{ name: staging, namespace: ${env(control, 'staging')} }, { name: production, namespace: ${env(control, 'production')} }] }`,
    ...members.map(
      (m) => `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: ${m.name}, namespace: ${control} }
spec: { team: acme, email: ${m.email}, role: developer${m.scoped ? ', projects: [{ name: shop, environments: [staging] }]' : ''} }`,
    ),
  ];
  return docs.join('\n---\n') + '\n';
}

async function active(control: string, name: string): Promise<void> {
  await eventually(
    async () => {
      const m = await admin.get<Membership>(resources.membership, control, name);
      expect(m.status?.phase, `${control}/${name}`).toBe('Active');
    },
    60_000,
    500,
  );
}

async function groupBindings(namespace: string, group: string): Promise<string[]> {
  const list = await admin.list<KubeObject & { subjects?: Array<{ kind: string; name: string }> }>(resources.roleBinding, namespace, {
    labelSelector: 'app.kubernetes.io/managed-by=roster',
  });
  return list.items.filter((b) => b.subjects?.some((s) => s.kind === 'Group' && s.name === group)).map((b) => b.metadata.name ?? '');
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  for (const name of namespaces) {
    const control = name.startsWith(groups) ? groups : users;
    const labels: Record<string, string> = name === users || name === groups ? {} : { 'roster.dev/team': control };
    await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  }
  smtp = await startSmtpServer();
  operator = await startOperator({
    kubeconfigPath: kubeconfig,
    smtpPort: smtp.port,
    config: {
      identityBackends: {
        default: { type: 'kubernetes', userPrefix: 'oidc:' },
        groups: { type: 'kubernetes', subject: 'Group' },
      },
    },
  });
  const applied = await kubectl(kubeconfig, ['apply', '-f', '-'], manifests(users, 'default', [{ name: 'riley', email: 'riley@acme.com', scoped: true }]));
  expect(applied.code, applied.stderr).toBe(0);
  const appliedGroups = await kubectl(
    kubeconfig,
    ['apply', '-f', '-'],
    manifests(groups, 'groups', [
      { name: 'riley', email: 'riley@acme.com', scoped: true },
      { name: 'sam', email: 'sam@acme.com', scoped: true },
      { name: 'noah', email: 'noah@acme.com', scoped: false },
    ]),
  );
  expect(appliedGroups.code, appliedGroups.stderr).toBe(0);
  // Addresses are invited by both teams: accept every link mailed, each once.
  const accepted = new Set<string>();
  await eventually(
    async () => {
      for (const mail of smtp.messages) {
        const link = linkIn(mail);
        if (link === undefined || accepted.has(link)) continue;
        const res = await accept(link);
        expect(res.status, res.body).toBe(200);
        accepted.add(link);
      }
      await active(users, 'riley');
      for (const name of ['riley', 'sam', 'noah']) await active(groups, name);
    },
    120_000,
    1_000,
  );
}, 240_000);

afterAll(async () => {
  if (admin) await removeNamespaces(admin, namespaces);
  await operator?.kill();
  await smtp?.stop();
  admin?.close();
}, 180_000);

describe('kubernetes backend subjects', () => {
  it('userPrefix oidc: binds User oidc:<email>; the bare address gets nothing', async () => {
    await eventually(async () => expect(await deploy('oidc:riley@acme.com', env(users, 'staging'))).toBe(true), 30_000, 500);
    expect(await deploy('riley@acme.com', env(users, 'staging'))).toBe(false);
    expect(await deploy('oidc:riley@acme.com', env(users, 'production'))).toBe(false);
  });

  it('subject Group binds groups: the scoped group reaches staging only, the team-wide group every environment, the user nothing', async () => {
    await eventually(async () => expect(await deploy('someone@idp.example', env(groups, 'staging'), [scopedGroup])).toBe(true), 30_000, 500);
    expect(await deploy('someone@idp.example', env(groups, 'production'), [scopedGroup])).toBe(false);
    expect(await deploy('someone@idp.example', groups, [scopedGroup])).toBe(false);
    expect(await deploy('someone@idp.example', env(groups, 'production'), [teamGroup])).toBe(true);
    expect(await deploy('someone@idp.example', env(groups, 'staging'), [teamGroup])).toBe(true);
    // No per-person binding: riley gets access only through the IdP's groups.
    expect(await deploy('riley@acme.com', env(groups, 'staging'))).toBe(false);
    // One binding for the group, however many members map to it.
    expect(await groupBindings(env(groups, 'staging'), scopedGroup)).toHaveLength(1);
  });

  it('removing one of two members sharing a group keeps the binding; removing the last removes it', async () => {
    const [binding] = await groupBindings(env(groups, 'staging'), scopedGroup);
    await admin.delete(resources.membership, groups, 'riley');
    await eventually(async () => expect(await admin.find(resources.membership, groups, 'riley')).toBeUndefined(), 60_000, 500);
    expect(await groupBindings(env(groups, 'staging'), scopedGroup)).toEqual([binding]);
    expect(await deploy('someone@idp.example', env(groups, 'staging'), [scopedGroup])).toBe(true);

    await admin.delete(resources.membership, groups, 'sam');
    await eventually(async () => expect(await groupBindings(env(groups, 'staging'), scopedGroup)).toEqual([]), 60_000, 500);
    await eventually(async () => expect(await deploy('someone@idp.example', env(groups, 'staging'), [scopedGroup])).toBe(false), 60_000, 500);
    // Noah's team-wide group is not touched.
    expect(await deploy('someone@idp.example', env(groups, 'staging'), [teamGroup])).toBe(true);
  });
});
