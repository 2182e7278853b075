// Seat blocks (src/seats/ledger.ts) against a real API server: a burst of creates into a
// team far from its limit costs a few ledger writes, not one per create; and with two
// replicas racing near the limit, no more get in than there are seats.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Membership, Team } from '../../../src/api/generated.ts';
import { resources } from '../../../src/api/resources.ts';
import { ledgerName, parseBlocks, parseLedger, type ConfigMap } from '../../../src/seats/ledger.ts';
import { KubeClient, type WatchEvent } from '../../../src/runtime/kube-client.ts';
import { eventually } from '../support/eventually.ts';
import type { OperatorProcess } from '../support/operator.ts';
import { removeNamespaces } from '../support/cleanup.ts';
import { observeSeats, removeWebhook, startReplicas, startWebhookOperator, testNamespace } from './support.ts';

const kubeconfig = inject('kubeconfigPath');

async function createTeam(admin: KubeClient, ns: string, name: string, seats: number): Promise<void> {
  await admin.create<Team>(resources.team, {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Team',
    metadata: { name, namespace: ns },
    spec: { owner: { email: `owner@${name}.example` }, seats },
  });
  await eventually(async () => expect((await admin.get<Team>(resources.team, ns, name)).status?.seats?.summary).toBe(`1/${seats}`), 30_000);
}

/** `count` Membership creates at once, each from its own client (as many people would). */
async function rush(ns: string, team: string, count: number): Promise<PromiseSettledResult<Membership>[]> {
  const clients = Array.from({ length: count }, () => KubeClient.fromFile(kubeconfig, { userAgent: `${team}-client` }));
  try {
    return await Promise.allSettled(
      clients.map((client, i) =>
        client.create<Membership>(resources.membership, {
          apiVersion: 'roster.dev/v1alpha1',
          kind: 'Membership',
          metadata: { name: `${team}-${i}`, namespace: ns },
          spec: { team, email: `${team}-${i}@${team}.example`, role: 'observer' },
        }),
      ),
    );
  } finally {
    clients.forEach((c) => c.close());
  }
}

/** Every successful write of a team's ledger (each ADDED or MODIFIED event is one). */
function watchLedger(admin: KubeClient, ns: string, team: string) {
  const controller = new AbortController();
  const seen = { writes: 0, blocks: new Set<string>(), entries: new Set<string>() };
  const done = admin
    .watch<ConfigMap>(
      resources.configMap,
      ns,
      { fieldSelector: `metadata.name=${ledgerName(team)}` },
      (event: WatchEvent<ConfigMap>) => {
        if (event.type !== 'ADDED' && event.type !== 'MODIFIED') return;
        seen.writes++;
        for (const b of parseBlocks(event.object)) seen.blocks.add(b.key);
        for (const r of parseLedger(event.object)) seen.entries.add(r.requestUid);
      },
      { signal: controller.signal },
    )
    .catch(() => undefined);
  return {
    seen,
    async stop() {
      controller.abort();
      await done;
    },
  };
}

