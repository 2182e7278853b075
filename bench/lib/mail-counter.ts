// A real SMTP server (smtp-server, as the integration tests use) that only counts: messages
// per envelope recipient and when each recipient's first mail arrived. Bodies are drained,
// not parsed, so tens of thousands of mails cost the benchmark process little.
import { SMTPServer } from 'smtp-server';

export interface MailCounter {
  readonly port: number;
  /** Messages accepted so far. */
  total(): number;
  /** Messages per recipient address (lower case). */
  readonly perRecipient: Map<string, number>;
  /** Recipients that got more than one message, with their count. */
  duplicates(): Array<[string, number]>;
  /** Resolves with the arrival time (performance.now()) of the first mail to `address`. */
  firstMailTo(address: string, timeoutMs: number): Promise<number>;
  stop(): Promise<void>;
}

export async function startMailCounter(): Promise<MailCounter> {
  const perRecipient = new Map<string, number>();
  const arrivedAt = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  let total = 0;
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    closeTimeout: 500,
    maxClients: 1000,
    onData(stream, session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        const at = performance.now();
        total += 1;
        for (const r of session.envelope.rcptTo) {
          const address = r.address.toLowerCase();
          perRecipient.set(address, (perRecipient.get(address) ?? 0) + 1);
          if (!arrivedAt.has(address)) arrivedAt.set(address, at);
          waiters.get(address)?.(at);
          waiters.delete(address);
        }
        callback();
      });
    },
  });
  server.on('error', () => {}); // clients that hang up are not our problem here
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    total: () => total,
    perRecipient,
    duplicates: () => [...perRecipient].filter(([, n]) => n > 1),
    firstMailTo(to, timeoutMs) {
      const key = to.toLowerCase();
      const known = arrivedAt.get(key);
      if (known !== undefined) return Promise.resolve(known);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(key);
          reject(new Error(`no mail to ${to} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.set(key, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
