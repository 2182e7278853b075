// Small helpers shared by the controllers for the objects they own and the finalizers
// they keep.
import { apiVersion } from '../api/resources.ts';
import { isConflict, type KubeClient, type KubeObject, type OwnerReference, type ResourceRef } from '../runtime/kube-client.ts';
import { writeStatus } from '../runtime/status.ts';

export function controllerRef(owner: KubeObject, kind: string): OwnerReference {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export const isControlledBy = (object: KubeObject, owner: KubeObject): boolean =>
  (object.metadata.ownerReferences ?? []).some((r) => r.controller && r.uid === owner.metadata.uid);

/** Adds the finalizer (optimistically locked on resourceVersion); false when already there. */
export async function addFinalizer(client: KubeClient, ref: ResourceRef, object: KubeObject, finalizer: string): Promise<boolean> {
  const finalizers = object.metadata.finalizers ?? [];
  if (finalizers.includes(finalizer)) return false;
  await client.patch(ref, object.metadata.namespace, object.metadata.name ?? '', 'merge', {
    metadata: { resourceVersion: object.metadata.resourceVersion, finalizers: [...finalizers, finalizer] },
  });
  return true;
}

export async function removeFinalizer(client: KubeClient, ref: ResourceRef, object: KubeObject, finalizer: string): Promise<void> {
  const finalizers = object.metadata.finalizers ?? [];
  if (!finalizers.includes(finalizer)) return;
  await client.patch(ref, object.metadata.namespace, object.metadata.name ?? '', 'merge', {
    metadata: { resourceVersion: object.metadata.resourceVersion, finalizers: finalizers.filter((f) => f !== finalizer) },
  });
}

/** What the namespace helper reads: a cluster-scoped cache of Namespaces. */
interface NamespaceLookup {
  get(namespace: undefined, name: string): (KubeObject & { status?: { phase?: string } }) | undefined;
}

/**
 * Whether a namespace is being deleted. The API server refuses every new object in it (403
 * "being terminated"), so a controller that tries anyway spins in a retry loop until the
 * namespace is gone: controllers create nothing there. Removals and finalizers still run,
 * or the namespace would never go. Unknown (not in the cache) counts as not terminating.
 */
export function isNamespaceTerminating(namespaces: NamespaceLookup, name: string | undefined): boolean {
  const ns = name ? namespaces.get(undefined, name) : undefined;
  return ns !== undefined && (ns.metadata.deletionTimestamp !== undefined || ns.status?.phase === 'Terminating');
}

/** A short random suffix for generated names (like generateName, but known before create). */
export function randomSuffix(length = 5): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

/**
 * Writes the status (writeStatus); false when the write lost with 409, because another
 * reconcile's write won or the cache was behind: the changes and Events are that one's to
 * report, and the watch brings the newer copy. An unchanged status counts as won.
 */
export async function writeStatusWon<T extends KubeObject & { status?: unknown }>(
  client: KubeClient,
  ref: ResourceRef,
  object: T,
  status: NonNullable<T['status']>,
  optimistic: boolean,
): Promise<boolean> {
  try {
    await writeStatus(client, ref, object, status, { optimistic });
    return true;
  } catch (e) {
    if (!isConflict(e)) throw e;
    return false;
  }
}
