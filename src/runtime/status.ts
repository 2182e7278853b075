// Writes status through the /status subresource, and only when it changed: a resync of an
// unchanged world must make no write requests.
import { isDeepStrictEqual } from 'node:util';
import type { KubeClient, KubeObject, ResourceRef } from './kube-client.ts';

/** JSON round trip: drops undefined fields so they compare equal to absent ones. */
const normalize = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

export function statusChanged(current: unknown, desired: unknown): boolean {
  return !jsonEqual(current ?? {}, desired ?? {});
}

/**
 * Whether two values would serialize to the same JSON, up to key order: a key whose value
 * is undefined counts as absent, as in JSON.stringify. It runs on every reconcile, so it
 * walks both values once instead of a JSON round trip of each (issue 14's CPU profile).
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    // Dates and other objects with toJSON never reach a status; numbers compare as JSON does.
    return typeof a === 'number' && typeof b === 'number' && !Number.isFinite(a) && !Number.isFinite(b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    // In JSON an undefined array element is null.
    return a.every((v, i) => jsonEqual(v ?? null, b[i] ?? null));
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let present = 0;
  for (const key in x) {
    if (x[key] === undefined) continue;
    present++;
    if (!jsonEqual(x[key], y[key])) return false;
  }
  for (const key in y) if (y[key] !== undefined) present--;
  return present === 0;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What of `actual` the desired status leaves out but the server kept, as a JSON merge patch
 * (null removes a key; a list is replaced whole), or undefined when nothing was kept.
 * Server-side apply removes a field we stop setting only when no other field manager owns
 * it; a field an earlier PUT or merge patch set (an operator before this writer, a merge
 * patch of one field) is co-owned by that "Update" entry and survives the apply.
 */
function leftovers(actual: unknown, desired: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(actual) || !isPlainObject(desired)) return undefined;
  const patch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(actual)) {
    const wanted = desired[key];
    if (!(key in desired)) patch[key] = null;
    else if (isPlainObject(value) && isPlainObject(wanted)) {
      const inner = leftovers(value, wanted);
      if (inner) patch[key] = inner;
    } else if (Array.isArray(value) && !isDeepStrictEqual(value, wanted)) patch[key] = wanted;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/**
 * THE way a controller writes status: `desired` becomes the object's whole status (server-
 * side apply on the subresource with our one field manager, so fields we stop setting are
 * removed). Returns the updated object, or undefined when nothing differed and nothing was
 * written.
 *
 * `optimistic` is compare-and-swap: the write carries the resourceVersion of `object`, the
 * copy the decision was made on, so a write from a stale cache fails with 409 and changes
 * nothing instead of winning. Use it where a write must happen at most once per decision (a
 * delivery intent before a mail, an Event only from the write that won). Only then is
 * `desired` exactly the whole status, even a field another writer once set is removed: the
 * caller saw that version. Without it, a field another writer set stays unless we own it
 * (a copy from a stale cache cannot know of a field set a moment ago).
 */
export async function writeStatus<T extends KubeObject & { status?: unknown }>(
  client: KubeClient,
  ref: ResourceRef,
  object: T,
  desired: NonNullable<T['status']>,
  options: { optimistic?: boolean } = {},
): Promise<T | undefined> {
  if (!statusChanged(object.status, desired)) return undefined;
  const { name, namespace } = object.metadata;
  const applied = await client.apply<T>(
    ref,
    {
      apiVersion: object.apiVersion,
      kind: object.kind,
      metadata: { name, namespace, ...(options.optimistic ? { resourceVersion: object.metadata.resourceVersion } : {}) },
      status: desired,
    } as T,
    'status',
  );
  const kept = options.optimistic ? leftovers(applied.status, normalize(desired)) : undefined;
  if (!kept) return applied;
  // Still compare-and-swap: against our own write a moment ago.
  return await client.patch<T>(
    ref,
    namespace,
    name ?? '',
    'merge',
    { metadata: { resourceVersion: applied.metadata.resourceVersion }, status: kept },
    'status',
  );
}
