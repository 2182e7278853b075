// `kubectl roster plan` end to end (SPEC §8): the real bin/kubectl-roster against the shared
// control plane, with a real operator whose admission webhook is registered, so every dry run
// meets the real rules. Ten members are made Active by accepting their mailed invitations;
// the manifests in a temporary folder mirror the cluster, and each test changes a copy.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Membership, Team } from '../../../src/api/generated.ts';
import { resources } from '../../../src/api/resources.ts';
import { RELEASE_ANNOTATION } from '../../../src/audit/actor.ts';
import { KubeClient } from '../../../src/runtime/kube-client.ts';
import { freePort, projectRoot } from '../../../controlplane/harness.ts';
import { removeWebhook, TEST_LABEL, webhookConfig } from '../admission/support.ts';
import { kubectl } from '../kubectl.ts';
import { removeNamespaces } from '../support/cleanup.ts';
import { eventually } from '../support/eventually.ts';
import { acceptLatest } from '../support/invitations.ts';
import { startOperator, type OperatorProcess } from '../support/operator.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
const suite = 'plan';
const ns = 'plan-e2e';
const prod = 'plan-prod';
const staging = 'plan-staging';
const plugin = join(projectRoot, 'bin', 'kubectl-roster');
const MEMBERS = Array.from({ length: 10 }, (_, i) => `m${i}`);

let admin: KubeClient;
let operator: OperatorProcess;
let smtp: TestSmtpServer;
/** The manifests as the cluster has them. */
let repo: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function roster(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      plugin,
      args,
      { cwd: projectRoot, env: { ...process.env, KUBECONFIG: kubeconfig }, timeout: 60_000, maxBuffer: 8 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 99) : 0, stdout, stderr }),
    );
  });
}

const teamYaml = (seats: number) => `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: acme, namespace: ${ns} }
spec: { displayName: Acme, owner: { email: liam@acme.com, name: Liam }, seats: ${seats} }
`;
const projectYaml = `apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: shop, namespace: ${ns} }
spec:
  team: acme
  environments: [{ name: production, namespace: ${prod} }, { name: staging, namespace: ${staging} }]
`;
const memberYaml = (name: string, role = 'developer', projects = '') => `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: ${name}, namespace: ${ns} }
spec: { team: acme, email: ${name}@acme.com, role: ${role}${projects ? `, projects: ${projects}` : ''} }
`;

/** A copy of the repository to change. */
function branch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'roster-plan-branch-'));
  cpSync(repo, dir, { recursive: true });
  return dir;
}

async function apply(manifest: string): Promise<void> {
  const result = await kubectl(kubeconfig, ['apply', '-f', '-'], manifest);
  expect(result.stderr.replace(/^Warning:.*\n/gm, ''), manifest).toBe('');
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  // The control namespace is in the test webhook's selector; the environments are assigned to the team (SPEC §7).
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [TEST_LABEL]: suite } } });
  for (const name of [prod, staging])
    await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'roster.dev/team': ns } } });
  smtp = await startSmtpServer();
  const webhookPort = await freePort();
  operator = await startOperator({
    kubeconfigPath: kubeconfig,
    smtpPort: smtp.port,
    webhookPort,
    config: { webhook: webhookConfig(suite, `https://127.0.0.1:${webhookPort}`) },
  });
  await eventually(async () => {
    const config = await admin.find(resources.validatingWebhookConfiguration, undefined, `roster-test-${suite}`);
    expect(config).toBeDefined();
  });

  repo = mkdtempSync(join(tmpdir(), 'roster-plan-repo-'));
  writeFileSync(join(repo, 'team.yaml'), teamYaml(12));
  writeFileSync(join(repo, 'project.yaml'), projectYaml);
  for (const m of MEMBERS) writeFileSync(join(repo, `${m}.yaml`), memberYaml(m));
  // The webhook may need a moment to be served after registration: retry the first apply.
  await eventually(async () => {
    const result = await kubectl(kubeconfig, ['apply', '-f', repo]);
    expect(result.code, result.stderr).toBe(0);
  }, 30_000);
  for (const m of MEMBERS) await acceptLatest(smtp, `${m}@acme.com`);
  await eventually(async () => {
    const list = await admin.list<Membership>(resources.membership, ns);
    expect(list.items.filter((m) => m.status?.phase === 'Active')).toHaveLength(10);
  }, 60_000);
}, 240_000);

