// The Event recorder against the real API server (events.k8s.io/v1): the fields it writes
// pass the server's validation and read back as written, repeats become one Event with a
// series (no series for one occurrence, then count 2, 3, … — the API refuses count < 2),
// a different note is a new Event, the per-object burst holds, and tokens never land.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resources } from '../../../src/api/resources.ts';
import { EventRecorder, type KubeEvent } from '../../../src/runtime/events.ts';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.ts';

const kubeconfig = inject('kubeconfigPath');
const ns = 'events-tests';
let client: KubeClient;

beforeAll(async () => {
  client = KubeClient.fromFile(kubeconfig);
  await client.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
});
afterAll(() => client.close());

/** A fresh object to hang Events on, so each test sees only its own. */
async function subject(name: string): Promise<KubeObject> {
  return await client.create(resources.configMap, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: {} } as KubeObject);
}

async function eventsAbout(object: KubeObject): Promise<KubeEvent[]> {
  const list = await client.list<KubeEvent>(resources.event, object.metadata.namespace || 'default');
  return list.items.filter((e) => e.regarding.uid === object.metadata.uid);
}

const recorder = () => new EventRecorder({ client, reportingInstance: 'roster-test-0' });

describe('EventRecorder', () => {
  it('creates an Event with the right fields', async () => {
    const cm = await subject('fields');
    const r = recorder();
    expect(r.record(cm, 'Warning', 'IdentitySyncFailed', 'Reconcile', 'keycloak answered 503; retrying')).toBe(true);
    await r.flush();
    const [event, ...rest] = await eventsAbout(cm);
    expect(rest).toEqual([]);
    expect(event).toMatchObject({
      metadata: { namespace: ns },
      type: 'Warning',
      reason: 'IdentitySyncFailed',
      action: 'Reconcile',
      note: 'keycloak answered 503; retrying',
      reportingController: 'roster.dev/operator',
      reportingInstance: 'roster-test-0',
      regarding: { apiVersion: 'v1', kind: 'ConfigMap', name: 'fields', namespace: ns, uid: cm.metadata.uid },
    });
    expect(event?.metadata.name).toMatch(/^fields\.[0-9a-f]+$/);
    expect(event?.eventTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(Math.abs(Date.parse(event?.eventTime ?? '') - Date.now())).toBeLessThan(60_000);
    expect(event?.series).toBeUndefined();
  });

  it('puts an Event about a cluster-scoped object in the default namespace', async () => {
    const namespace = await client.get<KubeObject>(resources.namespace, undefined, ns);
    const r = recorder();
    r.record(namespace, 'Normal', 'Observed', 'Reconcile', 'namespace seen');
    await r.flush();
    const events = await eventsAbout(namespace);
    expect(events.map((e) => [e.metadata.namespace, e.reason])).toEqual([['default', 'Observed']]);
    expect(r.stats.failed).toBe(0);
  });

  it('records the same occurrence 5 times as one Event with series.count 5', async () => {
    const cm = await subject('repeats');
    const r = recorder();
    for (let i = 0; i < 5; i++) {
      r.record(cm, 'Normal', 'InvitationSent', 'Deliver', 'mailed riley@acme.com');
      // Flushing between repeats exercises create, then a patch per occurrence.
      await r.flush();
      const events = await eventsAbout(cm);
      expect(events).toHaveLength(1);
      // One occurrence has no series; the API server refuses a series count below 2.
      expect(events[0]?.series?.count).toBe(i === 0 ? undefined : i + 1);
    }
    const [event] = await eventsAbout(cm);
    expect(Date.parse(event?.series?.lastObservedTime ?? '')).toBeGreaterThanOrEqual(Date.parse(event?.eventTime ?? ''));
    expect(r.stats).toMatchObject({ recorded: 5, created: 1, patched: 4, failed: 0 });

    // Without flushing in between, the occurrences still all count.
    const burst = await subject('repeats-at-once');
    for (let i = 0; i < 5; i++) r.record(burst, 'Normal', 'InvitationSent', 'Deliver', 'mailed riley@acme.com');
    await r.flush();
    expect((await eventsAbout(burst)).map((e) => e.series?.count)).toEqual([5]);
  });

  it('creates a new Event when the note differs', async () => {
    const cm = await subject('notes');
    const r = recorder();
    r.record(cm, 'Normal', 'RoleChanged', 'Reconcile', 'developer → admin');
    r.record(cm, 'Normal', 'RoleChanged', 'Reconcile', 'admin → observer');
    r.record(cm, 'Normal', 'RoleChanged', 'Reconcile', 'developer → admin');
    await r.flush();
    const events = await eventsAbout(cm);
    expect(events.map((e) => [e.note, e.series?.count ?? 1]).sort()).toEqual([
      ['admin → observer', 1],
      ['developer → admin', 2],
    ]);
  });

  it('drops what goes past the per-object burst of 25', async () => {
    const cm = await subject('burst');
    const other = await subject('burst-other');
    const r = recorder();
    const accepted = Array.from({ length: 30 }, (_, i) => r.record(cm, 'Normal', 'Step', 'Reconcile', `step ${i}`));
    expect(accepted.filter(Boolean)).toHaveLength(25);
    expect(accepted.slice(25)).toEqual([false, false, false, false, false]);
    // Another object has a budget of its own.
    expect(r.record(other, 'Normal', 'Step', 'Reconcile', 'step 0')).toBe(true);
    await r.flush();
    const events = await eventsAbout(cm);
    expect(events).toHaveLength(25);
    expect(new Set(events.map((e) => e.note))).toEqual(new Set(Array.from({ length: 25 }, (_, i) => `step ${i}`)));
    expect(await eventsAbout(other)).toHaveLength(1);
    expect(r.stats.dropped).toBe(5);
  });

  it('scrubs a token-looking string from the note', async () => {
    const cm = await subject('secrets');
    const token = 'q8Xr2_LkT0vWzN5yHc-9PbGm3DsA7fJe1UoRiVn4';
    const r = recorder();
    r.record(cm, 'Normal', 'InvitationSent', 'Deliver', `link https://roster.example/invite/${token} sent to roster-acme-developers`);
    await r.flush();
    const [event] = await eventsAbout(cm);
    expect(event?.note).toBe('link https://roster.example/invite/[redacted] sent to roster-acme-developers');
    expect(JSON.stringify(await eventsAbout(cm))).not.toContain(token);
  });

  it('never throws into the caller, even when the API server refuses the write', async () => {
    const r = recorder();
    const missing: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'no-such-namespace', uid: 'u' } };
    expect(r.record(missing, 'Normal', 'Synced', 'Reconcile', 'x')).toBe(true);
    await expect(r.flush()).resolves.toBeUndefined();
    expect(r.stats.failed).toBe(1);
  });
});
