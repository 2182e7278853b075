// The chart, installed: `helm install` of charts/roster into the shared control plane, then
// the operator run the way the chart's pod would run it — the container's args and
// environment, the config from the chart's ConfigMap, the token of the chart's
// ServiceAccount — against an API server that enforces RBAC. A whole team scenario (mail,
// accept, access granted, access removed), with the chart's own webhook configurations
// calling the operator, must pass without one forbidden request: that is the proof that the
// chart's RBAC is sufficient. There is no kubelet, so no pod runs; `materializeMounts` plays
// the kubelet's part for the files.
//
// The control plane is shared with other test files: the chart's webhooks (failurePolicy
// Fail) are limited with `webhook.namespaceSelector` to namespaces labelled for this run,
// and the release is uninstalled afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort, projectRoot } from '../../../controlplane/harness.ts';
import { CREATED_BY } from '../../../src/audit/actor.ts';
import { webhookConfigurationResources } from '../../../src/admission/registration.ts';
import type { Membership, Team } from '../../../src/api/generated.ts';
import { resources } from '../../../src/api/resources.ts';
import { MANAGED_BY, teamClusterRoleObjects } from '../../../src/backends/identity/kubernetes.ts';
import { parseConfig } from '../../../src/config.ts';
import { KubeClient, type KubeObject, type ResourceRef } from '../../../src/runtime/kube-client.ts';
import { eventually } from '../support/eventually.ts';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp.ts';
import { chartDirectory, find, helm, parseManifests, valuesFile, type HelmResult, type K8sObject } from './helm.ts';
import { environmentOf, materializeMounts, podOf, serviceAccountKubeconfig } from './pod.ts';

const kubeconfig = inject('kubeconfigPath');
const release = 'roster';
const releaseNs = 'roster-system';
const run = randomBytes(4).toString('hex');
/** Only namespaces with this label are subject to the chart's webhooks. */
const WEBHOOK_LABEL = 'roster.dev/chart-install-test';
const teamNs = 'chart-acme';
const stagingNs = 'chart-shop-staging';
const leaseName = `roster-chart-${run}`;
const podName = `roster-5d8c7f-${run}`;
const serviceAccountUser = `system:serviceaccount:${releaseNs}:roster`;

