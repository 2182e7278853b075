// The removal brake (SPEC §8) against the real API server: one bad commit must not take a
// whole team's access at once. Deleting 6 of 10 active members lets at most 2 lose access;
// the rest keep it, the Team says which are held (RemovalsHeld=True, an Event, a metric),
// and `kubectl roster release` lets them go. A single removal goes through at once; expiry is
// never held; deleting a whole Team is held the same way. Access is proven by
// SubjectAccessReview.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Membership, Team } from '../../src/api/generated.ts';
import { resources } from '../../src/api/resources.ts';
import { projectRoot } from '../../controlplane/harness.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';
import { kubectl } from './kubectl.ts';
import { removeNamespaces } from './support/cleanup.ts';
import { eventRecorded } from './support/events.ts';
import { eventually } from './support/eventually.ts';
import { canI } from './support/access.ts';
import { acceptLatest } from './support/invitations.ts';
import { startOperator, type OperatorProcess } from './support/operator.ts';
import { startSmtpServer, type TestSmtpServer } from './support/smtp.ts';

const kubeconfig = inject('kubeconfigPath');
const big = 'brake-big';
const bigEnv = 'brake-big-env';
const solo = 'brake-solo';
const soloEnv = 'brake-solo-env';
let admin: KubeClient;
let operator: OperatorProcess;
let smtp: TestSmtpServer;

const people = (team: string, n: number) => Array.from({ length: n }, (_, i) => `m${i}@${team}.example`);

const canDeploy = (user: string, namespace: string) => canI(admin, user, 'update', 'deployments', namespace, 'apps');

function roster(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      join(projectRoot, 'bin', 'kubectl-roster'),
      [...args, '--kubeconfig', kubeconfig],
      { cwd: projectRoot, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 99) : 0, stdout, stderr }),
    );
  });
}

/** A team in its own namespace with `n` developers who all accepted (Active, with edit in the environment). */
async function activeTeam(ns: string, env: string, n: number): Promise<string[]> {
  for (const [name, labels] of [
    [ns, {}],
    [env, { 'roster.dev/team': ns }],
  ] as const) {
    await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  }
  const emails = people(ns, n);
  const manifest = [
    `apiVersion: roster.dev/v1alpha1
kind: Team
metadata: { name: ${ns}, namespace: ${ns} }
spec: { owner: { email: owner@${ns}.example }, seats: ${n + 2} }`,
    `apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: app, namespace: ${ns} }
spec: { team: ${ns}, environments: [{ name: prod, namespace: ${env} }] }`,
    ...emails.map(
      (email, i) => `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: m${i}, namespace: ${ns} }
spec: { team: ${ns}, email: ${email}, role: developer }`,
    ),
  ].join('\n---\n');
  const applied = await kubectl(kubeconfig, ['apply', '-f', '-'], manifest);
  expect(applied.code, applied.stderr).toBe(0);
  for (const email of [`owner@${ns}.example`, ...emails]) await acceptLatest(smtp, email);
  await eventually(
    async () => {
      for (const email of emails) expect(await canDeploy(email, env), email).toBe(true);
    },
    60_000,
    500,
  );
  return emails;
}

const team = (ns: string) => admin.get<Team>(resources.team, ns, ns);

async function accessOf(emails: string[], env: string): Promise<boolean[]> {
  return await Promise.all(emails.map((e) => canDeploy(e, env)));
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  smtp = await startSmtpServer();
  operator = await startOperator({ kubeconfigPath: kubeconfig, smtpPort: smtp.port, config: { removalBrake: { enabled: true } } });
}, 120_000);

