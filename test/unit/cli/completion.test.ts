// Shell completion: what `kubectl-roster __complete WORD...` offers at each position (kubectl
// runs it through kubectl_complete-roster), in cobra's protocol, and the bash script working
// in a real bash against the real plugin.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMMANDS, runCli } from '../../../src/cli/app.ts';
import type { GlobalOptions } from '../../../src/cli/args.ts';
import { complete, COMPLETION_TIMEOUT_MS, completionScript, Directive, renderCompletion, type CompletionSource } from '../../../src/cli/completion.ts';
import { projectRoot } from '../../../controlplane/harness.ts';

const specs = COMMANDS.map((c) => c.spec);

/** Names a cluster would give, and the global flags each read was asked with. */
function source(options: { fail?: boolean } = {}): CompletionSource & { asked: GlobalOptions[] } {
  const asked: GlobalOptions[] = [];
  const answer = (names: { value: string; description?: string }[]) => async (global: GlobalOptions) => {
    asked.push(global);
    if (options.fail) throw new Error('connect ECONNREFUSED 127.0.0.1:1');
    return names;
  };
  return {
    asked,
    teams: answer([{ value: 'acme', description: 'Acme Corp' }, { value: 'globex' }]),
    invitations: answer([{ value: 'jordan-x7k2p', description: 'jordan@acme.com (team acme)' }]),
    projects: answer([{ value: 'shop', description: 'team acme' }]),
    namespaces: answer([{ value: 'acme' }, { value: 'kube-system' }]),
    contexts: answer([{ value: 'prod' }, { value: 'staging' }]),
  };
}

const values = async (words: string[], from = source()) => (await complete(words, specs, from)).candidates.map((c) => c.value);

