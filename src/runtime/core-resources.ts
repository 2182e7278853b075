// The core Kubernetes kinds the runtime itself uses (leader election, Events). The operator's
// own kinds live in src/api/resources.ts, which re-exports these.
import type { ResourceRef } from './kube-client.ts';

export const coreResources = {
  lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespaced: true },
  event: { group: 'events.k8s.io', version: 'v1', plural: 'events', namespaced: true },
} as const satisfies Record<string, ResourceRef>;
