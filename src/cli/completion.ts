// Shell completion. `kubectl roster <TAB>` works through kubectl itself (1.26+): kubectl runs
// `kubectl_complete-roster WORD...` (bin/kubectl_complete-roster, shipped next to the plugin),
// which runs `kubectl-roster __complete WORD...`; the last word is the one being completed
// (empty after a space). The answer uses cobra's protocol, which kubectl reads: one candidate
// a line (`value<TAB>description`), then `:DIRECTIVE`. `kubectl roster completion SHELL`
// prints a script that completes `kubectl-roster` typed directly, through the same protocol.
import { KEY_ACTIONS } from './commands/key.ts';
import { MEMBER_ROLES, PERMISSIONS, ROLE_DESCRIPTIONS } from '../domain/roles.ts';
import { GLOBAL_FLAGS, parseRequestTimeout, type CommandSpec, type FlagSpec, type GlobalOptions } from './args.ts';
import type { KubeObject } from '../runtime/kube-client.ts';
import type { Connection } from './cluster.ts';
import type { Command, Io } from './command.ts';
import { ExitCode, UsageError } from './errors.ts';

/** The hidden command the helper and the scripts call. */
export const COMPLETE_COMMAND = '__complete';
export const SHELLS = ['bash', 'zsh', 'fish'] as const;

/** cobra's ShellCompDirective values that we use. */
export const Directive = {
  /** The shell may fall back to file names (a PATH flag with no candidates). */
  default: 0,
  /** No file names: only what we printed. */
  noFileComp: 4,
} as const;
export type Directive = (typeof Directive)[keyof typeof Directive];

export interface Candidate {
  readonly value: string;
  readonly description?: string;
}

export interface Completion {
  readonly candidates: readonly Candidate[];
  readonly directive: Directive;
}

/** Names read from the cluster; each may fail (no cluster, no rights), which means no candidates. */
export interface CompletionSource {
  teams(global: GlobalOptions): Promise<readonly Candidate[]>;
  invitations(global: GlobalOptions): Promise<readonly Candidate[]>;
  projects(global: GlobalOptions): Promise<readonly Candidate[]>;
  namespaces(global: GlobalOptions): Promise<readonly Candidate[]>;
  contexts(global: GlobalOptions): Promise<readonly Candidate[]>;
}

const HELP = 'help';
/** The longest a completion waits for each cluster read. */
export const COMPLETION_TIMEOUT_MS = 3000;
const isFlagToken = (token: string): boolean => token.startsWith('-') && token !== '-';

function findFlag(specs: readonly FlagSpec[], token: string): { spec: FlagSpec; inline: string | undefined } | undefined {
  if (token.startsWith('--')) {
    const eq = token.indexOf('=');
    const spec = specs.find((s) => s.name === (eq >= 0 ? token.slice(2, eq) : token.slice(2)));
    return spec ? { spec, inline: eq >= 0 ? token.slice(eq + 1) : undefined } : undefined;
  }
  const spec = specs.find((s) => s.short === token.slice(1, 2));
  if (!spec) return undefined;
  const rest = token.slice(2);
  return { spec, inline: rest === '' ? undefined : rest.startsWith('=') ? rest.slice(1) : rest };
}

/** What the words typed so far say: the command, its positionals, the global flags (for cluster reads). */
interface Reading {
  command: CommandSpec | undefined;
  /** The command word is not a command: nothing after it can be completed. */
  unknown: boolean;
  helpTopic: boolean;
  flagsEnded: boolean;
  positionals: string[];
  /** A flag whose value is the word being completed. */
  pending: FlagSpec | undefined;
  global: GlobalOptions;
}

function read(before: readonly string[], commands: readonly CommandSpec[]): Reading {
  let command: CommandSpec | undefined;
  let helpTopic = false;
  const positionals: string[] = [];
  const values = new Map<string, string[]>();
  let pending: FlagSpec | undefined;
  let flagsEnded = false;
  for (const token of before) {
    if (pending) {
      values.set(pending.name, [...(values.get(pending.name) ?? []), token]);
      pending = undefined;
      continue;
    }
    if (!flagsEnded && token === '--') {
      flagsEnded = true;
      continue;
    }
    if (!flagsEnded && isFlagToken(token)) {
      const found = findFlag([...GLOBAL_FLAGS, ...(command?.flags ?? [])], token);
      if (found?.spec.value === undefined) continue; // a boolean, or unknown: it takes no value
      if (found.inline === undefined) pending = found.spec;
      else values.set(found.spec.name, [...(values.get(found.spec.name) ?? []), found.inline]);
      continue;
    }
    if (command === undefined && !helpTopic) {
      if (token === HELP) helpTopic = true;
      else command = commands.find((c) => c.name === token);
      if (command === undefined && !helpTopic)
        return { command, unknown: true, helpTopic, flagsEnded, positionals, pending: undefined, global: globalOf(values) };
    } else {
      positionals.push(token);
    }
  }
  return { command, unknown: false, helpTopic, flagsEnded, positionals, pending, global: globalOf(values) };
}

