// An Event recorder on events.k8s.io/v1, in the spirit of client-go's EventRecorder:
// - the same occurrence (regarding object, type, reason, action, note) within a window
//   becomes one Event whose `series` counts it, instead of one Event per occurrence. In
//   events.k8s.io/v1 an Event without `series` stands for one occurrence and the API
//   server refuses a series with count < 2, so the first occurrence creates the Event, the
//   second adds series { count: 2 }, the fifth makes it 5;
// - a token bucket per regarding object (burst 25, one token back every 5 min, as
//   client-go's spam filter) plus a global bucket and a bound on queued writes, so a hot
//   loop cannot flood the API server; what goes over is dropped with a debug log;
// - notes are scrubbed of anything that looks like a token, then cut to the API's 1 kB;
// - record() never throws and never waits: writes run in the background, one chain per
//   Event (create before patch), and flush() awaits them.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { coreResources as resources } from './core-resources.ts';
import { isNotFound, type KubeClient, type KubeObject } from './kube-client.ts';
import { silentLogger } from './logger.ts';

export type EventType = 'Normal' | 'Warning';

export interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

export interface EventSeries {
  count: number;
  /** MicroTime. */
  lastObservedTime: string;
}

/** An events.k8s.io/v1 Event (the fields we write). */
export interface KubeEvent extends KubeObject {
  /** MicroTime of the first occurrence. */
  eventTime: string;
  series?: EventSeries;
  reportingController: string;
  reportingInstance: string;
  action: string;
  reason: string;
  regarding: ObjectReference;
  note?: string;
  type: EventType;
}

/** The API server's limits (k8s.io/kubernetes/pkg/apis/core/validation). */
export const noteLimitBytes = 1024;
const fieldLimit = 128;

/** RFC 3339 with exactly six fractional digits, as metav1.MicroTime expects. */
export function toMicroTime(at: Date | number): string {
  const iso = (typeof at === 'number' ? new Date(at) : at).toISOString();
  return iso.replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** A reason is CamelCase (`InvitationSent`), as Kubernetes' own reasons are. */
export function isValidReason(reason: string): boolean {
  return reason.length <= fieldLimit && /^[A-Z][A-Za-z0-9]*$/.test(reason);
}

// Runs of base64url characters long enough to be a credential (24+ random bytes).
const tokenLike = /[A-Za-z0-9_-]{32,}/g;
// Lowercase words joined by '-' or '_' (Kubernetes names, label keys): long ones are common
// in notes and a random token essentially never has this shape.
const separatedWords = /^[a-z0-9]+(?:[-_][a-z0-9]+)+$/;

/**
 * Replaces whatever looks like a token with `[redacted]`: a defensive last line, since
 * nothing should put a secret in a note in the first place. Hyphenated lowercase names are
 * kept unless one of their words alone is token-long.
 */
export function scrubSecrets(text: string): string {
  return text.replace(tokenLike, (run) => (separatedWords.test(run) && run.split(/[-_]/).every((word) => word.length < 32) ? run : '[redacted]'));
}

/** Cuts `note` to at most `maxBytes` of UTF-8, never inside a character, marking the cut. */
export function truncateNote(note: string, maxBytes = noteLimitBytes): string {
  if (Buffer.byteLength(note, 'utf8') <= maxBytes) return note;
  const marker = '…';
  const budget = maxBytes - Buffer.byteLength(marker, 'utf8');
  let used = 0;
  let out = '';
  for (const ch of note) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (used + size > budget) break;
    used += size;
    out += ch;
  }
  return out + marker;
}

export function objectReference(object: KubeObject): ObjectReference {
  const m = object.metadata;
  const ref: ObjectReference = {};
  if (object.apiVersion) ref.apiVersion = object.apiVersion;
  if (object.kind) ref.kind = object.kind;
  if (m.name) ref.name = m.name;
  if (m.namespace) ref.namespace = m.namespace;
  if (m.uid) ref.uid = m.uid;
  if (m.resourceVersion) ref.resourceVersion = m.resourceVersion;
  return ref;
}

/** Identifies the regarding object: its uid, or where it lives when it has none. */
export function regardingKey(ref: ObjectReference): string {
  return ref.uid || `${ref.apiVersion ?? ''}/${ref.kind ?? ''}/${ref.namespace ?? ''}/${ref.name ?? ''}`;
}

/** Occurrences with the same key fold into one Event's series. */
export function eventSeriesKey(ref: ObjectReference, type: EventType, reason: string, action: string, note: string): string {
  return JSON.stringify([regardingKey(ref), type, reason, action, note]);
}

export interface TokenBucketOptions {
  /** Tokens available at first, and at most. */
  burst: number;
  /** One token comes back every this many ms. */
  refillEveryMs: number;
}

/** A token bucket over explicit times, so it can be tested without a clock. */
export class TokenBucket {
  readonly #burst: number;
  readonly #refillEveryMs: number;
  #tokens: number;
  #at: number;