/** Built-in kinds the chart renders, by kind. */
const refs: Record<string, ResourceRef> = {
  ServiceAccount: resources.serviceAccount,
  ConfigMap: resources.configMap,
  Service: { group: '', version: 'v1', plural: 'services', namespaced: true },
  Deployment: { group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
  PodDisruptionBudget: { group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', namespaced: true },
  ClusterRole: resources.clusterRole,
  ClusterRoleBinding: resources.clusterRoleBinding,
  Role: resources.role,
  RoleBinding: resources.roleBinding,
  ValidatingWebhookConfiguration: webhookConfigurationResources.validating,
  MutatingWebhookConfiguration: webhookConfigurationResources.mutating,
  ValidatingAdmissionPolicy: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicies', namespaced: false },
  ValidatingAdmissionPolicyBinding: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingadmissionpolicybindings', namespaced: false },
};

let admin: KubeClient;
let smtp: TestSmtpServer;
let installed: HelmResult;
let manifests: K8sObject[] = [];
let operator: ChildProcess | undefined;
let logPath = '';
let acceptPort = 0;
let probesPort = 0;
let webhookPort = 0;
let metricsPort = 0;
/** The config as the chart rendered it, and as the operator ran with it. */
let rendered: Record<string, unknown> = {};
let adjusted: Record<string, unknown> = {};
/** roster:team-* ClusterRoles an earlier file's operator applied outside Helm (restored afterwards). */
const unownedTeamRoles: string[] = [];

process.on('exit', () => operator?.kill('SIGKILL')); // never outlive the test process

const logs = () => (logPath ? readFileSync(logPath, 'utf8') : '');

function mailsTo(email: string): ParsedMail[] {
  return smtp.messages.filter((m) => (Array.isArray(m.to) ? m.to : [m.to]).some((t) => t?.value.some((v) => v.address === email)));
}

async function linkFor(email: string): Promise<string> {
  return await eventually(
    () => {
      const mail = mailsTo(email).at(-1);
      const match = new RegExp(`(http://127\\.0\\.0\\.1:${acceptPort}/invite/[A-Za-z0-9_-]+)`).exec(mail?.text ?? '');
      if (!match) throw new Error(`no invitation mail with a link for ${email} yet`);
      return match[1]!;
    },
    30_000,
    200,
  );
}

async function canI(user: string, verb: string, resource: string, namespace: string, group = '', name?: string): Promise<boolean> {
  const review = await admin.create<KubeObject & { status?: { allowed: boolean } }>(resources.subjectAccessReview, {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    metadata: {},
    spec: { user, resourceAttributes: { namespace, verb, group, resource, ...(name ? { name } : {}) } },
  } as KubeObject);
  return review.status?.allowed ?? false;
}

/** The operator's RoleBindings in a namespace, as [ClusterRole, subject] pairs. */
async function grantsIn(ns: string): Promise<Array<[string, string]>> {
  const bindings = await admin.list<KubeObject & { roleRef: { name: string }; subjects?: Array<{ name: string }> }>(resources.roleBinding, ns, {
    labelSelector: `${MANAGED_BY}=roster`,
  });
  return bindings.items
    .flatMap((b) => (b.subjects ?? []).map((s) => [b.roleRef.name, s.name] as [string, string]))
    .sort((a, b) => a.join().localeCompare(b.join()));
}

async function namespace(name: string, labels: Record<string, string> = {}): Promise<void> {
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
}

/** Runs the container as the chart describes it: its args and env (paths mapped to the materialized files), the image's entrypoint and workdir. */
async function runOperator(mapPath: (p: string) => string, container: ReturnType<typeof podOf>['containers'][number], dir: string): Promise<void> {
  logPath = join(dir, 'operator.log');
  const env = environmentOf(container, { name: podName, namespace: releaseNs }, mapPath);
  const args = (container.args ?? []).map((a) => (a.startsWith('/') ? mapPath(a) : a));
  const log = openSync(logPath, 'a');
  // The image: ENTRYPOINT ["node", "src/main.ts"], WORKDIR /app (the repository).
  const child = spawn(process.execPath, [join(projectRoot, 'src', 'main.ts'), ...args], {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  operator = child;
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`operator exited with ${child.exitCode}:\n${logs().slice(-3000)}`);
      const res = await fetch(`http://127.0.0.1:${probesPort}/readyz`);
      if (res.status !== 200) throw new Error(await res.text());
    },
    60_000,
    250,
  );
}

async function stopOperator(): Promise<void> {
  const child = operator;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig, { fieldManager: 'roster-test' });
  smtp = await startSmtpServer();
  [acceptPort, probesPort, webhookPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];

  // Earlier test files' operators apply the roster:team-* ClusterRoles at start, outside
  // Helm; Helm refuses to adopt objects it did not make. Give the chart the cluster a first
  // install meets (they are put back afterwards).
  for (const role of teamClusterRoleObjects()) {
    const existing = await admin.find(resources.clusterRole, undefined, role.metadata.name ?? '');
    if (existing && !existing.metadata.annotations?.['meta.helm.sh/release-name']) {
      unownedTeamRoles.push(role.metadata.name ?? '');
      await admin.delete(resources.clusterRole, undefined, role.metadata.name ?? '');
    }
  }

  const values = {
    operator: {
      // Links point at where this test reaches the accept page.
      publicUrl: `http://127.0.0.1:${acceptPort}`,
      logLevel: 'debug',
      leaderElection: { leaseName },
    },
    // The test's SMTP server on loopback speaks no TLS: allowed only explicitly.
    mail: { backend: 'smtp', from: 'Roster <roster@chart.example>', smtp: { host: '127.0.0.1', port: smtp.port, requireTLS: false, allowInsecure: true } },
    // Fail closed, but only for this run's namespaces: the cluster is shared.
    webhook: { namespaceSelector: { matchLabels: { [WEBHOOK_LABEL]: run } } },
  };
  installed = await helm([
    'install',
    release,
    chartDirectory,
    '--namespace',
    releaseNs,
    '--create-namespace',
    '--kubeconfig',
    kubeconfig,
    '-f',
    valuesFile(values),
  ]);
  if (installed.code !== 0) return; // the first test reports it
  const manifest = await helm(['get', 'manifest', release, '--namespace', releaseNs, '--kubeconfig', kubeconfig]);
  manifests = parseManifests(manifest.stdout);
});

