// The informer against a real API server that restarts, loses its history (410) and hangs
// mid-stream: no change is ever missed by the cache.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../../controlplane/harness.ts';
import { resources, type Team } from '../../../src/api/index.ts';
import { Informer, type InformerEvent } from '../../../src/runtime/informer.ts';
import { KubeClient } from '../../../src/runtime/kube-client.ts';
import { etcdCompact, etcdDelete } from '../support/etcd.ts';
import { FreezableProxy } from '../support/tcp-proxy.ts';
import { eventually } from '../support/eventually.ts';

let cp: ControlPlane;
const ns = 'informer';

const team = (name: string, seats = 3): Team => ({
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Team',
  metadata: { name, namespace: ns },
  spec: { owner: { email: `${name}@example.com` }, seats },
});

beforeAll(async () => {
  cp = await startControlPlane({ controllerManager: false });
  await cp.client.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});
afterAll(async () => {
  await cp?.stop();
});

describe('Informer', () => {
  it('lists, watches, and indexes', async () => {
    const informer = new Informer<Team>(cp.client, resources.team, {
      namespace: ns,
      indexers: { owner: (t) => [t.spec.owner.email] },
    });
    informer.start();
    await informer.waitForSync();
    await cp.client.create(resources.team, team('indexed'));
    await eventually(() => expect(informer.byIndex('owner', 'indexed@example.com').map((t) => t.metadata.name)).toEqual(['indexed']));
    await cp.client.patch(resources.team, ns, 'indexed', 'merge', { spec: { owner: { email: 'new@example.com' } } });
    await eventually(() => expect(informer.byIndex('owner', 'new@example.com')).toHaveLength(1));
    expect(informer.byIndex('owner', 'indexed@example.com')).toHaveLength(0);
    await cp.client.delete(resources.team, ns, 'indexed');
    await eventually(() => expect(informer.get(ns, 'indexed')).toBeUndefined());
    await informer.stop();
  });

  it('survives an API server restart and an expired resourceVersion without missing a change', async () => {
    for (const name of ['a', 'b', 'c']) await cp.client.create(resources.team, team(name));
    const informer = new Informer<Team>(cp.client, resources.team, { namespace: ns });
    const events: InformerEvent<Team>[] = [];
    informer.on((e) => events.push(e));
    informer.start();
    await informer.waitForSync();
    expect(
      informer
        .list()
        .map((t) => t.metadata.name)
        .sort(),
    ).toEqual(['a', 'b', 'c']);

    await cp.restartApiServer({
      whileDown: async () => {
        // A change the watch can never deliver: b vanishes from storage while the API
        // server is down, and history is compacted so the old resourceVersion is gone.
        expect(await etcdDelete(cp.etcdUrl, `/registry/roster.dev/teams/${ns}/b`)).toBe(1);
        await etcdCompact(cp.etcdUrl);
      },
    });
    // Changes right after the restart, likely before the informer has reconnected.
    await cp.client.create(resources.team, team('d'));
    await cp.client.patch(resources.team, ns, 'c', 'merge', { spec: { seats: 7 } });

    await eventually(() => {
      expect(
        informer
          .list()
          .map((t) => t.metadata.name)
          .sort(),
      ).toEqual(['a', 'c', 'd']);
      expect(informer.get(ns, 'c')?.spec.seats).toBe(7);
    }, 60_000);
    expect(events).toContainEqual(expect.objectContaining({ type: 'deleted', key: `${ns}/b` }));
    expect(informer.stats.relistsOnGone).toBeGreaterThanOrEqual(1);

    // And it keeps watching afterwards.
    await cp.client.patch(resources.team, ns, 'a', 'merge', { spec: { seats: 9 } });
    await eventually(() => expect(informer.get(ns, 'a')?.spec.seats).toBe(9));
    await informer.stop();
  });

  it('restarts a watch that goes silent (half-open connection)', async () => {
    const proxy = new FreezableProxy('127.0.0.1', Number(new URL(cp.server).port));
    const port = await proxy.start();
    const kc = new KubeConfig();
    kc.loadFromString(cp.kubeConfig.exportConfig().replace(cp.server, `https://127.0.0.1:${port}`));
    const client = new KubeClient(kc);
    const informer = new Informer<Team>(client, resources.team, {
      namespace: ns,
      watchTimeoutSeconds: [2, 2],
      watchdogGraceMs: 1_000,
    });
    informer.start();
    await informer.waitForSync();
    await eventually(() => expect(informer.stats.watches).toBeGreaterThanOrEqual(1));
    expect(proxy.freezeOpenConnections()).toBeGreaterThan(0);
    await cp.client.create(resources.team, team('after-freeze'));
    await eventually(() => expect(informer.get(ns, 'after-freeze')).toBeDefined(), 30_000);
    expect(informer.stats.watchdogRestarts).toBeGreaterThanOrEqual(1);
    await informer.stop();
    client.close();
    await proxy.stop();
  });
});
