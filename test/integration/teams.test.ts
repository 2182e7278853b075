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
});
