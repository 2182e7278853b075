// Benchmark: the admission webhook's latency (issue #5), all in one run against one real
// control plane:
//  (a) the handler itself: AdmissionReview bodies POSTed straight to its HTTPS endpoint
//      (keep-alive, as the API server calls it): an allowed Membership create (which takes
//      a seat: one read and one compare-and-swap write of the seat ledger), two denials
//      (a second Membership for the same person, decided from the caches alone; a full team,
//      decided after a ledger read) and the mutating actor stamp;
//  (b) what a client sees: Membership creates through the API server in a namespace the
//      webhook does not select, against creates in one it does (both webhooks called),
//      interleaved one by one, and the create rate of 8 concurrent clients each way.
// The webhook runs in this process, as the operator runs it (createAdmission over informers,
// registered by URL with a namespaceSelector, envtest style), without the controllers.
//
//   node --expose-gc bench/admission.ts [--samples 300] [--warmup 30] [--concurrent 400]
// Writes bench/results/admission.json and bench/results/admission.md.
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:https';
import { parseArgs } from 'node:util';
import { freePort } from '../controlplane/harness.ts';
import { createAdmission } from '../src/admission/index.ts';
import { webhookConfigurationResources, type WebhookConfigurationObject } from '../src/admission/registration.ts';
import { ledgerName, parseLedger, type ConfigMap } from '../src/seats/ledger.ts';
import { resources, type Invitation, type Membership, type Project, type Team } from '../src/api/index.ts';
import { parseConfig } from '../src/config.ts';
import { index, teamKeyOf } from '../src/controllers/context.ts';
import { Informer } from '../src/runtime/informer.ts';
import { KubeApiError, KubeClient, resourcePath, type KubeObject, type Verb } from '../src/runtime/kube-client.ts';
import { silentLogger } from '../src/runtime/logger.ts';
import { Metrics } from '../src/runtime/metrics.ts';
import { startBenchControlPlane } from './lib/control-plane.ts';
import { environment, environmentMarkdown, latencyStats, round, writeResults, type LatencyStats } from './lib/report.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '300' },
    warmup: { type: 'string', default: '30' },
    concurrent: { type: 'string', default: '400' },
  },
});
const samples = Number(values.samples);
const warmup = Number(values.warmup);
const concurrentCreates = Number(values.concurrent);
const concurrency = 8;
for (const [name, n] of Object.entries({ samples, warmup, concurrent: concurrentCreates })) {
  const least = name === 'warmup' ? 0 : 1;
  if (!Number.isInteger(n) || n < least)
    throw new Error(`--${name} must be a whole number of at least ${least} (got ${String(values[name as keyof typeof values])})`);
}
const env = environment();

const SELECTOR_LABEL = 'roster.dev/bench-admission';
const SYSTEM = 'bench-adm-system'; // the webhook's certificate Secret
const SELECTED = 'bench-adm-on';
const UNSELECTED = 'bench-adm-off';
const CONFIGURATION = 'roster-bench-admission';
const USER = { username: 'roster-admin', groups: ['system:masters', 'system:authenticated'] };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const membership = (namespace: string, name: string, team: string, email: string): Membership => ({
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Membership',
  metadata: { name, namespace },
  spec: { team, email, role: 'observer' },
});

const team = (namespace: string, name: string, seats: number): Team => ({
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Team',
  metadata: { name, namespace },
  spec: { owner: { email: `owner@${name}.bench.example` }, seats },
});

/** The AdmissionReview the API server would send for creating `object` (uid and creationTimestamp already set). */
function reviewBody(object: Membership): string {
  const uid = randomUUID();
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: 'roster.dev', version: 'v1alpha1', kind: 'Membership' },
      resource: { group: 'roster.dev', version: 'v1alpha1', resource: 'memberships' },
      requestKind: { group: 'roster.dev', version: 'v1alpha1', kind: 'Membership' },
      requestResource: { group: 'roster.dev', version: 'v1alpha1', resource: 'memberships' },
      name: object.metadata.name,
      namespace: object.metadata.namespace,
      operation: 'CREATE',
      userInfo: USER,
      object: {
        ...object,
        metadata: { ...object.metadata, uid: randomUUID(), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), generation: 1 },
      },
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  });
}

