import { defineConfig } from 'vitest/config';

// Two projects: pure unit tests (fast, parallel) and integration tests that start real
// servers (a kube-apiserver + etcd per file, SMTP, identity servers). Integration files run
// one at a time: the machine has two cores and each file owns a whole control plane.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
          globalSetup: ['test/integration/global-setup.ts'],
        },
      },
    ],
  },
});
