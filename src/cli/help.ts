// Help text, in kubectl's layout: description, usage, flags, global flags, examples.
import { GLOBAL_FLAGS, type CommandSpec, type FlagSpec } from './args.ts';

export const PROGRAM = 'kubectl roster';

function usageLine(command: CommandSpec): string {
  const required = command.flags.filter((f) => f.required);
  const parts = [
    PROGRAM,
    command.name,
    ...command.args.map((a) => (a.optional ? `[${a.name}]` : a.name)),
    ...required.map((f) => `--${f.name} ${f.value ?? ''}`.trim()),
  ];
  return `${parts.join(' ')} [flags]`;
}

function flagRows(flags: readonly FlagSpec[]): string[] {
  const left = flags.map((f) => {
    const short = f.short ? `-${f.short}, ` : '    ';
    const repeat = f.multiple ? '...' : '';
    return `  ${short}--${f.name}${f.value ? ` ${f.value}${repeat}` : ''}`;
  });
  const width = Math.max(...left.map((l) => l.length));
  return flags.map((f, i) => `${left[i]!.padEnd(width)}   ${f.description}`);
}

export function commandHelp(command: CommandSpec): string {
  const lines = [command.description ?? command.summary, '', 'Usage:', `  ${usageLine(command)}`];
  if (command.args.length > 0) {
    lines.push('', 'Arguments:');
    const width = Math.max(...command.args.map((a) => a.name.length));
    for (const a of command.args) lines.push(`  ${a.name.padEnd(width)}   ${a.description}`);
  }
  if (command.flags.length > 0) lines.push('', 'Flags:', ...flagRows(command.flags));
  lines.push('', 'Global flags:', ...flagRows(GLOBAL_FLAGS));
  if (command.examples.length > 0) {
    lines.push('', 'Examples:');
    for (const example of command.examples) lines.push(example === '' ? '' : `  ${example}`);
  }
  return `${lines.join('\n')}\n`;
}

export function programHelp(commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = [
    'kubectl roster: manage Roster teams (roster.dev) from kubectl — invite people, resend and',
    'revoke invitations, list members and seats, transfer ownership, review access, read the',
    "team's history.",
    '',
    'Usage:',
    `  ${PROGRAM} COMMAND [ARGS] [flags]`,
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}   ${c.summary}`),
    '',
    'Global flags:',
    ...flagRows(GLOBAL_FLAGS),
    '',
    'Exit codes:',
    '  0   done (can-i: yes)',
    '  1   no: can-i says no, something does not exist, or a check refused the change',
    '  2   usage error: unknown command or flag, missing or malformed argument',
    '  3   the cluster could not be reached or refused the request',
    '  plan has its own (as terraform plan -detailed-exitcode): 0 no change, 2 changes, 1 denied or error',
    '',
    `Use "${PROGRAM} COMMAND --help" for more about a command.`,
  ];
  return `${lines.join('\n')}\n`;
}
