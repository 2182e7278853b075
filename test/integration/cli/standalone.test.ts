// The installable plugin, as a user gets it: `npm run build:plugin` builds the linux-x64
// single executable (cached under .roster/plugin, so a second run is a bundle and a copy),
// the test copies it ALONE into an empty directory, and runs every verb with a PATH holding
// only that directory and kubectl — no node, no node_modules, no checkout — against the test
// cluster, with the real operator mailing a real SMTP server. Then the npm package, unpacked
// with no node_modules beside it, run by a user's Node.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ParsedMail } from 'mailparser';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { Invitation, Team } from '../../../src/api/generated.ts';
import { resources } from '../../../src/api/resources.ts';
import { KubeClient } from '../../../src/runtime/kube-client.ts';
import { binary, projectRoot } from '../../../controlplane/harness.ts';
import { eventually } from '../support/eventually.ts';
import { kubectl } from '../kubectl.ts';
import { startOperator, type OperatorProcess } from '../support/operator.ts';
import { removeNamespaces } from '../support/cleanup.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
const ns = 'standalone-e2e';
const home = mkdtempSync(join(tmpdir(), 'roster-standalone-'));
/** Where the executable lives alone (and later its completion helper). */
const bin = join(home, 'bin');
/** kubectl alone, for `kubectl roster`. */
const kubectlDir = join(home, 'kubectl');
/** An empty working directory: nothing to find up the tree either. */
const work = join(home, 'work');
const contextKubeconfig = join(home, 'kubeconfig');

let admin: KubeClient;
let smtp: TestSmtpServer;
let operator: OperatorProcess;
let npmPackage = '';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(file: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      // The whole environment, spelled out: what a fresh shell with this PATH would have.
      { cwd: work, env: { PATH: `${bin}:${kubectlDir}`, HOME: home, KUBECONFIG: contextKubeconfig, ...env }, timeout: 60_000, maxBuffer: 8 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 99) : 0, stdout, stderr }),
    );
  });
}

/** `kubectl-roster ...` found on PATH, as a shell would find it. */
const roster = (...args: string[]) => exec('kubectl-roster', args);

async function json<T>(...args: string[]): Promise<T> {
  const run = await roster(...args, '-o', 'json');
  expect(run.stderr, args.join(' ')).toBe('');
  expect(run.code, args.join(' ')).toBe(0);
  return JSON.parse(run.stdout) as T;
}

