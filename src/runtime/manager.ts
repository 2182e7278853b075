// Wires the runtime together the way controller-runtime's manager does: shared informers,
// one queue and controller per reconciler, leader election gating the controllers, probes
// and metrics, the runnables added with add() (servers such as a webhook, on every replica
// unless they need leadership), and a graceful shutdown in controller-runtime's order.
import type { Logger } from 'pino';
import { untilAborted } from './abort.ts';
import { Controller, type Reconciler } from './controller.ts';
import { HealthServer } from './health.ts';
import { Informer, type InformerEvent, type InformerOptions } from './informer.ts';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.ts';
import type { KubeClient, KubeObject, ResourceRef } from './kube-client.ts';
import { silentLogger } from './logger.ts';
import { Metrics } from './metrics.ts';
import { WorkQueue } from './workqueue.ts';

/** Maps an informer event to the keys of the objects that must be reconciled. */
export type KeyMapper<T> = (event: InformerEvent<T>) => string[];

export const ownKey = <T>(event: InformerEvent<T>): string[] => [event.key];

/** Events on owned objects map to their owner's key (same namespace, by owner kind). */
export const ownerKeys =
  (ownerKind: string) =>
  <T extends KubeObject>(event: InformerEvent<T>): string[] => {
    const meta = event.object.metadata;
    const owners = (meta.ownerReferences ?? []).filter((o) => o.kind === ownerKind);
    const keys = owners.map((o) => `${meta.namespace}/${o.name}`);
    if (event.type === 'updated') {
      for (const o of event.old.metadata.ownerReferences ?? []) {
        if (o.kind === ownerKind && !keys.includes(`${meta.namespace}/${o.name}`)) keys.push(`${meta.namespace}/${o.name}`);
      }
    }
    return keys;
  };

/** Events on labelled objects map to the key named by a label (namespace from another label or the object's). */
export const labelKeys =
  (nameLabel: string, namespaceLabel?: string) =>
  <T extends KubeObject>(event: InformerEvent<T>): string[] => {
    const labels = event.object.metadata.labels ?? {};
    const name = labels[nameLabel];
    if (!name) return [];
    const namespace = namespaceLabel ? labels[namespaceLabel] : event.object.metadata.namespace;
    return namespace ? [`${namespace}/${name}`] : [];
  };

/** Leader election settings (see leader-election.ts); without them this process always leads. */
export type LeaderElectionSettings = Omit<LeaderElectionOptions, 'client' | 'callbacks' | 'logger' | 'metrics'>;

/** A subscription of a controller to another kind's events. */
export interface Watch {
  /** `enqueue(keys, delayMs)`: a delay coalesces a burst of events into one reconcile. */
  subscribe(enqueue: (keys: string[], delayMs?: number) => void): void;
}

/**
 * Maps an informer's events to keys of a controller. With `delayMs`, the keys are queued that
 * long after the first event (later ones in the window fold into it, as controller-runtime's
 * AddAfter): for a summary that changes with every event of a burst and need not be written
 * for each one.
 */
export function watch<T extends KubeObject>(
  informer: Informer<T>,
  toKeys: KeyMapper<T>,
  options: { delayMs?: number | ((event: InformerEvent<T>) => number) } = {},
): Watch {
  const { delayMs } = options;
  return { subscribe: (enqueue) => void informer.on((event) => enqueue(toKeys(event), typeof delayMs === 'function' ? delayMs(event) : delayMs)) };
}

export interface ControllerSpec<T extends KubeObject> {
  name: string;
  /** The kind reconciled; its informer feeds the queue with its own keys. */
  informer: Informer<T>;
  reconcile: Reconciler;
  workers?: number;
  /** Other informers whose events map to keys of this controller (see `watch`). */
  watches?: Watch[];
}

/**
 * Something the manager starts and stops with itself: controller-runtime's Runnable
 * (`mgr.Add`). Runnables start in the order they were added and stop in the reverse order,
 * after the controllers have drained, so what others depend on (a webhook that admits writes,
 * an Event recorder) is added first and goes last.
 */
export interface Runnable {
  /** Names it in the logs (start failures, the timed shutdown steps). */
  readonly name: string;
  /**
   * Starts before the caches sync and stops after them: servers that must answer while this
   * process lists (the API server calls an admission webhook for every write, ours included).
   * Default false: starts once the caches have synced.
   */
  readonly beforeCaches?: boolean;
  /** Runs only while this replica leads, beside the controllers. Default false: every replica. */
  readonly needsLeaderElection?: boolean;
  /**
   * Resolves once it runs (a server: once it listens). `signal` aborts when the manager stops
   * it, just before stop(). Optional: a runnable may only have something to do at shutdown.
   */
  start?(signal: AbortSignal): Promise<unknown> | void;
  /** Releases what start() took; also called after a start() that failed halfway. */
  stop?(): Promise<unknown> | void;
}

interface Running {
  runnable: Runnable;
  abort: AbortController;
}

