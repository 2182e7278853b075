import { ExponentialFailureRateLimiter, type RateLimiter } from './backoff.ts';

/** Time source for the queue, injectable so tests can drive time by hand. */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Runs `fn` after `ms`; the returned function cancels it. Must not keep the process alive. */
  setTimer(fn: () => void, ms: number): () => void;
}

/** Node fires a setTimeout longer than this after 1 ms (TimeoutOverflowWarning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    // A requeueAfter can be months away (a Membership's expiresAt); longer delays are
    // chained, or they would fire at once and spin the key in a hot loop.
    let timer: ReturnType<typeof setTimeout>;
    const arm = (remaining: number) => {
      const step = Math.min(remaining, MAX_TIMER_MS);
      timer = setTimeout(() => (remaining > step ? arm(remaining - step) : fn()), step).unref();
    };
    arm(Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

/**
 * Hooks for client-go's workqueue metrics (`workqueue_depth`, `workqueue_adds_total`,
 * `workqueue_queue_duration_seconds`, `workqueue_work_duration_seconds`,
 * `workqueue_retries_total`, `workqueue_unfinished_work_seconds`,
 * `workqueue_longest_running_processor_seconds`); one sink per queue, labelled with the queue's
 * name by whoever builds it.
 */
export interface QueueMetricsSink {
  depth(n: number): void;
  added(): void;
  queueLatency(seconds: number): void;
  workDuration(seconds: number): void;
  retried(): void;
  /**
   * The in-flight keys' work so far, pushed every `unfinishedWorkUpdateMs` as client-go does:
   * work_duration only sees a key once it is done, so a stuck reconcile shows up here alone.
   */
  unfinishedWork?(seconds: number, longestSeconds: number): void;
}

export interface UnfinishedWork {
  /** Sum of how long every in-flight key has been processing. */
  seconds: number;
  /** How long the oldest in-flight key has been processing. */
  longestSeconds: number;
}

export interface WorkQueueOptions {
  name: string;
  rateLimiter?: RateLimiter;
  clock?: Clock;
  metrics?: QueueMetricsSink;
  /** How often the unfinished-work gauges are updated; client-go's default is 500 ms. */
  unfinishedWorkUpdateMs?: number;
}

/**
 * A work queue with client-go's guarantees: a key waits at most once however often it is added,
 * is handed to one worker at a time, and a key added while it is being processed is queued
 * again, once, when the worker calls `done`. Ready keys come out in FIFO order.
 */
export class WorkQueue {
  readonly name: string;
  readonly #rateLimiter: RateLimiter;
  readonly #clock: Clock;
  readonly #metrics: QueueMetricsSink | undefined;
  readonly #unfinishedWorkUpdateMs: number;

  // Keys ready to hand out, in order; a Set keeps insertion order and each key appears once.
  readonly #ready = new Set<string>();
  // Keys that need processing: those in #ready plus those re-added while processing.
  readonly #dirty = new Set<string>();
  // Key → when processing started.
  readonly #processing = new Map<string, number>();
  // Key → when it became dirty, for queue latency.
  readonly #addedAt = new Map<string, number>();
  // Key → pending addAfter, only the earliest is kept.
  readonly #delayed = new Map<string, { at: number; cancel: () => void }>();
  readonly #getters: ((key: string | undefined) => void)[] = [];
  readonly #drainWaiters = new Set<() => void>();
  #shuttingDown = false;

  constructor({ name, rateLimiter, clock, metrics, unfinishedWorkUpdateMs = 500 }: WorkQueueOptions) {
    this.name = name;
    this.#rateLimiter = rateLimiter ?? new ExponentialFailureRateLimiter();
    this.#clock = clock ?? systemClock;
    this.#metrics = metrics;
    this.#unfinishedWorkUpdateMs = unfinishedWorkUpdateMs;
    this.#scheduleUnfinishedWorkUpdate();
  }