/**
 * Deleting the namespace removes ten Active members at once, which the operator's removal
 * brake holds: release each hold (as `kubectl roster release` does) until the team is gone.
 */
async function releaseHolds(): Promise<void> {
  for (;;) {
    const team = await admin.find<Team>(resources.team, ns, 'acme');
    if (!team) return;
    const { holdId, held = [] } = team.status?.removals ?? {};
    for (const h of holdId ? held : []) {
      await admin
        .patch(resources.membership, ns, h.name ?? '', 'merge', { metadata: { annotations: { [RELEASE_ANNOTATION]: holdId } } })
        .catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

afterAll(async () => {
  // While the operator runs its finalizers.
  if (admin) await Promise.all([removeNamespaces(admin, [ns, prod, staging]), releaseHolds()]);
  await operator?.kill('SIGTERM');
  if (admin) await removeWebhook(admin, suite);
  await smtp?.stop();
  admin?.close();
  if (repo) rmSync(repo, { recursive: true, force: true });
});

describe('kubectl roster plan', () => {
  it('no change: exit 0, with and without --prune', async () => {
    for (const flags of [[], ['--prune']]) {
      const run = await roster('plan', '-f', repo, ...flags);
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain("no change in anyone's access");
      expect(run.stdout).toContain('every object unchanged and allowed');
      expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('Plan: 0 invitation(s) to mail, 0 gaining access, 0 losing access, 0 held by the brake; no change.');
      expect(run.code).toBe(0);
    }
  });

  it('a new member: an invitation to be mailed, no access yet, a seat pending; exit 2', async () => {
    const dir = branch();
    writeFileSync(join(dir, 'nina.yaml'), memberYaml('nina', 'developer', '[{ name: shop, environments: [staging] }]'));
    const run = await roster('plan', '-f', dir);
    expect(run.stdout).toContain('  + nina@acme.com: new developer, shop (staging); invitation mailed; no access until accepted\n');
    expect(run.stdout).toContain('  seats: 11/12 (1 available) → 12/12 (0 available)\n');
    expect(run.stdout).toMatch(/create membership\/nina -n plan-e2e +allowed/);
    expect(run.code).toBe(2);

    const json = JSON.parse((await roster('plan', '-f', dir, '-o', 'json')).stdout) as {
      teams: { people: { email: string; mailed: boolean; gained: unknown[] }[] }[];
    };
    expect(json.teams[0]!.people).toEqual([expect.objectContaining({ email: 'nina@acme.com', mailed: true, gained: [] })]);
    // Nothing was created: it was a dry run.
    expect(await admin.find(resources.membership, ns, 'nina')).toBeUndefined();
    expect(smtp.messages.some((m) => m.subject?.includes('nina') || (m.text ?? '').includes('nina@acme.com'))).toBe(false);
  });

  it('a role downgrade of an active member loses deploy in every environment at once; exit 2', async () => {
    const dir = branch();
    writeFileSync(join(dir, 'm1.yaml'), memberYaml('m1', 'observer'));
    const run = await roster('plan', '-f', dir);
    expect(run.stdout).toContain(
      `  ~ m1@acme.com: role developer → observer\n      - deploy in shop/production (namespace ${prod})\n      - deploy in shop/staging (namespace ${staging})\n`,
    );
    expect(run.stdout).toMatch(/update membership\/m1 -n plan-e2e +allowed/);
    expect(run.code).toBe(2);
  });

  it('a scope change takes production away and keeps staging; exit 2', async () => {
    const dir = branch();
    writeFileSync(join(dir, 'm2.yaml'), memberYaml('m2', 'developer', '[{ name: shop, environments: [staging] }]'));
    const run = await roster('plan', '-f', dir);
    expect(run.stdout).toContain(`  ~ m2@acme.com: scope the whole team → shop (staging)\n      - deploy, view in shop/production (namespace ${prod})\n`);
    expect(run.stdout).not.toContain(`in shop/staging (namespace ${staging})`);
    expect(run.code).toBe(2);
  });

  it('a deleted file with --prune: the person loses access (one removal passes the brake); without --prune nothing changes', async () => {
    const dir = branch();
    rmSync(join(dir, 'm3.yaml'));
    const pruned = await roster('plan', '-f', dir, '--prune');
    expect(pruned.stdout).toContain(
      `  - m3@acme.com: removed (was developer, the whole team, active)\n      - deploy, view in shop/production (namespace ${prod})\n      - deploy, view in shop/staging (namespace ${staging})\n`,
    );
    expect(pruned.stdout).toContain('removal brake: 1 removal of 10 active members; 2 allowed within 10m');
    expect(pruned.stdout).toMatch(/delete membership\/m3 -n plan-e2e +allowed/);
    expect(pruned.stdout).toContain('  seats: 11/12 (1 available) → 10/12 (2 available)\n');
    expect(pruned.code).toBe(2);

    const kept = await roster('plan', '-f', dir);
    expect(kept.code).toBe(0);
    expect(await admin.find(resources.membership, ns, 'm3')).toBeDefined();
  });

  it('a commit that removes 6 of 10 active members: the brake would hold 4, who keep their access', async () => {
    const dir = branch();
    for (const m of MEMBERS.slice(4)) rmSync(join(dir, `${m}.yaml`));
    const run = await roster('plan', '-f', dir, '--prune');
    expect(run.stdout).toContain('removal brake: 6 removals of 10 active members; 2 allowed within 10m');
    const held = /held \(keep their access until released\): (.*)\n/.exec(run.stdout)?.[1]?.split(', ') ?? [];
    expect(held).toHaveLength(4);
    for (const email of held)
      expect(run.stdout).toContain(`  ! ${email}: removal held by the removal brake: keeps developer access until an owner or admin releases it\n`);
    expect(run.stdout.match(/^ {2}- m\d@acme\.com: removed/gm)).toHaveLength(2);
    expect(run.stdout).toContain(`release after the apply with: kubectl roster release acme -n ${ns}`);
    expect(run.code).toBe(2);

    const md = await roster('plan', '-f', dir, '--prune', '-o', 'markdown');
    expect(md.stdout).toContain('**Removal brake:** 6 removals of 10 active members; 2 allowed within 10m');
    expect(md.stdout).toMatch(/^\| ! \| m\d@acme\.com \| removal held by the removal brake/m);
    expect(md.code).toBe(2);
  });

  it('a commit that exceeds the seats: the webhook denies it in the dry run; exit 1', async () => {
    // The last seat goes to nina for real, so the webhook counts 12 of 12.
    await apply(memberYaml('nina'));
    try {
      const dir = branch();
      writeFileSync(join(dir, 'nina.yaml'), memberYaml('nina'));
      writeFileSync(join(dir, 'omar.yaml'), memberYaml('omar', 'observer'));
      const run = await roster('plan', '-f', dir);
      expect(run.stdout).toMatch(/create membership\/omar -n plan-e2e +denied: .*team acme has 12 of 12 seats in use; raise spec\.seats or remove a member/);
      expect(run.stdout).toMatch(/1 denied\.\n$/);
      expect(run.stdout).not.toContain('omar@acme.com:'); // refused: nothing changes for omar
      expect(run.code).toBe(1);
    } finally {
      await admin.delete(resources.membership, ns, 'nina');
      await eventually(async () => expect(await admin.find(resources.membership, ns, 'nina')).toBeUndefined());
    }
  });

  it('shows a combined change, the README example', async () => {
    const dir = branch();
    writeFileSync(join(dir, 'nina.yaml'), memberYaml('nina', 'developer', '[{ name: shop, environments: [staging] }]'));
    writeFileSync(join(dir, 'm1.yaml'), memberYaml('m1', 'observer'));
    rmSync(join(dir, 'm3.yaml'));
    const run = await roster('plan', '-f', dir, '--prune');
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('Plan: 1 invitation(s) to mail, 0 gaining access, 2 losing access, 0 held by the brake; changes.');
    if (process.env.ROSTER_PLAN_EXAMPLE)
      writeFileSync(process.env.ROSTER_PLAN_EXAMPLE, run.stdout + '\n---\n' + (await roster('plan', '-f', dir, '--prune', '-o', 'markdown')).stdout);
    const team = await admin.get<Team>(resources.team, ns, 'acme');
    expect(team.spec.seats).toBe(12); // still nothing changed in the cluster
  });
});
