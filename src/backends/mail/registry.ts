// Builds the configured mail backend (and the invitation templates) from the operator's
// config. Secrets and CA bundles come from mounted files, read once here.
import { readFileSync } from 'node:fs';
import type { Logger } from '../../runtime/logger.ts';
import { createLogMailBackend } from './log.ts';
import { createSmtpMailBackend, type SmtpMailOptions } from './smtp.ts';
import { compileInvitationTemplates, TemplateError, type CompiledInvitationTemplates, type InvitationMailTemplates } from './templates.ts';
import type { MailBackend, MailMetricsSink } from './types.ts';

export const DEFAULT_MAIL_FROM = 'Roster <roster@localhost>';

/** `mail.smtp` as the config file has it, plus inline `ca`/`password` for programmatic use. */
export interface SmtpMailConfig {
  readonly host: string;
  readonly port?: number;
  readonly secure?: boolean;
  readonly requireTLS?: boolean;
  readonly rejectUnauthorized?: boolean;
  /** PEM CA bundle, inline. */
  readonly ca?: string;
  /** PEM CA bundle, as a file (a mounted ConfigMap or Secret). */
  readonly caFile?: string;
  /** TLS server name to verify, when it differs from host. */
  readonly servername?: string;
  readonly user?: string;
  readonly password?: string;
  /** File holding the password (a mounted Secret); one trailing newline is ignored. */
  readonly passwordFile?: string;
  readonly pool?: boolean;
  readonly maxConnections?: number;
  readonly maxMessages?: number;
  readonly connectionTimeoutMs?: number;
  readonly greetingTimeoutMs?: number;
  readonly socketTimeoutMs?: number;
  readonly clientName?: string;
}

export interface LogMailConfig {
  /** Development only: log accept links (tokens) unredacted. */
  readonly includeLinks?: boolean;
}

export type MailConfig =
  | { readonly backend: 'smtp'; readonly from?: string; readonly smtp: SmtpMailConfig }
  | { readonly backend: 'log'; readonly from?: string; readonly log?: LogMailConfig };

/** The operator config's `mail` section: the same fields, not narrowed by backend. */
export interface MailSectionConfig {
  readonly backend: 'smtp' | 'log';
  readonly from?: string;
  readonly smtp?: SmtpMailConfig;
  readonly log?: LogMailConfig;
}

export interface MailBackendDependencies {
  readonly logger?: Logger;
  readonly metrics?: MailMetricsSink;
  /** Reads secret and CA files (injectable for tests). */
  readonly readFile?: (path: string) => string;
}

export class MailConfigError extends Error {
  override name = 'MailConfigError';
}

const readUtf8 = (path: string): string => readFileSync(path, 'utf8');

/** Builds the mail backend the config names. Throws a MailConfigError naming what is wrong. */
export function createMailBackend(config: MailConfig | MailSectionConfig, deps: MailBackendDependencies = {}): MailBackend {
  const defaultFrom = config.from?.trim() || DEFAULT_MAIL_FROM;
  const common = { defaultFrom, ...(deps.logger ? { logger: deps.logger } : {}), ...(deps.metrics ? { metrics: deps.metrics } : {}) };
  switch (config.backend) {
    case 'log':
      return createLogMailBackend({ ...common, includeLinks: config.log?.includeLinks ?? false });
    case 'smtp': {
      if (!config.smtp) throw new MailConfigError('mail.backend is smtp but mail.smtp is missing');
      return createSmtpMailBackend({ ...common, ...smtpOptions(config.smtp, deps.readFile ?? readUtf8) });
    }
    default:
      throw new MailConfigError(`unknown mail backend ${JSON.stringify((config as { backend: unknown }).backend)}; use smtp or log`);
  }
}

function smtpOptions(smtp: SmtpMailConfig, readFile: (path: string) => string): SmtpMailOptions {
  if (!smtp.host) throw new MailConfigError('mail.smtp.host is required');
  const read = (path: string, what: string): string => {
    try {
      return readFile(path);
    } catch (error) {
      throw new MailConfigError(`cannot read ${what} ${path}: ${(error as Error).message}`);
    }
  };
  const password = smtp.password ?? (smtp.passwordFile !== undefined ? read(smtp.passwordFile, 'mail.smtp.passwordFile').replace(/\r?\n$/, '') : undefined);
  if (password !== undefined && smtp.user === undefined) throw new MailConfigError('mail.smtp has a password but no user');
  if (smtp.user !== undefined && password === undefined) throw new MailConfigError('mail.smtp.user is set but neither password nor passwordFile is');
  const ca = smtp.ca ?? (smtp.caFile !== undefined ? read(smtp.caFile, 'mail.smtp.caFile') : undefined);

  const options: { -readonly [K in keyof SmtpMailOptions]: SmtpMailOptions[K] } = { host: smtp.host };
  if (smtp.port !== undefined) options.port = smtp.port;
  if (smtp.secure !== undefined) options.secure = smtp.secure;
  if (smtp.requireTLS !== undefined) options.requireTLS = smtp.requireTLS;
  if (smtp.user !== undefined && password !== undefined) options.auth = { user: smtp.user, pass: password };
  if (smtp.pool !== undefined) options.pool = smtp.pool;
  if (smtp.maxConnections !== undefined) options.maxConnections = smtp.maxConnections;
  if (smtp.maxMessages !== undefined) options.maxMessages = smtp.maxMessages;
  if (smtp.connectionTimeoutMs !== undefined) options.connectionTimeoutMs = smtp.connectionTimeoutMs;
  if (smtp.greetingTimeoutMs !== undefined) options.greetingTimeoutMs = smtp.greetingTimeoutMs;
  if (smtp.socketTimeoutMs !== undefined) options.socketTimeoutMs = smtp.socketTimeoutMs;
  if (smtp.clientName !== undefined) options.clientName = smtp.clientName;
  options.tls = {
    ...(ca !== undefined ? { ca } : {}),
    ...(smtp.rejectUnauthorized !== undefined ? { rejectUnauthorized: smtp.rejectUnauthorized } : {}),
    ...(smtp.servername !== undefined ? { servername: smtp.servername } : {}),
  };
  return options;
}

/** `mail.templates` as the config file has it: paths of override files (a Helm value mounted as a ConfigMap). */
export interface MailTemplateFiles {
  readonly subjectFile?: string;
  readonly textFile?: string;
  readonly htmlFile?: string;
}

/**
 * Reads and compiles the invitation templates (defaults for any file not given), so a broken
 * override fails at startup. Throws a MailConfigError.
 */
export function loadInvitationTemplates(files: MailTemplateFiles = {}, readFile: (path: string) => string = readUtf8): CompiledInvitationTemplates {
  const sources: { -readonly [K in keyof InvitationMailTemplates]: InvitationMailTemplates[K] } = {};
  const read = (path: string | undefined, what: string): string | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFile(path);
    } catch (error) {
      throw new MailConfigError(`cannot read ${what} ${path}: ${(error as Error).message}`);
    }
  };
  const subject = read(files.subjectFile, 'mail.templates.subjectFile');
  const text = read(files.textFile, 'mail.templates.textFile');
  const html = read(files.htmlFile, 'mail.templates.htmlFile');
  if (subject !== undefined) sources.subject = subject;
  if (text !== undefined) sources.text = text;
  if (html !== undefined) sources.html = html;
  try {
    return compileInvitationTemplates(sources);
  } catch (error) {
    if (error instanceof TemplateError) throw new MailConfigError(`invalid mail template: ${error.message}`);
    throw error;
  }
}
