// The log mail backend, for development: instead of sending, it writes the mail to the
// operator log. Tokens never reach logs (SPEC §5), so accept links are redacted unless
// `includeLinks` is set explicitly — development clusters only, never production.
import { silentLogger, type Logger } from '../../runtime/logger.ts';
import { assertSendable, MailError, redactAcceptLinks, throwIfSendCancelled, type MailBackend, type MailMetricsSink, type OutgoingMail } from './types.ts';

export interface LogMailOptions {
  readonly logger?: Logger;
  /**
   * DEVELOPMENT ONLY: write accept links (and so their tokens) to the log as they are.
   * Anyone who can read the log can then accept the invitation. Default false.
   */
  readonly includeLinks?: boolean;
  /** Sender for mails that do not name one. */
  readonly defaultFrom?: string;
  readonly metrics?: MailMetricsSink;
}

export const LOG_BACKEND_HINT =
  'accept links are redacted in the log; set mail.log.includeLinks: true (development only) to log them, or use the smtp backend with a mail catcher';

export class LogMailBackend implements MailBackend {
  readonly name = 'log';
  private readonly logger: Logger;
  private readonly includeLinks: boolean;
  private readonly defaultFrom: string | undefined;
  private readonly metrics: MailMetricsSink | undefined;

  constructor(options: LogMailOptions = {}) {
    this.logger = (options.logger ?? silentLogger).child({ component: 'mail', backend: 'log' });
    this.includeLinks = options.includeLinks ?? false;
    this.defaultFrom = options.defaultFrom;
    this.metrics = options.metrics;
    if (this.includeLinks) {
      this.logger.warn(
        'mail.log.includeLinks is on: invitation tokens will be written to the log. Development only; anyone reading these logs can accept the invitations',
      );
    }
  }

  async send(message: OutgoingMail, options: { signal?: AbortSignal } = {}): Promise<{ messageId: string }> {
    throwIfSendCancelled(options.signal);
    try {
      assertSendable(message);
    } catch (error) {
      this.metrics?.failed(this.name);
      throw error instanceof MailError ? error : new MailError('invalid mail', { reason: 'InvalidMessage', retryable: false });
    }
    let redactedLinks = 0;
    const clean = (text: string): string => {
      if (this.includeLinks) return text;
      const result = redactAcceptLinks(text);
      redactedLinks += result.count;
      return result.text;
    };
    const mail = {
      messageId: message.messageId,
      from: message.from ?? this.defaultFrom,
      to: message.to,
      subject: clean(message.subject),
      ...(message.headers ? { headers: Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, clean(v)])) } : {}),
      text: clean(message.text),
      html: clean(message.html),
    };
    this.logger.info({ mail, ...(redactedLinks > 0 ? { redactedLinks, hint: LOG_BACKEND_HINT } : {}) }, `mail to ${message.to}: ${mail.subject}`);
    this.metrics?.sent(this.name);
    return { messageId: message.messageId };
  }

  async verify(): Promise<void> {}

  async close(): Promise<void> {}
}

export function createLogMailBackend(options: LogMailOptions = {}): LogMailBackend {
  return new LogMailBackend(options);
}
