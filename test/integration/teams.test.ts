// Teams end to end (the scenarios of the core issue): the operator runs as a real process
// against the real API server and mails a real SMTP server; access is proven by the API
// server's own authorizer (SubjectAccessReview, what `kubectl auth can-i --as` asks).
//
// Every test builds the team it needs in namespaces of its own, with addresses of its own,
// so each runs alone (`-t`), in any order, and a failure stays in its test. They share only
// the operator and the SMTP server, and run concurrently (the expiry tests wait a minute, the
// rest run meanwhile), except the crash test: it kills the operator, so it runs on its own.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Invitation, Membership, Team } from '../../src/api/generated.ts';
import { resources } from '../../src/api/resources.ts';
import { KubeClient, type KubeObject } from '../../src/runtime/kube-client.ts';
import { kubectl } from './kubectl.ts';
import { canI } from './support/access.ts';
import { removeNamespaces } from './support/cleanup.ts';
import { eventRecorded } from './support/events.ts';
import { eventually } from './support/eventually.ts';
import { accept, acceptLatest, latestLink, mailedTokens, mailsTo, nthLink } from './support/invitations.ts';
import { startOperator, type OperatorProcess } from './support/operator.ts';
import { startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
let admin: KubeClient;
let smtp: TestSmtpServer;
let operator: OperatorProcess;
/** Every namespace a test created, removed in afterAll. */
const namespaces = new Set<string>();

async function apply(manifest: string): Promise<void> {
  const result = await kubectl(kubeconfig, ['apply', '-f', '-'], manifest);
  expect(result.stderr, manifest).toBe('');
}

async function createNamespace(name: string, team?: string): Promise<void> {
  namespaces.add(name);
  // Environment namespaces are assigned to their team by the platform (SPEC §7).
  const labels = team ? { labels: { 'roster.dev/team': team } } : {};
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...labels } });
}

type ProjectName = 'shop' | 'blog';

/** One test's copy of Acme: its control namespace, the environments it asked for, its people. */
interface Acme {
  ns: string;
  prod: string;
  staging: string;
  blog: string;
  /** The address of one of this copy's people (unique to the test, so mail counts are its own). */
  email(person: string): string;
  team(): Promise<Team>;
  membership(name: string): Promise<Membership>;
  invitation(name: string): Promise<Invitation>;
  canI(person: string, verb: string, resource: string, namespace: string, group?: string): Promise<boolean>;
}

/**
 * A fresh Acme team (owner Liam Hillier, not yet accepted) in namespaces named after the test:
 * control namespace `acme-<slug>`; project shop with environments production and staging,
 * project blog with production, each only if asked for.
 */
async function acme(slug: string, options: { seats?: number; projects?: readonly ProjectName[] } = {}): Promise<Acme> {
  const projects = options.projects ?? [];
  const ns = `acme-${slug}`;
  const t: Acme = {
    ns,
    prod: `${slug}-shop-prod`,
    staging: `${slug}-shop-staging`,
    blog: `${slug}-blog`,
    email: (person) => `${person}@${slug}.acme.example`,
    team: () => admin.get<Team>(resources.team, ns, 'acme'),
    membership: (name) => admin.get<Membership>(resources.membership, ns, name),
    invitation: (name) => admin.get<Invitation>(resources.invitation, ns, name),
    canI: (person, verb, resource, namespace, group = '') => canI(admin, person.includes('@') ? person : t.email(person), verb, resource, namespace, group),
  };
  await createNamespace(ns);
  if (projects.includes('shop')) for (const env of [t.prod, t.staging]) await createNamespace(env, ns);
  if (projects.includes('blog')) await createNamespace(t.blog, ns);
  const manifests = [
    `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${ns} }
spec:
  displayName: Acme Corp
  owner: { email: ${t.email('liam')}, name: Liam Hillier }
  seats: ${options.seats ?? 5}
`,
  ];
  if (projects.includes('shop'))
    manifests.push(`apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: shop, namespace: ${ns} }
spec:
  team: acme
  environments:
    - { name: production, namespace: ${t.prod} }
    - { name: staging, namespace: ${t.staging} }
`);
  if (projects.includes('blog'))
    manifests.push(`apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: blog, namespace: ${ns} }
spec:
  team: acme
  environments: [{ name: production, namespace: ${t.blog} }]
`);
  await apply(manifests.join('---\n'));
  return t;
}

