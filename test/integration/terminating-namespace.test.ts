// A namespace holding a Team is deleted (issue 10 item 8): the API server refuses every new
// object in a Terminating namespace (403), so a controller that keeps trying to create the
// owner's or a member's invitation there spins in a 403 loop until the namespace is gone.
// The operator must create nothing there, and still run its finalizers so the namespace goes.
//
// How long the Team outlives its namespace's Terminating phase depends on the order in which
// the namespace controller deletes kinds. To make the window certain, a ValidatingAdmission
// Policy holds the deletion of Teams and Memberships in this namespace for a few seconds
// (the namespace controller retries, as it does for any refusal), then is lifted.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Invitation, Membership, Team } from '../../src/api/generated.ts';
import { resources } from '../../src/api/resources.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import { kubectl } from './kubectl.ts';
import { eventually } from './support/eventually.ts';
import { removeNamespaces } from './support/cleanup.ts';
import { startOperator, type OperatorProcess } from './support/operator.ts';
import { startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
const ns = 'terminating-e2e';
const hold = `roster-test-hold-${ns}`;
let admin: KubeClient;
let smtp: TestSmtpServer;
let operator: OperatorProcess;

async function apply(manifest: string): Promise<void> {
  const result = await kubectl(kubeconfig, ['apply', '-f', '-'], manifest);
  expect(result.stderr, manifest).toBe('');
}

/** The operator's log lines about this namespace that report a refused (403) write. */
function forbiddenLines(): string[] {
  return operator
    .logs()
    .split('\n')
    .filter((line) => line.includes(ns) && /forbidden|\b403\b|being terminated/i.test(line));
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  smtp = await startSmtpServer();
  operator = await startOperator({ kubeconfigPath: kubeconfig, smtpPort: smtp.port });
});

afterAll(async () => {
  await kubectl(kubeconfig, ['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', hold, '--ignore-not-found']);
  if (admin) await removeNamespaces(admin, [ns]);
  await operator?.kill('SIGTERM');
  await smtp?.stop();
  admin?.close();
});

describe('a namespace holding a Team is deleted', () => {
  it('creates nothing there while it terminates, and still lets it go', async () => {
    await apply(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: { name: ${hold} }
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - { apiGroups: [roster.dev], apiVersions: ['*'], operations: [DELETE], resources: [teams, memberships] }
  validations:
    - { expression: 'false', message: 'held by the test: the Team outlives its namespace for a while' }
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: { name: ${hold} }
spec:
  policyName: ${hold}
  validationActions: [Deny]
  matchResources:
    namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ${ns} } }
`);
    await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await apply(`apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: doomed, namespace: ${ns} }
spec: { owner: { email: owner@doomed.example }, seats: 3 }
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: dana, namespace: ${ns} }
spec: { team: doomed, email: dana@doomed.example, role: developer }
`);
    // The hold is in force (policies take a moment to load) before the namespace goes.
    await eventually(
      async () => {
        const dry = await kubectl(kubeconfig, ['delete', 'team', 'doomed', '-n', ns, '--dry-run=server']);
        expect(dry.stderr).toContain('held by the test');
      },
      30_000,
      250,
    );
    await admin.delete(resources.namespace, undefined, ns);

    // The namespace controller deletes what it may (the invitations), and the Team and the
    // Membership stay, alive, in a Terminating namespace.
    await eventually(
      async () => {
        expect((await admin.list<Invitation>(resources.invitation, ns)).items).toEqual([]);
      },
      30_000,
      250,
    );
    await new Promise((r) => setTimeout(r, 6_000));
    const team = await admin.get<Team>(resources.team, ns, 'doomed');
    expect(team.metadata.deletionTimestamp).toBeUndefined();
    expect((await admin.get<Membership>(resources.membership, ns, 'dana')).metadata.deletionTimestamp).toBeUndefined();
    expect((await admin.list<Invitation>(resources.invitation, ns)).items).toEqual([]);
    // A 403 loop shows as one refused create after another; a reconcile that raced the
    // namespace cache may meet one or two.
    expect(forbiddenLines().length, forbiddenLines().slice(0, 5).join('\n')).toBeLessThanOrEqual(3);

    // Lifted: the Team and Membership go through their finalizers and the namespace goes.
    await kubectl(kubeconfig, ['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', hold]);
    await eventually(async () => expect(await admin.find(resources.namespace, undefined, ns)).toBeUndefined(), 120_000, 500);
    expect(forbiddenLines().length, forbiddenLines().slice(0, 5).join('\n')).toBeLessThanOrEqual(3);
  });
});