describe('one replica: 40 concurrent creates into a team with 60 free seats', () => {
  // The shortest window, so that the blocks expire within the test.
  const WINDOW_S = 5;
  const suite = 'blocks';
  const ns = 'adm-blocks';
  let admin: KubeClient;
  let operator: OperatorProcess | undefined;

  beforeAll(async () => {
    admin = KubeClient.fromFile(kubeconfig);
    await testNamespace(admin, ns, suite);
    operator = await startWebhookOperator(admin, suite, { kubeconfigPath: kubeconfig, config: { webhook: { seatReservationSeconds: WINDOW_S } } });
    await createTeam(admin, ns, 'burst', 61);
  });

  afterAll(async () => {
    if (admin) await removeNamespaces(admin, [ns]);
    await operator?.kill('SIGTERM');
    if (admin) await removeWebhook(admin, suite);
    admin?.close();
  });

  it('admits all of them with a few ledger writes, not one per create', async () => {
    const ledger = watchLedger(admin, ns, 'burst');
    await new Promise((r) => setTimeout(r, 300)); // the watch is open
    const results = await rush(ns, 'burst', 40);
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
    expect(refused).toEqual([]);
    await eventually(async () => expect((await admin.get<Team>(resources.team, ns, 'burst')).status?.seats?.summary).toBe('41/61'), 30_000, 250);
    // Let the Team controller settle whatever it would settle before the blocks expire.
    await new Promise((r) => setTimeout(r, 2_000));
    await ledger.stop();
    expect(ledger.seen.writes).toBeGreaterThan(0);
    expect(ledger.seen.writes).toBeLessThanOrEqual(5);
    expect(ledger.seen.blocks.size).toBeGreaterThan(0);
    expect(ledger.seen.entries.size).toBe(0); // no per-create entries at all
    const metrics = await (await fetch(`http://127.0.0.1:${operator!.probesPort}/metrics`)).text();
    expect(metrics).toMatch(/controller_runtime_webhook_requests_total\{[^}]*webhook="\/validate"/);
  });

  it('spends no write on expired blocks: they count for nothing, and the next admission write drops them', async () => {
    const ledgerNow = () => admin.find<ConfigMap>(resources.configMap, ns, ledgerName('burst'));
    const before = await ledgerNow();
    const written = parseBlocks(before);
    expect(written.length).toBeGreaterThan(0);
    // Past every block's window (plus the second the ledger rounds up to, and a margin).
    const expiry = Math.max(...written.map((b) => Date.parse(b.expiresAt)));
    await new Promise((r) => setTimeout(r, Math.max(0, expiry - Date.now()) + 2_000));
    // A Team reconcile meanwhile (an annotation changes) settles the ledger: nothing to write.
    await admin.patch(resources.team, ns, 'burst', 'merge', { metadata: { annotations: { 'example.com/poke': 'yes' } } });
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await ledgerNow())?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
    // The Team counts the 41 people, not the stale blocks on top.
    expect((await admin.get<Team>(resources.team, ns, 'burst')).status?.seats?.summary).toBe('41/61');
    // 20 free seats: the next admission writes a new block, and drops the expired ones in that write.
    await admin.create<Membership>(resources.membership, {
      apiVersion: 'roster.dev/v1alpha1',
      kind: 'Membership',
      metadata: { name: 'late', namespace: ns },
      spec: { team: 'burst', email: 'late@burst.example', role: 'observer' },
    });
    const after = parseBlocks(await ledgerNow());
    expect(after).toHaveLength(1);
    expect(written.map((b) => b.key)).not.toContain(after[0]!.key);
  });
});

describe('two replicas: 100 concurrent creates into a team with 30 free seats', () => {
  const suite = 'blocks-race';
  const ns = 'adm-blocks-race';
  const LIMIT = 31;
  let admin: KubeClient;
  let operators: Awaited<ReturnType<typeof startReplicas>> | undefined;

  beforeAll(async () => {
    admin = KubeClient.fromFile(kubeconfig);
    await testNamespace(admin, ns, suite);
    operators = await startReplicas(kubeconfig, suite);
    await createTeam(admin, ns, 'crowd', LIMIT);
  });

  afterAll(async () => {
    if (admin) await removeNamespaces(admin, [ns]);
    await operators?.stop();
    if (admin) await removeWebhook(admin, suite);
    admin?.close();
  });

  it('admits at most 30, and never shows more seats in use than the limit', async () => {
    const ledger = watchLedger(admin, ns, 'crowd');
    const seats = observeSeats(admin, ns, 'crowd');
    const results = await rush(ns, 'crowd', 100);
    const { maxInUse, observations } = await seats.stop();
    await ledger.stop();

    const admitted = results.filter((r) => r.status === 'fulfilled').length;
    expect(admitted).toBeGreaterThan(0);
    expect(admitted).toBeLessThanOrEqual(30);
    expect(observations).toBeGreaterThan(1);
    expect(maxInUse).toBeLessThanOrEqual(LIMIT);
    expect(ledger.seen.blocks.size).toBeGreaterThan(0); // the race did go through blocks
    for (const r of results) {
      if (r.status === 'rejected') expect(String(r.reason)).toMatch(/seats in use; raise spec.seats|retry in a moment/);
    }
    expect((await admin.list<Membership>(resources.membership, ns)).items).toHaveLength(admitted);
    // The controller's second line never had to step in: nobody is OverSeatLimit.
    const phases = async () => new Set((await admin.list<Membership>(resources.membership, ns)).items.map((m) => m.status?.phase));
    await eventually(async () => expect([...(await phases())]).toEqual(['Invited']), 60_000, 500);
    // Team reconciles after member events wait a second to coalesce: the summary can come after every Invited.
    await eventually(async () => expect((await admin.get<Team>(resources.team, ns, 'crowd')).status?.seats?.summary).toBe(`${1 + admitted}/${LIMIT}`));
  });
});
