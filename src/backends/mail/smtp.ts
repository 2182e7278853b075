// The SMTP mail backend (nodemailer): implicit TLS or STARTTLS, optional auth, a connection
// pool. It translates nodemailer's errors into MailErrors a condition can carry; deciding
// what to do about them is the caller's job.
import nodemailer from 'nodemailer';
import type { NodemailerError, SendMailOptions, SMTPPoolOptions, SMTPTransportOptions } from 'nodemailer';
import type { ConnectionOptions } from 'node:tls';
import { silentLogger, type Logger } from '../../runtime/logger.ts';
import { assertSendable, MailError, throwIfSendCancelled, type MailBackend, type MailErrorReason, type MailMetricsSink, type OutgoingMail } from './types.ts';

export interface SmtpTlsOptions {
  /** CA certificates (PEM) to trust instead of the system's, e.g. a company CA. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Refuse servers whose certificate does not verify (default true). */
  readonly rejectUnauthorized?: boolean;
  /** Name to check the certificate against (SNI), when it differs from `host`. */
  readonly servername?: string;
}

export interface SmtpMailOptions {
  readonly host: string;
  /** Default: 465 with `secure`, else 587. */
  readonly port?: number;
  /** Implicit TLS from the first byte (usually port 465). */
  readonly secure?: boolean;
  /** Refuse to send unless the server upgrades the connection with STARTTLS. */
  readonly requireTLS?: boolean;
  readonly auth?: { readonly user: string; readonly pass: string };
  /** Keep connections open and reuse them (default true). */
  readonly pool?: boolean;
  /** Pooled connections at most (default 3). */
  readonly maxConnections?: number;
  /** Messages per pooled connection before it is replaced (default 100). */
  readonly maxMessages?: number;
  /** Time to open the TCP connection (default 10 s). */
  readonly connectionTimeoutMs?: number;
  /** Time to wait for the server's greeting (default 10 s). */
  readonly greetingTimeoutMs?: number;
  /** Inactivity on an open connection before giving up (default 60 s). */
  readonly socketTimeoutMs?: number;
  readonly tls?: SmtpTlsOptions;
  /** Hostname announced in EHLO (default: the machine's hostname). */
  readonly clientName?: string;
  /** Sender for mails that do not name one. */
  readonly defaultFrom?: string;
  readonly logger?: Logger;
  readonly metrics?: MailMetricsSink;
}

export const SMTP_DEFAULTS = {
  pool: true,
  maxConnections: 3,
  maxMessages: 100,
  connectionTimeoutMs: 10_000,
  greetingTimeoutMs: 10_000,
  socketTimeoutMs: 60_000,
} as const;

/** The transport surface this adapter uses; nodemailer's pooled and plain transports both fit. */
interface SmtpTransporter {
  sendMail(mail: SendMailOptions): Promise<{ messageId: string }>;
  verify(): Promise<true>;
  close(): void;
}

export class SmtpMailBackend implements MailBackend {
  readonly name = 'smtp';
  private readonly transporter: SmtpTransporter;
  private readonly endpoint: string;
  private readonly defaultFrom: string | undefined;
  private readonly logger: Logger;
  private readonly metrics: MailMetricsSink | undefined;

  constructor(options: SmtpMailOptions) {
    const secure = options.secure ?? false;
    const port = options.port ?? (secure ? 465 : 587);
    this.endpoint = `${options.host}:${port}`;
    this.defaultFrom = options.defaultFrom;
    this.logger = (options.logger ?? silentLogger).child({ component: 'mail', backend: 'smtp' });
    this.metrics = options.metrics;

    const tls: ConnectionOptions = { minVersion: 'TLSv1.2' };
    if (options.tls?.ca !== undefined) tls.ca = options.tls.ca as ConnectionOptions['ca'];
    if (options.tls?.rejectUnauthorized !== undefined) tls.rejectUnauthorized = options.tls.rejectUnauthorized;
    if (options.tls?.servername !== undefined) tls.servername = options.tls.servername;

    const common: SMTPTransportOptions = {
      host: options.host,
      port,
      secure,
      requireTLS: options.requireTLS ?? false,
      connectionTimeout: options.connectionTimeoutMs ?? SMTP_DEFAULTS.connectionTimeoutMs,
      greetingTimeout: options.greetingTimeoutMs ?? SMTP_DEFAULTS.greetingTimeoutMs,
      socketTimeout: options.socketTimeoutMs ?? SMTP_DEFAULTS.socketTimeoutMs,
      tls,
      // Mails are rendered text; nothing should make nodemailer read files or fetch URLs.
      disableFileAccess: true,
      disableUrlAccess: true,
      logger: false,
    };
    if (options.auth) common.auth = { user: options.auth.user, pass: options.auth.pass };
    if (options.clientName !== undefined) common.name = options.clientName;

    if (options.pool ?? SMTP_DEFAULTS.pool) {
      const pooled: SMTPPoolOptions & { pool: true } = {
        ...common,
        pool: true,
        maxConnections: options.maxConnections ?? SMTP_DEFAULTS.maxConnections,
        maxMessages: options.maxMessages ?? SMTP_DEFAULTS.maxMessages,
      };
      this.transporter = nodemailer.createTransport(pooled);
    } else {
      this.transporter = nodemailer.createTransport(common);
    }
  }

