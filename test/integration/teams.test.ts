// Teams end to end (the scenarios of the core issue): the operator runs as a real process
// against the real API server and mails a real SMTP server; access is proven by the API
// server's own authorizer (SubjectAccessReview, what `kubectl auth can-i --as` asks).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ParsedMail } from 'mailparser';
import type { Invitation, Membership, Team } from '../../src/api/generated.ts';
import { resources } from '../../src/api/resources.ts';
import { KubeClient, type KubeObject } from '../../src/runtime/kube-client.ts';
import { eventually } from './support/eventually.ts';
import { kubectl } from './kubectl.ts';
import { startOperator, type OperatorProcess } from './support/operator.ts';
import { removeNamespaces } from './support/cleanup.ts';
import { startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
const ns = 'acme-e2e';
const prod = 'shop-prod-e2e';
const staging = 'shop-staging-e2e';
const blog = 'blog-e2e';
let admin: KubeClient;
let smtp: TestSmtpServer;
let operator: OperatorProcess;
const tokensSeen = new Set<string>();

async function apply(manifest: string): Promise<void> {
  const result = await kubectl(kubeconfig, ['apply', '-f', '-'], manifest);
  expect(result.stderr, manifest).toBe('');
}

function mailsTo(email: string): ParsedMail[] {
  return smtp.messages.filter((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((t) => t?.value.some((v) => v.address === email)));
}

function linkIn(mail: ParsedMail): string {
  const match = /(http:\/\/127\.0\.0\.1:\d+\/invite\/[A-Za-z0-9_-]+)/.exec(mail.text ?? '');
  if (!match) throw new Error(`no link in mail:\n${mail.text}`);
  tokensSeen.add(match[1]!.split('/invite/')[1]!);
  return match[1]!;
}

async function latestLink(email: string, count = 1): Promise<string> {
  return await eventually(() => {
    const mails = mailsTo(email);
    expect(mails.length).toBeGreaterThanOrEqual(count);
    return linkIn(mails[mails.length - 1]!);
  }, 30_000);
}

async function canI(user: string, verb: string, resource: string, namespace: string, group = ''): Promise<boolean> {
  const review = await admin.create<KubeObject & { status?: { allowed: boolean } }>(resources.subjectAccessReview, {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    metadata: {},
    spec: { user, resourceAttributes: { namespace, verb, group, resource } },
  } as KubeObject);
  return review.status?.allowed ?? false;
}

const get = <T extends KubeObject>(ref: typeof resources.team, name: string) => admin.get<T>(ref, ns, name);
const membership = (name: string) => get<Membership>(resources.membership, name);
const team = () => get<Team>(resources.team, 'acme');

async function accept(link: string): Promise<{ status: number; body: string }> {
  const res = await fetch(link, { method: 'POST' });
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  for (const name of [ns, prod, staging, blog, 'quick-e2e']) {
    await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
  smtp = await startSmtpServer();
  operator = await startOperator({ kubeconfigPath: kubeconfig, smtpPort: smtp.port });
  // The short-TTL team starts first: its one-minute link expires while the rest runs.
  await apply(`apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: quick, namespace: quick-e2e }
spec: { owner: { email: quinn@quick.example }, seats: 2, invitations: { ttl: 1m } }
`);
});

afterAll(async () => {
  if (admin) await removeNamespaces(admin, [ns, prod, staging, blog, 'quick-e2e', 'crash-e2e']); // while the operator runs its finalizers
  await operator?.kill('SIGTERM');
  await smtp?.stop();
  admin?.close();
});

describe('a team, end to end', () => {
  it('1. mails everyone their own link and reports seats, phases and expiry', async () => {
    await apply(`apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${ns} }
spec:
  displayName: Acme Corp
  owner: { email: liam@acme.com, name: Liam Hillier }
  seats: 5
---
apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: shop, namespace: ${ns} }
spec:
  team: acme
  environments:
    - { name: production, namespace: ${prod} }
    - { name: staging, namespace: ${staging} }
---
apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: blog, namespace: ${ns} }
spec:
  team: acme
  environments: [{ name: production, namespace: ${blog} }]
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: riley, namespace: ${ns} }
spec: { team: acme, email: riley@acme.com, name: Riley Park, role: developer, projects: [{ name: shop, environments: [staging] }] }
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: noah, namespace: ${ns} }
spec: { team: acme, email: noah@acme.com, role: admin }
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: maya, namespace: ${ns} }
spec: { team: acme, email: maya@acme.com, role: billing }
`);
    const recipients = ['liam@acme.com', 'riley@acme.com', 'noah@acme.com', 'maya@acme.com'];
    const links = await Promise.all(recipients.map((r) => latestLink(r)));
    expect(new Set(links).size).toBe(4);
    for (const r of recipients) expect(mailsTo(r)).toHaveLength(1);
    const riley = mailsTo('riley@acme.com')[0]!;
    expect(riley.subject).toContain('Acme Corp');
    expect(riley.text).toContain('developer');
    expect(riley.text).toContain('staging');

    await eventually(async () => {
      const t = await team();
      expect(t.status?.seats).toMatchObject({ limit: 5, available: 1 });
      expect(t.status?.seats?.summary).toBe('4/5');
      expect(t.status?.owner).toMatchObject({ email: 'liam@acme.com', phase: 'Invited' });
    });
    for (const name of ['riley', 'noah', 'maya']) {
      await eventually(async () => expect((await membership(name)).status?.phase).toBe('Invited'));
    }
    const invitations = await admin.list<Invitation>(resources.invitation, ns);
    expect(invitations.items).toHaveLength(4);
    for (const inv of invitations.items) {
      expect(inv.status?.phase).toBe('Pending');
      expect(Date.parse(inv.status?.expiresAt ?? '') - Date.now()).toBeGreaterThan(160 * 3600_000);
      expect(inv.status?.deliveries).toBe(1);
    }
  });

  it('2. the link shows the invitation; accepting grants exactly the scoped access', async () => {
    const link = await latestLink('riley@acme.com');
    const page = await fetch(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Acme Corp');
    expect(html).toContain('developer');
    expect(html).toContain('Liam Hillier');
    expect(html).toMatch(/Expires/);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');

    expect((await accept(link)).status).toBe(200);
    await eventually(async () => expect((await membership('riley')).status?.phase).toBe('Active'));
    await eventually(async () => expect(await canI('riley@acme.com', 'update', 'deployments', staging, 'apps')).toBe(true));
    expect(await canI('riley@acme.com', 'update', 'deployments', prod, 'apps')).toBe(false);
    expect(await canI('riley@acme.com', 'get', 'pods', blog)).toBe(false);

    expect((await accept(await latestLink('maya@acme.com'))).status).toBe(200);
    await eventually(async () => expect((await membership('maya')).status?.phase).toBe('Active'));
    for (const namespace of [prod, staging, blog]) expect(await canI('maya@acme.com', 'get', 'pods', namespace)).toBe(false);
    expect(await canI('maya@acme.com', 'get', 'teams', ns, 'roster.dev')).toBe(true);
    expect(await canI('maya@acme.com', 'create', 'memberships', ns, 'roster.dev')).toBe(false);

    expect((await accept(await latestLink('liam@acme.com'))).status).toBe(200);
    await eventually(async () => expect((await team()).status?.owner?.phase).toBe('Active'));
    await eventually(async () => expect(await canI('liam@acme.com', 'delete', 'deployments', prod, 'apps')).toBe(true));
    expect(await canI('liam@acme.com', 'update', 'teams', ns, 'roster.dev')).toBe(true);
  });

  it('3. a used link is refused, with the same answer as a made-up one', async () => {
    const used = await accept(await latestLink('riley@acme.com'));
    const madeUp = await accept(`${operator.publicUrl}/invite/${'A'.repeat(43)}`);
    expect(used.status).toBe(404);
    expect(madeUp.status).toBe(404);
    expect(used.body).toBe(madeUp.body);
    const getUsed = await fetch(await latestLink('riley@acme.com'));
    expect(getUsed.status).toBe(404);
    expect(await getUsed.text()).toBe(madeUp.body);
  });

  it('4. resend mints a new link and kills the old one', async () => {
    const old = await latestLink('noah@acme.com');
    const inv = (await membership('noah')).status?.invitation;
    expect(inv).toBeTruthy();
    const result = await kubectl(kubeconfig, ['annotate', 'invitation', inv!, '-n', ns, 'roster.dev/resend=first', '--overwrite']);
    expect(result.code).toBe(0);
    const fresh = await latestLink('noah@acme.com', 2);
    expect(fresh).not.toBe(old);
    await eventually(async () => expect((await admin.get<Invitation>(resources.invitation, ns, inv!)).status?.deliveries).toBe(2));
    expect((await fetch(old)).status).toBe(404);
    expect((await fetch(fresh)).status).toBe(200);
    expect((await accept(fresh)).status).toBe(200);
    await eventually(async () => expect((await membership('noah')).status?.phase).toBe('Active'));
  });

  it('5. revoking kills the link and frees the seat', async () => {
    await kubectl(kubeconfig, ['patch', 'team', 'acme', '-n', ns, '--type=merge', '-p', '{"spec":{"seats":10}}']);
    await apply(`apiVersion: roster.dev/v1alpha1
kind: Invitation
metadata: { name: jordan, namespace: ${ns} }
spec: { team: acme, email: jordan@acme.com, role: observer, projects: [{ name: shop }], message: "Welcome <b>aboard</b>" }
`);
    const link = await latestLink('jordan@acme.com');
    const page = await (await fetch(link)).text();
    expect(page).toContain('Welcome &lt;b&gt;aboard&lt;/b&gt;');
    await eventually(async () => expect((await team()).status?.seats?.summary).toBe('5/10'));
    await kubectl(kubeconfig, ['patch', 'invitation', 'jordan', '-n', ns, '--type=merge', '-p', '{"spec":{"revoked":true}}']);
    await eventually(async () => expect((await admin.get<Invitation>(resources.invitation, ns, 'jordan')).status?.phase).toBe('Revoked'));
    expect((await fetch(link)).status).toBe(404);
    expect((await accept(link)).status).toBe(404);
    await eventually(async () => expect((await team()).status?.seats?.summary).toBe('4/10'));
  });

  it('7. role and scope changes reach RBAC within seconds', async () => {
    expect(await canI('noah@acme.com', 'delete', 'deployments', prod, 'apps')).toBe(true);
    await kubectl(kubeconfig, ['patch', 'membership', 'noah', '-n', ns, '--type=merge', '-p', '{"spec":{"role":"observer"}}']);
    await eventually(async () => expect(await canI('noah@acme.com', 'delete', 'deployments', prod, 'apps')).toBe(false));
    expect(await canI('noah@acme.com', 'get', 'pods', prod)).toBe(true);
    expect(await canI('noah@acme.com', 'create', 'memberships', ns, 'roster.dev')).toBe(false);

    await kubectl(kubeconfig, ['patch', 'membership', 'riley', '-n', ns, '--type=merge', '-p', '{"spec":{"projects":[{"name":"shop","environments":["production"]}]}}']);
    await eventually(async () => expect(await canI('riley@acme.com', 'update', 'deployments', prod, 'apps')).toBe(true));
    await eventually(async () => expect(await canI('riley@acme.com', 'update', 'deployments', staging, 'apps')).toBe(false));
    await eventually(async () => expect((await membership('riley')).status?.identity?.scope).toEqual(['shop/production']));
  });

  it('drift: access changed by hand in the backend is put back, with an Event', async () => {
    const bindingsOf = async () =>
      (await admin.list<KubeObject & { subjects?: Array<{ name: string }> }>(resources.roleBinding, ns, { labelSelector: 'roster.dev/team=acme' })).items.filter((b) =>
        b.subjects?.some((s) => s.name === 'maya@acme.com'),
      );
    const [binding] = await bindingsOf();
    expect(binding).toBeDefined();
    // Someone adds a colleague to Maya's binding, and later deletes it outright.
    await admin.patch(resources.roleBinding, ns, binding!.metadata.name ?? '', 'json', [{ op: 'add', path: '/subjects/-', value: { kind: 'User', name: 'eve@evil.example', apiGroup: 'rbac.authorization.k8s.io' } }]);
    await eventually(async () => expect(await canI('eve@evil.example', 'get', 'teams', ns, 'roster.dev')).toBe(false));
    await admin.delete(resources.roleBinding, ns, binding!.metadata.name ?? '');
    await eventually(async () => expect(await bindingsOf()).toHaveLength(1));
    expect(await canI('maya@acme.com', 'get', 'teams', ns, 'roster.dev')).toBe(true);
    const events = await admin.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(resources.event, ns);
    expect(events.items.some((e) => e.reason === 'DriftCorrected' && e.regarding?.name === 'maya')).toBe(true);
  });

  it('8. deleting a Membership removes its access, its pending invitation and its seat', async () => {
    await apply(`apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: pat, namespace: ${ns} }
spec: { team: acme, email: pat@acme.com, role: developer }
`);
    await latestLink('pat@acme.com');
    const patInvitation = await eventually(async () => {
      const inv = (await membership('pat')).status?.invitation;
      expect(inv).toBeTruthy();
      return inv!;
    });
    await eventually(async () => expect((await team()).status?.seats?.summary).toBe('5/10'));
    await kubectl(kubeconfig, ['delete', 'membership', 'pat', '-n', ns, '--wait=true']);
    expect(await admin.find(resources.invitation, ns, patInvitation)).toBeUndefined();
    await eventually(async () => expect((await team()).status?.seats?.summary).toBe('4/10'));

    await kubectl(kubeconfig, ['delete', 'membership', 'riley', '-n', ns, '--wait=true']);
    expect(await canI('riley@acme.com', 'update', 'deployments', prod, 'apps')).toBe(false);
    const bindings = await admin.list(resources.roleBinding, prod, { labelSelector: 'roster.dev/team=acme' });
    expect(bindings.items.map((b) => JSON.stringify(b))).not.toContainEqual(expect.stringContaining('riley@acme.com'));
    const events = await admin.list<KubeObject & { reason?: string; regarding?: { name?: string } }>(resources.event, ns);
    expect(events.items.some((e) => e.reason === 'AccessRemoved' && e.regarding?.name === 'riley')).toBe(true);
    await eventually(() => expect(operator.logs()).toMatch(/"stream":"audit".*"action":"remove".*"subject":"riley@acme.com"/));
  });

  it('9. ownership moves to an active admin; the previous owner stays on as admin', async () => {
    await apply(`apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: ava, namespace: ${ns} }
spec: { team: acme, email: ava@acme.com, role: admin }
`);
    expect((await accept(await latestLink('ava@acme.com'))).status).toBe(200);
    await eventually(async () => expect((await membership('ava')).status?.phase).toBe('Active'));
    await kubectl(kubeconfig, ['patch', 'team', 'acme', '-n', ns, '--type=merge', '-p', '{"spec":{"owner":{"email":"ava@acme.com","name":"Ava Stone"}}}']);
    await eventually(async () => expect(await canI('ava@acme.com', 'update', 'teams', ns, 'roster.dev')).toBe(true));
    await eventually(async () => {
      const all = await admin.list<Membership>(resources.membership, ns);
      const liam = all.items.find((m) => m.spec.email === 'liam@acme.com');
      expect(liam?.spec.role).toBe('admin');
      expect(liam?.status?.phase).toBe('Active');
    });
    await eventually(async () => expect(await canI('liam@acme.com', 'update', 'teams', ns, 'roster.dev')).toBe(false));
    expect(await canI('liam@acme.com', 'create', 'memberships', ns, 'roster.dev')).toBe(true);
    await eventually(async () => expect((await team()).status?.owner).toMatchObject({ email: 'ava@acme.com', phase: 'Active' }));
    expect(mailsTo('ava@acme.com')).toHaveLength(1); // accepting as admin was enough: no owner invitation
    expect(mailsTo('liam@acme.com')).toHaveLength(1); // no new invitation for the previous owner
  });

  it('10. accepting a standalone Invitation creates the Membership', async () => {
    await apply(`apiVersion: roster.dev/v1alpha1
kind: Invitation
metadata: { name: kai, namespace: ${ns} }
spec: { team: acme, email: kai@acme.com, role: developer, projects: [{ name: blog }] }
`);
    expect((await accept(await latestLink('kai@acme.com'))).status).toBe(200);
    await eventually(async () => expect((await membership('kai')).status?.phase).toBe('Active'));
    expect((await membership('kai')).spec).toMatchObject({ email: 'kai@acme.com', role: 'developer', projects: [{ name: 'blog' }] });
    await eventually(async () => expect(await canI('kai@acme.com', 'update', 'deployments', blog, 'apps')).toBe(true));
    expect(mailsTo('kai@acme.com')).toHaveLength(1);
  });

  it('11. a Membership with expiresAt loses access then', async () => {
    const expiresAt = new Date(Date.now() + 25_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await apply(`apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: temp, namespace: ${ns} }
spec: { team: acme, email: temp@acme.com, role: observer, expiresAt: "${expiresAt}" }
`);
    expect((await accept(await latestLink('temp@acme.com'))).status).toBe(200);
    await eventually(async () => expect(await canI('temp@acme.com', 'get', 'pods', prod)).toBe(true));
    await eventually(async () => expect((await membership('temp')).status?.phase).toBe('Expired'), 60_000);
    expect(await canI('temp@acme.com', 'get', 'pods', prod)).toBe(false);
  });

  it('6. a short TTL expires the link; a resend revives it with a new one', async () => {
    const owner = await latestLink('quinn@quick.example');
    const name = await eventually(async () => {
      const t = await admin.get<Team>(resources.team, 'quick-e2e', 'quick');
      expect(t.status?.owner?.invitation).toBeTruthy();
      return t.status!.owner!.invitation!;
    });
    await eventually(async () => expect((await admin.get<Invitation>(resources.invitation, 'quick-e2e', name)).status?.phase).toBe('Expired'), 90_000);
    expect((await fetch(owner)).status).toBe(404);
    await kubectl(kubeconfig, ['annotate', 'invitation', name, '-n', 'quick-e2e', 'roster.dev/resend=again', '--overwrite']);
    const fresh = await latestLink('quinn@quick.example', 2);
    expect(fresh).not.toBe(owner);
    await eventually(async () => expect((await admin.get<Invitation>(resources.invitation, 'quick-e2e', name)).status?.phase).toBe('Pending'));
    expect((await fetch(fresh)).status).toBe(200);
  });

  it('13. no token ever reaches the logs', async () => {
    expect(tokensSeen.size).toBeGreaterThan(10);
    const logs = operator.logs();
    expect(logs.length).toBeGreaterThan(1000);
    for (const token of tokensSeen) expect(logs.includes(token), 'a token is in the operator log').toBe(false);
    const hashes = (await admin.list<Invitation>(resources.invitation, ns)).items.map((i) => i.status?.link?.hash).filter(Boolean);
    for (const token of tokensSeen) expect(JSON.stringify(hashes)).not.toContain(token);
  });
});

describe('a crash between sending and recording', () => {
  it('12. never mails the same link twice', async () => {
    await operator.kill('SIGTERM'); // one operator at a time on this cluster
    const crashSmtp = await startSmtpServer({
      beforeReply: async (mail) => {
        if (mail.subject?.includes('Crash Corp')) await crashOperator.kill('SIGKILL');
      },
    });
    const crashOperator = await startOperator({ kubeconfigPath: kubeconfig, smtpPort: crashSmtp.port });
    try {
      await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'crash-e2e' } });
      await apply(`apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: crash, namespace: crash-e2e }
spec: { displayName: Crash Corp, owner: { email: cora@crash.example }, seats: 2 }
`);
      await crashSmtp.waitForMessages(1, 60_000);
      // The operator died after the server had the mail and before it heard back.
      await crashOperator.restart();
      const invitation = await eventually(async () => {
        const list = await admin.list<Invitation>(resources.invitation, 'crash-e2e');
        expect(list.items[0]?.status?.delivery?.state).toBe('Unconfirmed');
        return list.items[0]!;
      }, 60_000);
      expect(invitation.status?.conditions).toContainEqual(expect.objectContaining({ type: 'Delivered', status: 'Unknown', reason: 'DeliveryUnconfirmed' }));
      await new Promise((r) => setTimeout(r, 3_000));
      expect(crashSmtp.messages).toHaveLength(1);
    } finally {
      await crashOperator.kill('SIGTERM');
      await crashSmtp.stop();
      await operator.restart(); // the file's own operator finishes the finalizers when afterAll removes the namespaces
    }
  });
});
