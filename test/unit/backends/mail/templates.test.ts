import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  compileInvitationTemplates,
  DEFAULT_INVITATION_TEMPLATES,
  escapeHtml,
  formatExpiry,
  renderInvitationMail,
  TemplateError,
  type InvitationMailData,
} from '../../../../src/backends/mail/templates.ts';

const TOKEN = 'q0Zb3vX9yJ2m4KcT1sR8uW7eN5aL6pD0hG3fB2iY9oE';
const ACCEPT_URL = `https://roster.example.com/invite/${TOKEN}`;

function data(overrides: Partial<InvitationMailData> = {}): InvitationMailData {
  return {
    teamName: 'acme',
    teamDisplayName: 'Acme Corp',
    inviterName: 'Liam Hillier',
    inviterEmail: 'liam@acme.com',
    inviteeName: 'Riley Park',
    inviteeEmail: 'riley@acme.com',
    role: 'developer',
    scope: [{ project: 'shop', environments: ['staging', 'preview'] }, { project: 'blog' }],
    expiresAt: new Date('2026-03-10T14:05:00Z'),
    acceptUrl: ACCEPT_URL,
    message: 'Welcome aboard!\nSee you on Monday.',
    ...overrides,
  };
}

describe('renderInvitationMail (default templates)', () => {
  it('carries team, inviter, role, scope, expiry and link in text and HTML', () => {
    const mail = renderInvitationMail(data());
    expect(mail.subject).toBe('Liam Hillier invited you to join Acme Corp');
    for (const body of [mail.text, mail.html]) {
      expect(body).toContain('Acme Corp (acme)');
      expect(body).toContain('Liam Hillier (liam@acme.com)');
      expect(body).toContain('Riley Park');
      expect(body).toContain('developer');
      expect(body).toContain('deploy and manage environments'); // the role's description
      expect(body).toContain('staging, preview');
      expect(body).toContain('blog');
      expect(body).toContain('all environments');
      expect(body).toContain('Tuesday, 10 March 2026 at 14:05 UTC');
      expect(body).toContain(ACCEPT_URL);
      expect(body).toContain('Welcome aboard!');
    }
    expect(mail.text).toContain('Access:   shop (staging, preview); blog (all environments)');
    expect(mail.html).toContain(`<a href="${ACCEPT_URL}"`);
    expect(mail.html).toContain('>Accept invitation</a>');
    expect(mail.html).toContain('<li>shop: staging, preview</li><li>blog: all environments</li>');
    expect(mail.html).toMatch(/^<!DOCTYPE html>\n<html lang="en">/);
  });

  it('keeps the message on its lines: verbatim in text, pre-line in HTML', () => {
    const mail = renderInvitationMail(data({ message: 'Line one\r\nLine two' }));
    expect(mail.text).toContain('Message from Liam Hillier:\n\nLine one\nLine two\n');
    expect(mail.html).toMatch(/<blockquote style="[^"]*white-space:pre-line;[^"]*">Line one\nLine two<\/blockquote>/);
  });

  it('says "the whole team" for an unscoped invitation and drops the optional parts cleanly', () => {
    const mail = renderInvitationMail(
      data({
        scope: undefined,
        inviterName: undefined,
        inviterEmail: undefined,
        inviteeName: undefined,
        message: undefined,
        teamDisplayName: undefined,
        role: 'admin',
      }),
    );
    expect(mail.subject).toBe("You're invited to join acme");
    expect(mail.text).toContain('Hello riley@acme.com,');
    expect(mail.text).toContain('You have been invited to join acme as admin.');
    expect(mail.text).toContain('Access:   the whole team');
    expect(mail.text).not.toContain('Message');
    expect(mail.text).not.toMatch(/\n\n\n/);
    expect(mail.html).not.toContain('<blockquote');
    expect(mail.html).toContain('<td style="padding:4px 0;">the whole team</td>');
    expect(mail.html).not.toContain('acme (acme)');
  });

  it('names the inviter by email when there is no name', () => {
    const mail = renderInvitationMail(data({ inviterName: undefined }));
    expect(mail.subject).toBe('liam@acme.com invited you to join Acme Corp');
    expect(mail.text).toContain('liam@acme.com invited you to join');
    expect(mail.text).not.toContain('(liam@acme.com)');
  });

  it('has no description for a role it does not know, and says nothing wrong', () => {
    const mail = renderInvitationMail(data({ role: 'auditor' }));
    expect(mail.text).toContain('Role:     auditor\n');
  });

  it('escapes everything a person typed in the HTML', () => {
    const mail = renderInvitationMail(
      data({
        teamDisplayName: '<script>alert(1)</script>',
        inviterName: '"><img src=x onerror=alert(1)>',
        inviteeName: "O'Brien & Sons",
        message: '<b>bold</b> & <a href="javascript:alert(1)">x</a>',
        scope: [{ project: '<i>shop</i>', environments: ['<u>stg</u>'] }],
      }),
    );
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('<img');
    expect(mail.html).not.toContain('<b>');
    expect(mail.html).not.toContain('<i>');
    expect(mail.html).not.toContain('<u>');
    expect(mail.html).not.toContain('javascript:alert(1)">');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(mail.html).toContain('O&#39;Brien &amp; Sons');
    expect(mail.html).toContain('&lt;b&gt;bold&lt;/b&gt; &amp; &lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;');
    expect(mail.html).toContain('<li>&lt;i&gt;shop&lt;/i&gt;: &lt;u&gt;stg&lt;/u&gt;</li>');
    // plain text is not HTML: values go in as typed
    expect(mail.text).toContain('<script>alert(1)</script>');
  });

  it('strips CR/LF from the subject (header injection) and from one-line fields', () => {
    const mail = renderInvitationMail(data({ teamDisplayName: 'Acme\r\nBcc: victim@example.com', inviterName: 'Eve\nX-Evil: 1' }));
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.subject).toBe('Eve X-Evil: 1 invited you to join Acme Bcc: victim@example.com');
    expect(mail.text).not.toContain('\nBcc:');
    expect(mail.text).not.toContain('\nX-Evil');
  });

  it('never lets a line break into the subject, whatever the fields hold', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (team, inviter, invitee, role) => {
        const mail = renderInvitationMail(data({ teamName: team, teamDisplayName: team, inviterName: inviter, inviteeName: invitee, role }));
        expect(mail.subject).not.toMatch(/[\r\n\u2028\u2029]/);
        expect(mail.subject.length).toBeLessThanOrEqual(200);
      }),
    );
  });

  it('never lets a person-typed "<" into the HTML unescaped', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const marked = `<zz${text}`;
        const mail = renderInvitationMail(data({ inviterName: marked, teamDisplayName: marked, message: marked }));
        expect(mail.html).not.toContain('<zz');
      }),
    );
  });

  it('refuses an accept URL that is not http(s), without echoing it', () => {
    const attempt = () => renderInvitationMail(data({ acceptUrl: `javascript:alert('${TOKEN}')` }));
    expect(attempt).toThrow(TemplateError);
    expect(attempt).toThrow(/acceptUrl must be an absolute http\(s\) URL/);
    try {
      attempt();
    } catch (error) {
      expect((error as Error).message).not.toContain(TOKEN);
    }
  });

  it('refuses an invalid expiry date', () => {
    expect(() => renderInvitationMail(data({ expiresAt: new Date('nope') }))).toThrow(RangeError);
  });
});

