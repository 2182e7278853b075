// The invitation mail (SPEC §5): subject, plain text and HTML, from templates an operator may
// override (Helm value → files → strings here). Carries team, inviter, role, scope, expiry
// and the accept link. Everything a person typed (names, the team's display name, the
// message) is cleaned of control characters, escaped in HTML, and kept to one line where
// a line break could forge content (the subject most of all: header injection).
import { parseRole, ROLE_DESCRIPTIONS } from '../../domain/roles.ts';
import { compileTemplate, escapeHtml, TemplateError } from './placeholders.ts';

export { escapeHtml, TemplateError };

export interface InvitationScopeEntry {
  readonly project: string;
  /** Omitted or empty = all of the project's environments. */
  readonly environments?: readonly string[];
}

export interface InvitationMailData {
  readonly teamName: string;
  /** Defaults to teamName. */
  readonly teamDisplayName?: string;
  readonly inviterName?: string;
  readonly inviterEmail?: string;
  readonly inviteeName?: string;
  readonly inviteeEmail: string;
  readonly role: string;
  /** undefined (or empty) = the whole team. */
  readonly scope: readonly InvitationScopeEntry[] | undefined;
  readonly expiresAt: Date;
  /** `<publicUrl>/invite/<token>`; must be http(s). */
  readonly acceptUrl: string;
  /** The inviter's note (Invitation spec.message); may span lines. */
  readonly message?: string;
}

/** Template sources; any left out uses the default. */
export interface InvitationMailTemplates {
  readonly subject?: string;
  readonly text?: string;
  readonly html?: string;
}

export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/**
 * Placeholders every template may use. Values are plain text; the HTML template escapes
 * them, except `scopeHtml`, which Roster builds from escaped parts (HTML template only).
 */
export const INVITATION_TEMPLATE_FIELDS = [
  'team', // "Acme Corp (acme)", or "acme" when there is no separate display name
  'teamName',
  'teamDisplayName',
  'inviter', // inviter's name, else email, else empty
  'inviterWithEmail', // "Liam Hillier (liam@acme.com)", or whichever of the two is known
  'inviterName',
  'inviterEmail',
  'invitee', // invitee's name, else email
  'inviteeName',
  'inviteeEmail',
  'role',
  'roleDescription',
  'scopeText', // "the whole team" or "shop (staging); blog (all environments)"
  'expiresAt', // "Tuesday, 10 March 2026 at 14:00 UTC"
  'expiresAtIso', // "2026-03-10T14:00:00Z"
  'acceptUrl',
  'message',
] as const;
export type InvitationTemplateField = (typeof INVITATION_TEMPLATE_FIELDS)[number] | 'scopeHtml';

const HTML_FIELDS: readonly InvitationTemplateField[] = [...INVITATION_TEMPLATE_FIELDS, 'scopeHtml'];
const SUBJECT_MAX_LENGTH = 200;
const MESSAGE_MAX_LENGTH = 4000;

export const DEFAULT_SUBJECT_TEMPLATE =
  "{{#inviter}}{{inviter}} invited you to join {{teamDisplayName}}{{/inviter}}{{^inviter}}You're invited to join {{teamDisplayName}}{{/inviter}}";

export const DEFAULT_TEXT_TEMPLATE = `Hello {{invitee}},

{{#inviter}}{{inviterWithEmail}} invited you{{/inviter}}{{^inviter}}You have been invited{{/inviter}} to join {{team}} as {{role}}.
{{#message}}

{{#inviter}}Message from {{inviter}}:{{/inviter}}{{^inviter}}Message:{{/inviter}}

{{message}}
{{/message}}

  Team:     {{team}}
  Role:     {{role}}{{#roleDescription}} ({{roleDescription}}){{/roleDescription}}
  Access:   {{scopeText}}
  Expires:  {{expiresAt}}

Accept the invitation:
{{acceptUrl}}

The link works once and expires on {{expiresAt}}.
If you did not expect this invitation, you can ignore this mail: nothing happens until you accept.
`;

const FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";

