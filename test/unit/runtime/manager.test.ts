// The manager's runnables (controller-runtime's mgr.Add): the order they start and stop in,
// what happens when one fails to start, and the timed shutdown log. No informers and no
// leader election here, so nothing talks to an API server; the probes are a real HTTP
// server on a free port. test/integration/runtime/manager.test.ts runs them beside real
// controllers.
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../src/runtime/kube-client.ts';
import { Manager, type ManagerOptions, type Runnable } from '../../../src/runtime/manager.ts';

function unreachableClient(): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'none', server: 'https://127.0.0.1:9' }],
    users: [{ name: 'none' }],
    contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
    currentContext: 'none',
  });
  return new KubeClient(kc);
}

const managers: Manager[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop().catch(() => undefined)));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function setup(options: Partial<ManagerOptions> = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  const manager = new Manager({ client: unreachableClient(), logger: pino({ level: 'debug' }, sink), ...options });
  managers.push(manager);
  const calls: string[] = [];
  const signals = new Map<string, AbortSignal>();
  const runnable = (name: string, extra: Partial<Runnable> = {}, behaviour: { failStart?: boolean; failStop?: boolean } = {}): Runnable => ({
    name,
    ...extra,
    start: async (signal) => {
      calls.push(`start ${name}${manager.health.port ? ' (probes up)' : ''}`);
      signals.set(name, signal);
      if (behaviour.failStart) throw new Error('port 8443 is in use');
    },
    stop: async () => {
      calls.push(`stop ${name}${signals.get(name)?.aborted ? ' (signal aborted)' : ''}`);
      if (behaviour.failStop) throw new Error(`${name} would not close`);
    },
  });
  return { manager, calls, lines, runnable };
}

describe('Manager runnables', () => {
  it('starts servers before the caches and the probes, the rest after, leader-only ones last; stops them in reverse after the controllers', async () => {
    const { manager, calls, runnable } = setup({ probes: { port: 0, host: '127.0.0.1' } });
    manager.add(runnable('webhook', { beforeCaches: true }));
    manager.add(runnable('reporter'));
    manager.add(runnable('accept page', { beforeCaches: true }));
    manager.add(runnable('janitor', { needsLeaderElection: true }));
    manager.add({ name: 'events', beforeCaches: true, stop: () => void calls.push('stop events') });

    await manager.start();
    expect(manager.isLeader()).toBe(true);
    expect(calls).toEqual(['start webhook', 'start accept page', 'start reporter (probes up)', 'start janitor (probes up)']);

    calls.length = 0;
    await manager.stop();
    expect(calls).toEqual([
      'stop janitor (signal aborted)', // leader-only: before the Lease goes
      'stop reporter (signal aborted)',
      'stop events',
      'stop accept page (signal aborted)',
      'stop webhook (signal aborted)', // added first, stops last
    ]);
  });

  it('times each shutdown step in the debug log, in order, probes before the servers', async () => {
    const { manager, lines, runnable } = setup({ probes: { port: 0, host: '127.0.0.1' } });
    manager.add(runnable('webhook', { beforeCaches: true }));
    manager.add(runnable('accept page', { beforeCaches: true }));
    await manager.start();
    await manager.stop();
    const steps = lines.filter((l) => l.msg === 'shutdown step done');
    expect(steps.map((l) => l.step)).toEqual(['controllers', 'leader election', 'caches', 'probes', 'accept page', 'webhook']);
    for (const s of steps) expect(s.ms).toBeTypeOf('number');
  });

  it('when a start fails, stops what already started (and the one that failed), starts nothing more, and says which one failed', async () => {
    const { manager, calls, runnable } = setup();
    manager.add(runnable('webhook', { beforeCaches: true }));
    manager.add(runnable('accept page', { beforeCaches: true }, { failStart: true }));
    manager.add(runnable('reporter'));
    manager.add(runnable('janitor', { needsLeaderElection: true }));

    await expect(manager.start()).rejects.toThrow('accept page failed to start: port 8443 is in use');
    expect(calls).toEqual(['start webhook', 'start accept page', 'stop accept page (signal aborted)', 'stop webhook (signal aborted)']);
    expect(manager.isLeader()).toBe(false);

    // A later stop (SIGTERM after the failed start) does nothing twice.
    calls.length = 0;
    await manager.stop();
    expect(calls).toEqual([]);
  });

  it('fails to start, rather than crashing, when the probes port is taken, and stops the servers that started', async () => {
    const taken = createServer();
    servers.push(taken);
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const { manager, calls, runnable } = setup({ probes: { port, host: '127.0.0.1' } });
    manager.add(runnable('webhook', { beforeCaches: true }));

    await expect(manager.start()).rejects.toThrow(/EADDRINUSE/);
    expect(calls).toEqual(['start webhook', 'stop webhook (signal aborted)']);
  });

  it('goes on with the shutdown when a step fails, and throws that failure at the end', async () => {
    const { manager, calls, lines, runnable } = setup();
    manager.add(runnable('webhook', { beforeCaches: true }));
    manager.add(runnable('mail', { beforeCaches: true }, { failStop: true }));
    manager.add(runnable('accept page', { beforeCaches: true }));
    await manager.start();
    calls.length = 0;

    await expect(manager.stop()).rejects.toThrow('mail would not close');
    expect(calls).toEqual(['stop accept page (signal aborted)', 'stop mail (signal aborted)', 'stop webhook (signal aborted)']);
    expect(lines.find((l) => l.msg === 'shutdown step failed; going on with the next')).toMatchObject({ step: 'mail', err: 'mail would not close' });
  });

  it('stops starting things when stop() comes during start(), and stop() cleans up what did start', async () => {
    const { manager, calls, runnable } = setup();
    let listening!: () => void;
    manager.add({
      name: 'webhook',
      beforeCaches: true,
      start: () => new Promise<void>((r) => (listening = () => r(void calls.push('start webhook')))),
      stop: () => void calls.push('stop webhook'),
    });
    manager.add(runnable('accept page', { beforeCaches: true }));

    const starting = manager.start();
    const stopping = manager.stop();
    listening();
    await starting; // resolves: stopping is not a failure
    await stopping;
    expect(calls).toEqual(['start webhook', 'stop webhook']);
    expect(manager.isLeader()).toBe(false);
  });

  it('refuses runnables after start, and leader-only runnables before the caches', async () => {
    const { manager, runnable } = setup();
    expect(() => manager.add(runnable('janitor', { needsLeaderElection: true, beforeCaches: true }))).toThrow(/starts after the caches sync/);
    await manager.start();
    expect(() => manager.add(runnable('late'))).toThrow('cannot add late: the manager has already started');
  });
});