  async send(message: OutgoingMail, options: { signal?: AbortSignal } = {}): Promise<{ messageId: string }> {
    throwIfSendCancelled(options.signal); // not a failed send: nothing was tried
    try {
      assertSendable(message);
      const from = message.from ?? this.defaultFrom;
      if (from === undefined || from.trim() === '') {
        throw new MailError("invalid mail: no sender (set from, or the backend's default sender)", { reason: 'InvalidMessage', retryable: false });
      }
      const info = await this.transporter.sendMail({
        from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        messageId: message.messageId,
        ...(message.headers ? { headers: { ...message.headers } } : {}),
      });
      this.metrics?.sent(this.name);
      this.logger.debug({ messageId: message.messageId }, 'mail accepted by SMTP server');
      return { messageId: info.messageId || message.messageId };
    } catch (error) {
      const failure = toMailError(error, this.endpoint);
      this.metrics?.failed(this.name);
      this.logger.warn(
        { messageId: message.messageId, reason: failure.reason, retryable: failure.retryable, responseCode: failure.responseCode },
        failure.message,
      );
      throw failure;
    }
  }

  async verify(): Promise<void> {
    try {
      await this.transporter.verify();
    } catch (error) {
      throw toMailError(error, this.endpoint);
    }
  }

  async close(): Promise<void> {
    this.transporter.close();
  }
}

export function createSmtpMailBackend(options: SmtpMailOptions): SmtpMailBackend {
  return new SmtpMailBackend(options);
}

// Error codes that mean the connection or its TLS layer failed, not that the mail was refused.
const CONNECTION_CODES = new Set([
  'ECONNECTION',
  'ESOCKET',
  'EDNS',
  'EPROXY',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);
const AUTH_CODES = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2']);
const MESSAGE_CODES = new Set(['EENVELOPE', 'EMESSAGE', 'EMAXRECIPIENTS', 'ECONFIG', 'ESTREAM']);
// 530 authentication required, 534 mechanism too weak, 535 credentials invalid (RFC 4954).
const AUTH_REPLIES = new Set([530, 534, 535]);

/** TLS failures show up as socket errors carrying OpenSSL's or Node's own code. */
function isTlsFailure(error: NodemailerError): boolean {
  const codes = [error.code, error.originalCode].filter((c): c is string => typeof c === 'string');
  return (
    codes.some((c) => c === 'ETLS' || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_SSL|ERR_TLS|EPROTO/.test(c)) || /certificate|\bTLS\b|SSL/i.test(error.message)
  );
}

/** A server reply made fit for a condition message: one line, bounded, no accept links. */
function describeResponse(response: string | undefined, responseCode: number): string {
  const oneLine = (response ?? String(responseCode))
    // eslint-disable-next-line no-control-regex -- replies are made single-line on purpose
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const bounded = oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine;
  return bounded.startsWith(String(responseCode)) ? bounded : `${responseCode} ${bounded}`;
}

/**
 * Maps a nodemailer (or socket) error to a MailError. SMTP 4xx replies are transient and 5xx
 * permanent (RFC 5321), except 503 "bad sequence", which is about the session, not the mail.
 * Authentication and TLS failures (EAUTH, ETLS, 530/534/535/538 replies) are the operator's
 * configuration, not the recipient's: they stay retryable so the mail goes out once the
 * configuration is fixed.
 */
export function toMailError(error: unknown, endpoint: string): MailError {
  if (error instanceof MailError) return error;
  const e = (error ?? {}) as NodemailerError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const make = (reason: MailErrorReason, retryable: boolean, message: string): MailError =>
    new MailError(message, { reason, retryable, ...(responseCode !== undefined ? { responseCode } : {}), ...(code !== undefined ? { code } : {}) });

  // Configuration problems first: they may come with a 5xx reply, but no mail would get
  // through until someone fixes the config, and then every mail should.
  if ((code !== undefined && AUTH_CODES.has(code)) || (responseCode !== undefined && AUTH_REPLIES.has(responseCode))) {
    const detail = responseCode !== undefined ? `: ${describeResponse(e.response, responseCode)}` : code === 'ENOAUTH' ? ': no credentials configured' : '';
    return make('AuthFailed', true, `SMTP server ${endpoint} refused authentication${detail}`);
  }
  if (code === 'ETLS' || responseCode === 538) {
    const detail = responseCode !== undefined ? describeResponse(e.response, responseCode) : shortReason(e);
    return make('TLSFailed', true, `TLS with SMTP server ${endpoint} failed: ${detail}`);
  }
  if (responseCode !== undefined && responseCode >= 400) {
    const reply = describeResponse(e.response, responseCode);
    const permanent = responseCode >= 500 && responseCode !== 503;
    return permanent
      ? make('Rejected', false, `SMTP server ${endpoint} rejected the mail (${reply})`)
      : make('TemporarilyRejected', true, `SMTP server ${endpoint} temporarily refused the mail (${reply}); will retry`);
  }
  if (code !== undefined && TIMEOUT_CODES.has(code))
    return make('Timeout', true, `SMTP server ${endpoint} timed out${e.timeoutType ? ` (${e.timeoutType.toLowerCase().replace(/_/g, ' ')})` : ''}`);
  if (isTlsFailure(e)) return make('TLSFailed', true, `TLS with SMTP server ${endpoint} failed: ${shortReason(e)}`);
  if (code !== undefined && CONNECTION_CODES.has(code)) return make('ConnectionFailed', true, `cannot reach SMTP server ${endpoint}: ${shortReason(e)}`);
  if (code !== undefined && MESSAGE_CODES.has(code)) return make('InvalidMessage', false, `SMTP mail to ${endpoint} is not sendable: ${shortReason(e)}`);
  return make('SendFailed', true, `sending through SMTP server ${endpoint} failed: ${shortReason(e)}`);
}

function shortReason(error: NodemailerError): string {
  const original = error.originalCode ?? (error.code && !/^E[A-Z]+$/.test(error.code) ? error.code : undefined);
  const text = (error.message || 'unknown error').replace(/\s+/g, ' ').trim();
  const bounded = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return original !== undefined && !bounded.includes(original) ? `${bounded} (${original})` : bounded;
}
