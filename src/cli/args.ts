// The command line of kubectl-roster, parsed the way kubectl (pflag) reads its own:
// `--flag value`, `--flag=value`, `-n value`, `-nvalue`, `-n=value`, booleans as `--flag`
// or `--flag=false`, global flags before or after the command, `--` ends the flags.
// Pure: argv in, a parsed command (or a UsageError) out.

import { UsageError } from './errors.ts';

export interface FlagSpec {
  /** Long name without dashes: `namespace`. */
  readonly name: string;
  /** One-letter short name: `n`. */
  readonly short?: string;
  /** Placeholder of the value in help (`NAMESPACE`); absent for a boolean flag. */
  readonly value?: string;
  /** May be given more than once; the values are collected in order. */
  readonly multiple?: boolean;
  /** The only values accepted. */
  readonly choices?: readonly string[];
  /** The command cannot run without it. */
  readonly required?: boolean;
  readonly description: string;
}

export interface ArgSpec {
  readonly name: string;
  readonly description: string;
  /** May be left out (only trailing arguments). */
  readonly optional?: boolean;
}

export interface CommandSpec {
  readonly name: string;
  /** One line, for the command list. */
  readonly summary: string;
  /** More about the command, for its --help. */
  readonly description?: string;
  /** Required positional arguments, in order. */
  readonly args: readonly ArgSpec[];
  readonly flags: readonly FlagSpec[];
  /** Shell lines; a line starting with `#` is a comment above the next one. */
  readonly examples: readonly string[];
}

// markdown: only `plan` prints it (a pull-request comment); the other commands refuse it.
export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml', 'markdown'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: 'namespace', short: 'n', value: 'NAMESPACE', description: "the team's namespace (default: the kubeconfig context's namespace, else default)" },
  { name: 'kubeconfig', value: 'PATH', description: 'the kubeconfig file to use (default: $KUBECONFIG, else ~/.kube/config)' },
  { name: 'context', value: 'NAME', description: 'the kubeconfig context to use (default: the current context)' },
  {
    name: 'output',
    short: 'o',
    value: 'FORMAT',
    choices: OUTPUT_FORMATS,
    description: 'output format: table, wide (more columns), json or yaml (default table); plan also takes markdown',
  },
  // As kubectl's: impersonation headers on every request, and a limit on each request.
  { name: 'as', value: 'USER', description: 'act as this user for every request (impersonation; needs the impersonate right)' },
  { name: 'as-group', value: 'GROUP', multiple: true, description: 'act as a member of this group (with --as); repeatable' },
  {
    name: 'request-timeout',
    value: 'DURATION',
    description: 'how long to wait for each request: 30s, 2m, 500ms, a bare number of seconds; 0 waits forever (default 30s)',
  },
  { name: 'help', short: 'h', description: 'show help for the command' },
];

export interface GlobalOptions {
  readonly namespace?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly output: OutputFormat;
  /** --as: the user every request impersonates. */
  readonly as?: string;
  /** --as-group: the groups impersonated with --as. */
  readonly asGroups?: readonly string[];
  /** --request-timeout in milliseconds (0: none); undefined means the default. */
  readonly requestTimeoutMs?: number;
}

/**
 * A --request-timeout value as kubectl reads it: a bare number of seconds, or Go-style
 * durations (`500ms`, `30s`, `2m`, `1h`, `1m30s`). 0 means no limit. Undefined when malformed.
 */
export function parseRequestTimeout(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return Math.round(parts.reduce((total, p) => total + Number(p[1]) * units[p[2]!]!, 0));
}

export type FlagValue = string | boolean | readonly string[];

export interface ParsedFlags {
  /** A string flag's last value, or undefined. */
  string(name: string): string | undefined;
  /** A boolean flag (false when absent). */
  boolean(name: string): boolean;
  /** A repeatable flag's values, in order (empty when absent). */
  all(name: string): readonly string[];
}

export type ParsedCommandLine =
  | { readonly kind: 'help'; readonly command?: CommandSpec }
  | {
      readonly kind: 'run';
      readonly command: CommandSpec;
      readonly args: readonly string[];
      readonly flags: ParsedFlags;
      readonly global: GlobalOptions;
    };

const HELP_COMMAND = 'help';

