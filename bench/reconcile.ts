// Benchmark: how fast the operator turns Memberships into mailed invitations, against the
// raw rate at which the same API server accepts writes (measured in the same run, so the
// ratio means something on a noisy machine). Also the API writes one Membership costs
// and the operator's heap per cached object.
//
//   node --expose-gc bench/reconcile.ts [--memberships 200]
// Writes bench/results/reconcile.json and bench/results/reconcile.md.
import { parseArgs } from 'node:util';
import { resources, type Invitation, type Membership } from '../src/api/index.ts';
import { parseConfig } from '../src/config.ts';
import { createOperator } from '../src/operator.ts';
import { silentLogger } from '../src/runtime/logger.ts';
import { freePort } from '../controlplane/harness.ts';
import type { KubeClient, KubeObject } from '../src/runtime/kube-client.ts';
import type { MailBackend } from '../src/backends/mail/types.ts';
import { startBenchControlPlane } from './lib/control-plane.ts';
import { environment, environmentMarkdown, round, writeResults } from './lib/report.ts';

const { values } = parseArgs({ options: { memberships: { type: 'string', default: '200' } } });
const count = Number(values.memberships);
const concurrency = 8;
const env = environment();

async function inParallel<T>(items: T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cp = await startBenchControlPlane({ controllerManager: false });
const admin: KubeClient = cp.client;
try {
  for (const name of ['bench-raw', 'bench-team']) await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

  // Baseline: raw creates of small objects at the same concurrency.
  const rawStart = performance.now();
  await inParallel([...Array(count).keys()], (i) =>
    admin.create(resources.configMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `raw-${i}`, namespace: 'bench-raw' },
      data: { i: String(i) },
    } as KubeObject),
  );
  const rawSeconds = (performance.now() - rawStart) / 1000;
  const rawWritesPerSecond = count / rawSeconds;

  // The operator, in process, mailing into a sink.
  let mailed = 0;
  const mail: MailBackend = { name: 'bench', send: async (m) => ((mailed += 1), { messageId: m.messageId }), verify: async () => {}, close: async () => {} };
  const config = parseConfig({
    kubeconfig: cp.kubeconfigPath,
    namespace: 'default',
    leaderElection: { enabled: false },
    server: { host: '127.0.0.1', probesPort: await freePort(), acceptPort: await freePort(), webhookPort: await freePort() },
  });
  const operator = createOperator(config, silentLogger, { mail });
  await operator.start();
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  await admin.create(resources.team, {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Team',
    metadata: { name: 'bench', namespace: 'bench-team' },
    spec: { owner: { email: 'owner@bench.example' }, seats: count + 10 },
  } as KubeObject);
  const writesBefore = operator.context.client.counter.writes();
  const opStart = performance.now();
  await inParallel([...Array(count).keys()], (i) =>
    admin.create(resources.membership, {
      apiVersion: 'roster.dev/v1alpha1',
      kind: 'Membership',
      metadata: { name: `m-${i}`, namespace: 'bench-team' },
      spec: { team: 'bench', email: `person${i}@bench.example`, role: 'observer' },
    } as KubeObject),
  );
  await until(async () => {
    const memberships = operator.context.caches.memberships.list('bench-team') as Membership[];
    const invitations = operator.context.caches.invitations.list('bench-team') as Invitation[];
    return (
      memberships.filter((m) => m.status?.phase === 'Invited').length === count &&
      invitations.filter((i) => i.status?.delivery?.state === 'Sent').length === count + 1
    );
  }, 600_000);
  const opSeconds = (performance.now() - opStart) / 1000;
  const writes = operator.context.client.counter.writes() - writesBefore;
  global.gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  await operator.stop();

  const membershipsPerSecond = count / opSeconds;
  const invitedPerSecond = round(membershipsPerSecond);
  const report = {
    ...env,
    summary: `${invitedPerSecond} Memberships invited+mailed/s vs ${round(rawWritesPerSecond)} raw creates/s (ratio ${round(membershipsPerSecond / rawWritesPerSecond)}), ${round(writes / count)} API writes each`,
    memberships: count,
    concurrency,
    baseline: { rawCreatesPerSecond: round(rawWritesPerSecond) },
    operator: {
      membershipsInvitedPerSecond: invitedPerSecond,
      apiWritesPerMembership: round(writes / count),
      mailsSent: mailed,
      // Needs --expose-gc to mean anything (bench/run.ts passes it).
      heapKiBPerCachedObject: global.gc ? round((heapAfter - heapBefore) / 1024 / (count * 2)) : null,
    },
    ratio: {
      invitedMembershipsPerRawCreate: round(membershipsPerSecond / rawWritesPerSecond),
      operatorWriteRateVsRaw: round(writes / opSeconds / rawWritesPerSecond),
    },
  };
  writeResults(
    'reconcile',
    report,
    `# Reconcile throughput\n\n${environmentMarkdown(env)}\n${count} Memberships, ${concurrency} concurrent clients.\n\n` +
      `| measure | value |\n|---|---|\n` +
      `| raw API creates per second (baseline, same run) | ${report.baseline.rawCreatesPerSecond} |\n` +
      `| Memberships taken to Invited + mailed per second | ${report.operator.membershipsInvitedPerSecond} |\n` +
      `| ratio to the raw create rate | ${report.ratio.invitedMembershipsPerRawCreate} |\n` +
      `| API writes per Membership | ${report.operator.apiWritesPerMembership} |\n` +
      `| operator write rate vs raw create rate | ${report.ratio.operatorWriteRateVsRaw} |\n` +
      `| heap growth per cached object (KiB) | ${report.operator.heapKiBPerCachedObject ?? 'n/a (run with --expose-gc)'} |\n`,
  );
  console.log(JSON.stringify(report, null, 2));
} finally {
  await cp.stop();
}
