// Shared by the admission integration tests: namespaces the test's webhook applies to (and
// no others: the control plane is shared with other test files), the operator config that
// registers the webhook by URL as envtest does, and a round-robin balancer that plays the
// Service in front of two replicas.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { expect } from 'vitest';
import { freePort } from '../../../controlplane/harness.ts';
import { webhookConfigurationResources, type WebhookConfigurationObject } from '../../../src/admission/registration.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorOptions, type OperatorProcess } from '../support/operator.ts';
import { resources } from '../../../src/api/resources.ts';
import { deleteWebhookConfigurations } from '../../../src/admission/registration.ts';
import type { KubeClient } from '../../../src/runtime/kube-client.ts';

export const TEST_LABEL = 'roster.dev/admission-test';

export async function testNamespace(admin: KubeClient, name: string, suite: string): Promise<void> {
  await admin.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [TEST_LABEL]: suite } } });
}

/** The operator's `webhook` config section for a test suite. */
export function webhookConfig(suite: string, url: string): Record<string, unknown> {
  return {
    register: { enabled: true, url, namespaceSelector: { matchLabels: { [TEST_LABEL]: suite } } },
    configurationName: `roster-test-${suite}`,
    tls: { secretName: `roster-webhook-${suite}` },
    timeoutSeconds: 5,
  };
}

/**
 * An operator process that registers its webhook for the suite's namespaces, returned once
 * the API server trusts it (the configuration carries the operator's CA).
 */
export async function startWebhookOperator(admin: KubeClient, suite: string, options: Omit<OperatorOptions, 'webhookPort'>): Promise<OperatorProcess> {
  const webhookPort = await freePort();
  const operator = await startOperator({
    ...options,
    webhookPort,
    config: { webhook: webhookConfig(suite, `https://127.0.0.1:${webhookPort}`), ...options.config },
  });
  await eventually(async () => {
    const v = await admin.get<WebhookConfigurationObject>(webhookConfigurationResources.validating, undefined, `roster-test-${suite}`);
    expect(v.webhooks[0]?.clientConfig.caBundle).toBeTruthy();
  }, 30_000);
  return operator;
}

export async function removeWebhook(admin: KubeClient, suite: string): Promise<void> {
  await deleteWebhookConfigurations(admin, `roster-test-${suite}`);
}

/** Round-robin TCP balancer on loopback (what a Service does for the replicas). */
export class RoundRobin {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private next = 0;
  readonly connections: number[];
  port = 0;

  constructor(targets: number[]) {
    this.connections = targets.map(() => 0);
    this.server = createServer((client) => {
      const index = this.next++ % targets.length;
      this.connections[index]!++;
      const upstream = connect(targets[index]!, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
