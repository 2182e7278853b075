// The Prometheus text exposition format, read back: what the kube-apiserver and the operator
// serve on /metrics. Enough of it for counters, gauges and histograms (no exemplars, no
// escaped quotes inside label values beyond \" and \\).

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1');
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The first sample of `name` whose labels include `match`. */
export function sampleValue(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))?.value;
}

/**
 * A quantile from the difference of two scrapes of one histogram (Prometheus's
 * histogram_quantile: linear interpolation inside the bucket the rank falls in).
 */
export function histogramQuantile(
  before: readonly Sample[],
  after: readonly Sample[],
  name: string,
  match: Record<string, string>,
  q: number,
): number | undefined {
  const buckets = (samples: readonly Sample[]) =>
    new Map(
      samples
        .filter((s) => s.name === `${name}_bucket` && Object.entries(match).every(([k, v]) => s.labels[k] === v))
        .map((s) => [s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value]),
    );
  const b0 = buckets(before);
  const diffed = [...buckets(after)].map(([le, v]) => [le, v - (b0.get(le) ?? 0)] as const).sort((a, b) => a[0] - b[0]);
  const total = diffed.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let previousLe = 0;
  let previousCount = 0;
  for (const [le, count] of diffed) {
    if (count >= rank) {
      if (le === Infinity) return previousLe;
      return previousLe + ((le - previousLe) * (rank - previousCount)) / Math.max(1e-12, count - previousCount);
    }
    previousLe = le;
    previousCount = count;
  }
  return undefined;
}
