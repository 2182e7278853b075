// Runs a local control plane in the foreground until SIGINT/SIGTERM; `npm run cluster:up`
// starts this in the background. Writes the admin kubeconfig to .roster/kubeconfig.
import { rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, startControlPlane } from './harness.ts';

export const clusterDirectory = join(projectRoot, '.roster', 'cluster');
export const kubeconfigPath = join(projectRoot, '.roster', 'kubeconfig');

mkdirSync(clusterDirectory, { recursive: true });
const stateDirectory = join(clusterDirectory, 'state');
rmSync(stateDirectory, { recursive: true, force: true });
const cp = await startControlPlane({ directory: stateDirectory, kubeconfigPath });
writeFileSync(join(clusterDirectory, 'ready'), `${cp.server}\n`);
console.log(`control plane ready at ${cp.server}; kubeconfig ${kubeconfigPath}`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping the control plane`);
  await cp.stop();
  rmSync(join(clusterDirectory, 'ready'), { force: true });
  rmSync(kubeconfigPath, { force: true });
  process.exit(0);
};
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
setInterval(() => {}, 1 << 30);
