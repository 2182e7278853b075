// The README's demo command, run headless: it starts its own control plane, MailDev and
// the operator (with its admission webhook registered), applies examples/, and must settle
// with every invitation in the mail catcher, show the webhook deny — then stop cleanly.
//
// It runs in a temp directory on free ports, and looks for leftovers only among its own
// processes (the demo's process group), so a demo running from this or another checkout
// neither disturbs the test nor fails it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../controlplane/harness.ts';
import { DELETION_WEBHOOK, MUTATING_WEBHOOK, VALIDATING_WEBHOOK } from '../../src/admission/registration.ts';

const dir = mkdtempSync(join(tmpdir(), 'roster-demo-test-'));
let group: number | undefined;

/** Live processes in a process group (Linux /proc; field 5 of stat is the group). */
function processesInGroup(pgid: number): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') found.push(`${entry} ${readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

afterAll(() => {
  // Only on failure is anything left; it is ours by group id.
  if (group !== undefined && processesInGroup(group).length) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run demo', () => {
  it('settles with every invitation mailed, shows the webhook deny, then stops cleanly', async () => {
    // A process group of its own: every process the demo starts (etcd, kube-apiserver,
    // kube-controller-manager, MailDev, the operator) joins it.
    const child = spawn(process.execPath, ['scripts/demo.ts', '--exit-when-settled', '--accept-owner', '--free-ports', '--dir', dir], {
      cwd: projectRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    group = child.pid;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 240_000);
    const code = await new Promise<number>((resolve) => child.once('close', (c) => resolve(c ?? 1)));
    clearTimeout(timer);

    expect(stderr).not.toContain('demo failed');
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toContain('invitations mailed 8/8');
    expect(stdout).toContain('the mail catcher holds 8 invitation mails');
    expect(stdout).toMatch(/team\.roster\.dev\/acme\s+liam@acme\.com\s+6\/10/);
    expect(stdout).toMatch(/membership\.roster\.dev\/riley\s+acme\s+riley@acme\.com\s+developer\s+Invited/);
    // The webhook is registered: it stamps the actor and denies, in the words kubectl shows.
    expect(stdout).toContain('Membership riley was created by roster-admin');
    expect(stdout).toContain(
      'admission webhook "validate.roster.dev" denied the request: liam@acme.com is the owner of team acme (Team spec.owner) and needs no Membership',
    );
    expect(stdout).toContain('admission webhook "validate.roster.dev" denied the request: team globex has 2 seats in use, so spec.seats cannot go below 2');
    // What it tells a newcomer to type must work: the plugin in bin/, kubectl in .roster/bin.
    const pathLine = /export PATH=(\S+):\$PATH/.exec(stdout);
    expect(pathLine?.[1]).toBe(`${join(projectRoot, 'bin')}:${join(projectRoot, '.roster', 'bin')}`);
    // With that PATH, from anywhere, kubectl is the one built with the control plane and finds the plugin.
    const plugin = spawnSync('kubectl', ['roster', '--help'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${pathLine?.[1]}:${process.env.PATH ?? ''}` },
    });
    expect(plugin.stderr).toBe('');
    expect(plugin.stdout).toContain('kubectl roster:');
    expect(plugin.status).toBe(0);
    expect(stdout).toContain('kubectl roster members acme -n acme');
    expect(stdout).toContain(`export KUBECONFIG=${join(dir, 'kubeconfig')}`);
    expect(stdout).toContain('The demo is running.');
    // --accept-owner: Liam accepts through his link, then creates the example access key as himself.
    expect(stdout).toContain("accepted liam@acme.com's invitation");
    expect(stdout).toContain('accesskey.roster.dev/ci-deploy created');
    expect(stdout).toMatch(/ci-deploy\s+acme\s+liam@acme\.com\s+developer\s+developer\s+Active/);
    expect(stdout).toContain('stopped.');
    // Nothing of this demo is left running: no operator, no MailDev, no control plane.
    expect(processesInGroup(child.pid ?? -1)).toEqual([]);
  }, 300_000);

  it('is what the README shows: its sample denials name a webhook that exists', () => {
    const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
    const named = [...readme.matchAll(/admission webhook "([^"]+)"/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(0);
    for (const name of named) expect([VALIDATING_WEBHOOK, MUTATING_WEBHOOK, DELETION_WEBHOOK]).toContain(name);
  });
});
