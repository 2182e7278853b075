// Runs the operator as a real process (node src/main.ts) against a test cluster, the way
// it runs in production: its own config file, ports, logs and leader election.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, projectRoot } from '../../../controlplane/harness.ts';
import { eventually } from './eventually.ts';

export interface OperatorProcess {
  acceptPort: number;
  probesPort: number;
  webhookPort: number;
  /** The HTTPS metrics port (served only with secureMetrics). */
  metricsPort: number;
  publicUrl: string;
  logPath: string;
  logs(): string;
  /** Sends a signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the same operator again (same config, ports and log file). */
  restart(): Promise<void>;
}

export interface OperatorOptions {
  kubeconfigPath: string;
  /** Extra configuration merged over the defaults below. */
  config?: Record<string, unknown>;
  smtpPort?: number;
  logPath?: string;
  /** Serve the admission webhook on this port (default: a free one). */
  webhookPort?: number;
  /** Serve /metrics over HTTPS with TokenReview + SubjectAccessReview (server.metrics.secure) on metricsPort. */
  secureMetrics?: boolean;
}

const running = new Set<ChildProcess>();
process.on('exit', () => running.forEach((c) => c.kill('SIGKILL')));

export async function startOperator(options: OperatorOptions): Promise<OperatorProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'roster-operator-'));
  const acceptPort = await freePort();
  const probesPort = await freePort();
  const webhookPort = options.webhookPort ?? (await freePort());
  const metricsPort = await freePort();
  const publicUrl = `http://127.0.0.1:${acceptPort}`;
  const config = {
    kubeconfig: options.kubeconfigPath,
    namespace: 'default',
    publicUrl,
    server: { host: '127.0.0.1', acceptPort, probesPort, webhookPort, metrics: { secure: options.secureMetrics === true, port: metricsPort } },
    leaderElection: { leaseName: `roster-test-${acceptPort}`, leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 0.5 },
    log: { level: 'debug' },
    // Off by default here: a test file's cleanup deletes whole namespaces of active members,
    // which the brake would rightly hold. test/integration/removal-brake.test.ts turns it on.
    removalBrake: { enabled: false },
    mail: options.smtpPort
      ? // The test SMTP server on loopback speaks plain SMTP (tests of TLS start their own).
        // Tests resend seconds after the first mail; the resend cooldown has tests of its own
        // (invitation-delivery.test.ts), so it is off here.
        {
          backend: 'smtp',
          from: 'Roster <roster@test.example>',
          resendCooldownSeconds: 0,
          smtp: { host: '127.0.0.1', port: options.smtpPort, pool: false, allowInsecure: true },
        }
      : { backend: 'log', resendCooldownSeconds: 0 },
    ...options.config,
  };
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, stringify(config));
  const logPath = options.logPath ?? join(dir, 'operator.log');
  let child: ChildProcess | undefined;

  const launch = async () => {
    const log = openSync(logPath, 'a');
    child = spawn(process.execPath, [join(projectRoot, 'src', 'main.ts'), '--config', configPath], { stdio: ['ignore', log, log], cwd: projectRoot });
    closeSync(log);
    running.add(child);
    const me = child;
    child.once('exit', () => running.delete(me));
    await eventually(
      async () => {
        if (me.exitCode !== null) throw new Error(`operator exited with ${me.exitCode}:\n${readFileSync(logPath, 'utf8').slice(-3000)}`);
        const res = await fetch(`http://127.0.0.1:${probesPort}/readyz`);
        if (res.status !== 200) throw new Error(await res.text());
      },
      60_000,
      200,
    );
  };
  await launch();

  return {
    acceptPort,
    probesPort,
    webhookPort,
    metricsPort,
    publicUrl,
    logPath,
    logs: () => readFileSync(logPath, 'utf8'),
    async kill(signal = 'SIGTERM') {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((resolve) => c.once('exit', resolve));
      c.kill(signal);
      await exited;
    },
    restart: launch,
  };
}
