// Who did it (issue 10, item 2): every change to a team — invite, resend, accept, role
// change, revoke, removal, deletion of a standalone invitation, ownership transfer — names
// the person who made it, in the Event on the object, in the operator's audit stream and in
// `kubectl roster audit`. The people act through impersonation against the real API server
// with the operator's webhook registered, as they would with their own credentials. Each
// change is recorded once (no `AccessRemoved` twice, no `Activated (x2)`).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Membership } from '../../src/api/generated.ts';
import { resources } from '../../src/api/resources.ts';
import { projectRoot } from '../../controlplane/harness.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import { removeWebhook, startWebhookOperator, TEST_LABEL } from './admission/support.ts';
import { kubectl } from './kubectl.ts';
import { removeNamespaces } from './support/cleanup.ts';
import { eventually } from './support/eventually.ts';
import { acceptLatest, mailsTo } from './support/invitations.ts';
import type { OperatorProcess } from './support/operator.ts';
import { startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
const suite = 'audit';
const ns = 'audit-acme';
const owen = 'owen@acme.example';
const ada = 'ada@acme.example';
const bob = 'bob@acme.example';
const carol = 'carol@acme.example';

let admin: KubeClient;
let operator: OperatorProcess;
let smtp: TestSmtpServer;

const as = (user: string | undefined, args: string[], input?: string) => kubectl(kubeconfig, [...args, ...(user ? [`--as=${user}`] : [])], input);

async function ok(result: Promise<{ code: number; stderr: string; stdout: string }>): Promise<string> {
  const r = await result;
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

interface AuditLine {
  time: string;
  reason: string;
  object: string;
  actor?: string;
  note: string;
  count: number;
}

function rosterAudit(): Promise<AuditLine[]> {
  return new Promise((resolve, reject) => {
    execFile(
      join(projectRoot, 'bin', 'kubectl-roster'),
      ['audit', 'acme', '-n', ns, '-o', 'json', '--kubeconfig', kubeconfig],
      { cwd: projectRoot, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${error.message}\n${stderr}`));
        resolve((JSON.parse(stdout) as { events: AuditLine[] }).events);
      },
    );
  });
}

/** The audit stream lines of the operator log (JSON lines with "stream":"audit"). */
function auditStream(): Array<Record<string, unknown>> {
  return operator
    .logs()
    .split('\n')
    .filter((l) => l.includes('"stream":"audit"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function expectEvent(reason: string, object: string, actor: string): Promise<AuditLine> {
  return await eventually(
    async () => {
      const line = (await rosterAudit()).find((e) => e.reason === reason && e.object === object);
      expect(line, `${reason} on ${object}`).toBeDefined();
      expect(line!.actor).toBe(actor);
      return line!;
    },
    30_000,
    300,
  );
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [TEST_LABEL]: suite } } });
  smtp = await startSmtpServer();
  operator = await startWebhookOperator(admin, suite, { kubeconfigPath: kubeconfig, smtpPort: smtp.port });
  await ok(
    as(
      undefined,
      ['apply', '-f', '-'],
      `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${ns} }
spec: { owner: { email: ${owen} }, seats: 6 }
`,
    ),
  );
  await acceptLatest(smtp, owen);
  await eventually(
    async () => expect((await kubectl(kubeconfig, ['auth', 'can-i', 'create', 'memberships.roster.dev', '-n', ns, `--as=${owen}`])).stdout.trim()).toBe('yes'),
    30_000,
    250,
  );
}, 180_000);

afterAll(async () => {
  if (admin) await removeNamespaces(admin, [ns]);
  await operator?.kill('SIGTERM');
  if (admin) await removeWebhook(admin, suite);
  await smtp?.stop();
  admin?.close();
});

describe('every change names who made it', () => {
  it('invite, accept, resend, role change and removal, each once', async () => {
    // The owner invites Ada (admin); Ada accepts.
    await ok(
      as(
        owen,
        ['apply', '-f', '-'],
        `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: ada, namespace: ${ns} }
spec: { team: acme, email: ${ada}, role: admin }
`,
      ),
    );
    await expectEvent('Invited', 'membership/ada', owen);
    await acceptLatest(smtp, ada);
    await expectEvent('Activated', 'membership/ada', ada);
    await eventually(
      async () => expect((await kubectl(kubeconfig, ['auth', 'can-i', 'create', 'memberships.roster.dev', '-n', ns, `--as=${ada}`])).stdout.trim()).toBe('yes'),
      30_000,
      250,
    );

    // Ada invites Bob and resends; the owner resends too.
    await ok(
      as(
        ada,
        ['apply', '-f', '-'],
        `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: bob, namespace: ${ns} }
spec: { team: acme, email: ${bob}, role: observer }
`,
      ),
    );
    const invitation = await eventually(async () => {
      const m = await admin.get<Membership>(resources.membership, ns, 'bob');
      expect(m.status?.invitation).toBeTruthy();
      return m.status!.invitation!;
    }, 30_000);
    await expectEvent('Sent', `invitation/${invitation}`, ada);
    await eventually(() => expect(mailsTo(smtp, bob)).toHaveLength(1), 30_000);
    await ok(as(owen, ['annotate', 'invitation', invitation, '-n', ns, `roster.dev/resend=${Date.now()}`, '--overwrite']));
    await expectEvent('Resent', `invitation/${invitation}`, owen);
    await eventually(() => expect(mailsTo(smtp, bob)).toHaveLength(2), 30_000);

    await acceptLatest(smtp, bob);
    await expectEvent('Activated', 'membership/bob', bob);
    await ok(as(ada, ['patch', 'membership', 'bob', '-n', ns, '--type=merge', '-p', '{"spec":{"role":"developer"}}']));
    await expectEvent('AccessChanged', 'membership/bob', ada);

    await ok(as(ada, ['delete', 'membership', 'bob', '-n', ns, '--wait=true']));
    await expectEvent('AccessRemoved', 'membership/bob', ada);

    // Once each, in Events and in the audit stream.
    const trail = await rosterAudit();
    for (const [reason, object] of [
      ['AccessRemoved', 'membership/bob'],
      ['Activated', 'membership/bob'],
      ['Activated', 'membership/ada'],
    ] as const) {
      const lines = trail.filter((e) => e.reason === reason && e.object === object);
      expect(lines, `${reason} ${object}`).toHaveLength(1);
      expect(lines[0]!.count, `${reason} ${object}`).toBe(1);
    }
    const stream = auditStream().filter((l) => l.team === 'acme' && l.subject === bob);
    expect(stream.filter((l) => l.action === 'remove')).toEqual([expect.objectContaining({ actor: ada })]);
    expect(stream.filter((l) => l.action === 'resend')).toEqual([expect.objectContaining({ actor: owen })]);
    expect(stream.filter((l) => l.action === 'change-role')).toEqual([expect.objectContaining({ actor: ada, roleBefore: 'observer', roleAfter: 'developer' })]);
    expect(stream.filter((l) => l.action === 'accept')).toEqual([expect.objectContaining({ actor: bob })]);
  });

  it('a standalone invitation revoked, and another deleted, name who did it', async () => {
    await ok(
      as(
        ada,
        ['apply', '-f', '-'],
        `apiVersion: roster.dev/v1alpha1
kind: Invitation
metadata: { name: carol, namespace: ${ns} }
spec: { team: acme, email: ${carol}, role: observer }
---
apiVersion: roster.dev/v1alpha1
kind: Invitation
metadata: { name: dave, namespace: ${ns} }
spec: { team: acme, email: dave@acme.example, role: observer }
`,
      ),
    );
    await expectEvent('Sent', 'invitation/carol', ada);
    await ok(as(owen, ['patch', 'invitation', 'carol', '-n', ns, '--type=merge', '-p', '{"spec":{"revoked":true}}']));
    await expectEvent('Revoked', 'invitation/carol', owen);
    await expectEvent('Sent', 'invitation/dave', ada);
    await ok(as(owen, ['delete', 'invitation', 'dave', '-n', ns]));
    await expectEvent('Deleted', 'invitation/dave', owen);
    await eventually(
      () =>
        expect(auditStream().filter((l) => l.action === 'delete' && l.subject === 'dave@acme.example')).toEqual([
          expect.objectContaining({ actor: owen, kind: 'Invitation' }),
        ]),
      10_000,
    );
  });

  it('an ownership transfer names the owner who made it', async () => {
    await ok(as(owen, ['patch', 'team', 'acme', '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: { owner: { email: ada } } })]));
    const line = await expectEvent('OwnershipTransferred', 'team/acme', owen);
    expect(line.note).toContain(`ownership moved from ${owen} to ${ada}`);
    expect(auditStream().filter((l) => l.action === 'transfer-ownership')).toEqual([expect.objectContaining({ actor: owen, subject: ada })]);
  });

  it('nobody can blame someone else for a deletion in advance', async () => {
    await ok(
      as(
        ada,
        ['apply', '-f', '-'],
        `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: erin, namespace: ${ns}, annotations: { roster.dev/deleted-by: ${owen} } }
spec: { team: acme, email: erin@acme.example, role: observer }
`,
      ),
    );
    const m = await admin.get<Membership>(resources.membership, ns, 'erin');
    expect(m.metadata.annotations?.['roster.dev/deleted-by']).toBeUndefined();
    expect(m.metadata.annotations?.['roster.dev/created-by']).toBe(ada);
    await ok(as(ada, ['annotate', 'membership', 'erin', '-n', ns, `roster.dev/deleted-by=${owen}`]));
    const after = await admin.get<Membership>(resources.membership, ns, 'erin');
    expect(after.metadata.annotations?.['roster.dev/deleted-by']).toBeUndefined();
    await ok(as(ada, ['delete', 'membership', 'erin', '-n', ns, '--wait=true']));
    await expectEvent('AccessRemoved', 'membership/erin', ada);
  });
});
