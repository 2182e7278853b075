// Server-side apply that writes only when the object is not already as desired, so an
// operator restart with nothing to change makes no write at all (a no-op apply still counts
// as a write request for the API server and its audit log).
import { isDeepStrictEqual } from 'node:util';
import type { KubeClient, KubeObject, ResourceRef } from './kube-client.ts';

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether every field `desired` sets already has that value in `live`. Fields only the server
 * set (defaults, status, metadata it manages) are ignored; a list must have the same length,
 * each item containing the desired one.
 */
export function contains(live: unknown, desired: unknown): boolean {
  if (isPlainObject(desired)) return isPlainObject(live) && Object.entries(desired).every(([k, v]) => v === undefined || contains(live[k], v));
  if (Array.isArray(desired)) return Array.isArray(live) && live.length === desired.length && desired.every((v, i) => contains(live[i], v));
  return isDeepStrictEqual(live, desired);
}

/** Applies `desired` unless the live object already holds all of it; true when it wrote. */
export async function applyIfChanged<T extends KubeObject>(client: Pick<KubeClient, 'find' | 'apply'>, ref: ResourceRef, desired: T): Promise<boolean> {
  const live = await client.find<T>(ref, desired.metadata.namespace, desired.metadata.name ?? '');
  const { apiVersion: _v, kind: _k, ...fields } = desired as KubeObject & Record<string, unknown>;
  if (live && contains(live, fields)) return false;
  await client.apply(ref, desired);
  return true;
}
