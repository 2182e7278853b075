// The SMTP backend against a real SMTP server (smtp-server on loopback); no cluster needed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { createMessageId } from '../../../../src/backends/mail/message-id.ts';
import { SmtpMailBackend, type SmtpMailOptions } from '../../../../src/backends/mail/smtp.ts';
import { renderInvitationMail } from '../../../../src/backends/mail/templates.ts';
import { MailError, type MailMetricsSink, type OutgoingMail } from '../../../../src/backends/mail/types.ts';
import { startSmtpServer, TEST_SMTP_PASSWORD, TEST_SMTP_USER, type TestSmtpServer } from '../../support/smtp.ts';

const TOKEN = 'q0Zb3vX9yJ2m4KcT1sR8uW7eN5aL6pD0hG3fB2iY9oE';
const ACCEPT_URL = `https://roster.example.com/invite/${TOKEN}`;

const backends: SmtpMailBackend[] = [];
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

function backend(server: TestSmtpServer, options: Partial<SmtpMailOptions> = {}): SmtpMailBackend {
  const created = new SmtpMailBackend({
    host: server.host,
    port: server.port,
    pool: false,
    connectionTimeoutMs: 3_000,
    greetingTimeoutMs: 3_000,
    socketTimeoutMs: 5_000,
    ...options,
  });
  backends.push(created);
  return created;
}

function mail(overrides: Partial<OutgoingMail> = {}): OutgoingMail {
  return {
    from: 'Acme <team@acme.com>',
    to: 'riley@acme.com',
    subject: 'Liam Hillier invited you to join Acme Corp',
    text: `Accept: ${ACCEPT_URL}`,
    html: `<p><a href="${ACCEPT_URL}">Accept invitation</a></p>`,
    messageId: createMessageId('team@acme.com'),
    ...overrides,
  };
}

function countingSink(): MailMetricsSink & { sentCount: number; failedCount: number } {
  const sink = { sentCount: 0, failedCount: 0, sent: () => void sink.sentCount++, failed: () => void sink.failedCount++ };
  return sink;
}

async function failure(promise: Promise<unknown>): Promise<MailError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MailError);
  return error as MailError;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

