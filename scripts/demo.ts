// `make demo` / `npm run demo`: the whole thing on one machine — a local control plane, a
// mail catcher with a web page (MailDev), the operator as a real process, and the examples
// applied. The operator registers its admission webhook (as the chart does in a cluster), so
// the seat limit, one owner and actor stamping hold here too. Waits until everything
// settled, shows the webhook deny two changes, prints where to look, and runs until Ctrl-C.
//
//   --exit-when-settled   stop everything once settled (the demo's own test uses this)
//   --dir DIR             keep state in DIR instead of .roster/demo (tests: a temp dir, so a
//                         demo someone runs from this checkout is left alone)
//   --free-ports          any free ports, not the memorable 1025/1080/8080/8081 first
//   --accept-owner        accept Liam's (the owner's) invitation for you, so the access key
//                         (examples/workflows/) is made at once; without it, the demo makes the
//                         key as soon as you accept his invitation from the mail catcher
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { binary, freePort, operatorServiceAccountKubeconfig, projectRoot, startControlPlane } from '../controlplane/harness.ts';
import { CREATED_BY } from '../src/audit/actor.ts';
import { VALIDATING_WEBHOOK } from '../src/admission/registration.ts';
import { resources, type Invitation, type Membership, type Team } from '../src/api/index.ts';
import type { KubeClient, KubeObject } from '../src/runtime/kube-client.ts';

const { values } = parseArgs({
  options: {
    'exit-when-settled': { type: 'boolean', default: false },
    dir: { type: 'string' },
    'free-ports': { type: 'boolean', default: false },
    'accept-owner': { type: 'boolean', default: false },
  },
});
const dir = values.dir ? resolve(values.dir) : join(projectRoot, '.roster', 'demo');
mkdirSync(dir, { recursive: true });
// Its own kubeconfig, not .roster/kubeconfig: that one belongs to `npm run cluster:up`.
const kubeconfigPath = join(dir, 'kubeconfig');
const operatorNamespace = 'roster-system';
const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const step = (text: string) => console.log(`\n==> ${text}`);

const OWNER = 'liam@acme.com';

/** Accepts the owner's invitation through its link, as Liam would from the mail. */
async function acceptOwner(mailUrl: string): Promise<void> {
  const mails = (await (await fetch(`${mailUrl}/api/email`)).json()) as Array<{ to?: Array<{ address?: string }>; text?: string }>;
  const mail = mails.find((m) => (m.to ?? []).some((t) => t.address === OWNER));
  const link = mail?.text?.match(/https?:\/\/[^\s]+\/invite\/[A-Za-z0-9_-]+/)?.[0];
  if (!link) throw new Error(`no invitation mail for ${OWNER} in the mail catcher`);
  const res = await fetch(link, { method: 'POST' });
  if (res.status !== 200) throw new Error(`accepting ${OWNER}'s invitation answered ${res.status}`);
  console.log(`    accepted ${OWNER}'s invitation (--accept-owner)`);
}

/**
 * Once the owner is Active, the owner creates the example access key (as himself: the webhook
 * stamps spec.owner from the request) and the demo shows it Active. Its expiry is set 30 days
 * ahead here, so the example never ages out of the 90-day limit.
 */
async function showAccessKey(client: KubeClient, kubectlAs: (input: string, ...args: string[]) => string, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  const ownerActive = async () => (await client.get<Team>(resources.team, 'acme', 'acme')).status?.owner?.phase === 'Active';
  while (!(await ownerActive())) {
    if (Date.now() > deadline) return false;
    await sleep(1_000);
  }
  step(`${OWNER} is Active: he creates the access key examples/workflows/ci-deploy-key.yaml`);
  const expiresAt = new Date(Date.now() + 30 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const manifest = readFileSync(join(projectRoot, 'examples', 'workflows', 'ci-deploy-key.yaml'), 'utf8').replace(
    /expiresAt: "[^"]*"/,
    `expiresAt: "${expiresAt}"`,
  );
  console.log(kubectlAs(manifest, 'apply', '-f', '-', `--as=${OWNER}`).trimEnd().replace(/^/gm, '    '));
  const keyDeadline = Date.now() + 60_000;
  for (;;) {
    const key = await client.find<KubeObject & { status?: { phase?: string } }>(resources.accessKey, 'acme', 'ci-deploy');
    if (key?.status?.phase === 'Active') break;
    if (Date.now() > keyDeadline) throw new Error(`access key ci-deploy did not become Active (phase ${key?.status?.phase ?? 'none'})`);
    await sleep(500);
  }
  console.log(`\n${kubectlAs('', 'get', 'accesskeys', '-n', 'acme')}`);
  console.log(`    mint a token for it: kubectl roster key token ci-deploy -n acme --as ${OWNER}`);
  return true;
}

