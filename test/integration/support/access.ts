// What the API server's own authorizer says a person may do: a SubjectAccessReview, the
// question `kubectl auth can-i --as` asks. Tests prove access with it, not by reading bindings.
import { resources } from '../../../src/api/resources.ts';
import type { KubeClient, KubeObject } from '../../../src/runtime/kube-client.ts';

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
