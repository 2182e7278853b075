// A list+watch cache for one kind, with the failure modes of Node operators fixed:
// - a list, then a watch with bookmarks and a randomized server-side timeout (5–10 min),
//   resumed from the last resourceVersion when the server ends it;
// - 410 Gone (at watch start or as an ERROR event) relists from scratch, and the relist is
//   diffed against the cache so deletions missed during an outage are delivered;
// - reconnects back off 0.8 s → 30 s with jitter, reset once a stream has been healthy;
// - a watchdog aborts a stream that stays silent past its timeout (a half-open TCP
//   connection otherwise looks like a quiet cluster forever);
// - optional periodic resync re-delivers every object;
// - our own conditional writes reach the cache when the API server answers them, not when the
//   watch brings them (client-go's MutationCache does the same), so a reconcile right after a
//   write does not act on the version it just replaced (and lose with 409).
import type { Logger } from 'pino';
import { jitteredBackoff } from './backoff.ts';
import { isGone, KubeApiError, type AcceptedWrite, type KubeClient, type KubeObject, type ResourceRef, type WatchEvent } from './kube-client.ts';
import { silentLogger } from './logger.ts';

export type InformerEvent<T> =
  | { type: 'added'; key: string; object: T }
  | { type: 'updated'; key: string; object: T; old: T }
  | { type: 'deleted'; key: string; object: T }
  | { type: 'resync'; key: string; object: T };

export type Handler<T> = (event: InformerEvent<T>) => void;
export type IndexFunction<T> = (object: T) => string[];

export interface InformerOptions<T> {
  namespace?: string;
  labelSelector?: string;
  /** Re-deliver every cached object this often (0 = never). */
  resyncMs?: number;
  /** Server-side watch timeout range, in seconds (randomized per watch). */
  watchTimeoutSeconds?: [number, number];
  /** Extra silence tolerated past the watch timeout before the watchdog restarts the stream. */
  watchdogGraceMs?: number;
  /** A stream that lived this long resets the reconnect backoff. */
  healthyAfterMs?: number;
  pageSize?: number;
  indexers?: Record<string, IndexFunction<T>>;
  logger?: Logger;
  random?: () => number;
}

/** kubectl's client-side apply record: a second copy of the object, read by nothing here. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * What the cache keeps of an object: everything but `metadata.managedFields` and kubectl's
 * last-applied annotation. Together they are often more than half an object's size, and no
 * controller reads them (server-side apply computes field ownership on the server). Changes
 * the object in place: it comes fresh from JSON.parse and nobody else holds it yet.
 */
export function stripForCache<T extends KubeObject>(object: T): T {
  const metadata = object.metadata as T['metadata'] | undefined;
  if (!metadata) return object;
  delete metadata.managedFields;
  if (metadata.annotations && LAST_APPLIED_ANNOTATION in metadata.annotations) {
    const { [LAST_APPLIED_ANNOTATION]: _dropped, ...rest } = metadata.annotations;
    if (Object.keys(rest).length > 0) metadata.annotations = rest;
    else delete metadata.annotations;
  }
  return object;
}

/** Values longer than this are unlikely to repeat across objects (messages, hashes). */
const INTERN_MAX_LENGTH = 64;
/** Bounded: the table is emptied when full. Sharing is only a saving; nothing depends on it. */
const INTERN_CAPACITY = 100_000;
const interned = new Map<string, string>();
/** Metadata values that never repeat: not worth a table entry. */
const UNIQUE_KEYS = new Set(['uid', 'resourceVersion', 'hash']);

function intern(value: string): string {
  if (value.length > INTERN_MAX_LENGTH) return value;
  const shared = interned.get(value);
  if (shared !== undefined) return shared;
  if (interned.size >= INTERN_CAPACITY) interned.clear();
  interned.set(value, value);
  return value;
}

/**
 * Makes the string values of a cached object share one copy with every other cached object
 * (apiVersion, kind, label values, condition types and reasons, timestamps, who created it):
 * JSON.parse gives each object its own, which at 10,000s of objects is megabytes of copies.
 * Changes the object in place, like stripForCache; values stay equal, only their storage is shared.
 */
