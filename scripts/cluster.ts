// `npm run cluster:up` starts the local control plane in the background and prints how to
// use it; `npm run cluster:down` stops it and removes its state.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../controlplane/harness.ts';

const dir = join(projectRoot, '.roster', 'cluster');
const pidFile = join(dir, 'pid');
const readyFile = join(dir, 'ready');
const logFile = join(dir, 'serve.log');
const kubeconfig = join(projectRoot, '.roster', 'kubeconfig');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function runningPid(): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

function usage(): void {
  const kubectl = join('.roster', 'bin', 'kubectl');
  console.log(`
The local control plane is running (${readFileSync(readyFile, 'utf8').trim()}).

  export KUBECONFIG=$PWD/.roster/kubeconfig
  ${kubectl} apply -R -f examples/
  ${kubectl} get roster -A

Stop it with: npm run cluster:down`);
}

async function up(): Promise<void> {
  if (runningPid() && existsSync(readyFile)) {
    usage();
    return;
  }
  mkdirSync(dir, { recursive: true });
  rmSync(readyFile, { force: true });
  const log = openSync(logFile, 'w');
  const child = spawn(process.execPath, [join(projectRoot, 'controlplane', 'serve.ts')], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  writeFileSync(pidFile, String(child.pid));
  child.unref();
  process.stdout.write('starting etcd, kube-apiserver and kube-controller-manager');
  const deadline = Date.now() + 180_000;
  while (!existsSync(readyFile)) {
    if (!child.pid || !alive(child.pid) || Date.now() > deadline) {
      console.error(`\nthe control plane did not start; see ${logFile}:\n${readFileSync(logFile, 'utf8')}`);
      process.exit(1);
    }
    process.stdout.write('.');
    await sleep(500);
  }
  console.log(' ready');
  usage();
}

async function down(): Promise<void> {
  const pid = runningPid();
  if (pid) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (alive(pid) && Date.now() < deadline) await sleep(200);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(kubeconfig, { force: true });
  console.log(pid ? 'stopped the local control plane' : 'no local control plane was running');
}

const command = process.argv[2];
if (command === 'up') await up();
else if (command === 'down') await down();
else {
  console.error('usage: node scripts/cluster.ts up|down');
  process.exit(2);
}