interface ReviewAnswer {
  response?: { allowed?: boolean; status?: { message?: string }; patch?: string };
}

const cp = await startBenchControlPlane({ controllerManager: false });
const admin = cp.client;
// The webhook's own client, so its API requests can be counted apart from ours.
const webhookClient = KubeClient.fromFile(cp.kubeconfigPath);
const informers: Informer<KubeObject>[] = [];
let admission: ReturnType<typeof createAdmission> | undefined;
try {
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SYSTEM } });
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: UNSELECTED } });
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SELECTED, labels: { [SELECTOR_LABEL]: 'on' } } });

  // The webhook, wired as the operator wires it.
  const port = await freePort();
  const config = parseConfig({
    webhook: {
      register: { enabled: true, url: `https://127.0.0.1:${port}`, namespaceSelector: { matchLabels: { [SELECTOR_LABEL]: 'on' } } },
      configurationName: CONFIGURATION,
      tls: { secretName: 'roster-webhook-bench' },
      timeoutSeconds: 5,
    },
  });
  const byTeam = (o: KubeObject) => [teamKeyOf(o as Membership)];
  const caches = {
    teams: new Informer<Team>(webhookClient, resources.team, { indexers: { [index.byNamespace]: (t) => [t.metadata.namespace ?? ''] } }),
    memberships: new Informer<Membership>(webhookClient, resources.membership, { indexers: { [index.byTeam]: byTeam } }),
    invitations: new Informer<Invitation>(webhookClient, resources.invitation, { indexers: { [index.byTeam]: byTeam } }),
    projects: new Informer<Project>(webhookClient, resources.project, { indexers: { [index.byTeam]: byTeam } }),
  };
  for (const informer of Object.values(caches)) {
    informers.push(informer as unknown as Informer<KubeObject>);
    informer.start();
  }
  const metrics = new Metrics({ processMetrics: false });
  admission = createAdmission({
    config: config.webhook,
    namespace: SYSTEM,
    port,
    host: '127.0.0.1',
    client: webhookClient,
    caches,
    logger: silentLogger,
    metrics,
  });
  await admission.start();
  await Promise.all(Object.values(caches).map((c) => c.waitForSync()));

  // The API server calls the webhook once it has loaded the configuration: a dry-run create
  // for a team that does not exist is refused with the webhook's own message.
  const membershipsPath = resourcePath(resources.membership, SELECTED);
  await until('the API server to call the webhook', async () => {
    try {
      await admin.request('create', 'POST', membershipsPath, { body: membership(SELECTED, 'probe', 'nope', 'probe@bench.example'), query: { dryRun: 'All' } });
      return undefined;
    } catch (e) {
      if (e instanceof KubeApiError && e.message.includes('team nope does not exist')) return true;
      return undefined;
    }
  });

  // Teams: `bench` in both namespaces for the API creates (seats for all of them), `handler`
  // and `full` (the owner alone fills it) for the direct POSTs, and one member to duplicate.
  const apiCreates = warmup + samples + concurrentCreates;
  const seats = Math.min(100_000, apiCreates + 10);
  for (const ns of [UNSELECTED, SELECTED]) await admin.create(resources.team, team(ns, 'bench', seats));
  await admin.create(resources.team, team(SELECTED, 'handler', 100_000));
  await admin.create(resources.team, team(SELECTED, 'full', 1));
  await admin.create(resources.membership, membership(SELECTED, 'taken', 'handler', 'taken@bench.example'));
  await until('the webhook caches to show the teams and the member', async () =>
    ['bench', 'handler', 'full'].every((t) => caches.teams.get(SELECTED, t)) && caches.memberships.get(SELECTED, 'taken') ? true : undefined,
  );

  // (a) The handler over HTTPS, trusting the CA the API server was given.
  const registered = await admin.get<WebhookConfigurationObject>(webhookConfigurationResources.validating, undefined, CONFIGURATION);
  const ca = Buffer.from(String(registered.webhooks[0]?.clientConfig.caBundle ?? ''), 'base64').toString('utf8');
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
  const post = (path: string, body: string) =>
    new Promise<ReviewAnswer>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: `${path}?timeout=5s`,
          method: 'POST',
          agent,
          headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) reject(new Error(`${path} answered ${res.statusCode}: ${text}`));
            else resolve(JSON.parse(text) as ReviewAnswer);
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const handlerLedger = ledgerName('handler');
  /** Empties the `handler` team's seat ledger (untimed): the direct POSTs never create their objects, so their reservations would pile up until they expire. */
  const resetLedger = async () => {
    const current = await admin.find<ConfigMap>(resources.configMap, SELECTED, handlerLedger);
    if (current && Object.keys(current.data ?? {}).length > 0) await admin.replace(resources.configMap, { ...current, data: {} });
  };
  const expect = (answer: ReviewAnswer, allowed: boolean, message?: string) => {
    const r = answer.response;
    if (r?.allowed !== allowed || (message && !r.status?.message?.includes(message))) throw new Error(`unexpected admission answer: ${JSON.stringify(r)}`);
  };
  const handlerCases = {
    allowMembershipCreate: {
      description: 'validate: Membership create, team with free seats (reserves a seat: ledger read + compare-and-swap write)',
      run: (i: number) =>
        post('/validate', reviewBody(membership(SELECTED, `direct-${i}`, 'handler', `direct-${i}@bench.example`))).then((a) => expect(a, true)),
      after: resetLedger,
    },
    denyDuplicateMember: {
      description: 'validate: Membership create denied, the person already has one (caches only)',
      run: (i: number) =>
        post('/validate', reviewBody(membership(SELECTED, `dup-${i}`, 'handler', 'taken@bench.example'))).then((a) =>
          expect(a, false, 'already has Membership taken'),
        ),
    },
    denyTeamFull: {
      description: 'validate: Membership create denied, no seat left (caches + ledger read)',
      run: (i: number) =>
        post('/validate', reviewBody(membership(SELECTED, `full-${i}`, 'full', `full-${i}@bench.example`))).then((a) => expect(a, false, 'seats in use')),
    },
    mutateActorStamp: {
      description: 'mutate: Membership create, actor annotation patch',
      run: (i: number) =>
        post('/mutate', reviewBody(membership(SELECTED, `mut-${i}`, 'handler', `mut-${i}@bench.example`))).then((a) => {
          expect(a, true);
          if (!a.response?.patch) throw new Error('mutate answered without a patch');
        }),
    },
  } satisfies Record<string, { description: string; run: (i: number) => Promise<void>; after?: () => Promise<void> }>;
  const handlerSamples = Object.fromEntries(Object.keys(handlerCases).map((k) => [k, [] as number[]])) as Record<keyof typeof handlerCases, number[]>;
  // Round robin over the cases, so a noisy moment hits all of them alike.
  for (let i = 0; i < warmup + samples; i++) {
    for (const [name, c] of Object.entries(handlerCases) as [keyof typeof handlerCases, (typeof handlerCases)[keyof typeof handlerCases]][]) {
      const ms = await timed(() => c.run(i));
      if (i >= warmup) handlerSamples[name].push(ms);
      if ('after' in c) await c.after();
    }
  }
  agent.destroy();
  const handler = Object.fromEntries(
    Object.entries(handlerCases).map(([name, c]) => [name, { description: c.description, ...latencyStats(handlerSamples[name as keyof typeof handlerCases]) }]),
  ) as Record<keyof typeof handlerCases, LatencyStats & { description: string }>;

  // (b) Creates through the API server, one at a time, alternating which namespace goes first.
  const verbs: Verb[] = ['get', 'list', 'create', 'update', 'patch', 'delete'];
  const webhookRequests = () => verbs.reduce((sum, v) => sum + webhookClient.counter.get(v), 0);
  const ledgerEntries = async (ns: string) => parseLedger(await admin.find<ConfigMap>(resources.configMap, ns, ledgerName('bench'))).length;
  const create = (ns: string, i: number) => admin.create(resources.membership, membership(ns, `m-${i}`, 'bench', `person-${i}@bench.example`));
  const without: number[] = [];
  const withWebhook: number[] = [];
  let requestsBefore = 0;
  for (let i = 0; i < warmup + samples; i++) {
    if (i === warmup) {
      metrics.webhookLatency.reset();
      requestsBefore = webhookRequests();
    }
    const order = i % 2 === 0 ? [UNSELECTED, SELECTED] : [SELECTED, UNSELECTED];
    for (const ns of order) {
      const ms = await timed(() => create(ns, i));
      if (i >= warmup) (ns === SELECTED ? withWebhook : without).push(ms);
    }
  }
  const webhookRequestsPerCreate = (webhookRequests() - requestsBefore) / samples;
  const serverSide = await metrics.webhookLatency.get();
  const serverMeanMs = (path: string) => {
    const sum = serverSide.values.find((v) => v.metricName?.endsWith('_sum') && v.labels.webhook === path)?.value ?? 0;
    const count = serverSide.values.find((v) => v.metricName?.endsWith('_count') && v.labels.webhook === path)?.value ?? 0;
    return count ? round((sum / count) * 1000) : null;
  };
  const ledgerAfterSequential = await ledgerEntries(SELECTED);
  const sequential = {
    withoutWebhook: latencyStats(without),
    withWebhook: latencyStats(withWebhook),
    extraMs: { p50: 0, p99: 0, mean: 0 },
    ratio: { p50: 0, p99: 0 },
    // Time inside the webhook's HTTPS server per API server call (mean; from its latency histogram).
    webhookServerMeanMs: { validate: serverMeanMs('/validate'), mutate: serverMeanMs('/mutate') },
    webhookApiRequestsPerCreate: round(webhookRequestsPerCreate),
    seatLedgerEntriesAfter: ledgerAfterSequential,
  };
  sequential.extraMs = {
    p50: round(sequential.withWebhook.p50 - sequential.withoutWebhook.p50),
    p99: round(sequential.withWebhook.p99 - sequential.withoutWebhook.p99),
    mean: round(sequential.withWebhook.mean - sequential.withoutWebhook.mean),
  };
  sequential.ratio = {
    p50: round(sequential.withWebhook.p50 / sequential.withoutWebhook.p50),
    p99: round(sequential.withWebhook.p99 / sequential.withoutWebhook.p99),
  };

  // The same, 8 clients at once into one team: in two halves each way, alternating.
  const elapsed: Record<string, number> = { [UNSELECTED]: 0, [SELECTED]: 0 };
  const half = Math.ceil(concurrentCreates / 2);
  let nextIndex = warmup + samples;
  for (let pass = 0; pass < 2; pass++) {
    for (const ns of pass === 0 ? [UNSELECTED, SELECTED] : [SELECTED, UNSELECTED]) {
      const first = nextIndex;
      const items = Array.from({ length: pass === 0 ? half : concurrentCreates - half }, (_, k) => first + k);
      let next = 0;
      elapsed[ns] =
        elapsed[ns]! +
        (await timed(() =>
          Promise.all(
            Array.from({ length: concurrency }, async () => {
              while (next < items.length) await create(ns, items[next++]!);
            }),
          ),
        ));
    }
    nextIndex += pass === 0 ? half : concurrentCreates - half;
  }
  const concurrent = {
    concurrency,
    creates: concurrentCreates,
    withoutWebhookPerSecond: round(concurrentCreates / (elapsed[UNSELECTED]! / 1000)),
    withWebhookPerSecond: round(concurrentCreates / (elapsed[SELECTED]! / 1000)),
    withVsWithoutRate: round(elapsed[UNSELECTED]! / elapsed[SELECTED]!),
    seatLedgerEntriesAfter: await ledgerEntries(SELECTED),
  };

  const allowed = handler.allowMembershipCreate;
  const report = {
    ...env,
    summary:
      `handler p50/p99 ${allowed.p50}/${allowed.p99} ms (allowed create); ` +
      `a create +${sequential.extraMs.p50} ms at p50, +${sequential.extraMs.p99} ms at p99 with the webhook (x${sequential.ratio.p50} / x${sequential.ratio.p99}); ` +
      `${concurrency} clients: ${concurrent.withWebhookPerSecond} vs ${concurrent.withoutWebhookPerSecond} creates/s`,
    samples,
    warmup,
    handler: {
      transport: 'HTTPS POST /validate or /mutate?timeout=5s, one keep-alive connection, from the same process; time to the whole answer',
      ...handler,
    },
    apiCreates: {
      kind: 'Membership',
      sequential: { description: `${samples} creates each way, one at a time, interleaved (selected and unselected namespace, same Team spec)`, ...sequential },
      concurrent,
    },
  };
  const row = (name: string, s: LatencyStats) => `| ${name} | ${s.p50} | ${s.p99} | ${s.mean} | ${s.max} |\n`;
  writeResults(
    'admission',
    report,
    `# Admission webhook latency\n\n${environmentMarkdown(env)}\n` +
      `One control plane, the webhook in the benchmark process (createAdmission over informers, registered by URL with a namespaceSelector), no controllers. ` +
      `${samples} samples per case after ${warmup} warm-up rounds; times in milliseconds.\n\n` +
      `## The handler (AdmissionReview POSTed to its HTTPS endpoint)\n\n` +
      `| case | p50 | p99 | mean | max |\n|---|---|---|---|---|\n` +
      Object.values(handler)
        .map((c) => row(c.description, c))
        .join('') +
      `\nThese objects are never created, so their seat reservations would stay until they expire: the benchmark empties the team's seat ledger after each allowed sample (untimed). ` +
      `The handler numbers are for an empty ledger; the creates below run with the ledger as the webhook keeps it (${sequential.seatLedgerEntriesAfter} entries after the one-at-a-time creates).\n\n` +
      `## A Membership create through the API server, with and without the webhook (same run)\n\n` +
      `| namespace | p50 | p99 | mean | max |\n|---|---|---|---|---|\n` +
      row('not selected by the webhook', sequential.withoutWebhook) +
      row('selected (mutating + validating webhook)', sequential.withWebhook) +
      `\n| measure | value |\n|---|---|\n` +
      `| extra latency at p50 / p99 / mean (ms) | ${sequential.extraMs.p50} / ${sequential.extraMs.p99} / ${sequential.extraMs.mean} |\n` +
      `| ratio at p50 / p99 | ${sequential.ratio.p50} / ${sequential.ratio.p99} |\n` +
      `| time in the webhook server per call, mean (validate / mutate, ms) | ${sequential.webhookServerMeanMs.validate} / ${sequential.webhookServerMeanMs.mutate} |\n` +
      `| API requests the webhook made per create | ${sequential.webhookApiRequestsPerCreate} |\n` +
      `| seat ledger entries afterwards | ${sequential.seatLedgerEntriesAfter} |\n` +
      `| ${concurrency} concurrent clients, ${concurrentCreates} creates each way: creates/s without / with | ${concurrent.withoutWebhookPerSecond} / ${concurrent.withWebhookPerSecond} (with / without ${concurrent.withVsWithoutRate}) |\n`,
  );
  console.log(JSON.stringify(report, null, 2));
} finally {
  await admission?.stop();
  await Promise.all(informers.map((i) => i.stop()));
  webhookClient.close();
  await cp.stop();
}