export interface ManagerOptions {
  client: KubeClient;
  logger?: Logger;
  metrics?: Metrics;
  leaderElection?: LeaderElectionSettings;
  probes?: { port: number; host?: string };
  resyncMs?: number;
  /** Called when leadership is lost; the default exits so a fresh process starts clean. */
  onLostLeadership?: () => void;
  shutdownDeadlineMs?: number;
}

export class Manager {
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly health: HealthServer;
  private readonly options: ManagerOptions;
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly controllers: Controller[] = [];
  private readonly queues: WorkQueue[] = [];
  private readonly runnables: Runnable[] = [];
  /** Every-replica runnables that were started (or began to), in start order. */
  private readonly running: Running[] = [];
  /** Leader-only runnables that were started, in start order. */
  private readonly leaderRunning: Running[] = [];
  private leading = false;
  private started = false;
  private stopping = false;
  private probesListening = false;
  private elector: LeaderElector | undefined;
  private electorRun: Promise<void> | undefined;
  private readonly electorAbort = new AbortController();
  /** Aborted by stop(), so a start still in progress stops starting things. */
  private readonly stopRequested = new AbortController();
  /** Settles when start() has done what it will do (never rejects). */
  private startup: Promise<void> = Promise.resolve();
  private stopped: Promise<void> | undefined;

  constructor(options: ManagerOptions) {
    this.options = options;
    this.client = options.client;
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? new Metrics();
    this.health = new HealthServer(this.metrics);
    this.health.addReadiness('informers-synced', () => {
      const pending = [...this.informers.values()].filter((i) => !i.hasSynced()).map((i) => i.ref.plural);
      return pending.length ? `waiting for caches: ${pending.join(', ')}` : undefined;
    });
    this.health.addLiveness('watches', () => {
      const stalled = [...this.informers.values()].filter((i) => i.isStalled()).map((i) => i.ref.plural);
      return stalled.length ? `stalled watches: ${stalled.join(', ')}` : undefined;
    });
  }

  /** The shared informer for a kind (and namespace/label selector). */
  informer<T extends KubeObject>(ref: ResourceRef, options: Omit<InformerOptions<T>, 'logger'> = {}): Informer<T> {
    const id = `${ref.group}/${ref.plural}/${options.namespace ?? ''}/${options.labelSelector ?? ''}`;
    let informer = this.informers.get(id);
    if (!informer) {
      informer = new Informer<KubeObject>(this.client, ref, {
        resyncMs: this.options.resyncMs,
        ...(options as InformerOptions<KubeObject>),
        logger: this.logger,
      });
      this.informers.set(id, informer);
    }
    return informer as unknown as Informer<T>;
  }

  addController<T extends KubeObject>(spec: ControllerSpec<T>): WorkQueue {
    const queue = new WorkQueue({ name: spec.name, metrics: this.metrics.queueSink(spec.name) });
    const controller = new Controller({
      name: spec.name,
      queue,
      reconcile: spec.reconcile,
      workers: spec.workers ?? 1,
      logger: this.logger.child({ controller: spec.name }),
      metrics: this.metrics.controllerSink(spec.name),
    });
    // Keys pile up in the queue before this replica leads; workers start on election.
    const enqueue = (keys: string[], delayMs = 0) => keys.forEach((k) => queue.addAfter(k, delayMs));
    spec.informer.on((event) => enqueue([event.key]));
    for (const w of spec.watches ?? []) w.subscribe(enqueue);
    this.controllers.push(controller);
    this.queues.push(queue);
    return queue;
  }

