import { describe, expect, it } from 'vitest';
import {
  EventRecorder,
  TokenBucket,
  eventSeriesKey,
  isValidReason,
  scrubSecrets,
  toMicroTime,
  truncateNote,
  type KubeEvent,
  type ObjectReference,
} from '../../../src/runtime/events.ts';
import { KubeApiError, type KubeClient, type KubeObject } from '../../../src/runtime/kube-client.ts';

describe('toMicroTime', () => {
  it('writes RFC 3339 with exactly six fractional digits', () => {
    expect(toMicroTime(Date.UTC(2026, 0, 1, 0, 0, 0, 7))).toBe('2026-01-01T00:00:00.007000Z');
    expect(toMicroTime(new Date('2026-03-04T05:06:07.891Z'))).toBe('2026-03-04T05:06:07.891000Z');
  });
});

describe('isValidReason', () => {
  it('accepts CamelCase and refuses anything else', () => {
    expect(isValidReason('InvitationSent')).toBe(true);
    expect(isValidReason('Synced2')).toBe(true);
    for (const bad of ['', 'invitationSent', 'Invitation Sent', 'Invitation-Sent', 'Sent!', `A${'b'.repeat(128)}`]) {
      expect(isValidReason(bad), bad).toBe(false);
    }
  });
});

describe('scrubSecrets', () => {
  const base64url = 'kJ3x_9Qv-Lm2Zr8TnWp4Yb7Hc1Df6Ge0Aa5Ss3Uu9Ii'; // 44 characters
  const hex = 'a3f9c2e18b7d4f60a3f9c2e18b7d4f60a3f9c2e18b7d4f60a3f9c2e18b7d4f60';

  it('redacts base64url and hex runs of 32 characters or more', () => {
    expect(scrubSecrets(`accept at https://roster.example/invite/${base64url} today`)).toBe('accept at https://roster.example/invite/[redacted] today');
    expect(scrubSecrets(`hash=${hex}`)).toBe('hash=[redacted]');
    expect(scrubSecrets(`token: ${'A'.repeat(32)}.`)).toBe('token: [redacted].');
  });

  it('redacts each part of a JWT', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJzdWIiOiJyaWxleUBhY21lLmNvbSIsImV4cCI6MTcwMH0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU';
    expect(scrubSecrets(`Bearer ${jwt}`)).toBe('Bearer [redacted].[redacted].[redacted]');
  });

  it('keeps short runs, Kubernetes names and UIDs', () => {
    const kept = [
      'a'.repeat(31),
      'Created RoleBinding roster-acme-developer-shop-staging-environment in shop-staging',
      'uid 3f0c9a2e-8b7d-4f60-a3f9-c2e18b7d4f60',
      'metric leader_election_master_status_for_this_replica',
    ];
    for (const text of kept) expect(scrubSecrets(text)).toBe(text);
  });

  it('still redacts a hyphenated run when one of its words is token-long', () => {
    expect(scrubSecrets(`invite-${hex}`)).toBe('[redacted]');
  });
});

describe('truncateNote', () => {
  it('leaves notes within the limit alone', () => {
    expect(truncateNote('x'.repeat(1024))).toBe('x'.repeat(1024));
  });

  it('cuts to at most 1024 bytes of UTF-8 without splitting a character, and marks the cut', () => {
    const cut = truncateNote('é'.repeat(1000)); // 2000 bytes
    expect(Buffer.byteLength(cut, 'utf8')).toBeLessThanOrEqual(1024);
    expect(cut.endsWith('…')).toBe(true);
    expect(cut.slice(0, -1)).toMatch(/^é+$/);
    const emoji = truncateNote('🙂'.repeat(300), 10);
    expect(Buffer.byteLength(emoji, 'utf8')).toBeLessThanOrEqual(10);
    expect(emoji).toBe('🙂…');
  });
});

