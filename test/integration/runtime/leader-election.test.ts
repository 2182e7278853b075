// Leader election against a real API server: the elector's API in-process, then replicas
// as separate processes (test/integration/fixtures/elector-process.ts) that are killed
// and stopped while they reconcile, proving that exactly one leads, that a standby takes
// over after a crash within the lease duration and at once after a clean shutdown, and
// that no key is ever reconciled by two replicas at the same time.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../../../controlplane/harness.ts';
import { resources } from '../../../src/api/resources.ts';
import { LeaderElector, type Lease, type LeaderElectionOptions } from '../../../src/runtime/leader-election.ts';
import { eventually } from '../support/eventually.ts';

let cp: ControlPlane;
let dir: string;
const ns = 'leader-election';
const fixture = fileURLToPath(new URL('../fixtures/elector-process.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ms = (microTime: string | undefined): number => Date.parse(microTime ?? '');
const within = <T>(promise: Promise<T>, limitMs: number, what: string): Promise<T> =>
  Promise.race([promise, sleep(limitMs).then(() => Promise.reject(new Error(`${what} within ${limitMs} ms`)))]);

beforeAll(async () => {
  cp = await startControlPlane({ controllerManager: false, installCrds: false });
  await cp.client.apply(resources.namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  dir = mkdtempSync(join(tmpdir(), 'roster-le-'));
});
afterAll(async () => {
  for (const child of replicas.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const getLease = (name: string) => cp.client.find<Lease>(resources.lease, ns, name);

describe('LeaderElector in-process', () => {
  // Short timings; the Lease stores whole seconds.
  const timings = { leaseDurationMs: 2000, renewDeadlineMs: 1000, retryPeriodMs: 200, jitterFactor: 0 };

  function elector(name: string, identity: string, extra: Partial<LeaderElectionOptions> = {}) {
    const calls = { started: 0, stopped: 0, newLeaders: [] as string[], status: [] as number[] };
    let leadingSignal: AbortSignal | undefined;
    const started = Promise.withResolvers<void>();
    const e = new LeaderElector({
      client: cp.client,
      namespace: ns,
      name,
      identity,
      ...timings,
      metrics: { masterStatus: (lease, value) => lease === name && calls.status.push(value) },
      callbacks: {
        onStartedLeading(signal) {
          calls.started++;
          leadingSignal = signal;
          started.resolve();
        },
        onStoppedLeading() {
          calls.stopped++;
        },
        onNewLeader: (id) => calls.newLeaders.push(id),
      },
      ...extra,
    });
    return { e, calls, started: started.promise, signal: () => leadingSignal };
  }

  it('acquires a free Lease by creating it, renews it, and releases it', async () => {
    const a = elector('in-process', 'replica-a');
    const running = a.e.run();
    await a.started;
    expect(a.e.isLeader()).toBe(true);
    const first = await getLease('in-process');
    expect(first?.spec).toMatchObject({ holderIdentity: 'replica-a', leaseDurationSeconds: 2, leaseTransitions: 0 });
    expect(first?.spec?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(a.calls.newLeaders).toEqual(['replica-a']);
    expect(a.calls.status).toEqual([0, 1]);

    // Renewals move renewTime on and keep acquireTime.
    await eventually(async () => {
      const lease = await getLease('in-process');
      expect(ms(lease?.spec?.renewTime)).toBeGreaterThan(ms(first?.spec?.renewTime));
      expect(lease?.spec?.acquireTime).toBe(first?.spec?.acquireTime);
      expect(lease?.spec?.holderIdentity).toBe('replica-a');
    }, 5_000);

    expect(await a.e.release()).toBe(true);
    await running;
    expect(a.e.isLeader()).toBe(false);
    expect(a.signal()?.aborted).toBe(true);
    expect(a.calls).toMatchObject({ started: 1, stopped: 1 });
    expect(a.calls.status.at(-1)).toBe(0);
    const released = await getLease('in-process');
    expect(released?.spec?.holderIdentity ?? '').toBe('');
    expect(released?.spec?.leaseDurationSeconds).toBe(1);
    // Released once; a second call has nothing left to do and writes nothing.
    const writes = cp.client.counter.writes();
    expect(await a.e.release()).toBe(true);
    expect(cp.client.counter.writes()).toBe(writes);
  });

  it('keeps a standby waiting while the holder renews, and hands over on release', async () => {
    const a = elector('handover', 'replica-a');
    const b = elector('handover', 'replica-b');
    const runningA = a.e.run();
    await a.started;
    const runningB = b.e.run();
    // More than a lease duration: a standby that trusted anything but its own observations
    // of renewals, or ignored them, would have taken over by now.
    await sleep(timings.leaseDurationMs * 1.5);
    expect(b.calls.started).toBe(0);
    expect(b.e.isLeader()).toBe(false);
    expect(b.e.getLeader()).toBe('replica-a');
    expect(b.calls.newLeaders).toEqual(['replica-a']);
    expect((await getLease('handover'))?.spec?.holderIdentity).toBe('replica-a');

    expect(await a.e.release()).toBe(true);
    await runningA;
    await b.started;
    expect(b.e.isLeader()).toBe(true);
    const lease = await getLease('handover');
    expect(lease?.spec).toMatchObject({ holderIdentity: 'replica-b', leaseDurationSeconds: 2, leaseTransitions: 1 });
    expect(b.calls.newLeaders).toEqual(['replica-a', 'replica-b']);
    expect(await b.e.release()).toBe(true);
    await runningB;
  });

  it('steps down when it cannot renew within the renew deadline, and never releases a Lease it lost', async () => {
    const a = elector('stolen', 'replica-a');
    const running = a.e.run();
    await a.started;
    // Someone else takes the Lease (as after a partition): a's renewals now conflict and
    // then find a valid lease held by another. (A conflict here means a renewal came in
    // between our read and write: read again.)
    await eventually(
      async () => {
        const lease = await getLease('stolen');
        if (!lease) throw new Error('no lease');
        await cp.client.replace<Lease>(resources.lease, { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', leaseDurationSeconds: 60 } });
      },
      5_000,
      10,
    );
    // run() returns once leadership is lost: at the latest a renew deadline after the last
    // renewal, plus a request's worth of slack.
    await within(running, timings.renewDeadlineMs + timings.retryPeriodMs + 2_000, 'stepped down');
    expect(a.e.isLeader()).toBe(false);
    expect(a.signal()?.aborted).toBe(true);
    expect(a.calls).toMatchObject({ started: 1, stopped: 1 });
    expect(a.calls.status.at(-1)).toBe(0);
    expect(a.calls.newLeaders).toEqual(['replica-a', 'intruder']);
    expect(await a.e.release()).toBe(false);
    expect((await getLease('stolen'))?.spec?.holderIdentity).toBe('intruder');
  });

  it('refuses the timings client-go refuses', () => {
    const base = { client: cp.client, namespace: ns, name: 'x', callbacks: { onStartedLeading() {}, onStoppedLeading() {} } };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(RangeError);
    expect(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).toThrow(RangeError);
    expect(new LeaderElector(base).identity).toMatch(/^.+_[0-9a-f-]{36}$/);
  });
});

// ---------------------------------------------------------------------------------------
// Replicas as processes. The tests below run in order and share the replicas: the first
// leader is killed, its successor is stopped with SIGTERM, and the last test audits the
// whole work log.
const leaseMs = 3000;
const renewMs = 2000;
const retryMs = 500;
const leaseName = 'fixture';
const replicas = new Map<string, ChildProcess>();
const killedAt = new Map<string, number>();

function startReplica(identity: string): ChildProcess {
  const out = openSync(join(dir, `${identity}.out`), 'a');
  const child = spawn(
    process.execPath,
    [
      fixture,
      ...['--kubeconfig', cp.kubeconfigPath, '--identity', identity, '--log', join(dir, 'work.log')],
      ...['--namespace', ns, '--lease-name', leaseName],
      ...['--lease-ms', String(leaseMs), '--renew-ms', String(renewMs), '--retry-ms', String(retryMs), '--jitter', '0'],
    ],
    { stdio: ['ignore', out, out] },
  );
  closeSync(out);
  replicas.set(identity, child);
  return child;
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

type LogLine = { what: string; identity: string; key?: string; at: number };
function readLog(): LogLine[] {
  const path = join(dir, 'work.log');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const parts = line.split(' ');
      return parts.length === 4
        ? { what: parts[0] ?? '', identity: parts[1] ?? '', key: parts[2], at: Number(parts[3]) }
        : { what: parts[0] ?? '', identity: parts[1] ?? '', at: Number(parts[2]) };
    });
}
const workers = (lines: LogLine[]) => new Set(lines.filter((l) => l.what === 'start').map((l) => l.identity));
const diagnostics = () =>
  [...replicas.keys()]
    .map(
      (id) =>
        `--- ${id} ---\n${readFileSync(join(dir, `${id}.out`), 'utf8')
          .split('\n')
          .slice(-15)
          .join('\n')}`,
    )
    .join('\n');

// The holder's renewTime as last seen by the test, for the takeover's lower bound.
async function watchRenewals(holder: string, until: () => boolean): Promise<number> {
  let last = 0;
  while (!until()) {
    const lease = await getLease(leaseName);
    if (lease?.spec?.holderIdentity === holder) last = Math.max(last, ms(lease.spec.renewTime));
    await sleep(50);
  }
  return last;
}

describe('replicas in separate processes', () => {
  let leader = '';
  let standby = '';

  it('exactly one of two replicas leads', async () => {
    startReplica('r1');
    startReplica('r2');
    await eventually(
      async () => {
        const holder = (await getLease(leaseName))?.spec?.holderIdentity ?? '';
        expect(['r1', 'r2']).toContain(holder);
        expect(readLog().filter((l) => l.what === 'start' && l.identity === holder).length).toBeGreaterThan(20);
        leader = holder;
      },
      60_000,
      200,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${diagnostics()}`);
    });
    standby = leader === 'r1' ? 'r2' : 'r1';
    // Give the standby several of its retry periods to misbehave.
    await sleep(4 * retryMs);
    const lines = readLog();
    expect(workers(lines)).toEqual(new Set([leader]));
    expect(lines.filter((l) => l.what === 'leading').map((l) => l.identity)).toEqual([leader]);
    expect((await getLease(leaseName))?.spec?.holderIdentity).toBe(leader);
  });

  it('after kill -9 of the leader, the standby takes over within the lease duration', async () => {
    expect(leader).not.toBe('');
    let killed = false;
    const lastRenewal = watchRenewals(leader, () => killed);
    await sleep(1_000);
    const victim = replicas.get(leader);
    if (!victim) throw new Error('no leader process');
    const killAt = Date.now();
    victim.kill('SIGKILL');
    killed = true;
    killedAt.set(leader, Date.now());
    expect((await exited(victim)).signal).toBe('SIGKILL');
    const lastRenewTime = await lastRenewal;

    const lease = await eventually(
      async () => {
        const l = await getLease(leaseName);
        expect(l?.spec?.holderIdentity).toBe(standby);
        return l;
      },
      30_000,
      50,
    );
    const acquiredAt = ms(lease?.spec?.acquireTime);
    // Worst case: the standby saw the last renewal up to one retry period late, and notices
    // the expiry up to one retry period late; plus scheduling slack.
    expect(acquiredAt - killAt).toBeLessThanOrEqual(leaseMs + 2 * retryMs + 500);
    // And never before the dead leader's lease could have run out (same host clock).
    expect(lastRenewTime).toBeGreaterThan(0);
    expect(acquiredAt - lastRenewTime).toBeGreaterThanOrEqual(leaseMs - 100);
    expect(lease?.spec?.leaseTransitions).toBe(1);
    await eventually(() => expect(readLog().some((l) => l.what === 'start' && l.identity === standby)).toBe(true), 10_000);
    leader = standby;
  });

  it('after SIGTERM the leader releases the Lease and a standby takes over at once', async () => {
    startReplica('r3');
    // Let r3 see the current holder (and start counting) before the leader goes away.
    await sleep(4 * retryMs);
    expect(workers(readLog()).has('r3')).toBe(false);
    const stopping = replicas.get(leader);
    if (!stopping) throw new Error('no leader process');
    const termAt = Date.now();
    stopping.kill('SIGTERM');
    expect((await exited(stopping)).code).toBe(0);
    expect(readLog().some((l) => l.what === 'released' && l.identity === leader)).toBe(true);

    const lease = await eventually(
      async () => {
        const l = await getLease(leaseName);
        expect(l?.spec?.holderIdentity).toBe('r3');
        return l;
      },
      30_000,
      50,
    );
    // Well under the lease duration: r3 took it at its next retry, not after expiry.
    expect(ms(lease?.spec?.acquireTime) - termAt).toBeLessThan(leaseMs / 2);
    await eventually(() => expect(readLog().some((l) => l.what === 'start' && l.identity === 'r3')).toBe(true), 10_000);
    await sleep(1_000);
  });

  it('no key was ever reconciled by two replicas at overlapping times', async () => {
    const last = replicas.get('r3');
    if (!last) throw new Error('no r3');
    last.kill('SIGTERM');
    expect((await exited(last)).code).toBe(0);

    // Pair each start with the next end of the same replica and key; a replica killed with
    // -9 may leave a start without an end: its work ended when it died.
    type Interval = { identity: string; key: string; from: number; to: number };
    const intervals: Interval[] = [];
    const open = new Map<string, LogLine[]>();
    for (const line of readLog()) {
      const id = `${line.identity} ${line.key}`;
      if (line.what === 'start') open.set(id, [...(open.get(id) ?? []), line]);
      if (line.what === 'end') {
        const started = open.get(id)?.shift();
        expect(started, `end without start: ${id}`).toBeDefined();
        if (started) intervals.push({ identity: line.identity, key: line.key ?? '', from: started.at, to: line.at });
      }
    }
    for (const [id, starts] of open) {
      for (const s of starts) {
        const died = killedAt.get(s.identity);
        expect(died, `unfinished work of a replica that was not killed: ${id}`).toBeDefined();
        intervals.push({ identity: s.identity, key: s.key ?? '', from: s.at, to: died ?? Infinity });
      }
    }

    // The audit means something only if every key was worked on by every replica.
    expect(new Set(intervals.map((i) => i.identity))).toEqual(new Set(['r1', 'r2', 'r3']));
    const overlaps: string[] = [];
    for (const key of new Set(intervals.map((i) => i.key))) {
      const ofKey = intervals.filter((i) => i.key === key);
      expect(new Set(ofKey.map((i) => i.identity)).size).toBe(3);
      for (const a of ofKey) {
        for (const b of ofKey) {
          if (a.identity < b.identity && a.from < b.to && b.from < a.to) overlaps.push(`${key}: ${JSON.stringify(a)} / ${JSON.stringify(b)}`);
        }
      }
    }
    expect(overlaps).toEqual([]);
  });
});
