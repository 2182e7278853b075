// SPEC §3 end to end: the operator runs as a real process, registers its webhook with the
// real kube-apiserver by URL (as envtest does; the API server trusts the operator's CA
// through caBundle), and every rule shows up as a denied `kubectl apply` that prints what
// to do instead.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Invitation, Membership, Team } from '../../../src/api/generated.ts';
import { resources } from '../../../src/api/resources.ts';
import { CHANGED_BY, CREATED_BY } from '../../../src/audit/actor.ts';
import { DELETION_WEBHOOK, VALIDATING_WEBHOOK, webhookConfigurationResources, type WebhookConfigurationObject } from '../../../src/admission/registration.ts';
import { ledgerName } from '../../../src/seats/ledger.ts';
import { freePort } from '../../../controlplane/harness.ts';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.ts';
import { kubectl } from '../kubectl.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorProcess } from '../support/operator.ts';
import { removeNamespaces } from '../support/cleanup.ts';
import { acceptLatest } from '../support/invitations.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { removeWebhook, testNamespace, webhookConfig } from './support.ts';

const kubeconfig = inject('kubeconfigPath');
const suite = 'rules';
const ns = 'adm-rules';
const other = 'adm-rules-other'; // not labelled: the webhook does not apply there
let admin: KubeClient;
let operator: OperatorProcess;
let smtp: TestSmtpServer;

async function apply(manifest: string, ...flags: string[]) {
  return await kubectl(kubeconfig, ['apply', '-f', '-', ...flags], manifest);
}

/** Applies and expects the webhook (or CEL) to refuse with `message`. */
async function refused(manifest: string, message: string | RegExp, ...flags: string[]): Promise<string> {
  const result = await apply(manifest, ...flags);
  expect(result.code, `expected a denial, got: ${result.stdout}`).not.toBe(0);
  expect(result.stderr).toMatch(message);
  return result.stderr;
}

async function accepted(manifest: string, ...flags: string[]) {
  const result = await apply(manifest, ...flags);
  expect(result.stderr.replace(/^Warning:.*\n/gm, ''), manifest).toBe('');
  expect(result.code).toBe(0);
  return result;
}

const membership = (name: string, spec: string, namespace = ns) => `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: ${name}, namespace: ${namespace} }
spec: ${spec}
`;

const invitation = (name: string, spec: string, extraMetadata = '') => `apiVersion: roster.dev/v1alpha1
kind: Invitation
metadata: { name: ${name}, namespace: ${ns}${extraMetadata} }
spec: ${spec}
`;

const acceptInvitation = (email: string) => acceptLatest(smtp, email);

const team = () => admin.get<Team>(resources.team, ns, 'acme');

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  await testNamespace(admin, ns, suite);
  for (const name of [other, 'adm-rules-prod', 'adm-rules-staging']) {
    const assigned = name === other ? {} : { labels: { 'roster.dev/team': ns } }; // environments are assigned to the team (SPEC §7)
    await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...assigned } });
  }
  smtp = await startSmtpServer();
  const webhookPort = await freePort();
  operator = await startOperator({
    kubeconfigPath: kubeconfig,
    smtpPort: smtp.port,
    webhookPort,
    config: { webhook: webhookConfig(suite, `https://127.0.0.1:${webhookPort}`) },
  });
  // Registered by the operator, with the operator's CA as caBundle.
  await eventually(async () => {
    const v = await admin.get<WebhookConfigurationObject>(webhookConfigurationResources.validating, undefined, `roster-test-${suite}`);
    expect(v.webhooks[0]?.clientConfig.caBundle).toBeTruthy();
  });
  await accepted(`apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${ns} }
spec: { owner: { email: liam@acme.com, name: Liam Hillier }, seats: 4 }
---
apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: shop, namespace: ${ns} }
spec:
  team: acme
  environments: [{ name: production, namespace: adm-rules-prod }, { name: staging, namespace: adm-rules-staging }]
`);
});

afterAll(async () => {
  if (admin) await removeNamespaces(admin, [ns, other, 'adm-rules-prod', 'adm-rules-staging']); // while the operator runs its finalizers
  await operator?.kill('SIGTERM');
  if (admin) await removeWebhook(admin, suite);
  await smtp?.stop();
  admin?.close();
});

