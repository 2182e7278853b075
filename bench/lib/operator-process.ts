// The operator as deployed, in its own process: `node <the chart's nodeOptions> src/main.ts
// --config <file>` with the chart's memory settings and its own ServiceAccount identity (a
// TokenRequest token, as in a cluster: the webhook tells the operator's requests from
// people's by user name), leader election on, the admission webhook
// registered by URL, mail over SMTP. Memory is read from the outside (/proc/<pid>/status and
// the operator's own /metrics).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort, operatorServiceAccountKubeconfig, projectRoot, type ControlPlane } from '../../controlplane/harness.ts';
import { parsePrometheusText, sampleValue, type Sample } from './prometheus-text.ts';
import { sleep, until } from './pool.ts';

export const OPERATOR_NAMESPACE = 'roster-system';

/** A kubeconfig for the operator's ServiceAccount (bound to cluster-admin for brevity; the chart grants least privilege). */
export async function operatorKubeconfig(cp: ControlPlane): Promise<string> {
  return await operatorServiceAccountKubeconfig(cp, { namespace: OPERATOR_NAMESPACE, bindingName: 'roster-bench-operator', expirationSeconds: 24 * 3600 });
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
  /** Extra Node flags for every start, after the chart's nodeOptions (e.g. V8 heap sizing, to try one). */
  nodeFlags?: string[];
  /** Merged over the config below, key by key (objects deeply). */
  extraConfig?: Record<string, unknown>;
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
  /** Where the resident memory is: /proc/<pid>/smaps_rollup and the V8 numbers of /metrics, MiB. */
  memoryDetail(): Promise<MemoryDetail>;
  /** Whether this replica holds the Lease (leader_election_master_status). */
  isLeader(): Promise<boolean>;
  /** SIGTERM and wait for the exit (a CPU profile is written then). */
  stop(): Promise<void>;
  /** Starts the same operator again (same config and ports) and waits until ready. */
  restart(): Promise<void>;
  /** The .cpuprofile files written so far. */
  cpuProfiles(): string[];
}

export interface MemoryDetail {
  /** VmRSS; anonymous (heap, code, buffers) and file-backed (the node binary, libraries) parts of it. */
  rssMiB: number;
  anonymousMiB: number;
  fileMiB: number;
  /** V8: heap reserved (total) and in use, memory outside the heap (Buffers, ArrayBuffers). */
  heapTotalMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
  /** Per V8 heap space: size (reserved) / used. */
  heapSpacesMiB: Record<string, { size: number; used: number }>;
}

const mib = (bytes: number) => Math.round((bytes / 1024 ** 2) * 10) / 10;

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
  writeFileSync(configPath, stringify(deepMerge(config, options.extraConfig ?? {})));
  const logPath = join(options.directory, 'operator.log');
  let child: ChildProcess | undefined;
  let readyMs = 0;
  let starts = 0;

  const launch = async () => {
    const chart = chartDefaults();
    const flags = [...chart.nodeFlags, ...(options.nodeFlags ?? []), ...(starts === 0 ? (options.firstStartNodeFlags ?? []) : [])];
    starts += 1;
    const log = openSync(logPath, 'a');
    const started = performance.now();
    const me = spawn(process.execPath, [...flags, join(projectRoot, 'src', 'main.ts'), '--config', configPath], {
      stdio: ['ignore', log, log],
      cwd: projectRoot,
      // The chart's settings, unless this process's environment says otherwise (to try a value).
      env: { ...chart.env, ...process.env },
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
    async memoryDetail() {
      const rollup = readFileSync(`/proc/${child?.pid}/smaps_rollup`, 'utf8');
      const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN) * 1024;
      const samples = await metrics();
      const value = (name: string, labels?: Record<string, string>) => sampleValue(samples, name, labels) ?? NaN;
      const spaces = [...new Set(samples.filter((s) => s.name === 'nodejs_heap_space_size_total_bytes').map((s) => s.labels.space ?? ''))];
      return {
        rssMiB: mib(kib('Rss')),
        anonymousMiB: mib(kib('Anonymous')),
        fileMiB: mib(kib('Rss') - kib('Anonymous')),
        heapTotalMiB: mib(value('nodejs_heap_size_total_bytes')),
        heapUsedMiB: mib(value('nodejs_heap_size_used_bytes')),
        externalMiB: mib(value('nodejs_external_memory_bytes')),
        heapSpacesMiB: Object.fromEntries(
          spaces.map((space) => [
            space,
            { size: mib(value('nodejs_heap_space_size_total_bytes', { space })), used: mib(value('nodejs_heap_space_size_used_bytes', { space })) },
          ]),
        ),
      };
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

/** The Node flags and memory settings the Helm chart passes by default (values.yaml): the operator runs as deployed. */
function chartDefaults(): { nodeFlags: string[]; env: Record<string, string> } {
  const values = parse(readFileSync(join(projectRoot, 'charts', 'roster', 'values.yaml'), 'utf8')) as {
    nodeOptions?: string;
    heapGrowingPercent?: number;
    mallocArenaMax?: number;
    mallocThresholdBytes?: number;
  };
  const env: Record<string, string> = {};
  if (values.heapGrowingPercent !== undefined) env.ROSTER_HEAP_GROWING_PERCENT = String(values.heapGrowingPercent);
  if (values.mallocArenaMax) env.MALLOC_ARENA_MAX = String(values.mallocArenaMax);
  if (values.mallocThresholdBytes) env.MALLOC_MMAP_THRESHOLD_ = env.MALLOC_TRIM_THRESHOLD_ = String(values.mallocThresholdBytes);
  return { nodeFlags: (values.nodeOptions ?? '').split(' ').filter(Boolean), env };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}
