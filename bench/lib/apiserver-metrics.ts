// What the kube-apiserver itself counts: apiserver_request_total by verb, resource and
// subresource, scraped from its /metrics before and after a phase and diffed. The writes a
// controller makes are counted where they land, whatever client made them.
import type { KubeClient } from '../../src/runtime/kube-client.ts';
import { parsePrometheusText } from './prometheus-text.ts';

export type RequestCounts = Map<string, number>;

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'DELETECOLLECTION', 'APPLY']);
/** What the control plane writes for itself: Lease renewals (leader election, API server heartbeats) and the API server's own endpoints. */
const CONTROL_PLANE = new Set(['leases', 'endpoints', 'endpointslices']);
/** Requests that go through a write verb but store nothing (authentication and authorization reviews). */
const REVIEWS = new Set(['tokenreviews', 'subjectaccessreviews', 'selfsubjectaccessreviews', 'localsubjectaccessreviews', 'selfsubjectreviews']);

/** `VERB resource[/subresource]` → requests, dry runs left out. */
export async function scrapeRequestCounts(admin: KubeClient): Promise<RequestCounts> {
  const text = await admin.request<string>('get', 'GET', '/metrics');
  const counts: RequestCounts = new Map();
  for (const s of parsePrometheusText(text)) {
    if (s.name !== 'apiserver_request_total' || (s.labels.dry_run ?? '') !== '') continue;
    const key = requestKey(s.labels.verb ?? '', s.labels.resource ?? '', s.labels.subresource ?? '');
    counts.set(key, (counts.get(key) ?? 0) + s.value);
  }
  return counts;
}

export const requestKey = (verb: string, resource: string, subresource = ''): string => `${verb} ${resource}${subresource ? `/${subresource}` : ''}`;

/** after − before, only what changed. */
export function diffCounts(before: RequestCounts, after: RequestCounts): RequestCounts {
  const diff: RequestCounts = new Map();
  for (const [key, value] of after) {
    const d = value - (before.get(key) ?? 0);
    if (d !== 0) diff.set(key, d);
  }
  return diff;
}

export interface WriteSummary {
  /** Writes that store something, minus the control plane's own (Leases, endpoints). */
  total: number;
  /** Lease renewals and the API server's endpoints. */
  controlPlane: number;
  reviews: number;
  byKey: Record<string, number>;
}

/** The writes in a diff, after taking away the ones the benchmark made itself (`own`, by key). */
export function summariseWrites(diff: RequestCounts, own: RequestCounts = new Map()): WriteSummary {
  const byKey: Record<string, number> = {};
  let total = 0;
  let controlPlane = 0;
  let reviews = 0;
  for (const [key, value] of diff) {
    const [verb = '', path = ''] = key.split(' ');
    if (!WRITE_VERBS.has(verb)) continue;
    const resource = path.split('/')[0] ?? '';
    const n = value - (own.get(key) ?? 0);
    if (n === 0) continue;
    if (CONTROL_PLANE.has(resource)) controlPlane += n;
    else if (REVIEWS.has(resource)) reviews += n;
    else {
      total += n;
      byKey[key] = n;
    }
  }
  return { total, controlPlane, reviews, byKey: Object.fromEntries(Object.entries(byKey).sort((a, b) => b[1] - a[1])) };
}
