// Operator-managed certificates against the real API server: a CA and a serving certificate
// in a Secret, the CA injected as caBundle, both rotated before they expire and taken up
// without a restart — and the API server keeps calling the webhook throughout. Lifetimes
// are seconds here (30 s serving, 90 s CA) so a rotation of each happens within the test.
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Invitation, Membership, Project, Team } from '../../../src/api/generated.ts';
import { resources } from '../../../src/api/resources.ts';
import { createAdmission, type Admission } from '../../../src/admission/index.ts';
import { splitPemBundle, stateFromSecret } from '../../../src/admission/certificates.ts';
import { webhookConfigurationResources, type WebhookConfigurationObject } from '../../../src/admission/registration.ts';
import { parseConfig } from '../../../src/config.ts';
import { index, teamKeyOf } from '../../../src/controllers/context.ts';
import { freePort } from '../../../controlplane/harness.ts';
import { Informer } from '../../../src/runtime/informer.ts';
import { KubeClient, type KubeObject } from '../../../src/runtime/kube-client.ts';
import { silentLogger } from '../../../src/runtime/logger.ts';
import { kubectl } from '../kubectl.ts';
import { eventually } from '../support/eventually.ts';
import { removeWebhook, testNamespace, webhookConfig } from './support.ts';

const kubeconfig = inject('kubeconfigPath');
const suite = 'certs';
const ns = 'adm-certs';
let client: KubeClient;
let admission: Admission;
const informers: Informer<KubeObject>[] = [];

/** The certificate the server presents to a fresh connection. */
function presented(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const raw = socket.getPeerX509Certificate();
      socket.end();
      if (raw) resolve(raw);
      else reject(new Error('no certificate'));
    });
    socket.on('error', reject);
  });
}

/** A roster create the webhook must answer: it refuses with its own message (proof the API server reached and trusted it). */
async function webhookAnswers(): Promise<void> {
  const result = await kubectl(
    kubeconfig,
    ['apply', '-f', '-'],
    `apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: probe, namespace: ${ns} }
spec: { team: nope, environments: [{ name: production, namespace: x }] }
`,
  );
  expect(result.stderr).toContain('team nope does not exist');
}

const secret = async () => stateFromSecret(await client.find(resources.secret, ns, `roster-webhook-${suite}`));
const caBundleInConfig = async () => {
  const v = await client.get<WebhookConfigurationObject>(webhookConfigurationResources.validating, undefined, `roster-test-${suite}`);
  return Buffer.from(String(v.webhooks[0]?.clientConfig.caBundle ?? ''), 'base64').toString('utf8');
};

beforeAll(async () => {
  client = KubeClient.fromFile(kubeconfig);
  await testNamespace(client, ns, suite);
  const port = await freePort();
  const base = webhookConfig(suite, `https://127.0.0.1:${port}`);
  const config = parseConfig({ webhook: { ...base, tls: { ...(base.tls as object), servingValidity: '30s', caValidity: '90s', checkInterval: '1s' } } });
  const byTeam = (o: KubeObject) => [teamKeyOf(o as Membership)];
  const caches = {
    teams: new Informer<Team>(client, resources.team, { indexers: { [index.byNamespace]: (t) => [t.metadata.namespace ?? ''] } }),
    memberships: new Informer<Membership>(client, resources.membership, { indexers: { [index.byTeam]: byTeam } }),
    invitations: new Informer<Invitation>(client, resources.invitation, { indexers: { [index.byTeam]: byTeam } }),
    projects: new Informer<Project>(client, resources.project, { indexers: { [index.byTeam]: byTeam } }),
  };
  for (const informer of Object.values(caches)) {
    informers.push(informer as unknown as Informer<KubeObject>);
    informer.start();
  }
  admission = createAdmission({ config: config.webhook, namespace: ns, port, host: '127.0.0.1', client, caches, logger: silentLogger });
  await admission.start();
});

afterAll(async () => {
  await admission?.stop();
  await Promise.all(informers.map((i) => i.stop()));
  if (client) await removeWebhook(client, suite);
  client?.close();
});

describe('operator-managed webhook certificates', () => {
  it('keeps the CA and serving certificate in a Secret and the CA in caBundle', async () => {
    const state = await secret();
    expect(state).toBeDefined();
    const cert = new X509Certificate(state!.cert);
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.checkIssued(new X509Certificate(splitPemBundle(state!.caBundle)[0]!))).toBe(true);
    expect(await caBundleInConfig()).toBe(state!.caBundle);
    expect((await presented(admission.port)).fingerprint256).toBe(cert.fingerprint256);
    await webhookAnswers();
  });

  it('rotates the serving certificate and then the CA before they expire, without a restart or a failed call', async () => {
    const first = await secret();
    const firstServing = new X509Certificate(first!.cert).fingerprint256;
    const firstCa = new X509Certificate(splitPemBundle(first!.caBundle)[0]!);
    const seen = new Set<string>();
    let checks = 0;
    // Until the serving certificate is signed by a second CA: every second, the presented
    // certificate is valid and the API server still gets through.
    await eventually(
      async () => {
        const cert = await presented(admission.port);
        seen.add(cert.fingerprint256);
        expect(Date.parse(cert.validTo)).toBeGreaterThan(Date.now());
        await webhookAnswers();
        checks++;
        const state = await secret();
        const cas = splitPemBundle(state!.caBundle).map((pem) => new X509Certificate(pem));
        expect(cas.length).toBeGreaterThanOrEqual(2);
        // Every CA has the same name: only the signature tells them apart.
        expect(cert.verify(cas[0]!.publicKey)).toBe(true);
        expect(cert.verify(firstCa.publicKey)).toBe(false);
        expect(await caBundleInConfig()).toBe(state!.caBundle);
      },
      150_000,
      1_000,
    );
    expect(checks).toBeGreaterThan(0);
    // Several serving certificates went by (renewed at two thirds of their life), all from the same process.
    expect(seen.size).toBeGreaterThanOrEqual(2);
    expect(seen.has(firstServing) || seen.size >= 3).toBe(true);
  }, 200_000);
});
