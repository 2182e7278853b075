// Invitation delivery against the real API server and a real SMTP server (issue 10 items 3,
// 4, 6, 7, 9; issue 11 item 3 mail limits). The operator is built in this process from its
// real configuration, its caches watch the real API server, and no controller loop runs:
// each test calls the reconcilers itself, so it can make them race, hand them a stale cache,
// or move their clock. The one thing that needs a real process (kill -9 mid-send) runs the
// operator as a process.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ParsedMail } from 'mailparser';
import { pino } from 'pino';
import type { Invitation, Membership, Project, Team } from '../../src/api/generated.ts';
import { index } from '../../src/api/indexes.ts';
import { resources } from '../../src/api/resources.ts';
import { memberRows, phaseLabel } from '../../src/cli/team-view.ts';
import { parseConfig } from '../../src/config.ts';
import type { OperatorContext, Recorder } from '../../src/controllers/context.ts';
import { reconcileInvitation } from '../../src/controllers/invitation.ts';
import { reconcileMembership } from '../../src/controllers/membership.ts';
import { reconcileTeam } from '../../src/controllers/team.ts';
import { createOperator, type Operator } from '../../src/operator.ts';
import type { Informer } from '../../src/runtime/informer.ts';
import { KubeClient, type KubeObject } from '../../src/runtime/kube-client.ts';
import { kubectl } from './kubectl.ts';
import { removeNamespaces } from './support/cleanup.ts';
import { eventually } from './support/eventually.ts';
import { startOperator } from './support/operator.ts';
import { startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
const namespaces = ['dlv-race', 'dlv-crash', 'dlv-twice', 'dlv-owner', 'dlv-inviter', 'dlv-quota', 'dlv-cool', 'dlv-kill'];
let admin: KubeClient;
let smtp: TestSmtpServer;
let operator: Operator;
let base: OperatorContext;
let offsetMs = 0;
const recorded: Array<{ name: string; type: string; reason: string; note: string }> = [];
const events: Recorder = {
  record: (regarding, type, reason, _action, note) => void recorded.push({ name: regarding.metadata.name ?? '', type, reason, note }),
};

/** The operator's context with our Event sink and clock; `over` replaces parts of it. */
const ctx = (over: Partial<OperatorContext> = {}): OperatorContext => ({ ...base, events, now: () => new Date(Date.now() + offsetMs), ...over });

/** A cache that has not seen any Invitation yet (the watch is behind). */
function blind(real: Informer<Invitation>): Informer<Invitation> {
  const view = Object.create(real) as Informer<Invitation>;
  view.get = () => undefined;
  view.byIndex = () => [];
  view.list = () => [];
  return view;
}

/** A cache that still holds an old version of one Invitation. */
function behind(real: Informer<Invitation>, old: Invitation): Informer<Invitation> {
  const view = Object.create(real) as Informer<Invitation>;
  view.get = (namespace, name) => (namespace === old.metadata.namespace && name === old.metadata.name ? old : real.get(namespace, name));
  return view;
}

function mailsTo(email: string): ParsedMail[] {
  return smtp.messages.filter((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((t) => t?.value.some((v) => v.address === email)));
}

const linkOf = (mail: ParsedMail): string => /\/invite\/([A-Za-z0-9_-]+)/.exec(mail.text ?? '')?.[1] ?? '';

async function create<T extends KubeObject>(ref: typeof resources.team, object: T): Promise<T> {
  return await admin.create<T>(ref, object);
}

function team(namespace: string, name: string, owner: string, extra: Partial<Team['spec']> = {}): Team {
  return { apiVersion: 'roster.dev/v1alpha1', kind: 'Team', metadata: { name, namespace }, spec: { owner: { email: owner }, seats: 10, ...extra } };
}

function membership(
  namespace: string,
  name: string,
  teamName: string,
  email: string,
  extra: { annotations?: Record<string, string>; name?: string; role?: Membership['spec']['role'] } = {},
): Membership {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Membership',
    metadata: { name, namespace, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: { team: teamName, email, role: extra.role ?? 'developer', ...(extra.name ? { name: extra.name } : {}) },
  };
}

/** Creates the objects, waits for the caches, and lets the reconcilers add their finalizers. */
async function setUp(namespace: string, t: Team, members: Membership[]): Promise<void> {
  await create(resources.team, t);
  for (const m of members) await create(resources.membership, m);
  await eventually(() => {
    expect(base.caches.teams.get(namespace, t.metadata.name ?? '')).toBeDefined();
    for (const m of members) expect(base.caches.memberships.get(namespace, m.metadata.name ?? '')).toBeDefined();
  });
  await reconcileTeam(ctx(), `${namespace}/${t.metadata.name}`);
  for (const m of members) await reconcileMembership(ctx(), `${namespace}/${m.metadata.name}`);
  await eventually(() => {
    expect(base.caches.teams.get(namespace, t.metadata.name ?? '')?.metadata.finalizers).toContain('roster.dev/access');
    for (const m of members) expect(base.caches.memberships.get(namespace, m.metadata.name ?? '')?.metadata.finalizers).toContain('roster.dev/access');
  });
}

/** Runs the Team and Membership reconcilers until each Membership has its Invitation in the cache. */
async function invite(namespace: string, teamName: string, members: string[], c = ctx()): Promise<Record<string, Invitation>> {
  await reconcileTeam(c, `${namespace}/${teamName}`);
  for (const m of members) await reconcileMembership(c, `${namespace}/${m}`);
  return await eventually(() => {
    const out: Record<string, Invitation> = {};
    for (const m of members) {
      // Found by its owner: the Membership names it only once its mail has an outcome.
      const inv = base.caches.invitations.byIndex(index.byMembership, `${namespace}/${m}`)[0];
      expect(inv, `membership ${m} has an invitation`).toBeDefined();
      out[m] = inv!;
    }
    const owner = base.caches.teams.get(namespace, teamName)?.status?.owner?.invitation;
    expect(owner).toBeTruthy();
    out['<owner>'] = base.caches.invitations.get(namespace, owner!)!;
    expect(out['<owner>']).toBeDefined();
    return out;
  });
}

async function waitForCache(namespace: string, name: string, check: (i: Invitation) => void): Promise<Invitation> {
  return await eventually(() => {
    const inv = base.caches.invitations.get(namespace, name);
    expect(inv).toBeDefined();
    check(inv!);
    return inv!;
  });
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  for (const name of namespaces) await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  smtp = await startSmtpServer();
  const config = parseConfig({
    kubeconfig,
    namespace: 'default',
    publicUrl: 'http://127.0.0.1:9',
    webhook: { enabled: false },
    mail: { backend: 'smtp', from: 'Roster <roster@test.example>', smtp: { host: '127.0.0.1', port: smtp.port, pool: false, allowInsecure: true } },
  });
  operator = createOperator(config, pino({ level: 'silent' }));
  base = operator.context;
  const informers = Object.values(base.caches) as Array<Informer<KubeObject>>;
  for (const informer of informers) informer.start();
  await Promise.all(informers.map((i) => i.waitForSync()));
});

afterAll(async () => {
  if (admin) {
    // No controller runs here to finish the finalizers: lift them, then remove the namespaces.
    for (const namespace of namespaces) {
      for (const ref of [resources.membership, resources.team]) {
        for (const o of (await admin.list(ref, namespace)).items) {
          await admin.patch(ref, namespace, o.metadata.name ?? '', 'merge', { metadata: { finalizers: null } }).catch(() => undefined);
        }
      }
    }
    await removeNamespaces(admin, namespaces);
  }
  if (base) for (const informer of Object.values(base.caches) as Array<Informer<KubeObject>>) await informer.stop();
  await base?.mail.close();
  base?.client.close();
  await smtp?.stop();
  admin?.close();
});

describe('one Membership, one Invitation, one mail (issue 10 item 9)', () => {
  it('reconciles racing from a cache that has not seen the first Invitation create it once, and mail it once', async () => {
    const ns = 'dlv-race';
    await setUp(ns, team(ns, 'race', 'olive@race.example'), [membership(ns, 'dev', 'race', 'dev@race.example')]);
    const stale = ctx({ caches: { ...base.caches, invitations: blind(base.caches.invitations) } });
    await Promise.all([reconcileTeam(stale, `${ns}/race`), reconcileTeam(stale, `${ns}/race`)]);
    await Promise.all([reconcileMembership(stale, `${ns}/dev`), reconcileMembership(stale, `${ns}/dev`)]);
    // And once more after the first ones finished, still from the cache that saw nothing.
    await reconcileTeam(stale, `${ns}/race`);
    await reconcileMembership(stale, `${ns}/dev`);

    const invitations = (await admin.list<Invitation>(resources.invitation, ns)).items;
    expect(invitations.filter((i) => i.spec.email === 'dev@race.example').map((i) => i.metadata.name)).toHaveLength(1);
    expect(invitations.filter((i) => i.spec.email === 'olive@race.example').map((i) => i.metadata.name)).toHaveLength(1);

    // Every invitation there is gets reconciled twice at once: still one mail each.
    await eventually(() => expect(base.caches.invitations.list(ns)).toHaveLength(invitations.length));
    for (const inv of invitations) {
      await Promise.all([reconcileInvitation(ctx(), `${ns}/${inv.metadata.name}`), reconcileInvitation(ctx(), `${ns}/${inv.metadata.name}`)]);
    }
    await eventually(() => expect(mailsTo('dev@race.example').length + mailsTo('olive@race.example').length).toBe(2));
    await new Promise((r) => setTimeout(r, 500));
    expect(mailsTo('dev@race.example')).toHaveLength(1);
    expect(mailsTo('olive@race.example')).toHaveLength(1);
  });
});

describe('an unconfirmed delivery (issue 10 items 3 and 4)', () => {
  it('a reconcile from a stale cache that sees Sending records nothing when its write loses', async () => {
    const ns = 'dlv-crash';
    await setUp(ns, team(ns, 'crash', 'cora@crash.example'), [membership(ns, 'lost', 'crash', 'lost@crash.example')]);
    const { lost } = await invite(ns, 'crash', ['lost']);
    const created = lost!;
    await reconcileInvitation(ctx(), `${ns}/${created.metadata.name}`);
    const sent = await waitForCache(ns, created.metadata.name ?? '', (i) => expect(i.status?.delivery?.state).toBe('Sent'));
    expect(mailsTo('lost@crash.example')).toHaveLength(1);

    // The cache still holds the intent (Sending), as when the watch has not brought the confirmation yet.
    const intent: Invitation = {
      ...sent,
      metadata: { ...sent.metadata, resourceVersion: created.metadata.resourceVersion },
      status: { ...sent.status, delivery: { ...sent.status!.delivery!, state: 'Sending' } },
    };
    recorded.length = 0;
    await reconcileInvitation(ctx({ caches: { ...base.caches, invitations: behind(base.caches.invitations, intent) } }), `${ns}/${created.metadata.name}`);
    expect(recorded.filter((e) => e.reason === 'DeliveryUnconfirmed')).toEqual([]);
    expect((await admin.get<Invitation>(resources.invitation, ns, created.metadata.name ?? '')).status?.delivery?.state).toBe('Sent');
  });

  it('an operator stopped between intent and send: the Membership, kubectl and `members` say so and how to resend; nothing is sent twice', async () => {
    const ns = 'dlv-crash';
    const name = base.caches.invitations.byIndex(index.byMembership, `${ns}/lost`)[0]!.metadata.name!;
    // What a process killed mid-send leaves behind: the intent, never confirmed.
    const current = await admin.get<Invitation>(resources.invitation, ns, name);
    await admin.replace(
      resources.invitation,
      { ...current, status: { ...current.status, delivery: { ...current.status!.delivery!, state: 'Sending' } } },
      'status',
    );
    await waitForCache(ns, name, (i) => expect(i.status?.delivery?.state).toBe('Sending'));
    recorded.length = 0;
    await reconcileInvitation(ctx(), `${ns}/${name}`);
    expect(recorded.filter((e) => e.reason === 'DeliveryUnconfirmed')).toHaveLength(1);
    await waitForCache(ns, name, (i) => expect(i.status?.delivery?.state).toBe('Unconfirmed'));

    await reconcileMembership(ctx(), `${ns}/lost`);
    const m = await eventually(async () => {
      const got = await admin.get<Membership>(resources.membership, ns, 'lost');
      expect(got.status?.delivery).toBe('Unconfirmed');
      return got;
    });
    expect(m.status?.phase).toBe('Invited');
    expect(m.status?.conditions).toContainEqual(expect.objectContaining({ type: 'Delivered', status: 'Unknown', reason: 'DeliveryUnconfirmed' }));
    expect(m.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(`kubectl roster resend lost -n ${ns}`);
    expect(m.status?.conditions?.find((c) => c.type === 'Accepted')?.message).not.toMatch(/sent to|mailed to/);

    const printed = await kubectl(kubeconfig, ['get', 'memberships', '-n', ns]);
    expect(printed.stdout).toMatch(/DELIVERY/);
    expect(printed.stdout).toMatch(/lost\s.*Invited\s+Unconfirmed/);

    const [teams, memberships, invitations] = await Promise.all([
      admin.list<Team>(resources.team, ns),
      admin.list<Membership>(resources.membership, ns),
      admin.list<Invitation>(resources.invitation, ns),
    ]);
    const rows = memberRows({ team: teams.items[0]!, memberships: memberships.items, invitations: invitations.items, projects: [] as Project[] });
    const row = rows.find((r) => r.email === 'lost@crash.example')!;
    expect(phaseLabel(row)).toBe('Invited (mail unconfirmed)');
    expect(row.detail).toContain(`kubectl roster resend lost -n ${ns}`);
    expect(mailsTo('lost@crash.example')).toHaveLength(1);
  });

  it('with spec.invitations.delivery AtLeastOnce, an interrupted send is mailed again with a new link, recorded as a possible duplicate', async () => {
    const ns = 'dlv-twice';
    await setUp(ns, team(ns, 'twice', 'tia@twice.example', { invitations: { delivery: 'AtLeastOnce' } }), [
      membership(ns, 'dup', 'twice', 'dup@twice.example'),
    ]);
    const { dup } = await invite(ns, 'twice', ['dup']);
    const name = dup!.metadata.name ?? '';
    await reconcileInvitation(ctx(), `${ns}/${name}`);
    const sent = await waitForCache(ns, name, (i) => expect(i.status?.delivery?.state).toBe('Sent'));
    await admin.replace(resources.invitation, { ...sent, status: { ...sent.status, delivery: { ...sent.status!.delivery!, state: 'Sending' } } }, 'status');
    await waitForCache(ns, name, (i) => expect(i.status?.delivery?.state).toBe('Sending'));
    recorded.length = 0;
    await reconcileInvitation(ctx(), `${ns}/${name}`);
    const again = await waitForCache(ns, name, (i) => expect(i.status?.delivery?.state).toBe('Sent'));
    expect(again.status?.delivery?.possibleDuplicate).toBe(true);
    expect(again.status?.link?.id).not.toBe(sent.status?.link?.id);
    expect(recorded.map((e) => e.reason)).toContain('Redelivered');
    const mails = mailsTo('dup@twice.example');
    expect(mails).toHaveLength(2);
    expect(linkOf(mails[1]!)).not.toBe(linkOf(mails[0]!));
  });
});

describe('ownership supersedes a Membership without failing it (issue 10 item 6)', () => {
  it("the owner's own Membership is Superseded with Ready True, and `members` lists the person once", async () => {
    const ns = 'dlv-owner';
    await setUp(ns, team(ns, 'own', 'ava@own.example'), [membership(ns, 'ava', 'own', 'ava@own.example', { role: 'admin' })]);
    await reconcileMembership(ctx(), `${ns}/ava`);
    const m = await eventually(async () => {
      const got = await admin.get<Membership>(resources.membership, ns, 'ava');
      expect(got.status?.phase).toBe('Superseded');
      return got;
    });
    expect(m.status?.conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True', reason: 'Superseded' }));
    // Healthy for kstatus (Flux) and Argo CD: nothing Stalled, nothing Failed.
    expect(m.status?.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True')).toBeUndefined();
    const [teams, memberships] = await Promise.all([admin.list<Team>(resources.team, ns), admin.list<Membership>(resources.membership, ns)]);
    const rows = memberRows({ team: teams.items[0]!, memberships: memberships.items, invitations: [], projects: [] });
    expect(rows.filter((r) => r.email === 'ava@own.example')).toHaveLength(1);
    expect(rows[0]).toMatchObject({ role: 'owner', superseded: 'membership/ava' });
  });
});

describe('the mail names who invited (issue 10 item 7)', () => {
  it('uses the creator of the Membership, as the accept page does, not the owner', async () => {
    const ns = 'dlv-inviter';
    // roster.dev/created-by is what the mutating webhook stamps; set here as it would.
    await setUp(ns, team(ns, 'inv', 'liam@inv.example', { owner: { email: 'liam@inv.example', name: 'Liam Hillier' } }), [
      membership(ns, 'riley', 'inv', 'riley@inv.example', { name: 'Riley Park', role: 'admin' }),
      membership(ns, 'sam', 'inv', 'sam@inv.example', { annotations: { 'roster.dev/created-by': 'riley@inv.example' } }),
    ]);
    const { sam } = await invite(ns, 'inv', ['riley', 'sam']);
    await reconcileInvitation(ctx(), `${ns}/${sam!.metadata.name}`);
    const [mail] = await eventually(() => {
      const got = mailsTo('sam@inv.example');
      expect(got).toHaveLength(1);
      return got;
    });
    expect(mail!.subject).toContain('Riley Park');
    expect(mail!.text).toContain('Riley Park (riley@inv.example) invited you');
    expect(mail!.text).not.toContain('Liam');
    await waitForCache(ns, sam!.metadata.name ?? '', (i) => expect(i.status?.inviter).toBe('riley@inv.example'));
  });
});

describe('mail limits (issue 11 item 3, SPEC §7)', () => {
  it('over the daily quota nothing is sent: Delivered=False QuotaExceeded, an Event, and the mail goes out once the window allows', async () => {
    const ns = 'dlv-quota';
    await setUp(ns, team(ns, 'quota', 'quinn@quota.example'), [
      membership(ns, 'm1', 'quota', 'm1@quota.example'),
      membership(ns, 'm2', 'quota', 'm2@quota.example'),
    ]);
    const limited = ctx({ mailLimits: { dailyQuotaPerTeam: 2, resendCooldownSeconds: 0 } });
    const invs = await invite(ns, 'quota', ['m1', 'm2'], limited);
    for (const key of ['<owner>', 'm1']) {
      const name = invs[key]!.metadata.name ?? '';
      await reconcileInvitation(limited, `${ns}/${name}`);
      await waitForCache(ns, name, (i) => expect(i.status?.recentMails).toHaveLength(1));
    }
    const held = invs.m2!.metadata.name ?? '';
    recorded.length = 0;
    const result = await reconcileInvitation(limited, `${ns}/${held}`);
    expect(result.kind).toBe('requeueAfter');
    const status = (await waitForCache(ns, held, (i) => expect(i.status?.conditions?.find((c) => c.type === 'Delivered')?.reason).toBe('QuotaExceeded')))
      .status!;
    expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'Delivered', status: 'False', reason: 'QuotaExceeded' }));
    expect(status.link).toBeUndefined();
    expect(recorded.filter((e) => e.reason === 'QuotaExceeded')).toHaveLength(1);
    await reconcileInvitation(limited, `${ns}/${held}`); // still held: no second Event
    expect(recorded.filter((e) => e.reason === 'QuotaExceeded')).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(mailsTo('m2@quota.example')).toHaveLength(0);

    await reconcileMembership(limited, `${ns}/m2`);
    await eventually(async () => expect((await admin.get<Membership>(resources.membership, ns, 'm2')).status?.delivery).toBe('Deferred'));

    offsetMs = 24 * 3_600_000 + 60_000; // a day later the first mails have left the window
    try {
      await reconcileInvitation(ctx({ mailLimits: { dailyQuotaPerTeam: 2, resendCooldownSeconds: 0 } }), `${ns}/${held}`);
    } finally {
      offsetMs = 0;
    }
    await eventually(() => expect(mailsTo('m2@quota.example')).toHaveLength(1));
  });

  it("a resend within the cooldown waits until it has passed (the controller's line behind admission)", async () => {
    const ns = 'dlv-cool';
    await setUp(ns, team(ns, 'cool', 'cleo@cool.example'), [membership(ns, 'm', 'cool', 'm@cool.example')]);
    const cooled = (): OperatorContext => ctx({ mailLimits: { dailyQuotaPerTeam: 0, resendCooldownSeconds: 60 } });
    const { m } = await invite(ns, 'cool', ['m'], cooled());
    const name = m!.metadata.name ?? '';
    await reconcileInvitation(cooled(), `${ns}/${name}`);
    await waitForCache(ns, name, (i) => expect(i.status?.delivery?.state).toBe('Sent'));
    await admin.patch(resources.invitation, ns, name, 'merge', { metadata: { annotations: { 'roster.dev/resend': 'now' } } });
    await waitForCache(ns, name, (i) => expect(i.metadata.annotations?.['roster.dev/resend']).toBe('now'));

    const result = await reconcileInvitation(cooled(), `${ns}/${name}`);
    expect(result.kind).toBe('requeueAfter');
    expect(result.kind === 'requeueAfter' ? result.ms : 0).toBeGreaterThan(50_000);
    const waiting = await waitForCache(ns, name, (i) => expect(i.status?.conditions?.find((c) => c.type === 'Delivered')?.reason).toBe('ResendCooldown'));
    expect(waiting.status?.resendToken).not.toBe('now'); // not consumed: the resend still happens
    expect(waiting.status?.deliveries).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(mailsTo('m@cool.example')).toHaveLength(1);

    offsetMs = 61_000;
    try {
      await reconcileInvitation(cooled(), `${ns}/${name}`);
    } finally {
      offsetMs = 0;
    }
    await eventually(() => expect(mailsTo('m@cool.example')).toHaveLength(2));
    await waitForCache(ns, name, (i) => {
      expect(i.status?.deliveries).toBe(2);
      expect(i.status?.resendToken).toBe('now');
    });
  });
});

describe('AtLeastOnce across a real kill -9 (issue 10 item 4)', () => {
  it('the operator killed between intent and send mails the person again after the restart', async () => {
    const ns = 'dlv-kill';
    // This process reconciles the other tests' objects too: only Twice Corp's mails count.
    const twice = (): ParsedMail[] => killSmtp.messages.filter((m) => m.subject?.includes('Twice Corp'));
    const killSmtp = await startSmtpServer({
      beforeReply: async (mail) => {
        if (mail.subject?.includes('Twice Corp') && twice().length === 1) await proc.kill('SIGKILL');
      },
    });
    const proc = await startOperator({ kubeconfigPath: kubeconfig, smtpPort: killSmtp.port, config: { leaderElection: { enabled: false } } });
    try {
      await create(resources.team, team(ns, 'kill', 'kim@kill.example', { displayName: 'Twice Corp', invitations: { delivery: 'AtLeastOnce' } }));
      await eventually(() => expect(twice()).toHaveLength(1), 60_000);
      await proc.restart();
      await eventually(() => expect(twice()).toHaveLength(2), 60_000);
      const inv = await eventually(async () => {
        const list = await admin.list<Invitation>(resources.invitation, ns);
        expect(list.items[0]?.status?.delivery?.state).toBe('Sent');
        return list.items[0]!;
      }, 30_000);
      expect(inv.status?.delivery?.possibleDuplicate).toBe(true);
      expect(linkOf(twice()[1]!)).not.toBe(linkOf(twice()[0]!));
      await new Promise((r) => setTimeout(r, 2_000));
      expect(twice()).toHaveLength(2);
    } finally {
      // Let the process finish its own finalizers before it goes.
      await admin.delete(resources.team, ns, 'kill').catch(() => undefined);
      await eventually(async () => expect(await admin.find(resources.team, ns, 'kill')).toBeUndefined(), 30_000).catch(() => undefined);
      await proc.kill('SIGTERM');
      await killSmtp.stop();
    }
  });
});