describe('registration', () => {
  it('is narrow, fails closed, times out within 5 s and declares its side effects', async () => {
    const v = await admin.get<WebhookConfigurationObject>(webhookConfigurationResources.validating, undefined, `roster-test-${suite}`);
    const m = await admin.get<WebhookConfigurationObject>(webhookConfigurationResources.mutating, undefined, `roster-test-${suite}`);
    for (const hook of [...v.webhooks, ...m.webhooks]) {
      // The deletions webhook only records who deleted; it fails open so that it can never
      // keep a namespace from being deleted. Every rule-enforcing webhook fails closed.
      const deletions = hook.name === DELETION_WEBHOOK;
      expect(hook.failurePolicy).toBe(deletions ? 'Ignore' : 'Fail');
      expect(hook.timeoutSeconds).toBeLessThanOrEqual(5);
      expect(hook.admissionReviewVersions).toEqual(['v1']);
      for (const rule of hook.rules as Array<{ apiGroups: string[]; operations: string[] }>) {
        expect(rule.apiGroups).toEqual(['roster.dev']);
        if (deletions) expect(rule.operations).toEqual(['DELETE']);
        else expect(rule.operations).not.toContain('DELETE');
      }
    }
    expect(v.webhooks.map((w) => w.name)).toEqual([VALIDATING_WEBHOOK, DELETION_WEBHOOK]);
    expect(v.webhooks[0]?.sideEffects).toBe('NoneOnDryRun');
    expect(m.webhooks[0]?.sideEffects).toBe('None');
    expect(String(v.webhooks[0]?.clientConfig.url)).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/validate$/);
  });
});

