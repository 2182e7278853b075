// Kubeconfig loading for the operator without @kubernetes/client-node: that package costs about
// 80 MiB of resident memory once loaded (its generated API models and HTTP stack), and the
// operator only needs a server URL and per-request credentials. The cases a deployment meets
// (in-cluster ServiceAccount, a kubeconfig with a token, token file, client certificate or
// basic auth) are handled here with client-node's semantics; a kubeconfig whose user runs an
// exec plugin or an auth provider (cloud logins, OIDC) is handed to client-node, loaded then.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type * as https from 'node:https';
import { parse } from 'yaml';
import type { KubeCredentials } from './kube-client.ts';

const SERVICEACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** How long a token read from a file is used before it is read again (client-go and client-node: 60 s; projected tokens rotate). */
const TOKEN_FILE_TTL_MS = 60_000;

interface Cluster {
  server: string;
  caFile?: string;
  caData?: string;
  skipTLSVerify: boolean;
  tlsServerName?: string;
}

interface User {
  token?: string;
  /** Read again every TOKEN_FILE_TTL_MS (the in-cluster ServiceAccount token). */
  tokenFile?: string;
  certFile?: string;
  certData?: string;
  keyFile?: string;
  keyData?: string;
  username?: string;
  password?: string;
  impersonate?: string;
}

/** A kubeconfig this module can serve itself: one cluster and one user, credentials applied per request like client-node does. */
class StaticKubeConfig implements KubeCredentials {
  private readonly cluster: Cluster;
  private readonly user: User;
  private fileToken: { value: string; readAt: number } | undefined;

  constructor(cluster: Cluster, user: User) {
    this.cluster = cluster;
    this.user = user;
  }

  getCurrentCluster(): { server: string } {
    return { server: this.cluster.server };
  }

  // Files are read on every request, as client-node does, so rotated certificates are picked up.
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void> {
    const { cluster, user } = this;
    if (cluster.skipTLSVerify) options.rejectUnauthorized = false;
    if (cluster.tlsServerName) options.servername = cluster.tlsServerName;
    const ca = fileOrData(cluster.caFile, cluster.caData);
    if (ca) options.ca = ca;
    const cert = fileOrData(user.certFile, user.certData);
    if (cert) options.cert = cert;
    const key = fileOrData(user.keyFile, user.keyData);
    if (key) options.key = key;
    const headers = (options.headers ??= {}) as Record<string, string>;
    if (user.impersonate) headers['Impersonate-User'] = user.impersonate;
    const token = user.token ?? this.tokenFromFile();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (user.username) options.auth = `${user.username}:${user.password ?? ''}`;
    return Promise.resolve();
  }

  private tokenFromFile(): string | undefined {
    const file = this.user.tokenFile;
    if (!file) return undefined;
    const now = Date.now();
    if (!this.fileToken || now - this.fileToken.readAt > TOKEN_FILE_TTL_MS) this.fileToken = { value: readFileSync(file, 'utf8').trim(), readAt: now };
    return this.fileToken.value;
  }
}

const fileOrData = (file: string | undefined, data: string | undefined): Buffer | undefined =>
  file ? readFileSync(file) : data ? Buffer.from(data, 'base64') : undefined;

interface KubeconfigFile {
  'current-context'?: string;
  clusters?: Array<{ name?: string; cluster?: Record<string, unknown> }>;
  users?: Array<{ name?: string; user?: Record<string, unknown> }>;
  contexts?: Array<{ name?: string; context?: { cluster?: string; user?: string } }>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const absolute = (root: string, file: string | undefined) => (file === undefined || isAbsolute(file) ? file : join(root, file));

/**
 * The kubeconfig at `path`, or else the one kubectl would use: the files in $KUBECONFIG,
 * ~/.kube/config, the in-cluster ServiceAccount, http://localhost:8080 (client-node's
 * KubeConfig.loadFromDefault order).
 */
export function loadKubeConfig(path?: string): KubeCredentials {
  if (path) return fromFile(path);
  const files = (process.env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  // Several files are merged by client-node's rules; rare for an operator, so handed over whole.
  if (files.length > 1) return clientNode((kc) => kc.loadFromDefault());
  if (files[0]) return fromFile(files[0]);
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return fromFile(home);
  if (existsSync(join(SERVICEACCOUNT, 'token'))) return inClusterKubeConfig();
  return new StaticKubeConfig({ server: 'http://localhost:8080', skipTLSVerify: false }, {});
}

/** The in-cluster ServiceAccount: the API server from the environment, its CA and (rotating) token from `root`. */
export function inClusterKubeConfig(env: NodeJS.ProcessEnv = process.env, root = SERVICEACCOUNT): KubeCredentials {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '';
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  return new StaticKubeConfig(
    { server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`, caFile: join(root, 'ca.crt'), skipTLSVerify: false },
    { tokenFile: join(root, 'token') },
  );
}

function fromFile(path: string): KubeCredentials {
  const doc = (parse(readFileSync(path, 'utf8')) ?? {}) as KubeconfigFile;
  const root = dirname(path);
  // The first entry of that name, as client-node and kubectl take it.
  const named = <T extends { name?: string }>(list: T[] | undefined, name: string | undefined): T | undefined =>
    name === undefined ? undefined : (list ?? []).find((e) => e.name === name);
  const context = named(doc.contexts, str(doc['current-context']))?.context;
  const cluster = named(doc.clusters, str(context?.cluster))?.cluster;
  const server = str(cluster?.server);
  if (!cluster || !server) throw new Error(`kubeconfig ${path} has no current cluster with a server (current-context ${doc['current-context'] ?? 'unset'})`);
  const user = named(doc.users, str(context?.user))?.user ?? {};
  // Exec plugins and auth providers (token refresh, cloud logins) are client-node's to run.
  if (user.exec || user['auth-provider']) return clientNode((kc) => kc.loadFromFile(path));
  const tokenFile = str(user['token-file']);
  return new StaticKubeConfig(
    {
      server: server.replace(/\/$/, ''),
      caFile: absolute(root, str(cluster['certificate-authority'])),
      caData: str(cluster['certificate-authority-data']),
      skipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
      tlsServerName: str(cluster['tls-server-name']),
    },
    {
      // client-node reads a token-file once, when the kubeconfig is loaded.
      token: str(user.token) ?? (tokenFile ? readFileSync(tokenFile, 'utf8').trim() : undefined),
      certFile: absolute(root, str(user['client-certificate'])),
      certData: str(user['client-certificate-data']),
      keyFile: absolute(root, str(user['client-key'])),
      keyData: str(user['client-key-data']),
      username: str(user.username),
      password: str(user.password),
      impersonate: str(user.as),
    },
  );
}

type ClientNodeKubeConfig = import('@kubernetes/client-node').KubeConfig;

/** client-node's KubeConfig, loaded only now (require of an ES module: synchronous, like the rest of the loading). */
function clientNode(load: (kc: ClientNodeKubeConfig) => void): KubeCredentials {
  const { KubeConfig } = createRequire(import.meta.url)('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
  const kc = new KubeConfig();
  load(kc);
  return kc;
}
