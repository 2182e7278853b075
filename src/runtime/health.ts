// The probe and metrics server: /healthz (the process is alive and no watch is stalled),
// /readyz (caches synced), /metrics. It stays up until the very end of a shutdown.
import { createServer, type Server } from 'node:http';
import type { Metrics } from './metrics.ts';
import { listen } from './listen.ts';

export type Check = () => string | undefined; // undefined = healthy, else the reason

export class HealthServer {
  private readonly liveness = new Map<string, Check>();
  private readonly readiness = new Map<string, Check>();
  private readonly metrics: Metrics | undefined;
  private server: Server | undefined;
  private lastTick = Date.now();
  private ticker: NodeJS.Timeout | undefined;
  private metricsMovedTo: string | undefined;
  port = 0;

  constructor(metrics?: Metrics) {
    this.metrics = metrics;
    // A blocked event loop cannot answer probes at all; a starved one answers late. The
    // tick tells the two apart from a slow probe.
    this.addLiveness('event-loop', () => (Date.now() - this.lastTick > 10_000 ? `event loop blocked for ${Date.now() - this.lastTick} ms` : undefined));
  }

  addLiveness(name: string, check: Check): void {
    this.liveness.set(name, check);
  }

  addReadiness(name: string, check: Check): void {
    this.readiness.set(name, check);
  }

  /**
   * Stops serving /metrics here (a SecureMetricsServer serves it instead, so this plain port
   * must not be a way around its authorization); a request gets 404 saying where to go.
   */
  serveMetricsElsewhere(where: string): void {
    this.metricsMovedTo = where;
  }

  private static run(checks: Map<string, Check>): { ok: boolean; body: string } {
    const lines: string[] = [];
    let ok = true;
    for (const [name, check] of checks) {
      let failure: string | undefined;
      try {
        failure = check();
      } catch (e) {
        failure = String(e);
      }
      if (failure) ok = false;
      lines.push(failure ? `[-]${name} failed: ${failure}` : `[+]${name} ok`);
    }
    lines.push(ok ? 'ok' : 'failed');
    return { ok, body: lines.join('\n') + '\n' };
  }

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    this.ticker = setInterval(() => (this.lastTick = Date.now()), 1_000);
    this.ticker.unref();
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/healthz' || path === '/livez' || path === '/readyz') {
        const { ok, body } = HealthServer.run(path === '/readyz' ? new Map([...this.liveness, ...this.readiness]) : this.liveness);
        res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(body);
        return;
      }
      if (path === '/metrics' && this.metricsMovedTo !== undefined) {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`metrics are not served on this port: ${this.metricsMovedTo}\n`);
        return;
      }
      if (path === '/metrics' && this.metrics) {
        this.metrics
          .text()
          .then((text) => {
            res.writeHead(200, { 'Content-Type': this.metrics!.registry.contentType });
            res.end(text);
          })
          .catch((e: unknown) => {
            res.writeHead(500);
            res.end(String(e));
          });
        return;
      }
      res.writeHead(404);
      res.end('not found\n');
    });
    this.port = await listen(this.server, port, host);
    return this.port;
  }

  async close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