describe('eventSeriesKey', () => {
  const ref: ObjectReference = { apiVersion: 'v1', kind: 'ConfigMap', namespace: 'acme', name: 'a', uid: 'u-1' };

  it('is the same for the same occurrence and differs in every part', () => {
    const key = eventSeriesKey(ref, 'Normal', 'Synced', 'Reconcile', 'ok');
    expect(eventSeriesKey({ ...ref, resourceVersion: '42' }, 'Normal', 'Synced', 'Reconcile', 'ok')).toBe(key);
    const others = [
      eventSeriesKey({ ...ref, uid: 'u-2' }, 'Normal', 'Synced', 'Reconcile', 'ok'),
      eventSeriesKey(ref, 'Warning', 'Synced', 'Reconcile', 'ok'),
      eventSeriesKey(ref, 'Normal', 'Failed', 'Reconcile', 'ok'),
      eventSeriesKey(ref, 'Normal', 'Synced', 'Delete', 'ok'),
      eventSeriesKey(ref, 'Normal', 'Synced', 'Reconcile', 'ok!'),
    ];
    expect(new Set([key, ...others]).size).toBe(6);
  });

  it('falls back to where the object lives when it has no uid', () => {
    const { uid: _uid, ...noUid } = ref;
    expect(eventSeriesKey(noUid, 'Normal', 'Synced', 'Reconcile', 'ok')).not.toBe(
      eventSeriesKey({ ...noUid, name: 'b' }, 'Normal', 'Synced', 'Reconcile', 'ok'),
    );
  });

  it('cannot be confused by separators inside the parts', () => {
    expect(eventSeriesKey(ref, 'Normal', 'A', 'b/c', 'd')).not.toBe(eventSeriesKey(ref, 'Normal', 'A', 'b', 'c/d'));
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then one more per refill period, never more than the burst', () => {
    const bucket = new TokenBucket({ burst: 25, refillEveryMs: 300_000 }, 0);
    for (let i = 0; i < 25; i++) expect(bucket.tryTake(0)).toBe(true);
    expect(bucket.tryTake(0)).toBe(false);
    expect(bucket.tryTake(299_999)).toBe(false);
    expect(bucket.tryTake(300_000)).toBe(true);
    expect(bucket.tryTake(300_001)).toBe(false);
    expect(bucket.tokens(100 * 300_000)).toBe(25);
  });

  it('refills nothing when the clock steps back', () => {
    const bucket = new TokenBucket({ burst: 2, refillEveryMs: 1000 }, 10_000);
    bucket.tryTake(10_000);
    bucket.tryTake(10_000);
    expect(bucket.tryTake(5_000)).toBe(false);
    expect(bucket.tryTake(10_999)).toBe(false);
    expect(bucket.tryTake(11_000)).toBe(true);
  });
});

// A client that records writes; only create and patch are used by the recorder.
function fakeClient(options: { failCreates?: number; patchNotFound?: boolean } = {}) {
  const writes: Array<{ verb: 'create' | 'patch'; name: string; body: unknown }> = [];
  let failCreates = options.failCreates ?? 0;
  const client = {
    async create(_ref: unknown, object: KubeEvent) {
      await Promise.resolve();
      if (failCreates-- > 0) throw new KubeApiError(403, 'Forbidden', 'forbidden', {});
      writes.push({ verb: 'create', name: object.metadata.name ?? '', body: object });
      return object;
    },
    async patch(_ref: unknown, _ns: string, name: string, _type: string, body: unknown) {
      await Promise.resolve();
      if (options.patchNotFound) throw new KubeApiError(404, 'NotFound', 'not found', {});
      writes.push({ verb: 'patch', name, body });
      return {};
    },
  };
  return { client: client as unknown as KubeClient, writes };
}

const configMap = (name = 'settings', uid = 'uid-1'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'acme', uid, resourceVersion: '7' },
});

