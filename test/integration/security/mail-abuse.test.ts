// Mail cannot be turned into a relay (SPEC §7, issue 11 item 3; issue 10 item 5): the operator
// runs as a real process with its webhook registered in the real kube-apiserver, mails into a
// real SMTP server, and each attack is tried with kubectl as the person who would try it
// (impersonated, with only the roster:team-* RBAC a team gives them): a team owner spoofing
// the sender, a team admin flooding resends, a team admin revoking a Membership's invitation
// (which used to mail a fresh link at once), an over-long message. Each ends with a denial
// that says what to do and with no mail sent.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Invitation, Team } from '../../../src/api/generated.ts';
import { resources } from '../../../src/api/resources.ts';
import { webhookConfigurationResources, type WebhookConfigurationObject } from '../../../src/admission/registration.ts';
import { teamClusterRoles } from '../../../src/backends/identity/kubernetes.ts';
import { freePort } from '../../../controlplane/harness.ts';
import { KubeClient } from '../../../src/runtime/kube-client.ts';
import { kubectl, type KubectlResult } from '../kubectl.ts';
import { removeWebhook, testNamespace, webhookConfig } from '../admission/support.ts';
import { removeNamespaces } from '../support/cleanup.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorProcess } from '../support/operator.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
const suite = 'mail-abuse';
const ns = 'sec-mail'; // team acme's control namespace
const ns2 = 'sec-mail-new'; // where a new team is created
const COOLDOWN = 8; // seconds: short, so the test can wait one out
const owner = 'liam@acme.com'; // roster:team-owner in ns
const teamAdmin = 'alice@acme.com'; // roster:team-admin in ns
let admin: KubeClient;
let operator: OperatorProcess;
let smtp: TestSmtpServer;

const as = (user: string) => [`--as=${user}`];
const run = (args: string[], input?: string) => kubectl(kubeconfig, args, input);
const apply = (manifest: string, ...flags: string[]) => run(['apply', '-f', '-', ...flags], manifest);

function deniedWith(result: KubectlResult, message: string | RegExp): void {
  expect(result.code, `expected a denial, got: ${result.stdout}`).not.toBe(0);
  expect(result.stderr).toMatch(message);
}

async function canI(user: string, verb: string, resource: string, namespace = ns): Promise<boolean> {
  const result = await run(['auth', 'can-i', verb, resource, '-n', namespace, ...as(user)]);
  return result.stdout.trim() === 'yes';
}

const mailsTo = (email: string) => smtp.received.filter((r) => r.envelope.to.includes(email));

const teamManifest = (namespace: string, from?: string, ownerEmail = owner) => `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${namespace} }
spec:
  owner: { email: ${ownerEmail} }
  seats: 10
${from === undefined ? '' : `  invitations: { from: ${JSON.stringify(from)} }\n`}`;

const invitationManifest = (name: string, email: string, extra = '') => `apiVersion: roster.dev/v1alpha1
kind: Invitation
metadata: { name: ${name}, namespace: ${ns} }
spec: { team: acme, email: ${email}, role: observer${extra} }
`;

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  await testNamespace(admin, ns, suite);
  await testNamespace(admin, ns2, suite);
  smtp = await startSmtpServer();
  const webhookPort = await freePort();
  operator = await startOperator({
    kubeconfigPath: kubeconfig,
    webhookPort,
    config: {
      webhook: webhookConfig(suite, `https://127.0.0.1:${webhookPort}`),
      // The test SMTP server on loopback speaks plain SMTP: allowInsecure is for exactly this.
      mail: {
        backend: 'smtp',
        from: 'Roster <roster@roster.example>',
        allowedSenderDomains: ['acme.com'],
        resendCooldownSeconds: COOLDOWN,
        smtp: { host: '127.0.0.1', port: smtp.port, pool: false, allowInsecure: true },
      },
    },
  });
  await eventually(async () => {
    const v = await admin.get<WebhookConfigurationObject>(webhookConfigurationResources.validating, undefined, `roster-test-${suite}`);
    expect(v.webhooks[0]?.clientConfig.caBundle).toBeTruthy();
  });
  // What a team hands out: the owner and an admin, through the roles the operator installs.
  const bind = (name: string, role: string, user: string) =>
    admin.apply(resources.roleBinding, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: user }],
    });
  await bind('test-owner', teamClusterRoles.owner, owner);
  await bind('test-admin', teamClusterRoles.admin, teamAdmin);
  const created = await apply(teamManifest(ns, 'Acme <team@acme.com>'));
  expect(created.stderr.replace(/^Warning:.*\n/gm, '')).toBe('');
  await eventually(() => expect(mailsTo(owner)).toHaveLength(1), 30_000);
});