export function internStrings(node: unknown): void {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const value: unknown = node[i];
      if (typeof value === 'string') node[i] = intern(value);
      else if (typeof value === 'object' && value !== null) internStrings(value);
    }
  } else if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const value = record[key];
      if (typeof value === 'string') {
        if (!UNIQUE_KEYS.has(key)) record[key] = intern(value);
      } else if (typeof value === 'object' && value !== null) internStrings(value);
    }
  }
}

/** What the cache keeps of an object from the API server: stripped, its strings shared (in place). */
function prepareForCache<T extends KubeObject>(object: T): T {
  stripForCache(object);
  internStrings(object);
  return object;
}

export const objectKey = (o: KubeObject): string => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata.name ?? ''));

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

class WatchExpired extends Error {}

export class Informer<T extends KubeObject> {
  readonly ref: ResourceRef;
  private readonly client: KubeClient;
  private readonly options: Required<Omit<InformerOptions<T>, 'namespace' | 'labelSelector' | 'logger' | 'indexers'>> &
    Pick<InformerOptions<T>, 'namespace' | 'labelSelector'>;
  private readonly logger: Logger;
  private readonly store = new Map<string, T>();
  private readonly indexers: Record<string, IndexFunction<T>>;
  /** Per index, value → the keys of the objects with it: one key as itself (most values name one object: a link hash, a Membership), more as a Set. */
  private readonly indexes = new Map<string, Map<string, string | Set<string>>>();
  private readonly handlers = new Set<Handler<T>>();
  private readonly abort = new AbortController();
  private resourceVersion = '';
  private synced = false;
  private syncedWaiters: Array<() => void> = [];
  private lastActivity = Date.now();
  private watchDeadline = Infinity;
  private running: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopWriteThrough: (() => void) | undefined;
  /**
   * Per key, the versions our own writes replaced while the watch had not delivered them yet:
   * a watch event with one of them is older than what the cache holds and is skipped.
   */
  private readonly superseded = new Map<string, Set<string>>();
  /** Counters for health and tests. */
  readonly stats = { lists: 0, watches: 0, relistsOnGone: 0, watchdogRestarts: 0, reconnects: 0 };

