// The plugin end to end as a function, without a cluster: usage errors never connect, and
// what a (fake) API server answers becomes one line on stderr and the right exit code.
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/app.ts';
import type { Connection } from '../../../src/cli/cluster.ts';
import { KubeApiError, type KubeClient } from '../../../src/runtime/kube-client.ts';

interface Captured {
  code: number;
  out: string;
  err: string;
  connected: number;
}

async function cli(argv: string[], connection?: () => Promise<Connection>): Promise<Captured> {
  let out = '';
  let err = '';
  let connected = 0;
  const code = await runCli(argv, {
    io: { out: (t) => void (out += t), err: (t) => void (err += t) },
    now: () => new Date('2026-03-01T12:00:00Z'),
    connect: () => {
      connected++;
      return connection ? connection() : Promise.reject(new Error('must not connect'));
    },
  });
  return { code, out, err, connected };
}

/** A stand-in for the API server: only the calls the test expects. */
function fakeConnection(client: Partial<KubeClient>): () => Promise<Connection> {
  return async () => ({ client: { close() {}, ...client } as KubeClient, namespace: 'acme', server: 'https://api.test:6443' });
}

describe('runCli', () => {
  it('prints help on stdout with exit 0', async () => {
    const all = await cli(['--help']);
    expect(all).toMatchObject({ code: 0, err: '', connected: 0 });
    expect(all.out).toContain('Commands:\n  invite');
    const one = await cli(['seats', '-h']);
    expect(one.out).toMatch(/^Show a team's seats/);
  });

  it('refuses bad input with exit 2, one error line and a pointer to help, without connecting', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['invite', 'riley@acme.com', '--team', 'acme', '--role', 'owner'], /^error: --role: role owner is not allowed/],
      [['invite', 'riley', '--team', 'acme', '--role', 'admin'], /^error: EMAIL must be an email address/],
      [
        ['invite', 'r@acme.com', '--team', 'acme', '--role', 'admin', '--project', 'shop'],
        /^error: role admin is team-wide and takes no projects; drop --project/,
      ],
      [['can-i', 'r@acme.com', 'fly'], /^error: unknown VERB "fly"; use one of view, deploy/],
      [['can-i', 'r@acme.com', 'deploy', '--environment', 'staging'], /^error: --environment needs --project/],
      [['audit', 'acme', '--since', 'last week'], /^error: --since "last week": use a duration/],
      [['members', 'Acme'], /^error: TEAM "Acme" is not a valid object name/],
    ];
    for (const [argv, message] of cases) {
      const result = await cli(argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.connected).toBe(0);
      expect(result.out).toBe('');
      const lines = result.err.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(message);
      expect(lines[1]).toBe(`See 'kubectl roster ${argv[0]} --help' for usage.`);
    }
  });

  it('turns a missing team into exit 1 naming the teams that do exist', async () => {
    const result = await cli(
      ['members', 'acme'],
      fakeConnection({
        find: (async () => undefined) as KubeClient['find'],
        list: (async () => ({ metadata: {}, items: [{ metadata: { name: 'beta' } }, { metadata: { name: 'gamma' } }] })) as unknown as KubeClient['list'],
      }),
    );
    expect(result).toMatchObject({ code: 1, out: '', err: 'error: team acme not found in namespace acme; teams here: beta, gamma\n' });
  });

  it("turns an API refusal into exit 3 with the server's message on one line", async () => {
    const forbidden = new KubeApiError(403, 'Forbidden', 'GET ...: 403', {
      kind: 'Status',
      message: 'teams.roster.dev "acme" is forbidden: User "riley@acme.com" cannot get resource "teams"\nin namespace "acme"',
    });
    const fail = async () => {
      throw forbidden;
    };
    const result = await cli(['seats', 'acme'], fakeConnection({ find: fail as KubeClient['find'], list: fail as KubeClient['list'] }));
    expect(result.code).toBe(3);
    expect(result.err).toBe('error: teams.roster.dev "acme" is forbidden: User "riley@acme.com" cannot get resource "teams"; in namespace "acme"\n');
  });

  it('says which API server it could not reach', async () => {
    const fail = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' });
    };
    const result = await cli(['members', 'acme'], fakeConnection({ find: fail as KubeClient['find'], list: fail as KubeClient['list'] }));
    expect(result).toMatchObject({ code: 3, err: 'error: cannot reach the API server at https://api.test:6443: connect ECONNREFUSED 10.0.0.1:6443\n' });
  });
});