describe('EventRecorder (fake client)', () => {
  it('folds repeats into one Event whose series counts them, coalescing queued patches', async () => {
    const { client, writes } = fakeClient();
    let now = Date.UTC(2026, 0, 1);
    const recorder = new EventRecorder({ client, reportingInstance: 'pod-1', clock: { now: () => now } });
    expect(recorder.record(configMap(), 'Normal', 'Synced', 'Reconcile', 'all good')).toBe(true);
    await recorder.flush();
    for (let i = 0; i < 4; i++) {
      now += 1000;
      recorder.record(configMap(), 'Normal', 'Synced', 'Reconcile', 'all good');
    }
    await recorder.flush();
    expect(writes.map((w) => w.verb)).toEqual(['create', 'patch']);
    const created = writes[0]?.body as KubeEvent;
    expect(created).toMatchObject({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { namespace: 'acme' },
      eventTime: '2026-01-01T00:00:00.000000Z',
      reportingController: 'roster.dev/operator',
      reportingInstance: 'pod-1',
      regarding: { apiVersion: 'v1', kind: 'ConfigMap', name: 'settings', namespace: 'acme', uid: 'uid-1' },
      type: 'Normal',
      reason: 'Synced',
      action: 'Reconcile',
      note: 'all good',
    });
    expect(created.series).toBeUndefined();
    expect(created.metadata.name).toMatch(/^settings\.[0-9a-f]+$/);
    expect(writes[1]).toEqual({ verb: 'patch', name: created.metadata.name, body: { series: { count: 5, lastObservedTime: '2026-01-01T00:00:04.000000Z' } } });
    expect(recorder.stats).toMatchObject({ recorded: 5, created: 1, patched: 1, dropped: 0 });
  });

  it('sends occurrences that arrive before the create with the create', async () => {
    const { client, writes } = fakeClient();
    const recorder = new EventRecorder({ client, clock: { now: () => 0 } });
    for (let i = 0; i < 3; i++) recorder.record(configMap(), 'Warning', 'SyncFailed', 'Reconcile', 'backend down');
    await recorder.flush();
    expect(writes.map((w) => w.verb)).toEqual(['create']);
    expect((writes[0]?.body as KubeEvent).series?.count).toBe(3);
  });

  it('starts a new Event when the note differs or the window has passed', async () => {
    const { client, writes } = fakeClient();
    let now = 0;
    const recorder = new EventRecorder({ client, seriesWindowMs: 60_000, clock: { now: () => now } });
    recorder.record(configMap(), 'Normal', 'Synced', 'Reconcile', 'one');
    recorder.record(configMap(), 'Normal', 'Synced', 'Reconcile', 'two');
    now = 60_001;
    recorder.record(configMap(), 'Normal', 'Synced', 'Reconcile', 'one');
    await recorder.flush();
    expect(writes.map((w) => w.verb)).toEqual(['create', 'create', 'create']);
    expect(new Set(writes.map((w) => w.name)).size).toBe(3);
  });

  it('drops past the per-object burst and the global cap, and a new object has its own budget', async () => {
    const { client, writes } = fakeClient();
    const recorder = new EventRecorder({
      client,
      perObjectLimit: { burst: 3, refillEveryMs: 300_000 },
      globalLimit: { burst: 5, refillEveryMs: 1_000_000 },
      clock: { now: () => 0 },
    });
    const accepted = Array.from({ length: 5 }, (_, i) => recorder.record(configMap(), 'Normal', 'Step', 'Reconcile', `n${i}`));
    expect(accepted).toEqual([true, true, true, false, false]);
    expect(recorder.record(configMap('other', 'uid-2'), 'Normal', 'Step', 'Reconcile', 'x')).toBe(true);
    expect(recorder.record(configMap('other', 'uid-2'), 'Normal', 'Step', 'Reconcile', 'y')).toBe(true);
    // The global cap of 5 is used up, although 'other' still has a token.
    expect(recorder.record(configMap('other', 'uid-2'), 'Normal', 'Step', 'Reconcile', 'z')).toBe(false);
    await recorder.flush();
    expect(writes).toHaveLength(5);
    expect(recorder.stats.dropped).toBe(3);
  });

  it('refuses bad arguments without throwing', async () => {
    const { client, writes } = fakeClient();
    const recorder = new EventRecorder({ client });
    expect(recorder.record(configMap(), 'Normal', 'not camel', 'Reconcile', 'x')).toBe(false);
    expect(recorder.record(configMap(), 'Info' as 'Normal', 'Synced', 'Reconcile', 'x')).toBe(false);
    expect(recorder.record(configMap(), 'Normal', 'Synced', '', 'x')).toBe(false);
    expect(recorder.record({ metadata: {} }, 'Normal', 'Synced', 'Reconcile', 'x')).toBe(false);
    await recorder.flush();
    expect(writes).toHaveLength(0);
    expect(recorder.stats.invalid).toBe(4);
  });

  it('survives a failed create, and the next occurrence creates again', async () => {
    const { client, writes } = fakeClient({ failCreates: 1 });
    const recorder = new EventRecorder({ client });
    expect(recorder.record(configMap(), 'Normal', 'Synced', 'Reconcile', 'x')).toBe(true);
    await expect(recorder.flush()).resolves.toBeUndefined();
    expect(recorder.stats.failed).toBe(1);
    recorder.record(configMap(), 'Normal', 'Synced', 'Reconcile', 'x');
    await recorder.flush();
    expect(writes.map((w) => w.verb)).toEqual(['create']);
    expect((writes[0]?.body as KubeEvent).series).toBeUndefined();
  });

  it('recreates an Event that expired from the API server, keeping the count', async () => {
    const { client, writes } = fakeClient({ patchNotFound: true });
    const recorder = new EventRecorder({ client, clock: { now: () => 0 } });
    recorder.record(configMap(), 'Normal', 'Synced', 'Reconcile', 'x');
    await recorder.flush();
    recorder.record(configMap(), 'Normal', 'Synced', 'Reconcile', 'x');
    await recorder.flush();
    expect(writes.map((w) => w.verb)).toEqual(['create', 'create']);
    expect(writes[1]?.name).not.toBe(writes[0]?.name);
    expect((writes[1]?.body as KubeEvent).series?.count).toBe(2);
  });

  it('scrubs and truncates the note before it is written', async () => {
    const { client, writes } = fakeClient();
    const recorder = new EventRecorder({ client });
    const token = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5';
    recorder.record(configMap(), 'Normal', 'InvitationSent', 'Deliver', `link /invite/${token} ${'.'.repeat(2000)}`);
    await recorder.flush();
    const note = (writes[0]?.body as KubeEvent).note ?? '';
    expect(note).not.toContain(token);
    expect(note.startsWith('link /invite/[redacted] ')).toBe(true);
    expect(Buffer.byteLength(note, 'utf8')).toBeLessThanOrEqual(1024);
  });
});