function findFlag(specs: readonly FlagSpec[], token: string): { spec: FlagSpec; inline: string | undefined } | undefined {
  if (token.startsWith('--')) {
    const eq = token.indexOf('=');
    const name = eq >= 0 ? token.slice(2, eq) : token.slice(2);
    const spec = specs.find((s) => s.name === name);
    return spec ? { spec, inline: eq >= 0 ? token.slice(eq + 1) : undefined } : undefined;
  }
  const short = token.slice(1, 2);
  const spec = specs.find((s) => s.short === short);
  if (!spec) return undefined;
  const rest = token.slice(2);
  if (rest === '') return { spec, inline: undefined };
  // -n=acme and -nacme both mean -n acme (as pflag reads them); booleans take no glued value.
  if (spec.value === undefined) return rest.startsWith('=') ? { spec, inline: rest.slice(1) } : undefined;
  return { spec, inline: rest.startsWith('=') ? rest.slice(1) : rest };
}

const isFlagToken = (token: string): boolean => token.startsWith('-') && token !== '-';

function flagLabel(spec: FlagSpec): string {
  return `--${spec.name}`;
}

function parseBoolean(spec: FlagSpec, text: string, command: string | undefined): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new UsageError(`flag ${flagLabel(spec)} takes true or false, not ${JSON.stringify(text)}`, command);
}

/** Finds the command name: the first token that is neither a flag nor a global flag's value. */
function locateCommand(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (!isFlagToken(token)) return i;
    const found = findFlag(GLOBAL_FLAGS, token);
    if (found && found.spec.value !== undefined && found.inline === undefined) i++; // skip its value
  }
  return -1;
}

function wantsHelp(argv: readonly string[]): boolean {
  for (const token of argv) {
    if (token === '--') return false;
    if (token === '--help' || token === '-h' || token === '--help=true') return true;
  }
  return false;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  // A cheap "did you mean": same first letter and within two edits.
  const distance = (a: string, b: string): number => {
    const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) dp[0]![j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        const cost = a[i - 1] === b[j - 1] ? 0 : 1;
        dp[i]![j] = Math.min(dp[i - 1]![j]! + 1, dp[i]![j - 1]! + 1, dp[i - 1]![j - 1]! + cost);
      }
    }
    return dp[a.length]![b.length]!;
  };
  let best: { name: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d <= 2 && (best === undefined || d < best.d)) best = { name: c, d };
  }
  return best?.name;
}

/**
 * Parses argv (without the program name) against the commands. Throws UsageError for an
 * unknown command or flag, a missing value or argument, a value outside a flag's choices.
 * `-h`/`--help` anywhere (or `help [COMMAND]`) asks for help and wins over other problems.
 */