afterAll(async () => {
  if (admin) await removeNamespaces(admin, [ns, ns2]); // while the operator runs its finalizers
  await operator?.kill('SIGTERM');
  if (admin) await removeWebhook(admin, suite);
  await smtp?.stop();
  admin?.close();
});

describe('the operator starts insecure only when told to, and says so', () => {
  it('warns at start that mail goes without TLS', () => {
    const warning = operator
      .logs()
      .split('\n')
      .filter((l) => l.includes('"key":"mail.smtp"'))
      .map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(warning[0]?.level).toBe('warn');
    expect(warning[0]?.msg).toContain('without TLS');
    expect(warning[0]?.msg).toContain('allowInsecure');
  });
});

describe('a spoofed sender', () => {
  it('is denied to the team owner, naming the allowed domains and what to do', async () => {
    expect(await canI(owner, 'patch', 'teams.roster.dev')).toBe(true); // so the denial below is the webhook's
    const spoof = await apply(teamManifest(ns, 'Acme Billing <billing@evil.example>'), ...as(owner));
    deniedWith(
      spoof,
      /spec.invitations.from "Acme Billing <billing@evil.example>" sends from domain evil.example, which this operator may not send from \(allowed: acme.com\)/,
    );
    expect(spoof.stderr).toContain('remove spec.invitations.from');
    // Dressed up: the address in the display name is not the one that goes out.
    deniedWith(await apply(teamManifest(ns, '"team@acme.com" <billing@evil.example>'), ...as(owner)), /sends from domain evil.example/);
    deniedWith(await apply(teamManifest(ns, 'team@acme.com.evil.example'), ...as(owner)), /sends from domain acme.com.evil.example/);
    deniedWith(await apply(teamManifest(ns, 'team@acme.com, victim@evil.example'), ...as(owner)), /exactly one sender address/);
    const kept = await admin.get<Team>(resources.team, ns, 'acme');
    expect(kept.spec.invitations?.from).toBe('Acme <team@acme.com>');
    // An allowed domain, in another case, goes through.
    const fine = await apply(teamManifest(ns, 'Acme Team <hello@ACME.com>'), ...as(owner));
    expect(fine.stderr).toBe('');
    expect(fine.code).toBe(0);
  });

  it('is denied on create too, to a cluster admin as well', async () => {
    deniedWith(await apply(teamManifest(ns2, 'Globex <team@evil.example>', 'gina@acme.com')), /sends from domain evil.example.*allowed: acme.com/);
    expect(await admin.find(resources.team, ns2, 'acme')).toBeUndefined();
  });

  it("is out of a team admin's reach altogether (RBAC)", async () => {
    expect(await canI(teamAdmin, 'patch', 'teams.roster.dev')).toBe(false);
    deniedWith(
      await run(['patch', 'team', 'acme', '-n', ns, '--type=merge', '-p', '{"spec":{"invitations":{"from":"x@evil.example"}}}', ...as(teamAdmin)]),
      /forbidden/i,
    );
  });

  it('never reached the SMTP server', () => {
    expect(smtp.received.filter((r) => r.envelope.from.toLowerCase().endsWith('evil.example'))).toEqual([]);
  });
});

