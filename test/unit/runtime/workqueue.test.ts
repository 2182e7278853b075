import { describe, it, expect, vi } from 'vitest';
import { Metrics } from '../../../src/runtime/metrics.ts';
import { systemClock, WorkQueue, type QueueMetricsSink } from '../../../src/runtime/workqueue.ts';
import { ManualClock } from './manual-clock.ts';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function recordingSink() {
  const calls = {
    depth: [] as number[],
    added: 0,
    queueLatency: [] as number[],
    workDuration: [] as number[],
    retried: 0,
  };
  const sink: QueueMetricsSink = {
    depth: (n) => calls.depth.push(n),
    added: () => calls.added++,
    queueLatency: (s) => calls.queueLatency.push(s),
    workDuration: (s) => calls.workDuration.push(s),
    retried: () => calls.retried++,
  };
  return { ...sink, calls };
}

function newQueue(clock = new ManualClock(), metrics?: QueueMetricsSink): WorkQueue {
  return new WorkQueue({ name: 'test', clock, metrics });
}

async function drainReady(queue: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.len() > 0) keys.push((await queue.get()) as string);
  return keys;
}

describe('WorkQueue ordering and de-duplication', () => {
  it('hands out ready keys in the order they were added', async () => {
    const queue = newQueue();
    for (const key of ['ns/c', 'ns/a', 'ns/b']) queue.add(key);
    expect(await drainReady(queue)).toEqual(['ns/c', 'ns/a', 'ns/b']);
  });

  it('merges adds of a key that is already waiting, keeping its place', async () => {
    const metrics = recordingSink();
    const queue = newQueue(new ManualClock(), metrics);
    for (const key of ['ns/a', 'ns/b', 'ns/a', 'ns/a', 'ns/c', 'ns/b']) queue.add(key);
    expect(queue.len()).toBe(3);
    expect(metrics.calls.added).toBe(3);
    expect(await drainReady(queue)).toEqual(['ns/a', 'ns/b', 'ns/c']);
  });

  it('wakes waiting getters in order, each with a different key', async () => {
    const queue = newQueue();
    const first = queue.get();
    const second = queue.get();
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/b');
    expect(await first).toBe('ns/a');
    expect(await second).toBe('ns/b');
    expect(queue.len()).toBe(0);
  });
});

describe('WorkQueue per-key serialization', () => {
  it('holds a key re-added while processing and queues it once on done', async () => {
    const queue = newQueue();
    queue.add('ns/a');
    expect(await queue.get()).toBe('ns/a');

    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/a');
    expect(queue.len()).toBe(0);
    let second: string | undefined;
    void queue.get().then((key) => (second = key));
    await flush();
    expect(second).toBeUndefined();

    queue.done('ns/a');
    await flush();
    expect(second).toBe('ns/a');
    expect(queue.len()).toBe(0);
    queue.done('ns/a');
    expect(queue.len()).toBe(0);
  });

  it('does not requeue a key that was not re-added', async () => {
    const queue = newQueue();
    queue.add('ns/a');
    queue.done((await queue.get()) as string);
    expect(queue.len()).toBe(0);
  });

  it('never gives a key to two workers at once, and runs every add', async () => {
    // Deterministic PRNG (mulberry32) so a failure reproduces.
    let seed = 0x5eed;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const yieldRandomly = async (maxTicks: number): Promise<void> => {
      for (let i = Math.floor(random() * maxTicks); i > 0; i--) await Promise.resolve();
    };

    const queue = newQueue();
    const keys = Array.from({ length: 12 }, (_, i) => `ns/k${i}`);
    const inFlight = new Set<string>();
    let clock = 0;
    const lastAdd = new Map<string, number>();
    const lastStart = new Map<string, number>();
    let overlaps = 0;
    let maxConcurrent = 0;
    let processed = 0;

    const worker = async (): Promise<void> => {
      for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
        if (inFlight.has(key)) overlaps++;
        inFlight.add(key);
        lastStart.set(key, ++clock);
        maxConcurrent = Math.max(maxConcurrent, inFlight.size);
        await yieldRandomly(40);
        inFlight.delete(key);
        processed++;
        queue.done(key);
      }
    };
    const workers = Array.from({ length: 32 }, worker);

    for (let i = 0; i < 5000; i++) {
      const key = keys[Math.floor(random() * keys.length)] as string;
      lastAdd.set(key, ++clock);
      queue.add(key);
      if (i % 4 === 0) await yieldRandomly(8); // adds arrive in bursts
    }
    for (let i = 0; (queue.len() > 0 || inFlight.size > 0) && i < 1000; i++) await flush();
    await queue.shutDownWithDrain(0);
    await Promise.all(workers);

    expect(overlaps).toBe(0);
    expect(maxConcurrent).toBeGreaterThan(6); // the workers really did run side by side
    expect(processed).toBeLessThan(5000); // and adds were merged
    for (const key of keys) expect(lastStart.get(key)).toBeGreaterThan(lastAdd.get(key) as number);
  });
});

