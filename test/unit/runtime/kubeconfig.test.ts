// The operator's own kubeconfig loading (src/runtime/kubeconfig.ts) against a real HTTPS server
// that checks what a kube-apiserver checks (its CA, a client certificate, the bearer token), and
// against @kubernetes/client-node, whose semantics it keeps: the same kubeconfig gives the same
// request options. And the operator's module graph no longer loads client-node at all.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { RequestOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { KubeClient } from '../../../src/runtime/kube-client.ts';
import { inClusterKubeConfig, loadKubeConfig } from '../../../src/runtime/kubeconfig.ts';

const projectRoot = join(import.meta.dirname, '..', '..', '..');
let dir: string;
let server: Server;
let port: number;
/** What the server saw of each request: the bearer token or basic auth, the client certificate's CN, impersonation. */
const seen: Array<{ authorization?: string; clientCn?: string; impersonate?: string }> = [];

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A CA, a serving certificate for 127.0.0.1 and a client certificate for "alice", signed by it (EC keys: fast). */
function makeCertificates(): void {
  openssl('req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=test-ca', '-days', '1');
  for (const [name, cn, ext] of [
    ['server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'],
    ['client', 'alice', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl('req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  }
}

const pem = (name: string) => readFileSync(join(dir, name));
const b64 = (name: string) => pem(name).toString('base64');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'roster-kubeconfig-'));
  makeCertificates();
  server = createServer({ cert: pem('server.crt'), key: pem('server.key'), ca: pem('ca.crt'), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const socket = req.socket as TLSSocket;
    seen.push({
      authorization: req.headers.authorization,
      clientCn: socket.authorized ? (socket.getPeerCertificate().subject?.CN as string | undefined) : undefined,
      impersonate: req.headers['impersonate-user'] as string | undefined,
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  seen.length = 0;
  vi.useRealTimers();
});

const namespaces = { group: '', version: 'v1', plural: 'namespaces', namespaced: false };

/** Writes a kubeconfig whose current context uses `cluster` and `user` (other, unused entries around them). */
function kubeconfig(file: string, cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  const path = join(dir, file);
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'here',
      clusters: [
        { name: 'elsewhere', cluster: { server: 'https://192.0.2.1:6443' } },
        { name: 'test', cluster: { server: `https://127.0.0.1:${port}/`, ...cluster } },
      ],
      users: [
        { name: 'other', user: { token: 'not-this-one' } },
        { name: 'me', user },
      ],
      contexts: [
        { name: 'there', context: { cluster: 'elsewhere', user: 'other' } },
        { name: 'here', context: { cluster: 'test', user: 'me', namespace: 'acme' } },
      ],
    }),
  );
  return path;
}

async function getThrough(credentials: ReturnType<typeof loadKubeConfig>): Promise<void> {
  const client = new KubeClient(credentials);
  try {
    expect((await client.get(namespaces, undefined, 'default')).metadata.name).toBe('default');
  } finally {
    client.close();
  }
}

/** The request options client-node's KubeConfig and ours produce for the same kubeconfig file (the agent aside: KubeClient keeps its own). */
async function bothOptions(path: string): Promise<{ ours: RequestOptions; theirs: RequestOptions }> {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  const theirs: RequestOptions = { headers: {} };
  await kc.applyToHTTPSOptions(theirs);
  delete theirs.agent;
  const ours: RequestOptions = { headers: {} };
  await loadKubeConfig(path).applyToHTTPSOptions(ours);
  for (const o of [ours, theirs]) for (const [k, v] of Object.entries(o)) if (v === undefined) delete o[k as keyof RequestOptions];
  return { ours, theirs };
}

describe('loadKubeConfig', () => {
  it('serves a token and a CA given as data: the server is verified and sees the token', async () => {
    const path = kubeconfig('token.yaml', { 'certificate-authority-data': b64('ca.crt') }, { token: 'sekret' });
    const credentials = loadKubeConfig(path);
    expect(credentials).not.toBeInstanceOf(KubeConfig);
    expect(credentials.getCurrentCluster()?.server).toBe(`https://127.0.0.1:${port}`);
    await getThrough(credentials);
    expect(seen).toEqual([{ authorization: 'Bearer sekret', clientCn: undefined, impersonate: undefined }]);
    const { ours, theirs } = await bothOptions(path);
    expect(ours).toEqual(theirs);
  });

  it('serves a client certificate from files named relative to the kubeconfig, and impersonation', async () => {
    const path = kubeconfig(
      'cert.yaml',
      { 'certificate-authority': 'ca.crt' },
      { 'client-certificate': 'client.crt', 'client-key': join(dir, 'client.key'), as: 'bob' },
    );
    await getThrough(loadKubeConfig(path));
    expect(seen).toEqual([{ authorization: undefined, clientCn: 'alice', impersonate: 'bob' }]);
    const { ours, theirs } = await bothOptions(path);
    expect(ours).toEqual(theirs);
  });

  it('refuses a server its CA did not sign, unless told to skip verification', async () => {
    openssl('req', '-x509', ...EC_KEY, '-keyout', 'other.key', '-out', 'other.crt', '-subj', '/CN=other');
    await expect(getThrough(loadKubeConfig(kubeconfig('wrong-ca.yaml', { 'certificate-authority': 'other.crt' }, { token: 't' })))).rejects.toThrow(
      /self-signed|unable to verify|certificate/i,
    );
    expect(seen).toEqual([]);
    const skip = kubeconfig('skip.yaml', { 'insecure-skip-tls-verify': true, 'tls-server-name': 'kubernetes' }, { username: 'ann', password: 'pw' });
    await getThrough(loadKubeConfig(skip));
    expect(seen).toEqual([{ authorization: `Basic ${Buffer.from('ann:pw').toString('base64')}`, clientCn: undefined, impersonate: undefined }]);
    const { ours, theirs } = await bothOptions(skip);
    expect(ours).toEqual(theirs);
  });

  it('reads a token-file once, when loaded (as client-node does)', async () => {
    writeFileSync(join(dir, 'token'), 'from-file\n');
    const path = kubeconfig('token-file.yaml', { 'certificate-authority': 'ca.crt' }, { 'token-file': join(dir, 'token') });
    const credentials = loadKubeConfig(path);
    writeFileSync(join(dir, 'token'), 'changed');
    await getThrough(credentials);
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer from-file']);
  });

  it('hands a kubeconfig with an exec plugin or an auth provider to client-node', () => {
    const exec = kubeconfig('exec.yaml', {}, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'true' } });
    expect(loadKubeConfig(exec)).toBeInstanceOf(KubeConfig);
    const provider = kubeconfig('provider.yaml', {}, { 'auth-provider': { name: 'oidc', config: { 'id-token': 'x' } } });
    expect(loadKubeConfig(provider)).toBeInstanceOf(KubeConfig);
  });

  it('without a path takes $KUBECONFIG; several files are merged by client-node', async () => {
    const saved = process.env.KUBECONFIG;
    try {
      process.env.KUBECONFIG = kubeconfig('env.yaml', { 'certificate-authority': 'ca.crt' }, { token: 'from-env' });
      await getThrough(loadKubeConfig());
      expect(seen.map((s) => s.authorization)).toEqual(['Bearer from-env']);
      const second = join(dir, 'second.yaml');
      writeFileSync(second, stringify({ clusters: [{ name: 'b', cluster: { server: 'https://192.0.2.2' } }], users: [], contexts: [] }));
      process.env.KUBECONFIG = `${process.env.KUBECONFIG}:${second}`;
      expect(loadKubeConfig()).toBeInstanceOf(KubeConfig);
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it('says which kubeconfig has no current cluster', () => {
    const path = join(dir, 'empty.yaml');
    writeFileSync(path, 'apiVersion: v1\nkind: Config\n');
    expect(() => loadKubeConfig(path)).toThrow(`kubeconfig ${path} has no current cluster`);
  });
});

describe('inClusterKubeConfig', () => {
  it('uses the ServiceAccount CA and token, reading a rotated token again after a minute', async () => {
    const root = mkdtempSync(join(dir, 'sa-'));
    writeFileSync(join(root, 'ca.crt'), pem('ca.crt'));
    writeFileSync(join(root, 'token'), 'first');
    vi.useFakeTimers({ toFake: ['Date'] });
    const credentials = inClusterKubeConfig({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) }, root);
    expect(credentials.getCurrentCluster()?.server).toBe(`https://127.0.0.1:${port}`);
    await getThrough(credentials);
    writeFileSync(join(root, 'token'), 'second');
    vi.advanceTimersByTime(30_000);
    await getThrough(credentials);
    vi.advanceTimersByTime(31_000);
    await getThrough(credentials);
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer first', 'Bearer first', 'Bearer second']);
    expect(inClusterKubeConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, root).getCurrentCluster()?.server).toBe(
      'https://[fd00::1]:443',
    );
    expect(inClusterKubeConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '8080' }, root).getCurrentCluster()?.server).toBe(
      'http://10.0.0.1:8080',
    );
  });
});

describe("the operator's modules", () => {
  it('do not load @kubernetes/client-node (about 80 MiB of resident memory)', () => {
    // A resolve hook records every module the operator's entry graph pulls in.
    const script = `
      import { registerHooks } from 'node:module';
      const loaded = [];
      registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); loaded.push(r.url); return r; } });
      await import(${JSON.stringify(join(projectRoot, 'src', 'operator.ts'))});
      console.log(JSON.stringify(loaded.filter((u) => u.includes('@kubernetes/client-node'))));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: projectRoot, encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual([]);
  }, 60_000);
});