function mailsTo(email: string): ParsedMail[] {
  return smtp.messages.filter((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((t) => t?.value.some((v) => v.address === email)));
}

async function acceptInvitation(email: string): Promise<void> {
  const link = await eventually(() => {
    const mail = mailsTo(email).at(-1);
    const match = /(http:\/\/127\.0\.0\.1:\d+\/invite\/[A-Za-z0-9_-]+)/.exec(mail?.text ?? '');
    expect(match, `a mail with a link to ${email}`).not.toBeNull();
    return match![1]!;
  }, 30_000);
  expect((await fetch(link, { method: 'POST' })).status).toBe(200);
}

beforeAll(async () => {
  // The build (cached): the executable for this machine and the npm package; no archives.
  const built = await promisify(execFile)(process.execPath, [join(projectRoot, 'scripts', 'build-plugin.ts'), '--arch', 'x64', '--no-archives'], {
    cwd: projectRoot,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 170_000,
  });
  const result = JSON.parse(built.stdout) as { executables: { x64?: string }; npmPackage: string };
  npmPackage = result.npmPackage;
  for (const dir of [bin, kubectlDir, work]) mkdirSync(dir);
  copyFileSync(result.executables.x64!, join(bin, 'kubectl-roster'));
  symlinkSync(binary('kubectl'), join(kubectlDir, 'kubectl'));

  admin = KubeClient.fromFile(kubeconfig);
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const config = parseYaml(readFileSync(kubeconfig, 'utf8')) as { contexts: { context: Record<string, string> }[] };
  for (const c of config.contexts) c.context.namespace = ns;
  writeFileSync(contextKubeconfig, stringifyYaml(config), { mode: 0o600 });

  smtp = await startSmtpServer();
  operator = await startOperator({ kubeconfigPath: kubeconfig, smtpPort: smtp.port });
  const applied = await kubectl(
    kubeconfig,
    ['apply', '-f', '-'],
    `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${ns} }
spec:
  displayName: Acme Corp
  owner: { email: liam@acme.com }
  seats: 5
---
apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: shop, namespace: ${ns} }
spec:
  team: acme
  environments: [{ name: staging, namespace: standalone-shop-staging }]
---
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: noah, namespace: ${ns} }
spec: { team: acme, email: noah@acme.com, role: admin }
`,
  );
  expect(applied.stderr).toBe('');
}, 180_000);

afterAll(async () => {
  if (admin) await removeNamespaces(admin, [ns]); // while the operator runs its finalizers
  await operator?.kill('SIGTERM');
  await smtp?.stop();
  admin?.close();
});

describe('the standalone kubectl-roster executable', () => {
  it('is alone: no node and no node_modules to lean on', async () => {
    expect((await exec('/bin/sh', ['-c', 'command -v node || echo none'])).stdout.trim()).toBe('none');
    expect(existsSync(join(work, 'node_modules')) || existsSync(join(home, 'node_modules'))).toBe(false);
    const help = await roster('--help');
    expect(help.code).toBe(0);
    expect(help.stderr).toBe(''); // no ExperimentalWarning from the SEA
    expect(help.stdout).toMatch(/^ {2}completion +Print a shell completion script/m);
    expect(help.stdout).toContain('--as-group GROUP...');
  });

  it('runs every verb against the cluster', async () => {
    // invite, members, seats
    const invited = await roster('invite', 'jordan@acme.com', '--team', 'acme', '--role', 'observer', '--project', 'shop:staging');
    expect(invited.stderr).toBe('');
    expect(invited.code).toBe(0);
    const jordan = /^invitation\.roster\.dev\/(jordan-[a-z0-9]{5}) created/.exec(invited.stdout)?.[1];
    expect(jordan, invited.stdout).toBeDefined();
    const members = await eventually(
      async () => {
        const { members } = await json<{ members: { email: string; phase: string }[] }>('members', 'acme');
        expect(members.map((m) => m.email)).toEqual(['liam@acme.com', 'noah@acme.com', 'jordan@acme.com']);
        return members;
      },
      30_000,
      500,
    );
    expect(members[2]!.phase).toBe('Pending');
    expect(await eventually(async () => json<{ limit: number; pending: number }>('seats', 'acme'), 30_000, 500)).toMatchObject({ limit: 5 });

    // resend, revoke
    await eventually(() => expect(mailsTo('jordan@acme.com')).toHaveLength(1), 30_000);
    const resent = await roster('resend', jordan!);
    expect(resent).toMatchObject({ code: 0, stderr: '' });
    expect(resent.stdout).toContain(`invitation.roster.dev/${jordan}: resend requested; a fresh link goes to jordan@acme.com`);
    await eventually(() => expect(mailsTo('jordan@acme.com')).toHaveLength(2), 30_000);
    const revoked = await roster('revoke', jordan!);
    expect(revoked).toEqual({
      code: 0,
      stderr: '',
      stdout: `invitation.roster.dev/${jordan} revoked: the link to jordan@acme.com no longer works and its seat is free\n`,
    });

    // can-i before and after noah accepts; transfer to noah
    const before = await roster('can-i', 'noah@acme.com', 'invite');
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/^no\nnoah@acme\.com has not accepted the invitation yet/);
    await acceptInvitation('noah@acme.com');
    await eventually(async () => expect((await roster('can-i', 'noah@acme.com', 'invite')).code).toBe(0), 30_000, 500);
    const transferred = await roster('transfer', 'acme', 'noah@acme.com');
    expect(transferred.stderr).toBe('');
    expect(transferred.code).toBe(0);
    expect((await admin.get<Team>(resources.team, ns, 'acme')).spec.owner.email).toBe('noah@acme.com');

    // audit: the history the operator recorded
    await eventually(
      async () => {
        const { events } = await json<{ events: { reason: string }[] }>('audit', 'acme');
        expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining(['Sent', 'Resent', 'Revoked', 'Activated']));
      },
      30_000,
      500,
    );

    // release: nothing is held, and it says so (a "no", exit 1)
    const release = await roster('release', 'acme');
    expect(release).toEqual({ code: 1, stdout: '', stderr: 'error: team acme has no held removals\n' });

    // plan: a manifest that raises the seats is a change (exit 2)
    const manifest = join(work, 'team.yaml');
    writeFileSync(
      manifest,
      `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${ns} }
spec: { displayName: Acme Corp, owner: { email: noah@acme.com }, seats: 7 }
`,
    );
    const plan = await roster('plan', '-f', manifest);
    expect(plan.stderr).toBe('');
    expect(plan.code).toBe(2);
    expect(plan.stdout).toContain('acme');

    // completion: the script, and candidates read from the cluster
    const script = await roster('completion', 'bash');
    expect(script.code).toBe(0);
    expect(script.stdout).toContain('complete -o nosort -F _kubectl_roster kubectl-roster');
    expect(await roster('__complete', 'members', '')).toEqual({ code: 0, stderr: '', stdout: 'acme\tAcme Corp\n:4\n' });

    // Nothing above wrote what it should not: jordan's invitation is revoked, not gone.
    expect((await admin.get<Invitation>(resources.invitation, ns, jordan!)).spec.revoked).toBe(true);
  });

  it('kubectl runs it as `kubectl roster`, and completes it through kubectl_complete-roster', async () => {
    const viaKubectl = await exec('kubectl', ['roster', 'seats', 'acme', '-o', 'json']);
    expect(viaKubectl.stderr).toBe('');
    expect(viaKubectl.code).toBe(0);
    expect(JSON.parse(viaKubectl.stdout)).toMatchObject({ limit: 5 });

    const completeVia = () => exec('kubectl', ['__complete', 'roster', 'members', '']);
    expect((await completeVia()).stdout).not.toContain('acme'); // no helper yet: kubectl knows nothing
    copyFileSync(join(projectRoot, 'bin', 'kubectl_complete-roster'), join(bin, 'kubectl_complete-roster'));
    const completed = await completeVia();
    expect(completed.code).toBe(0);
    expect(completed.stdout.split('\n')).toContain('acme\tAcme Corp');
    expect(completed.stdout).toMatch(/\n:4\n/);
  });

  it('--as a user without rights gets the API server’s 403 (exit 3); --as-group system:masters is let through', async () => {
    const forbidden = await roster('members', 'acme', '--as', 'nobody@acme.com');
    expect(forbidden.code).toBe(3);
    expect(forbidden.stdout).toBe('');
    expect(forbidden.stderr).toMatch(
      /^error: teams\.roster\.dev "acme" is forbidden: User "nobody@acme\.com" cannot get resource "teams" in API group "roster\.dev" in the namespace "standalone-e2e"\n$/,
    );
    // The same user with a group that may do anything: the groups reach the API server.
    const asMaster = await roster(
      'members',
      'acme',
      '--as',
      'nobody@acme.com',
      '--as-group',
      'system:masters',
      '--as-group',
      'system:authenticated',
      '-o',
      'json',
    );
    expect(asMaster.stderr).toBe('');
    expect(asMaster.code).toBe(0);
  });

  it('--request-timeout: a malformed one is a usage error (exit 2) before anything is sent', async () => {
    const run = await roster('members', 'acme', '--request-timeout', 'soon');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('error: --request-timeout "soon" is not a duration');
    expect((await roster('members', 'acme', '--request-timeout', '20s', '-o', 'json')).code).toBe(0);
  });
});

