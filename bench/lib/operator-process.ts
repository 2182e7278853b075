// The operator as deployed, in its own process: `node src/main.ts --config <file>` with its own
// ServiceAccount identity (a TokenRequest token, as in a cluster: the webhook tells the
// operator's requests from people's by user name), leader election on, the admission webhook
// registered by URL, mail over SMTP. Memory is read from the outside (/proc/<pid>/status and
// the operator's own /metrics).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, projectRoot, type ControlPlane } from '../../controlplane/harness.ts';
import { resources } from '../../src/api/index.ts';
import type { KubeObject } from '../../src/runtime/kube-client.ts';
import { parsePrometheusText, type Sample } from './prometheus-text.ts';
import { sleep, until } from './pool.ts';

export const OPERATOR_NAMESPACE = 'roster-system';

/** A kubeconfig for the operator's ServiceAccount (bound to cluster-admin for brevity; the chart grants least privilege). */
export async function operatorKubeconfig(cp: ControlPlane): Promise<string> {
  const client = cp.client;
  await client.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE } });
  await client.apply(resources.serviceAccount, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'roster', namespace: OPERATOR_NAMESPACE } });
  await client.apply(resources.clusterRoleBinding, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'roster-bench-operator' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'roster', namespace: OPERATOR_NAMESPACE }],
  } as KubeObject);
  const review = await client.request<{ status?: { token?: string } }>(
    'create',
    'POST',
    `/api/v1/namespaces/${OPERATOR_NAMESPACE}/serviceaccounts/roster/token`,
    {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 24 * 3600 } },
    },
  );
  const token = review.status?.token;
  if (!token) throw new Error("the API server issued no token for the operator's ServiceAccount");
  return cp.kubeconfigForToken(token, `system:serviceaccount:${OPERATOR_NAMESPACE}:roster`);
}

export interface OperatorProcessOptions {
  kubeconfigPath: string;
  smtpPort: number;
  /** Config file, log and CPU profiles go here. */
  directory: string;
  /** Namespaces the webhooks apply to (a metav1.LabelSelector). */
  webhookNamespaceSelector?: Record<string, unknown>;
  /** Extra Node flags for the first start only (e.g. --cpu-prof --cpu-prof-dir=<directory>). */
  firstStartNodeFlags?: string[];
}

export interface OperatorProcess {
  readonly probesPort: number;
  readonly webhookPort: number;
  readonly logPath: string;
  pid(): number;
  /** Milliseconds from spawn to /readyz 200 (informer caches synced) of the last start. */
  readonly readyMs: number;
  metrics(): Promise<Sample[]>;
  /** Resident set size of the process (VmRSS), bytes. */
  rssBytes(): number;
  /** Whether this replica holds the Lease (leader_election_master_status). */
  isLeader(): Promise<boolean>;
  /** SIGTERM and wait for the exit (a CPU profile is written then). */
  stop(): Promise<void>;
  /** Starts the same operator again (same config and ports) and waits until ready. */
  restart(): Promise<void>;
  /** The .cpuprofile files written so far. */
  cpuProfiles(): string[];
}

export async function startOperatorProcess(options: OperatorProcessOptions): Promise<OperatorProcess> {
  const probesPort = await freePort();
  const webhookPort = await freePort();
  const config = {
    kubeconfig: options.kubeconfigPath,
    namespace: OPERATOR_NAMESPACE,
    publicUrl: `http://127.0.0.1:${await freePort()}`,
    server: { host: '127.0.0.1', probesPort, acceptPort: await freePort(), webhookPort },
    // Leader election on, with the defaults (15 s / 10 s / 2 s).
    leaderElection: { enabled: true },
    webhook: {
      register: {
        enabled: true,
        url: `https://127.0.0.1:${webhookPort}`,
        ...(options.webhookNamespaceSelector ? { namespaceSelector: options.webhookNamespaceSelector } : {}),
      },
    },
    log: { level: 'info' },
    mail: { backend: 'smtp', from: 'Roster <roster@bench.example>', smtp: { host: '127.0.0.1', port: options.smtpPort, allowInsecure: true } },
  };
  const configPath = join(options.directory, 'operator.yaml');
  writeFileSync(configPath, stringify(config));
  const logPath = join(options.directory, 'operator.log');
  let child: ChildProcess | undefined;
  let readyMs = 0;
  let starts = 0;

  const launch = async () => {
    const flags = starts === 0 ? (options.firstStartNodeFlags ?? []) : [];
    starts += 1;
    const log = openSync(logPath, 'a');
    const started = performance.now();
    const me = spawn(process.execPath, [...flags, join(projectRoot, 'src', 'main.ts'), '--config', configPath], {
      stdio: ['ignore', log, log],
      cwd: projectRoot,
    });
    closeSync(log);
    child = me;
    process.once('exit', () => me.kill('SIGKILL'));
    await until(
      'the operator to be ready',
      async () => {
        if (me.exitCode !== null) throw new Error(`the operator exited with ${me.exitCode}:\n${readFileSync(logPath, 'utf8').slice(-3000)}`);
        try {
          const res = await fetch(`http://127.0.0.1:${probesPort}/readyz`);
          await res.arrayBuffer();
          return res.status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      },
      120_000,
      50,
    );
    readyMs = performance.now() - started;
  };
  await launch();

  // A busy operator (a full resync just after it starts leading) may drop a kept-alive connection: try again.
  const metrics = async (): Promise<Sample[]> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await fetch(`http://127.0.0.1:${probesPort}/metrics`);
        return parsePrometheusText(await res.text());
      } catch (e) {
        if (attempt >= 5) throw e;
        await sleep(500);
      }
    }
  };
  return {
    probesPort,
    webhookPort,
    logPath,
    pid: () => child?.pid ?? 0,
    get readyMs() {
      return readyMs;
    },
    metrics,
    rssBytes() {
      const status = readFileSync(`/proc/${child?.pid}/status`, 'utf8');
      const kib = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
      if (!kib) throw new Error('no VmRSS in /proc/<pid>/status');
      return Number(kib) * 1024;
    },
    async isLeader() {
      return (await metrics()).some((s) => s.name === 'leader_election_master_status' && s.value === 1);
    },
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGTERM');
      const killer = setTimeout(() => c.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(killer);
      await sleep(100);
    },
    restart: launch,
    cpuProfiles: () =>
      readdirSync(options.directory)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(options.directory, f)),
  };
}
