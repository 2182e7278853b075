// What the API server's own authorizer says a person may do: a SubjectAccessReview, the
// question `kubectl auth can-i --as` asks. Tests prove access with it, not by reading bindings.
import { resources } from '../../../src/api/resources.ts';
import type { KubeClient, KubeObject } from '../../../src/runtime/kube-client.ts';
import { expect } from 'vitest';
import { kubectl, type KubectlResult } from '../kubectl.ts';

export async function canI(
  client: KubeClient,
  user: string,
  verb: string,
  resource: string,
  namespace: string,
  group = '',
  groups: string[] = ['system:authenticated'],
): Promise<boolean> {
  const review = await client.create<KubeObject & { status?: { allowed: boolean } }>(resources.subjectAccessReview, {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    metadata: {},
    spec: { user, groups, resourceAttributes: { namespace, verb, group, resource } },
  } as KubeObject);
  return review.status?.allowed ?? false;
}

/** `kubectl apply` of a manifest as `user` (impersonated), or as the admin when undefined. */
export async function applyAs(kubeconfig: string, user: string | undefined, manifest: string): Promise<KubectlResult> {
  return await kubectl(kubeconfig, ['apply', '-f', '-', ...(user ? [`--as=${user}`] : [])], manifest);
}

/** The same apply, which must be refused with `message`. */
export async function refusedAs(kubeconfig: string, user: string, manifest: string, message: string | RegExp): Promise<void> {
  const result = await applyAs(kubeconfig, user, manifest);
  expect(result.code, `expected a denial, got: ${result.stdout}`).not.toBe(0);
  expect(result.stderr).toMatch(message);
}
