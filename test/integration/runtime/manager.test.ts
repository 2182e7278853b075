// The manager against a real API server: a resync of many unchanged objects writes
// nothing, and /metrics reports what happened under controller-runtime's names.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resources, type Team, type TeamStatus } from '../../../src/api/index.ts';
import { KubeClient } from '../../../src/runtime/kube-client.ts';
import { Manager } from '../../../src/runtime/manager.ts';
import { writeStatus } from '../../../src/runtime/status.ts';
import { eventually } from '../support/eventually.ts';

const kubeconfig = inject('kubeconfigPath');
const ns = 'manager-resync';
const count = 150;
let admin: KubeClient;

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      admin.create<Team>(resources.team, {
        apiVersion: 'roster.dev/v1alpha1',
        kind: 'Team',
        metadata: { name: `team-${i}`, namespace: ns },
        spec: { owner: { email: `owner${i}@example.com` }, seats: 1 + (i % 5) },
      }),
    ),
  );
});
afterAll(() => admin.close());

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.split(' ').pop()) : NaN;
}

describe('Manager', () => {
  it('makes no writes on a resync of unchanged objects, and /metrics tells the story', async () => {
    const client = KubeClient.fromFile(kubeconfig, { fieldManager: 'roster' });
    const manager = new Manager({ client, resyncMs: 1_500, probes: { port: 0, host: '127.0.0.1' } });
    const teams = manager.informer<Team>(resources.team, { namespace: ns });
    let reconciles = 0;
    let finished = 0;
    let failedOnce = false;
    manager.addController({
      name: 'team-seats',
      informer: teams,
      workers: 4,
      reconcile: async (key) => {
        reconciles++;
        try {
          return await reconcileTeam(key);
        } finally {
          finished++;
        }
      },
    });
    async function reconcileTeam(key: string): Promise<{ kind: 'done' }> {
      const [namespace, name] = key.split('/');
      const team = teams.get(namespace, name!);
      if (!team) return { kind: 'done' };
      if (name === 'team-7' && !failedOnce) {
        failedOnce = true;
        throw new Error('transient failure');
      }
      const status: TeamStatus = {
        observedGeneration: team.metadata.generation,
        seats: { limit: team.spec.seats, used: 1, pending: 0, available: team.spec.seats - 1, summary: `1/${team.spec.seats}` },
      };
      await writeStatus(client, resources.team, team, status);
      return { kind: 'done' };
    }
    await manager.start();
    try {
      await eventually(() => expect(teams.list().filter((t) => t.status?.observedGeneration === 1)).toHaveLength(count), 60_000);
      // Let the watch deliver our own status writes back (each comes back as an update).
      await new Promise((r) => setTimeout(r, 500));
      const writesBefore = client.counter.writes();
      const reconcilesBefore = reconciles;
      // Two resync periods: every object is reconciled again at least twice.
      await eventually(() => expect(reconciles - reconcilesBefore).toBeGreaterThanOrEqual(2 * count), 30_000);
      expect(client.counter.writes() - writesBefore).toBe(0);

      // A resync keeps reconciling while /metrics answers: the count it gives lies between the
      // reconciles finished before asking and those started by the answer.
      const finishedBefore = finished;
      const res = await fetch(`http://127.0.0.1:${manager.health.port}/metrics`);
      const text = await res.text();
      const startedAfter = reconciles;
      const success = metricValue(text, 'controller_runtime_reconcile_total', { controller: 'team-seats', result: 'success' });
      const errors = metricValue(text, 'controller_runtime_reconcile_total', { controller: 'team-seats', result: 'error' });
      expect(success + errors).toBeGreaterThanOrEqual(finishedBefore);
      expect(success + errors).toBeLessThanOrEqual(startedAfter);
      expect(errors).toBe(1);
      expect(metricValue(text, 'controller_runtime_reconcile_errors_total', { controller: 'team-seats' })).toBe(1);
      expect(metricValue(text, 'workqueue_retries_total', { name: 'team-seats' })).toBe(1);
      expect(metricValue(text, 'workqueue_adds_total', { name: 'team-seats' })).toBeGreaterThanOrEqual(3 * count);
      expect(metricValue(text, 'controller_runtime_max_concurrent_reconciles', { controller: 'team-seats' })).toBe(4);
      expect(text).toMatch(/^controller_runtime_reconcile_time_seconds_count\{controller="team-seats"\} \d+/m);
      expect(text).toMatch(/^workqueue_queue_duration_seconds_count\{name="team-seats",controller="team-seats"\} \d+/m);
      expect(text).toMatch(/^workqueue_work_duration_seconds_count\{/m);
      expect(text).toMatch(/^workqueue_depth\{name="team-seats",controller="team-seats"\} \d+/m);
      expect(text).toMatch(/^controller_runtime_active_workers\{controller="team-seats"\} \d+/m);

      const ready = await fetch(`http://127.0.0.1:${manager.health.port}/readyz`);
      expect(ready.status).toBe(200);
      const healthy = await fetch(`http://127.0.0.1:${manager.health.port}/healthz`);
      expect(await healthy.text()).toContain('[+]watches ok');
    } finally {
      await manager.stop();
      client.close();
    }
  });

  it('serves its servers before the caches sync and stops them only after in-flight reconciles drained', async () => {
    const client = KubeClient.fromFile(kubeconfig, { fieldManager: 'roster' });
    const manager = new Manager({ client });
    const teams = manager.informer<Team>(resources.team, { namespace: ns });
    const log: string[] = [];
    let inFlight!: () => void;
    const reconciling = new Promise<void>((r) => (inFlight = r));
    manager.addController({
      name: 'slow',
      informer: teams,
      reconcile: async (key) => {
        if (key !== `${ns}/team-0`) return { kind: 'done' };
        inFlight();
        await new Promise((r) => setTimeout(r, 300));
        log.push('reconcile done');
        return { kind: 'done' };
      },
    });
    manager.add({
      name: 'webhook',
      beforeCaches: true,
      start: () => void log.push(`webhook started (caches synced: ${teams.hasSynced()})`),
      stop: () => void log.push('webhook stopped'),
    });
    await manager.start();
    await reconciling;
    await manager.stop();
    client.close();
    expect(log).toEqual(['webhook started (caches synced: false)', 'reconcile done', 'webhook stopped']);
  });
});
