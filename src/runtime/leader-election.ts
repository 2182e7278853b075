// Leader election on a coordination.k8s.io/v1 Lease, with client-go's semantics and
// controller-runtime's defaults (lease 15 s, renew deadline 10 s, retry every 2 s):
// - a candidate acquires the Lease by creating it, or by replacing it (compare-and-swap on
//   its resourceVersion) once the holder's lease has expired;
// - expiry is judged by when *we observed* the Lease change, on our own monotonic clock,
//   never by the holder's renewTime: clocks of different machines don't agree;
// - the leader renews every retry period; if no renewal has succeeded within the renew
//   deadline it steps down (aborts the leading signal, calls onStoppedLeading) while its
//   lease is still valid for the others, so two leaders never work at once. The deadline
//   counts from when the last successful renewal was *sent* (client-go counts from the
//   start of the retry loop, a retry period later): the others count the lease duration
//   from no earlier than that moment, so the safety margin is leaseDuration - renewDeadline
//   whatever the retry period and the request latency;
// - on shutdown the leader releases the Lease (empty holder, 1 s duration), so a standby
//   takes over at its next retry instead of after a whole lease duration.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { coreResources as resources } from './core-resources.ts';
import { isConflict, isNotFound, resourcePath, type KubeClient, type KubeObject } from './kube-client.ts';
import { silentLogger } from './logger.ts';
import { toMicroTime } from './events.ts';
import { systemClock, type Clock } from './workqueue.ts';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime. */
  acquireTime?: string;
  /** MicroTime. */
  renewTime?: string;
  leaseTransitions?: number;
  [key: string]: unknown;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface LeaderCallbacks {
  /**
   * We hold the Lease: start working. `signal` aborts the moment we stop leading; work must
   * stop then. A returned promise is awaited only to log its failure.
   */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /**
   * We no longer lead (lost the Lease or shutting down): stop reconciling now. On shutdown
   * the Lease is released only after a returned promise settles, so a standby cannot start
   * while this replica is still finishing its work.
   */
  onStoppedLeading(): void | Promise<void>;
  /** Someone (maybe us) was observed to become the holder. Not called for an empty holder. */
  onNewLeader?(identity: string): void;
}

/** Hook for client-go's `leader_election_master_status{name}` gauge (1 leading, 0 not). */
export interface LeaderElectionMetricsSink {
  masterStatus(name: string, value: 0 | 1): void;
}

export interface LeaderElectionOptions {
  client: KubeClient;
  /** Where the Lease lives. */
  namespace: string;
  /** The Lease's name; also the `name` label of the metric. */
  name: string;
  /** Unique per replica; default hostname + '_' + a random UUID, as controller-runtime. */
  identity?: string;
  callbacks: LeaderCallbacks;
  /** How long a standby waits after it last saw the Lease change before taking it (15 s). */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it steps down (10 s). */
  renewDeadlineMs?: number;
  /** Interval between acquire and renew attempts (2 s). */
  retryPeriodMs?: number;
  /** Acquire attempts wait `retryPeriod * (1 + jitter * random)` (client-go's 1.2). */
  jitterFactor?: number;
  /** Release the Lease when the run signal aborts while leading (default true). */
  releaseOnCancel?: boolean;
  logger?: Logger;
  metrics?: LeaderElectionMetricsSink;
  /** Monotonic milliseconds, for observed times and deadlines. */
  clock?: Pick<Clock, 'now'>;
  random?: () => number;
}

export const leaderElectionDefaults = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  jitterFactor: 1.2,
} as const;

export function defaultIdentity(): string {
  return `${hostname()}_${randomUUID()}`;
}

// Resolves after `ms`, or at once when `signal` aborts; never rejects.
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener('abort', done, { once: true });
  });
}

// What client-go compares as the "raw record": a change in any of these is an observation.
const recordOf = (lease: Lease): string => {
  const s = lease.spec ?? {};
  return JSON.stringify([s.holderIdentity ?? '', s.leaseDurationSeconds ?? 0, s.acquireTime ?? '', s.renewTime ?? '', s.leaseTransitions ?? 0]);
};

