// Wires the runtime together the way controller-runtime's manager does: shared informers,
// one queue and controller per reconciler, leader election gating the controllers (the
// webhook and accept page serve on every replica), probes and metrics, and a graceful
// shutdown in controller-runtime's order.
import type { Logger } from 'pino';
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
  subscribe(enqueue: (keys: string[]) => void): void;
}

export function watch<T extends KubeObject>(informer: Informer<T>, toKeys: KeyMapper<T>): Watch {
  return { subscribe: (enqueue) => void informer.on((event) => enqueue(toKeys(event))) };
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
  private leading = false;
  private started = false;
  private stopping = false;
  private elector: LeaderElector | undefined;
  private electorRun: Promise<void> | undefined;
  private readonly electorAbort = new AbortController();

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
    const enqueue = (keys: string[]) => keys.forEach((k) => queue.add(k));
    spec.informer.on((event) => enqueue([event.key]));
    for (const w of spec.watches ?? []) w.subscribe(enqueue);
    this.controllers.push(controller);
    this.queues.push(queue);
    return queue;
  }

  isLeader(): boolean {
    return this.leading;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('manager already started');
    this.started = true;
    if (this.options.probes) await this.health.listen(this.options.probes.port, this.options.probes.host);
    for (const informer of this.informers.values()) informer.start();
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync()));
    this.logger.info({ informers: this.informers.size }, 'caches synced');
    const startControllers = () => {
      if (this.leading) return;
      this.leading = true;
      this.logger.info('leading: starting controllers');
      for (const controller of this.controllers) controller.start();
    };
    const le = this.options.leaderElection;
    if (le) {
      this.elector = new LeaderElector({
        ...le,
        client: this.client,
        logger: this.logger,
        metrics: { masterStatus: (name, value) => this.metrics.leaderStatus.set({ name }, value) },
        callbacks: {
          onStartedLeading: startControllers,
          onStoppedLeading: async () => {
            if (!this.leading) return;
            this.leading = false;
            if (this.stopping) return; // stop() drains the controllers itself
            this.logger.error('lost leadership: stopping controllers');
            await Promise.all(this.controllers.map((c) => c.stop(0)));
            (this.options.onLostLeadership ?? (() => process.exit(1)))();
          },
        },
      });
      this.electorRun = this.elector.run(this.electorAbort.signal);
    } else {
      startControllers();
    }
  }

  /**
   * controller-runtime's order: stop taking keys and drain in-flight reconciles (bounded),
   * release the lease so another replica takes over at once, stop the caches, and close the
   * probes last.
   */
  async stop(): Promise<void> {
    const deadline = this.options.shutdownDeadlineMs ?? 30_000;
    this.stopping = true;
    if (this.leading) await Promise.all(this.controllers.map((c) => c.stop(deadline)));
    for (const queue of this.queues) queue.shutDown();
    this.electorAbort.abort(); // releases the Lease if held
    await this.electorRun;
    this.leading = false;
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    await this.health.close();
  }
}
