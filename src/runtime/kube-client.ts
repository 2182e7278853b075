// The one Kubernetes client of the project: a thin layer over node:https that takes its
// credentials from a kubeconfig (loadKubeConfig, or @kubernetes/client-node's KubeConfig) and
// owns the semantics we care about (typed errors, server-side apply, streaming watches,
// counting writes).
import { AsyncLocalStorage } from 'node:async_hooks';
import * as http from 'node:http';
import * as https from 'node:https';
import { loadKubeConfig } from './kubeconfig.ts';
import type { Priority, TokenBucket } from './rate-limit.ts';

/**
 * What KubeClient needs of a kubeconfig: the current cluster's server and the credentials each
 * request carries. @kubernetes/client-node's KubeConfig has both (the CLI and tests pass one);
 * the operator uses loadKubeConfig (src/runtime/kubeconfig.ts), which spares it that package.
 */
export interface KubeCredentials {
  getCurrentCluster(): { readonly server: string } | null;
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void>;
}

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  creationTimestamp?: string;
  deletionTimestamp?: string;
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Any Kubernetes object; kinds add their own fields (spec, status, data, …). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
}

export interface ObjectList<T extends KubeObject = KubeObject> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** Where a kind lives in the API: enough to build its URLs. */
export interface ResourceRef {
  group: string; // '' for the core group
  version: string;
  plural: string;
  namespaced: boolean;
}

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** A failed API call: the status code and the API server's own Status, if it sent one. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly body: unknown;
  constructor(status: number, reason: string, message: string, body: unknown) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.body = body;
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeApiError && e.status === 404;
export const isConflict = (e: unknown): boolean => e instanceof KubeApiError && e.status === 409;
export const isAlreadyExists = (e: unknown): boolean => e instanceof KubeApiError && e.status === 409 && e.reason === 'AlreadyExists';
export const isGone = (e: unknown): boolean => e instanceof KubeApiError && e.status === 410;

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Receives the API server's warnings (`Warning` headers, e.g. from admission webhooks), when given. */
  warnings?: string[];
  /** The rate limiter lane; default from the request (see requestPriority). */
  priority?: Priority;
}

const priorityScope = new AsyncLocalStorage<Priority>();

/**
 * Runs `work` with every request it makes (however deep) in the given rate-limiter lane, unless
 * a request names its own. For work someone waits on synchronously, such as an admission
 * review that must answer within the webhook's timeout even while a relist fills the queue.
 */
export function withRequestPriority<T>(priority: Priority, work: () => T): T {
  return priorityScope.run(priority, work);
}

/**
 * Which lane of the rate limiter a request waits in: writes to a status subresource (what
 * people and other controllers wait for) and Lease writes (a leader that cannot renew in time
 * stops leading) go first; everything else (reads, lists, watches, spec writes) after them.
 */
export function requestPriority(method: string, path: string): Priority {
  if (method === 'GET') return 'low';
  const segments = (path.split('?')[0] ?? '').split('/').filter(Boolean);
  if (segments[0] === 'apis' && segments[1] === 'coordination.k8s.io') return 'high';
  // After /api/<v> or /apis/<g>/<v>: [namespaces, ns, plural, name, sub] or [plural, name, sub]
  // (a ConfigMap named "status" is no subresource).
  const rest = segments.slice(segments[0] === 'api' ? 2 : 3);
  const subresource = rest[0] === 'namespaces' && rest.length >= 4 ? rest[4] : rest[2];
  return subresource === 'status' ? 'high' : 'low';
}