afterAll(async () => {
  if (admin) {
    // Deleting the namespaces is itself a mass removal: keep releasing what the brake holds until they are gone.
    let done = false;
    const releasing = (async () => {
      while (!done) {
        for (const ns of [big, solo]) await roster(['release', ns, '-n', ns]);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    })();
    try {
      await removeNamespaces(admin, [big, bigEnv, solo, soloEnv]);
    } finally {
      done = true;
      await releasing;
    }
  }
  await operator?.kill('SIGTERM');
  await smtp?.stop();
  admin?.close();
});

describe('the removal brake', () => {
  it('a single removal goes through at once', async () => {
    const emails = await activeTeam(solo, soloEnv, 4);
    const deleted = await kubectl(kubeconfig, ['delete', 'membership', 'm0', '-n', solo, '--wait=true', '--timeout=30s']);
    expect(deleted.code, deleted.stderr).toBe(0);
    await eventually(async () => expect(await canDeploy(emails[0]!, soloEnv)).toBe(false), 10_000, 100);
    expect((await team(solo)).status?.conditions?.find((c) => c.type === 'RemovalsHeld')?.status).not.toBe('True');
  }, 180_000);

  it('deleting 6 of 10 active members takes access from at most 2; release lets the rest go', async () => {
    const emails = await activeTeam(big, bigEnv, 10);
    const deleted = await kubectl(kubeconfig, ['delete', 'membership', 'm0', 'm1', 'm2', 'm3', 'm4', 'm5', '-n', big, '--wait=false']);
    expect(deleted.code, deleted.stderr).toBe(0);

    const held = await eventually(
      async () => {
        const t = await team(big);
        const condition = t.status?.conditions?.find((c) => c.type === 'RemovalsHeld');
        expect(condition?.status).toBe('True');
        expect(t.status?.removals?.held).toHaveLength(4);
        expect(condition?.message).toContain('kubectl roster release brake-big -n brake-big');
        return t.status!.removals!.held!.map((h) => h.email);
      },
      30_000,
      250,
    );
    // Let the operator finish what it let through; then 2 lost access and the 4 held kept it.
    await eventually(async () => expect((await accessOf(emails.slice(0, 6), bigEnv)).filter((a) => !a)).toHaveLength(2), 30_000, 250);
    await new Promise((r) => setTimeout(r, 2_000));
    const access = await accessOf(emails.slice(0, 6), bigEnv);
    expect(access.filter((a) => !a)).toHaveLength(2);
    for (const email of held) expect(await canDeploy(email!, bigEnv), email).toBe(true);
    expect(await accessOf(emails.slice(6), bigEnv)).toEqual([true, true, true, true]);
    const heldMemberships = await Promise.all(['m0', 'm1', 'm2', 'm3', 'm4', 'm5'].map((n) => admin.find<Membership>(resources.membership, big, n)));
    expect(heldMemberships.filter((m) => m !== undefined)).toHaveLength(4);

    // An Event, and the metric.
    await eventRecorded(admin, big, 'RemovalsHeld', big);
    const metrics = await (await fetch(`http://127.0.0.1:${operator.probesPort}/metrics`)).text();
    expect(metrics).toMatch(/roster_removals_held\{namespace="brake-big",team="brake-big"\} 4/);

    const released = await roster(['release', big, '-n', big]);
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout).toContain('released 4 removal(s)');
    await eventually(async () => expect(await accessOf(emails.slice(0, 6), bigEnv)).toEqual([false, false, false, false, false, false]), 30_000, 250);
    await eventually(async () => expect((await team(big)).status?.conditions?.find((c) => c.type === 'RemovalsHeld')?.status).toBe('False'), 30_000, 250);
    expect(await accessOf(emails.slice(6), bigEnv)).toEqual([true, true, true, true]);
  }, 240_000);

  it('expiry is never held', async () => {
    const soon = new Date(Date.now() + 6_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const emails = people(big, 10).slice(6, 9);
    for (const name of ['m6', 'm7', 'm8']) {
      const patched = await kubectl(kubeconfig, ['patch', 'membership', name, '-n', big, '--type=merge', '-p', JSON.stringify({ spec: { expiresAt: soon } })]);
      expect(patched.code, patched.stderr).toBe(0);
    }
    await eventually(async () => expect(await accessOf(emails, bigEnv)).toEqual([false, false, false]), 30_000, 250);
    expect((await team(big)).status?.conditions?.find((c) => c.type === 'RemovalsHeld')?.status).toBe('False');
  }, 60_000);

  it('deleting a whole Team is held the same way', async () => {
    // The window already saw 6 removals in this team: the last active member's removal is held.
    const last = people(big, 10)[9]!;
    expect(await canDeploy(last, bigEnv)).toBe(true);
    const deleted = await kubectl(kubeconfig, ['delete', 'team', big, '-n', big, '--wait=false']);
    expect(deleted.code, deleted.stderr).toBe(0);
    await eventually(
      async () => {
        const t = await team(big);
        expect(t.status?.conditions?.find((c) => c.type === 'RemovalsHeld')?.status).toBe('True');
        expect(t.status?.removals?.held?.map((h) => h.email)).toEqual([last]);
      },
      30_000,
      250,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await canDeploy(last, bigEnv)).toBe(true);
    expect(await admin.find(resources.team, big, big)).toBeDefined();

    const released = await roster(['release', big, '-n', big]);
    expect(released.code, released.stderr).toBe(0);
    await eventually(
      async () => {
        expect(await canDeploy(last, bigEnv)).toBe(false);
        expect(await admin.find(resources.team, big, big)).toBeUndefined();
      },
      30_000,
      250,
    );
  }, 90_000);
});