describe('the npm package', () => {
  it('runs from the unpacked tarball with no node_modules, on Node 24; an old Node is told what to do', async () => {
    const unpacked = join(home, 'npm');
    mkdirSync(unpacked);
    await promisify(execFile)('tar', ['-xzf', npmPackage, '-C', unpacked]);
    const pkg = JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8')) as { dependencies?: unknown; bin: Record<string, string> };
    expect(pkg.dependencies).toBeUndefined();
    expect(Object.keys(pkg.bin)).toEqual(['kubectl-roster', 'kubectl_complete-roster']);
    const entry = join(unpacked, 'package', pkg.bin['kubectl-roster']!);
    const viaNpm = await exec(process.execPath, [entry, 'seats', 'acme', '-o', 'json']);
    expect(viaNpm.stderr).toBe('');
    expect(viaNpm.code).toBe(0);
    const standalone = await roster('seats', 'acme', '-o', 'json');
    expect(JSON.parse(viaNpm.stdout)).toEqual(JSON.parse(standalone.stdout));
    const completion = await exec(process.execPath, [join(unpacked, 'package', pkg.bin['kubectl_complete-roster']!), 'members', '']);
    expect(completion.stdout).toBe('acme\tAcme Corp\n:4\n');

    // The machine's own older Node, where there is one: a clear refusal, not a stack trace.
    const system = '/usr/bin/node';
    const version = existsSync(system) ? (await exec(system, ['--version'])).stdout.trim() : '';
    const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
    if (version && (major < 22 || (major === 22 && minor < 19))) {
      const old = await exec(system, [entry, 'members', 'acme']);
      expect(old).toEqual({
        code: 3,
        stdout: '',
        stderr: `error: kubectl-roster needs Node.js 22.19 or later, and this is ${version}: upgrade Node, or install the standalone kubectl-roster executable, which needs no Node\n`,
      });
    }
  });
});
