// `make demo` / `npm run demo`: a local control plane with the examples applied, running
// until Ctrl-C. (It grows with the operator and the mail catcher.)
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { binary, projectRoot, startControlPlane } from '../controlplane/harness.ts';

const kubeconfigPath = join(projectRoot, '.roster', 'kubeconfig');
console.log('starting the local control plane (etcd, kube-apiserver, kube-controller-manager)…');
const cp = await startControlPlane({ kubeconfigPath });
const kubectl = (...args: string[]) =>
  execFileSync(binary('kubectl'), ['--kubeconfig', kubeconfigPath, ...args], { encoding: 'utf8' });

console.log(kubectl('apply', '-R', '-f', join(projectRoot, 'examples')));
console.log(kubectl('get', 'roster', '-A'));
console.log(`The demo is running. In another terminal:

  export KUBECONFIG=${kubeconfigPath}
  ${binary('kubectl')} get roster -A
  ${binary('kubectl')} explain membership.spec

Press Ctrl-C to stop.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping…');
  await cp.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
setInterval(() => {}, 1 << 30);
