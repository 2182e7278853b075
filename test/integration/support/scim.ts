// A real SCIM 2.0 service provider for tests: scim2-server from PyPI (installed by
// scripts/setup-identity-servers.sh into .roster/scim-venv), on a free loopback port, with a
// bearer token. Clients reach it through a small HTTP front on its own port, which lets a test
// take the provider "down" (halt: the port refuses connections; the provider keeps its data,
// as a real one's storage would — scim2-server keeps everything in memory) and inject faults
// into single responses (a 503, a truncated page).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, projectRoot } from '../../../controlplane/harness.ts';
import { eventually } from './eventually.ts';
import { startHttpFront, type HttpExchange, type HttpFault } from './http-front.ts';

export interface TestScimServer {
  /** The SCIM base URL clients use (through the front). */
  readonly baseUrl: string;
  /** The provider itself, bypassing the front (for checks while the front is down). */
  readonly directUrl: string;
  readonly token: string;
  readonly tokenFile: string;
  /** Every request that went through the front. */
  readonly requests: HttpExchange[];
  setFault(fault: HttpFault | undefined): void;
  /** An authenticated request straight to the provider. */
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  halt(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export interface ScimServerOptions {
  /** Replaces the ServiceProviderConfig (e.g. to turn PATCH off). */
  serviceProviderConfig?: Record<string, unknown>;
}

export const SCIM_SERVER = join(projectRoot, '.roster', 'scim-venv', 'bin', 'scim2-server');
const running = new Set<ChildProcess>();
process.on('exit', () => running.forEach((c) => c.kill('SIGKILL')));

export function scimAvailable(): boolean {
  return existsSync(SCIM_SERVER);
}

export async function startScimServer(options: ScimServerOptions = {}): Promise<TestScimServer> {
  if (!scimAvailable()) throw new Error('scim2-server is not installed: run scripts/setup-identity-servers.sh');
  const dir = mkdtempSync(join(tmpdir(), 'roster-scim-'));
  const token = `scim-test-${Math.random().toString(36).slice(2)}`;
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const upstreamPort = await freePort();
  const args = ['--hostname', '127.0.0.1', '--port', String(upstreamPort), '--bearer-token', token];
  if (options.serviceProviderConfig) {
    const spcPath = join(dir, 'spc.json');
    writeFileSync(spcPath, JSON.stringify(options.serviceProviderConfig));
    args.push('--service-provider-config', spcPath);
  }
  const child = spawn(SCIM_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  const directUrl = `http://127.0.0.1:${upstreamPort}/v2`;
  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${directUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`scim2-server exited with ${child.exitCode}: ${stderr}`);
        const res = await api('GET', '/ServiceProviderConfig');
        if (res.status !== 200) throw new Error(`ServiceProviderConfig answered ${res.status}`);
      },
      30_000,
      200,
    );
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }

  const front = await startHttpFront(upstreamPort);

  return {
    baseUrl: `${front.url}/v2`,
    directUrl,
    token,
    tokenFile,
    requests: front.requests,
    setFault: (f) => front.setFault(f),
    api,
    halt: () => front.halt(),
    resume: () => front.resume(),
    async stop() {
      await front.stop();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