export const DEFAULT_HTML_TEMPLATE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>Invitation to join {{teamDisplayName}}</title>
</head>
<body style="margin:0;padding:0;background-color:#f4f5f7;">
<div style="display:none;max-height:0;overflow:hidden;" aria-hidden="true">Join {{teamDisplayName}} as {{role}}. The invitation expires on {{expiresAt}}.</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:#f4f5f7;">
<tr><td align="center" style="padding:32px 16px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:560px;background-color:#ffffff;border:1px solid #d0d7de;border-radius:8px;">
<tr><td style="padding:32px;font-family:${FONT};font-size:16px;line-height:1.5;color:#1f2328;">
<h1 style="margin:0 0 16px;font-size:22px;line-height:1.3;font-weight:600;color:#1f2328;">You're invited to join {{teamDisplayName}}</h1>
<p style="margin:0 0 16px;">Hello {{invitee}},</p>
<p style="margin:0 0 16px;">{{#inviter}}<strong>{{inviterWithEmail}}</strong> invited you{{/inviter}}{{^inviter}}You have been invited{{/inviter}} to join <strong>{{team}}</strong> as <strong>{{role}}</strong>.</p>
{{#message}}
<p style="margin:0 0 4px;font-size:14px;color:#57606a;">{{#inviter}}Message from {{inviter}}:{{/inviter}}{{^inviter}}Message:{{/inviter}}</p>
<blockquote style="margin:0 0 16px;padding:12px 16px;border-left:4px solid #d0d7de;background-color:#f6f8fa;white-space:pre-line;">{{message}}</blockquote>
{{/message}}
<table cellpadding="0" cellspacing="0" border="0" style="margin:0 0 24px;font-size:15px;line-height:1.5;color:#1f2328;">
<tr><th scope="row" align="left" style="padding:4px 16px 4px 0;font-weight:600;color:#57606a;vertical-align:top;">Team</th><td style="padding:4px 0;">{{team}}</td></tr>
<tr><th scope="row" align="left" style="padding:4px 16px 4px 0;font-weight:600;color:#57606a;vertical-align:top;">Role</th><td style="padding:4px 0;">{{role}}{{#roleDescription}}<br><span style="font-size:14px;color:#57606a;">{{roleDescription}}</span>{{/roleDescription}}</td></tr>
<tr><th scope="row" align="left" style="padding:4px 16px 4px 0;font-weight:600;color:#57606a;vertical-align:top;">Access</th><td style="padding:4px 0;">{{scopeHtml}}</td></tr>
<tr><th scope="row" align="left" style="padding:4px 16px 4px 0;font-weight:600;color:#57606a;vertical-align:top;">Expires</th><td style="padding:4px 0;">{{expiresAt}}</td></tr>
</table>
<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:0 0 24px;">
<tr><td align="center" style="border-radius:6px;background-color:#0969da;">
<a href="{{acceptUrl}}" target="_blank" rel="noopener noreferrer" style="display:inline-block;padding:12px 28px;font-family:${FONT};font-size:16px;font-weight:600;line-height:1.25;color:#ffffff;text-decoration:none;border-radius:6px;">Accept invitation</a>
</td></tr>
</table>
<p style="margin:0 0 4px;font-size:14px;color:#57606a;">If the button does not work, copy this link into your browser:</p>
<p style="margin:0 0 24px;font-size:14px;word-break:break-all;"><a href="{{acceptUrl}}" style="color:#0969da;">{{acceptUrl}}</a></p>
<p style="margin:0;font-size:13px;color:#57606a;">The link works once and expires on {{expiresAt}}. If you did not expect this invitation, you can ignore this mail: nothing happens until you accept.</p>
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`;

export const DEFAULT_INVITATION_TEMPLATES: Required<InvitationMailTemplates> = {
  subject: DEFAULT_SUBJECT_TEMPLATE,
  text: DEFAULT_TEXT_TEMPLATE,
  html: DEFAULT_HTML_TEMPLATE,
};

type Values = Readonly<Record<InvitationTemplateField, string>>;

export interface CompiledInvitationTemplates {
  readonly subject: (values: Values) => string;
  readonly text: (values: Values) => string;
  readonly html: (values: Values) => string;
}

/** Checks override templates (unknown placeholders, unbalanced sections); throws a TemplateError. */
export function compileInvitationTemplates(templates: InvitationMailTemplates = {}): CompiledInvitationTemplates {
  const source = { ...DEFAULT_INVITATION_TEMPLATES, ...definedOnly(templates) };
  return {
    subject: compileTemplate<InvitationTemplateField>(source.subject, { fields: INVITATION_TEMPLATE_FIELDS, mode: 'text', label: 'subject template' }),
    text: compileTemplate<InvitationTemplateField>(source.text, { fields: INVITATION_TEMPLATE_FIELDS, mode: 'text', label: 'text template' }),
    html: compileTemplate<InvitationTemplateField>(source.html, { fields: HTML_FIELDS, mode: 'html', trustedHtml: ['scopeHtml'], label: 'html template' }),
  };
}

const compiledDefaults = compileInvitationTemplates();

/**
 * Renders the invitation mail. `templates` may be strings (uncompiled overrides) or the
 * result of compileInvitationTemplates (compile once at startup, render per mail).
 */
export function renderInvitationMail(data: InvitationMailData, templates?: InvitationMailTemplates | CompiledInvitationTemplates): RenderedMail {
  const compiled = templates === undefined ? compiledDefaults : isCompiled(templates) ? templates : compileInvitationTemplates(templates);
  const values = invitationTemplateValues(data);
  return {
    subject: cleanSubject(compiled.subject(values)),
    text: compiled.text(values),
    html: compiled.html(values),
  };
}

/** The placeholder values for one invitation, all cleaned (see the file comment). */
export function invitationTemplateValues(data: InvitationMailData): Values {
  if (!isHttpUrl(data.acceptUrl)) throw new TemplateError('acceptUrl must be an absolute http(s) URL'); // never echo it: it holds the token
  const teamName = singleLine(data.teamName);
  const teamDisplayName = singleLine(data.teamDisplayName ?? '') || teamName;
  const inviterName = singleLine(data.inviterName ?? '');
  const inviterEmail = singleLine(data.inviterEmail ?? '');
  const inviteeName = singleLine(data.inviteeName ?? '');
  const inviteeEmail = singleLine(data.inviteeEmail);
  const role = singleLine(data.role);
  const knownRole = parseRole(role);
  const scope = (data.scope ?? [])
    .map((entry) => ({ project: singleLine(entry.project), environments: (entry.environments ?? []).map(singleLine).filter((e) => e !== '') }))
    .filter((entry) => entry.project !== '');
  return {
    team: teamDisplayName === teamName ? teamName : `${teamDisplayName} (${teamName})`,
    teamName,
    teamDisplayName,
    inviter: inviterName || inviterEmail,
    inviterWithEmail: inviterName && inviterEmail ? `${inviterName} (${inviterEmail})` : inviterName || inviterEmail,
    inviterName,
    inviterEmail,
    invitee: inviteeName || inviteeEmail,
    inviteeName,
    inviteeEmail,
    role,
    roleDescription: knownRole ? ROLE_DESCRIPTIONS[knownRole] : '',
    scopeText:
      scope.length === 0
        ? 'the whole team'
        : scope.map((e) => `${e.project} (${e.environments.length > 0 ? e.environments.join(', ') : 'all environments'})`).join('; '),
    scopeHtml:
      scope.length === 0
        ? 'the whole team'
        : `<ul style="margin:0;padding:0 0 0 20px;">${scope
            .map((e) => `<li>${escapeHtml(e.project)}: ${e.environments.length > 0 ? escapeHtml(e.environments.join(', ')) : 'all environments'}</li>`)
            .join('')}</ul>`,
    expiresAt: formatExpiry(data.expiresAt),
    expiresAtIso: data.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    acceptUrl: data.acceptUrl,
    message: multiLine(data.message ?? ''),
  };
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** `Tuesday, 10 March 2026 at 14:00 UTC` — fixed English and UTC, whatever the server's locale. */
export function formatExpiry(date: Date): string {
  if (!Number.isFinite(date.getTime())) throw new RangeError('formatExpiry: invalid date');
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${WEEKDAYS[date.getUTCDay()]}, ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} at ${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
}

// C0/C1 controls, DEL, line/paragraph separators and bidirectional overrides (which can make
// a name display as something else).
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_EXCEPT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** One line: every control character (CR, LF included) becomes a space; runs of spaces collapse. */
export function singleLine(text: string): string {
  return text.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
}

function multiLine(text: string): string {
  const cleaned = text
    .replace(/\r\n?/g, '\n')
    .replace(CONTROL_EXCEPT_NEWLINE, ' ')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return cleaned.length > MESSAGE_MAX_LENGTH ? `${cleaned.slice(0, MESSAGE_MAX_LENGTH)}…` : cleaned;
}

function cleanSubject(subject: string): string {
  const line = singleLine(subject);
  return line.length > SUBJECT_MAX_LENGTH ? `${line.slice(0, SUBJECT_MAX_LENGTH - 1)}…` : line;
}

function isHttpUrl(text: string): boolean {
  if (!/^https?:\/\//i.test(text)) return false;
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

function isCompiled(templates: InvitationMailTemplates | CompiledInvitationTemplates): templates is CompiledInvitationTemplates {
  return typeof templates.subject === 'function' || typeof templates.text === 'function' || typeof templates.html === 'function';
}

function definedOnly(templates: InvitationMailTemplates): InvitationMailTemplates {
  return Object.fromEntries(Object.entries(templates).filter(([, v]) => typeof v === 'string')) as InvitationMailTemplates;
}
