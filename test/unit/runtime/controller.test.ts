import { afterEach, beforeEach, describe, it, expect, vi } from 'vitest';
import {
  Controller,
  TerminalError,
  type ControllerMetricsSink,
  type ReconcileOutcome,
  type ReconcileResult,
  type Reconciler,
} from '../../../src/runtime/controller.ts';
import { WorkQueue } from '../../../src/runtime/workqueue.ts';

// The queue and controller use the default clock, which reads the (faked) global timers.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const tick = async (ms = 0): Promise<void> => {
  await vi.advanceTimersByTimeAsync(ms);
};
const done: ReconcileResult = { kind: 'done' };

function setup(reconcile: Reconciler, workers = 1) {
  const queue = new WorkQueue({ name: 'teams' });
  const recorded = {
    outcomes: [] as { outcome: ReconcileOutcome; seconds: number }[],
    terminalErrors: 0,
    activeWorkers: [] as number[],
    maxConcurrent: 0,
  };
  const metrics: ControllerMetricsSink = {
    reconciled: (outcome, seconds) => recorded.outcomes.push({ outcome, seconds }),
    terminalError: () => recorded.terminalErrors++,
    activeWorkers: (n) => recorded.activeWorkers.push(n),
    maxConcurrentReconciles: (n) => (recorded.maxConcurrent = n),
  };
  const logger = { error: vi.fn() };
  const controller = new Controller({ name: 'teams', queue, reconcile, workers, logger, metrics });
  const outcomes = (): ReconcileOutcome[] => recorded.outcomes.map((o) => o.outcome);
  return { queue, controller, logger, recorded, outcomes };
}

/** A reconciler that records when each key ran, answering with `answer(key, callNumber)`. */
function recordingReconciler(answer: (key: string, call: number) => ReconcileResult | Error) {
  const calls: { key: string; at: number }[] = [];
  const reconcile: Reconciler = async (key) => {
    calls.push({ key, at: Date.now() });
    const result = answer(key, calls.filter((c) => c.key === key).length);
    if (result instanceof Error) throw result;
    return result;
  };
  const gaps = (key: string): number[] =>
    calls
      .filter((c) => c.key === key)
      .map((c) => c.at)
      .map((at, i, all) => at - (all[i - 1] ?? at))
      .slice(1);
  return { reconcile, calls, gaps };
}