describe('every rule of SPEC §3 is a denied kubectl apply that says what to do instead', () => {
  it('references a Team that does not exist', async () => {
    await refused(
      membership('ghost', '{ team: nope, email: ghost@acme.com, role: observer }'),
      /team nope does not exist in namespace adm-rules; create the Team first, or fix spec.team/,
    );
    await refused(
      `apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: ghost, namespace: ${ns} }
spec: { team: nope, environments: [{ name: production, namespace: x }] }
`,
      /team nope does not exist/,
    );
  });

  it('a second owner: a Membership for the owner, role owner anywhere', async () => {
    await refused(
      membership('liam', '{ team: acme, email: Liam@Acme.com, role: admin }'),
      /Liam@Acme.com is the owner of team acme \(Team spec.owner\) and needs no Membership; to make someone else the owner, edit Team spec.owner/,
    );
    await refused(membership('boss', '{ team: acme, email: boss@acme.com, role: owner }'), /role owner is not allowed/);
    await refused(
      invitation('boss', '{ team: acme, email: boss@acme.com, role: owner }'),
      /role owner is not allowed: the operator invites the owner named in Team spec.owner itself/,
    );
    // Even dressed up as the operator's own owner invitation, it has to come from the operator.
    const t = await team();
    await refused(
      invitation(
        'fake-owner',
        '{ team: acme, email: liam@acme.com, role: owner }',
        `, ownerReferences: [{ apiVersion: roster.dev/v1alpha1, kind: Team, name: acme, uid: ${t.metadata.uid}, controller: true }]`,
      ),
      /role owner is not allowed/,
      '--as=mallory@acme.com',
      '--as-group=system:masters',
    );
    // The operator's own owner invitation (it skips the webhooks: see 'the actor') is the only one.
    // The Team controller creates it on its own time.
    await eventually(async () => {
      const owners = (await admin.list<Invitation>(resources.invitation, ns)).items.filter((i) => i.spec.role === 'owner');
      expect(owners.map((i) => i.spec.email)).toEqual(['liam@acme.com']);
    });
  });

  it('malformed emails, past expiry, scopes on team-wide roles, unknown projects and environments', async () => {
    await refused(membership('bad', '{ team: acme, email: not-an-email, role: observer }'), /email must be an email address such as riley@acme.com/);
    await refused(
      membership('late', '{ team: acme, email: late@acme.com, role: observer, expiresAt: "2020-01-01T00:00:00Z" }'),
      /spec.expiresAt 2020-01-01T00:00:00Z is in the past; set a future time, or omit it/,
    );
    await refused(
      membership('wide', '{ team: acme, email: wide@acme.com, role: admin, projects: [{ name: shop }] }'),
      /team-wide and take[s]? no projects; remove spec.projects, or use role developer or observer/,
    );
    await refused(
      membership('lost', '{ team: acme, email: lost@acme.com, role: developer, projects: [{ name: blog }] }'),
      /project blog does not exist; create a Project named blog first, or use one of: shop/,
    );
    await refused(
      membership('qa', '{ team: acme, email: qa@acme.com, role: developer, projects: [{ name: shop, environments: [qa] }] }'),
      /project shop has no environment "qa"; it has production, staging/,
    );
    await refused(
      invitation('qa', '{ team: acme, email: qa@acme.com, role: observer, projects: [{ name: shop, environments: [qa] }] }'),
      /project shop has no environment "qa"/,
    );
  });

  it('a second Membership for the same person, and spec.email/spec.team stay as created', async () => {
    await accepted(membership('riley', '{ team: acme, email: riley@acme.com, role: developer, projects: [{ name: shop, environments: [staging] }] }'));
    await refused(
      membership('riley-again', '{ team: acme, email: RILEY@acme.com, role: observer }'),
      /RILEY@acme.com already has Membership riley in team acme; edit that Membership instead of creating a second one/,
    );
    await refused(
      invitation('riley-inv', '{ team: acme, email: riley@acme.com, role: observer }'),
      /riley@acme.com already has Membership riley in team acme; edit its spec.role instead of inviting again/,
    );
    await refused(
      membership('riley', '{ team: acme, email: riley2@acme.com, role: developer }'),
      /spec.email is immutable; create a new object for another person/,
    );
  });

  it('the seat limit, for Memberships and standalone Invitations, and lowering spec.seats', async () => {
    // seats: 4 = liam (owner) + riley + one more + …
    await accepted(invitation('noah', '{ team: acme, email: noah@acme.com, role: admin }'));
    await accepted(membership('maya', '{ team: acme, email: maya@acme.com, role: billing }'));
    await refused(
      membership('zoe', '{ team: acme, email: zoe@acme.com, role: observer }'),
      /team acme has 4 of 4 seats in use; raise spec.seats or remove a member/,
    );
    await refused(
      invitation('zoe', '{ team: acme, email: zoe@acme.com, role: observer }'),
      /team acme has 4 of 4 seats in use; raise spec.seats or remove a member/,
    );
    await refused(
      `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${ns} }
spec: { owner: { email: liam@acme.com, name: Liam Hillier }, seats: 2 }
`,
      /team acme has 4 seats in use, so spec.seats cannot go below 4; remove members or revoke pending invitations first/,
    );
    // Deletes are always allowed, and free the seat.
    expect((await kubectl(kubeconfig, ['delete', 'membership', 'maya', '-n', ns, '--wait=false'])).code).toBe(0);
    // The seat frees as soon as the caches see the delete (within the ledger's short grace).
    const freedAt = Date.now();
    await eventually(async () => expect((await apply(membership('zoe', '{ team: acme, email: zoe@acme.com, role: observer }'))).code).toBe(0), 30_000, 250);
    expect(Date.now() - freedAt).toBeLessThan(25_000); // not the 30 s reservation expiry
    await eventually(async () => expect((await team()).status?.seats?.summary).toBe('4/4'), 30_000);
    const membershipsNow = (await admin.list<Membership>(resources.membership, ns)).items.filter((m) => !m.metadata.deletionTimestamp);
    expect(membershipsNow.map((m) => m.metadata.name).sort()).toEqual(['riley', 'zoe']);
  });

  it('dry-run decides like the real thing and reserves nothing', async () => {
    await refused(membership('dry', '{ team: acme, email: dry@acme.com, role: observer }'), /team acme has 4 of 4 seats in use/, '--dry-run=server');
    await accepted(`apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${ns} }
spec: { owner: { email: liam@acme.com, name: Liam Hillier }, seats: 5 }
`);
    await eventually(async () => expect((await team()).status?.seats?.limit).toBe(5));
    const ledger = () => admin.find<KubeObject & { data?: Record<string, string> }>(resources.configMap, ns, ledgerName('acme'));
    const before = Object.keys((await ledger())?.data ?? {});
    await accepted(membership('dry', '{ team: acme, email: dry@acme.com, role: observer }'), '--dry-run=server');
    const after = Object.keys((await ledger())?.data ?? {});
    expect(after.filter((k) => !before.includes(k))).toEqual([]);
    expect(await admin.find(resources.membership, ns, 'dry')).toBeUndefined();
  });

  it('ownership goes only to an Active admin; the previous owner stays on as admin', async () => {
    const to = (email: string) => `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${ns} }
spec: { owner: { email: ${email} }, seats: 8 }
`;
    await acceptInvitation('liam@acme.com');
    await eventually(async () => expect((await team()).status?.owner?.phase).toBe('Active'), 30_000);
    await refused(
      to('stranger@acme.com'),
      /ownership of team acme can go only to an Active admin of the team, and stranger@acme.com is not a member; create a Membership for stranger@acme.com with role admin, wait until it is Active, then edit spec.owner/,
    );
    await refused(to('riley@acme.com'), /riley@acme.com has role developer; change Membership riley to role admin first/);
    // noah was invited as admin (standalone): accepting makes the Membership.
    await acceptInvitation('noah@acme.com');
    await eventually(async () => expect((await admin.get<Membership>(resources.membership, ns, 'noah')).status?.phase).toBe('Active'), 30_000);
    await accepted(to('noah@acme.com'));
    await eventually(async () => {
      const members = (await admin.list<Membership>(resources.membership, ns)).items;
      const former = members.find((m) => m.spec.email === 'liam@acme.com');
      expect(former?.spec.role).toBe('admin');
    }, 30_000);
  });

  it('Project edits that strand scoped members pass with a warning', async () => {
    const result = await accepted(`apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: shop, namespace: ${ns} }
spec:
  team: acme
  environments: [{ name: production, namespace: adm-rules-prod }]
`);
    expect(result.stderr).toMatch(/Warning: environment staging is still named in the scope of riley/);
  });

  it("namespaces outside the selector are not the webhook's business", async () => {
    // No team there: without the webhook only the controller would notice.
    await accepted(membership('free', '{ team: nope, email: free@acme.com, role: observer }', other));
  });
});