describe('custom templates', () => {
  it('fill placeholders and escape values in the HTML template only', () => {
    const mail = renderInvitationMail(data({ teamDisplayName: 'A & B' }), {
      subject: '[{{teamName}}] Join {{ teamDisplayName }} as {{role}}\n',
      text: 'Hi {{invitee}}: {{teamDisplayName}} — {{acceptUrl}} until {{expiresAtIso}}',
      html: '<p>{{teamDisplayName}}</p><a href="{{acceptUrl}}">go</a>{{scopeHtml}}',
    });
    expect(mail.subject).toBe('[acme] Join A & B as developer');
    expect(mail.text).toBe(`Hi Riley Park: A & B — ${ACCEPT_URL} until 2026-03-10T14:05:00Z`);
    expect(mail.html).toBe(
      `<p>A &amp; B</p><a href="${ACCEPT_URL}">go</a><ul style="margin:0;padding:0 0 0 20px;"><li>shop: staging, preview</li><li>blog: all environments</li></ul>`,
    );
  });

  it('keep the defaults for the parts not overridden', () => {
    const mail = renderInvitationMail(data(), { subject: 'Invitation to {{teamName}}' });
    expect(mail.subject).toBe('Invitation to acme');
    expect(mail.text).toBe(renderInvitationMail(data()).text);
    expect(mail.html).toBe(renderInvitationMail(data()).html);
  });

  it('render sections only when the value is (not) empty; standalone section lines vanish', () => {
    const text = 'A\n{{#message}}\nNote: {{message}}\n{{/message}}\n{{^message}}\nNo note.\n{{/message}}\nZ';
    expect(renderInvitationMail(data({ message: 'hello' }), { text }).text).toBe('A\nNote: hello\nZ');
    expect(renderInvitationMail(data({ message: undefined }), { text }).text).toBe('A\nNo note.\nZ');
  });

  it('can be compiled once and rendered many times', () => {
    const compiled = compileInvitationTemplates({ subject: 'For {{invitee}}' });
    expect(renderInvitationMail(data(), compiled).subject).toBe('For Riley Park');
    expect(renderInvitationMail(data({ inviteeName: 'Sam' }), compiled).subject).toBe('For Sam');
  });

  it.each([
    [{ text: 'Hello {{inviteName}}' }, /text template: unknown placeholder \{\{inviteName\}\}; known names: team, teamName/],
    [{ html: '<p>{{{message}}}</p>' }, /html template: "\{\{\{…\}\}\}" \(unescaped output\) is not supported/],
    [{ subject: '{{#message}}x' }, /subject template: \{\{#message\}\} is never closed/],
    [{ text: 'x{{/message}}' }, /text template: \{\{\/message\}\} closes a section that was never opened/],
    [{ text: '{{#message}}{{#role}}{{/message}}{{/role}}' }, /closes \{\{#role\}\}; sections must nest/],
    [{ text: 'Hi {{ in vitee }}' }, /text template: malformed placeholder/],
    [{ text: 'Hi {{invitee' }, /text template: "\{\{" without a closing "\}\}"/],
    [{ text: 'scope: {{scopeHtml}}' }, /text template: unknown placeholder \{\{scopeHtml\}\}/],
  ])('reject mistakes when compiled: %j', (templates, problem) => {
    expect(() => compileInvitationTemplates(templates)).toThrow(TemplateError);
    expect(() => compileInvitationTemplates(templates)).toThrow(problem);
  });

  it('the defaults themselves compile', () => {
    expect(() => compileInvitationTemplates(DEFAULT_INVITATION_TEMPLATES)).not.toThrow();
  });
});

describe('escapeHtml', () => {
  it('escapes the five HTML-significant characters and nothing else', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a> é`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt; é');
  });
});

describe('formatExpiry', () => {
  it('writes UTC in a fixed, readable English form', () => {
    expect(formatExpiry(new Date('2026-03-10T14:05:59Z'))).toBe('Tuesday, 10 March 2026 at 14:05 UTC');
    expect(formatExpiry(new Date('2027-01-01T00:00:00+02:00'))).toBe('Thursday, 31 December 2026 at 22:00 UTC');
  });
});