afterAll(async () => {
  await stopOperator();
  if (installed?.code === 0) {
    const result = await helm(['uninstall', release, '--namespace', releaseNs, '--kubeconfig', kubeconfig]);
    if (result.code !== 0) console.error(`helm uninstall failed: ${result.stderr}`);
  }
  if (admin) {
    // Whatever happened above, no webhook of this release may outlive the file.
    for (const ref of Object.values(webhookConfigurationResources)) await admin.delete(ref, undefined, release).catch(() => false);
    // A scenario cut short leaves finalizers the stopped operator would have removed.
    for (const ref of [resources.membership, resources.team]) {
      const left = await admin.list(ref, teamNs).catch(() => ({ items: [] as KubeObject[] }));
      for (const o of left.items) {
        if (o.metadata.finalizers?.length)
          await admin.patch(ref, teamNs, o.metadata.name ?? '', 'merge', { metadata: { finalizers: null } }).catch(() => undefined);
      }
    }
    for (const name of [teamNs, stagingNs, releaseNs]) await admin.delete(resources.namespace, undefined, name).catch(() => false);
    for (const role of teamClusterRoleObjects()) {
      if (unownedTeamRoles.includes(role.metadata.name ?? '')) await admin.apply(resources.clusterRole, role).catch(() => undefined);
    }
    admin.close();
  }
  await smtp?.stop();
});

describe('helm install into a cluster', () => {
  it('succeeds, and every object of the release exists (the CRDs, already there, are left alone)', async () => {
    expect(installed.stderr).not.toMatch(/error/i);
    expect(installed.code, installed.stderr).toBe(0);
    const status = await helm(['status', release, '--namespace', releaseNs, '--kubeconfig', kubeconfig, '-o', 'json']);
    expect((JSON.parse(status.stdout) as { info: { status: string } }).info.status).toBe('deployed');

    expect(manifests.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'ClusterRole/roster-metrics-reader',
      'ClusterRole/roster-operator',
      'ClusterRole/roster:team-admin',
      'ClusterRole/roster:team-billing',
      'ClusterRole/roster:team-owner',
      'ClusterRoleBinding/roster-operator',
      'ConfigMap/roster-config',
      'Deployment/roster',
      'MutatingWebhookConfiguration/roster',
      'PodDisruptionBudget/roster',
      'Role/roster-operator',
      'RoleBinding/roster-operator',
      'Service/roster',
      'ServiceAccount/roster',
      ...['clusterroles', 'configmaps', 'rolebindings', 'roles', 'secrets', 'serviceaccounts'].map(
        (k) => `ValidatingAdmissionPolicy/roster-operator-fence-${k}`,
      ),
      ...['clusterroles', 'configmaps', 'rolebindings', 'roles', 'secrets', 'serviceaccounts'].map(
        (k) => `ValidatingAdmissionPolicyBinding/roster-operator-fence-${k}`,
      ),
      'ValidatingWebhookConfiguration/roster',
    ]);
    for (const o of manifests) {
      const ref = refs[o.kind];
      expect(ref, o.kind).toBeDefined();
      const live = await admin.get(ref!, o.metadata.namespace, o.metadata.name);
      expect(live.metadata.annotations, `${o.kind}/${o.metadata.name}`).toMatchObject({
        'meta.helm.sh/release-name': release,
        'meta.helm.sh/release-namespace': releaseNs,
      });
      // Helm stamps app.kubernetes.io/managed-by=Helm on everything it installs, over the
      // chart's own value (the roster:team-* roles say "roster"; the operator puts that back).
      expect(live.metadata.labels, `${o.kind}/${o.metadata.name}`).toEqual({ ...o.metadata.labels, 'app.kubernetes.io/managed-by': 'Helm' });
    }
    // No kubelet, no controllers for Deployments: the Deployment exists and nothing runs.
    const deployment = await admin.get<KubeObject & { spec: { replicas: number }; status?: { readyReplicas?: number } }>(refs.Deployment!, releaseNs, 'roster');
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.status?.readyReplicas ?? 0).toBe(0);

    // The CRDs came from the harness; Helm skipped them (present) instead of failing or taking them over.
    for (const plural of ['teams', 'memberships', 'invitations', 'projects', 'accesskeys']) {
      const crd = await admin.get(resources.customResourceDefinition, undefined, `${plural}.roster.dev`);
      expect(crd.metadata.annotations?.['meta.helm.sh/release-name']).toBeUndefined();
    }

    // The webhooks as installed: fail closed, limited to this run's namespaces.
    for (const ref of Object.values(webhookConfigurationResources)) {
      const config = await admin.get<
        KubeObject & {
          webhooks: Array<{ name: string; failurePolicy: string; namespaceSelector: unknown; clientConfig: { service?: { name: string; namespace: string } } }>;
        }
      >(ref, undefined, release);
      // validate.roster.dev (fails closed) and deletions.roster.dev (fails open: it only records who deleted); actor.roster.dev.
      expect(config.webhooks.map((w) => [w.name, w.failurePolicy])).toEqual(
        ref === webhookConfigurationResources.validating
          ? [
              ['validate.roster.dev', 'Fail'],
              ['deletions.roster.dev', 'Ignore'],
            ]
          : [['actor.roster.dev', 'Fail']],
      );
      for (const webhook of config.webhooks) {
        expect(webhook).toMatchObject({
          namespaceSelector: { matchLabels: { [WEBHOOK_LABEL]: run } },
          clientConfig: { service: { name: 'roster', namespace: releaseNs } },
        });
      }
    }
  });
});

