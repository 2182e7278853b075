// Starts a real Kubernetes control plane on loopback, the way controller-runtime's envtest
// does: etcd and kube-apiserver (and, by default, kube-controller-manager for garbage
// collection and namespace deletion) as child processes with generated credentials.
// Used by the integration tests, `npm run cluster:up` and the demo.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { loadCrds } from '../src/api/crds.ts';
import { resources } from '../src/api/resources.ts';
import { KubeClient, type KubeObject } from '../src/runtime/kube-client.ts';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** The directory holding etcd, kube-apiserver and kubectl (KUBEBUILDER_ASSETS or our build). */
export function assetsDirectory(): string {
  return process.env.KUBEBUILDER_ASSETS || join(projectRoot, '.roster', 'bin');
}

export function binary(name: 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kubectl'): string {
  const path = join(assetsDirectory(), name);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`npm run controlplane:build\` (or set KUBEBUILDER_ASSETS)`);
  }
  return path;
}

export interface ControlPlane {
  /** Where the admin kubeconfig was written. */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** An admin client (system:masters). */
  client: KubeClient;
  server: string;
  /** etcd's client URL (its JSON gateway lets tests change storage behind the API server). */
  etcdUrl: string;
  /** Writes a kubeconfig for a bearer token (for example a service account's). */
  kubeconfigForToken(token: string, user: string): string;
  /** Stops kube-apiserver and starts it again on the same etcd and port (for watch tests). */
  restartApiServer(options?: { downtimeMs?: number; whileDown?: () => Promise<void> }): Promise<void>;
  /** Process ids of what runs now (for the scale benchmark's CPU accounting). */
  pids(): { etcd?: number; apiServer?: number };
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Install crds/ and wait until Established (default true). */
  installCrds?: boolean;
  /** Run kube-controller-manager for garbage collection and namespace deletion (default true). */
  controllerManager?: boolean;
  /** Keep state here instead of a fresh temp dir (removed on stop unless keepDirectory). */
  directory?: string;
  keepDirectory?: boolean;
  /** Also write the kubeconfig here. */
  kubeconfigPath?: string;
  /** Extra kube-apiserver flags. */
  apiServerFlags?: string[];
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children = new Set<ChildProcess>();
let exitHookInstalled = false;
/** A test process that dies must not leave etcd or kube-apiserver behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
}

class Process {
  readonly name: string;
  readonly logPath: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  constructor(name: string, logPath: string) {
    this.name = name;
    this.logPath = logPath;
  }

  start(command: string, args: string[]): void {
    installExitHook();
    const log = openSync(this.logPath, 'a');
    const child = spawn(command, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    children.add(child);
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        children.delete(child);
        resolve();
      }),
    );
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(lines = 30): string {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

function writeKubeconfig(path: string, server: string, caData: string, user: string, token: string): void {
  const yaml = `apiVersion: v1
kind: Config
clusters:
- name: roster-local
  cluster:
    server: ${server}
    certificate-authority-data: ${caData}
users:
- name: ${user}
  user:
    token: ${token}
contexts:
- name: roster-local
  context:
    cluster: roster-local
    user: ${user}
    namespace: default
current-context: roster-local
`;
  writeFileSync(path, yaml, { mode: 0o600 });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, describeFailure: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      lastError = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}: ${String(lastError ?? '')}\n${describeFailure()}`);
}

export async function installCrds(client: KubeClient): Promise<void> {
  const crds = loadCrds();
  for (const { crd } of crds) {
    await client.apply(resources.customResourceDefinition, crd as unknown as KubeObject);
  }
  for (const { crd } of crds) {
    await waitFor(
      `CRD ${crd.metadata.name} Established`,
      async () => {
        const live = await client.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(
          resources.customResourceDefinition,
          undefined,
          crd.metadata.name,
        );
        return live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
      },
      30_000,
      () => '',
    );
  }
}

export async function startControlPlane(options: StartOptions = {}): Promise<ControlPlane> {
  const dir = options.directory ?? mkdtempSync(join(tmpdir(), 'roster-cp-'));
  mkdirSync(join(dir, 'certs'), { recursive: true });
  const token = randomBytes(24).toString('hex');
  const controllerToken = randomBytes(24).toString('hex');
  writeFileSync(
    join(dir, 'tokens.csv'),
    `${token},roster-admin,roster-admin,"system:masters"\n${controllerToken},system:kube-controller-manager,kcm,"system:masters"\n`,
    { mode: 0o600 },
  );
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.key'), keys.privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(dir, 'sa.pub'), keys.publicKey.export({ type: 'spki', format: 'pem' }));

  const [etcdClientPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcd = new Process('etcd', join(dir, 'etcd.log'));
  const apiServer = new Process('kube-apiserver', join(dir, 'kube-apiserver.log'));
  const controllerManager = new Process('kube-controller-manager', join(dir, 'kube-controller-manager.log'));
  const stopAll = async () => {
    await controllerManager.stop();
    await apiServer.stop();
    await etcd.stop();
  };

  try {
    etcd.start(binary('etcd'), [
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClientPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClientPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync',
      '--quota-backend-bytes=2147483648',
      '--log-level=warn',
    ]);

    const apiServerArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClientPort}`,
      `--secure-port=${apiPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--cert-dir=${join(dir, 'certs')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--allow-privileged=true',
      '--profiling=false',
      ...(options.apiServerFlags ?? []),
    ];
    apiServer.start(binary('kube-apiserver'), apiServerArgs);

    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfigPath = join(dir, 'kubeconfig');
    // The API server writes its self-signed serving certificate (with its CA) on start.
    const certFile = join(dir, 'certs', 'apiserver.crt');
    await waitFor(
      'kube-apiserver serving certificate',
      async () => existsSync(certFile) && readFileSync(certFile).length > 0,
      60_000,
      () => `${apiServer.tail()}\n${etcd.tail()}`,
    );
    const caData = readFileSync(certFile).toString('base64');
    writeKubeconfig(kubeconfigPath, server, caData, 'roster-admin', token);
    if (options.kubeconfigPath) writeKubeconfig(options.kubeconfigPath, server, caData, 'roster-admin', token);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    const client = new KubeClient(kubeConfig, { fieldManager: 'roster-test', userAgent: 'roster-harness' });
    const ready = async () => {
      await waitFor(
        'kube-apiserver /readyz',
        async () => {
          if (!apiServer.running) throw new Error('kube-apiserver exited');
          await client.request('get', 'GET', '/readyz');
          return true;
        },
        90_000,
        () => `--- kube-apiserver ---\n${apiServer.tail()}\n--- etcd ---\n${etcd.tail()}`,
      );
    };
    await ready();

    if (options.controllerManager ?? true) {
      const kcmConfig = join(dir, 'kcm.kubeconfig');
      writeKubeconfig(kcmConfig, server, caData, 'system:kube-controller-manager', controllerToken);
      controllerManager.start(binary('kube-controller-manager'), [
        `--kubeconfig=${kcmConfig}`,
        `--authentication-kubeconfig=${kcmConfig}`,
        `--authorization-kubeconfig=${kcmConfig}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${await freePort()}`,
        `--cert-dir=${join(dir, 'kcm-certs')}`,
        '--controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller,clusterrole-aggregation-controller',
        '--concurrent-gc-syncs=5',
      ]);
    }

    if (options.installCrds ?? true) await installCrds(client);

    const kubeconfigForToken = (saToken: string, user: string): string => {
      const path = join(dir, `kubeconfig-${user.replace(/[^a-z0-9-]/gi, '_')}`);
      writeKubeconfig(path, server, caData, user, saToken);
      return path;
    };

    return {
      kubeconfigPath,
      kubeConfig,
      client,
      server,
      etcdUrl: `http://127.0.0.1:${etcdClientPort}`,
      kubeconfigForToken,
      pids: () => ({ etcd: etcd.pid, apiServer: apiServer.pid }),
      async restartApiServer({ downtimeMs = 0, whileDown } = {}) {
        await apiServer.stop();
        if (whileDown) await whileDown();
        if (downtimeMs) await sleep(downtimeMs);
        apiServer.start(binary('kube-apiserver'), apiServerArgs);
        await ready();
      },
      async stop() {
        client.close();
        await stopAll();
        if (!options.keepDirectory) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await stopAll();
    if (!options.keepDirectory) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * A kubeconfig for the operator's own identity, as in a cluster: the ServiceAccount `roster`
 * in `namespace`, with a token from the TokenRequest API (the webhook tells the operator's
 * requests from a person's by the user name). Bound to cluster-admin for brevity (the demo
 * and the benchmarks; the chart grants least privilege).
 */
export async function operatorServiceAccountKubeconfig(
  cp: Pick<ControlPlane, 'client' | 'kubeconfigForToken'>,
  options: { namespace: string; bindingName: string; expirationSeconds: number },
): Promise<string> {
  const { client } = cp;
  const { namespace } = options;
  await client.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  await client.apply(resources.serviceAccount, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'roster', namespace } });
  await client.apply(resources.clusterRoleBinding, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: options.bindingName },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'roster', namespace }],
  } as KubeObject);
  const review = await client.request<{ status?: { token?: string } }>('create', 'POST', `/api/v1/namespaces/${namespace}/serviceaccounts/roster/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: options.expirationSeconds } },
  });
  const token = review.status?.token;
  if (!token) throw new Error("the API server issued no token for the operator's ServiceAccount");
  return cp.kubeconfigForToken(token, `system:serviceaccount:${namespace}:roster`);
}
