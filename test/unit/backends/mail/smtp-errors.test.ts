import { describe, it, expect } from 'vitest';
import { createServer } from 'node:net';
import { SmtpMailBackend, toMailError } from '../../../../src/backends/mail/smtp.ts';
import { MailError } from '../../../../src/backends/mail/types.ts';

const ENDPOINT = 'smtp.example.com:587';

function nodemailerError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields);
}

describe('toMailError', () => {
  it.each([
    [421, 'TemporarilyRejected', true],
    [450, 'TemporarilyRejected', true],
    [452, 'TemporarilyRejected', true],
    [503, 'TemporarilyRejected', true], // bad sequence: about the session, not the mail
    [550, 'Rejected', false],
    [552, 'Rejected', false],
    [554, 'Rejected', false],
  ] as const)('maps SMTP %i to %s (retryable: %s)', (responseCode, reason, retryable) => {
    const error = toMailError(
      nodemailerError('Message failed', { code: 'EMESSAGE', responseCode, response: `${responseCode} 4.7.1 go away`, command: 'DATA' }),
      ENDPOINT,
    );
    expect(error).toBeInstanceOf(MailError);
    expect(error.reason).toBe(reason);
    expect(error.retryable).toBe(retryable);
    expect(error.responseCode).toBe(responseCode);
    expect(error.message).toContain(`SMTP server ${ENDPOINT}`);
    expect(error.message).toContain(`(${responseCode} 4.7.1 go away)`);
  });

  it.each([
    ['ECONNECTION', 'ConnectionFailed'],
    ['ESOCKET', 'ConnectionFailed'],
    ['EDNS', 'ConnectionFailed'],
    ['ETIMEDOUT', 'Timeout'],
    ['ETLS', 'TLSFailed'],
    ['EAUTH', 'AuthFailed'],
    ['ENOAUTH', 'AuthFailed'],
  ] as const)('treats %s as %s, retryable', (code, reason) => {
    const error = toMailError(nodemailerError('boom', { code }), ENDPOINT);
    expect(error.reason).toBe(reason);
    expect(error.retryable).toBe(true);
    expect(error.code).toBe(code);
  });

  it('treats authentication refused with 535 as the configuration problem it is: retryable', () => {
    const error = toMailError(
      nodemailerError('Invalid login', { code: 'EAUTH', responseCode: 535, response: '535 5.7.8 Authentication credentials invalid' }),
      ENDPOINT,
    );
    expect(error.reason).toBe('AuthFailed');
    expect(error.retryable).toBe(true);
    expect(error.message).toBe(`SMTP server ${ENDPOINT} refused authentication: 535 5.7.8 Authentication credentials invalid`);
  });

  it('treats "authentication required" (530) and a refused STARTTLS as configuration, not as the mail', () => {
    const auth = toMailError(
      nodemailerError('Mail command failed', { code: 'EENVELOPE', responseCode: 530, response: '530 Error: authentication Required', command: 'MAIL FROM' }),
      ENDPOINT,
    );
    expect(auth).toMatchObject({ reason: 'AuthFailed', retryable: true, responseCode: 530 });
    const tls = toMailError(
      nodemailerError('Error upgrading connection with STARTTLS', {
        code: 'ETLS',
        responseCode: 500,
        response: '500 Error: command not recognized',
        command: 'STARTTLS',
      }),
      ENDPOINT,
    );
    expect(tls).toMatchObject({ reason: 'TLSFailed', retryable: true, responseCode: 500 });
    expect(tls.message).toBe(`TLS with SMTP server ${ENDPOINT} failed: 500 Error: command not recognized`);
  });

  it('recognizes certificate failures under a socket error', () => {
    const error = toMailError(nodemailerError('self-signed certificate', { code: 'ESOCKET', originalCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), ENDPOINT);
    expect(error.reason).toBe('TLSFailed');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('treats an envelope problem without a reply as permanent', () => {
    const error = toMailError(nodemailerError('No recipients defined', { code: 'EENVELOPE' }), ENDPOINT);
    expect(error.reason).toBe('InvalidMessage');
    expect(error.retryable).toBe(false);
  });

  it('keeps an unknown failure retryable', () => {
    const error = toMailError(new Error('something odd'), ENDPOINT);
    expect(error.reason).toBe('SendFailed');
    expect(error.retryable).toBe(true);
    expect(toMailError(undefined, ENDPOINT).retryable).toBe(true);
  });

  it('never repeats an accept link a server echoes, and keeps replies to one bounded line', () => {
    const token = 'q0Zb3vX9yJ2m4KcT1sR8uW7eN5aL6pD0hG3fB2iY9oE';
    const response = `550-5.7.1 Spam: https://roster.example.com/invite/${token}\r\n550 5.7.1 ${'x'.repeat(500)}`;
    const error = toMailError(nodemailerError(`Message failed: ${response}`, { code: 'EMESSAGE', responseCode: 550, response }), ENDPOINT);
    expect(error.message).not.toContain(token);
    expect(error.message).toContain('/invite/[redacted]');
    expect(error.message).not.toMatch(/[\r\n]/);
    expect(error.message.length).toBeLessThan(300);
  });

  it('passes a MailError through unchanged', () => {
    const original = new MailError('x', { reason: 'InvalidMessage', retryable: false });
    expect(toMailError(original, ENDPOINT)).toBe(original);
  });
});

describe('SmtpMailBackend and a cancelled reconcile', () => {
  it('does not connect when the signal has already aborted', async () => {
    let connections = 0;
    const server = createServer((socket) => {
      connections++;
      socket.end('220 test ESMTP\r\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const backend = new SmtpMailBackend({ host: '127.0.0.1', port: (server.address() as { port: number }).port, pool: false, defaultFrom: 'roster@acme.com' });
    try {
      const mail = { to: 'riley@acme.com', subject: 'Join', text: 'hi', html: '<p>hi</p>', messageId: '<1@acme.com>' };
      const error = await backend.send(mail, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MailError);
      expect(error).toMatchObject({ retryable: true, message: 'not sent: the operator is stopping; the next reconcile sends it' });
      await new Promise((r) => setTimeout(r, 50));
      expect(connections).toBe(0);
    } finally {
      await backend.close();
      await new Promise((r) => server.close(r));
    }
  });
});
