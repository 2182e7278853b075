// What every benchmark result carries, so a number can be traced back: the exact command,
// when it ran, on which Node and on what machine. Plus the latency summary the benchmarks
// share and the writer for bench/results/<name>.{json,md}.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const resultsDirectory = fileURLToPath(new URL('../results/', import.meta.url));

export interface Environment {
  command: string;
  date: string;
  node: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; platform: string; arch: string; loadAverage1m: number };
}

const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);

/** The command line this process was started with, as one would type it from the repository root. */
export function commandLine(): string {
  const script = relative(projectRoot, process.argv[1] ?? '');
  return ['node', ...process.execArgv, script, ...process.argv.slice(2)].map(quote).join(' ');
}

/** Taken at the start of a run (the load average says how busy the machine was going in). */
export function environment(): Environment {
  const cpuList = cpus();
  return {
    command: commandLine(),
    date: new Date().toISOString(),
    node: process.version,
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
      memoryGiB: round(totalmem() / 1024 ** 3, 1),
      platform: `${process.platform} ${release()}`,
      arch: process.arch,
      loadAverage1m: round(loadavg()[0] ?? 0),
    },
  };
}

/** The line under a result's title: command, date, Node and machine. */
export function environmentMarkdown(env: Environment): string {
  const m = env.machine;
  return `Command: \`${env.command}\`\n\n${env.date}, Node ${env.node}, ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB memory, ${m.platform} ${m.arch}, load average ${m.loadAverage1m} at the start\n`;
}

export interface LatencyStats {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
}

/** Nearest-rank percentiles over samples in milliseconds. */
export function latencyStats(samples: readonly number[]): LatencyStats {
  if (samples.length === 0) throw new Error('no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return {
    n: sorted.length,
    p50: round(at(50)),
    p99: round(at(99)),
    mean: round(sorted.reduce((s, x) => s + x, 0) / sorted.length),
    min: round(sorted[0]!),
    max: round(sorted.at(-1)!),
  };
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * Writes bench/results/<name>.json and .md. `summary` is one line: bench/run.ts prints it.
 */
export function writeResults(name: string, report: Environment & { summary: string }, markdown: string): void {
  mkdirSync(resultsDirectory, { recursive: true });
  writeFileSync(`${resultsDirectory}${name}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${resultsDirectory}${name}.md`, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
}