  constructor({ burst, refillEveryMs }: TokenBucketOptions, now: number) {
    if (!(burst >= 1) || !(refillEveryMs > 0)) throw new RangeError('burst must be >= 1 and refillEveryMs > 0');
    this.#burst = burst;
    this.#refillEveryMs = refillEveryMs;
    this.#tokens = burst;
    this.#at = now;
  }

  tokens(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** Takes a token if one is there. */
  tryTake(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #refill(now: number): void {
    // A clock that steps back refills nothing rather than draining.
    const elapsed = Math.max(0, now - this.#at);
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed / this.#refillEveryMs);
    this.#at = Math.max(this.#at, now);
  }
}

export interface EventRecorderOptions {
  client: KubeClient;
  /** `reportingController`; default 'roster.dev/operator'. */
  reportingController?: string;
  /** `reportingInstance` (this replica); default the hostname. At most 128 characters. */
  reportingInstance?: string;
  /** Occurrences closer than this to the previous one join its series (10 min). */
  seriesWindowMs?: number;
  /** Per regarding object (burst 25, one back every 5 min). */
  perObjectLimit?: TokenBucketOptions;
  /** Across all objects (burst 100, then 10 per second). */
  globalLimit?: TokenBucketOptions;
  /** Writes queued or in flight beyond this are dropped (1000). */
  maxPendingWrites?: number;
  /** How many series and per-object buckets are remembered (LRU, 4096). */
  maxTrackedObjects?: number;
  logger?: Logger;
  /** Wall-clock milliseconds (Date.now). */
  clock?: { now(): number };
}

export interface EventRecorderStats {
  /** Occurrences accepted (new Events and series updates). */
  recorded: number;
  created: number;
  patched: number;
  /** Over a rate limit or the write queue bound. */
  dropped: number;
  /** Refused for bad arguments (type, reason, action, regarding without a name). */
  invalid: number;
  /** Writes the API server refused or that never reached it. */
  failed: number;
}

interface Series {
  key: string;
  event: KubeEvent;
  count: number;
  lastObservedAt: number;
  /** The count the API server has (or is being sent); 0 before the create. */
  writtenCount: number;
  patchQueued: boolean;
  failed: boolean;
  chain: Promise<void>;
}

export const defaultReportingController = 'roster.dev/operator';

export class EventRecorder {
  readonly reportingController: string;
  readonly reportingInstance: string;
  readonly stats: EventRecorderStats = { recorded: 0, created: 0, patched: 0, dropped: 0, invalid: 0, failed: 0 };
  readonly #client: KubeClient;
  readonly #seriesWindowMs: number;
  readonly #perObjectLimit: TokenBucketOptions;
  readonly #maxPendingWrites: number;
  readonly #maxTracked: number;
  readonly #logger: Logger;
  readonly #clock: { now(): number };
  readonly #global: TokenBucket;
  // Both maps are kept in least-recently-used order (re-inserted on use).
  readonly #series = new Map<string, Series>();
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #inflight = new Set<Promise<void>>();
  #lastNanos = 0n;

  constructor(options: EventRecorderOptions) {
    this.#client = options.client;
    this.reportingController = options.reportingController ?? defaultReportingController;
    this.reportingInstance = (options.reportingInstance ?? hostname()).slice(0, fieldLimit);
    this.#seriesWindowMs = options.seriesWindowMs ?? 10 * 60_000;
    this.#perObjectLimit = options.perObjectLimit ?? { burst: 25, refillEveryMs: 5 * 60_000 };
    this.#maxPendingWrites = options.maxPendingWrites ?? 1000;
    this.#maxTracked = options.maxTrackedObjects ?? 4096;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'events' });
    this.#clock = options.clock ?? Date;
    this.#global = new TokenBucket(options.globalLimit ?? { burst: 100, refillEveryMs: 100 }, this.#clock.now());
  }

  /**
   * Records an occurrence about `regarding`. Returns whether it was accepted (written or
   * counted into a series) — never throws; rejected or failed ones are logged.
   */
  record(regarding: KubeObject, type: EventType, reason: string, action: string, note: string): boolean {
    try {
      return this.#record(regarding, type, reason, action, note);
    } catch (err) {
      this.stats.failed++;
      this.#logger.error({ err, reason }, 'recording an event failed');
      return false;
    }
  }

  /** Resolves when every write queued so far (and any queued meanwhile) has finished. */
  async flush(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  #record(regarding: KubeObject, type: EventType, reason: string, action: string, note: string): boolean {
    const ref = objectReference(regarding);
    const problem =
      type !== 'Normal' && type !== 'Warning'
        ? `type must be Normal or Warning, got ${String(type)}`
        : !isValidReason(reason)
          ? `reason must be CamelCase and at most ${fieldLimit} characters, got ${JSON.stringify(reason)}`
          : action === '' || action.length > fieldLimit
            ? `action must have 1 to ${fieldLimit} characters`
            : !ref.name
              ? 'the regarding object has no name'
              : undefined;
    if (problem !== undefined) {
      this.stats.invalid++;
      this.#logger.error({ reason, action, regarding: regardingKey(ref) }, `event not recorded: ${problem}`);
      return false;
    }

    const now = this.#clock.now();
    const who = regardingKey(ref);
    if (!this.#allow(who, now)) {
      this.stats.dropped++;
      this.#logger.debug({ reason, regarding: who }, 'event dropped: rate limit');
      return false;
    }

    const text = truncateNote(scrubSecrets(note));
    const key = eventSeriesKey(ref, type, reason, action, text);
    let series = this.#series.get(key);
    if (series !== undefined && (series.failed || now - series.lastObservedAt > this.#seriesWindowMs)) {
      this.#series.delete(key);
      series = undefined;
    }

    if (series !== undefined) {
      const existing = series;
      existing.count++;
      existing.lastObservedAt = now;
      this.#touch(this.#series, key, existing);
      // One queued patch carries every occurrence counted until it runs.
      if (!existing.patchQueued) {
        if (!this.#roomToWrite(who, reason)) return false;
        existing.patchQueued = true;
        this.#enqueue(existing, () => this.#writeSeries(existing));
      }
      this.stats.recorded++;
      return true;
    }

    if (!this.#roomToWrite(who, reason)) return false;
    const event: KubeEvent = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: this.#eventName(ref.name ?? '', now), namespace: ref.namespace || 'default' },
      eventTime: toMicroTime(now),
      reportingController: this.reportingController,
      reportingInstance: this.reportingInstance,
      action,
      reason,
      regarding: ref,
      note: text,
      type,
    };
    const created: Series = { key, event, count: 1, lastObservedAt: now, writtenCount: 0, patchQueued: false, failed: false, chain: Promise.resolve() };
    this.#touch(this.#series, key, created);
    this.#enqueue(created, () => this.#create(created));
    this.stats.recorded++;
    return true;
  }

  // Takes a token from the object's bucket and the global one, or from neither.
  #allow(who: string, now: number): boolean {
    let bucket = this.#buckets.get(who);
    if (bucket === undefined) bucket = new TokenBucket(this.#perObjectLimit, now);
    this.#touch(this.#buckets, who, bucket);
    if (bucket.tokens(now) < 1 || this.#global.tokens(now) < 1) return false;
    bucket.tryTake(now);
    this.#global.tryTake(now);
    return true;
  }

  #roomToWrite(who: string, reason: string): boolean {
    if (this.#inflight.size < this.#maxPendingWrites) return true;
    this.stats.dropped++;
    this.#logger.debug({ reason, regarding: who }, 'event dropped: too many pending writes');
    return false;
  }

  #touch<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > this.#maxTracked) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
  }

  // client-go's `<regarding name>.<UnixNano in hex>`, kept unique within this process.
  #eventName(regardingName: string, now: number): string {
    let nanos = BigInt(Math.floor(now)) * 1_000_000n;
    if (nanos <= this.#lastNanos) nanos = this.#lastNanos + 1n;
    this.#lastNanos = nanos;
    const suffix = `.${nanos.toString(16)}`;
    const prefix = regardingName.slice(0, 253 - suffix.length).replace(/[.-]+$/, '');
    return `${prefix}${suffix}`;
  }

  #enqueue(series: Series, write: () => Promise<void>): void {
    const next = series.chain.then(write).catch((err: unknown) => {
      this.stats.failed++;
      // A namespace being deleted refuses new content, Events included: expected, not a warning.
      const terminating = err instanceof Error && /because it is being terminated/.test(err.message);
      if (terminating)
        this.#logger.debug({ reason: series.event.reason, namespace: series.event.metadata.namespace }, 'event not written: its namespace is being deleted');
      else this.#logger.warn({ err, reason: series.event.reason }, 'writing an event failed');
    });
    series.chain = next;
    this.#inflight.add(next);
    void next.finally(() => this.#inflight.delete(next));
  }

  #seriesField(series: Series): EventSeries {
    return { count: series.count, lastObservedTime: toMicroTime(series.lastObservedAt) };
  }

  async #create(series: Series): Promise<void> {
    // Occurrences that came in before the create ran go in with it.
    const count = series.count;
    const body: KubeEvent = count >= 2 ? { ...series.event, series: this.#seriesField(series) } : series.event;
    try {
      await this.#client.create(resources.event, body);
    } catch (err) {
      series.failed = true; // the next occurrence starts over with a create
      throw err;
    }
    series.writtenCount = count;
    this.stats.created++;
  }

  async #writeSeries(series: Series): Promise<void> {
    series.patchQueued = false;
    if (series.failed || series.count === series.writtenCount) return;
    const count = series.count;
    const field = this.#seriesField(series);
    try {
      await this.#client.patch(resources.event, series.event.metadata.namespace, series.event.metadata.name ?? '', 'merge', { series: field });
      this.stats.patched++;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // The Event expired (the API server keeps them an hour by default): write it anew.
      series.event = {
        ...series.event,
        metadata: { name: this.#eventName(series.event.regarding.name ?? '', this.#clock.now()), namespace: series.event.metadata.namespace },
      };
      try {
        await this.#client.create(resources.event, { ...series.event, series: field });
      } catch (createErr) {
        series.failed = true;
        throw createErr;
      }
      this.stats.created++;
    }
    series.writtenCount = count;
  }
}
