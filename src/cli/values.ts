// Reading the values commands take: emails, roles, `--project shop:staging,production`,
// `--since 2h` or a timestamp, object names. Pure; a bad value is a UsageError.
import { parseDuration } from '../domain/duration.ts';
import { emailProblem, normalizeEmail } from '../domain/email.ts';
import { memberRoleProblem, type MemberRole } from '../domain/roles.ts';
import type { InvitationSpec } from '../api/generated.ts';
import { UsageError } from './errors.ts';

export function parseEmail(text: string, command: string): string {
  const problem = emailProblem(text, 'EMAIL');
  if (problem !== undefined) throw new UsageError(problem, command);
  return text;
}

export function parseRoleFlag(text: string, command: string): MemberRole {
  const problem = memberRoleProblem(text);
  if (problem !== undefined) throw new UsageError(`--role: ${problem}`, command);
  return text as MemberRole;
}

/** One entry of spec.projects, as the API types spell it. */
export type ProjectScopeEntry = NonNullable<InvitationSpec['projects']>[number];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * `--project P[:env1,env2]`, repeatable: a project, optionally limited to some of its
 * environments. The same project twice merges; a project named without environments
 * anywhere means all of its environments.
 */
export function parseProjectScopes(values: readonly string[], command: string): ProjectScopeEntry[] | undefined {
  if (values.length === 0) return undefined;
  const order: string[] = [];
  const envs = new Map<string, string[] | 'all'>();
  for (const value of values) {
    const colon = value.indexOf(':');
    const name = (colon >= 0 ? value.slice(0, colon) : value).trim();
    const list =
      colon >= 0
        ? value
            .slice(colon + 1)
            .split(',')
            .map((e) => e.trim())
        : undefined;
    if (!DNS_LABEL.test(name)) {
      throw new UsageError(
        `--project ${JSON.stringify(value)}: write a project name, optionally with environments, such as shop or shop:staging,production`,
        command,
      );
    }
    if (list !== undefined && (list.length === 0 || list.some((e) => !DNS_LABEL.test(e)))) {
      throw new UsageError(
        `--project ${JSON.stringify(value)}: environments are comma-separated names after the colon, such as shop:staging,production`,
        command,
      );
    }
    if (!envs.has(name)) order.push(name);
    const previous = envs.get(name);
    if (list === undefined || previous === 'all') envs.set(name, 'all');
    else envs.set(name, [...new Set([...(previous ?? []), ...list])]);
  }
  return order.map((name) => {
    const e = envs.get(name);
    return e === 'all' || e === undefined ? { name } : { name, environments: e };
  });
}

/** `--since`: a Go duration back from now (`90m`, `2h`, `7d` is not Go: use `168h`) or an RFC 3339 time. */
export function parseSince(text: string, now: Date, command: string): Date {
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const at = Date.parse(text);
    if (Number.isNaN(at)) throw new UsageError(`--since ${JSON.stringify(text)}: not a valid time; use RFC 3339 such as 2026-03-01T12:00:00Z`, command);
    return new Date(at);
  }
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    throw new UsageError(`--since ${JSON.stringify(text)}: use a duration such as 30m, 2h or 168h, or a time such as 2026-03-01T12:00:00Z`, command);
  }
  if (ms < 0) throw new UsageError(`--since ${JSON.stringify(text)}: the duration must not be negative`, command);
  return new Date(now.getTime() - ms);
}

/** A Kubernetes object name (DNS-1123 subdomain), as --name and the INVITATION argument take. */
export function parseObjectName(text: string, what: string, command: string): string {
  if (text.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(text)) {
    throw new UsageError(`${what} ${JSON.stringify(text)} is not a valid object name: use lower-case letters, digits, '-' and '.'`, command);
  }
  return text;
}

/** generateName for an invitation: the email's local part as a DNS label, then `-` (the API server adds 5 random characters). */
export function invitationNamePrefix(email: string): string {
  const local = normalizeEmail(email).split('@')[0] ?? '';
  const label = local
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
    .replace(/-+$/, '');
  return `${label || 'invitation'}-`;
}