  /**
   * Adds a runnable the manager starts and stops with itself (see Runnable for the order).
   * Only before start().
   */
  add(runnable: Runnable): void {
    if (this.started) throw new Error(`cannot add ${runnable.name}: the manager has already started`);
    if (runnable.beforeCaches && runnable.needsLeaderElection) {
      throw new Error(`cannot add ${runnable.name}: a runnable that needs leadership starts after the caches sync, not before`);
    }
    this.runnables.push(runnable);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Starts, in order: the runnables that serve before the caches sync, the probes, the
   * informers (and waits for their sync), the other every-replica runnables, then leader
   * election, whose win starts the controllers and the leader-only runnables. If a step fails,
   * what already started is stopped (as stop() does) and the error is thrown. If stop() is
   * called meanwhile, start() stops starting things and resolves; stop() cleans up.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('manager already started');
    this.started = true;
    const run = this.startSteps();
    this.startup = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      await run;
    } catch (e) {
      if (this.stopRequested.signal.aborted) return;
      this.logger.error({ err: errorMessage(e) }, 'the manager failed to start; stopping what already started');
      await this.stop().catch((err: unknown) => this.logger.error({ err: errorMessage(err) }, 'stopping after a failed start failed too'));
      throw e;
    }
  }

  private async startSteps(): Promise<void> {
    const stopSignal = this.stopRequested.signal;
    const unlessStopping = () => {
      if (stopSignal.aborted) throw new Error('the manager is stopping');
    };
    for (const r of this.runnables.filter((r) => r.beforeCaches)) {
      unlessStopping();
      await this.startRunnable(r, this.running);
    }
    unlessStopping();
    if (this.options.probes) {
      this.probesListening = true; // close() copes with a listen that failed
      await this.health.listen(this.options.probes.port, this.options.probes.host);
    }
    unlessStopping();
    for (const informer of this.informers.values()) informer.start();
    await untilAborted(Promise.all([...this.informers.values()].map((i) => i.waitForSync())), stopSignal, () => new Error('the manager is stopping'));
    unlessStopping();
    this.logger.info({ informers: this.informers.size }, 'caches synced');
    for (const r of this.runnables.filter((r) => !r.beforeCaches && !r.needsLeaderElection)) {
      unlessStopping();
      await this.startRunnable(r, this.running);
    }
    unlessStopping();
    const le = this.options.leaderElection;
    if (!le) return await this.startLeading();
    this.elector = new LeaderElector({
      ...le,
      client: this.client,
      logger: this.logger,
      metrics: { masterStatus: (name, value) => this.metrics.leaderStatus.set({ name }, value) },
      callbacks: {
        onStartedLeading: () =>
          this.startLeading().catch(async (e: unknown) => {
            // A replica that cannot run what leading needs gives the Lease up, like one that lost it.
            this.logger.error({ err: errorMessage(e) }, 'could not start what the leader runs: stepping down');
            await this.stepDown();
          }),
        onStoppedLeading: () => this.stepDown(),
      },
    });
    this.electorRun = this.elector.run(this.electorAbort.signal);
  }

  private async startLeading(): Promise<void> {
    if (this.leading) return;
    this.leading = true;
    this.logger.info('leading: starting controllers');
    for (const controller of this.controllers) controller.start();
    for (const r of this.runnables.filter((r) => r.needsLeaderElection)) {
      if (!this.leading) return; // lost leadership meanwhile
      await this.startRunnable(r, this.leaderRunning);
    }
  }

  /** Leadership is gone (lost, or given up): stop what only the leader runs, then exit by default. */
  private async stepDown(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    if (this.stopping) return; // stop() drains the controllers itself
    this.logger.error('lost leadership: stopping controllers');
    await Promise.all(this.controllers.map((c) => c.stop(0)));
    await this.stopRunnables(this.leaderRunning);
    (this.options.onLostLeadership ?? (() => process.exit(1)))();
  }

  private async startRunnable(runnable: Runnable, into: Running[]): Promise<void> {
    const entry: Running = { runnable, abort: new AbortController() };
    into.push(entry); // before start(): a start that fails halfway is stopped too
    const started = performance.now();
    try {
      await runnable.start?.(entry.abort.signal);
    } catch (e) {
      throw new Error(`${runnable.name} failed to start: ${errorMessage(e)}`, { cause: e });
    }
    if (runnable.start) this.logger.debug({ runnable: runnable.name, ms: Math.round(performance.now() - started) }, 'runnable started');
  }

  /**
   * controller-runtime's order: stop taking keys and drain in-flight reconciles (bounded),
   * stop what only the leader runs, release the lease so another replica takes over at once,
   * stop the caches, close the probes, then stop the runnables in the reverse order of
   * add(), so a webhook added first keeps admitting writes until everything else is done.
   * Each step is timed in the debug log, so a slow shutdown says where it waited. A step that
   * fails is logged and the rest still run; the first failure is thrown at the end.
   */
  stop(): Promise<void> {
    this.stopped ??= this.stopSteps();
    return this.stopped;
  }

  private async stopSteps(): Promise<void> {
    this.stopping = true;
    this.stopRequested.abort();
    await this.startup;
    const failures: unknown[] = [];
    const step = async (name: string, run: () => Promise<unknown> | unknown) => {
      const started = performance.now();
      try {
        await run();
      } catch (e) {
        failures.push(e);
        this.logger.error({ step: name, err: errorMessage(e) }, 'shutdown step failed; going on with the next');
      }
      this.logger.debug({ step: name, ms: Math.round(performance.now() - started) }, 'shutdown step done');
    };
    const deadline = this.options.shutdownDeadlineMs ?? 30_000;
    await step('controllers', async () => {
      if (this.leading) await Promise.all(this.controllers.map((c) => c.stop(deadline)));
      for (const queue of this.queues) queue.shutDown();
    });
    for (const r of [...this.leaderRunning].reverse()) await step(r.runnable.name, () => this.stopRunnable(r));
    this.leaderRunning.length = 0;
    await step('leader election', async () => {
      this.electorAbort.abort(); // releases the Lease if held
      await this.electorRun;
      this.leading = false;
    });
    await step('caches', () => Promise.all([...this.informers.values()].map((i) => i.stop())));
    if (this.probesListening) await step('probes', () => this.health.close());
    for (const r of [...this.running].reverse()) await step(r.runnable.name, () => this.stopRunnable(r));
    this.running.length = 0;
    if (failures.length) throw failures[0];
  }

  private async stopRunnables(list: Running[]): Promise<void> {
    for (const r of list.splice(0).reverse()) await this.stopRunnable(r);
  }

  private async stopRunnable({ runnable, abort }: Running): Promise<void> {
    abort.abort(new Error(`${runnable.name} is stopping`));
    await runnable.stop?.();
  }
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
