// kubectl's --as, --as-group and --request-timeout: parsed as kubectl reads them, and on the
// wire: the impersonation headers on every request and a limit on each request, seen by a
// real HTTP server standing in for the API server.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMANDS, runCli } from '../../../src/cli/app.ts';
import { parseCommandLine, parseRequestTimeout } from '../../../src/cli/args.ts';
import { connect, DEFAULT_REQUEST_TIMEOUT_MS } from '../../../src/cli/cluster.ts';
import { UsageError } from '../../../src/cli/errors.ts';

const specs = COMMANDS.map((c) => c.spec);
const parse = (argv: string[]) => {
  const parsed = parseCommandLine(argv, specs);
  if (parsed.kind !== 'run') throw new Error('expected a command');
  return parsed;
};

describe('parseRequestTimeout', () => {
  it('reads kubectl durations: bare seconds, ms/s/m/h and combinations; 0 is no limit', () => {
    expect(['0', '30', '500ms', '30s', '1.5s', '2m', '1h', '1m30s'].map(parseRequestTimeout)).toEqual([
      0, 30_000, 500, 30_000, 1500, 120_000, 3_600_000, 90_000,
    ]);
    for (const bad of ['', 'abc', '5x', '-1s', '1 s', 's', '1m30']) expect(parseRequestTimeout(bad), bad).toBeUndefined();
  });
});

describe('--as, --as-group, --request-timeout', () => {
  it('are global flags: before or after the command, --as-group repeatable', () => {
    const parsed = parse(['--as', 'jane@acme.com', 'members', 'acme', '--as-group', 'admins', '--as-group=auditors', '--request-timeout=5s']);
    expect(parsed.command.name).toBe('members');
    expect(parsed.args).toEqual(['acme']);
    expect(parsed.global).toMatchObject({ as: 'jane@acme.com', asGroups: ['admins', 'auditors'], requestTimeoutMs: 5000 });
    const plain = parse(['members', 'acme']).global;
    expect([plain.as, plain.asGroups, plain.requestTimeoutMs]).toEqual([undefined, undefined, undefined]);
  });

  it('refuse --as-group without --as, an empty --as, and a timeout that is not a duration', () => {
    const refused = (argv: string[]) => {
      try {
        parseCommandLine(argv, specs);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      throw new Error(`accepted ${argv.join(' ')}`);
    };
    expect(refused(['members', 'acme', '--as-group', 'admins'])).toBe('--as-group needs --as USER: groups are impersonated together with a user');
    expect(refused(['members', 'acme', '--as='])).toBe('flag --as needs a non-empty value');
    expect(refused(['members', 'acme', '--request-timeout', 'soon'])).toBe(
      '--request-timeout "soon" is not a duration: use 30s, 2m, 500ms, a number of seconds, or 0 for none',
    );
  });
});

describe('on the wire', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  /** An HTTP "API server" that records each request's headers; `hang` never answers. */
  async function apiServer(
    options: { hang?: boolean } = {},
  ): Promise<{ kubeconfig: string; seen: IncomingHttpHeaders[]; distinct: Record<string, string[]>[] }> {
    const seen: IncomingHttpHeaders[] = [];
    const distinct: Record<string, string[]>[] = [];
    server = createServer((req, res) => {
      seen.push(req.headers);
      distinct.push(req.headersDistinct as Record<string, string[]>);
      if (options.hang) return;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: {}, items: [] }));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const dir = mkdtempSync(join(tmpdir(), 'roster-flags-'));
    const kubeconfig = join(dir, 'kubeconfig');
    // The kubeconfig's own `as` is what --as replaces.
    writeFileSync(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: secret-token, as: kubeconfig-user } }]
contexts: [{ name: x, context: { cluster: c, user: u, namespace: acme } }]
current-context: x
`,
    );
    return { kubeconfig, seen, distinct };
  }

  it('--as and --as-group become Impersonate-User and one Impersonate-Group header per group, on every request', async () => {
    const api = await apiServer();
    const conn = await connect({ kubeconfig: api.kubeconfig, output: 'table', as: 'jane@acme.com', asGroups: ['admins', 'auditors'] });
    try {
      await conn.client.list({ group: 'roster.dev', version: 'v1alpha1', plural: 'teams', namespaced: true }, 'acme');
      await conn.client.list({ group: '', version: 'v1', plural: 'namespaces', namespaced: false });
    } finally {
      conn.client.close();
    }
    expect(api.seen).toHaveLength(2);
    for (const [i, headers] of api.seen.entries()) {
      expect(headers['impersonate-user']).toBe('jane@acme.com');
      expect(api.distinct[i]!['impersonate-group']).toEqual(['admins', 'auditors']);
      expect(headers.authorization).toBe('Bearer secret-token'); // the caller's own credentials still go along
    }
  });

  it("without --as the kubeconfig's own `as` stays, and no group is sent", async () => {
    const api = await apiServer();
    const conn = await connect({ kubeconfig: api.kubeconfig, output: 'table' });
    try {
      await conn.client.list({ group: '', version: 'v1', plural: 'namespaces', namespaced: false });
    } finally {
      conn.client.close();
    }
    expect(api.seen[0]!['impersonate-user']).toBe('kubeconfig-user');
    expect(api.seen[0]!['impersonate-group']).toBeUndefined();
  });

  it('--request-timeout ends a request the server does not answer: exit 3 with one line, well before the default', async () => {
    const api = await apiServer({ hang: true });
    let err = '';
    const started = Date.now();
    const code = await runCli(['members', 'acme', '--kubeconfig', api.kubeconfig, '--request-timeout', '300ms'], {
      io: { out: () => undefined, err: (t) => void (err += t) },
    });
    const took = Date.now() - started;
    expect(code).toBe(3);
    expect(err).toMatch(
      /^error: the API server at http:\/\/127\.0\.0\.1:\d+ did not answer: request to \/apis\/roster\.dev\/v1alpha1\/namespaces\/acme\/teams\/acme timed out\n$/,
    );
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(DEFAULT_REQUEST_TIMEOUT_MS / 3);
    expect(api.seen).toHaveLength(1);
  });
});
