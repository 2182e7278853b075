// A loopback TCP proxy that can freeze its open connections: bytes stop flowing but the
// sockets stay open, which is what a half-open connection looks like to a watch.
import { createServer, connect, type Server, type Socket } from 'node:net';

export class FreezableProxy {
  private readonly server: Server;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; frozen: boolean }>();
  port = 0;

  constructor(targetHost: string, targetPort: number) {
    this.server = createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      const pair = { client, upstream, frozen: false };
      this.pairs.add(pair);
      client.on('data', (d) => pair.frozen || upstream.write(d));
      upstream.on('data', (d) => pair.frozen || client.write(d));
      const close = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', () => !pair.frozen && close());
      upstream.on('close', () => !pair.frozen && close());
      client.on('error', () => {});
      upstream.on('error', () => {});
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this.port;
  }

  /** Stops forwarding on every connection open now; new connections still work. */
  freezeOpenConnections(): number {
    for (const pair of this.pairs) pair.frozen = true;
    return this.pairs.size;
  }

  async stop(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