async function portOr(preferred: number): Promise<number> {
  if (values['free-ports']) return await freePort();
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
  const done =
    teams.length > 0 &&
    teamsDone.length === teams.length &&
    membersDone.length === memberships.length &&
    invitations.length > 0 &&
    delivered.length === invitations.length;
  return { done, summary };
}

/** kubectl with the demo's (admin) kubeconfig; never throws, for commands expected to be denied. */
function kubectlResult(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(binary('kubectl'), ['--kubeconfig', kubeconfigPath, ...args], { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** The API server picks up a new webhook configuration a moment after it is written: wait until it calls ours. */
async function waitForWebhook(): Promise<void> {
  const probe = `apiVersion: roster.dev/v1alpha1
kind: Project
metadata: { name: webhook-probe, namespace: default }
spec: { team: no-such-team, environments: [{ name: production, namespace: no-such-namespace }] }
`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = kubectlResult(['create', '--dry-run=server', '-f', '-'], probe);
    if (r.stderr.includes(`admission webhook "${VALIDATING_WEBHOOK}"`)) return;
    if (Date.now() > deadline)
      throw new Error(`the API server does not call the admission webhook: ${(r.stderr || r.stdout).trim()}; see ${join(dir, 'operator.log')}`);
    await sleep(250);
  }
}

/** Two changes the webhook refuses (server-side dry runs: the real rules answer, nothing changes). */
function showDenials(): void {
  const secondOwner = `apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: liam, namespace: acme }
spec: { team: acme, email: liam@acme.com, role: admin }
`;
  const denials = [
    { what: 'a Membership for the owner of acme', run: () => kubectlResult(['create', '--dry-run=server', '-f', '-'], secondOwner) },
    {
      what: 'globex (3 seats) cut to 1 seat',
      run: () => kubectlResult(['patch', 'team', 'globex', '-n', 'globex', '--type', 'merge', '-p', '{"spec":{"seats":1}}', '--dry-run=server']),
    },
  ];
  for (const { what, run } of denials) {
    const r = run();
    if (r.status === 0) throw new Error(`the webhook admitted ${what}: ${r.stdout.trim()}`);
    console.log(`    ${what}:\n      ${r.stderr.trim()}`);
  }
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
  startProcess('maildev', join(projectRoot, 'node_modules', '.bin', 'maildev'), [
    '--smtp',
    String(smtpPort),
    '--web',
    String(mailWebPort),
    '--ip',
    '127.0.0.1',
    '--web-ip',
    '127.0.0.1',
  ]);
  const mailUrl = `http://127.0.0.1:${mailWebPort}`;
  await waitForHttp(`${mailUrl}/api/healthz`, 'MailDev');
  console.log(`    mails at ${mailUrl}`);

  step('starting the operator (with its admission webhook registered)');
  // The operator's own identity, as in a cluster; a week's token: longer than anyone keeps a demo running.
  const operatorKubeconfigPath = await operatorServiceAccountKubeconfig(cp, {
    namespace: operatorNamespace,
    bindingName: 'roster-demo-operator',
    expirationSeconds: 7 * 24 * 3600,
  });
  const acceptPort = await portOr(8081);
  const probesPort = await portOr(8080);
  const publicUrl = `http://127.0.0.1:${acceptPort}`;
  const webhookPort = await freePort();
  const configPath = join(dir, 'operator.yaml');
  writeFileSync(
    configPath,
    stringify({
      kubeconfig: operatorKubeconfigPath,
      namespace: operatorNamespace,
      publicUrl,
      server: { host: '127.0.0.1', acceptPort, probesPort, webhookPort },
      // The API server calls the webhook by URL, as envtest does (a cluster uses the chart's Service).
      webhook: { register: { enabled: true, url: `https://127.0.0.1:${webhookPort}` } },
      mail: {
        backend: 'smtp',
        from: 'Roster demo <roster@demo.local>',
        allowedSenderDomains: ['demo.local', 'acme.com'],
        smtp: { host: '127.0.0.1', port: smtpPort, pool: false, allowInsecure: true },
      }, // MailDev on loopback speaks plain SMTP; examples/ sends as acme.com
    }),
  );
  startProcess('operator', process.execPath, [join(projectRoot, 'src', 'main.ts'), '--config', configPath]);
  await waitForHttp(`http://127.0.0.1:${probesPort}/readyz`, 'the operator');
  await waitForWebhook();
  console.log(`    accept page at ${publicUrl}, metrics at http://127.0.0.1:${probesPort}/metrics, admission webhook at https://127.0.0.1:${webhookPort}`);

  step('applying examples/teams/');
  const kubectl = (...args: string[]) => execFileSync(binary('kubectl'), ['--kubeconfig', kubeconfigPath, ...args], { encoding: 'utf8' });
  // examples/workflows/ (an access key) waits for a person: a key is created by its owner, once Active (showAccessKey).
  console.log(
    kubectl('apply', '-R', '-f', join(projectRoot, 'examples', 'teams'))
      .trimEnd()
      .replace(/^/gm, '    '),
  );

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

  step('the admission webhook at work');
  const riley = await cp.client.get<Membership>(resources.membership, 'acme', 'riley');
  console.log(
    `    Membership riley was created by ${riley.metadata.annotations?.[CREATED_BY] ?? '(nobody: the webhook did not stamp it)'} (annotation ${CREATED_BY})`,
  );
  showDenials();
  console.log(`The demo is running.

  Invitation mails (with their accept links):  ${mailUrl}
  Accept page:                                  ${publicUrl}/invite/<token from a mail>
  Operator log:                                 ${join(dir, 'operator.log')}

In another terminal:
  export KUBECONFIG=${kubeconfigPath}
  export PATH=${join(projectRoot, 'bin')}:${join(projectRoot, '.roster', 'bin')}:$PATH
  kubectl get roster -A
  kubectl roster members acme -n acme
  kubectl get membership riley -n acme -o yaml
  kubectl auth can-i update deployments -n shop-staging --as riley@acme.com   # yes, once Riley accepts

An access key: accept Liam's (the owner's) invitation in the mail catcher and the demo
creates examples/workflows/ci-deploy-key.yaml as him (or start it with -- --accept-owner):
  kubectl get accesskeys -n acme
  kubectl roster can-i key/ci-deploy update deployments -n shop-staging
  kubectl roster key token ci-deploy -n acme --as liam@acme.com

Press Ctrl-C to stop everything.`);
  const kubectlAs = (input: string, ...args: string[]) =>
    execFileSync(binary('kubectl'), ['--kubeconfig', kubeconfigPath, ...args], { encoding: 'utf8', ...(input ? { input } : {}) });
  if (values['accept-owner']) {
    await acceptOwner(mailUrl);
    if (!(await showAccessKey(cp.client, kubectlAs, 60_000))) throw new Error(`${OWNER} did not become Active after accepting`);
  } else if (!values['exit-when-settled']) {
    // Waits for you to accept Liam's invitation in the mail catcher, then shows the key.
    void showAccessKey(cp.client, kubectlAs, 24 * 3_600_000).catch((e: unknown) =>
      console.error(`    access key: ${e instanceof Error ? e.message : String(e)}`),
    );
  }
  if (values['exit-when-settled']) await stopAll(0);
  setInterval(() => {}, 1 << 30);
} catch (e) {
  console.error(`\ndemo failed: ${e instanceof Error ? e.message : String(e)}`);
  await stopAll(1);
}
