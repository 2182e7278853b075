// Writes status through the /status subresource, and only when it changed: a resync of an
// unchanged world must make no write requests.
import { isDeepStrictEqual } from 'node:util';
import type { KubeClient, KubeObject, ResourceRef } from './kube-client.ts';

/** JSON round trip: drops undefined fields so they compare equal to absent ones. */
const normalize = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

export function statusChanged(current: unknown, desired: unknown): boolean {
  return !isDeepStrictEqual(normalize(current) ?? {}, normalize(desired) ?? {});
}

/**
 * Applies `desired` as the object's whole status (server-side apply on the subresource with
 * our field manager, so fields we stop setting are removed). Returns the updated object, or
 * undefined when nothing differed and nothing was written.
 */
export async function writeStatus<T extends KubeObject & { status?: unknown }>(
  client: KubeClient,
  ref: ResourceRef,
  object: T,
  desired: NonNullable<T['status']>,
): Promise<T | undefined> {
  if (!statusChanged(object.status, desired)) return undefined;
  return await client.apply<T>(
    ref,
    {
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { name: object.metadata.name, namespace: object.metadata.namespace },
      status: desired,
    } as T,
    'status',
  );
}
