// An in-memory API server for the seat ledger's ConfigMaps that enforces resourceVersion the
// way the real one does, with a watch cache that lags its writes (as the operator's informer
// does), for simulating webhook replicas without a cluster.
import { KubeApiError, type KubeObject, type ResourceRef } from '../../../src/runtime/kube-client.ts';
import type { ConfigMap, LedgerCache } from '../../../src/seats/ledger.ts';

export class LedgerApi {
  readonly objects = new Map<string, ConfigMap>();
  /** What the watch has delivered so far. */
  private readonly watched = new Map<string, ConfigMap>();
  private rv = 0;
  writes = 0;
  reads = 0;
  conflicts = 0;
  /** How long the watch takes to deliver a write (ms; 0 = the next turn of the event loop). */
  watchLagMs: number;

  constructor(watchLagMs = 0) {
    this.watchLagMs = watchLagMs;
  }

  /** The watch cache over this store (what SeatLedger's `cache` option takes). */
  readonly cache: LedgerCache = {
    get: (namespace, name) => this.watched.get(`${namespace}/${name}`),
    hasSynced: () => true,
  };

  private async tick() {
    await new Promise((r) => setImmediate(r));
  }

  private store(key: string, object: ConfigMap | undefined) {
    if (object) this.objects.set(key, object);
    else this.objects.delete(key);
    const copy = object && structuredClone(object);
    setTimeout(() => (copy ? this.watched.set(key, copy) : this.watched.delete(key)), this.watchLagMs);
  }

  async find<T extends KubeObject>(_ref: ResourceRef, ns: string | undefined, name: string): Promise<T | undefined> {
    await this.tick();
    this.reads++;
    const o = this.objects.get(`${ns}/${name}`);
    return o ? (structuredClone(o) as unknown as T) : undefined;
  }

  async create<T extends KubeObject>(_ref: ResourceRef, object: T): Promise<T> {
    await this.tick();
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    if (this.objects.has(key)) {
      this.conflicts++;
      throw new KubeApiError(409, 'AlreadyExists', 'exists', {});
    }
    return this.write(key, object);
  }

  async replace<T extends KubeObject>(_ref: ResourceRef, object: T): Promise<T> {
    await this.tick();
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    const current = this.objects.get(key);
    if (!current || current.metadata.resourceVersion !== object.metadata.resourceVersion) {
      this.conflicts++;
      throw new KubeApiError(409, 'Conflict', 'the object has been modified', {});
    }
    return this.write(key, object);
  }

  /** Someone deletes the ledger (its annotation says that is safe). */
  remove(namespace: string, name: string): void {
    this.store(`${namespace}/${name}`, undefined);
  }

  private write<T extends KubeObject>(key: string, object: T): T {
    const stored = { ...structuredClone(object), metadata: { ...object.metadata, resourceVersion: String(++this.rv) } } as unknown as ConfigMap;
    this.store(key, stored);
    this.writes++;
    return structuredClone(stored) as unknown as T;
  }
}