describe('SMTP backend, plain connection', () => {
  let server: TestSmtpServer;
  beforeAll(async () => {
    server = await startSmtpServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('delivers the mail with the Message-ID the caller chose', async () => {
    const metrics = countingSink();
    const outgoing = mail({ headers: { 'X-Roster-Invitation': 'acme/riley-7kq2p' } });
    const before = server.messages.length;

    const result = await backend(server, { metrics }).send(outgoing);

    expect(result.messageId).toBe(outgoing.messageId);
    const [received] = (await server.waitForMessages(before + 1)).slice(before);
    expect(received?.messageId).toBe(outgoing.messageId);
    expect(received?.subject).toBe(outgoing.subject);
    expect(received?.from?.value).toEqual([{ address: 'team@acme.com', name: 'Acme' }]);
    expect(received?.text?.trim()).toBe(outgoing.text);
    expect(received?.html).toContain(`href="${ACCEPT_URL}"`);
    expect(received?.headers.get('x-roster-invitation')).toBe('acme/riley-7kq2p');
    expect(server.received.at(-1)?.envelope).toEqual({ from: 'team@acme.com', to: ['riley@acme.com'] });
    expect(metrics).toMatchObject({ sentCount: 1, failedCount: 0 });
  });

  it('uses the default sender when the mail names none', async () => {
    const before = server.messages.length;
    const { from: _from, ...withoutFrom } = mail();
    await backend(server, { defaultFrom: 'Roster <roster@example.org>' }).send(withoutFrom);
    const [received] = (await server.waitForMessages(before + 1)).slice(before);
    expect(received?.from?.value).toEqual([{ address: 'roster@example.org', name: 'Roster' }]);
  });

  it('delivers a rendered invitation intact: link, expiry, escaped names', async () => {
    const rendered = renderInvitationMail({
      teamName: 'acme',
      teamDisplayName: 'Acme & Co <Shop>',
      inviterName: 'Liam Hillier',
      inviteeEmail: 'riley@acme.com',
      role: 'developer',
      scope: [{ project: 'shop', environments: ['staging'] }],
      expiresAt: new Date('2026-03-10T14:00:00Z'),
      acceptUrl: ACCEPT_URL,
      message: 'Grüße aus Köln — welcome!',
    });
    const before = server.messages.length;
    await backend(server).send(mail(rendered));
    const [received] = (await server.waitForMessages(before + 1)).slice(before);
    expect(received?.subject).toBe('Liam Hillier invited you to join Acme & Co <Shop>');
    expect(received?.text).toContain(ACCEPT_URL);
    expect(received?.text).toContain('Grüße aus Köln — welcome!');
    expect(received?.html).toContain(`<a href="${ACCEPT_URL}"`);
    expect(received?.html).toContain('Acme &amp; Co &lt;Shop&gt;');
    expect(received?.html).toContain('Tuesday, 10 March 2026 at 14:00 UTC');
  });

  it('reports a 4xx reply as a retryable MailError, and the next attempt goes through', async () => {
    const metrics = countingSink();
    const smtp = backend(server, { metrics });
    const before = server.messages.length;
    server.failNext(451, '4.3.0 Mailbox busy, try later');

    const error = await failure(smtp.send(mail()));
    expect(error.retryable).toBe(true);
    expect(error.reason).toBe('TemporarilyRejected');
    expect(error.responseCode).toBe(451);
    expect(error.message).toContain('451');
    expect(server.messages.length).toBe(before);

    const outgoing = mail();
    await smtp.send(outgoing);
    const [received] = (await server.waitForMessages(before + 1)).slice(before);
    expect(received?.messageId).toBe(outgoing.messageId);
    expect(metrics).toMatchObject({ sentCount: 1, failedCount: 1 });
  });

  it('reports a 5xx reply as a permanent MailError that does not repeat the link', async () => {
    server.failNext(554, `5.7.1 Rejected as spam: ${ACCEPT_URL}`);
    const error = await failure(backend(server).send(mail()));
    expect(error.retryable).toBe(false);
    expect(error.reason).toBe('Rejected');
    expect(error.responseCode).toBe(554);
    expect(error.message).toMatch(new RegExp(`^SMTP server 127\\.0\\.0\\.1:${server.port} rejected the mail \\(554 `));
    expect(error.message).not.toContain(TOKEN);
  });

  it('sends several mails over one pooled connection', async () => {
    const connectionsBefore = server.connections();
    const before = server.messages.length;
    const pooled = backend(server, { pool: true, maxConnections: 1 });
    const outgoing = Array.from({ length: 5 }, () => mail());

    const results = await Promise.all(outgoing.map((m) => pooled.send(m)));

    expect(results.map((r) => r.messageId)).toEqual(outgoing.map((m) => m.messageId));
    const received = (await server.waitForMessages(before + 5)).slice(before);
    expect(received.map((m) => m.messageId).sort()).toEqual(outgoing.map((m) => m.messageId).sort());
    expect(new Set(server.received.slice(before).map((r) => r.sessionId)).size).toBe(1);
    expect(server.connections() - connectionsBefore).toBe(1);
  });

  it('without a pool opens a connection per mail', async () => {
    const connectionsBefore = server.connections();
    const single = backend(server, { pool: false });
    await single.send(mail());
    await single.send(mail());
    expect(server.connections() - connectionsBefore).toBe(2);
  });

  it('verifies the connection', async () => {
    await expect(backend(server).verify()).resolves.toBeUndefined();
  });

  it('refuses to send without STARTTLS when TLS is required', async () => {
    const before = server.messages.length;
    const error = await failure(backend(server, { requireTLS: true }).send(mail()));
    expect(error.reason).toBe('TLSFailed');
    expect(error.retryable).toBe(true);
    expect(server.messages.length).toBe(before);
  });
});

describe('SMTP backend, STARTTLS and AUTH', () => {
  let server: TestSmtpServer;
  beforeAll(async () => {
    server = await startSmtpServer({ tls: 'starttls', auth: true });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('upgrades with STARTTLS, verifies the certificate against the given CA and authenticates', async () => {
    const before = server.messages.length;
    const smtp = backend(server, { requireTLS: true, auth: { user: TEST_SMTP_USER, pass: TEST_SMTP_PASSWORD }, tls: { ca: server.certificate } });
    await smtp.verify();
    const outgoing = mail();
    await smtp.send(outgoing);
    const [received] = (await server.waitForMessages(before + 1)).slice(before);
    expect(received?.messageId).toBe(outgoing.messageId);
    expect(server.received.at(-1)).toMatchObject({ secure: true, user: TEST_SMTP_USER });
  });

  it('fails authentication with a wrong password: AuthFailed, retryable (configuration)', async () => {
    const error = await failure(
      backend(server, { requireTLS: true, auth: { user: TEST_SMTP_USER, pass: 'wrong' }, tls: { ca: server.certificate } }).send(mail()),
    );
    expect(error.reason).toBe('AuthFailed');
    expect(error.retryable).toBe(true);
    expect(error.responseCode).toBe(535);
    expect(error.message).not.toContain('wrong');
  });

  it('refuses a certificate it cannot verify', async () => {
    const error = await failure(backend(server, { requireTLS: true, auth: { user: TEST_SMTP_USER, pass: TEST_SMTP_PASSWORD } }).send(mail()));
    expect(error.reason).toBe('TLSFailed');
    expect(error.retryable).toBe(true);
  });

  it('can be told not to verify the certificate', async () => {
    const before = server.messages.length;
    await backend(server, { requireTLS: true, auth: { user: TEST_SMTP_USER, pass: TEST_SMTP_PASSWORD }, tls: { rejectUnauthorized: false } }).send(mail());
    await server.waitForMessages(before + 1);
  });

  it('is refused without credentials: AuthFailed, retryable although the reply is 530', async () => {
    const error = await failure(backend(server, { requireTLS: true, tls: { ca: server.certificate } }).send(mail()));
    expect(error.reason).toBe('AuthFailed');
    expect(error.retryable).toBe(true);
    expect(error.responseCode).toBe(530);
  });
});

describe('SMTP backend, implicit TLS', () => {
  let server: TestSmtpServer;
  beforeAll(async () => {
    server = await startSmtpServer({ tls: 'implicit' });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('speaks TLS from the first byte', async () => {
    const before = server.messages.length;
    await backend(server, { secure: true, tls: { ca: server.certificate } }).send(mail());
    await server.waitForMessages(before + 1);
    expect(server.received.at(-1)?.secure).toBe(true);
  });
});

describe('SMTP backend, server down', () => {
  it('reports a retryable connection failure, pooled or not, and for verify', async () => {
    const port = await closedPort();
    for (const pool of [false, true]) {
      const metrics = countingSink();
      const smtp = new SmtpMailBackend({ host: '127.0.0.1', port, pool, connectionTimeoutMs: 2_000, metrics });
      backends.push(smtp);
      const error = await failure(smtp.send(mail()));
      expect(error.retryable).toBe(true);
      expect(error.reason).toBe('ConnectionFailed');
      expect(error.message).toContain(`cannot reach SMTP server 127.0.0.1:${port}`);
      expect(error.message).not.toContain(TOKEN);
      expect(metrics).toMatchObject({ sentCount: 0, failedCount: 1 });
    }
    const error = await failure(new SmtpMailBackend({ host: '127.0.0.1', port, pool: false }).verify());
    expect(error.retryable).toBe(true);
  });

  it('reports a server that stopped mid-life as retryable', async () => {
    const server = await startSmtpServer();
    const smtp = backend(server, { pool: true });
    await smtp.send(mail());
    await server.stop();
    const error = await failure(smtp.send(mail()));
    expect(error.retryable).toBe(true);
  });
});
