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
import type { Membership, Team } from '../../../src/api/generated.ts';

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
    // options.config.webhook adds to the suite's webhook settings (seatReservationSeconds, …).
    config: { ...options.config, webhook: { ...webhookConfig(suite, `https://127.0.0.1:${webhookPort}`), ...(options.config?.webhook as object | undefined) } },
  });
  // Both configurations: the operator writes the validating one first, the mutating one after.
  await eventually(async () => {
    for (const ref of [webhookConfigurationResources.validating, webhookConfigurationResources.mutating]) {
      const config = await admin.find<WebhookConfigurationObject>(ref, undefined, `roster-test-${suite}`);
      expect(config?.webhooks[0]?.clientConfig.caBundle, ref.plural).toBeTruthy();
    }
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

/** Operator replicas sharing one Lease, behind a RoundRobin that plays their Service (the webhook is registered at it). */
export async function startReplicas(kubeconfigPath: string, suite: string, count = 2): Promise<{ replicas: OperatorProcess[]; stop(): Promise<void> }> {
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  const balancer = new RoundRobin(ports);
  const url = `https://127.0.0.1:${await balancer.start()}`;
  const config = {
    webhook: webhookConfig(suite, url),
    leaderElection: { leaseName: `roster-adm-${suite}`, leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 0.5 },
  };
  // All at once: they race to create the shared certificate Secret.
  const replicas = await Promise.all(ports.map((webhookPort) => startOperator({ kubeconfigPath, webhookPort, config })));
  return {
    replicas,
    async stop() {
      await Promise.all(replicas.map((r) => r.kill('SIGTERM')));
      await balancer.stop();
    },
  };
}

/** Polls what `kubectl` shows of a team's seats (its Memberships, its status) until stopped: the most ever seen. */
export function observeSeats(admin: KubeClient, namespace: string, team: string): { stop(): Promise<{ maxInUse: number; observations: number }> } {
  let running = true;
  const seen = { maxInUse: 0, observations: 0 };
  const loop = (async () => {
    while (running) {
      const [list, t] = await Promise.all([admin.list<Membership>(resources.membership, namespace), admin.get<Team>(resources.team, namespace, team)]);
      const inUse = 1 + list.items.filter((m) => !m.metadata.deletionTimestamp).length;
      seen.maxInUse = Math.max(seen.maxInUse, inUse, Number(t.status?.seats?.summary?.split('/')[0] ?? 0));
      seen.observations++;
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}