  constructor(client: KubeClient, ref: ResourceRef, options: InformerOptions<T> = {}) {
    this.client = client;
    this.ref = ref;
    this.logger = (options.logger ?? silentLogger).child({ informer: ref.plural });
    this.indexers = options.indexers ?? {};
    for (const name of Object.keys(this.indexers)) this.indexes.set(name, new Map());
    this.options = {
      namespace: options.namespace,
      labelSelector: options.labelSelector,
      resyncMs: options.resyncMs ?? 0,
      watchTimeoutSeconds: options.watchTimeoutSeconds ?? [300, 600],
      watchdogGraceMs: options.watchdogGraceMs ?? 30_000,
      healthyAfterMs: options.healthyAfterMs ?? 30_000,
      pageSize: options.pageSize ?? 500,
      random: options.random ?? Math.random,
    };
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  on(handler: Handler<T>): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  start(): void {
    if (this.running) return;
    // A label-selected cache cannot tell whether a written object still matches: it waits for the watch.
    if (!this.options.labelSelector) this.stopWriteThrough = this.client.onAcceptedWrite((write) => this.writeThrough(write));
    this.running = this.run();
    if (this.options.resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.options.resyncMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopWriteThrough?.();
    this.abort.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.running;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.push(resolve));
  }

  /** True when the current watch has gone silent past its deadline (for /healthz). */
  isStalled(now = Date.now()): boolean {
    return this.synced && now > this.watchDeadline + this.options.watchdogGraceMs;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(namespace ? `${namespace}/${name}` : name);
  }

  list(namespace?: string): T[] {
    const all = [...this.store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  byLabel(selector: Record<string, string>, namespace?: string): T[] {
    return this.list(namespace).filter((o) => Object.entries(selector).every(([k, v]) => o.metadata.labels?.[k] === v));
  }

  byIndex(index: string, value: string): T[] {
    const keys = this.indexes.get(index)?.get(value);
    if (!this.indexes.has(index)) throw new Error(`informer ${this.ref.plural} has no index ${index}`);
    if (keys === undefined) return [];
    return (typeof keys === 'string' ? [keys] : [...keys]).map((k) => this.store.get(k)).filter((o): o is T => o !== undefined);
  }

  get size(): number {
    return this.store.size;
  }

  private emit(event: InformerEvent<T>): void {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (e) {
        this.logger.error({ err: e, key: event.key }, 'informer handler threw');
      }
    }
  }

  private index(key: string, object: T | undefined, old: T | undefined): void {
    for (const [name, fn] of Object.entries(this.indexers)) {
      const index = this.indexes.get(name)!;
      for (const value of old ? fn(old) : []) {
        const keys = index.get(value);
        if (keys === key) index.delete(value);
        else if (typeof keys === 'object') {
          keys.delete(key);
          if (keys.size === 1) index.set(value, keys.values().next().value!);
        }
      }
      for (const value of object ? fn(object) : []) {
        const keys = index.get(value);
        if (keys === undefined) index.set(value, key);
        else if (typeof keys === 'string') {
          if (keys !== key) index.set(value, new Set([keys, key]));
        } else keys.add(key);
      }
    }
  }

  /**
   * Our own write, answered: it replaces the cached object only when the cache holds exactly the
   * version the write was conditional on, so it can never put an older version over a newer
   * one (resourceVersions are opaque and are never compared for order).
   */
  private writeThrough(write: AcceptedWrite): void {
    const { ref, baseResourceVersion } = write;
    if (ref.group !== this.ref.group || ref.version !== this.ref.version || ref.plural !== this.ref.plural) return;
    const written = write.object;
    if (this.options.namespace && written.metadata.namespace !== this.options.namespace) return;
    const key = objectKey(written);
    const cached = this.store.get(key);
    if (!cached || cached.metadata.resourceVersion !== baseResourceVersion || written.metadata.resourceVersion === baseResourceVersion) return;
    const object = structuredClone(written) as T; // the writer keeps its own copy
    const skipped = this.superseded.get(key) ?? new Set<string>();
    skipped.add(baseResourceVersion);
    this.superseded.set(key, skipped);
    this.upsert(object);
  }

  /** A watch event for a version our own write already replaced in the cache. */
  private isSuperseded(object: T): boolean {
    const key = objectKey(object);
    const skipped = this.superseded.get(key);
    if (!skipped) return false;
    if (skipped.has(object.metadata.resourceVersion ?? '')) return true;
    // The watch reached our write or went past it: nothing older can follow.
    this.superseded.delete(key);
    return false;
  }

  private upsert(object: T): void {
    this.put(prepareForCache(object));
  }

  /** upsert() of an object prepareForCache has seen. */
  private put(object: T): void {
    const key = objectKey(object);
    const old = this.store.get(key);
    this.store.set(key, object);
    this.index(key, object, old);
    if (!old) this.emit({ type: 'added', key, object });
    else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) this.emit({ type: 'updated', key, object, old });
  }

  private remove(object: T): void {
    const key = objectKey(object);
    const old = this.store.get(key);
    if (!old) return;
    this.store.delete(key);
    this.index(key, undefined, old);
    this.emit({ type: 'deleted', key, object: old });
  }

  private resync(): void {
    for (const [key, object] of this.store) this.emit({ type: 'resync', key, object });
  }

  /**
   * Lists everything (paginated) and replaces the cache, delivering the differences, at once
   * after the last page (as client-go's Replace): a reconcile never sees half old, half new.
   * Each page is stripped as it arrives, so the raw items (managedFields and all, several times
   * the size they keep) never pile up: a relist of tens of thousands of objects does not grow
   * the heap by all of them at once.
   */
  private async relist(): Promise<void> {
    this.stats.lists++;
    const apiVersion = this.ref.group ? `${this.ref.group}/${this.ref.version}` : this.ref.version;
    const items: T[] = [];
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.client.list<T>(this.ref, this.options.namespace, {
        limit: this.options.pageSize,
        continue: continueToken,
        labelSelector: this.options.labelSelector,
      });
      for (const item of page.items) {
        // List items come without apiVersion/kind; watch events carry them. Keep them uniform.
        item.apiVersion ??= apiVersion;
        items.push(prepareForCache(item));
      }
      continueToken = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion ?? '';
    } while (continueToken);
    const seen = new Set<string>();
    this.superseded.clear(); // the list is the truth now
    for (const item of items) {
      seen.add(objectKey(item));
      this.put(item);
    }
    for (const [key, object] of [...this.store]) if (!seen.has(key)) this.remove(object);
    this.resourceVersion = resourceVersion;
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncedWaiters.splice(0)) resolve();
    }
  }

  /** Watches from the current resourceVersion until the server ends the stream. */
  private async watchOnce(): Promise<void> {
    const [min, max] = this.options.watchTimeoutSeconds;
    const timeoutSeconds = Math.round(min + (max - min) * this.options.random());
    const streamAbort = new AbortController();
    const onStop = () => streamAbort.abort();
    this.abort.signal.addEventListener('abort', onStop, { once: true });
    this.lastActivity = Date.now();
    this.watchDeadline = Date.now() + timeoutSeconds * 1000;
    // The server sends bookmarks about once a minute, so long silence means a dead stream.
    const watchdog = setInterval(
      () => {
        if (Date.now() > this.watchDeadline + this.options.watchdogGraceMs) {
          this.stats.watchdogRestarts++;
          this.logger.warn({ timeoutSeconds }, 'watch silent past its timeout; restarting it');
          streamAbort.abort();
        }
      },
      Math.min(5_000, this.options.watchdogGraceMs),
    );
    watchdog.unref();
    this.stats.watches++;
    let expired = false;
    try {
      await this.client.watch<T>(
        this.ref,
        this.options.namespace,
        {
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds,
          labelSelector: this.options.labelSelector,
        },
        (event: WatchEvent<T>) => {
          switch (event.type) {
            case 'ADDED':
            case 'MODIFIED':
              if (!this.isSuperseded(event.object)) this.upsert(event.object);
              break;
            case 'DELETED':
              this.superseded.delete(objectKey(event.object));
              this.remove(event.object);
              break;
            case 'BOOKMARK':
              break;
            case 'ERROR': {
              const status = event.object as unknown as { code?: number; message?: string };
              if (status.code === 410) expired = true;
              else this.logger.warn({ status }, 'watch error event');
              streamAbort.abort();
              return;
            }
          }
          const rv = event.object.metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
        },
        {
          signal: streamAbort.signal,
          onActivity: () => {
            this.lastActivity = Date.now();
          },
        },
      );
    } catch (e) {
      if (isGone(e)) expired = true;
      else if (!streamAbort.signal.aborted) throw e;
    } finally {
      clearInterval(watchdog);
      this.abort.signal.removeEventListener('abort', onStop);
      this.watchDeadline = Infinity;
    }
    if (expired) throw new WatchExpired();
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let attempt = 0;
    let needList = true;
    while (!signal.aborted) {
      const startedAt = Date.now();
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        await this.watchOnce();
      } catch (e) {
        if (signal.aborted) break;
        if (e instanceof WatchExpired) {
          this.stats.relistsOnGone++;
          this.logger.info('resourceVersion expired (410); relisting');
          needList = true;
          continue;
        }
        this.stats.reconnects++;
        if (Date.now() - startedAt >= this.options.healthyAfterMs) attempt = 0;
        const delay = jitteredBackoff(attempt++, {}, this.options.random);
        const detail = e instanceof KubeApiError ? { status: e.status, reason: e.reason } : { error: String(e) };
        this.logger.warn({ ...detail, delayMs: Math.round(delay) }, 'list/watch failed; retrying');
        await sleep(delay, signal);
        continue;
      }
      // The server closed the stream normally (its timeout): resume from where we are. A
      // stream that keeps closing at once is a failure in disguise, so it backs off too.
      if (Date.now() - startedAt >= this.options.healthyAfterMs) attempt = 0;
      else if (Date.now() - startedAt < 1_000) await sleep(jitteredBackoff(attempt++, {}, this.options.random), signal);
    }
  }
}
