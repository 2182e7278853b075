// Starting a Node server the way a manager can rely on.
import type { Server } from 'node:net';

/**
 * Starts `server` on `port` (0: any free one) and resolves with the port it got. A port in use
 * rejects, so the start that asked fails and stops what it started; without a listener,
 * the server's 'error' event would crash the whole process instead.
 */
export async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : port;
}
