// The kubectl-roster plugin end to end: the real bin/kubectl-roster executable, run as a
// subprocess (directly, through a symlink, and by kubectl as `kubectl roster`), against the
// shared test cluster, with the real operator process reconciling and mailing a real SMTP
// server. Most calls take their namespace from the kubeconfig context, as a user's would.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ParsedMail } from 'mailparser';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { Invitation, Membership, Team } from '../../../src/api/generated.ts';
import { resources } from '../../../src/api/resources.ts';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.ts';
import { binary, projectRoot } from '../../../controlplane/harness.ts';
import { eventually } from '../support/eventually.ts';
import { kubectl } from '../kubectl.ts';
import { startOperator, type OperatorProcess } from '../support/operator.ts';
import { removeNamespaces } from '../support/cleanup.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
const ns = 'cli-e2e';
const prod = 'cli-shop-prod';
const staging = 'cli-shop-staging';
const plugin = join(projectRoot, 'bin', 'kubectl-roster');
const dir = mkdtempSync(join(tmpdir(), 'roster-cli-'));
/** The admin kubeconfig with the context's namespace set to ns: commands without -n land there. */
const contextKubeconfig = join(dir, 'kubeconfig');

let admin: KubeClient;
let smtp: TestSmtpServer;
let operator: OperatorProcess;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(file: string, args: string[], env: Record<string, string> = {}, cwd = projectRoot): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, env: { ...process.env, KUBECONFIG: contextKubeconfig, ...env }, timeout: 60_000, maxBuffer: 8 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 99) : 0, stdout, stderr }),
    );
  });
}

const roster = (...args: string[]): Promise<Run> => exec(plugin, args);

async function json<T>(...args: string[]): Promise<T> {
  const run = await roster(...args, '-o', 'json');
  expect(run.stderr, args.join(' ')).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as T;
}

/** The error line of a failed run: exactly one `error: ...` line (plus the help pointer for usage errors). */
function errorLine(run: Run): string {
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^error: /);
  expect(lines.length).toBeLessThanOrEqual(2);
  return lines[0]!;
}

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
  return match[1]!;
}

async function latestLink(email: string, count = 1): Promise<string> {
  return await eventually(() => {
    const mails = mailsTo(email);
    expect(mails.length).toBeGreaterThanOrEqual(count);
    return linkIn(mails[mails.length - 1]!);
  }, 30_000);
}

async function accept(email: string): Promise<void> {
  const res = await fetch(await latestLink(email), { method: 'POST' });
  expect(res.status).toBe(200);
}

interface MemberRow {
  email: string;
  role: string;
  scope: string;
  phase: string;
  source: string;
  object: string;
}
const memberRows = async () => (await json<{ members: MemberRow[] }>('members', 'acme')).members;
const rowOf = (rows: MemberRow[], email: string, source?: string) => rows.find((r) => r.email === email && (source === undefined || r.source === source));

interface SeatsJson {
  limit: number;
  used: number;
  pending: number;
  available: number;
  source: string;
  breakdown: { email: string; seat: string; object: string }[];
}