describe('the actor', () => {
  it('is stamped from the admission request, whatever the manifest says, and becomes the inviter', async () => {
    const applied = await accepted(
      `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata:
  name: ava
  namespace: ${ns}
  annotations: { ${CREATED_BY}: somebody-else, ${CHANGED_BY}: nobody }
spec: { team: acme, email: ava@acme.com, role: observer }
`,
      '-o',
      'json',
    );
    // The create's own answer carries the finalizer: the mutating webhook set it, so the
    // controller has no PATCH to make for it.
    expect((JSON.parse(applied.stdout) as Membership).metadata.finalizers).toEqual(['roster.dev/access']);
    const created = await admin.get<Membership>(resources.membership, ns, 'ava');
    expect(created.metadata.annotations?.[CREATED_BY]).toBe('roster-admin');
    expect(created.metadata.annotations?.[CHANGED_BY]).toBeUndefined();

    const patch = await kubectl(kubeconfig, [
      'patch',
      'membership',
      'ava',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"spec":{"role":"developer"}}',
      '--as=alice@acme.com',
      '--as-group=system:masters',
    ]);
    expect(patch.stderr).toBe('');
    const changed = await admin.get<Membership>(resources.membership, ns, 'ava');
    expect(changed.metadata.annotations?.[CHANGED_BY]).toBe('alice@acme.com');
    expect(changed.metadata.annotations?.[CREATED_BY]).toBe('roster-admin');

    // A metadata-only edit cannot rewrite history.
    await kubectl(kubeconfig, ['annotate', 'membership', 'ava', '-n', ns, `${CREATED_BY}=forged`, '--overwrite']);
    expect((await admin.get<Membership>(resources.membership, ns, 'ava')).metadata.annotations?.[CREATED_BY]).toBe('roster-admin');

    // Standalone invitation by a person: they are the inviter, in status and the audit stream.
    await accepted(invitation('kai', '{ team: acme, email: kai@acme.com, role: observer }'), '--as=alice@acme.com', '--as-group=system:masters');
    await eventually(async () => expect((await admin.get<Invitation>(resources.invitation, ns, 'kai')).status?.inviter).toBe('alice@acme.com'), 30_000);
    const audit = operator
      .logs()
      .split('\n')
      .filter((l) => l.includes('"stream":"audit"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const kaiUid = (await admin.get<Invitation>(resources.invitation, ns, 'kai')).metadata.uid;
    expect(audit.find((a) => a.kind === 'Invitation' && a.name === 'kai' && a.action === 'create')).toMatchObject({
      actor: 'alice@acme.com',
      uid: kaiUid,
      team: 'acme',
    });
    await eventually(() => {
      const lines = operator
        .logs()
        .split('\n')
        .filter((l) => l.includes('"stream":"audit"') && l.includes('"action":"invite"') && l.includes('kai@acme.com'));
      expect(lines.join('\n')).toContain('"actor":"alice@acme.com"');
    }, 30_000);
    // One audit line per spec change (the operator's finalizer edits are not team changes).
    const avaUpdates = audit.filter((a) => a.kind === 'Membership' && a.name === 'ava' && a.action === 'update');
    expect(avaUpdates).toHaveLength(1);
    expect(avaUpdates[0]).toMatchObject({ actor: 'alice@acme.com', roleBefore: 'observer', roleAfter: 'developer' });
  });
});

describe("the operator's own Invitations", () => {
  it('skip both webhooks, matched on the authenticated user; anyone else dressed up as the operator goes through them', async () => {
    const v = await admin.get<WebhookConfigurationObject>(webhookConfigurationResources.validating, undefined, `roster-test-${suite}`);
    // The operator here runs as the suite's admin user (roster-admin); in a cluster, as its ServiceAccount.
    expect(JSON.stringify(v.webhooks[0]?.matchConditions)).toContain("request.userInfo.username == 'roster-admin'");
    await accepted(membership('otto', '{ team: acme, email: otto@acme.com, role: observer }'), '--as=alice@acme.com', '--as-group=system:masters');
    const m = await admin.get<Membership>(resources.membership, ns, 'otto');
    const own = await eventually(async () => {
      const found = (await admin.list<Invitation>(resources.invitation, ns)).items.find((i) =>
        i.metadata.ownerReferences?.some((r) => r.uid === m.metadata.uid),
      );
      expect(found).toBeDefined();
      return found!;
    }, 30_000);
    // The mutating webhook stamps every create it sees; the operator's own create it did not see.
    expect(m.metadata.annotations?.[CREATED_BY]).toBe('alice@acme.com');
    expect(own.metadata.annotations?.[CREATED_BY]).toBeUndefined();

    // The same shape from another user (system:masters, even) is admitted only through the webhooks:
    // stamped with its creator, and held to the rules (role owner is the operator's alone).
    const dressedUp = (name: string, role: string) =>
      invitation(
        name,
        `{ team: acme, email: otto@acme.com, role: ${role} }`,
        `, ownerReferences: [{ apiVersion: roster.dev/v1alpha1, kind: Membership, name: otto, uid: ${m.metadata.uid}, controller: true }]`,
      );
    await refused(dressedUp('otto-owner', 'owner'), /role owner is not allowed/, '--as=mallory@acme.com', '--as-group=system:masters');
    await accepted(dressedUp('otto-friend', 'observer'), '--as=mallory@acme.com', '--as-group=system:masters');
    expect((await admin.get<Invitation>(resources.invitation, ns, 'otto-friend')).metadata.annotations?.[CREATED_BY]).toBe('mallory@acme.com');
  });
});

describe('the webhook down', () => {
  it('roster creates fail closed; other kinds are unaffected', async () => {
    await operator.kill('SIGTERM');
    try {
      const denied = await apply(membership('late-comer', '{ team: acme, email: late-comer@acme.com, role: observer }'));
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toMatch(/failed calling webhook/);
      expect(await admin.find(resources.membership, ns, 'late-comer')).toBeUndefined();
      const configMap = await kubectl(kubeconfig, ['create', 'configmap', 'still-fine', '-n', ns, '--from-literal=a=b']);
      expect(configMap.code).toBe(0);
      expect(await admin.find(resources.configMap, ns, 'still-fine')).toBeDefined();
    } finally {
      // Back up, so that afterAll's namespace removal runs the finalizers through the
      // webhook: a deleted Team's Memberships must still be able to drop theirs.
      await operator.restart();
    }
  });
});