describe('WorkQueue delays', () => {
  it('adds a key after the delay, not before', async () => {
    const clock = new ManualClock();
    const queue = newQueue(clock);
    queue.addAfter('ns/a', 100);
    clock.advance(99);
    expect(queue.len()).toBe(0);
    clock.advance(1);
    expect(queue.len()).toBe(1);
    expect(await queue.get()).toBe('ns/a');
  });

  it('keeps the earliest pending time for a key', () => {
    const clock = new ManualClock();
    const queue = newQueue(clock);
    queue.addAfter('ns/a', 100);
    queue.addAfter('ns/a', 30);
    queue.addAfter('ns/a', 60);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(30);
    expect(queue.len()).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('adds at once for a zero or negative delay', () => {
    const clock = new ManualClock();
    const queue = newQueue(clock);
    queue.addAfter('ns/a', 0);
    queue.addAfter('ns/b', -5);
    expect(queue.len()).toBe(2);
    expect(clock.pendingTimers).toBe(0);
  });

  it('backs a key off exponentially with addRateLimited until it is forgotten', async () => {
    const clock = new ManualClock();
    const metrics = recordingSink();
    const queue = newQueue(clock, metrics);
    const readyAfter = async (): Promise<number> => {
      const start = clock.now();
      queue.addRateLimited('ns/a');
      for (let ms = 0; queue.len() === 0 && ms < 10_000; ms++) clock.advance(1);
      queue.done((await queue.get()) as string);
      return clock.now() - start;
    };
    expect([await readyAfter(), await readyAfter(), await readyAfter()]).toEqual([5, 10, 20]);
    expect(queue.retries('ns/a')).toBe(3);
    expect(metrics.calls.retried).toBe(3);
    queue.forget('ns/a');
    expect(queue.retries('ns/a')).toBe(0);
    expect(await readyAfter()).toBe(5);
  });
});

describe('WorkQueue shutdown', () => {
  it('releases waiting getters, ignores adds and clears timers', async () => {
    const clock = new ManualClock();
    const queue = newQueue(clock);
    const waiting = queue.get();
    queue.addAfter('ns/late', 1000);
    queue.addRateLimited('ns/failing');
    expect(clock.pendingTimers).toBe(2);

    queue.shutDown();
    expect(await waiting).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
    queue.add('ns/a');
    queue.addAfter('ns/b', 10);
    expect(queue.len()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(await queue.get()).toBeUndefined();
  });

  it('drops keys that were waiting', async () => {
    const queue = newQueue();
    queue.add('ns/a');
    queue.shutDown();
    expect(queue.len()).toBe(0);
    expect(await queue.get()).toBeUndefined();
  });

  it('waits for in-flight keys to be done, without requeueing them', async () => {
    const clock = new ManualClock();
    const queue = newQueue(clock);
    queue.add('ns/a');
    queue.add('ns/b');
    const a = (await queue.get()) as string;
    const b = (await queue.get()) as string;
    queue.add(a); // re-added while processing: would normally run again

    let drained: boolean | undefined;
    void queue.shutDownWithDrain(10_000).then((d) => (drained = d));
    queue.done(a);
    await flush();
    expect(drained).toBeUndefined();
    queue.done(b);
    await flush();
    expect(drained).toBe(true);
    expect(queue.len()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('gives up draining at the deadline', async () => {
    const clock = new ManualClock();
    const queue = newQueue(clock);
    queue.add('ns/stuck');
    await queue.get();
    const drained = queue.shutDownWithDrain(5000);
    clock.advance(4999);
    await flush();
    clock.advance(1);
    expect(await drained).toBe(false);
  });

  it('drains at once when nothing is in flight', async () => {
    expect(await newQueue().shutDownWithDrain(0)).toBe(true);
  });
});

describe('WorkQueue metrics', () => {
  it('reports depth, latency, work duration and unfinished work in seconds', async () => {
    const clock = new ManualClock();
    const metrics = recordingSink();
    const queue = newQueue(clock, metrics);
    queue.add('ns/a');
    queue.add('ns/b');
    expect(metrics.calls.depth).toEqual([1, 2]);

    clock.advance(1500);
    const a = (await queue.get()) as string;
    expect(metrics.calls.queueLatency).toEqual([1.5]);
    expect(metrics.calls.depth.at(-1)).toBe(1);

    clock.advance(500);
    const b = (await queue.get()) as string;
    clock.advance(1000);
    expect(queue.unfinishedWork()).toEqual({ seconds: 2.5, longestSeconds: 1.5 });

    queue.done(a);
    queue.done(b);
    expect(metrics.calls.workDuration).toEqual([1.5, 1]);
    expect(queue.unfinishedWork()).toEqual({ seconds: 0, longestSeconds: 0 });
  });

  /** A sink that records client-go's periodic unfinished-work updates as [seconds, longest]. */
  function unfinishedSink() {
    const updates: Array<[number, number]> = [];
    const sink: QueueMetricsSink = { ...recordingSink(), unfinishedWork: (seconds, longest) => updates.push([seconds, longest]) };
    return { sink, updates };
  }

  it('pushes unfinished work and the longest-running key every period, from when each key started', async () => {
    const clock = new ManualClock();
    const { sink, updates } = unfinishedSink();
    const queue = new WorkQueue({ name: 'test', clock, metrics: sink, unfinishedWorkUpdateMs: 500 });
    clock.advance(500);
    expect(updates).toEqual([[0, 0]]); // idle: zeros, so the series exists

    queue.add('ns/a');
    queue.add('ns/b');
    const a = (await queue.get()) as string; // starts at t=500
    clock.advance(1000); // t=1500: a for 1 s
    expect(updates.at(-1)).toEqual([1, 1]);
    const b = (await queue.get()) as string; // starts at t=1500
    clock.advance(1000); // t=2500: a 2 s, b 1 s
    expect(updates.at(-1)).toEqual([3, 2]);
    expect(updates).toHaveLength(5); // one per 500 ms tick: t=500, 1000, 1500, 2000, 2500

    queue.done(a);
    clock.advance(500); // t=3000: only b, 1.5 s
    expect(updates.at(-1)).toEqual([1.5, 1.5]);
    queue.done(b);
    clock.advance(500);
    expect(updates.at(-1)).toEqual([0, 0]);
  });

  it('keeps reporting a drain in progress after shutdown, then stops on zeros', async () => {
    const clock = new ManualClock();
    const { sink, updates } = unfinishedSink();
    const queue = new WorkQueue({ name: 'test', clock, metrics: sink, unfinishedWorkUpdateMs: 500 });
    queue.add('ns/a');
    const a = (await queue.get()) as string;
    queue.shutDown();
    clock.advance(1000);
    expect(updates.at(-1)).toEqual([1, 1]); // a stuck drain stays visible
    queue.done(a);
    clock.advance(500);
    expect(updates.at(-1)).toEqual([0, 0]);
    const count = updates.length;
    expect(clock.pendingTimers).toBe(0); // the loop ended
    clock.advance(5000);
    expect(updates).toHaveLength(count);
  });

  it('starts no update loop for a sink without unfinishedWork', () => {
    const clock = new ManualClock();
    newQueue(clock, recordingSink());
    expect(clock.pendingTimers).toBe(0);
  });

  it('feeds the workqueue_unfinished_work_seconds and workqueue_longest_running_processor_seconds gauges', async () => {
    const clock = new ManualClock();
    const registry = new Metrics({ processMetrics: false });
    const queue = new WorkQueue({ name: 'team', clock, metrics: registry.queueSink('team') });
    queue.add('ns/a');
    queue.add('ns/b');
    await queue.get();
    clock.advance(2000);
    await queue.get();
    clock.advance(1000);
    const text = await registry.text();
    expect(text).toContain('workqueue_unfinished_work_seconds{name="team",controller="team"} 4');
    expect(text).toContain('workqueue_longest_running_processor_seconds{name="team",controller="team"} 3');
  });
});

describe('systemClock', () => {
  it('unrefs its timers so they never keep the process alive, and cancels them', () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const fired = vi.fn();
    const cancel = systemClock.setTimer(fired, 60_000);
    const timer = setTimeoutSpy.mock.results[0]?.value as NodeJS.Timeout;
    setTimeoutSpy.mockRestore();
    expect(timer.hasRef()).toBe(false);
    cancel();
    expect(timer.hasRef()).toBe(false);
    expect(fired).not.toHaveBeenCalled();
  });

  it('drives a queue under fake timers', async () => {
    vi.useFakeTimers();
    try {
      const queue = new WorkQueue({ name: 'fake' });
      queue.addAfter('ns/a', 250);
      await vi.advanceTimersByTimeAsync(249);
      expect(queue.len()).toBe(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(queue.len()).toBe(1);
      queue.addAfter('ns/b', 1000);
      queue.shutDown();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('waits out delays longer than a 32-bit timer (Node would fire those after 1 ms)', () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    try {
      const fired = vi.fn();
      const fortyDays = 40 * 24 * 3600_000;
      const cancel = systemClock.setTimer(fired, fortyDays);
      const delays = setTimeoutSpy.mock.calls.map((c) => c[1]);
      expect(delays).toEqual([2 ** 31 - 1]);
      cancel();
    } finally {
      setTimeoutSpy.mockRestore();
    }
  });

  it('chains long delays under fake timers: nothing early, exactly once at the end', async () => {
    vi.useFakeTimers();
    try {
      const fired = vi.fn();
      const fortyDays = 40 * 24 * 3600_000;
      systemClock.setTimer(fired, fortyDays);
      await vi.advanceTimersByTimeAsync(1000);
      expect(fired).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(fortyDays - 1001);
      expect(fired).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1);
      expect(fired).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