export class LeaderElector {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly #client: KubeClient;
  readonly #callbacks: LeaderCallbacks;
  readonly #jitterFactor: number;
  readonly #releaseOnCancel: boolean;
  readonly #logger: Logger;
  readonly #metrics: LeaderElectionMetricsSink | undefined;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #random: () => number;

  // The Lease as last seen (from a read or our own write) and when, on our clock.
  #observed: Lease | undefined;
  #observedRecord = '';
  #observedAt = 0;
  // When the last successful acquire/renew request was sent: the renew deadline counts from
  // here, since the others may start counting the lease duration from that moment on.
  #lastRenewSentAt = 0;
  #reportedLeader = '';
  #leading = false;
  #released = false;
  #stop: AbortController | undefined;
  #running: Promise<void> | undefined;

  constructor(options: LeaderElectionOptions) {
    const leaseDurationMs = options.leaseDurationMs ?? leaderElectionDefaults.leaseDurationMs;
    const renewDeadlineMs = options.renewDeadlineMs ?? leaderElectionDefaults.renewDeadlineMs;
    const retryPeriodMs = options.retryPeriodMs ?? leaderElectionDefaults.retryPeriodMs;
    const jitterFactor = options.jitterFactor ?? leaderElectionDefaults.jitterFactor;
    // The same checks as client-go's NewLeaderElector.
    if (!(retryPeriodMs > 0)) throw new RangeError('retryPeriodMs must be greater than zero');
    if (!(leaseDurationMs > renewDeadlineMs)) throw new RangeError('leaseDurationMs must be greater than renewDeadlineMs');
    if (!(renewDeadlineMs > jitterFactor * retryPeriodMs)) {
      throw new RangeError(`renewDeadlineMs must be greater than retryPeriodMs * ${jitterFactor}`);
    }
    if (leaseDurationMs % 1000 !== 0) throw new RangeError('leaseDurationMs must be whole seconds (the Lease stores seconds)');
    const identity = options.identity ?? defaultIdentity();
    if (identity === '') throw new RangeError('identity must not be empty');
    this.identity = identity;
    this.namespace = options.namespace;
    this.name = options.name;
    this.leaseDurationMs = leaseDurationMs;
    this.renewDeadlineMs = renewDeadlineMs;
    this.retryPeriodMs = retryPeriodMs;
    this.#client = options.client;
    this.#callbacks = options.callbacks;
    this.#jitterFactor = jitterFactor;
    this.#releaseOnCancel = options.releaseOnCancel ?? true;
    this.#logger = (options.logger ?? silentLogger).child({ lease: `${options.namespace}/${options.name}`, identity });
    this.#metrics = options.metrics;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
  }

  /** True between onStartedLeading and onStoppedLeading. */
  isLeader(): boolean {
    return this.#leading;
  }

  /** The holder we last observed ('' when the Lease is free or unknown). */
  getLeader(): string {
    return this.#observed?.spec?.holderIdentity ?? '';
  }

