import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Informer, internStrings, LAST_APPLIED_ANNOTATION, stripForCache } from '../../../src/runtime/informer.ts';
import type { AcceptedWrite, KubeClient, KubeObject, ResourceRef, WatchEvent } from '../../../src/runtime/kube-client.ts';

describe('stripForCache', () => {
  it('drops managedFields and the last-applied annotation, and keeps everything else', () => {
    const object: KubeObject & { spec: unknown } = {
      apiVersion: 'roster.dev/v1alpha1',
      kind: 'Membership',
      metadata: {
        name: 'ada',
        namespace: 'acme',
        resourceVersion: '42',
        labels: { team: 'acme' },
        annotations: { [LAST_APPLIED_ANNOTATION]: '{"spec":{}}', 'roster.dev/created-by': 'alice' },
        finalizers: ['roster.dev/membership'],
        managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': {} } }],
      },
      spec: { email: 'ada@example.com' },
    };
    const stripped = stripForCache(structuredClone(object));
    expect(stripped.metadata).not.toHaveProperty('managedFields');
    expect(stripped.metadata.annotations).toEqual({ 'roster.dev/created-by': 'alice' });
    const { managedFields: _m, annotations: _a, ...kept } = object.metadata;
    expect(stripped).toEqual({ ...object, metadata: { ...kept, annotations: { 'roster.dev/created-by': 'alice' } } });
  });

  it('removes an annotations map that held only the last-applied record', () => {
    const stripped = stripForCache({ metadata: { name: 'a', annotations: { [LAST_APPLIED_ANNOTATION]: '{}' } } });
    expect(stripped.metadata).toEqual({ name: 'a' });
  });
});

describe('internStrings', () => {
  it('leaves every value as it was', () => {
    const object = {
      apiVersion: 'roster.dev/v1alpha1',
      metadata: { name: 'a', uid: 'u-1', resourceVersion: '7', labels: { team: 'acme' }, finalizers: ['roster.dev/access'] },
      spec: { seats: 3, revoked: false, owner: null, emails: ['a@example.com', 'x'.repeat(200)] },
      status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Sent' }] },
    };
    const copy = structuredClone(object);
    internStrings(copy);
    expect(copy).toEqual(object);
  });

  it('makes objects parsed apart share their repeated strings (measured on the heap, in a process of its own)', () => {
    // 20,000 Invitation-like objects from JSON.parse, kept with and without interning.
    const script = `
      import { internStrings } from ${JSON.stringify(join(import.meta.dirname, '../../../src/runtime/informer.ts'))};
      const text = (i) => JSON.stringify({ apiVersion: 'roster.dev/v1alpha1', kind: 'Invitation',
        metadata: { name: 'm-' + i, namespace: 'scale-' + (i % 100), uid: 'u' + i, labels: { 'app.kubernetes.io/managed-by': 'roster', 'roster.dev/team': 'team' },
          creationTimestamp: '2026-11-30T01:34:17Z', annotations: { 'roster.dev/created-by': 'system:serviceaccount:roster-system:roster' } },
        spec: { email: 'm' + i + '@example.com', role: 'observer', team: 'team' },
        status: { conditions: [{ lastTransitionTime: '2026-11-30T01:34:17Z', reason: 'Sent', status: 'True', type: 'Delivered' }], phase: 'Pending', inviter: 'roster-admin' } });
      const measure = (intern) => {
        const texts = Array.from({ length: 20000 }, (_, i) => text(i));
        gc(); const before = process.memoryUsage().heapUsed;
        const kept = texts.map((t) => { const o = JSON.parse(t); if (intern) internStrings(o); return o; });
        gc(); const bytes = process.memoryUsage().heapUsed - before;
        return kept.length && bytes;
      };
      console.log(JSON.stringify({ plain: measure(false), interned: measure(true) }));
    `;
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const { plain, interned } = JSON.parse(out) as { plain: number; interned: number };
    expect(interned).toBeLessThan(plain * 0.9);
  });
});

/** Just enough of a KubeClient for an Informer: a list, a watch the test feeds, and the write hook. */
class FakeClient {
  items: KubeObject[] = [];
  private emit: ((e: WatchEvent) => void) | undefined;
  private writeListener: ((w: AcceptedWrite) => void) | undefined;
  list() {
    return Promise.resolve({ metadata: { resourceVersion: '10' }, items: structuredClone(this.items) });
  }
  watch(_ref: unknown, _ns: unknown, _q: unknown, onEvent: (e: WatchEvent) => void, options: { signal?: AbortSignal }) {
    this.emit = onEvent;
    return new Promise<void>((resolve) => options.signal?.addEventListener('abort', () => resolve(), { once: true }));
  }
  onAcceptedWrite(listener: (w: AcceptedWrite) => void) {
    this.writeListener = listener;
    return () => (this.writeListener = undefined);
  }
  event(type: 'MODIFIED' | 'DELETED', object: KubeObject) {
    this.emit!({ type, object: structuredClone(object) });
  }
  wrote(baseResourceVersion: string, object: KubeObject, ref = invitations) {
    this.writeListener?.({ ref, baseResourceVersion, object });
  }
}

const invitations: ResourceRef = { group: 'roster.dev', version: 'v1alpha1', plural: 'invitations', namespaced: true };
const version = (rv: string, phase: string): KubeObject & { status: { phase: string } } => ({
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Invitation',
  metadata: { name: 'ada', namespace: 'acme', resourceVersion: rv, managedFields: [{ manager: 'roster' }] },
  status: { phase },
});

