import { describe, it, expect } from 'vitest';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../../../src/runtime/logger.ts';
import { LogMailBackend, LOG_BACKEND_HINT } from '../../../../src/backends/mail/log.ts';
import { renderInvitationMail } from '../../../../src/backends/mail/templates.ts';
import { MailError, redactAcceptLinks, type OutgoingMail } from '../../../../src/backends/mail/types.ts';

const TOKEN = 'q0Zb3vX9yJ2m4KcT1sR8uW7eN5aL6pD0hG3fB2iY9oE';
const LINK = `https://roster.example.com/invite/${TOKEN}`;

/** A pino logger whose lines land in an array. */
function capturedLogger(): { logger: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>>; raw: () => string } {
  const stream = new PassThrough();
  let raw = '';
  stream.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
  const logger = createLogger({ level: 'debug', destination: stream });
  return {
    logger,
    raw: () => raw,
    lines: () =>
      raw
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

function countingSink(): { sent: string[]; failed: string[]; sink: { sent(b: string): void; failed(b: string): void } } {
  const sent: string[] = [];
  const failed: string[] = [];
  return { sent, failed, sink: { sent: (b) => sent.push(b), failed: (b) => failed.push(b) } };
}

function invitationMail(): OutgoingMail {
  const rendered = renderInvitationMail({
    teamName: 'acme',
    teamDisplayName: 'Acme Corp',
    inviterName: 'Liam Hillier',
    inviteeEmail: 'riley@acme.com',
    role: 'admin',
    scope: undefined,
    expiresAt: new Date('2026-03-10T14:00:00Z'),
    acceptUrl: LINK,
  });
  return { to: 'riley@acme.com', messageId: '<roster.abc123@acme.com>', headers: { 'X-Roster-Invitation': 'acme/riley-7kq2p' }, ...rendered };
}

describe('LogMailBackend', () => {
  it('logs the mail with every accept link redacted, and a hint', async () => {
    const log = capturedLogger();
    const metrics = countingSink();
    const backend = new LogMailBackend({ logger: log.logger, defaultFrom: 'Roster <roster@localhost>', metrics: metrics.sink });
    const mail = invitationMail();
    expect(mail.text).toContain(TOKEN); // the mail itself does carry the link

    const result = await backend.send(mail);

    expect(result).toEqual({ messageId: '<roster.abc123@acme.com>' });
    expect(log.raw()).not.toContain(TOKEN);
    const [line] = log.lines();
    const logged = line?.mail as Record<string, string>;
    expect(logged.to).toBe('riley@acme.com');
    expect(logged.from).toBe('Roster <roster@localhost>');
    expect(logged.messageId).toBe('<roster.abc123@acme.com>');
    expect(logged.subject).toBe('Liam Hillier invited you to join Acme Corp');
    expect(logged.text).toContain('https://roster.example.com/invite/[redacted]');
    expect(logged.html).toContain('href="https://roster.example.com/invite/[redacted]"');
    expect(logged.text).toContain('Tuesday, 10 March 2026 at 14:00 UTC'); // the rest stays readable
    expect(line?.redactedLinks).toBe(4); // text: 1, html: button + fallback href + fallback text
    expect(line?.hint).toBe(LOG_BACKEND_HINT);
    expect(line?.level).toBe('info');
    expect(metrics.sent).toEqual(['log']);
    expect(metrics.failed).toEqual([]);
  });

  it('adds no hint when there was nothing to redact', async () => {
    const log = capturedLogger();
    await new LogMailBackend({ logger: log.logger }).send({
      to: 'a@b.c',
      from: 'x@y.z',
      subject: 'Hi',
      text: 'no link',
      html: '<p>no link</p>',
      messageId: '<1@y.z>',
    });
    const [line] = log.lines();
    expect(line?.hint).toBeUndefined();
    expect((line?.mail as Record<string, string>).from).toBe('x@y.z');
  });

  it('writes links as they are only with includeLinks, and warns when built that way', async () => {
    const log = capturedLogger();
    const backend = new LogMailBackend({ logger: log.logger, includeLinks: true });
    const [warning] = log.lines();
    expect(warning?.level).toBe('warn');
    expect(warning?.msg).toMatch(/includeLinks is on.*Development only/);

    await backend.send(invitationMail());
    expect(log.raw()).toContain(LINK);
    expect(log.raw()).not.toContain('[redacted]');
  });

  it('refuses a malformed Message-ID or a header with a line break, permanently', async () => {
    const log = capturedLogger();
    const metrics = countingSink();
    const backend = new LogMailBackend({ logger: log.logger, metrics: metrics.sink });
    const bad = [
      { ...invitationMail(), messageId: 'no-brackets@acme.com' },
      { ...invitationMail(), headers: { 'X-Note': 'a\r\nBcc: evil@example.com' } },
      { ...invitationMail(), subject: 'Hi\nBcc: evil@example.com' },
    ];
    for (const mail of bad) {
      const error = await backend.send(mail).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MailError);
      expect((error as MailError).retryable).toBe(false);
      expect((error as MailError).reason).toBe('InvalidMessage');
    }
    expect(metrics.failed).toEqual(['log', 'log', 'log']);
    expect(log.lines()).toEqual([]);
  });

  it('sends nothing when the reconcile was cancelled before the send, and says it may be retried', async () => {
    const { logger, lines } = capturedLogger();
    const { sink, sent, failed } = countingSink();
    const backend = new LogMailBackend({ logger, metrics: sink });
    const error = await backend.send(invitationMail(), { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailError);
    expect(error).toMatchObject({ retryable: true, message: 'not sent: the operator is stopping; the next reconcile sends it' });
    expect(lines().filter((l) => l.mail)).toEqual([]);
    expect([sent, failed]).toEqual([[], []]);
  });

  it('verifies and closes without doing anything', async () => {
    const backend = new LogMailBackend();
    await expect(backend.verify()).resolves.toBeUndefined();
    await expect(backend.close()).resolves.toBeUndefined();
    expect(backend.name).toBe('log');
  });
});

describe('redactAcceptLinks', () => {
  it('replaces every token after /invite/ and counts them', () => {
    const text = `a ${LINK} b <a href="${LINK}?utm=x">${LINK}</a> http://localhost:8081/invite/abc-DEF_123.`;
    const result = redactAcceptLinks(text);
    expect(result.count).toBe(4);
    expect(result.text).toBe(
      'a https://roster.example.com/invite/[redacted] b <a href="https://roster.example.com/invite/[redacted]">https://roster.example.com/invite/[redacted]</a> http://localhost:8081/invite/[redacted]',
    );
  });

  it('is idempotent and leaves other URLs alone', () => {
    const once = redactAcceptLinks(`${LINK} https://example.com/invitation/x`).text;
    expect(redactAcceptLinks(once).text).toBe(once);
    expect(once).toContain('https://example.com/invitation/x');
  });
});

describe('MailError', () => {
  it('redacts accept links from its message', () => {
    const error = new MailError(`server said: 550 spam ${LINK}`, { reason: 'Rejected', retryable: false, responseCode: 550 });
    expect(error.message).toBe('server said: 550 spam https://roster.example.com/invite/[redacted]');
    expect(error.responseCode).toBe(550);
    expect(error.name).toBe('MailError');
  });
});