function globalOf(values: Map<string, string[]>): GlobalOptions {
  const last = (name: string): string | undefined => values.get(name)?.at(-1) || undefined;
  const timeout = last('request-timeout');
  const given = timeout === undefined ? undefined : parseRequestTimeout(timeout);
  const as = last('as');
  return {
    namespace: last('namespace'),
    kubeconfig: last('kubeconfig'),
    context: last('context'),
    output: 'table',
    ...(as !== undefined ? { as, asGroups: values.get('as-group') ?? [] } : {}),
    // A completion waits briefly whatever was typed: a slow cluster must not freeze the shell.
    requestTimeoutMs: given !== undefined && given > 0 && given < COMPLETION_TIMEOUT_MS ? given : COMPLETION_TIMEOUT_MS,
  };
}

const startsWith = (prefix: string) => (c: Candidate) => c.value.startsWith(prefix);
const noFiles = (candidates: readonly Candidate[], prefix: string): Completion => ({
  candidates: candidates.filter(startsWith(prefix)),
  directive: Directive.noFileComp,
});

async function cheap(read: () => Promise<readonly Candidate[]>): Promise<readonly Candidate[]> {
  try {
    return await read();
  } catch {
    return []; // no cluster, no rights, too slow: complete nothing rather than fail
  }
}

async function flagValues(flag: FlagSpec, prefix: string, global: GlobalOptions, source: CompletionSource): Promise<Completion> {
  if (flag.choices)
    return noFiles(
      flag.choices.map((value) => ({ value })),
      prefix,
    );
  switch (flag.value) {
    case 'PATH':
      return { candidates: [], directive: Directive.default };
    case 'TEAM':
      return noFiles(await cheap(() => source.teams(global)), prefix);
    case 'ROLE':
      return noFiles(
        MEMBER_ROLES.map((value) => ({ value, description: ROLE_DESCRIPTIONS[value] })),
        prefix,
      );
    case 'NAMESPACE':
      return noFiles(await cheap(() => source.namespaces(global)), prefix);
    case 'PROJECT':
    case 'PROJECT[:ENV,...]':
      return noFiles(await cheap(() => source.projects(global)), prefix);
    case 'NAME':
      return flag.name === 'context' ? noFiles(await cheap(() => source.contexts(global)), prefix) : noFiles([], prefix);
    default:
      return noFiles([], prefix);
  }
}

async function argValues(arg: string, prefix: string, global: GlobalOptions, source: CompletionSource): Promise<Completion> {
  switch (arg) {
    case 'TEAM':
      return noFiles(await cheap(() => source.teams(global)), prefix);
    case 'INVITATION':
      return noFiles(await cheap(() => source.invitations(global)), prefix);
    case 'VERB':
      return noFiles(
        PERMISSIONS.map((value) => ({ value })),
        prefix,
      );
    case 'ACTION':
      return noFiles(
        KEY_ACTIONS.map((value) => ({ value })),
        prefix,
      );
    case 'SHELL':
      return noFiles(
        SHELLS.map((value) => ({ value })),
        prefix,
      );
    default:
      return noFiles([], prefix);
  }
}

const flagCandidates = (flags: readonly FlagSpec[]): Candidate[] =>
  flags.flatMap((f) => [{ value: `--${f.name}`, description: f.description }, ...(f.short ? [{ value: `-${f.short}`, description: f.description }] : [])]);

