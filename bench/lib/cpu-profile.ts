// Where the time went: a V8 .cpuprofile (node --cpu-prof) summed up by self time, per
// function and per file, without any profiler tooling.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  name: string;
  location: string;
  selfMs: number;
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time the process was busy (everything except "(idle)"). */
  busyMs: number;
  topFunctions: SelfTime[];
  topFiles: SelfTime[];
}

function shortUrl(url: string, root: string): string {
  if (url === '') return '(native)';
  if (url.startsWith('file://')) {
    const path = relative(root, fileURLToPath(url));
    const nm = path.lastIndexOf('node_modules/');
    return nm >= 0 ? path.slice(nm) : path;
  }
  return url;
}

export function summariseCpuProfile(path: string, projectRoot: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // V8 stamps each sample with the time since the previous one: that interval is spent where the next sample lands.
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, deltas[i + 1] ?? 0));
  const perFunction = new Map<string, SelfTime>();
  const perFile = new Map<string, SelfTime>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const frame = node.callFrame;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const file = shortUrl(frame.url, projectRoot);
    const location = frame.url ? `${file}:${frame.lineNumber + 1}` : file;
    const name = frame.functionName || '(anonymous)';
    const fn = perFunction.get(`${name} ${location}`) ?? { name, location, selfMs: 0, percent: 0 };
    fn.selfMs += us / 1000;
    perFunction.set(`${name} ${location}`, fn);
    const fileEntry = perFile.get(file) ?? { name: file, location: file, selfMs: 0, percent: 0 };
    fileEntry.selfMs += us / 1000;
    perFile.set(file, fileEntry);
  }
  const busyMs = (totalUs - idleUs) / 1000;
  const rank = (entries: Iterable<SelfTime>) =>
    [...entries]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top)
      .map((e) => ({ ...e, selfMs: Math.round(e.selfMs), percent: busyMs > 0 ? Math.round((e.selfMs / busyMs) * 1000) / 10 : 0 }));
  return { totalMs: Math.round(totalUs / 1000), busyMs: Math.round(busyMs), topFunctions: rank(perFunction.values()), topFiles: rank(perFile.values()) };
}