  /**
   * Campaigns until we lead, leads until the Lease is lost or `signal` aborts, then returns
   * (after onStoppedLeading and, on cancel, the release). Like client-go's Run, it does not
   * campaign again: a replica that lost the Lease should exit or call run() anew. Unlike
   * client-go, onStoppedLeading is called only if we actually led.
   */
  run(signal?: AbortSignal): Promise<void> {
    if (this.#running) throw new Error('leader elector is already running');
    const stop = new AbortController();
    this.#stop = stop;
    const combined = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    this.#running = this.#run(combined).finally(() => {
      this.#running = undefined;
      this.#stop = undefined;
    });
    return this.#running;
  }

  /**
   * Gives the Lease up so another replica takes over at once: stops a running election
   * first (onStoppedLeading is awaited), then writes an empty holder with a 1 s duration,
   * guarded by the resourceVersion we last saw. Resolves true if the Lease was ours and is
   * now released; false if we did not hold it (someone else's Lease is never touched).
   */
  async release(): Promise<boolean> {
    if (this.#running) {
      this.#stop?.abort();
      await this.#running;
    }
    return this.#released || (await this.#releaseLease());
  }

  async #run(signal: AbortSignal): Promise<void> {
    this.#metrics?.masterStatus(this.name, 0);
    this.#released = false;
    if (!(await this.#acquire(signal))) return;

    const leading = new AbortController();
    this.#leading = true;
    this.#metrics?.masterStatus(this.name, 1);
    this.#logger.info('started leading');
    // Not awaited: the callback may run for as long as we lead. What ends leadership is the
    // renew loop, not the callback returning.
    Promise.resolve()
      .then(() => this.#callbacks.onStartedLeading(leading.signal))
      .catch((err: unknown) => this.#logger.error({ err }, 'onStartedLeading failed'));
    await this.#renewLoop(signal);

    leading.abort(new Error('stopped leading'));
    this.#leading = false;
    this.#metrics?.masterStatus(this.name, 0);
    this.#logger.info({ cancelled: signal.aborted }, 'stopped leading');
    try {
      await this.#callbacks.onStoppedLeading();
    } catch (err) {
      this.#logger.error({ err }, 'onStoppedLeading failed');
    }
    if (signal.aborted && this.#releaseOnCancel) await this.#releaseLease();
  }

  // Tries until we hold the Lease; false if aborted first.
  async #acquire(signal: AbortSignal): Promise<boolean> {
    this.#logger.info('attempting to acquire leader lease');
    while (!signal.aborted) {
      const ok = await this.#tryAcquireOrRenew(AbortSignal.any([signal, AbortSignal.timeout(this.renewDeadlineMs)]));
      this.#reportTransition();
      if (ok) {
        this.#logger.info('acquired lease');
        return true;
      }
      await sleep(this.retryPeriodMs * (1 + this.#jitterFactor * this.#random()), signal);
    }
    return false;
  }

  // Renews every retry period; returns when the renew deadline passed without a success
  // (leadership lost) or the signal aborted.
  async #renewLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(this.retryPeriodMs, signal);
      const deadline = this.#lastRenewSentAt + this.renewDeadlineMs;
      let renewed = false;
      while (!signal.aborted) {
        const left = deadline - this.#clock.now();
        if (left <= 0) break;
        // A hung request must not hold us past the deadline.
        renewed = await this.#tryAcquireOrRenew(AbortSignal.any([signal, AbortSignal.timeout(Math.ceil(left))]));
        this.#reportTransition();
        if (renewed) break;
        await sleep(Math.min(this.retryPeriodMs, deadline - this.#clock.now()), signal);
      }
      if (signal.aborted) return;
      if (!renewed) {
        this.#logger.warn({ renewDeadlineMs: this.renewDeadlineMs }, 'failed to renew lease within the renew deadline');
        return;
      }
    }
  }

  #holdsObservedLease(): boolean {
    return this.#observed?.spec?.holderIdentity === this.identity;
  }

  #observedLeaseValid(now: number): boolean {
    const seconds = this.#observed?.spec?.leaseDurationSeconds ?? 0;
    return this.#observedAt + seconds * 1000 > now;
  }

  #observe(lease: Lease, at: number): void {
    this.#observed = lease;
    this.#observedRecord = recordOf(lease);
    this.#observedAt = at;
  }

  #reportTransition(): void {
    const holder = this.getLeader();
    if (holder === '' || holder === this.#reportedLeader) return;
    this.#reportedLeader = holder;
    this.#logger.info({ leader: holder }, 'new leader observed');
    try {
      this.#callbacks.onNewLeader?.(holder);
    } catch (err) {
      this.#logger.error({ err }, 'onNewLeader failed');
    }
  }

  // Our record for a write now. Renewing our own Lease keeps its acquireTime and transition
  // count; taking it from someone (or from nobody) counts one more transition.
  #spec(previous: Lease | undefined): LeaseSpec {
    const now = toMicroTime(new Date());
    const ours = previous?.spec?.holderIdentity === this.identity;
    const transitions = previous?.spec?.leaseTransitions ?? 0;
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.leaseDurationMs / 1000,
      acquireTime: ours ? (previous?.spec?.acquireTime ?? now) : now,
      renewTime: now,
      leaseTransitions: previous === undefined || ours ? transitions : transitions + 1,
    };
  }

  #replace(lease: Lease, signal: AbortSignal): Promise<Lease> {
    return this.#client.request<Lease>('update', 'PUT', resourcePath(resources.lease, this.namespace, this.name), {
      body: lease,
      query: { fieldManager: this.#client.fieldManager },
      signal,
    });
  }

  // One attempt, as client-go's tryAcquireOrRenew; true if we hold the Lease afterwards.
  // Our own writes count as observed when the attempt started: earlier than the API server
  // stored them, so our idea of our lease's end is never later than the others'.
  async #tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const startedAt = this.#clock.now();

    // Fast path: we hold a valid lease, so update it with what we know, no read first.
    const observed = this.#observed;
    if (observed && this.#holdsObservedLease() && this.#observedLeaseValid(startedAt)) {
      try {
        const updated = await this.#replace({ ...observed, spec: { ...observed.spec, ...this.#spec(observed) } }, signal);
        this.#observe(updated, startedAt);
        this.#lastRenewSentAt = startedAt;
        return true;
      } catch (err) {
        this.#logger.debug({ err }, 'lease renewal without a read failed; reading the lease');
      }
    }

    let current: Lease;
    try {
      current = await this.#client.request<Lease>('get', 'GET', resourcePath(resources.lease, this.namespace, this.name), { signal });
    } catch (err) {
      if (!isNotFound(err)) {
        this.#logger.warn({ err }, 'error retrieving lease');
        return false;
      }
      try {
        const created = await this.#client.request<Lease>('create', 'POST', resourcePath(resources.lease, this.namespace), {
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.name, namespace: this.namespace },
            spec: this.#spec(undefined),
          },
          query: { fieldManager: this.#client.fieldManager },
          signal,
        });
        this.#observe(created, startedAt);
        this.#lastRenewSentAt = startedAt;
        return true;
      } catch (createErr) {
        this.#logger.debug({ err: createErr }, 'error creating lease');
        return false;
      }
    }

    // Someone else's change counts from when we saw it, after the read returned: the write
    // it shows happened no later than that.
    if (this.#observed === undefined || recordOf(current) !== this.#observedRecord) this.#observe(current, this.#clock.now());
    else this.#observed = current; // same record: keep when we first saw it, take the newest resourceVersion

    const holder = current.spec?.holderIdentity ?? '';
    if (holder !== '' && holder !== this.identity && this.#observedLeaseValid(this.#clock.now())) {
      this.#logger.debug({ holder }, 'lease is held by another and has not expired');
      return false;
    }
    try {
      // The read's resourceVersion makes this a compare-and-swap: if anyone wrote in
      // between, the API server answers 409 and we try again next period.
      const updated = await this.#replace({ ...current, spec: { ...current.spec, ...this.#spec(current) } }, signal);
      this.#observe(updated, startedAt);
      this.#lastRenewSentAt = startedAt;
      return true;
    } catch (err) {
      this.#logger.debug({ err }, 'failed to update lease');
      return false;
    }
  }

  async #releaseLease(): Promise<boolean> {
    let lease = this.#observed;
    if (!lease || !this.#holdsObservedLease()) return false;
    const signal = AbortSignal.timeout(this.renewDeadlineMs);
    // Two tries: a renewal cut short by the shutdown may have landed after all, leaving us
    // with a stale resourceVersion; the Lease is still ours to clear if it still names us.
    for (let attempt = 0; attempt < 2; attempt++) {
      const now = toMicroTime(new Date());
      try {
        const updated = await this.#replace(
          {
            ...lease,
            spec: {
              ...lease.spec,
              holderIdentity: '',
              leaseDurationSeconds: 1,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: lease.spec?.leaseTransitions ?? 0,
            },
          },
          signal,
        );
        this.#observe(updated, this.#clock.now());
        this.#released = true;
        this.#logger.info('released lease');
        return true;
      } catch (err) {
        if (!isConflict(err) || attempt > 0) {
          this.#logger.warn({ err }, 'failed to release lease');
          return false;
        }
      }
      try {
        lease = await this.#client.request<Lease>('get', 'GET', resourcePath(resources.lease, this.namespace, this.name), { signal });
      } catch (err) {
        this.#logger.warn({ err }, 'failed to release lease');
        return false;
      }
      this.#observe(lease, this.#clock.now());
      if (lease.spec?.holderIdentity !== this.identity) {
        this.#logger.info({ holder: lease.spec?.holderIdentity }, 'lease already held by another; nothing to release');
        return false;
      }
    }
    return false;
  }
}
