// Who did it: the mutating webhook stamps the requesting user on roster objects, so "who
// invited riley, who changed her role" can be answered from the objects and the audit
// stream. The annotations are the API server's word, not the user's: whatever a request
// puts there is overwritten (on create) or restored (on update).
import { isDeepStrictEqual } from 'node:util';
import type { JsonPatchOperation } from '../admission/review.ts';
import { RESEND_ANNOTATION } from '../domain/invitation-state.ts';

export const CREATED_BY = 'roster.dev/created-by';
export const CHANGED_BY = 'roster.dev/changed-by';
/** Who deleted it: written by the webhook's deletion hook while a finalizer holds the object. */
export const DELETED_BY = 'roster.dev/deleted-by';
/** Who asked for the latest resend (the roster.dev/resend annotation changes no spec). */
export const RESENT_BY = 'roster.dev/resent-by';
/** Who released a held removal (`kubectl roster release`; SPEC §8). */
export const RELEASED_BY = 'roster.dev/released-by';
export const RELEASE_ANNOTATION = 'roster.dev/release-removal';

/** Requests that change no spec but are someone's doing: the annotation that asks, and the one naming who asked. */
const REQUESTS: ReadonlyArray<readonly [request: string, by: string]> = [
  [RESEND_ANNOTATION, RESENT_BY],
  [RELEASE_ANNOTATION, RELEASED_BY],
];

interface Annotated {
  metadata?: { annotations?: Record<string, string> | null };
  spec?: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function annotationsOf(object: unknown): Record<string, string> | undefined {
  if (!isRecord(object) || !isRecord(object.metadata)) return undefined;
  const a = object.metadata.annotations;
  return isRecord(a) ? (a as Record<string, string>) : undefined;
}

/** RFC 6901: `~` and `/` in a key. */
const pointer = (key: string) => `/metadata/annotations/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;

/** The annotations an object should carry after this request, for the keys we own. */
export function actorAnnotations(
  operation: 'CREATE' | 'UPDATE',
  object: unknown,
  oldObject: unknown,
  username: string,
  isOperator = false,
): Record<string, string | undefined> {
  const user = username || 'system:anonymous';
  const current = annotationsOf(object) ?? {};
  const old = operation === 'CREATE' ? {} : (annotationsOf(oldObject) ?? {});
  // Whoever changed a request annotation made that request; otherwise who made it stays.
  const requests = Object.fromEntries(
    REQUESTS.map(([request, by]) => [by, current[request] !== old[request] ? (current[request] ? user : undefined) : old[by]]),
  );
  if (operation === 'CREATE') return { [CREATED_BY]: user, [CHANGED_BY]: undefined, [DELETED_BY]: undefined, ...requests };
  const specChanged = !isDeepStrictEqual((object as Annotated | undefined)?.spec, (oldObject as Annotated | undefined)?.spec);
  // Only the operator records a deletion; nobody can blame someone else in advance.
  const deletedBy = isOperator ? current[DELETED_BY] : old[DELETED_BY];
  return { [CREATED_BY]: old[CREATED_BY], [CHANGED_BY]: specChanged ? user : old[CHANGED_BY], [DELETED_BY]: deletedBy, ...requests };
}

/** The JSON patch that makes the object carry exactly the wanted actor annotations. */
export function actorPatch(operation: 'CREATE' | 'UPDATE', object: unknown, oldObject: unknown, username: string, isOperator = false): JsonPatchOperation[] {
  if (!isRecord(object) || !isRecord(object.metadata)) return [];
  const wanted = actorAnnotations(operation, object, oldObject, username, isOperator);
  const current = annotationsOf(object);
  if (!current) {
    const value = Object.fromEntries(Object.entries(wanted).filter((e): e is [string, string] => e[1] !== undefined));
    return Object.keys(value).length ? [{ op: 'add', path: '/metadata/annotations', value }] : [];
  }
  const ops: JsonPatchOperation[] = [];
  for (const [key, value] of Object.entries(wanted)) {
    const has = Object.prototype.hasOwnProperty.call(current, key);
    if (value === undefined) {
      if (has) ops.push({ op: 'remove', path: pointer(key) });
    } else if (!has) {
      ops.push({ op: 'add', path: pointer(key), value });
    } else if (current[key] !== value) {
      ops.push({ op: 'replace', path: pointer(key), value });
    }
  }
  return ops;
}

/** The user who created an object, as the webhook recorded it. */
export const createdBy = (object: Annotated | undefined): string | undefined => object?.metadata?.annotations?.[CREATED_BY] || undefined;
/** The user who deleted an object, as the webhook recorded it (undefined while unknown). */
export const deletedBy = (object: Annotated | undefined): string | undefined => object?.metadata?.annotations?.[DELETED_BY] || undefined;
/** The user who asked for the latest resend, as the webhook recorded it. */
export const resentBy = (object: Annotated | undefined): string | undefined => object?.metadata?.annotations?.[RESENT_BY] || undefined;
/** The user who released the removal of this Membership, as the webhook recorded it. */
export const releasedBy = (object: Annotated | undefined): string | undefined => object?.metadata?.annotations?.[RELEASED_BY] || undefined;
/** The user who last changed an object's spec, as the webhook recorded it. */
export const changedBy = (object: Annotated | undefined): string | undefined => object?.metadata?.annotations?.[CHANGED_BY] || undefined;

interface Owned extends Annotated {
  metadata?: Annotated['metadata'] & { ownerReferences?: Array<{ kind: string; name: string; apiVersion: string }> };
}

/**
 * Who asked for an invitation: the creator of its Membership (operator-made invitations for
 * a Membership), of its Team (the owner's invitation), or of the Invitation itself.
 */
export function requesterOf(
  invitation: Owned,
  lookup: { membership: (name: string) => Annotated | undefined; team: Annotated | undefined },
): string | undefined {
  const refs = (invitation.metadata?.ownerReferences ?? []).filter((r) => r.apiVersion.startsWith('roster.dev/'));
  const membershipRef = refs.find((r) => r.kind === 'Membership');
  if (membershipRef) return createdBy(lookup.membership(membershipRef.name)) ?? createdBy(invitation);
  if (refs.some((r) => r.kind === 'Team')) return createdBy(lookup.team) ?? createdBy(invitation);
  return createdBy(invitation);
}

/** The requester as an invitation's `inviter`: a person's name, not a service account or system user (GitOps controllers, the operator). */
export function asInviter(requester: string | undefined): string | undefined {
  return requester && !requester.startsWith('system:') ? requester : undefined;
}