/** The candidates for the last word of `words` (the words after `kubectl roster`). */
export async function complete(words: readonly string[], commands: readonly CommandSpec[], source: CompletionSource): Promise<Completion> {
  const current = words.at(-1) ?? '';
  const reading = read(words.slice(0, -1), commands);
  const { command, global } = reading;
  if (reading.pending) return await flagValues(reading.pending, current, global, source);
  if (reading.unknown) return noFiles([], current);
  if (current.startsWith('-') && !reading.flagsEnded) {
    const flags = [...(command?.flags ?? []), ...GLOBAL_FLAGS];
    const eq = current.indexOf('=');
    if (current.startsWith('--') && eq > 0) {
      const spec = flags.find((f) => f.name === current.slice(2, eq));
      if (!spec || spec.value === undefined) return noFiles([], current);
      const values = await flagValues(spec, current.slice(eq + 1), global, source);
      return { ...values, candidates: values.candidates.map((c) => ({ ...c, value: `${current.slice(0, eq + 1)}${c.value}` })) };
    }
    return noFiles(flagCandidates(flags), current);
  }
  if (reading.helpTopic) return reading.positionals.length === 0 ? noFiles(commandCandidates(commands), current) : noFiles([], current);
  if (command === undefined) return noFiles([...commandCandidates(commands), { value: HELP, description: 'help about a command' }], current);
  const arg = command.args[reading.positionals.length];
  return arg ? await argValues(arg.name, current, global, source) : noFiles([], current);
}

const commandCandidates = (commands: readonly CommandSpec[]): Candidate[] => commands.map((c) => ({ value: c.name, description: c.summary }));

/** cobra's __complete output: candidates, one a line, then `:DIRECTIVE`. */
export function renderCompletion(completion: Completion): string {
  // A tab or newline inside a description would break the protocol's lines.
  const clean = (text: string) => text.replace(/[\t\n]+/g, ' ');
  const lines = completion.candidates.map((c) => (c.description ? `${c.value}\t${clean(c.description)}` : c.value));
  return `${[...lines, `:${completion.directive}`].join('\n')}\n`;
}

/** Reads names from the cluster through the CLI's own connection (and so its flags). */
export function clusterSource(connect: (global: GlobalOptions) => Promise<Connection>): CompletionSource {
  const withConnection = async <T>(global: GlobalOptions, use: (conn: Connection) => Promise<T>): Promise<T> => {
    const conn = await connect(global);
    try {
      return await use(conn);
    } finally {
      conn.client.close();
    }
  };
  const named = async (global: GlobalOptions, kind: 'team' | 'invitation' | 'project'): Promise<Candidate[]> =>
    withConnection(global, async (conn) => {
      const [{ resources }, { listAll }] = await Promise.all([import('../api/resources.ts'), import('./cluster.ts')]);
      type Named = KubeObject & { spec?: { displayName?: string; email?: string; team?: string } };
      const items = await listAll<Named>(conn, resources[kind]);
      return items.map((o) => ({
        value: o.metadata.name ?? '',
        description:
          kind === 'team'
            ? o.spec?.displayName
            : kind === 'invitation'
              ? `${o.spec?.email ?? ''} (team ${o.spec?.team ?? '?'})`
              : `team ${o.spec?.team ?? '?'}`,
      }));
    });
  return {
    teams: (global) => named(global, 'team'),
    invitations: (global) => named(global, 'invitation'),
    projects: (global) => named(global, 'project'),
    namespaces: (global) =>
      withConnection(global, async (conn) => {
        const { resources } = await import('../api/resources.ts');
        const list = await conn.client.list(resources.namespace, undefined, { limit: 500 });
        return list.items.map((n) => ({ value: n.metadata.name ?? '' }));
      }),
    contexts: async (global) => {
      const { KubeConfig } = await import('@kubernetes/client-node');
      const kc = new KubeConfig();
      if (global.kubeconfig !== undefined) kc.loadFromFile(global.kubeconfig);
      else kc.loadFromDefault();
      return kc.getContexts().map((c) => ({ value: c.name, description: `cluster ${c.cluster}` }));
    },
  };
}

/** `kubectl-roster __complete WORD...`: prints the candidates; never fails (a completion that errors only beeps). */
export async function runComplete(words: readonly string[], commands: readonly CommandSpec[], io: Io, source?: CompletionSource): Promise<ExitCode> {
  const { connect } = await import('./cluster.ts');
  const completion = await complete(words.length === 0 ? [''] : words, commands, source ?? clusterSource(connect)).catch((): Completion => ({
    candidates: [],
    directive: Directive.noFileComp,
  }));
  io.out(renderCompletion(completion));
  return ExitCode.ok;
}