let jordanInvitation = '';
let kaiInvitation = '';

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  for (const name of [ns, prod, staging]) {
    // The environment namespaces are assigned to the team (SPEC §7).
    await admin.apply(resources.namespace, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, ...(name === ns ? {} : { labels: { 'roster.dev/team': ns } }) },
    });
  }
  const config = parseYaml(readFileSync(kubeconfig, 'utf8')) as { contexts: { context: Record<string, string> }[] };
  for (const c of config.contexts) c.context.namespace = ns;
  writeFileSync(contextKubeconfig, stringifyYaml(config), { mode: 0o600 });

  smtp = await startSmtpServer();
  operator = await startOperator({ kubeconfigPath: kubeconfig, smtpPort: smtp.port });
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
kind: Membership
metadata: { name: riley, namespace: ${ns} }
spec: { team: acme, email: riley@acme.com, name: Riley Park, role: developer, projects: [{ name: shop, environments: [staging] }] }
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: noah, namespace: ${ns} }
spec: { team: acme, email: noah@acme.com, role: admin }
`);
});

afterAll(async () => {
  if (admin) await removeNamespaces(admin, [ns, prod, staging]); // while the operator runs its finalizers
  await operator?.kill('SIGTERM');
  await smtp?.stop();
  admin?.close();
});

describe('kubectl-roster', () => {
  it('answers help and usage errors without a cluster, from any directory and through a symlink', async () => {
    const linkDir = mkdtempSync(join(tmpdir(), 'roster-cli-path-'));
    symlinkSync(plugin, join(linkDir, 'kubectl-roster'));
    const help = await exec(join(linkDir, 'kubectl-roster'), ['--help'], { KUBECONFIG: '/nonexistent' }, '/');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^ {2}can-i +Check whether a person may do something/m);
    expect(help.stderr).toBe('');

    const inviteHelp = await roster('invite', '--help');
    expect(inviteHelp.stdout).toContain('kubectl roster invite EMAIL --team TEAM --role ROLE [flags]');
    expect(inviteHelp.stdout).toContain('Examples:');

    const missing = await roster('invite', 'x@acme.com');
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(errorLine(missing)).toBe('error: invite needs --team TEAM and --role ROLE');
    expect(missing.stderr).toContain("See 'kubectl roster invite --help' for usage.");

    const badOutput = await roster('members', 'acme', '-o', 'xml');
    expect(badOutput.code).toBe(2);
    const unknown = await roster('membrs', 'acme');
    expect(unknown.code).toBe(2);
    expect(errorLine(unknown)).toContain('(did you mean members?)');
  });

  it('members: the owner and the memberships with role, scope and phase once the operator reconciled them', async () => {
    const rows = await eventually(
      async () => {
        const r = await memberRows();
        expect(r.map((m) => [m.email, m.role, m.phase, m.source])).toEqual([
          ['liam@acme.com', 'owner', 'Invited', 'owner'],
          ['noah@acme.com', 'admin', 'Invited', 'membership'],
          ['riley@acme.com', 'developer', 'Invited', 'membership'],
        ]);
        return r;
      },
      30_000,
      500,
    );
    expect(rowOf(rows, 'riley@acme.com')).toMatchObject({ scope: 'shop (staging)', object: 'membership/riley' });

    const table = await roster('members', 'acme');
    expect(table.code).toBe(0);
    const [header, ...lines] = table.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^EMAIL +ROLE +SCOPE +PHASE +OBJECT +AGE$/);
    expect(lines).toHaveLength(3);
    for (const column of ['ROLE', 'SCOPE', 'PHASE', 'OBJECT']) {
      const at = header!.indexOf(column);
      for (const line of lines) expect(line[at - 1], `${column} in ${line}`).toBe(' ');
      for (const line of lines) expect(line[at], `${column} in ${line}`).not.toBe(' ');
    }
    expect(lines[2]).toMatch(/^riley@acme\.com +developer +shop \(staging\) +Invited +membership\/riley +\d+s$/);
  });

  it('kubectl runs it as `kubectl roster` when bin/ is on PATH', async () => {
    const viaKubectl = await exec(binary('kubectl'), ['roster', 'members', 'acme', '-o', 'json'], { PATH: `${join(projectRoot, 'bin')}:${process.env.PATH}` });
    expect(viaKubectl.stderr).toBe('');
    expect(viaKubectl.code).toBe(0);
    const direct = await roster('members', 'acme', '-o', 'json');
    expect(JSON.parse(viaKubectl.stdout)).toEqual(JSON.parse(direct.stdout));
    // Without bin/ on PATH kubectl has no such command: the test above is not vacuous.
    const without = await exec(binary('kubectl'), ['roster', 'members', 'acme'], { PATH: '/usr/bin:/bin' });
    expect(without.code).not.toBe(0);
  });

  it('invite: creates a standalone Invitation that the operator mails; refuses duplicates and unknown projects', async () => {
    const run = await roster('invite', 'jordan@acme.com', '--team', 'acme', '--role', 'observer', '--project', 'shop:staging', '--message', 'Welcome aboard');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const match = /^invitation\.roster\.dev\/(jordan-[a-z0-9]{5}) created: jordan@acme\.com invited to team acme as observer \(shop \(staging\)\)/.exec(
      run.stdout,
    );
    expect(match, run.stdout).not.toBeNull();
    jordanInvitation = match![1]!;
    const created = await admin.get<Invitation>(resources.invitation, ns, jordanInvitation);
    expect(created.spec).toEqual({
      team: 'acme',
      email: 'jordan@acme.com',
      role: 'observer',
      projects: [{ name: 'shop', environments: ['staging'] }],
      message: 'Welcome aboard',
      revoked: false,
    });

    await latestLink('jordan@acme.com');
    expect(mailsTo('jordan@acme.com')[0]!.text).toContain('Welcome aboard');
    await eventually(
      async () =>
        expect(rowOf(await memberRows(), 'jordan@acme.com')).toMatchObject({
          source: 'invitation',
          object: `invitation/${jordanInvitation}`,
          phase: 'Pending',
          role: 'observer',
        }),
      20_000,
      500,
    );

    const again = await roster('invite', 'jordan@acme.com', '--team', 'acme', '--role', 'developer');
    expect(again.code).toBe(1);
    // The webhook's own words: the CLI runs its validator before sending.
    expect(errorLine(again)).toContain(`a pending invitation ${jordanInvitation} for jordan@acme.com already exists in team acme; resend it`);
    const member = await roster('invite', 'Noah@acme.com', '--team', 'acme', '--role', 'observer');
    expect(member.code).toBe(1);
    expect(errorLine(member)).toContain('Noah@acme.com already has Membership noah in team acme; edit its spec.role instead of inviting again');
    const noProject = await roster('invite', 'x@acme.com', '--team', 'acme', '--role', 'developer', '--project', 'blog');
    expect(noProject.code).toBe(1);
    expect(errorLine(noProject)).toBe('error: project blog does not exist; create a Project named blog first, or use one of: shop');
    const noTeam = await roster('invite', 'x@acme.com', '--team', 'nosuch', '--role', 'developer');
    expect(noTeam.code).toBe(1);
    expect(errorLine(noTeam)).toBe(`error: team nosuch not found in namespace ${ns}; teams here: acme`);

    const asJson = await json<Invitation>('invite', 'kai@acme.com', '--team', 'acme', '--role', 'developer', '--name', 'kai-invite');
    expect(asJson).toMatchObject({ kind: 'Invitation', metadata: { name: 'kai-invite', namespace: ns }, spec: { email: 'kai@acme.com', role: 'developer' } });
    kaiInvitation = 'kai-invite';
  });

  it('seats: the numbers from Team status, who holds them, and no invitation past the limit', async () => {
    const seats = await eventually(
      async () => {
        const s = await json<SeatsJson>('seats', 'acme');
        expect(s).toMatchObject({ limit: 5, used: 0, pending: 5, available: 0, source: 'status' });
        return s;
      },
      30_000,
      500,
    );
    expect(seats.breakdown.map((b) => `${b.email}:${b.seat}`).sort()).toEqual([
      'jordan@acme.com:pending',
      'kai@acme.com:pending',
      'liam@acme.com:pending',
      'noah@acme.com:pending',
      'riley@acme.com:pending',
    ]);
    const table = await roster('seats', 'acme');
    expect(table.stdout).toMatch(/^TEAM +LIMIT +USED +PENDING +AVAILABLE\nacme +5 +0 +5 +0\n\nEMAIL +SEAT +ROLE +PHASE +OBJECT\n/);

    const full = await roster('invite', 'zed@acme.com', '--team', 'acme', '--role', 'observer');
    expect(full.code).toBe(1);
    expect(errorLine(full)).toBe('error: team acme has 5 of 5 seats in use; raise spec.seats or remove a member');
    expect((await admin.list<Invitation>(resources.invitation, ns)).items.map((i) => i.spec.email)).not.toContain('zed@acme.com');
  });

  it('can-i: no until the invitation is accepted, then what the role and scope allow — as the API server enforces it', async () => {
    const before = await roster('can-i', 'riley@acme.com', 'deploy', '--project', 'shop', '--environment', 'staging');
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/^no\nriley@acme\.com has not accepted the invitation yet \(membership riley is Invited\)/);

    for (const email of ['riley@acme.com', 'noah@acme.com', 'liam@acme.com']) await accept(email);
    await eventually(
      async () => {
        const rows = await memberRows();
        for (const email of ['riley@acme.com', 'noah@acme.com', 'liam@acme.com']) expect(rowOf(rows, email)?.phase, email).toBe('Active');
      },
      30_000,
      500,
    );

    const staged = await roster('can-i', 'riley@acme.com', 'deploy', '--project', 'shop', '--environment', 'staging');
    expect(staged.code).toBe(0);
    expect(staged.stdout).toMatch(/^yes\nriley@acme\.com is developer in team acme \(membership\/riley\): role developer grants deploy .* in shop\/staging/);
    const production = await roster('can-i', 'riley@acme.com', 'deploy', '--project', 'shop', '--environment', 'production');
    expect(production.code).toBe(1);
    expect(production.stdout).toContain('which does not include shop/production');
    // The plugin's answers match what the API server enforces for the kubernetes backend.
    const asRiley = (namespace: string) => exec(binary('kubectl'), ['auth', 'can-i', 'update', 'deployments.apps', '-n', namespace, '--as', 'riley@acme.com']);
    await eventually(async () => expect((await asRiley(staging)).stdout.trim()).toBe('yes'), 20_000, 500);
    expect((await asRiley(prod)).stdout.trim()).toBe('no');

    expect((await roster('can-i', 'noah@acme.com', 'invite')).code).toBe(0);
    const quiet = await roster('can-i', 'noah@acme.com', 'billing', '-q');
    expect(quiet).toEqual({ code: 1, stdout: '', stderr: '' });
    const owner = await roster('can-i', 'liam@acme.com', 'transfer-ownership', '-o', 'json');
    expect(owner.code).toBe(0);
    expect(JSON.parse(owner.stdout)).toMatchObject({ allowed: true, role: 'owner', permission: 'changePlan', team: 'acme', via: 'team/acme' });
    const stranger = await roster('can-i', 'stranger@acme.com', 'view');
    expect(stranger).toMatchObject({ code: 1, stdout: 'no\nstranger@acme.com is neither the owner nor a member of team acme\n' });
    const pending = await roster('can-i', 'jordan@acme.com', 'view');
    expect(pending.code).toBe(1);
    expect(pending.stdout).toContain(`invitation ${jordanInvitation} (observer) is waiting for them to accept`);
    expect((await roster('can-i', 'noah@acme.com', 'fly')).code).toBe(2);
  });

  it('resend: a second mail with a new link; refused for accepted and unknown invitations', async () => {
    const first = await latestLink('jordan@acme.com');
    const run = await roster('resend', jordanInvitation);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`invitation.roster.dev/${jordanInvitation}: resend requested; a fresh link goes to jordan@acme.com`);
    const second = await latestLink('jordan@acme.com', 2);
    expect(second).not.toBe(first);
    expect(mailsTo('jordan@acme.com')).toHaveLength(2);
    await eventually(async () => expect((await admin.get<Invitation>(resources.invitation, ns, jordanInvitation)).status?.deliveries).toBe(2));
    expect((await fetch(first)).status).toBe(404);

    const rileyInvitations = (await admin.list<Invitation>(resources.invitation, ns)).items.filter((i) => i.spec.email === 'riley@acme.com');
    const accepted = await roster('resend', rileyInvitations[0]!.metadata.name!);
    expect(accepted.code).toBe(1);
    expect(errorLine(accepted)).toMatch(/was already accepted; nothing to resend/);
    const byMembership = await roster('resend', 'riley');
    expect(byMembership.code).toBe(1);
    expect(errorLine(byMembership)).toBe('error: membership riley has already accepted; there is no invitation to resend');
    const unknown = await roster('resend', 'nosuch');
    expect(unknown.code).toBe(1);
    expect(errorLine(unknown)).toBe(`error: invitation nosuch not found in namespace ${ns} (nor a membership or team of that name)`);
  });

  it('revoke: the link dies and the seat frees; an operator-kept invitation says to delete its membership', async () => {
    const kaiLink = await latestLink('kai@acme.com');
    const run = await roster('revoke', kaiInvitation);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`invitation.roster.dev/${kaiInvitation} revoked: the link to kai@acme.com no longer works and its seat is free\n`);
    await eventually(async () => expect((await admin.get<Invitation>(resources.invitation, ns, kaiInvitation)).status?.phase).toBe('Revoked'));
    expect((await fetch(kaiLink)).status).toBe(404);
    await eventually(async () => expect(await json<SeatsJson>('seats', 'acme')).toMatchObject({ used: 3, pending: 1, available: 1 }), 20_000, 500);
    expect(rowOf(await memberRows(), 'kai@acme.com')).toBeUndefined();
    expect(await roster('revoke', kaiInvitation)).toMatchObject({ code: 0, stdout: `invitation.roster.dev/${kaiInvitation} is already revoked\n` });

    await apply(`apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: pat, namespace: ${ns} }