  /**
   * client-go's updateUnfinishedWorkLoop, on the queue's clock (the timer does not keep the
   * process alive). Unlike client-go it goes on after shutDown until the in-flight keys are
   * done and ends on a last update (zeros), so a stopped queue does not report stale work and
   * a drain that hangs stays visible.
   */
  #scheduleUnfinishedWorkUpdate(): void {
    const report = this.#metrics?.unfinishedWork?.bind(this.#metrics);
    if (report === undefined) return;
    this.#clock.setTimer(() => {
      const { seconds, longestSeconds } = this.unfinishedWork();
      report(seconds, longestSeconds);
      if (!this.#shuttingDown || this.#processing.size > 0) this.#scheduleUnfinishedWorkUpdate();
    }, this.#unfinishedWorkUpdateMs);
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#metrics?.added();
    this.#dirty.add(key);
    this.#addedAt.set(key, this.#clock.now());
    if (this.#processing.has(key)) return; // done(key) will queue it
    this.#enqueue(key);
  }

  /** Adds `key` after `ms`; if it is already waiting for an earlier time, that one wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.#clock.now() + ms;
    const pending = this.#delayed.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      pending.cancel();
    }
    const cancel = this.#clock.setTimer(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, ms);
    this.#delayed.set(key, { at, cancel });
  }

  /** Adds `key` after the rate limiter's next delay for it, counting a failure. */
  addRateLimited(key: string): void {
    if (this.#shuttingDown) return;
    this.#metrics?.retried();
    this.addAfter(key, this.#rateLimiter.when(key));
  }

  /** Resets the key's failure count; the next addRateLimited starts from the base delay. */
  forget(key: string): void {
    this.#rateLimiter.forget(key);
  }

  retries(key: string): number {
    return this.#rateLimiter.retries(key);
  }

  /** Next ready key, waiting for one if needed; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.#shuttingDown) return Promise.resolve(undefined);
    if (this.#ready.size > 0) return Promise.resolve(this.#take());
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  /** Marks `key` processed; if it was added meanwhile, it is queued again now. */
  done(key: string): void {
    const startedAt = this.#processing.get(key);
    if (startedAt === undefined) return;
    this.#processing.delete(key);
    this.#metrics?.workDuration((this.#clock.now() - startedAt) / 1000);
    if (this.#dirty.has(key)) this.#enqueue(key);
    if (this.#processing.size === 0) for (const resolve of this.#drainWaiters) resolve();
  }

  /** Number of keys ready to hand out (not counting delayed or in-flight ones). */
  len(): number {
    return this.#ready.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  unfinishedWork(): UnfinishedWork {
    const now = this.#clock.now();
    let seconds = 0;
    let longestSeconds = 0;
    for (const startedAt of this.#processing.values()) {
      const s = (now - startedAt) / 1000;
      seconds += s;
      longestSeconds = Math.max(longestSeconds, s);
    }
    return { seconds, longestSeconds };
  }

  /**
   * Stops handing out keys: waiting and future `get()` calls return undefined, adds are
   * ignored, and queued or delayed keys are dropped (the next start relists them anyway).
   */
  shutDown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    for (const { cancel } of this.#delayed.values()) cancel();
    this.#delayed.clear();
    this.#ready.clear();
    this.#dirty.clear();
    this.#addedAt.clear();
    this.#metrics?.depth(0);
    for (const resolve of this.#getters.splice(0)) resolve(undefined);
  }

  /**
   * Shuts down, then waits until every in-flight key is `done` or `deadlineMs` passes.
   * Resolves true if the queue drained in time.
   */
  async shutDownWithDrain(deadlineMs: number): Promise<boolean> {
    this.shutDown();
    if (this.#processing.size === 0) return true;
    const { promise, resolve } = Promise.withResolvers<boolean>();
    const drained = (): void => resolve(true);
    this.#drainWaiters.add(drained);
    const cancel = this.#clock.setTimer(() => resolve(false), deadlineMs);
    try {
      return await promise;
    } finally {
      cancel();
      this.#drainWaiters.delete(drained);
    }
  }

  #enqueue(key: string): void {
    this.#ready.add(key);
    const getter = this.#getters.shift();
    // Hand over directly so the key is marked processing before any other get() can run.
    if (getter !== undefined) getter(this.#take());
    else this.#metrics?.depth(this.#ready.size);
  }

  #take(): string {
    const key = this.#ready.values().next().value as string;
    this.#ready.delete(key);
    this.#dirty.delete(key);
    const now = this.#clock.now();
    const addedAt = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (addedAt !== undefined) this.#metrics?.queueLatency((now - addedAt) / 1000);
    this.#processing.set(key, now);
    this.#metrics?.depth(this.#ready.size);
    return key;
  }
}
