// /metrics over HTTPS for callers the API server vouches for, the way controller-runtime's
// metrics filters do (filters.WithAuthenticationAndAuthorization): the bearer token goes to a
// TokenReview, the user it names to a SubjectAccessReview for the request's verb on the
// non-resource URL (`get` on `/metrics`). No token or an unknown one: 401; not allowed: 403;
// the API server unreachable: 500. Answers are cached like controller-runtime's delegating
// authenticator (1 min) and authorizer (allow 5 min, deny 30 s), keyed by a hash of the token,
// so a scrape every 15 s costs no API calls and the token itself is never kept.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeClient } from './kube-client.ts';
import { silentLogger, type Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export interface KeyPair {
  cert: string;
  key: string;
}

export interface SecureMetricsServerOptions {
  metrics: Metrics;
  client: KubeClient;
  logger?: Logger;
  /**
   * `dir`: tls.crt and tls.key there (controller-runtime's CertDir), re-read every
   * `reloadMs` so a renewed Secret takes effect without a restart. `generate`: called once at
   * start, for a self-signed certificate when none is mounted.
   */
  certificate: { dir: string; reloadMs?: number } | { generate: () => Promise<KeyPair> };
  /** Appended to a 403, to say how to get access (e.g. which ClusterRole to bind). */
  forbiddenHint?: string;
  cacheTtlMs?: { authenticated?: number; allowed?: number; denied?: number };
  now?: () => number;
}

interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

interface TokenReview {
  status?: { authenticated?: boolean; user?: UserInfo; error?: string };
}

interface SubjectAccessReview {
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}

type Decision = { status: 200 } | { status: 401 | 403 | 500; message: string };

export class SecureMetricsServer {
  readonly #options: SecureMetricsServerOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #ttl: { authenticated: number; allowed: number; denied: number };
  readonly #users = new Map<string, { user: UserInfo | undefined; until: number }>();
  readonly #decisions = new Map<string, { allowed: boolean; reason: string; until: number }>();
  #server: Server | undefined;
  #reload: NodeJS.Timeout | undefined;
  port = 0;

  constructor(options: SecureMetricsServerOptions) {
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'metrics-server' });
    this.#now = options.now ?? Date.now;
    this.#ttl = { authenticated: 60_000, allowed: 300_000, denied: 30_000, ...options.cacheTtlMs };
  }

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    const certificate = this.#options.certificate;
    const tls = 'dir' in certificate ? await readKeyPair(certificate.dir) : await certificate.generate();
    const server = createServer({ ...tls, minVersion: 'TLSv1.2' }, (req, res) => void this.#handle(req, res));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    if ('dir' in certificate) {
      let current = tls;
      this.#reload = setInterval(() => {
        readKeyPair(certificate.dir)
          .then((next) => {
            if (next.cert === current.cert && next.key === current.key) return;
            server.setSecureContext({ ...next, minVersion: 'TLSv1.2' });
            current = next;
            this.#logger.info({ certDir: certificate.dir }, 'metrics serving certificate reloaded');
          })
          .catch((e: unknown) =>
            this.#logger.warn(
              { err: e instanceof Error ? e.message : String(e), certDir: certificate.dir },
              'could not re-read the metrics serving certificate; keeping the current one',
            ),
          );
      }, certificate.reloadMs ?? 60_000).unref();
    }
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
    return this.port;
  }

  async close(): Promise<void> {
    if (this.#reload) clearInterval(this.#reload);
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const decision = await this.#authorize(req, path);
    if (decision.status !== 200) {
      res.writeHead(decision.status, { 'Content-Type': 'text/plain; charset=utf-8', ...(decision.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}) });
      res.end(`${decision.message}\n`);
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('not found: this port serves /metrics only\n');
      return;
    }
    try {
      const text = await this.#options.metrics.text();
      res.writeHead(200, { 'Content-Type': this.#options.metrics.registry.contentType });
      res.end(text);
    } catch (e) {
      res.writeHead(500);
      res.end(String(e));
    }
  }

  async #authorize(req: IncomingMessage, path: string): Promise<Decision> {
    const header = req.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    if (token === undefined)
      return { status: 401, message: 'Unauthorized: send a bearer token the Kubernetes API server accepts (Authorization: Bearer <ServiceAccount token>)' };
    let user: UserInfo | undefined;
    try {
      user = await this.#authenticate(token);
    } catch (e) {
      this.#logger.error({ err: e instanceof Error ? e.message : String(e) }, 'TokenReview failed');
      return { status: 500, message: 'Authentication failed: the API server could not review the token; try again' };
    }
    if (user === undefined)
      return { status: 401, message: 'Unauthorized: the API server does not accept this token (expired, revoked, or for another cluster)' };
    const verb = (req.method ?? 'GET').toLowerCase();
    let decision: { allowed: boolean; reason: string };
    try {
      decision = await this.#review(user, verb, path);
    } catch (e) {
      this.#logger.error({ err: e instanceof Error ? e.message : String(e), user: user.username }, 'SubjectAccessReview failed');
      return { status: 500, message: `Authorization for user ${user.username} failed: the API server could not review access; try again` };
    }
    if (!decision.allowed) {
      this.#logger.debug({ user: user.username, verb, path, reason: decision.reason }, 'metrics request denied');
      const hint = this.#options.forbiddenHint ? `; ${this.#options.forbiddenHint}` : '';
      return { status: 403, message: `Authorization denied for user ${user.username}: ${verb} on the non-resource URL ${path} is not allowed${hint}` };
    }
    return { status: 200 };
  }

  async #authenticate(token: string): Promise<UserInfo | undefined> {
    const key = createHash('sha256').update(token).digest('hex');
    const now = this.#now();
    const cached = this.#users.get(key);
    if (cached && cached.until > now) return cached.user;
    const review = await this.#options.client.request<TokenReview>('create', 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
    });
    const user = review.status?.authenticated === true && review.status.user?.username ? review.status.user : undefined;
    this.#users.set(key, { user, until: now + this.#ttl.authenticated });
    prune(this.#users, now);
    return user;
  }

  async #review(user: UserInfo, verb: string, path: string): Promise<{ allowed: boolean; reason: string }> {
    const key = JSON.stringify([user.username, user.uid ?? '', [...(user.groups ?? [])].sort(), user.extra ?? {}, verb, path]);
    const now = this.#now();
    const cached = this.#decisions.get(key);
    if (cached && cached.until > now) return cached;
    const review = await this.#options.client.request<SubjectAccessReview>('create', 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, nonResourceAttributes: { path, verb } },
      },
    });
    const allowed = review.status?.allowed === true && review.status.denied !== true;
    const decision = {
      allowed,
      reason: review.status?.reason ?? review.status?.evaluationError ?? '',
      until: now + (allowed ? this.#ttl.allowed : this.#ttl.denied),
    };
    this.#decisions.set(key, decision);
    prune(this.#decisions, now);
    return decision;
  }
}

/** Drops expired entries once a cache grows, so many distinct tokens cannot grow it without bound. */
function prune(cache: Map<string, { until: number }>, now: number): void {
  if (cache.size < 1024) return;
  for (const [key, entry] of cache) if (entry.until <= now) cache.delete(key);
  if (cache.size >= 4096) cache.clear(); // a flood of live tokens: start over rather than grow
}

async function readKeyPair(dir: string): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(join(dir, 'tls.crt'), 'utf8'), readFile(join(dir, 'tls.key'), 'utf8')]);
  return { cert, key };
}
