// /metrics over HTTPS with authentication and authorization (server.metrics.secure), against
// the real API server: the operator runs as a process with the option on, and callers come
// with real ServiceAccount tokens. The ClusterRole that allows reading is the chart's own
// (rendered by helm, renamed for this file so it cannot collide with the chart install test).
import { request } from 'node:https';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resources } from '../../../src/api/resources.ts';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.ts';
import { renderChart } from '../chart/helm.ts';
import { removeNamespaces } from '../support/cleanup.ts';
import { startOperator, type OperatorProcess } from '../support/operator.ts';

const kubeconfig = inject('kubeconfigPath');
const suite = `metrics-auth-${randomBytes(3).toString('hex')}`;
const ns = suite;
const readerRole = `${suite}-reader`;

let admin: KubeClient;
let operator: OperatorProcess | undefined;
const tokens: Record<'reader' | 'nobody', string> = { reader: '', nobody: '' };

/** GET over HTTPS; the certificate is self-signed (made in memory at start), so it is not verified here. */
function scrape(port: number, token?: string, path = '/metrics'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'GET', rejectUnauthorized: false, headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function tokenOf(name: string): Promise<string> {
  await admin.apply(resources.serviceAccount, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns } });
  const review = await admin.request<{ status: { token: string } }>('create', 'POST', `/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
  });
  return review.status.token;
}

beforeAll(async () => {
  admin = KubeClient.fromFile(kubeconfig);
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  tokens.reader = await tokenOf('reader');
  tokens.nobody = await tokenOf('nobody');
  const chartRole = (await renderChart()).find((o) => o.kind === 'ClusterRole' && o.metadata.name.endsWith('-metrics-reader'));
  if (!chartRole) throw new Error('the chart renders no <fullname>-metrics-reader ClusterRole');
  await admin.apply(resources.clusterRole, { ...chartRole, metadata: { name: readerRole } } as KubeObject);
  await admin.apply(resources.clusterRoleBinding, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: readerRole },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: readerRole },
    subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
  } as KubeObject);
  operator = await startOperator({ kubeconfigPath: kubeconfig, secureMetrics: true, config: { webhook: { enabled: false } } });
}, 120_000);

afterAll(async () => {
  await operator?.kill('SIGTERM');
  if (admin) {
    await admin.delete(resources.clusterRoleBinding, undefined, readerRole);
    await admin.delete(resources.clusterRole, undefined, readerRole);
    await removeNamespaces(admin, [ns]);
    admin.close();
  }
});

describe('/metrics over HTTPS with TokenReview and SubjectAccessReview', () => {
  it('answers 401 without a token, saying what to send', async () => {
    const res = await scrape(operator!.metricsPort);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body).toMatch(/Authorization: Bearer <ServiceAccount token>/);
    expect(res.body).not.toContain('# TYPE');
  });

  it('answers 401 for a token the API server does not accept', async () => {
    const res = await scrape(operator!.metricsPort, 'not-a-real-token');
    expect(res.status).toBe(401);
    expect(res.body).toMatch(/does not accept this token/);
  });

  it('answers 403 to a ServiceAccount without the metrics-reader ClusterRole, naming the user and the way in', async () => {
    const res = await scrape(operator!.metricsPort, tokens.nobody);
    expect(res.status).toBe(403);
    expect(res.body).toContain(`Authorization denied for user system:serviceaccount:${ns}:nobody`);
    expect(res.body).toContain('get on the non-resource URL /metrics');
    expect(res.body).toContain('roster-metrics-reader');
    expect(res.body).not.toContain('# TYPE');
  });

  it("serves the metrics to a ServiceAccount bound to the chart's metrics-reader ClusterRole", async () => {
    const res = await scrape(operator!.metricsPort, tokens.reader);
    expect(res.status).toBe(200);
    expect(res.body).toContain('# TYPE controller_runtime_reconcile_total counter');
    // The operator's own API traffic, TokenReviews and SubjectAccessReviews included.
    expect(res.body).toMatch(/rest_client_requests_total\{code="201",method="POST",host="127\.0\.0\.1:\d+"\} [1-9]/);
    expect(res.body).toMatch(/rest_client_requests_total\{code="200",method="GET",host="[^"]+"\} [1-9]/);
    // Every request passed the client-side rate limiter (kubeClient.qps/burst) and its wait is timed.
    expect(res.body).toMatch(/rest_client_rate_limiter_duration_seconds_count\{verb="GET",host="127\.0\.0\.1:\d+"\} [1-9]/);
    expect(res.body).toContain('# TYPE workqueue_unfinished_work_seconds gauge');
    // A second scrape within the cache's lifetime still works (answers are cached, not the token).
    expect((await scrape(operator!.metricsPort, tokens.reader)).status).toBe(200);
  });

  it('answers 404 for other paths once authorized, and only over TLS', async () => {
    expect((await scrape(operator!.metricsPort, tokens.reader, '/healthz')).status).toBe(404);
    const plain = await fetch(`http://127.0.0.1:${operator!.metricsPort}/metrics`).catch((e: unknown) => e);
    expect(plain instanceof Response && plain.status === 200).toBe(false);
  });

  it('no longer serves /metrics on the plain probes port, and says where they went; probes still answer', async () => {
    const res = await fetch(`http://127.0.0.1:${operator!.probesPort}/metrics`);
    expect(res.status).toBe(404);
    expect(await res.text()).toMatch(new RegExp(`over HTTPS on port ${operator!.metricsPort}`));
    expect((await fetch(`http://127.0.0.1:${operator!.probesPort}/readyz`)).status).toBe(200);
  });

  it('never writes the tokens to its logs', () => {
    const logs = operator!.logs();
    expect(logs).toContain('"msg":"operator started"');
    expect(logs).toContain('"level":"info"'); // level names, not pino's numbers
    expect(logs).not.toMatch(/"level":\d/);
    for (const token of Object.values(tokens)) expect(logs).not.toContain(token);
  });
});
