// The HTTPS endpoint the API server calls: POST /validate and POST /mutate with an
// AdmissionReview v1, HTTP/1.1 only. New certificates are taken without a restart
// (setSecureContext). Bad requests get a 4xx with a reason; nothing here answers 500.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Logger } from '../runtime/logger.ts';
import type { Metrics } from '../runtime/metrics.ts';
import type { TlsMaterial } from './certificates.ts';
import type { AdmissionHandler } from './handler.ts';
import { MUTATE_PATH, VALIDATE_PATH } from './registration.ts';
import type { AdmissionReviewResponse } from './review.ts';

/** The API server caps objects at 3 MiB; a review carries the object and the old one. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;

export interface AdmissionServerOptions {
  handler: AdmissionHandler;
  metrics?: Metrics;
  logger: Logger;
  maxBodyBytes?: number;
  /** Called for every denied review (answered 200 like allowed ones, so the request metrics cannot tell them apart). */
  onDenied?: (webhook: string) => void;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The API server appends `?timeout=5s`; leave some of it for the answer's way back. */
export function deadlineFor(url: URL, start: number): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(url.searchParams.get('timeout') ?? '');
  const ms = match ? Number(match[1]) * (match[2] === 'ms' ? 1 : match[2] === 's' ? 1000 : 60_000) : DEFAULT_TIMEOUT_MS;
  return start + Math.max(200, Math.min(ms, 30_000) - 300);
}

export class AdmissionServer {
  private readonly options: AdmissionServerOptions;
  private server: Server | undefined;
  port = 0;

  constructor(options: AdmissionServerOptions) {
    this.options = options;
  }

  async listen(port: number, host: string, tls: TlsMaterial): Promise<number> {
    const server = createServer(
      {
        cert: tls.cert,
        key: tls.key,
        minVersion: 'TLSv1.2',
        ALPNProtocols: ['http/1.1'],
        requestTimeout: 30_000,
        headersTimeout: 10_000,
        keepAliveTimeout: 30_000,
      },
      (req, res) => void this.serve(req, res),
    );
    server.on('tlsClientError', (e) => this.options.logger.debug({ err: e.message }, 'webhook TLS handshake failed'));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : port;
    return this.port;
  }

  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  /** New certificate, same server: connections from now on get it. */
  setCertificate(tls: TlsMaterial): void {
    this.server?.setSecureContext({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' });
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // The API server keeps idle connections to a webhook open (Go's default: 90 s); a request
    // in flight gets a moment to finish, then every connection goes so close() can return.
    const grace = setTimeout(() => server.closeAllConnections(), 2_000);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    clearTimeout(grace);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const start = Date.now();
    // Answers take well under a millisecond: Date.now()'s whole milliseconds would read 0 or 1.
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'https://webhook');
    const path = url.pathname;
    const known = path === VALIDATE_PATH || path === MUTATE_PATH;
    const webhook = known ? path : 'other';
    const { metrics } = this.options;
    metrics?.webhookInFlight.inc({ webhook });
    let status = 200;
    try {
      if (path === '/healthz' && req.method === 'GET') {
        this.send(res, 200, 'ok\n', 'text/plain');
        return;
      }
      if (!known) throw new HttpError(404, `no webhook at ${path}; use ${VALIDATE_PATH} or ${MUTATE_PATH}`);
      if (req.method !== 'POST') throw new HttpError(405, 'admission reviews are POSTed');
      const type = req.headers['content-type'];
      if (type && !/^application\/json\b/i.test(type)) throw new HttpError(415, 'expected Content-Type application/json');
      const body = await this.readBody(req);
      const answer =
        path === VALIDATE_PATH ? await this.options.handler.validateBody(body, deadlineFor(url, start)) : await this.options.handler.mutateBody(body);
      if ('malformed' in answer) throw new HttpError(400, answer.malformed);
      this.logDecision(path, answer, Date.now() - start);
      this.send(res, 200, JSON.stringify(answer), 'application/json');
    } catch (e) {
      status = e instanceof HttpError ? e.status : 400;
      this.send(res, status, `${e instanceof Error ? e.message : String(e)}\n`, 'text/plain');
    } finally {
      metrics?.webhookInFlight.dec({ webhook });
      metrics?.webhookRequests.inc({ webhook, code: String(status) });
      if (known) metrics?.webhookLatency.observe({ webhook }, (performance.now() - started) / 1000);
    }
  }

  private send(res: ServerResponse, status: number, body: string, type: string): void {
    if (res.headersSent) return;
    res.writeHead(status, { 'Content-Type': `${type}; charset=utf-8`, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  private async readBody(req: IncomingMessage): Promise<string> {
    const limit = this.options.maxBodyBytes ?? MAX_BODY_BYTES;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      throw new HttpError(413, `request body over ${limit} bytes`);
    }
    // Drain an oversized body rather than cut the connection, so the caller gets the 413.
    return await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= limit) chunks.push(chunk);
      });
      req.on('end', () => (size > limit ? reject(new HttpError(413, `request body over ${limit} bytes`)) : resolve(Buffer.concat(chunks).toString('utf8'))));
      req.on('error', reject);
    });
  }

  private logDecision(path: string, answer: AdmissionReviewResponse, ms: number): void {
    const r = answer.response;
    if (!r.allowed) this.options.onDenied?.(path);
    if (!r.allowed) this.options.logger.info({ webhook: path, uid: r.uid, message: r.status?.message, ms }, 'admission denied');
    else this.options.logger.debug({ webhook: path, uid: r.uid, ms }, 'admission allowed');
  }
}
