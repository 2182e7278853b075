// `make demo` / `npm run demo`: the whole thing on one machine — a local control plane, a
// mail catcher with a web page (MailDev), the operator as a real process, and the examples
// applied. Waits until everything settled, prints where to look, and runs until Ctrl-C.
//
//   --exit-when-settled   stop everything once settled (the demo's own test uses this)
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { binary, freePort, projectRoot, startControlPlane } from '../controlplane/harness.ts';
import { resources, type Invitation, type Membership, type Team } from '../src/api/index.ts';
import type { KubeClient } from '../src/runtime/kube-client.ts';

const { values } = parseArgs({ options: { 'exit-when-settled': { type: 'boolean', default: false } } });
const dir = join(projectRoot, '.roster', 'demo');
mkdirSync(dir, { recursive: true });
const kubeconfigPath = join(projectRoot, '.roster', 'kubeconfig');
const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const step = (text: string) => console.log(`\n==> ${text}`);

async function portOr(preferred: number): Promise<number> {
  const { createServer } = await import('node:net');
  return await new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => void freePort().then(resolve));
    server.listen(preferred, '127.0.0.1', () => server.close(() => resolve(preferred)));
  });
}

function startProcess(name: string, command: string, args: string[]): ChildProcess {
  const log = openSync(join(dir, `${name}.log`), 'w');
  const child = spawn(command, args, { stdio: ['ignore', log, log], cwd: projectRoot });
  closeSync(log);
  children.push(child);
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`${name} exited (${code ?? signal}); see ${join(dir, `${name}.log`)}`);
  });
  return child;
}

async function waitForHttp(url: string, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await sleep(250);
  }
  throw new Error(`${what} did not come up at ${url}`);
}

let stopping = false;
let stopControlPlane: (() => Promise<void>) | undefined;
async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log('\nstopping the operator, the mail catcher and the control plane…');
    for (const child of children.reverse()) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(10_000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
    await stopControlPlane?.();
    console.log('stopped.');
  }
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

async function settled(client: KubeClient): Promise<{ done: boolean; summary: string }> {
  const teams = (await client.list<Team>(resources.team)).items;
  const memberships = (await client.list<Membership>(resources.membership)).items;
  const invitations = (await client.list<Invitation>(resources.invitation)).items;
  const delivered = invitations.filter((i) => i.status?.conditions?.some((c) => c.type === 'Delivered' && c.status === 'True'));
  const membersDone = memberships.filter((m) => m.status?.phase && m.status.observedGeneration === m.metadata.generation);
  const teamsDone = teams.filter((t) => t.status?.observedGeneration === t.metadata.generation && t.status?.owner?.invitation);
  const summary = `teams ${teamsDone.length}/${teams.length}, memberships ${membersDone.length}/${memberships.length}, invitations mailed ${delivered.length}/${invitations.length}`;
  const done = teams.length > 0 && teamsDone.length === teams.length && membersDone.length === memberships.length && invitations.length > 0 && delivered.length === invitations.length;
  return { done, summary };
}

try {
  if (!existsSync(binary('kube-apiserver'))) throw new Error('run `make demo` (it builds the control plane first)');
  step('starting the local control plane (etcd, kube-apiserver, kube-controller-manager)');
  const cp = await startControlPlane({ kubeconfigPath, directory: join(dir, 'control-plane') });
  stopControlPlane = () => cp.stop();
  console.log(`    API server at ${cp.server}`);

  step('starting the mail catcher (MailDev)');
  const smtpPort = await portOr(1025);
  const mailWebPort = await portOr(1080);
  startProcess('maildev', join(projectRoot, 'node_modules', '.bin', 'maildev'), ['--smtp', String(smtpPort), '--web', String(mailWebPort), '--ip', '127.0.0.1', '--web-ip', '127.0.0.1']);
  const mailUrl = `http://127.0.0.1:${mailWebPort}`;
  await waitForHttp(`${mailUrl}/api/healthz`, 'MailDev');
  console.log(`    mails at ${mailUrl}`);

  step('starting the operator');
  const acceptPort = await portOr(8081);
  const probesPort = await portOr(8080);
  const publicUrl = `http://127.0.0.1:${acceptPort}`;
  const configPath = join(dir, 'operator.yaml');
  writeFileSync(
    configPath,
    stringify({
      kubeconfig: kubeconfigPath,
      namespace: 'default',
      publicUrl,
      server: { host: '127.0.0.1', acceptPort, probesPort, webhookPort: await freePort() },
      mail: { backend: 'smtp', from: 'Roster demo <roster@demo.local>', smtp: { host: '127.0.0.1', port: smtpPort, pool: false } },
    }),
  );
  startProcess('operator', process.execPath, [join(projectRoot, 'src', 'main.ts'), '--config', configPath]);
  await waitForHttp(`http://127.0.0.1:${probesPort}/readyz`, 'the operator');
  console.log(`    accept page at ${publicUrl}, metrics at http://127.0.0.1:${probesPort}/metrics`);

  step('applying examples/');
  const kubectl = (...args: string[]) => execFileSync(binary('kubectl'), ['--kubeconfig', kubeconfigPath, ...args], { encoding: 'utf8' });
  console.log(kubectl('apply', '-R', '-f', join(projectRoot, 'examples')).trimEnd().replace(/^/gm, '    '));

  step('waiting for the operator to invite everyone');
  let last = '';
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { done, summary } = await settled(cp.client);
    if (summary !== last) console.log(`    ${summary}`);
    last = summary;
    if (done) break;
    if (Date.now() > deadline) throw new Error(`the examples did not settle: ${summary}; see ${join(dir, 'operator.log')}`);
    await sleep(500);
  }
  const mails = (await (await fetch(`${mailUrl}/api/email`)).json()) as unknown[] | { emails?: unknown[] };
  const mailCount = Array.isArray(mails) ? mails.length : (mails.emails?.length ?? 0);
  console.log(`    the mail catcher holds ${mailCount} invitation mails`);
  console.log(`\n${kubectl('get', 'roster', '-A')}`);
  console.log(`The demo is running.

  Invitation mails (with their accept links):  ${mailUrl}
  Accept page:                                  ${publicUrl}/invite/<token from a mail>
  Operator log:                                 ${join(dir, 'operator.log')}

In another terminal:
  export KUBECONFIG=${kubeconfigPath}
  export PATH=${join(projectRoot, '.roster', 'bin')}:$PATH
  kubectl get roster -A
  kubectl get membership riley -n acme -o yaml
  kubectl auth can-i update deployments -n shop-staging --as riley@acme.com   # yes, once Riley accepts

Press Ctrl-C to stop everything.`);
  if (values['exit-when-settled']) await stopAll(0);
  setInterval(() => {}, 1 << 30);
} catch (e) {
  console.error(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`);
  await stopAll(1);
}
