// One cluster for the whole integration run; each test file works in namespaces of its own.
// Files that must own a control plane (restarting the API server, say) start their own.
import type { TestProject } from 'vitest/node';
import { startTestCluster, type TestCluster } from './cluster.ts';

let cluster: TestCluster | undefined;

export async function setup(project: TestProject): Promise<void> {
  cluster = await startTestCluster();
  project.provide('kubeconfigPath', cluster.kubeconfigPath);
}

export async function teardown(): Promise<void> {
  await cluster?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfigPath: string;
  }
}
