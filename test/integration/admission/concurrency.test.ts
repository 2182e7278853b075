// Seats under concurrency (SPEC §3): 100 Memberships created at once, each from its own
// client, against a team with 10 free seats, while two operator replicas serve the webhook
// behind a round-robin balancer (the Service). At most 10 get in, and the seats in use
// never exceed the limit at any moment we look.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Membership, Team } from '../../../src/api/generated.ts';
import { resources } from '../../../src/api/resources.ts';
import { ledgerName, parseLedger, type ConfigMap } from '../../../src/seats/ledger.ts';
import { freePort } from '../../../controlplane/harness.ts';
import { KubeApiError, KubeClient } from '../../../src/runtime/kube-client.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorProcess } from '../support/operator.ts';
import { removeNamespaces } from '../support/cleanup.ts';
import { removeWebhook, RoundRobin, testNamespace, webhookConfig } from './support.ts';

const kubeconfig = inject('kubeconfigPath');
const suite = 'seats';
const ns = 'adm-seats';
const LIMIT = 11; // the owner + 10 free seats
let admin: KubeClient;
let balancer: RoundRobin;
const replicas: OperatorProcess[] = [];

async function webhookRequests(replica: OperatorProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${replica.probesPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('controller_runtime_webhook_requests_total{') && l.includes('webhook="/validate"'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  await testNamespace(admin, ns, suite);
  const ports = [await freePort(), await freePort()];
  balancer = new RoundRobin(ports);
  const url = `https://127.0.0.1:${await balancer.start()}`;
  const config = {
    webhook: webhookConfig(suite, url),
    leaderElection: { leaseName: 'roster-adm-seats', leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 0.5 },
  };
  // Both at once: they race to create the shared certificate Secret.
  replicas.push(...(await Promise.all(ports.map((webhookPort) => startOperator({ kubeconfigPath: kubeconfig, webhookPort, config })))));
  await admin.create<Team>(resources.team, {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Team',
    metadata: { name: 'rush', namespace: ns },
    spec: { owner: { email: 'owner@rush.example' }, seats: LIMIT },
  });
  await eventually(async () => expect((await admin.get<Team>(resources.team, ns, 'rush')).status?.seats?.summary).toBe(`1/${LIMIT}`), 30_000);
});

afterAll(async () => {
  if (admin) await removeNamespaces(admin, [ns]); // while the operator runs its finalizers
  await Promise.all(replicas.map((r) => r.kill('SIGTERM')));
  if (admin) await removeWebhook(admin, suite);
  await balancer?.stop();
  admin?.close();
});

describe('100 concurrent Membership creates, two replicas, 10 free seats', () => {
  it('admits at most 10, and never shows more seats in use than the limit', async () => {
    const clients = Array.from({ length: 100 }, () => KubeClient.fromFile(kubeconfig, { userAgent: 'rush-client' }));
    let creating = true;
    let maxObserved = 0;
    let observations = 0;
    const watcher = (async () => {
      while (creating) {
        const [list, team] = await Promise.all([admin.list<Membership>(resources.membership, ns), admin.get<Team>(resources.team, ns, 'rush')]);
        const inUse = 1 + list.items.filter((m) => !m.metadata.deletionTimestamp).length;
        const reported = Number(team.status?.seats?.summary?.split('/')[0] ?? 0);
        maxObserved = Math.max(maxObserved, inUse, reported);
        observations++;
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    const results = await Promise.allSettled(
      clients.map((client, i) =>
        client.create<Membership>(resources.membership, {
          apiVersion: 'roster.dev/v1alpha1',
          kind: 'Membership',
          metadata: { name: `rusher-${i}`, namespace: ns },
          spec: { team: 'rush', email: `rusher-${i}@rush.example`, role: 'observer' },
        }),
      ),
    );
    creating = false;
    await watcher;
    clients.forEach((c) => c.close());

    const admitted = results.filter((r) => r.status === 'fulfilled').length;
    const refusals = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(admitted).toBeGreaterThan(0);
    expect(admitted).toBeLessThanOrEqual(10);
    expect(observations).toBeGreaterThan(1);
    expect(maxObserved).toBeLessThanOrEqual(LIMIT);
    // Every refusal says why; with the seats gone, that is the SPEC's sentence.
    for (const e of refusals) {
      expect(e).toBeInstanceOf(KubeApiError);
      expect((e as KubeApiError).message.length).toBeGreaterThan(20);
    }
    const seatRefusals = refusals.filter((e) => /team rush has 11 of 11 seats in use; raise spec.seats or remove a member/.test((e as Error).message));
    expect(seatRefusals.length).toBeGreaterThan(0);

    const list = (await admin.list<Membership>(resources.membership, ns)).items;
    expect(list).toHaveLength(admitted);
    // Both replicas answered admission requests.
    for (const replica of replicas) expect(await webhookRequests(replica)).toBeGreaterThan(0);
    // The controller's second line never had to step in: nobody is OverSeatLimit.
    await eventually(
      async () => {
        const now = (await admin.list<Membership>(resources.membership, ns)).items;
        expect(now.map((m) => m.status?.phase)).toEqual(now.map(() => 'Invited'));
      },
      60_000,
      500,
    );
    // Team reconciles after member events may wait to coalesce: the summary can come after every Invited.
    await eventually(async () => expect((await admin.get<Team>(resources.team, ns, 'rush')).status?.seats?.summary).toBe(`${1 + admitted}/${LIMIT}`));
  });

  it('the Team controller settles the ledger once the objects are in its cache', async () => {
    const ledger = async () => parseLedger(await admin.find<ConfigMap>(resources.configMap, ns, ledgerName('rush')));
    expect((await ledger()).length).toBeGreaterThan(0);
    // Past the confirmation grace, any Team event lets the controller drop confirmed reservations.
    await new Promise((r) => setTimeout(r, 3_000));
    await admin.patch(resources.team, ns, 'rush', 'merge', { metadata: { annotations: { 'example.com/poke': String(Date.now()) } } });
    await eventually(async () => expect(await ledger()).toEqual([]), 30_000, 500);
  });
});
