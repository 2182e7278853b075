import { describe, expect, it } from 'vitest';
import { parseCommandLine, type CommandSpec, type ParsedCommandLine } from '../../../src/cli/args.ts';
import { COMMANDS } from '../../../src/cli/app.ts';
import { UsageError } from '../../../src/cli/errors.ts';
import { commandHelp, programHelp } from '../../../src/cli/help.ts';

const specs: readonly CommandSpec[] = COMMANDS.map((c) => c.spec);
const parse = (...argv: string[]): ParsedCommandLine => parseCommandLine(argv, specs);

function run(...argv: string[]) {
  const parsed = parse(...argv);
  if (parsed.kind !== 'run') throw new Error(`expected a command to run, got ${parsed.kind}`);
  return parsed;
}

function usageError(...argv: string[]): UsageError {
  try {
    parse(...argv);
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
}

describe('parseCommandLine', () => {
  it('reads positionals and flags in every spelling kubectl accepts', () => {
    const spellings = [
      ['invite', 'riley@acme.com', '--team', 'acme', '--role', 'developer', '-n', 'acme-ns', '-o', 'json'],
      ['invite', 'riley@acme.com', '--team=acme', '--role=developer', '-nacme-ns', '-ojson'],
      ['-n=acme-ns', 'invite', '--output=json', '--team', 'acme', 'riley@acme.com', '--role', 'developer'],
      ['--namespace', 'acme-ns', '-o', 'json', 'invite', 'riley@acme.com', '--role', 'developer', '--team', 'acme'],
    ];
    for (const argv of spellings) {
      const parsed = run(...argv);
      expect(parsed.command.name, argv.join(' ')).toBe('invite');
      expect(parsed.args).toEqual(['riley@acme.com']);
      expect(parsed.flags.string('team')).toBe('acme');
      expect(parsed.flags.string('role')).toBe('developer');
      expect(parsed.global).toEqual({ namespace: 'acme-ns', kubeconfig: undefined, context: undefined, output: 'json' });
    }
  });

  it('collects a repeatable flag in order and keeps the last value of a single one', () => {
    const parsed = run('invite', 'a@acme.com', '--team', 'x', '--team', 'acme', '--role', 'observer', '--project', 'shop:staging', '--project=blog');
    expect(parsed.flags.all('project')).toEqual(['shop:staging', 'blog']);
    expect(parsed.flags.string('team')).toBe('acme');
    expect(parsed.flags.all('message')).toEqual([]);
  });

  it('takes the next token as a value even when it looks like a flag, and -- ends the flags', () => {
    expect(run('invite', 'a@acme.com', '--team', 'acme', '--role', 'admin', '--message', '-- hi --').flags.string('message')).toBe('-- hi --');
    const parsed = run('can-i', '--', '-odd@acme.com', 'view');
    expect(parsed.args).toEqual(['-odd@acme.com', 'view']);
  });

  it('reads booleans as --flag, -q and --flag=false', () => {
    expect(run('can-i', 'a@acme.com', 'view', '-q').flags.boolean('quiet')).toBe(true);
    expect(run('can-i', 'a@acme.com', 'view', '--quiet').flags.boolean('quiet')).toBe(true);
    expect(run('can-i', 'a@acme.com', 'view', '--quiet=false').flags.boolean('quiet')).toBe(false);
    expect(run('can-i', 'a@acme.com', 'view').flags.boolean('quiet')).toBe(false);
    expect(usageError('can-i', 'a@acme.com', 'view', '--quiet=maybe').message).toMatch(/--quiet takes true or false/);
  });

  it('defaults the output to table', () => {
    expect(run('members', 'acme').global.output).toBe('table');
    expect(run('members', 'acme', '-o', 'wide').global.output).toBe('wide');
  });

  it('answers help for -h anywhere, for help COMMAND and for no arguments, even when arguments are missing', () => {
    expect(parse()).toEqual({ kind: 'help' });
    expect(parse('--help')).toEqual({ kind: 'help' });
    expect(parse('invite', '-h')).toMatchObject({ kind: 'help', command: { name: 'invite' } });
    expect(parse('-n', 'acme', 'seats', '--help')).toMatchObject({ kind: 'help', command: { name: 'seats' } });
    expect(parse('help', 'can-i')).toMatchObject({ kind: 'help', command: { name: 'can-i' } });
    expect(parse('help')).toEqual({ kind: 'help' });
  });

  it('refuses what it does not understand, naming the problem and the command', () => {
    const cases: Array<[string[], RegExp, string | undefined]> = [
      [['invit', 'a@acme.com'], /unknown command "invit" \(did you mean invite\?\)/, undefined],
      [['members', 'acme', '--namespac', 'x'], /unknown flag --namespac for "members" \(did you mean --namespace\?\)/, 'members'],
      [['invite', 'a@acme.com', '--team=acme', '--role=admin', '--projet=shop'], /unknown flag --projet for "invite" \(did you mean --project\?\)/, 'invite'],
      [['members', 'acme', '-x'], /unknown flag -x for "members"/, 'members'],
      [['members'], /members needs TEAM/, 'members'],
      [['members', 'acme', 'extra'], /unexpected argument "extra" for "members"/, 'members'],
      [['transfer', 'acme'], /transfer needs EMAIL/, 'transfer'],
      [['invite', 'a@acme.com', '--role', 'admin'], /invite needs --team TEAM/, 'invite'],
      [['invite', 'a@acme.com'], /invite needs --team TEAM and --role ROLE/, 'invite'],
      [['members', 'acme', '-o'], /flag --output needs a value/, 'members'],
      [['members', 'acme', '-o', 'xml'], /flag --output takes one of table, wide, json, yaml, markdown, not "xml"/, 'members'],
      [['members', 'acme', '-n', ''], /flag --namespace needs a non-empty value/, 'members'],
      [['help', 'nope'], /unknown command "nope"/, undefined],
    ];
    for (const [argv, message, command] of cases) {
      const error = usageError(...argv);
      expect(error.message, argv.join(' ')).toMatch(message);
      expect(error.exitCode).toBe(2);
      expect(error.command).toBe(command);
    }
  });
});

describe('help', () => {
  it('documents every command with usage, every flag and at least one example', () => {
    for (const spec of specs) {
      const text = commandHelp(spec);
      expect(text).toContain(`Usage:\n  kubectl roster ${spec.name}`);
      for (const arg of spec.args) expect(text).toContain(arg.name);
      for (const flag of spec.flags) expect(text, `${spec.name} --${flag.name}`).toContain(`--${flag.name}`);
      expect(text).toMatch(/Examples:\n {2}\S/);
      expect(text).toContain('-n, --namespace NAMESPACE');
    }
  });

  it('gives examples that parse', () => {
    // Enough of a shell to read the examples: quotes, and a pipe ends the command.
    const words = (line: string): string[] => [...line.split(' | ')[0]!.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
    let checked = 0;
    for (const spec of specs) {
      for (const example of spec.examples.filter((e) => e.startsWith('kubectl roster '))) {
        const parsed = parse(...words(example).slice(2));
        expect(parsed.kind, example).toBe('run');
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(specs.length);
  });

  it('puts required flags in the usage line', () => {
    const invite = specs.find((s) => s.name === 'invite')!;
    expect(commandHelp(invite)).toContain('kubectl roster invite EMAIL --team TEAM --role ROLE [flags]');
  });

  it('lists every command and the exit codes in the program help', () => {
    const text = programHelp(specs);
    for (const spec of specs) expect(text).toMatch(new RegExp(`^ {2}${spec.name} +${spec.summary.replace(/[()]/g, '\\$&')}$`, 'm'));
    expect(text).toMatch(/^ {2}2 {3}usage error/m);
  });
});
