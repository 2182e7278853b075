// CPU time of a process from /proc/<pid>/stat (utime + stime), to say where a run's CPU went:
// the API server and etcd per raw create against per converged Membership shows how close the
// operator's pace is to what the control plane itself can give on this machine.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds the process has used so far (user + system), 0 when it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // fields 14 and 15 of stat(5)
  } catch {
    return 0;
  }
}

/** CPU seconds of several processes, summed, measured from now. */
export function cpuMeter(pids: () => Array<number | undefined>): () => number {
  const start = pids().map((pid) => [pid, cpuSeconds(pid)] as const);
  return () => start.reduce((sum, [pid, before]) => sum + cpuSeconds(pid) - before, 0);
}