export function parseCommandLine(argv: readonly string[], commands: readonly CommandSpec[]): ParsedCommandLine {
  const at = locateCommand(argv);
  const name = at >= 0 ? argv[at] : undefined;
  if (name === HELP_COMMAND) {
    const topic = argv.slice(at + 1).find((t) => !isFlagToken(t));
    if (topic === undefined) return { kind: 'help' };
    const command = commands.find((c) => c.name === topic);
    if (!command) throw new UsageError(unknownCommandMessage(topic, commands));
    return { kind: 'help', command };
  }
  const command = name === undefined ? undefined : commands.find((c) => c.name === name);
  if (wantsHelp(argv)) return command ? { kind: 'help', command } : { kind: 'help' };
  if (name === undefined) return { kind: 'help' };
  if (!command) throw new UsageError(unknownCommandMessage(name, commands));

  const specs = [...GLOBAL_FLAGS, ...command.flags];
  const values = new Map<string, FlagValue>();
  const positionals: string[] = [];
  let flagsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    if (i === at) continue;
    const token = argv[i]!;
    if (flagsEnded || !isFlagToken(token)) {
      positionals.push(token);
      continue;
    }
    if (token === '--') {
      flagsEnded = true;
      continue;
    }
    const found = findFlag(specs, token);
    if (!found) {
      const shown = token.split('=')[0]!;
      const hint = token.startsWith('--')
        ? closest(
            shown.slice(2),
            specs.map((s) => s.name),
          )
        : undefined;
      throw new UsageError(`unknown flag ${shown} for "${command.name}"${hint ? ` (did you mean --${hint}?)` : ''}`, command.name);
    }
    const { spec, inline } = found;
    if (spec.value === undefined) {
      values.set(spec.name, inline === undefined ? true : parseBoolean(spec, inline, command.name));
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag ${flagLabel(spec)} needs a value (${spec.value})`, command.name);
      value = argv[++i]!;
      if (i === at) throw new UsageError(`flag ${flagLabel(spec)} needs a value (${spec.value})`, command.name);
    }
    if (spec.choices && !spec.choices.includes(value)) {
      throw new UsageError(`flag ${flagLabel(spec)} takes one of ${spec.choices.join(', ')}, not ${JSON.stringify(value)}`, command.name);
    }
    if (spec.multiple) {
      const previous = values.get(spec.name);
      values.set(spec.name, [...(Array.isArray(previous) ? previous : []), value]);
    } else {
      values.set(spec.name, value);
    }
  }

  const required = command.args.filter((a) => !a.optional).length;
  if (positionals.length < required) {
    const missing = command.args.slice(positionals.length, required).map((a) => a.name);
    throw new UsageError(`${command.name} needs ${missing.join(' and ')}`, command.name);
  }
  if (positionals.length > command.args.length) {
    const extra = positionals.slice(command.args.length);
    throw new UsageError(
      `unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((e) => JSON.stringify(e)).join(' ')} for "${command.name}"`,
      command.name,
    );
  }

  const missingFlags = command.flags.filter((f) => f.required && !values.has(f.name));
  if (missingFlags.length > 0) {
    throw new UsageError(`${command.name} needs ${missingFlags.map((f) => `--${f.name} ${f.value ?? ''}`.trim()).join(' and ')}`, command.name);
  }

  const flags: ParsedFlags = {
    string(flag) {
      const v = values.get(flag);
      return typeof v === 'string' ? v : undefined;
    },
    boolean(flag) {
      return values.get(flag) === true;
    },
    all(flag) {
      const v = values.get(flag);
      return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
    },
  };
  const nonEmpty = (flag: string): string | undefined => {
    const v = flags.string(flag);
    if (v === '') throw new UsageError(`flag --${flag} needs a non-empty value`, command.name);
    return v;
  };
  const global: GlobalOptions = {
    namespace: nonEmpty('namespace'),
    kubeconfig: nonEmpty('kubeconfig'),
    context: nonEmpty('context'),
    output: (flags.string('output') ?? 'table') as OutputFormat,
    ...impersonationAndTimeout(flags, nonEmpty, command.name),
  };
  return { kind: 'run', command, args: positionals, flags, global };
}

function impersonationAndTimeout(
  flags: ParsedFlags,
  nonEmpty: (flag: string) => string | undefined,
  command: string,
): Pick<GlobalOptions, 'as' | 'asGroups' | 'requestTimeoutMs'> {
  const as = nonEmpty('as');
  const asGroups = flags.all('as-group');
  // The API server cannot impersonate groups without a user; kubectl refuses it too.
  if (asGroups.length > 0 && as === undefined) throw new UsageError('--as-group needs --as USER: groups are impersonated together with a user', command);
  if (asGroups.includes('')) throw new UsageError('flag --as-group needs a non-empty value', command);
  const timeout = flags.string('request-timeout');
  const requestTimeoutMs = timeout === undefined ? undefined : parseRequestTimeout(timeout);
  if (timeout !== undefined && requestTimeoutMs === undefined) {
    throw new UsageError(`--request-timeout ${JSON.stringify(timeout)} is not a duration: use 30s, 2m, 500ms, a number of seconds, or 0 for none`, command);
  }
  return { ...(as !== undefined ? { as } : {}), ...(asGroups.length > 0 ? { asGroups } : {}), ...(requestTimeoutMs !== undefined ? { requestTimeoutMs } : {}) };
}

function unknownCommandMessage(name: string, commands: readonly CommandSpec[]): string {
  const hint = closest(
    name,
    commands.map((c) => c.name),
  );
  return `unknown command ${JSON.stringify(name)}${hint ? ` (did you mean ${hint}?)` : ''}; commands: ${commands.map((c) => c.name).join(', ')}`;
}
