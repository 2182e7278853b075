import { systemClock, type Clock, type WorkQueue } from './workqueue.ts';

/** What a reconcile asks of the queue when it returns; failures are thrown instead. */
export type ReconcileResult =
  | { kind: 'done' }
  /** Try again with the key's rate-limited backoff, without counting it as an error. */
  | { kind: 'requeue' }
  /** Try again after `ms`, e.g. when a known deadline such as an expiry comes up. */
  | { kind: 'requeueAfter'; ms: number };

/**
 * Reconciles one `namespace/name` key. `signal` aborts when the controller stops and its
 * deadline has passed, so long calls to backends can give up.
 */
export type Reconciler = (key: string, signal: AbortSignal) => Promise<ReconcileResult>;

/**
 * Thrown for failures that retrying cannot fix, such as an invalid spec: the key is not
 * requeued until something adds it again.
 */
/** How long reconciles get to honour their abort signal once `stop` runs out of time. */
const abortGraceMs = 5_000;

export class TerminalError extends Error {
  override name = 'TerminalError';
}

/** The `result` label of `controller_runtime_reconcile_total`. */
export type ReconcileOutcome = 'success' | 'error' | 'requeue_after' | 'requeue';

/** Hooks for controller-runtime's metrics; one sink per controller, labelled by its name. */
export interface ControllerMetricsSink {
  /** `controller_runtime_reconcile_total` and `controller_runtime_reconcile_time_seconds`. */
  reconciled(outcome: ReconcileOutcome, seconds: number): void;
  /** `controller_runtime_terminal_reconcile_errors_total`. */
  terminalError(): void;
  /** `controller_runtime_active_workers`. */
  activeWorkers(n: number): void;
  /** `controller_runtime_max_concurrent_reconciles`. */
  maxConcurrentReconciles(n: number): void;
}

/** The slice of a pino logger the controller uses. */
export interface ControllerLogger {
  error(obj: object, msg: string): void;
}

export interface ControllerOptions {
  name: string;
  queue: WorkQueue;
  reconcile: Reconciler;
  workers?: number;
  logger?: ControllerLogger;
  metrics?: ControllerMetricsSink;
  clock?: Pick<Clock, 'now'>;
}

const consoleLogger: ControllerLogger = { error: (obj, msg) => console.error(msg, obj) };

/** Runs `workers` loops that take keys from the queue and reconcile them. */
export class Controller {
  readonly name: string;
  readonly #queue: WorkQueue;
  readonly #reconcile: Reconciler;
  readonly #workers: number;
  readonly #logger: ControllerLogger;
  readonly #metrics: ControllerMetricsSink | undefined;
  readonly #clock: Pick<Clock, 'now'>;
  readonly #abort = new AbortController();
  #running: Promise<void>[] = [];
  #active = 0;

  constructor({ name, queue, reconcile, workers = 1, logger, metrics, clock }: ControllerOptions) {
    if (!Number.isInteger(workers) || workers < 1) {
      throw new RangeError(`workers must be a positive integer, got ${workers}`);
    }
    this.name = name;
    this.#queue = queue;
    this.#reconcile = reconcile;
    this.#workers = workers;
    this.#logger = logger ?? consoleLogger;
    this.#metrics = metrics;
    this.#clock = clock ?? systemClock;
  }

  start(): void {
    if (this.#running.length > 0) throw new Error(`controller ${this.name} already started`);
    this.#metrics?.maxConcurrentReconciles(this.#workers);
    this.#metrics?.activeWorkers(0);
    for (let i = 0; i < this.#workers; i++) this.#running.push(this.#work());
  }

  /**
   * Stops taking keys and waits up to `deadlineMs` for in-flight reconciles. Resolves true if
   * they all finished; otherwise aborts their signal and resolves false without waiting more.
   */
  async stop(deadlineMs: number): Promise<boolean> {
    const drained = await this.#queue.shutDownWithDrain(deadlineMs);
    if (!drained) {
      // Past the deadline: ask running reconciles to give up, and give them a moment to,
      // so the caller (releasing the Lease next) rarely overlaps with the next leader.
      this.#abort.abort(new Error(`controller ${this.name} stopped`));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(this.#running), new Promise<void>((r) => (timer = setTimeout(r, abortGraceMs)))]);
      clearTimeout(timer);
      return false;
    }
    await Promise.all(this.#running);
    return true;
  }

  async #work(): Promise<void> {
    for (let key = await this.#queue.get(); key !== undefined; key = await this.#queue.get()) {
      this.#metrics?.activeWorkers(++this.#active);
      try {
        await this.#reconcileKey(key);
      } finally {
        this.#queue.done(key);
        this.#metrics?.activeWorkers(--this.#active);
      }
    }
  }

  // Mirrors controller-runtime's reconcileHandler. Requeues go in before the worker calls
  // done(key), so an immediate one lands in the queue's dirty set and runs right after.
  async #reconcileKey(key: string): Promise<void> {
    const started = this.#clock.now();
    const finish = (outcome: ReconcileOutcome): void => this.#metrics?.reconciled(outcome, (this.#clock.now() - started) / 1000);
    let result: ReconcileResult;
    try {
      result = await this.#reconcile(key, this.#abort.signal);
    } catch (err) {
      const terminal = err instanceof TerminalError;
      if (terminal) {
        this.#queue.forget(key);
        this.#metrics?.terminalError();
      } else {
        this.#queue.addRateLimited(key);
      }
      finish('error');
      this.#logger.error({ controller: this.name, key, terminal, err }, 'Reconciler error');
      return;
    }
    switch (result.kind) {
      case 'done':
        this.#queue.forget(key);
        return finish('success');
      case 'requeue':
        this.#queue.addRateLimited(key);
        return finish('requeue');
      case 'requeueAfter':
        this.#queue.forget(key);
        this.#queue.addAfter(key, result.ms);
        return finish('requeue_after');
    }
  }
}