/** A Membership of this copy of Acme, e.g. `member(t, 'noah', 'role: admin')`. */
async function member(t: Acme, name: string, spec: string): Promise<void> {
  await apply(`apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: ${name}, namespace: ${t.ns} }
spec: { team: acme, email: ${t.email(name)}, ${spec} }
`);
}

/** Waits for a person's mail and presses Accept, then for their Membership to be Active. */
async function join(t: Acme, name: string): Promise<void> {
  await acceptLatest(smtp, t.email(name));
  await eventually(async () => expect((await t.membership(name)).status?.phase).toBe('Active'));
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  smtp = await startSmtpServer({
    // The crash test's mail: the operator dies after the server has it and before it answers.
    beforeReply: async (mail) => {
      if (mail.subject?.includes('Crash Corp')) await operator.kill('SIGKILL');
    },
  });
  operator = await startOperator({ kubeconfigPath: kubeconfig, smtpPort: smtp.port });
});

afterAll(async () => {
  if (admin) await removeNamespaces(admin, [...namespaces]); // while the operator runs its finalizers
  await operator?.kill('SIGTERM');
  await smtp?.stop();
  admin?.close();
});

describe.concurrent('a team, end to end', () => {
  // The two slow ones first, so they start at once and the rest run while they wait.
  it('6. a short TTL expires the link; a resend revives it with a new one', { timeout: 150_000 }, async () => {
    const ns = 'quick-ttl';
    await createNamespace(ns);
    await apply(`apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: quick, namespace: ${ns} }
spec: { owner: { email: quinn@quick.example }, seats: 2, invitations: { ttl: 1m } }
`);
    const owner = await latestLink(smtp, 'quinn@quick.example');
    const name = await eventually(async () => {
      const t = await admin.get<Team>(resources.team, ns, 'quick');
      expect(t.status?.owner?.invitation).toBeTruthy();
      return t.status!.owner!.invitation!;
    });
    await eventually(async () => expect((await admin.get<Invitation>(resources.invitation, ns, name)).status?.phase).toBe('Expired'), 90_000);
    expect((await fetch(owner)).status).toBe(404);
    await kubectl(kubeconfig, ['annotate', 'invitation', name, '-n', ns, 'roster.dev/resend=again', '--overwrite']);
    const fresh = await nthLink(smtp, 'quinn@quick.example', 2);
    expect(fresh).not.toBe(owner);
    await eventually(async () => expect((await admin.get<Invitation>(resources.invitation, ns, name)).status?.phase).toBe('Pending'));
    expect((await fetch(fresh)).status).toBe(200);
  });

  it('11. a Membership with expiresAt loses access then', async () => {
    const t = await acme('expiry', { projects: ['shop'] });
    const expiresAt = new Date(Date.now() + 25_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await member(t, 'temp', `role: observer, expiresAt: "${expiresAt}"`);
    await acceptLatest(smtp, t.email('temp'));
    await eventually(async () => expect(await t.canI('temp', 'get', 'pods', t.prod)).toBe(true));
    await eventually(async () => expect((await t.membership('temp')).status?.phase).toBe('Expired'), 60_000);
    await eventually(async () => expect(await t.canI('temp', 'get', 'pods', t.prod)).toBe(false));
  });

  it('1. mails everyone their own link and reports seats, phases and expiry', async () => {
    const t = await acme('invite', { projects: ['shop', 'blog'] });
    await member(t, 'riley', 'name: Riley Park, role: developer, projects: [{ name: shop, environments: [staging] }]');
    await member(t, 'noah', 'role: admin');
    await member(t, 'maya', 'role: billing');
    const recipients = ['liam', 'riley', 'noah', 'maya'].map(t.email);
    const links = await Promise.all(recipients.map((r) => latestLink(smtp, r)));
    expect(new Set(links).size).toBe(4);
    for (const r of recipients) expect(mailsTo(smtp, r)).toHaveLength(1);
    const riley = mailsTo(smtp, t.email('riley'))[0]!;
    expect(riley.subject).toContain('Acme Corp');
    expect(riley.text).toContain('developer');
    expect(riley.text).toContain('staging');

    await eventually(async () => {
      const team = await t.team();
      expect(team.status?.seats).toMatchObject({ limit: 5, available: 1 });
      expect(team.status?.seats?.summary).toBe('4/5');
      expect(team.status?.owner).toMatchObject({ email: t.email('liam'), phase: 'Invited' });
    });
    for (const name of ['riley', 'noah', 'maya']) {
      await eventually(async () => expect((await t.membership(name)).status?.phase).toBe('Invited'));
    }
    // The owner's Invitation counts its delivery once the SMTP server has answered, which can
    // be after the mail is in the test's mailbox.
    await eventually(async () => {
      const invitations = await admin.list<Invitation>(resources.invitation, t.ns);
      expect(invitations.items).toHaveLength(4);
      for (const inv of invitations.items) {
        expect(inv.status?.phase).toBe('Pending');
        expect(Date.parse(inv.status?.expiresAt ?? '') - Date.now()).toBeGreaterThan(160 * 3600_000);
        expect(inv.status?.deliveries).toBe(1);
      }
    });
  });

  it('2. the link shows the invitation; accepting grants exactly the scoped access', async () => {
    const t = await acme('accept', { projects: ['shop', 'blog'] });
    await member(t, 'riley', 'name: Riley Park, role: developer, projects: [{ name: shop, environments: [staging] }]');
    await member(t, 'maya', 'role: billing');
    const link = await latestLink(smtp, t.email('riley'));
    const page = await fetch(link);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Acme Corp');
    expect(html).toContain('developer');
    expect(html).toContain('Liam Hillier');
    expect(html).toMatch(/Expires/);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');

    expect((await accept(link)).status).toBe(200);
    await eventually(async () => expect((await t.membership('riley')).status?.phase).toBe('Active'));
    await eventually(async () => expect(await t.canI('riley', 'update', 'deployments', t.staging, 'apps')).toBe(true));
    expect(await t.canI('riley', 'update', 'deployments', t.prod, 'apps')).toBe(false);
    expect(await t.canI('riley', 'get', 'pods', t.blog)).toBe(false);

    await join(t, 'maya');
    for (const namespace of [t.prod, t.staging, t.blog]) expect(await t.canI('maya', 'get', 'pods', namespace)).toBe(false);
    await eventually(async () => expect(await t.canI('maya', 'get', 'teams', t.ns, 'roster.dev')).toBe(true));
    expect(await t.canI('maya', 'create', 'memberships', t.ns, 'roster.dev')).toBe(false);

    await acceptLatest(smtp, t.email('liam'));
    await eventually(async () => expect((await t.team()).status?.owner?.phase).toBe('Active'));
    await eventually(async () => expect(await t.canI('liam', 'delete', 'deployments', t.prod, 'apps')).toBe(true));
    await eventually(async () => expect(await t.canI('liam', 'update', 'teams', t.ns, 'roster.dev')).toBe(true));
  });

  it('3. a used link is refused, with the same answer as a made-up one', async () => {
    const t = await acme('used-link');
    await member(t, 'riley', 'role: developer');
    const link = await latestLink(smtp, t.email('riley'));
    await join(t, 'riley');
    const used = await accept(link);
    const madeUp = await accept(`${operator.publicUrl}/invite/${'A'.repeat(43)}`);
    expect(used.status).toBe(404);
    expect(madeUp.status).toBe(404);
    expect(used.body).toBe(madeUp.body);
    const getUsed = await fetch(link);
    expect(getUsed.status).toBe(404);
    expect(await getUsed.text()).toBe(madeUp.body);
  });

  it('4. resend mints a new link and kills the old one', async () => {
    const t = await acme('resend');
    await member(t, 'noah', 'role: admin');
    const old = await latestLink(smtp, t.email('noah'));
    const inv = await eventually(async () => {
      const name = (await t.membership('noah')).status?.invitation;
      expect(name).toBeTruthy();
      return name!;
    });
    const result = await kubectl(kubeconfig, ['annotate', 'invitation', inv, '-n', t.ns, 'roster.dev/resend=first', '--overwrite']);
    expect(result.code).toBe(0);
    const fresh = await nthLink(smtp, t.email('noah'), 2);
    expect(fresh).not.toBe(old);
    await eventually(async () => expect((await t.invitation(inv)).status?.deliveries).toBe(2));
    expect((await fetch(old)).status).toBe(404);
    expect((await fetch(fresh)).status).toBe(200);
    expect((await accept(fresh)).status).toBe(200);
    await eventually(async () => expect((await t.membership('noah')).status?.phase).toBe('Active'));
  });

  it('5. revoking kills the link and frees the seat', async () => {
    const t = await acme('revoke', { projects: ['shop'] });
    await kubectl(kubeconfig, ['patch', 'team', 'acme', '-n', t.ns, '--type=merge', '-p', '{"spec":{"seats":10}}']);
    await apply(`apiVersion: roster.dev/v1alpha1
kind: Invitation
metadata: { name: jordan, namespace: ${t.ns} }
spec: { team: acme, email: ${t.email('jordan')}, role: observer, projects: [{ name: shop }], message: "Welcome <b>aboard</b>" }
`);
    const link = await latestLink(smtp, t.email('jordan'));
    const page = await (await fetch(link)).text();
    expect(page).toContain('Welcome &lt;b&gt;aboard&lt;/b&gt;');
    await eventually(async () => expect((await t.team()).status?.seats?.summary).toBe('2/10')); // the owner and Jordan
    await kubectl(kubeconfig, ['patch', 'invitation', 'jordan', '-n', t.ns, '--type=merge', '-p', '{"spec":{"revoked":true}}']);
    await eventually(async () => expect((await t.invitation('jordan')).status?.phase).toBe('Revoked'));
    expect((await fetch(link)).status).toBe(404);
    expect((await accept(link)).status).toBe(404);
    await eventually(async () => expect((await t.team()).status?.seats?.summary).toBe('1/10'));
  });

  it('7. role and scope changes reach RBAC within seconds', async () => {
    const t = await acme('change', { projects: ['shop'] });
    await member(t, 'noah', 'role: admin');
    await member(t, 'riley', 'role: developer, projects: [{ name: shop, environments: [staging] }]');
    await join(t, 'noah');
    await join(t, 'riley');
    await eventually(async () => expect(await t.canI('noah', 'delete', 'deployments', t.prod, 'apps')).toBe(true));
    await kubectl(kubeconfig, ['patch', 'membership', 'noah', '-n', t.ns, '--type=merge', '-p', '{"spec":{"role":"observer"}}']);
    await eventually(async () => expect(await t.canI('noah', 'delete', 'deployments', t.prod, 'apps')).toBe(false));
    // The observer binding is a new one: the RBAC authorizer sees it a moment after it is written.
    await eventually(async () => expect(await t.canI('noah', 'get', 'pods', t.prod)).toBe(true));
    await eventually(async () => expect(await t.canI('noah', 'create', 'memberships', t.ns, 'roster.dev')).toBe(false));

    await eventually(async () => expect(await t.canI('riley', 'update', 'deployments', t.staging, 'apps')).toBe(true));
    await kubectl(kubeconfig, [
      'patch',
      'membership',
      'riley',
      '-n',
      t.ns,
      '--type=merge',
      '-p',
      '{"spec":{"projects":[{"name":"shop","environments":["production"]}]}}',
    ]);
    await eventually(async () => expect(await t.canI('riley', 'update', 'deployments', t.prod, 'apps')).toBe(true));
    await eventually(async () => expect(await t.canI('riley', 'update', 'deployments', t.staging, 'apps')).toBe(false));
    await eventually(async () => expect((await t.membership('riley')).status?.identity?.scope).toEqual(['shop/production']));
  });

  it('drift: access changed by hand in the backend is put back, with an Event', async () => {
    const t = await acme('drift');
    await member(t, 'maya', 'role: billing');
    await join(t, 'maya');
    const bindingsOf = async () =>
      (
        await admin.list<KubeObject & { subjects?: Array<{ name: string }> }>(resources.roleBinding, t.ns, { labelSelector: 'roster.dev/team=acme' })
      ).items.filter((b) => b.subjects?.some((s) => s.name === t.email('maya')));
    const binding = await eventually(async () => {
      const [found] = await bindingsOf();
      expect(found).toBeDefined();
      return found!;
    });
    // Someone adds a colleague to Maya's binding, and later deletes it outright.
    const eve = `eve@${t.ns}.evil.example`;
    await admin.patch(resources.roleBinding, t.ns, binding.metadata.name ?? '', 'json', [
      { op: 'add', path: '/subjects/-', value: { kind: 'User', name: eve, apiGroup: 'rbac.authorization.k8s.io' } },
    ]);
    // The patch is stored when it returns, so a binding that names Maya alone again was put back by the operator.
    await eventually(async () => expect((await bindingsOf()).map((b) => b.subjects?.map((s) => s.name))).toEqual([[t.email('maya')]]));
    await eventually(async () => expect(await t.canI(eve, 'get', 'teams', t.ns, 'roster.dev')).toBe(false));
    await admin.delete(resources.roleBinding, t.ns, binding.metadata.name ?? '');
    await eventually(async () => expect(await bindingsOf()).toHaveLength(1));
    await eventually(async () => expect(await t.canI('maya', 'get', 'teams', t.ns, 'roster.dev')).toBe(true));
    await eventRecorded(admin, t.ns, 'DriftCorrected', 'maya');
  });

  it('8. deleting a Membership removes its access, its pending invitation and its seat', async () => {
    const t = await acme('remove', { seats: 10, projects: ['shop'] });
    await member(t, 'riley', 'role: developer, projects: [{ name: shop, environments: [production] }]');
    await join(t, 'riley');
    await eventually(async () => expect(await t.canI('riley', 'update', 'deployments', t.prod, 'apps')).toBe(true));

    await member(t, 'pat', 'role: developer');
    await latestLink(smtp, t.email('pat'));
    const patInvitation = await eventually(async () => {
      const inv = (await t.membership('pat')).status?.invitation;
      expect(inv).toBeTruthy();
      return inv!;
    });
    await eventually(async () => expect((await t.team()).status?.seats?.summary).toBe('3/10')); // the owner, Riley, Pat
    await kubectl(kubeconfig, ['delete', 'membership', 'pat', '-n', t.ns, '--wait=true']);
    expect(await admin.find(resources.invitation, t.ns, patInvitation)).toBeUndefined();
    await eventually(async () => expect((await t.team()).status?.seats?.summary).toBe('2/10'));

    await kubectl(kubeconfig, ['delete', 'membership', 'riley', '-n', t.ns, '--wait=true']);
    await eventually(async () => expect(await t.canI('riley', 'update', 'deployments', t.prod, 'apps')).toBe(false));
    const bindings = await admin.list(resources.roleBinding, t.prod, { labelSelector: 'roster.dev/team=acme' });
    expect(bindings.items.map((b) => JSON.stringify(b))).not.toContainEqual(expect.stringContaining(t.email('riley')));
    await eventRecorded(admin, t.ns, 'AccessRemoved', 'riley');
    const audit = new RegExp(`"stream":"audit".*"action":"remove".*"subject":"${t.email('riley').replaceAll('.', '\\.')}"`);
    await eventually(() => expect(operator.logs()).toMatch(audit));
  });

  it('9. ownership moves to an active admin; the previous owner stays on as admin', async () => {
    const t = await acme('owner');
    await acceptLatest(smtp, t.email('liam'));
    await eventually(async () => expect((await t.team()).status?.owner?.phase).toBe('Active'));
    await member(t, 'ava', 'role: admin');
    await join(t, 'ava');
    await kubectl(kubeconfig, [
      'patch',
      'team',
      'acme',
      '-n',
      t.ns,
      '--type=merge',
      '-p',
      `{"spec":{"owner":{"email":"${t.email('ava')}","name":"Ava Stone"}}}`,
    ]);
    await eventually(async () => expect(await t.canI('ava', 'update', 'teams', t.ns, 'roster.dev')).toBe(true));
    await eventually(async () => {
      const all = await admin.list<Membership>(resources.membership, t.ns);
      const liam = all.items.find((m) => m.spec.email === t.email('liam'));
      expect(liam?.spec.role).toBe('admin');
      expect(liam?.status?.phase).toBe('Active');
    });
    await eventually(async () => expect(await t.canI('liam', 'update', 'teams', t.ns, 'roster.dev')).toBe(false));
    await eventually(async () => expect(await t.canI('liam', 'create', 'memberships', t.ns, 'roster.dev')).toBe(true));
    await eventually(async () => expect((await t.team()).status?.owner).toMatchObject({ email: t.email('ava'), phase: 'Active' }));
    expect(mailsTo(smtp, t.email('ava'))).toHaveLength(1); // accepting as admin was enough: no owner invitation
    expect(mailsTo(smtp, t.email('liam'))).toHaveLength(1); // no new invitation for the previous owner
  });

  it('10. accepting a standalone Invitation creates the Membership', async () => {
    const t = await acme('standalone', { projects: ['blog'] });
    await apply(`apiVersion: roster.dev/v1alpha1
kind: Invitation
metadata: { name: kai, namespace: ${t.ns} }
spec: { team: acme, email: ${t.email('kai')}, role: developer, projects: [{ name: blog }] }
`);
    await join(t, 'kai');
    expect((await t.membership('kai')).spec).toMatchObject({ email: t.email('kai'), role: 'developer', projects: [{ name: 'blog' }] });
    await eventually(async () => expect(await t.canI('kai', 'update', 'deployments', t.blog, 'apps')).toBe(true));
    expect(mailsTo(smtp, t.email('kai'))).toHaveLength(1);
  });

  it('13. no token ever reaches the logs', async () => {
    // Every path a link takes: mailed, shown, accepted, refused once used, resent, revoked.
    const t = await acme('tokens', { seats: 12 });
    const people = ['riley', 'noah', 'maya', 'pat', 'ava', 'kai', 'temp', 'sam'];
    for (const name of people) await member(t, name, 'role: developer');
    await apply(`apiVersion: roster.dev/v1alpha1
kind: Invitation
metadata: { name: jordan, namespace: ${t.ns} }
spec: { team: acme, email: ${t.email('jordan')}, role: observer }
`);
    const riley = await latestLink(smtp, t.email('riley'));
    expect((await fetch(riley)).status).toBe(200);
    await join(t, 'riley');
    expect((await accept(riley)).status).toBe(404);
    await acceptLatest(smtp, t.email('liam'));
    const noahInvitation = await eventually(async () => {
      const name = (await t.membership('noah')).status?.invitation;
      expect(name).toBeTruthy();
      return name!;
    });
    await kubectl(kubeconfig, ['annotate', 'invitation', noahInvitation, '-n', t.ns, 'roster.dev/resend=tokens', '--overwrite']);
    expect((await accept(await nthLink(smtp, t.email('noah'), 2))).status).toBe(200);
    const jordan = await latestLink(smtp, t.email('jordan'));
    await kubectl(kubeconfig, ['patch', 'invitation', 'jordan', '-n', t.ns, '--type=merge', '-p', '{"spec":{"revoked":true}}']);
    await eventually(async () => expect((await t.invitation('jordan')).status?.phase).toBe('Revoked'));
    expect((await fetch(jordan)).status).toBe(404);
    await eventually(async () => expect((await t.team()).status?.owner?.phase).toBe('Active'));

    const mine = mailedTokens(smtp, ['liam', 'jordan', ...people].map(t.email));
    expect(mine.length).toBeGreaterThan(10);
    // Tokens mailed by the other tests so far are checked too.
    const tokens = mailedTokens(smtp);
    const logs = operator.logs();
    expect(logs.length).toBeGreaterThan(1000);
    for (const token of tokens) expect(logs.includes(token), 'a token is in the operator log').toBe(false);
    const invitations = JSON.stringify((await admin.list<Invitation>(resources.invitation, t.ns)).items);
    expect(invitations).toContain('"hash"');
    for (const token of tokens) expect(invitations, 'a token is in an Invitation').not.toContain(token);
  });
});

describe('a crash between sending and recording', () => {
  it('12. never mails the same link twice', async () => {
    const ns = 'crash-e2e';
    const cora = 'cora@crash.example';
    await createNamespace(ns);
    try {
      await apply(`apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: crash, namespace: ${ns} }
spec: { displayName: Crash Corp, owner: { email: ${cora} }, seats: 2 }
`);
      // The SMTP server kills the operator on this mail, before it answers 250 (beforeAll).
      await eventually(() => expect(mailsTo(smtp, cora)).toHaveLength(1), 60_000);
      await operator.restart();
      const invitation = await eventually(async () => {
        const list = await admin.list<Invitation>(resources.invitation, ns);
        expect(list.items[0]?.status?.delivery?.state).toBe('Unconfirmed');
        return list.items[0]!;
      }, 60_000);
      expect(invitation.status?.conditions).toContainEqual(expect.objectContaining({ type: 'Delivered', status: 'Unknown', reason: 'DeliveryUnconfirmed' }));
      await new Promise((r) => setTimeout(r, 3_000));
      expect(mailsTo(smtp, cora)).toHaveLength(1);
    } finally {
      // Whatever failed, the operator must run again: afterAll needs it to finish the finalizers.
      const ready = await fetch(`http://127.0.0.1:${operator.probesPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ready) await operator.restart();
    }
  });
});