spec: { team: acme, email: pat@acme.com, role: developer }
`);
    const patInvitation = await eventually(async () => {
      const m = await admin.get<Membership>(resources.membership, ns, 'pat');
      expect(m.status?.invitation).toBeTruthy();
      return m.status!.invitation!;
    });
    const owned = await roster('revoke', patInvitation);
    expect(owned.code).toBe(1);
    expect(errorLine(owned)).toBe(
      `error: invitation ${patInvitation} belongs to membership pat, which would only send a new one; to withdraw it delete the membership: kubectl delete membership pat -n ${ns}`,
    );
    expect((await admin.get<Invitation>(resources.invitation, ns, patInvitation)).spec.revoked).toBe(false); // the CRD default, untouched
  });

  it('transfer: only to an Active admin; then the operator moves ownership and keeps the old owner as admin', async () => {
    const developer = await roster('transfer', 'acme', 'riley@acme.com');
    expect(developer.code).toBe(1);
    expect(errorLine(developer)).toContain('riley@acme.com is developer in team acme; only an Active admin can become the owner: make them admin first');
    const invited = await roster('transfer', 'acme', 'jordan@acme.com');
    expect(invited.code).toBe(1);
    expect(errorLine(invited)).toContain('jordan@acme.com is not a member of team acme; only an Active admin can become the owner: invite them first');
    expect((await admin.get<Team>(resources.team, ns, 'acme')).spec.owner.email).toBe('liam@acme.com');

    const run = await roster('transfer', 'acme', 'noah@acme.com');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('team.roster.dev/acme: ownership moves from liam@acme.com to noah@acme.com; liam@acme.com stays on as admin');
    const team = await admin.get<Team>(resources.team, ns, 'acme');
    expect(team.spec.owner).toEqual({ email: 'noah@acme.com' }); // the old owner's display name is not carried over
    await eventually(
      async () => {
        const rows = await memberRows();
        expect(rows[0]).toMatchObject({ email: 'noah@acme.com', role: 'owner', phase: 'Active', source: 'owner' });
        expect(rowOf(rows, 'liam@acme.com', 'membership')).toMatchObject({ role: 'admin', phase: 'Active' });
      },
      30_000,
      500,
    );
    expect(await roster('transfer', 'acme', 'noah@acme.com')).toMatchObject({ code: 0, stdout: 'noah@acme.com already owns team acme; nothing to do\n' });
  });

  it("audit: the team's history from Events, newest last", async () => {
    interface AuditJson {
      events: { time: string; reason: string; object: string; note: string }[];
    }
    const wanted = ['OwnerInvited', 'Sent', 'Activated', 'Resent', 'Revoked', 'OwnershipTransferred'];
    const trail = await eventually(
      async () => {
        const { events } = await json<AuditJson>('audit', 'acme');
        for (const reason of wanted)
          expect(
            events.map((e) => e.reason),
            reason,
          ).toContain(reason);
        return events;
      },
      20_000,
      500,
    );
    const times = trail.map((e) => Date.parse(e.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const at = (reason: string, object: string) => trail.findIndex((e) => e.reason === reason && e.object === object);
    expect(at('Sent', `invitation/${jordanInvitation}`)).toBeGreaterThanOrEqual(0);
    expect(at('Sent', `invitation/${jordanInvitation}`)).toBeLessThan(at('Resent', `invitation/${jordanInvitation}`));
    expect(at('Revoked', `invitation/${kaiInvitation}`)).toBeLessThan(at('OwnershipTransferred', 'team/acme'));
    expect(trail.every((e) => !/\/invite\//.test(e.note))).toBe(true);

    const table = await roster('audit', 'acme');
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME +TYPE +REASON +OBJECT +ACTOR +MESSAGE$/);
    expect(
      lines
        .slice(1)
        .some((l) =>
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +Normal +OwnershipTransferred +team\/acme +\S+ +ownership moved from liam@acme\.com to noah@acme\.com/.test(l),
        ),
    ).toBe(true);

    const future = await roster('audit', 'acme', '--since', '2099-01-01T00:00:00Z');
    expect(future).toMatchObject({ code: 0, stdout: '', stderr: `No events found for team acme in namespace ${ns} since 2099-01-01T00:00:00Z.\n` });
    const recent = await json<AuditJson>('audit', 'acme', '--since', '10m');
    expect(recent.events.map((e) => e.reason)).toContain('OwnershipTransferred');
  });

  it('errors: wrong namespace, unreachable API server and forbidden requests each exit with their code and one line', async () => {
    const elsewhere = await roster('members', 'acme', '-n', prod);
    expect(elsewhere.code).toBe(1);
    expect(errorLine(elsewhere)).toBe(`error: team acme not found: there are no teams in namespace ${prod} (pick the team's namespace with -n)`);

    const config = parseYaml(readFileSync(contextKubeconfig, 'utf8')) as {
      clusters: { cluster: { server: string } }[];
      users: { user: Record<string, unknown> }[];
    };
    const unreachable = structuredClone(config);
    for (const c of unreachable.clusters) c.cluster.server = 'https://127.0.0.1:1';
    const unreachablePath = join(dir, 'unreachable');
    writeFileSync(unreachablePath, stringifyYaml(unreachable));
    const down = await roster('seats', 'acme', '--kubeconfig', unreachablePath);
    expect(down.code).toBe(3);
    expect(errorLine(down)).toMatch(/^error: cannot reach the API server at https:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/);

    // A service account with no rights: the API server's refusal, verbatim, exit 3.
    await admin.apply(resources.serviceAccount, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'nobody', namespace: ns } });
    const review = await admin.request<{ status: { token: string } }>('create', 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/nobody/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
    });
    const nobody = structuredClone(config);
    for (const u of nobody.users) u.user = { token: review.status.token };
    const nobodyPath = join(dir, 'nobody');
    writeFileSync(nobodyPath, stringifyYaml(nobody));
    const forbidden = await roster('members', 'acme', '--kubeconfig', nobodyPath);
    expect(forbidden.code).toBe(3);
    expect(errorLine(forbidden)).toMatch(
      /^error: teams\.roster\.dev "acme" is forbidden: User "system:serviceaccount:cli-e2e:nobody" cannot get resource "teams"/,
    );

    const objects = await admin.list<KubeObject>(resources.invitation, ns);
    expect(objects.items.length).toBeGreaterThan(0); // the refusals above changed nothing
  });
});

