// A real SMTP server for tests (smtp-server on a free loopback port). Every message is parsed
// with mailparser and kept in memory. Optional STARTTLS or implicit TLS with a self-signed
// certificate made by `openssl` at runtime, optional AUTH PLAIN/LOGIN with a fixed user, and
// scripted failures of the next DATA with a chosen SMTP code.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export const TEST_SMTP_USER = 'roster-test';
export const TEST_SMTP_PASSWORD = 'correct horse battery staple';

export interface TestSmtpOptions {
  /** Runs after a message is stored and before the server answers 250 (tests crash clients here). */
  beforeReply?: (mail: ParsedMail) => Promise<void>;
  /** `starttls`: plain connection upgraded by STARTTLS; `implicit`: TLS from the first byte. Default `none`. */
  readonly tls?: 'none' | 'starttls' | 'implicit';
  /** Require AUTH (PLAIN or LOGIN) as TEST_SMTP_USER / TEST_SMTP_PASSWORD. */
  readonly auth?: boolean;
}

export interface ReceivedMail {
  readonly mail: ParsedMail;
  /** smtp-server's id of the connection the mail came over. */
  readonly sessionId: string;
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  readonly user: string | undefined;
  /** Whether the connection was TLS when the mail arrived. */
  readonly secure: boolean;
}

export interface TestSmtpServer {
  readonly host: string;
  readonly port: number;
  /** The server's self-signed certificate (PEM), to trust as a CA; undefined without TLS. */
  readonly certificate: string | undefined;
  /** Parsed messages in arrival order. */
  readonly messages: ParsedMail[];
  /** The same messages with their envelope and connection. */
  readonly received: ReceivedMail[];
  /** Connections opened so far. */
  connections(): number;
  /** Resolves once at least `count` messages arrived; rejects after `timeoutMs`. */
  waitForMessages(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  /** Answers the next DATA with this SMTP reply code (queued: call twice to fail two). */
  failNext(code: number, text?: string): void;
  stop(): Promise<void>;
}

const run = promisify(execFile);
let certificate: Promise<{ key: string; cert: string }> | undefined;

/** A self-signed certificate for localhost / 127.0.0.1, made once per test process. */
export function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  certificate ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'roster-smtp-tls-'));
    try {
      const keyPath = join(dir, 'key.pem');
      const certPath = join(dir, 'cert.pem');
      await run('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        '2',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
      ]);
      return { key: await readFile(keyPath, 'utf8'), cert: await readFile(certPath, 'utf8') };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return certificate;
}

export async function startSmtpServer(options: TestSmtpOptions = {}): Promise<TestSmtpServer> {
  const tlsMode = options.tls ?? 'none';
  const tls = tlsMode === 'none' ? undefined : await selfSignedCertificate();
  const messages: ParsedMail[] = [];
  const received: ReceivedMail[] = [];
  const failures: Array<{ code: number; text: string }> = [];
  const waiters = new Set<() => void>();
  let connections = 0;

  const disabled: string[] = [];
  if (tlsMode === 'none') disabled.push('STARTTLS'); // smtp-server would otherwise offer it with a built-in certificate
  if (!options.auth) disabled.push('AUTH');

  const serverOptions: SMTPServerOptions = {
    secure: tlsMode === 'implicit',
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    disabledCommands: disabled,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !options.auth,
    allowInsecureAuth: tlsMode === 'none',
    logger: false,
    closeTimeout: 500,
    onConnect(_session, callback) {
      connections += 1;
      callback();
    },
    onAuth(auth, _session, callback) {
      if (auth.username === TEST_SMTP_USER && auth.password === TEST_SMTP_PASSWORD) callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const failure = failures.shift();
      if (failure) {
        stream.on('end', () => callback(Object.assign(new Error(failure.text), { responseCode: failure.code })));
        stream.resume();
        return;
      }
      simpleParser(stream).then(
        (mail) => {
          messages.push(mail);
          received.push({
            mail,
            sessionId: session.id,
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            user: typeof session.user === 'string' ? session.user : undefined,
            secure: session.secure,
          });
          for (const wake of [...waiters]) wake();
          (options.beforeReply?.(mail) ?? Promise.resolve()).then(
            () => callback(),
            () => callback(),
          );
        },
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
    },
  };
  const server = new SMTPServer(serverOptions);
  server.on('error', () => {}); // client disconnects mid-test are expected

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    host: '127.0.0.1',
    port,
    certificate: tls?.cert,
    messages,
    received,
    connections: () => connections,
    waitForMessages(count, timeoutMs = 5_000) {
      return new Promise<ParsedMail[]>((resolve, reject) => {
        const check = (): void => {
          if (messages.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(messages.slice());
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`expected ${count} message(s) within ${timeoutMs} ms, got ${messages.length}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    failNext(code, text) {
      failures.push({ code, text: text ?? (code >= 500 ? 'Message rejected by test server' : 'Try again later (test server)') });
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
