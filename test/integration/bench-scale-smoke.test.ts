// The scale benchmark, tiny (`bench/scale.ts --sizes 20 --quick --webhook-follower`): it must still run end to
// end — its own control plane, the operator as a process with the webhook and leader
// election, a real SMTP server — and the operator must get it right: every Membership
// converged, one mail per recipient, nothing mailed again after a restart, every phase run. No timings are
// asserted (CI machines are too noisy for that); the results go to a temp directory.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { projectRoot } from '../../controlplane/harness.ts';

interface ScaleReport {
  sizes: Array<{
    memberships: number;
    teams: number;
    mails: { total: number; expected: number; duplicates: number };
    writes: { perMembership: number };
    full?: {
      restart: { mails: number };
      idle: { n: number };
      webhook: Record<'paced' | 'backToBack', { with: { n: number }; without: { n: number } }>;
      webhookOnFollower?: Record<'paced' | 'backToBack', { with: { n: number }; without: { n: number } }>;
    };
  }>;
  phaseErrors: string[];
}

const dir = mkdtempSync(join(tmpdir(), 'roster-scale-smoke-'));
let group: number | undefined;

afterAll(() => {
  if (group !== undefined) {
    try {
      process.kill(-group, 'SIGKILL'); // only if the run was cut short: it stops its own servers otherwise
    } catch {
      // nothing left
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

it('runs the scale benchmark small: every Membership converged, no duplicate mails, no mails after a restart', async () => {
  const child = spawn(process.execPath, ['--expose-gc', 'bench/scale.ts', '--sizes', '20', '--quick', '--webhook-follower', '--output', dir], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  group = child.pid;
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  expect(code, output.slice(-4000)).toBe(0);
  group = undefined;

  const report = JSON.parse(readFileSync(join(dir, 'scale.json'), 'utf8')) as ScaleReport;
  const [size] = report.sizes;
  expect(size?.memberships).toBe(20);
  expect(size?.mails).toEqual({ total: 22, expected: 22, duplicates: 0, duplicateExamples: [] });
  expect(size?.writes.perMembership).toBeGreaterThan(0);
  expect(size?.full?.restart.mails).toBe(0);
  expect(size?.full?.idle.n).toBe(5);
  // Every phase ran (a failed one is recorded, its numbers NaN, and the run goes on).
  expect(report.phaseErrors).toEqual([]);
  for (const run of ['paced', 'backToBack'] as const) {
    for (const phase of [size?.full?.webhook, size?.full?.webhookOnFollower]) {
      expect(phase?.[run].with.n).toBe(10);
      expect(phase?.[run].without.n).toBe(10);
    }
  }
  expect(readFileSync(join(dir, 'scale.svg'), 'utf8')).toContain('<svg');
}, 420_000);
