// A control plane for one benchmark run that goes away with the run, also when the run is
// interrupted (Ctrl-C, or bench/run.ts giving up): the signal stops etcd and kube-apiserver
// and removes their state before the process exits.
import { startControlPlane, type ControlPlane, type StartOptions } from '../../controlplane/harness.ts';

export async function startBenchControlPlane(options: StartOptions = {}): Promise<ControlPlane> {
  const cp = await startControlPlane(options);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${signal}: stopping the control plane`);
      void cp.stop().finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
    });
  }
  return cp;
}
