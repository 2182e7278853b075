// Which cluster the integration tests run against:
//   (default)                     a local etcd + kube-apiserver (+ controller-manager) built by controlplane/build.sh
//   ROSTER_TEST_CLUSTER=existing  the cluster of the current KUBECONFIG
//   ROSTER_TEST_CLUSTER=k3s       a k3s container through @testcontainers/k3s (needs Docker)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { installCrds, startControlPlane } from '../../controlplane/harness.ts';
import { KubeClient } from '../../src/runtime/kube-client.ts';

export interface TestCluster {
  kubeconfigPath: string;
  stop(): Promise<void>;
}

export type ClusterKind = 'local' | 'existing' | 'k3s';

export function clusterKind(): ClusterKind {
  const kind = process.env.ROSTER_TEST_CLUSTER ?? 'local';
  if (kind !== 'local' && kind !== 'existing' && kind !== 'k3s') {
    throw new Error(`ROSTER_TEST_CLUSTER=${kind}: expected local, existing or k3s`);
  }
  return kind;
}

export async function startTestCluster(): Promise<TestCluster> {
  switch (clusterKind()) {
    case 'local': {
      const cp = await startControlPlane();
      return { kubeconfigPath: cp.kubeconfigPath, stop: () => cp.stop() };
    }
    case 'existing': {
      const kc = new KubeConfig();
      kc.loadFromDefault();
      const dir = mkdtempSync(join(tmpdir(), 'roster-existing-'));
      const kubeconfigPath = join(dir, 'kubeconfig');
      writeFileSync(kubeconfigPath, kc.exportConfig(), { mode: 0o600 });
      const client = new KubeClient(kc);
      await installCrds(client);
      client.close();
      return { kubeconfigPath, stop: async () => {} };
    }
    case 'k3s': {
      const { K3sContainer } = await import('@testcontainers/k3s');
      const container = await new K3sContainer('rancher/k3s:v1.35.4-k3s1').start();
      const dir = mkdtempSync(join(tmpdir(), 'roster-k3s-'));
      const kubeconfigPath = join(dir, 'kubeconfig');
      writeFileSync(kubeconfigPath, container.getKubeConfig(), { mode: 0o600 });
      const client = KubeClient.fromFile(kubeconfigPath);
      await installCrds(client);
      client.close();
      return { kubeconfigPath, stop: async () => void (await container.stop()) };
    }
  }
}