describe('kubectl-roster can-i and namespace assignment (SPEC §7)', () => {
  const legacy = 'cli-legacy-ops';
  const asked = ['can-i', 'noah@acme.com', 'deploy', '--project', 'legacy', '--environment', 'ops'];
  const labelCommand = `kubectl label namespace ${legacy} roster.dev/team=${ns}`;

  afterAll(async () => {
    if (admin) await removeNamespaces(admin, [legacy]);
  });

  it('says no for an environment whose namespace is missing or not labelled for the team, with the label command; yes once labelled', async () => {
    // The Project comes first (admission, where it runs, admits a namespace that does not exist yet with a warning).
    await admin.apply(resources.project, {
      apiVersion: 'roster.dev/v1alpha1',
      kind: 'Project',
      metadata: { name: 'legacy', namespace: ns },
      spec: { team: 'acme', environments: [{ name: 'ops', namespace: legacy }] },
    });
    // noah holds deploy team-wide (admin, or owner after the transfer above): only the namespace can say no.
    const missing = await roster(...asked);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(
      /^no\nnoah@acme\.com (owns team acme|is admin in team acme \(membership\/noah\)): role (owner|admin) would grant deploy in legacy\/ops, but Roster grants nothing there: /,
    );
    expect(missing.stdout).toContain(`namespace ${legacy} does not exist yet`);

    await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: legacy } });
    const unlabelled = await roster(...asked);
    expect(unlabelled.code).toBe(1);
    expect(unlabelled.stdout).toContain(
      `namespace ${legacy} is not assigned to the team in namespace ${ns}; a cluster admin assigns it with \`${labelCommand}\``,
    );
    const asJson = await roster(...asked, '-o', 'json');
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stdout)).toMatchObject({
      allowed: false,
      unreachable: [{ project: 'legacy', environment: 'ops', namespace: legacy, assignment: 'refused' }],
    });
    // The whole team: yes (shop is assigned), naming the environment that is not.
    const anywhere = await roster('can-i', 'noah@acme.com', 'deploy');
    expect(anywhere.code).toBe(0);
    expect(anywhere.stdout).toContain(`except where Roster grants nothing: legacy/ops: namespace ${legacy} is not assigned`);

    // Another team's label is no better than none.
    await admin.patch(resources.namespace, undefined, legacy, 'merge', { metadata: { labels: { 'roster.dev/team': 'globex' } } });
    const foreign = await roster(...asked);
    expect(foreign.code).toBe(1);
    expect(foreign.stdout).toContain(`namespace ${legacy} is assigned to the team in namespace globex (roster.dev/team=globex)`);

    // The command the answer names, run as printed (with --overwrite over the foreign label), assigns it.
    const printed = /`(kubectl label namespace [^`]+)`/.exec(unlabelled.stdout)![1]!;
    expect(printed).toBe(labelCommand);
    const labelled = await kubectl(kubeconfig, [...printed.split(' ').slice(1), '--overwrite']);
    expect(labelled.code, labelled.stderr).toBe(0);
    const yes = await roster(...asked);
    expect(yes.stderr).toBe('');
    expect(yes.code).toBe(0);
    expect(yes.stdout).toMatch(/^yes\n.*grants deploy/);
    // Under another label key (an operator configured so), the same namespace is not assigned.
    const otherKey = await roster(...asked, '--namespace-label', 'platform.example/team');
    expect(otherKey.code).toBe(1);
    expect(otherKey.stdout).toContain(`kubectl label namespace ${legacy} platform.example/team=${ns}`);
    const badKey = await roster(...asked, '--namespace-label', 'not a key');
    expect(badKey.code).toBe(2);
    expect(errorLine(badKey)).toContain('--namespace-label "not a key" is not a label key');
    expect((await roster(...asked, '--operator-namespace', 'Roster_System')).code).toBe(2);
  });

  it('says no for kube-system and the operator namespace whatever the team applies', async () => {
    await admin.apply(resources.project, {
      apiVersion: 'roster.dev/v1alpha1',
      kind: 'Project',
      metadata: { name: 'sneaky', namespace: ns },
      spec: {
        team: 'acme',
        environments: [
          { name: 'system', namespace: 'kube-system' },
          { name: 'operator', namespace: 'roster-system' },
          { name: 'control', namespace: ns },
        ],
      },
    });
    for (const [environment, reason] of [
      ['system', 'namespace kube-system is a system namespace and never serves as an environment'],
      ['operator', "namespace roster-system is the roster operator's own namespace and never serves as an environment"],
      ['control', `namespace ${ns} holds the team's own roster objects and never serves as an environment`],
    ] as const) {
      const run = await roster('can-i', 'noah@acme.com', 'deploy', '--project', 'sneaky', '--environment', environment);
      expect(run.code, environment).toBe(1);
      expect(run.stdout, environment).toContain(reason);
    }
    const project = await roster('can-i', 'noah@acme.com', 'view', '--project', 'sneaky');
    expect(project.code).toBe(1);
    expect(project.stdout).toContain('Roster grants nothing in project sneaky');
    await admin.delete(resources.project, ns, 'sneaky');
  });

  it('says it cannot tell, not yes, when the caller may not read the namespace', async () => {
    // A reader of the team's roster objects without any right on namespaces.
    await admin.apply(resources.serviceAccount, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'roster-reader', namespace: ns } });
    await admin.apply(resources.role, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'roster-reader', namespace: ns },
      rules: [{ apiGroups: ['roster.dev'], resources: ['teams', 'memberships', 'invitations', 'projects'], verbs: ['get', 'list'] }],
    } as KubeObject);
    await admin.apply(resources.roleBinding, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'roster-reader', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'roster-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'roster-reader', namespace: ns }],
    } as KubeObject);
    const token = await admin.request<{ status: { token: string } }>('create', 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/roster-reader/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
    });
    const config = parseYaml(readFileSync(contextKubeconfig, 'utf8')) as { users: { user: Record<string, unknown> }[] };
    for (const u of config.users) u.user = { token: token.status.token };
    const readerPath = join(dir, 'roster-reader');
    writeFileSync(readerPath, stringifyYaml(config), { mode: 0o600 });

    const unsure = await eventually(
      async () => {
        const run = await roster(...asked, '--kubeconfig', readerPath);
        expect(run.stderr).toBe('');
        expect(run.code).toBe(1);
        return run;
      },
      20_000,
      500,
    );
    expect(unsure.stdout).toContain(
      `cannot tell whether namespace ${legacy} is assigned to the team in namespace ${ns}: the API server does not let you get namespace ${legacy}`,
    );
    expect(unsure.stdout).toContain(`kubectl get namespace ${legacy} --show-labels`);
    // The same question with the admin's credentials is a yes: the no above is about the reader.
    expect((await roster(...asked)).code).toBe(0);
  });
});