describe("the operator with the chart's ServiceAccount, config and environment", () => {
  beforeAll(async () => {
    if (installed.code !== 0) throw new Error(`helm install failed: ${installed.stderr}`);
    const deployment = find(manifests, 'Deployment');
    const pod = podOf(deployment);
    const container = pod.containers.find((c) => c.name === 'operator')!;
    expect(pod.serviceAccountName).toBe('roster');

    // The kubelet's part: the mounted ConfigMap (read back from the cluster), /tmp, and the
    // ServiceAccount token (a TokenRequest, as for a projected token).
    const dir = mkdtempSync(join(tmpdir(), 'roster-chart-pod-'));
    const mapPath = await materializeMounts(admin, releaseNs, pod, container, join(dir, 'root'));
    const saKubeconfig = await serviceAccountKubeconfig(admin, kubeconfig, releaseNs, pod.serviceAccountName!, join(dir, 'kubeconfig'));

    // Only what must differ outside a pod changes in the chart's config:
    // - kubeconfig: in a pod the client takes the in-cluster config from the projected token;
    //   here the same kind of token comes in a kubeconfig;
    // - server: a pod has a network namespace of its own; here the ports must be free ones on
    //   the shared loopback (and nothing listens on 0.0.0.0);
    // - webhook.tls.ipAddresses: the API server reaches the webhook on 127.0.0.1 instead of
    //   through the Service, so the serving certificate must name that address as well.
    // SMTP and publicUrl came from Helm values (see above), not from here.
    const configPath = mapPath(container.args![1]!);
    rendered = parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    const webhook = rendered.webhook as { tls: Record<string, unknown> };
    adjusted = {
      ...rendered,
      kubeconfig: saKubeconfig,
      server: {
        ...(rendered.server as object),
        host: '127.0.0.1',
        probesPort,
        acceptPort,
        webhookPort,
        metrics: { ...(rendered.server as { metrics: object }).metrics, port: metricsPort },
      },
      webhook: { ...webhook, tls: { ...webhook.tls, ipAddresses: ['127.0.0.1'] } },
    };
    parseConfig(adjusted);
    writeFileSync(configPath, stringify(adjusted));

    // The chart's webhook configurations call the Service, which has no endpoints here (and
    // no kube-proxy): point them at the operator on loopback instead. The operator still has
    // to inject the caBundle itself, with the chart's RBAC.
    for (const [ref, path] of [
      [webhookConfigurationResources.validating, '/validate'],
      [webhookConfigurationResources.mutating, '/mutate'],
    ] as const) {
      await admin.patch(ref, undefined, release, 'json', [
        { op: 'replace', path: '/webhooks/0/clientConfig', value: { url: `https://127.0.0.1:${webhookPort}${path}` } },
      ]);
    }

    await namespace(teamNs, { [WEBHOOK_LABEL]: run });
    // The platform assigns the environment to the team (SPEC §7); the chart's fence refuses
    // the operator's bindings anywhere else.
    await namespace(stagingNs, { 'roster.dev/team': teamNs });
    await runOperator(mapPath, container, dir);
  });

  it('runs as the ServiceAccount, which holds exactly what the chart grants', async () => {
    expect(
      Object.keys(adjusted)
        .filter((k) => JSON.stringify(adjusted[k]) !== JSON.stringify(rendered[k]))
        .sort(),
    ).toEqual(['kubeconfig', 'server', 'webhook']);
    // The token is not an administrator's: RBAC applies to it.
    expect(await canI(serviceAccountUser, 'list', 'teams', teamNs, 'roster.dev')).toBe(true);
    expect(await canI(serviceAccountUser, 'get', 'secrets', teamNs)).toBe(false);
    expect(await canI(serviceAccountUser, 'update', 'deployments', stagingNs, 'apps')).toBe(false);
    expect(await canI(serviceAccountUser, 'bind', 'clusterroles', '', 'rbac.authorization.k8s.io', 'edit')).toBe(true);
    expect(await canI(serviceAccountUser, 'bind', 'clusterroles', '', 'rbac.authorization.k8s.io', 'cluster-admin')).toBe(false);
    expect(await canI(serviceAccountUser, 'delete', 'namespaces', '')).toBe(false);
    // HTTPS /metrics (on in the chart) reviews scrapers' tokens and their access.
    expect(await canI(serviceAccountUser, 'create', 'tokenreviews', '', 'authentication.k8s.io')).toBe(true);
    expect(await canI(serviceAccountUser, 'create', 'subjectaccessreviews', '', 'authorization.k8s.io')).toBe(true);
  });

  it("leads on the chart's Lease, keeps its webhook certificates in the chart's Secret and injects the CA into the chart's webhooks", async () => {
    await eventually(
      async () => {
        const lease = await admin.get<KubeObject & { spec: { holderIdentity?: string } }>(resources.lease, releaseNs, leaseName);
        expect(lease.spec.holderIdentity).toBe(podName); // POD_NAME from the downward API
      },
      30_000,
      200,
    );
    const secret = await admin.get<KubeObject & { data: Record<string, string> }>(resources.secret, releaseNs, 'roster-webhook-tls');
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    // It keeps its roster:team-* ClusterRoles in place (patch + escalate on those names):
    // its label is back over the one Helm stamped.
    for (const role of teamClusterRoleObjects()) {
      const live = await admin.get(resources.clusterRole, undefined, role.metadata.name ?? '');
      expect(live.metadata.labels?.[MANAGED_BY], role.metadata.name).toBe('roster');
    }
    await eventually(
      async () => {
        for (const ref of Object.values(webhookConfigurationResources)) {
          const config = await admin.get<KubeObject & { webhooks: Array<{ clientConfig: { caBundle?: string } }> }>(ref, undefined, release);
          expect(config.webhooks[0]!.clientConfig.caBundle).toBe(secret.data['ca.crt']);
        }
      },
      20_000,
      200,
    );
  });

  it("invites: a Team and a Membership through the chart's webhooks, a mail for each person", async () => {
    // The API server picks up the injected CA a moment after the configurations show it; until
    // then its calls to the webhooks fail and the create is refused (nothing is created).
    await eventually(
      () =>
        admin.create<Team>(resources.team, {
          apiVersion: 'roster.dev/v1alpha1',
          kind: 'Team',
          metadata: { name: 'acme', namespace: teamNs },
          spec: { displayName: 'Acme Charts', owner: { email: 'olivia@chart.example', name: 'Olivia Owner' }, seats: 2 },
        } as Team),
      20_000,
      200,
    );
    await admin.create(resources.project, {
      apiVersion: 'roster.dev/v1alpha1',
      kind: 'Project',
      metadata: { name: 'shop', namespace: teamNs },
      spec: { team: 'acme', environments: [{ name: 'staging', namespace: stagingNs }] },
    } as KubeObject);
    const riley = await admin.create<Membership>(resources.membership, {
      apiVersion: 'roster.dev/v1alpha1',
      kind: 'Membership',
      metadata: { name: 'riley', namespace: teamNs },
      spec: { team: 'acme', email: 'riley@chart.example', role: 'developer', projects: [{ name: 'shop', environments: ['staging'] }] },
    } as Membership);
    // The mutating webhook stamped the creator: the API server called the operator.
    expect(riley.metadata.annotations?.[CREATED_BY]).toBe('roster-admin');

    const link = await linkFor('riley@chart.example');
    expect(link).toMatch(/\/invite\/[A-Za-z0-9_-]{43}$/);
    await linkFor('olivia@chart.example');
    expect(mailsTo('riley@chart.example')[0]!.subject).toContain('Acme Charts');
    await eventually(async () => expect((await admin.get<Membership>(resources.membership, teamNs, 'riley')).status?.phase).toBe('Invited'), 20_000, 200);

    // Both invitations were created by the operator as the ServiceAccount the chart names: the
    // chart's matchConditions leave exactly that user's own Invitations out of the webhooks, so
    // the mutating webhook stamped no creator on them (it stamped riley's Membership above).
    const invitations = await admin.list(resources.invitation, teamNs);
    expect(invitations.items).toHaveLength(2);
    for (const i of invitations.items) {
      expect(i.metadata.ownerReferences?.find((r) => r.controller)?.kind).toMatch(/^(Team|Membership)$/);
      expect(i.metadata.annotations?.[CREATED_BY]).toBeUndefined();
    }
    const validating = await admin.get<KubeObject & { webhooks: Array<{ matchConditions?: unknown }> }>(
      webhookConfigurationResources.validating,
      undefined,
      release,
    );
    expect(JSON.stringify(validating.webhooks[0]?.matchConditions)).toContain(`request.userInfo.username == '${serviceAccountUser}'`);
  });

  it("refuses a member over the seat limit (the seat ledger, written with the chart's RBAC)", async () => {
    const over = admin.create(resources.membership, {
      apiVersion: 'roster.dev/v1alpha1',
      kind: 'Membership',
      metadata: { name: 'zoe', namespace: teamNs },
      spec: { team: 'acme', email: 'zoe@chart.example', role: 'observer' },
    } as KubeObject);
    await expect(over).rejects.toThrow(/team acme has 2 of 2 seats in use/);
  });

  it('accepting the links makes the Membership and the owner Active and grants their roles', async () => {
    const res = await fetch(await linkFor('riley@chart.example'), { method: 'POST' });
    expect(res.status).toBe(200);
    await eventually(async () => expect((await admin.get<Membership>(resources.membership, teamNs, 'riley')).status?.phase).toBe('Active'), 30_000, 200);
    await eventually(async () => expect(await grantsIn(stagingNs)).toEqual([['edit', 'riley@chart.example']]), 30_000, 200);
    // RBAC's authorizer sees a new binding a moment after it exists.
    await eventually(async () => expect(await canI('riley@chart.example', 'update', 'deployments', stagingNs, 'apps')).toBe(true), 10_000, 100);
    expect(await canI('riley@chart.example', 'update', 'deployments', teamNs, 'apps')).toBe(false);

    // The owner: ClusterRole admin in the project's namespace, roster:team-owner in the team's.
    expect((await fetch(await linkFor('olivia@chart.example'), { method: 'POST' })).status).toBe(200);
    await eventually(async () => expect((await admin.get<Team>(resources.team, teamNs, 'acme')).status?.owner?.phase).toBe('Active'), 30_000, 200);
    await eventually(
      async () => {
        expect(await grantsIn(stagingNs)).toEqual([
          ['admin', 'olivia@chart.example'],
          ['edit', 'riley@chart.example'],
        ]);
        expect(await grantsIn(teamNs)).toEqual([['roster:team-owner', 'olivia@chart.example']]);
      },
      30_000,
      200,
    );
    await eventually(async () => expect(await canI('olivia@chart.example', 'update', 'teams', teamNs, 'roster.dev')).toBe(true), 30_000, 200);
  });

  it('deleting the Membership removes the access, then the Membership', async () => {
    await admin.delete(resources.membership, teamNs, 'riley');
    await eventually(async () => expect(await admin.find(resources.membership, teamNs, 'riley')).toBeUndefined(), 30_000, 200);
    expect(await grantsIn(stagingNs)).toEqual([['admin', 'olivia@chart.example']]);
    await eventually(async () => expect(await canI('riley@chart.example', 'update', 'deployments', stagingNs, 'apps')).toBe(false), 30_000, 200);
  });

  it("deleting the Team removes the owner's access, then the Team", async () => {
    await admin.delete(resources.team, teamNs, 'acme');
    await eventually(async () => expect(await admin.find(resources.team, teamNs, 'acme')).toBeUndefined(), 30_000, 200);
    expect(await grantsIn(stagingNs)).toEqual([]);
    expect(await grantsIn(teamNs)).toEqual([]);
    await eventually(async () => expect(await canI('olivia@chart.example', 'update', 'teams', teamNs, 'roster.dev')).toBe(false), 30_000, 200);
  });

  it('wrote Events, and met not one forbidden request on the way', async () => {
    const events = await admin.list(resources.event, teamNs);
    expect(events.items.length).toBeGreaterThan(0);
    const log = logs();
    expect(log).toContain('operator started');
    expect(log).not.toContain('could not apply ClusterRole'); // patch + escalate on roster:team-* suffice
    const forbidden = log.split('\n').filter((line) => /forbidden|\b403\b/i.test(line));
    expect(forbidden.map((line) => line.slice(0, 600))).toEqual([]);
  });
});
