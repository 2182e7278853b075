// Exit codes and errors of kubectl-roster. Scripts branch on the code; people read one
// line on stderr that says what went wrong and, where we know, what to do instead.

export const ExitCode = {
  /** Done; for can-i: yes. */
  ok: 0,
  /** The answer is no: can-i says no, something does not exist, or a check refused the change. */
  no: 1,
  /** The command line is wrong: unknown command or flag, missing or malformed argument. */
  usage: 2,
  /** `plan` only (as `terraform plan -detailed-exitcode`): the manifests would change something. */
  changes: 2,
  /** The cluster could not be reached or refused the request (or something unexpected broke). */
  api: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error whose message is fit for a person and whose exit code is fit for a script. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(exitCode: ExitCode, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The command line is wrong. `command` names the command whose --help explains it. */
export class UsageError extends CliError {
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(ExitCode.usage, message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** A "no": not found, not allowed by the team's rules, nothing to act on. */
export const refuse = (message: string): CliError => new CliError(ExitCode.no, message);

interface ApiErrorShape {
  status: number;
  reason: string;
  body: unknown;
  message: string;
}

function isApiError(e: unknown): e is ApiErrorShape {
  // Duck-typed so this module does not load the Kubernetes client (help stays fast).
  return e instanceof Error && e.name === 'KubeApiError' && typeof (e as Partial<ApiErrorShape>).status === 'number';
}

/** Whether `e` is the API server answering with this status (and reason, when given). */
export function isApiStatus(e: unknown, status: number, reason?: string): boolean {
  return isApiError(e) && e.status === status && (reason === undefined || e.reason === reason);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** One line: newlines and runs of spaces folded, so the message stays on one line of stderr. */
export function oneLine(text: string): string {
  return text
    .replace(/\s*\n\s*/g, '; ')
    .replace(/[ \t]+/g, ' ')
    .trim();
}

/**
 * What to print and which code to exit with, for anything a command threw. `server` is the
 * API server's URL when known (for "cannot reach" messages).
 */
export function describeError(e: unknown, server?: string): { message: string; exitCode: ExitCode } {
  if (e instanceof CliError) return { message: oneLine(e.message), exitCode: e.exitCode };
  if (isApiError(e)) {
    const status = (e.body ?? {}) as { message?: unknown };
    const message = typeof status.message === 'string' && status.message !== '' ? status.message : e.message;
    return { message: oneLine(message), exitCode: e.status === 404 ? ExitCode.no : ExitCode.api };
  }
  if (e instanceof Error) {
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) {
      return { message: oneLine(`cannot reach the API server${server ? ` at ${server}` : ''}: ${e.message}`), exitCode: ExitCode.api };
    }
    if (/timed out/.test(e.message)) {
      return { message: oneLine(`the API server${server ? ` at ${server}` : ''} did not answer: ${e.message}`), exitCode: ExitCode.api };
    }
    return { message: oneLine(e.message), exitCode: ExitCode.api };
  }
  return { message: oneLine(String(e)), exitCode: ExitCode.api };
}