/** The text of RFC 7234 `Warning` header values as the API server sends them (`299 - "text"`). */
export function parseWarningHeaders(header: string | string[] | undefined): string[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return values.flatMap((v) => [...v.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1')));
}

/** A conditional write the API server accepted (see KubeClient.onAcceptedWrite). */
export interface AcceptedWrite {
  ref: ResourceRef;
  /** The resourceVersion the write was conditional on: the version it replaced. */
  baseResourceVersion: string;
  /** What the API server answered: the object as written. */
  object: KubeObject;
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';
const patchContentTypes: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface KubeClientOptions {
  fieldManager?: string;
  userAgent?: string;
  /** Default per-request timeout; watches have their own. */
  timeoutMs?: number;
  /** Where client-go's request metrics go (the runtime's Metrics.clientSink()); none = not recorded. */
  metrics?: ClientMetricsSink;
  /** Client-side QPS/burst limit shared by every request of this client; none = unlimited. */
  rateLimiter?: TokenBucket;
}

/**
 * client-go's request metrics, counted the way client-go counts them: every request once in
 * `requestDone` when its response headers (or a transport error, code `<error>`) arrive,
 * watches included; `requestDuration` for every request except watches, up to the last byte.
 * `method` is the HTTP method, `host` the API server's host:port from the kubeconfig.
 */
export interface ClientMetricsSink {
  requestDone(request: { code: string; method: string; host: string }): void;
  requestDuration(request: { method: string; host: string }, seconds: number): void;
  /** Time a request waited for the client-side rate limiter (every limited request, 0 included). */
  rateLimited?(request: { method: string; host: string }, seconds: number): void;
}

/** The host[:port] of a server URL as written (client-go's url.Host keeps an explicit :443, WHATWG URL drops it). */
export function serverHost(server: string): string {
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(server)?.[1] ?? '';
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  return host === '' ? 'none' : host;
}

/** Counts requests by verb, so tests and benchmarks can prove that a resync writes nothing. */
export class RequestCounter {
  private readonly counts = new Map<string, number>();
  record(verb: string): void {
    this.counts.set(verb, (this.counts.get(verb) ?? 0) + 1);
  }
  get(verb: string): number {
    return this.counts.get(verb) ?? 0;
  }
  writes(): number {
    return this.get('create') + this.get('update') + this.get('patch') + this.get('delete');
  }
}

export function resourcePath(ref: ResourceRef, namespace?: string, name?: string, subresource?: string): string {
  const base = ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  const ns = ref.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const n = name ? `/${encodeURIComponent(name)}` : '';
  const sub = subresource ? `/${subresource}` : '';
  return `${base}${ns}/${ref.plural}${n}${sub}`;
}

export class KubeClient {
  readonly kubeConfig: KubeCredentials;
  readonly fieldManager: string;
  readonly counter = new RequestCounter();
  private readonly server: URL;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  private readonly agent: http.Agent;
  private readonly metrics: ClientMetricsSink | undefined;
  private readonly host: string;
  private readonly rateLimiter: TokenBucket | undefined;
  private readonly writeListeners = new Set<(write: AcceptedWrite) => void>();

  constructor(kubeConfig: KubeCredentials, options: KubeClientOptions = {}) {
    this.kubeConfig = kubeConfig;
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    this.fieldManager = options.fieldManager ?? 'roster';
    this.userAgent = options.userAgent ?? 'roster';
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.metrics = options.metrics;
    this.rateLimiter = options.rateLimiter;
    this.host = serverHost(cluster.server);
    const isHttps = this.server.protocol === 'https:';
    this.agent = isHttps ? new https.Agent({ keepAlive: true, maxSockets: 64 }) : new http.Agent({ keepAlive: true, maxSockets: 64 });
  }

  static fromFile(path: string, options?: KubeClientOptions): KubeClient {
    return new KubeClient(loadKubeConfig(path), options);
  }

  /** Opens a request and resolves with the response stream once headers arrive. */
  private async open(method: string, path: string, options: RequestOptions): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': this.userAgent };
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const requestOptions: https.RequestOptions = {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      headers,
      agent: this.agent,
    };
    await this.kubeConfig.applyToHTTPSOptions(requestOptions);
    requestOptions.agent = this.agent;
    // applyToHTTPSOptions may hand TLS material through an agent; keep ours and copy it over.
    const transport = url.protocol === 'https:' ? https : http;
    return await new Promise((resolve, reject) => {
      const req = transport.request(requestOptions, (res) => resolve({ res, req }));
      req.on('error', reject);
      const signal = options.signal;
      if (signal) {
        const onAbort = () => req.destroy(new Error('aborted'));
        if (signal.aborted) onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        // One signal often spans many requests (a reconcile's, a controller's): drop the listener
        // when this request is done, or they pile up on the signal.
        req.once('close', () => signal.removeEventListener('abort', onAbort));
      }
      if (options.timeoutMs !== 0) {
        req.setTimeout(options.timeoutMs ?? this.timeoutMs, () => req.destroy(new Error(`request to ${url.pathname} timed out`)));
      }
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Waits for the rate limiter, if any, and records the wait (rest_client_rate_limiter_duration_seconds). */
  private async throttle(method: string, path: string, options: RequestOptions): Promise<void> {
    if (!this.rateLimiter) return;
    const priority = options.priority ?? priorityScope.getStore() ?? requestPriority(method, path);
    const waitedMs = await this.rateLimiter.acquire(priority, options.signal);
    this.metrics?.rateLimited?.({ method, host: this.host }, waitedMs / 1000);
  }

  /** open() after the rate limiter, counted in rest_client_requests_total. */
  private async openCounted(method: string, path: string, options: RequestOptions): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
    await this.throttle(method, path, options);
    try {
      const opened = await this.open(method, path, options);
      this.metrics?.requestDone({ code: String(opened.res.statusCode ?? 0), method, host: this.host });
      return opened;
    } catch (e) {
      // Transport errors are arbitrary strings: one label value, as in client-go.
      this.metrics?.requestDone({ code: '<error>', method, host: this.host });
      throw e;
    }
  }

  async request<T = unknown>(verb: Verb, method: string, path: string, options: RequestOptions = {}): Promise<T> {
    if (options.signal?.aborted) throw new Error('aborted'); // cancelled before it went out: nothing sent
    this.counter.record(verb);
    const started = performance.now();
    try {
      return await this.exchange<T>(method, path, options);
    } finally {
      this.metrics?.requestDuration({ method, host: this.host }, (performance.now() - started) / 1000);
    }
  }

  private async exchange<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const { res } = await this.openCounted(method, path, options);
    options.warnings?.push(...parseWarningHeaders(res.headers.warning));
    const text = await readText(res);
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (for example /readyz): keep the text
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const s = (body ?? {}) as { reason?: string; message?: string };
      throw new KubeApiError(status, s.reason ?? '', `${method} ${path}: ${status} ${s.message ?? text}`.trim(), body);
    }
    return body as T;
  }

  get<T extends KubeObject>(ref: ResourceRef, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>('get', 'GET', resourcePath(ref, namespace, name));
  }

  /** Like get, but undefined when the object does not exist. */
  async find<T extends KubeObject>(ref: ResourceRef, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.get<T>(ref, namespace, name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  list<T extends KubeObject>(ref: ResourceRef, namespace?: string, query?: RequestOptions['query']): Promise<ObjectList<T>> {
    return this.request<ObjectList<T>>('list', 'GET', resourcePath(ref, namespace), { query });
  }

  create<T extends KubeObject>(ref: ResourceRef, object: T): Promise<T> {
    return this.request<T>('create', 'POST', resourcePath(ref, object.metadata.namespace), {
      body: object,
      query: { fieldManager: this.fieldManager },
    });
  }

  async replace<T extends KubeObject>(ref: ResourceRef, object: T, subresource?: string): Promise<T> {
    const written = await this.request<T>('update', 'PUT', resourcePath(ref, object.metadata.namespace, object.metadata.name, subresource), {
      body: object,
      query: { fieldManager: this.fieldManager },
    });
    this.accepted(ref, object.metadata.resourceVersion, written);
    return written;
  }

  /**
   * Tells `listener` of every conditional write (one that carried a resourceVersion) this
   * client made and the API server accepted, with the object it answered: the informers use it
   * to see their own writes before the watch brings them (see Informer). Returns the unsubscribe.
   */
  onAcceptedWrite(listener: (write: AcceptedWrite) => void): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  private accepted(ref: ResourceRef, baseResourceVersion: unknown, object: unknown): void {
    if (typeof baseResourceVersion !== 'string' || !baseResourceVersion || this.writeListeners.size === 0) return;
    const written = object as KubeObject | undefined;
    if (typeof written?.metadata?.resourceVersion !== 'string') return;
    for (const listener of this.writeListeners) listener({ ref, baseResourceVersion, object: written });
  }

  async patch<T extends KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
    subresource?: string,
    options: Pick<RequestOptions, 'signal'> = {},
  ): Promise<T> {
    const query: RequestOptions['query'] = { fieldManager: this.fieldManager };
    if (type === 'apply') query.force = true;
    const written = await this.request<T>('patch', 'PATCH', resourcePath(ref, namespace, name, subresource), {
      body: patch,
      contentType: patchContentTypes[type],
      query,
      signal: options.signal,
    });
    const base = type === 'json' ? undefined : (patch as { metadata?: { resourceVersion?: unknown } } | undefined)?.metadata?.resourceVersion;
    this.accepted(ref, base, written);
    return written;
  }

  /** Server-side apply with our single field manager (force: we own these fields). */
  apply<T extends KubeObject>(ref: ResourceRef, object: T, subresource?: string, options: Pick<RequestOptions, 'signal'> = {}): Promise<T> {
    return this.patch<T>(ref, object.metadata.namespace, object.metadata.name ?? '', 'apply', object, subresource, options);
  }

  async delete(
    ref: ResourceRef,
    namespace: string | undefined,
    name: string,
    options: {
      propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
      preconditionsUid?: string;
      /** Delete only this version (409 Conflict if it changed since). */
      preconditionsResourceVersion?: string;
      signal?: AbortSignal;
    } = {},
  ): Promise<boolean> {
    const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (options.propagationPolicy) body.propagationPolicy = options.propagationPolicy;
    if (options.preconditionsUid || options.preconditionsResourceVersion) {
      body.preconditions = {
        ...(options.preconditionsUid ? { uid: options.preconditionsUid } : {}),
        ...(options.preconditionsResourceVersion ? { resourceVersion: options.preconditionsResourceVersion } : {}),
      };
    }
    try {
      await this.request('delete', 'DELETE', resourcePath(ref, namespace, name), { body, signal: options.signal });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * Streams a watch. Calls onEvent for each event in order and resolves when the server
   * closes the stream; rejects on transport errors and non-2xx answers (410 included).
   * `onActivity` is called for every byte received, so a caller can detect a silent stream.
   */
  async watch<T extends KubeObject>(
    ref: ResourceRef,
    namespace: string | undefined,
    query: RequestOptions['query'],
    onEvent: (event: WatchEvent<T>) => void,
    options: { signal?: AbortSignal; onActivity?: () => void } = {},
  ): Promise<void> {
    this.counter.record('watch');
    // Counted once, when the stream opens; its lifetime is no request latency (client-go does the same).
    const { res, req } = await this.openCounted('GET', resourcePath(ref, namespace), {
      query: { ...query, watch: true },
      signal: options.signal,
      timeoutMs: 0,
    });
    if ((res.statusCode ?? 0) >= 300) {
      const text = await readText(res);
      let status: { reason?: string; message?: string } = {};
      try {
        status = JSON.parse(text) as typeof status;
      } catch {
        /* plain text */
      }
      throw new KubeApiError(res.statusCode ?? 0, status.reason ?? '', `watch ${ref.plural}: ${res.statusCode} ${status.message ?? text}`, status);
    }
    // Decoded as a stream: a character whose UTF-8 bytes straddle two chunks stays whole.
    res.setEncoding('utf8');
    let buffered = '';
    try {
      for await (const chunk of res) {
        options.onActivity?.();
        buffered += chunk as string;
        let start = 0;
        let newline: number;
        while ((newline = buffered.indexOf('\n', start)) >= 0) {
          const line = buffered.slice(start, newline).trim();
          start = newline + 1;
          if (line) onEvent(JSON.parse(line) as WatchEvent<T>);
        }
        buffered = buffered.slice(start);
      }
    } finally {
      req.destroy();
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * A response body as text, decoded across chunk boundaries. Plain events rather than an async
 * iterator: this runs for every request, and the iterator's stream plumbing was a visible part
 * of the operator's CPU profile at scale (issue 14).
 */
function readText(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (text += chunk));
    res.once('end', () => resolve(text));
    res.once('error', reject);
    res.once('close', () => {
      if (!res.complete) reject(new Error('the connection closed before the whole response arrived'));
    });
  });
}