describe('a resend flood', () => {
  it('lets the first resend through and denies the next within the cooldown, with the time left', async () => {
    const email = 'kai@acme.com';
    const created = await apply(invitationManifest('kai', email), ...as(teamAdmin));
    expect(created.code, created.stderr).toBe(0);
    await eventually(() => expect(mailsTo(email)).toHaveLength(1), 30_000);
    const sentAt = async () => Date.parse((await admin.get<Invitation>(resources.invitation, ns, 'kai')).status?.sentAt ?? '');
    const resend = (value: string) => run(['annotate', 'invitation', 'kai', '-n', ns, `roster.dev/resend=${value}`, '--overwrite', ...as(teamAdmin)]);

    // Right after the first mail: too soon.
    deniedWith(await resend('early'), /invitation kai was mailed \d+ s ago; resend again in \d+ s/);
    // Once the cooldown is over: the first resend is mailed.
    const first = await sentAt();
    await new Promise((r) => setTimeout(r, Math.max(0, first + COOLDOWN * 1000 + 1000 - Date.now())));
    const allowed = await resend('1');
    expect(allowed.code, allowed.stderr).toBe(0);
    await eventually(() => expect(mailsTo(email)).toHaveLength(2), 30_000);
    await eventually(async () => expect(await sentAt()).toBeGreaterThan(first), 10_000);

    // The second, at once: denied with how long ago and how long to wait, adding up to the cooldown.
    const denied = await resend('2');
    const times = /invitation kai was mailed (\d+) s ago; resend again in (\d+) s/.exec(denied.stderr);
    expect(denied.code).not.toBe(0);
    expect(times, denied.stderr).not.toBeNull();
    const [ago, left] = [Number(times![1]), Number(times![2])];
    expect(left).toBeGreaterThan(0);
    expect(ago + left).toBeGreaterThanOrEqual(COOLDOWN);
    expect(ago + left).toBeLessThanOrEqual(COOLDOWN + 1);
    // The annotation did not change, and no third mail goes out.
    expect((await admin.get<Invitation>(resources.invitation, ns, 'kai')).metadata.annotations?.['roster.dev/resend']).toBe('1');
    await new Promise((r) => setTimeout(r, 1500));
    expect(mailsTo(email)).toHaveLength(2);
  });
});

describe("revoking a Membership's invitation", () => {
  it('is denied to a team admin with what to do instead, and mails nobody again', async () => {
    const email = 'riley@acme.com';
    const created = await apply(
      `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: riley, namespace: ${ns} }
spec: { team: acme, email: ${email}, role: observer }
`,
      ...as(teamAdmin),
    );
    expect(created.code, created.stderr).toBe(0);
    await eventually(() => expect(mailsTo(email)).toHaveLength(1), 30_000);
    const inv = (await admin.list<Invitation>(resources.invitation, ns)).items.find((i) => i.spec.email === email)!;
    expect(inv.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Membership', name: 'riley', controller: true });
    expect(await canI(teamAdmin, 'patch', 'invitations.roster.dev')).toBe(true); // so the denial is the webhook's

    const revoke = await run(['patch', 'invitation', inv.metadata.name!, '-n', ns, '--type=merge', '-p', '{"spec":{"revoked":true}}', ...as(teamAdmin)]);
    deniedWith(
      revoke,
      `invitation ${inv.metadata.name} belongs to Membership riley: revoking it would only make the operator mail ${email} a new link; to withdraw the invitation delete the Membership (kubectl delete membership riley -n ${ns}), or set its spec.expiresAt`,
    );
    expect((await admin.get<Invitation>(resources.invitation, ns, inv.metadata.name!)).spec.revoked).not.toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(mailsTo(email)).toHaveLength(1);
    expect((await admin.list<Invitation>(resources.invitation, ns)).items.filter((i) => i.spec.email === email)).toHaveLength(1);
  });

  it('still lets a team admin revoke a standalone invitation, and the operator revoke its own', async () => {
    const standalone = await run(['patch', 'invitation', 'kai', '-n', ns, '--type=merge', '-p', '{"spec":{"revoked":true}}', ...as(teamAdmin)]);
    expect(standalone.code, standalone.stderr).toBe(0);
    // The owner never accepted: moving spec.owner makes the operator revoke the old owner
    // invitation itself, through the same webhook.
    const ownerInvitation = (await admin.list<Invitation>(resources.invitation, ns)).items.find((i) => i.spec.role === 'owner' && i.spec.email === owner)!;
    const moved = await apply(teamManifest(ns, 'Acme Team <hello@ACME.com>', 'noah@acme.com'));
    expect(moved.code, moved.stderr).toBe(0);
    await eventually(
      async () => expect((await admin.get<Invitation>(resources.invitation, ns, ownerInvitation.metadata.name!)).spec.revoked).toBe(true),
      30_000,
    );
    await eventually(() => expect(mailsTo('noah@acme.com')).toHaveLength(1), 30_000);
  });
});

describe('an over-long message', () => {
  it('is refused by the API server; 2000 characters are fine', async () => {
    const long = await apply(invitationManifest('long', 'long@acme.com', `, message: "${'x'.repeat(2001)}"`), ...as(teamAdmin));
    deniedWith(long, /spec.message: Too long: may not be (longer|more) than 2000/);
    expect(await admin.find(resources.invitation, ns, 'long')).toBeUndefined();
    const fits = await apply(invitationManifest('long', 'long@acme.com', `, message: "${'é'.repeat(2000)}"`), '--dry-run=server', ...as(teamAdmin));
    expect(fits.code, fits.stderr).toBe(0);
  });
});