describe('Controller results', () => {
  it('forgets the key on success', async () => {
    const r = recordingReconciler((_, call) => (call < 3 ? new Error('backend down') : done));
    const { queue, controller, outcomes } = setup(r.reconcile);
    controller.start();
    queue.add('ns/a');
    await tick(1000);
    expect(r.calls).toHaveLength(3);
    expect(outcomes()).toEqual(['error', 'error', 'success']);
    expect(queue.retries('ns/a')).toBe(0);
  });

  it('retries a thrown error with exponential backoff and logs it', async () => {
    const failure = new Error('backend down');
    const r = recordingReconciler(() => failure);
    const { queue, controller, logger, recorded } = setup(r.reconcile);
    controller.start();
    queue.add('ns/a');
    await tick(5 + 10 + 20 + 40 + 80);
    expect(r.gaps('ns/a')).toEqual([5, 10, 20, 40, 80]);
    expect(queue.retries('ns/a')).toBe(6);
    expect(recorded.terminalErrors).toBe(0);
    expect(logger.error).toHaveBeenCalledWith({ controller: 'teams', key: 'ns/a', terminal: false, err: failure }, 'Reconciler error');
  });

  it('does not retry a TerminalError until the key is added again', async () => {
    const r = recordingReconciler(() => new TerminalError('spec.seats must be positive'));
    const { queue, controller, logger, recorded, outcomes } = setup(r.reconcile);
    controller.start();
    queue.add('ns/a');
    await tick(3_600_000);
    expect(r.calls).toHaveLength(1);
    expect(outcomes()).toEqual(['error']);
    expect(recorded.terminalErrors).toBe(1);
    expect(queue.retries('ns/a')).toBe(0);
    expect(logger.error).toHaveBeenCalledWith(expect.objectContaining({ terminal: true }), 'Reconciler error');

    queue.add('ns/a');
    await tick();
    expect(r.calls).toHaveLength(2);
  });

  it('requeues after the asked delay, with the backoff reset', async () => {
    const r = recordingReconciler((_, call) => {
      if (call === 1) return new Error('transient');
      return call === 2 ? { kind: 'requeueAfter', ms: 30_000 } : done;
    });
    const { queue, controller, outcomes } = setup(r.reconcile);
    controller.start();
    queue.add('ns/a');
    await tick(29_999 + 5);
    expect(r.calls).toHaveLength(2);
    expect(queue.retries('ns/a')).toBe(0);
    await tick(1);
    expect(r.gaps('ns/a')).toEqual([5, 30_000]);
    expect(outcomes()).toEqual(['error', 'requeue_after', 'success']);
  });

  it('requeues with backoff when asked to, without calling it an error', async () => {
    const r = recordingReconciler((_, call) => (call < 4 ? { kind: 'requeue' } : done));
    const { queue, controller, logger, outcomes } = setup(r.reconcile);
    controller.start();
    queue.add('ns/a');
    await tick(1000);
    expect(r.gaps('ns/a')).toEqual([5, 10, 20]);
    expect(outcomes()).toEqual(['requeue', 'requeue', 'requeue', 'success']);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('reports how long each reconcile took', async () => {
    const { queue, controller, recorded } = setup(async () => {
      await new Promise((resolve) => setTimeout(resolve, 2500));
      return done;
    });
    controller.start();
    queue.add('ns/a');
    await tick(2500);
    expect(recorded.outcomes).toEqual([{ outcome: 'success', seconds: 2.5 }]);
  });
});

describe('Controller workers', () => {
  it('runs up to `workers` keys at once, never one key twice, and re-runs a key added meanwhile', async () => {
    const running = new Set<string>();
    const runs: string[] = [];
    let peak = 0;
    let overlaps = 0;
    const { queue, controller, recorded } = setup(async (key) => {
      if (running.has(key)) overlaps++;
      running.add(key);
      runs.push(key);
      peak = Math.max(peak, running.size);
      await new Promise((resolve) => setTimeout(resolve, 100));
      running.delete(key);
      return done;
    }, 3);
    controller.start();
    for (const key of ['ns/a', 'ns/b', 'ns/c', 'ns/d', 'ns/e']) queue.add(key);
    await tick(50);
    queue.add('ns/a'); // while ns/a is running
    queue.add('ns/a');
    await tick(1000);

    expect(peak).toBe(3);
    expect(overlaps).toBe(0);
    expect(runs.filter((k) => k === 'ns/a')).toHaveLength(2);
    expect(runs).toHaveLength(6);
    expect(recorded.maxConcurrent).toBe(3);
    expect(Math.max(...recorded.activeWorkers)).toBe(3);
    expect(recorded.activeWorkers.at(-1)).toBe(0);
  });

  it('rejects a worker count that is not a positive integer', () => {
    const queue = new WorkQueue({ name: 'teams' });
    const reconcile: Reconciler = async () => done;
    expect(() => new Controller({ name: 'teams', queue, reconcile, workers: 0 })).toThrow(RangeError);
    expect(() => new Controller({ name: 'teams', queue, reconcile, workers: 1.5 })).toThrow(RangeError);
  });

  it('cannot be started twice', () => {
    const { controller } = setup(async () => done);
    controller.start();
    expect(() => controller.start()).toThrow(/already started/);
  });
});

describe('Controller stop', () => {
  it('lets in-flight reconciles finish and takes no new keys', async () => {
    const runs: string[] = [];
    const { queue, controller } = setup(async (key) => {
      runs.push(key);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return done;
    }, 2);
    controller.start();
    for (const key of ['ns/a', 'ns/b', 'ns/c']) queue.add(key);
    await tick();

    let stopped: boolean | undefined;
    void controller.stop(5000).then((s) => (stopped = s));
    await tick(999);
    expect(stopped).toBeUndefined();
    await tick(1);
    expect(stopped).toBe(true);
    expect(runs).toEqual(['ns/a', 'ns/b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('gives up at the deadline and aborts the stuck reconcile', async () => {
    let signal: AbortSignal | undefined;
    const { queue, controller } = setup(async (_key, s) => {
      signal = s;
      return new Promise<ReconcileResult>(() => {});
    });
    controller.start();
    queue.add('ns/a');
    await tick();

    let stopped: boolean | undefined;
    void controller.stop(5000).then((s) => (stopped = s));
    await tick(4999);
    expect(stopped).toBeUndefined();
    expect(signal?.aborted).toBe(false);
    await tick(1);
    expect(signal?.aborted).toBe(true);
    // A reconcile that ignores its signal gets a bounded grace, then stop gives up on it.
    expect(stopped).toBeUndefined();
    await tick(5000);
    expect(stopped).toBe(false);
  });

  it('waits for an aborted reconcile that honours its signal', async () => {
    const { queue, controller } = setup(
      async (_key, s) => new Promise<ReconcileResult>((resolve) => s.addEventListener('abort', () => setTimeout(() => resolve({ kind: 'done' }), 100))),
    );
    controller.start();
    queue.add('ns/a');
    await tick();
    let stopped: boolean | undefined;
    void controller.stop(1000).then((s) => (stopped = s));
    await tick(1000);
    expect(stopped).toBeUndefined();
    await tick(100);
    expect(stopped).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('drops pending retries on stop', async () => {
    const r = recordingReconciler(() => new Error('backend down'));
    const { queue, controller } = setup(r.reconcile);
    controller.start();
    queue.add('ns/a');
    await tick();
    expect(await controller.stop(1000)).toBe(true);
    await tick(3_600_000);
    expect(r.calls).toHaveLength(1);
  });
});