describe('complete', () => {
  it('offers the commands (with help) first, filtered by what is typed', async () => {
    const all = await complete([''], specs, source());
    expect(all.directive).toBe(Directive.noFileComp);
    expect(all.candidates.map((c) => c.value)).toEqual([...specs.map((s) => s.name), 'help']);
    expect(all.candidates.find((c) => c.value === 'members')?.description).toBe("List a team's owner, members and pending invitations");
    expect(await values(['mem'])).toEqual(['members']);
    expect(await values(['c'])).toEqual(['can-i', 'completion']);
    // After global flags and their values the command still comes next.
    expect(await values(['-n', 'acme', '--as', 'jane@acme.com', 'se'])).toEqual(['seats']);
    expect(await values(['help', 're'])).toEqual(['resend', 'revoke', 'release']);
  });

  it('offers team names from the cluster for TEAM, read with the flags typed so far and a short timeout', async () => {
    const from = source();
    const teams = await complete(['-n', 'acme', 'members', '--context', 'prod', '--as', 'jane', '--as-group', 'a', '--as-group=b', ''], specs, from);
    expect(teams.candidates).toEqual([{ value: 'acme', description: 'Acme Corp' }, { value: 'globex' }]);
    expect(from.asked).toEqual([
      { namespace: 'acme', kubeconfig: undefined, context: 'prod', output: 'table', as: 'jane', asGroups: ['a', 'b'], requestTimeoutMs: COMPLETION_TIMEOUT_MS },
    ]);
    expect(await values(['seats', 'g'])).toEqual(['globex']);
    expect(await values(['transfer', ''])).toEqual(['acme', 'globex']);
    expect(await values(['invite', 'x@acme.com', '--team', ''])).toEqual(['acme', 'globex']);
    expect(await values(['resend', ''])).toEqual(['jordan-x7k2p']);
    // A shorter --request-timeout is kept; a longer one (or 0) is capped.
    const quick = source();
    await complete(['members', '--request-timeout', '500ms', ''], specs, quick);
    const slow = source();
    await complete(['members', '--request-timeout=0', ''], specs, slow);
    expect([quick.asked[0]?.requestTimeoutMs, slow.asked[0]?.requestTimeoutMs]).toEqual([500, COMPLETION_TIMEOUT_MS]);
  });

  it('offers nothing (and does not fail) when the cluster cannot be read', async () => {
    const from = source({ fail: true });
    expect(await complete(['members', ''], specs, from)).toEqual({ candidates: [], directive: Directive.noFileComp });
    expect(from.asked).toHaveLength(1);
  });

  it("offers the command's and the global flags, and each flag's values", async () => {
    const flags = await values(['invite', 'x@acme.com', '--']);
    expect(flags).toEqual(expect.arrayContaining(['--team', '--role', '--project', '--namespace', '--as', '--as-group', '--request-timeout', '--output']));
    expect(flags).not.toContain('--prune'); // plan's, not invite's
    expect(await values(['members', '-'])).toEqual(expect.arrayContaining(['-n', '-o', '--kubeconfig']));
    expect(await values(['members', '-o', ''])).toEqual(['table', 'wide', 'json', 'yaml', 'markdown']);
    expect(await values(['members', '--output=j'])).toEqual(['--output=json']);
    expect(await values(['invite', 'x@acme.com', '--role', ''])).toEqual(['admin', 'developer', 'observer', 'billing']);
    expect(await values(['can-i', 'x@acme.com', '--project', ''])).toEqual(['shop']);
    expect(await values(['members', '--context', ''])).toEqual(['prod', 'staging']);
    expect(await values(['-n', 'ku'])).toEqual(['kube-system']);
    // A file name: no candidates, and the shell may complete paths.
    expect(await complete(['plan', '-f', ''], specs, source())).toEqual({ candidates: [], directive: Directive.default });
    expect(await complete(['--kubeconfig', ''], specs, source())).toEqual({ candidates: [], directive: Directive.default });
  });

  it('offers the VERBs of can-i, the shells of completion, and nothing past the arguments or after an unknown command', async () => {
    expect(await values(['can-i', 'x@acme.com', ''])).toEqual([
      'view',
      'deploy',
      'manageProjects',
      'manageMembers',
      'securitySettings',
      'billing',
      'changePlan',
    ]);
    expect(await values(['can-i', ''])).toEqual([]); // EMAIL: nothing to guess
    expect(await values(['completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(await values(['members', 'acme', ''])).toEqual([]);
    expect(await values(['membrs', ''])).toEqual([]);
    expect(await values(['members', '--', '-'])).toEqual([]); // after --, words are arguments
  });
});

describe('renderCompletion', () => {
  it("prints cobra's protocol: value<TAB>description lines, then :directive", () => {
    expect(renderCompletion({ candidates: [{ value: 'acme', description: 'Acme\tCorp\nInc' }, { value: 'globex' }], directive: Directive.noFileComp })).toBe(
      'acme\tAcme Corp Inc\nglobex\n:4\n',
    );
    expect(renderCompletion({ candidates: [], directive: Directive.default })).toBe(':0\n');
  });
});

describe('runCli', () => {
  const cli = async (argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(argv, { io: { out: (t) => void (out += t), err: (t) => void (err += t) } });
    return { code, out, err };
  };

  it('__complete answers without a usable kubeconfig (the cluster reads fail quietly)', async () => {
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = '/nonexistent/kubeconfig';
    try {
      expect(await cli(['__complete', 'members', ''])).toEqual({ code: 0, out: ':4\n', err: '' });
      const first = await cli(['__complete', 'in']);
      expect(first).toEqual({ code: 0, out: `invite\t${specs.find((s) => s.name === 'invite')!.summary}\n:4\n`, err: '' });
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it('completion prints a script per shell and refuses others with exit 2', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const run = await cli(['completion', shell]);
      expect(run.code).toBe(0);
      expect(run.out).toContain('kubectl-roster __complete');
    }
    const bad = await cli(['completion', 'tcsh']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('error: completion supports bash, zsh, fish, not "tcsh"');
    expect((await cli(['completion'])).code).toBe(2);
  });
});

describe('the bash completion script', () => {
  it('completes kubectl-roster in a real bash through the real plugin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roster-completion-'));
    const script = join(dir, 'kubectl-roster.bash');
    writeFileSync(script, completionScript('bash'));
    const complete = async (...words: string[]) => {
      const line = `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kubectl_roster; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const { stdout } = await promisify(execFile)('bash', ['-c', line], {
        env: { PATH: `${join(projectRoot, 'bin')}:${process.env.PATH}`, KUBECONFIG: '/nonexistent/kubeconfig', HOME: dir },
      });
      return stdout.split('\n').filter(Boolean);
    };
    expect(await complete('kubectl-roster', 'tr')).toEqual(['transfer']);
    expect(await complete('kubectl-roster', 'members', '-o', 'y')).toEqual(['yaml']);
    expect(await complete('kubectl-roster', 'completion', '')).toEqual(['bash', 'zsh', 'fish']);
  }, 30_000);
});

// fish and zsh come from Debian's packages, installed by scripts/setup-test.sh (`make test`).

describe('the fish and zsh completion scripts', () => {
  const env = { PATH: `${join(projectRoot, 'bin')}:${process.env.PATH}`, KUBECONFIG: '/nonexistent/kubeconfig' };

  it('complete kubectl-roster in a real fish, with descriptions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roster-completion-'));
    const script = join(dir, 'kubectl-roster.fish');
    writeFileSync(script, completionScript('fish'));
    const { stdout } = await promisify(execFile)(
      'fish',
      ['--no-config', '-c', `source ${script}; complete -C 'kubectl-roster tr'; complete -C 'kubectl-roster members -o y'`],
      {
        env: { ...env, HOME: dir },
      },
    );
    expect(stdout).toBe(`transfer\t${specs.find((s) => s.name === 'transfer')!.summary}\nyaml\n`);
  }, 30_000);

  it('is valid zsh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roster-completion-'));
    const script = join(dir, '_kubectl-roster');
    writeFileSync(script, completionScript('zsh'));
    await promisify(execFile)('zsh', ['-n', script], { env });
  });
});