export function completionScript(shell: (typeof SHELLS)[number]): string {
  const header = [
    `# ${shell} completion for kubectl-roster, from \`kubectl roster completion ${shell}\`.`,
    '# This completes `kubectl-roster` typed directly. `kubectl roster <TAB>` is completed by',
    "# kubectl's own completion (kubectl 1.26+) when kubectl_complete-roster, shipped next to",
    '# kubectl-roster, is on PATH.',
  ].join('\n');
  switch (shell) {
    case 'bash':
      return `${header}
# Load it: source <(kubectl roster completion bash)
_kubectl_roster() {
  local cur=\${COMP_WORDS[COMP_CWORD]} out directive line
  local -a candidates=()
  out=$(kubectl-roster ${COMPLETE_COMMAND} "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return
  directive=\${out##*:}
  while IFS= read -r line; do
    [[ -z $line || $line == :* ]] && continue
    candidates+=("\${line%%$'\\t'*}")
  done <<<"$out"
  COMPREPLY=($(compgen -W "\${candidates[*]}" -- "$cur"))
  if (( \${#COMPREPLY[@]} == 0 && (directive & ${Directive.noFileComp}) == 0 )); then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o nosort -F _kubectl_roster kubectl-roster 2>/dev/null || complete -F _kubectl_roster kubectl-roster
`;
    case 'zsh':
      return `#compdef kubectl-roster
${header}
# Load it: source <(kubectl roster completion zsh)   (after compinit)
_kubectl_roster() {
  local -a lines candidates
  local line directive
  lines=("\${(@f)$(kubectl-roster ${COMPLETE_COMMAND} "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  directive=\${\${lines[-1]}#:}
  for line in "\${(@)lines[1,-2]}"; do
    [[ -z $line ]] && continue
    if [[ $line == *$'\\t'* ]]; then
      candidates+=("\${\${line%%$'\\t'*}//:/\\\\:}:\${line#*$'\\t'}")
    else
      candidates+=("\${line//:/\\\\:}")
    fi
  done
  if (( \${#candidates} > 0 )); then
    _describe 'kubectl-roster' candidates
  elif (( (directive & ${Directive.noFileComp}) == 0 )); then
    _files
  fi
}
if [ "$funcstack[1]" = "_kubectl_roster" ]; then _kubectl_roster "$@"; else compdef _kubectl_roster kubectl-roster; fi
`;
    case 'fish':
      return `${header}
# Load it: kubectl roster completion fish | source
function __kubectl_roster_complete
  set -l words (commandline -opc)[2..-1] (commandline -ct)
  kubectl-roster ${COMPLETE_COMMAND} $words 2>/dev/null | string match -v -r '^:'
end
complete -c kubectl-roster -f -a '(__kubectl_roster_complete)'
`;
  }
}

/** `kubectl roster completion bash|zsh|fish`. */
export const completion: Command = {
  spec: {
    name: 'completion',
    summary: 'Print a shell completion script (bash, zsh or fish)',
    description: [
      'Print a shell completion script for bash, zsh or fish.',
      '',
      '`kubectl roster <TAB>` needs no script: kubectl 1.26+ completes plugins by running',
      'kubectl_complete-roster (shipped next to kubectl-roster; put it on PATH too). The script',
      'printed here completes `kubectl-roster` when you type it directly. Completion offers',
      'commands, flags, their values, and team, invitation and project names read from the',
      'cluster (briefly: at most 3 seconds).',
    ].join('\n'),
    args: [{ name: 'SHELL', description: 'bash, zsh or fish' }],
    flags: [],
    examples: [
      '# fish, for this shell (or save it in ~/.config/fish/completions/kubectl-roster.fish)',
      'kubectl roster completion fish | source',
      '# bash, for this shell (add the line to ~/.bashrc for every shell)',
      'source <(kubectl roster completion bash)',
      '# zsh, after compinit (add the line to ~/.zshrc for every shell)',
      'source <(kubectl roster completion zsh)',
    ],
  },
  async run({ args, io }) {
    const shell = SHELLS.find((s) => s === args[0]);
    if (!shell) throw new UsageError(`completion supports ${SHELLS.join(', ')}, not ${JSON.stringify(args[0])}`, 'completion');
    io.out(completionScript(shell));
    return ExitCode.ok;
  },
};