describe('Informer: our own writes (write-through)', () => {
  async function started() {
    const client = new FakeClient();
    client.items = [version('5', 'New')];
    const informer = new Informer<KubeObject & { status?: { phase: string } }>(client as unknown as KubeClient, invitations);
    const events: string[] = [];
    informer.on((e) => events.push(`${e.type} ${e.object.metadata.resourceVersion}`));
    informer.start();
    await informer.waitForSync();
    await new Promise((r) => setImmediate(r)); // the watch is open
    events.length = 0;
    return { client, informer, events };
  }

  it('puts an accepted conditional write in the cache at once, and skips the watch events it superseded', async () => {
    const { client, informer, events } = await started();
    const intent = version('6', 'Sending');
    const confirmed = version('7', 'Sent');
    client.wrote('5', intent);
    client.wrote('6', confirmed);
    expect(informer.get('acme', 'ada')?.status?.phase).toBe('Sent');
    expect(informer.get('acme', 'ada')?.metadata).not.toHaveProperty('managedFields');
    expect(confirmed.metadata).toHaveProperty('managedFields'); // the writer's copy is its own
    // The watch catches up: the intent is older than the cache, the confirmation is the cache.
    client.event('MODIFIED', intent);
    expect(informer.get('acme', 'ada')?.status?.phase).toBe('Sent');
    client.event('MODIFIED', confirmed);
    // Someone else's later write comes through as usual.
    client.event('MODIFIED', version('8', 'Accepted'));
    expect(informer.get('acme', 'ada')?.status?.phase).toBe('Accepted');
    expect(events).toEqual(['updated 6', 'updated 7', 'updated 8']);
    await informer.stop();
  });

  it('ignores a write based on a version the cache does not hold, and writes of other kinds', async () => {
    const { client, informer, events } = await started();
    client.event('MODIFIED', version('6', 'Sending'));
    client.wrote('5', version('7', 'Sent')); // the cache moved on to 6 meanwhile: the watch decides
    client.wrote('6', version('9', 'Other'), { ...invitations, plural: 'memberships' });
    expect(informer.get('acme', 'ada')?.metadata.resourceVersion).toBe('6');
    expect(events).toEqual(['updated 6']);
    await informer.stop();
  });
});

describe('Informer: indexes', () => {
  const member = (name: string, rv: string, team: string): KubeObject => ({
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: { name, namespace: 'acme', resourceVersion: rv, labels: { team } },
  });

  it('finds the objects of a value as they come, move and go (one object per value or many)', async () => {
    const client = new FakeClient();
    client.items = [member('ada', '1', 'red'), member('bob', '2', 'red'), member('cy', '3', 'blue')];
    const informer = new Informer<KubeObject>(client as unknown as KubeClient, invitations, {
      indexers: { team: (o) => [o.metadata.labels?.team ?? ''] },
    });
    informer.start();
    await informer.waitForSync();
    await new Promise((r) => setImmediate(r)); // the watch is open
    const names = (team: string) => informer.byIndex('team', team).map((o) => o.metadata.name);
    expect(names('red').sort()).toEqual(['ada', 'bob']);
    expect(names('blue')).toEqual(['cy']);
    client.event('MODIFIED', member('bob', '4', 'blue'));
    expect(names('red')).toEqual(['ada']);
    expect(names('blue').sort()).toEqual(['bob', 'cy']);
    client.event('MODIFIED', member('bob', '5', 'blue')); // the same value again
    expect(names('blue').sort()).toEqual(['bob', 'cy']);
    client.event('DELETED', member('ada', '6', 'red'));
    expect(names('red')).toEqual([]);
    client.event('DELETED', member('cy', '7', 'blue'));
    client.event('DELETED', member('bob', '8', 'blue'));
    expect(names('blue')).toEqual([]);
    client.event('MODIFIED', member('dee', '9', 'red'));
    expect(names('red')).toEqual(['dee']);
    expect(() => informer.byIndex('colour', 'red')).toThrow('has no index colour');
    await informer.stop();
  });
});

describe('Informer: relist', () => {
  /** Lists one item per page; atEachPage records, at each page request, how many of the items handed out so far are still raw and what the cache holds. */
  class PagedClient extends FakeClient {
    readonly handedOut: KubeObject[] = [];
    readonly atEachPage: Array<{ raw: number; cached: number }> = [];
    informer: Informer<KubeObject> | undefined;
    override list(_ref?: unknown, _ns?: unknown, query?: { continue?: string }) {
      const at = Number(query?.continue ?? 0);
      this.atEachPage.push({ raw: this.handedOut.filter((o) => o.metadata.managedFields).length, cached: this.informer?.list().length ?? 0 });
      const items = structuredClone(this.items.slice(at, at + 1));
      this.handedOut.push(...items);
      const next = at + 1 < this.items.length ? String(at + 1) : undefined;
      return Promise.resolve({ metadata: { resourceVersion: '10', ...(next ? { continue: next } : {}) }, items });
    }
  }
  const item = (name: string): KubeObject => ({
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Invitation',
    metadata: { name, namespace: 'acme', resourceVersion: '1', managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': {} } }] },
  });

  it('strips each page as it arrives, and replaces the cache only after the last one', async () => {
    const client = new PagedClient();
    client.items = [item('ada'), item('bob'), item('cy')];
    const informer = new Informer<KubeObject>(client as unknown as KubeClient, invitations, { pageSize: 1 });
    client.informer = informer;
    informer.start();
    await informer.waitForSync();
    await new Promise((r) => setImmediate(r)); // the watch is open
    // No raw item waits for the last page; no reconcile sees part of the list.
    expect(client.atEachPage).toEqual([
      { raw: 0, cached: 0 },
      { raw: 0, cached: 0 },
      { raw: 0, cached: 0 },
    ]);
    expect(new Set(informer.list().map((o) => o.metadata.name))).toEqual(new Set(['ada', 'bob', 'cy']));
    await informer.stop();
  });
});
