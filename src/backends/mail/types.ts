// The mail backend interface (SPEC §5 "Mail backends"): one small surface, one adapter per
// file (`smtp`, `log`). Adapters translate a finished mail into their transport; what to
// send, when, and whether to retry is the caller's business.

/** A rendered mail, ready to hand to a backend. */
export interface OutgoingMail {
  /** Sender, `Name <address>` or a bare address. Omitted = the backend's configured default sender. */
  readonly from?: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /**
   * The Message-ID header, chosen by the caller (see createMessageId) so that the intent to
   * send can be recorded before the send happens: at most one mail per minted link.
   * Angle brackets included: `<id@domain>`.
   */
  readonly messageId: string;
  /** Extra headers (e.g. `X-Roster-Invitation`). Values must be single-line. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface MailBackend {
  /** Backend name for metrics and logs: `smtp`, `log`. */
  readonly name: string;
  /**
   * Sends one mail; resolves with the Message-ID it went out with, rejects with a MailError.
   * With `signal` aborted (the reconcile was cancelled) it sends nothing and rejects
   * (sendCancelled). A send already under way is not cut: the server may have taken the mail,
   * and an outcome nobody knows is worse than a shutdown a moment later.
   */
  send(message: OutgoingMail, options?: { signal?: AbortSignal }): Promise<{ messageId: string }>;
  /** Checks the backend can send (connects and authenticates); rejects with a MailError. */
  verify(): Promise<void>;
  /** Releases connections; the backend must not be used afterwards. */
  close(): Promise<void>;
}

/** Where backends report sends; wire it to RosterMetrics.mailsSent / mailsFailed (src/metrics.ts). */
export interface MailMetricsSink {
  sent(backend: string): void;
  failed(backend: string): void;
}

/**
 * Why a send failed, as a condition reason (`Delivered=False`). Transport and configuration
 * problems are worth retrying; a server's permanent refusal of this mail is not.
 */
export type MailErrorReason =
  'ConnectionFailed' | 'Timeout' | 'TLSFailed' | 'AuthFailed' | 'TemporarilyRejected' | 'Rejected' | 'InvalidMessage' | 'SendFailed';

/**
 * A failed send or verify. The message is meant for people (conditions, Events, logs) and
 * never contains the mail's content, so never the accept link or its token.
 */
export class MailError extends Error {
  override name = 'MailError';
  readonly reason: MailErrorReason;
  /** Whether the same mail may go through on a later attempt (4xx replies, connection and configuration trouble). */
  readonly retryable: boolean;
  /** The SMTP reply code, when the server gave one. */
  readonly responseCode?: number;
  /** The transport's error code (`ECONNECTION`, `EAUTH`, …), when it gave one. */
  readonly code?: string;

  constructor(message: string, options: { reason: MailErrorReason; retryable: boolean; responseCode?: number; code?: string }) {
    super(redactAcceptLinks(message).text);
    this.reason = options.reason;
    this.retryable = options.retryable;
    if (options.responseCode !== undefined) this.responseCode = options.responseCode;
    if (options.code !== undefined) this.code = options.code;
  }
}

/** Rejects a send whose reconcile was cancelled before it started: nothing left, worth retrying. */
export function throwIfSendCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new MailError('not sent: the operator is stopping; the next reconcile sends it', { reason: 'SendFailed', retryable: true });
}

export function isMailError(error: unknown): error is MailError {
  return error instanceof MailError;
}

/** Placeholder written instead of an accept-link token. */
export const REDACTED = '[redacted]';

// The path segment after /invite/ up to whitespace, a quote, an angle bracket or `&`
// (the end of an href or of a word in text). Query strings go with it: over-redacting is fine.
const ACCEPT_LINK_TOKEN = /(\/invite\/)[^\s"'<>&]+/g;

/** Replaces every `…/invite/<token>` with `…/invite/[redacted]`; counts the links it found. */
export function redactAcceptLinks(text: string): { text: string; count: number } {
  let count = 0;
  const redacted = text.replace(ACCEPT_LINK_TOKEN, (_match, prefix: string) => {
    count += 1;
    return `${prefix}${REDACTED}`;
  });
  return { text: redacted, count };
}

const MESSAGE_ID = /^<[^\s<>@]+@[^\s<>@]+>$/;

/** Whether a string is a Message-ID header value as backends accept it: `<local@domain>`. */
export function isValidMessageId(text: string): boolean {
  return MESSAGE_ID.test(text);
}

/**
 * Checks what a backend cannot fix: a malformed Message-ID, a missing recipient, line breaks
 * in header values (header injection). Throws a permanent MailError.
 */
export function assertSendable(message: OutgoingMail): void {
  const invalid = (what: string): MailError => new MailError(`invalid mail: ${what}`, { reason: 'InvalidMessage', retryable: false });
  if (!isValidMessageId(message.messageId)) throw invalid('messageId must look like <id@domain>');
  if (message.to.trim() === '') throw invalid('no recipient');
  const singleLine: Array<[string, string | undefined]> = [
    ['from', message.from],
    ['to', message.to],
    ['subject', message.subject],
    ...Object.entries(message.headers ?? {}).map(([name, value]): [string, string] => [`header ${name}`, value]),
  ];
  for (const [field, value] of singleLine) {
    if (value !== undefined && /[\r\n]/.test(value)) throw invalid(`${field} contains a line break`);
  }
  for (const name of Object.keys(message.headers ?? {})) {
    if (!/^[!-9;-~]+$/.test(name)) throw invalid(`header name ${JSON.stringify(name)} is not a valid field name`);
  }
}
