import { describe, expect, it } from 'vitest';
import { requestPriority } from '../../../src/runtime/kube-client.ts';
import { TokenBucket, type Priority } from '../../../src/runtime/rate-limit.ts';
import { ManualClock } from './manual-clock.ts';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Starts n acquires and records, in order, which ones got through (and after how long). */
function track(limiter: TokenBucket, requests: Array<{ id: string; priority: Priority; signal?: AbortSignal }>) {
  const passed: Array<{ id: string; waitedMs: number }> = [];
  const failed: string[] = [];
  for (const r of requests) {
    limiter.acquire(r.priority, r.signal).then(
      (waitedMs) => passed.push({ id: r.id, waitedMs }),
      () => failed.push(r.id),
    );
  }
  return { passed, failed, ids: () => passed.map((p) => p.id) };
}

describe('TokenBucket (the API client rate limiter)', () => {
  it('lets a burst through at once, then one request per 1/qps seconds', async () => {
    const clock = new ManualClock();
    const limiter = new TokenBucket({ qps: 10, burst: 3, clock });
    const t = track(
      limiter,
      ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, priority: 'low' as const })),
    );
    await flush();
    expect(t.ids()).toEqual(['a', 'b', 'c']);
    expect(t.passed.every((p) => p.waitedMs === 0)).toBe(true);
    clock.advance(99);
    await flush();
    expect(t.ids()).toHaveLength(3);
    clock.advance(1);
    await flush();
    expect(t.ids()).toEqual(['a', 'b', 'c', 'd']);
    expect(t.passed[3]!.waitedMs).toBe(100);
    clock.advance(100);
    await flush();
    expect(t.ids()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(t.passed[4]!.waitedMs).toBe(200);
    expect(clock.pendingTimers).toBe(0);
  });

  it('saves up at most burst tokens over a quiet spell', async () => {
    const clock = new ManualClock();
    const limiter = new TokenBucket({ qps: 100, burst: 2, clock });
    clock.advance(60_000);
    const t = track(
      limiter,
      ['a', 'b', 'c'].map((id) => ({ id, priority: 'low' as const })),
    );
    await flush();
    expect(t.ids()).toEqual(['a', 'b']);
    clock.advance(10);
    await flush();
    expect(t.ids()).toEqual(['a', 'b', 'c']);
  });

  it('serves waiting high-priority requests before waiting low-priority ones', async () => {
    const clock = new ManualClock();
    const limiter = new TokenBucket({ qps: 1, burst: 1, clock });
    const t = track(limiter, [
      { id: 'first', priority: 'low' },
      { id: 'list-1', priority: 'low' },
      { id: 'list-2', priority: 'low' },
      { id: 'status-1', priority: 'high' },
      { id: 'status-2', priority: 'high' },
    ]);
    await flush();
    expect(t.ids()).toEqual(['first']);
    expect(limiter.waiting()).toEqual({ high: 2, low: 2 });
    for (let i = 0; i < 4; i++) {
      clock.advance(1000);
      await flush();
    }
    expect(t.ids()).toEqual(['first', 'status-1', 'status-2', 'list-1', 'list-2']);
  });

  it('does not let a low-priority request jump a queue, even when a token is there', async () => {
    const clock = new ManualClock();
    const limiter = new TokenBucket({ qps: 2, burst: 1, clock });
    const t = track(limiter, [
      { id: 'a', priority: 'low' },
      { id: 'b', priority: 'low' },
    ]);
    await flush();
    clock.advance(250); // half a token: b still waits
    const late = track(limiter, [{ id: 'c', priority: 'low' }]);
    await flush();
    expect(t.ids()).toEqual(['a']);
    expect(late.ids()).toEqual([]);
    clock.advance(250);
    await flush();
    expect(t.ids()).toEqual(['a', 'b']);
    expect(late.ids()).toEqual([]);
    clock.advance(500);
    await flush();
    expect(late.ids()).toEqual(['c']);
  });

  it('drops an aborted waiter without spending its token', async () => {
    const clock = new ManualClock();
    const limiter = new TokenBucket({ qps: 1, burst: 1, clock });
    const abort = new AbortController();
    const t = track(limiter, [
      { id: 'a', priority: 'low' },
      { id: 'cancelled', priority: 'low', signal: abort.signal },
      { id: 'b', priority: 'low' },
    ]);
    await flush();
    abort.abort();
    await flush();
    expect(t.failed).toEqual(['cancelled']);
    expect(limiter.waiting()).toEqual({ high: 0, low: 1 });
    clock.advance(1000);
    await flush();
    expect(t.ids()).toEqual(['a', 'b']);
    await expect(limiter.acquire('low', abort.signal)).rejects.toThrow('aborted');
  });

  it('qps 0 means no limit', async () => {
    const clock = new ManualClock();
    const limiter = new TokenBucket({ qps: 0, burst: 1, clock });
    const t = track(
      limiter,
      Array.from({ length: 50 }, (_, i) => ({ id: String(i), priority: 'low' as const })),
    );
    await flush();
    expect(t.ids()).toHaveLength(50);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('requestPriority', () => {
  it('puts status and Lease writes in the high lane, everything else low', () => {
    expect(requestPriority('PATCH', '/apis/roster.dev/v1alpha1/namespaces/a/memberships/m/status')).toBe('high');
    expect(requestPriority('PUT', '/apis/roster.dev/v1alpha1/namespaces/a/invitations/i/status')).toBe('high');
    expect(requestPriority('PUT', '/apis/coordination.k8s.io/v1/namespaces/roster-system/leases/roster-operator')).toBe('high');
    expect(requestPriority('GET', '/apis/roster.dev/v1alpha1/namespaces/a/memberships/m/status')).toBe('low');
    expect(requestPriority('GET', '/apis/roster.dev/v1alpha1/memberships')).toBe('low');
    expect(requestPriority('PATCH', '/apis/roster.dev/v1alpha1/namespaces/a/memberships/m')).toBe('low');
    expect(requestPriority('PUT', '/api/v1/namespaces/a/configmaps/status')).toBe('low');
  });
});
