import { describe, it, expect } from 'vitest';
import { createMailBackend, DEFAULT_MAIL_FROM, loadInvitationTemplates, MailConfigError } from '../../../../src/backends/mail/registry.ts';
import { LogMailBackend } from '../../../../src/backends/mail/log.ts';
import { SmtpMailBackend } from '../../../../src/backends/mail/smtp.ts';
import { createMessageId, senderDomain } from '../../../../src/backends/mail/message-id.ts';
import { renderInvitationMail } from '../../../../src/backends/mail/templates.ts';
import { isValidMessageId } from '../../../../src/backends/mail/types.ts';

function files(contents: Record<string, string>): { readFile: (path: string) => string; read: string[] } {
  const read: string[] = [];
  return {
    read,
    readFile: (path) => {
      read.push(path);
      const content = contents[path];
      if (content === undefined) throw new Error('ENOENT: no such file');
      return content;
    },
  };
}

describe('createMailBackend', () => {
  it('builds the log backend', () => {
    const backend = createMailBackend({ backend: 'log', log: { includeLinks: false } });
    expect(backend).toBeInstanceOf(LogMailBackend);
    expect(backend.name).toBe('log');
  });

  it('builds the SMTP backend, reading the password and CA from files', async () => {
    const fs = files({ '/secrets/smtp-password': 's3cret\n', '/etc/ca.pem': '-----BEGIN CERTIFICATE-----' });
    const backend = createMailBackend(
      {
        backend: 'smtp',
        from: 'Acme <team@acme.com>',
        smtp: { host: 'smtp.example.com', user: 'roster', passwordFile: '/secrets/smtp-password', caFile: '/etc/ca.pem' },
      },
      { readFile: fs.readFile },
    );
    expect(backend).toBeInstanceOf(SmtpMailBackend);
    expect(backend.name).toBe('smtp');
    expect(fs.read).toEqual(['/secrets/smtp-password', '/etc/ca.pem']);
    await backend.close();
  });

  it('accepts the operator config section as it is (backend not narrowed)', async () => {
    const section: { backend: 'smtp' | 'log'; from: string; log: { includeLinks: boolean } } = { backend: 'log', from: '', log: { includeLinks: false } };
    expect(createMailBackend(section).name).toBe('log');
  });

  it.each([
    [{ backend: 'smtp' as const }, /mail.backend is smtp but mail.smtp is missing/],
    [{ backend: 'smtp' as const, smtp: { host: '' } }, /mail.smtp.host is required/],
    [{ backend: 'smtp' as const, smtp: { host: 'h', user: 'u' } }, /mail.smtp.user is set but neither password nor passwordFile is/],
    [{ backend: 'smtp' as const, smtp: { host: 'h', password: 'p' } }, /mail.smtp has a password but no user/],
    [{ backend: 'smtp' as const, smtp: { host: 'h', user: 'u', passwordFile: '/missing' } }, /cannot read mail.smtp.passwordFile \/missing: ENOENT/],
    [{ backend: 'pigeon' as 'log' }, /unknown mail backend "pigeon"; use smtp or log/],
  ])('refuses a broken config: %j', (config, problem) => {
    const build = () => createMailBackend(config, { readFile: files({}).readFile });
    expect(build).toThrow(MailConfigError);
    expect(build).toThrow(problem);
  });

  it('uses the default sender when a mail names none', async () => {
    const lines: string[] = [];
    const { createLogger } = await import('../../../../src/runtime/logger.ts');
    const { Writable } = await import('node:stream');
    const destination = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) });
    const backend = createMailBackend({ backend: 'log' }, { logger: createLogger({ destination }) });
    await backend.send({ to: 'a@b.c', subject: 's', text: 't', html: 'h', messageId: '<1@b.c>' });
    expect(JSON.parse(lines[0] ?? '{}').mail.from).toBe(DEFAULT_MAIL_FROM);
  });
});

describe('loadInvitationTemplates', () => {
  it('reads override files and keeps defaults for the rest', () => {
    const fs = files({ '/t/subject': 'Join {{teamName}}\n' });
    const compiled = loadInvitationTemplates({ subjectFile: '/t/subject' }, fs.readFile);
    const mail = renderInvitationMail(
      { teamName: 'acme', inviteeEmail: 'r@acme.com', role: 'admin', scope: undefined, expiresAt: new Date(0), acceptUrl: 'https://x/invite/t' },
      compiled,
    );
    expect(mail.subject).toBe('Join acme');
    expect(mail.text).toContain('Hello r@acme.com,');
  });

  it('fails at load time on a broken template or a missing file', () => {
    expect(() => loadInvitationTemplates({ htmlFile: '/t/html' }, files({ '/t/html': '{{nope}}' }).readFile)).toThrow(
      /invalid mail template: html template: unknown placeholder \{\{nope\}\}/,
    );
    expect(() => loadInvitationTemplates({ textFile: '/t/none' }, files({}).readFile)).toThrow(MailConfigError);
  });
});

describe('createMessageId', () => {
  it("is unique, well-formed and in the sender's domain", () => {
    const a = createMessageId('Acme <team@Acme.com>');
    const b = createMessageId('Acme <team@Acme.com>');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^<roster\.[0-9a-f]{32}@acme\.com>$/);
    expect(isValidMessageId(a)).toBe(true);
    expect(createMessageId()).toMatch(/@roster\.invalid>$/);
    expect(createMessageId(undefined, (n) => new Uint8Array(n).fill(255))).toBe(`<roster.${'ff'.repeat(16)}@roster.invalid>`);
  });

  it('finds the sender domain in either address form', () => {
    expect(senderDomain('team@acme.com')).toBe('acme.com');
    expect(senderDomain('"Acme, Inc." <team@mail.acme.com>')).toBe('mail.acme.com');
    expect(senderDomain('nobody')).toBeUndefined();
  });
});
