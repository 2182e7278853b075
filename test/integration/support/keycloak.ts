// A real Keycloak for tests: the keycloak-quarkus-dist archive from Maven Central (unpacked by
// scripts/setup-identity-servers.sh into .roster/keycloak/current), `start-dev` on loopback with
// an H2 file database in a temporary directory (so halt()/resume() keep the data), a capped
// heap, the bootstrap admin from KC_BOOTSTRAP_ADMIN_*, and a Java 21+ runtime (Keycloak 26
// needs it; the Temurin 25 JDK when the default java is older). start() also creates a test
// realm through the admin API with its SMTP server pointing at the given test SMTP port.
// Keycloak is heavy: start it once per test file, and stop it in afterAll.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import KcAdminClient from '@keycloak/keycloak-admin-client';
import { freePort, projectRoot } from '../../../controlplane/harness.ts';
import { startHttpFront, type HttpFront } from './http-front.ts';

export const KEYCLOAK_HOME = join(projectRoot, '.roster', 'keycloak', 'current');
const TEMURIN = '/usr/lib/jvm/temurin-25-jdk-amd64';

export interface TestKeycloak {
  readonly url: string;
  /** A fault-injecting front of the same Keycloak (see http-front.ts). */
  readonly front: HttpFront;
  readonly realm: string;
  readonly adminUser: string;
  readonly adminPassword: string;
  /** The admin password in a file (a mounted Secret) for the backend under test. */
  readonly adminPasswordFile: string;
  /** An admin client for the test realm, authenticated as the bootstrap admin (fresh token each call). */
  admin(): Promise<KcAdminClient>;
  logs(): string;
  halt(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export interface KeycloakOptions {
  /** The test SMTP server the realm sends mail through. */
  smtpPort: number;
  realm?: string;
  /** How long to wait for Keycloak to become ready. Default 300 s (the first start also builds Keycloak's optimized image). */
  startupTimeoutMs?: number;
}

const running = new Set<ChildProcess>();
process.on('exit', () => running.forEach((c) => killTree(c, 'SIGKILL')));

function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  // kc.sh execs java, but kill the process group too in case a shell stays in between.
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

function javaMajor(javaHome: string | undefined): number {
  const java = javaHome ? join(javaHome, 'bin', 'java') : 'java';
  const out = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const match = /version "(\d+)/.exec(`${out.stderr}${out.stdout}`);
  return match ? Number(match[1]) : 0;
}

/** A JAVA_HOME with Java 21 or newer. */
export function keycloakJavaHome(): string | undefined {
  if (process.env.JAVA_HOME && javaMajor(process.env.JAVA_HOME) >= 21) return process.env.JAVA_HOME;
  if (javaMajor(undefined) >= 21) return undefined; // the java on PATH will do
  return existsSync(join(TEMURIN, 'bin', 'java')) ? TEMURIN : undefined;
}

export function keycloakAvailable(): boolean {
  return existsSync(join(KEYCLOAK_HOME, 'bin', 'kc.sh'));
}

export async function startKeycloak(options: KeycloakOptions): Promise<TestKeycloak> {
  if (!keycloakAvailable()) throw new Error('Keycloak is not installed: run scripts/setup-identity-servers.sh');
  const dir = mkdtempSync(join(tmpdir(), 'roster-keycloak-'));
  const httpPort = await freePort();
  const managementPort = await freePort();
  const url = `http://127.0.0.1:${httpPort}`;
  const adminUser = 'roster-admin';
  const adminPassword = `kc-${Math.random().toString(36).slice(2)}`;
  const adminPasswordFile = join(dir, 'admin-password');
  writeFileSync(adminPasswordFile, `${adminPassword}\n`, { mode: 0o600 });
  const realm = options.realm ?? 'roster-test';
  const logPath = join(dir, 'keycloak.log');
  const javaHome = keycloakJavaHome();
  let child: ChildProcess | undefined;

  const launch = async () => {
    writeFileSync(logPath, '', { flag: 'a' });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KC_BOOTSTRAP_ADMIN_USERNAME: adminUser,
      KC_BOOTSTRAP_ADMIN_PASSWORD: adminPassword,
      JAVA_OPTS_KC_HEAP: '-Xms64m -Xmx512m -XX:MaxMetaspaceSize=256m',
      ...(javaHome ? { JAVA_HOME: javaHome, PATH: `${join(javaHome, 'bin')}:${process.env.PATH ?? ''}` } : {}),
    };
    const args = [
      'start-dev',
      '--db=dev-file',
      `--db-url=jdbc:h2:file:${join(dir, 'db', 'keycloakdb')};NON_KEYWORDS=VALUE`,
      '--http-host=127.0.0.1',
      `--http-port=${httpPort}`,
      `--http-management-port=${managementPort}`,
      '--health-enabled=true',
      '--log-level=warn,org.keycloak.services:info,io.quarkus:info',
    ];
    const log = openSync(logPath, 'a');
    const proc = spawn(join(KEYCLOAK_HOME, 'bin', 'kc.sh'), args, { env, cwd: dir, stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    child = proc;
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    const deadline = Date.now() + (options.startupTimeoutMs ?? 300_000);
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`Keycloak exited with ${proc.exitCode}:\n${readFileSync(logPath, 'utf8').slice(-4000)}`);
      try {
        const res = await fetch(`http://127.0.0.1:${managementPort}/health/ready`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) {
        killTree(proc, 'SIGKILL');
        throw new Error(`Keycloak was not ready within ${(options.startupTimeoutMs ?? 300_000) / 1000} s:\n${readFileSync(logPath, 'utf8').slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  const halt = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    killTree(proc, 'SIGTERM');
    const timer = setTimeout(() => killTree(proc, 'SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  const admin = async (realmName = realm) => {
    const kc = new KcAdminClient({ baseUrl: url, realmName: 'master', timeout: 30_000 });
    await kc.auth({ grantType: 'password', clientId: 'admin-cli', username: adminUser, password: adminPassword });
    kc.setConfig({ realmName });
    return kc;
  };

  try {
    await launch();
    const kc = await admin('master');
    await kc.realms.create({
      realm,
      enabled: true,
      // Keycloak mails through the test SMTP server (no TLS, no auth on loopback).
      smtpServer: {
        host: '127.0.0.1',
        port: String(options.smtpPort),
        from: 'keycloak@roster.test',
        fromDisplayName: 'Keycloak',
        auth: 'false',
        ssl: 'false',
        starttls: 'false',
      },
      // Direct grants let a test log a user in (and create a session) with a password.
      accessTokenLifespan: 300,
    });
  } catch (e) {
    await halt();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  const front = await startHttpFront(httpPort);

  return {
    url,
    front,
    realm,
    adminUser,
    adminPassword,
    adminPasswordFile,
    admin: () => admin(),
    logs: () => readFileSync(logPath, 'utf8'),
    halt,
    resume: launch,
    async stop() {
      await front.stop();
      await halt();
      if (process.env.ROSTER_KEEP_TEST_DIRS) console.log(`Keycloak files kept in ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}
