// Runs the benchmarks in bench/, each as its own process (`node --expose-gc bench/<name>.ts`,
// one after another: each starts its own control plane), prints one line per benchmark and
// exits non-zero when one fails. Each writes bench/results/<name>.{json,md} itself, with the
// command that produced it, the date, the Node version and the machine.
//
//   npm run bench                                 every benchmark, default arguments
//   npm run bench -- reconcile admission          some of them
//   npm run bench -- admission --samples 50       one, with its own arguments instead
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { projectRoot, resultsDirectory } from './lib/report.ts';

/** Arguments each benchmark runs with unless others are given. */
const DEFAULT_ARGS: Record<string, string[]> = {
  reconcile: ['--memberships', '100'],
  admission: ['--samples', '300', '--warmup', '30', '--concurrent', '400'],
  scale: ['--sizes', '1000,3000,10000', '--members', '10', '--webhook-follower'],
};
const TIMEOUT_MS = 30 * 60_000;
const OUTPUT_TAIL_LINES = 40;

const benchDirectory = fileURLToPath(new URL('./', import.meta.url));
const available = readdirSync(benchDirectory)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -'.ts'.length))
  .sort();

function usage(problem: string): never {
  console.error(`${problem}\nusage: npm run bench -- [name ...] [--benchmark-arguments ...]\nbenchmarks: ${available.join(', ')}`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const firstOption = argv.findIndex((a) => a.startsWith('-'));
const names = firstOption === -1 ? argv : argv.slice(0, firstOption);
const extra = firstOption === -1 ? undefined : argv.slice(firstOption).filter((a, i) => !(i === 0 && a === '--'));
for (const name of names) if (!available.includes(name)) usage(`no benchmark named ${name}`);
if (extra && names.length !== 1) usage('arguments for a benchmark need exactly one benchmark name before them');
const selected = names.length > 0 ? names : available;

interface Outcome {
  name: string;
  ok: boolean;
  seconds: number;
  line: string;
}

const STOP_GRACE_MS = 20_000;
let current: ReturnType<typeof spawn> | undefined;
let interrupted = false;

/** Signals a benchmark's process group: the benchmark and its etcd and kube-apiserver. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nobody left in the group
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupted = true;
    const pid = current?.pid;
    // The benchmark stops its control plane on the signal; whatever is left after the grace is killed.
    signalGroup(pid, 'SIGTERM');
    setTimeout(() => signalGroup(pid, 'SIGKILL'), STOP_GRACE_MS).unref();
  });
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** The one-line summary a benchmark wrote, if it wrote its results after `since`. */
function freshSummary(name: string, since: number): string | undefined {
  const path = `${resultsDirectory}${name}.json`;
  try {
    if (statSync(path).mtimeMs < since) return undefined;
    const report = JSON.parse(readFileSync(path, 'utf8')) as { summary?: unknown };
    return typeof report.summary === 'string' ? report.summary : '(no summary)';
  } catch {
    return undefined;
  }
}

async function run(name: string): Promise<Outcome> {
  const args = ['--expose-gc', `bench/${name}.ts`, ...(extra ?? DEFAULT_ARGS[name] ?? [])];
  console.log(`> node ${args.join(' ')}`);
  const started = Date.now();
  const child = spawn(process.execPath, args, { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  current = child;
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    signalGroup(child.pid, 'SIGTERM');
    setTimeout(() => signalGroup(child.pid, 'SIGKILL'), STOP_GRACE_MS).unref();
  }, TIMEOUT_MS);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (c, s) => resolve({ code: c, signal: s })),
  );
  clearTimeout(timer);
  current = undefined;
  // A benchmark that died without stopping its control plane leaves etcd and kube-apiserver behind.
  signalGroup(child.pid, 'SIGKILL');
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  const summary = freshSummary(name, started);
  const failure = timedOut
    ? `timed out after ${TIMEOUT_MS / 60_000} min`
    : code !== 0
      ? `exited with ${signal ?? `code ${code}`}`
      : summary === undefined
        ? `wrote no bench/results/${name}.json`
        : undefined;
  if (failure) {
    console.log(tail(output, OUTPUT_TAIL_LINES).replace(/^/gm, `  ${name} | `));
    return { name, ok: false, seconds, line: failure };
  }
  return { name, ok: true, seconds, line: summary! };
}

const outcomes: Outcome[] = [];
for (const name of selected) {
  if (interrupted) break;
  const outcome = await run(name);
  outcomes.push(outcome);
  console.log(`${outcome.ok ? 'ok  ' : 'FAIL'} ${name} (${outcome.seconds} s): ${outcome.line}`);
}

const width = Math.max(...outcomes.map((o) => o.name.length), 4);
console.log(`\nbenchmarks (results in bench/results/):`);
for (const o of outcomes) console.log(`  ${o.ok ? 'ok  ' : 'FAIL'} ${o.name.padEnd(width)} ${String(o.seconds).padStart(6)} s  ${o.line}`);
const failed = outcomes.filter((o) => !o.ok).length;
if (interrupted) console.log('interrupted');
process.exit(interrupted ? 130 : failed > 0 ? 1 : 0);
