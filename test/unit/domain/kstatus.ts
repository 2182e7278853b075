// kstatus' status computation (sigs.k8s.io/cli-utils pkg/kstatus/status Compute) for custom
// resources, written from its documented rules, so tests can ask "what would Flux, kpt or
// `kstatus` make of this object?":
//   1. metadata.deletionTimestamp set                              → Terminating
//   2. status.observedGeneration present and ≠ metadata.generation → InProgress
//   3. the first condition that is Reconciling=True                → InProgress
//                               or Stalled=True                    → Failed
//   4. (type-specific rules exist only for built-in kinds)
//   5. a Ready condition: True → Current, anything else            → InProgress
//   6. otherwise                                                   → Current
// Step 5 is the fallback kstatus applies to objects that show none of its own conditions as
// True; it is why Ready=False on a settled object would read as "still in progress".
import type { Condition } from '../../../src/api/generated.ts';

export type KstatusStatus = 'InProgress' | 'Failed' | 'Current' | 'Terminating';

export interface KstatusObject {
  readonly metadata: { readonly generation?: number; readonly deletionTimestamp?: string };
  readonly status?: { readonly observedGeneration?: number; readonly conditions?: readonly Condition[] };
}

export interface KstatusResult {
  readonly status: KstatusStatus;
  readonly message: string;
}

export function kstatusCompute(object: KstatusObject): KstatusResult {
  if (object.metadata.deletionTimestamp) return { status: 'Terminating', message: 'Resource scheduled for deletion' };
  const generation = object.metadata.generation;
  const observed = object.status?.observedGeneration;
  if (generation !== undefined && observed !== undefined && observed !== generation) {
    return { status: 'InProgress', message: `generation is ${generation}, but latest observed generation is ${observed}` };
  }
  const conditions = object.status?.conditions ?? [];
  for (const c of conditions) {
    if (c.type === 'Reconciling' && c.status === 'True') return { status: 'InProgress', message: c.message };
    if (c.type === 'Stalled' && c.status === 'True') return { status: 'Failed', message: c.message };
  }
  const ready = conditions.find((c) => c.type === 'Ready');
  if (ready) return { status: ready.status === 'True' ? 'Current' : 'InProgress', message: ready.message };
  return { status: 'Current', message: 'Resource is current' };
}
