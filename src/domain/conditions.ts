// metav1.Condition, the one helper (DESIGN: one way to do each thing). Conditions are kept
// as a list keyed by type: existing entries keep their place, new ones are appended, and
// lastTransitionTime moves only when the status flips — so a reconcile that finds nothing
// new produces an identical list and the status writer writes nothing.

import type { Condition } from '../api/generated.ts';
import { formatTime } from './time.ts';

/** The condition types the CRDs document. */
export const ConditionType = {
  Ready: 'Ready',
  SeatsAvailable: 'SeatsAvailable',
  OwnerActive: 'OwnerActive',
  Accepted: 'Accepted',
  IdentitySynced: 'IdentitySynced',
  Delivered: 'Delivered',
  EnvironmentsAssigned: 'EnvironmentsAssigned',
  /** The removal brake holds deletions in this team (SPEC §8). */
  RemovalsHeld: 'RemovalsHeld',
  /** kstatus: the operator is still working on this object (abnormal-true; absent otherwise). */
  Reconciling: 'Reconciling',
  /** kstatus: the operator cannot go on without a person (abnormal-true; absent otherwise). */
  Stalled: 'Stalled',
} as const;

export type ConditionStatus = Condition['status'];

export interface ConditionInput {
  readonly type: string;
  readonly status: ConditionStatus;
  /** CamelCase programmatic reason; must match REASON_PATTERN. */
  readonly reason: string;
  readonly message: string;
}

/** The API's pattern for reasons (the CRDs carry it; the API server refuses anything else). */
export const REASON_PATTERN = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
/** The API's pattern for condition types. */
export const CONDITION_TYPE_PATTERN = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const MAX_REASON = 1024;
const MAX_TYPE = 316;
/** The API's limit on messages; longer ones are cut (a status write must not fail on a long backend error). */
export const MAX_CONDITION_MESSAGE = 32768;

export function isValidReason(reason: string): boolean {
  return reason.length <= MAX_REASON && REASON_PATTERN.test(reason);
}

function truncateMessage(message: string): string {
  if (message.length <= MAX_CONDITION_MESSAGE) return message;
  const marker = '… (truncated)';
  return message.slice(0, MAX_CONDITION_MESSAGE - marker.length) + marker;
}

/**
 * Returns a NEW list with the condition set. Throws on a reason or type the API would
 * refuse (a programming error, better caught in tests than by a failing status write).
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  observedGeneration: number | undefined,
  now: Date,
): Condition[] {
  if (!isValidReason(input.reason)) {
    throw new Error(`condition reason ${JSON.stringify(input.reason)} must be CamelCase matching ${REASON_PATTERN.source}`);
  }
  if (input.type.length > MAX_TYPE || !CONDITION_TYPE_PATTERN.test(input.type)) {
    throw new Error(`condition type ${JSON.stringify(input.type)} is not a valid condition type`);
  }
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === input.type);
  const existing = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
    lastTransitionTime: existing !== undefined && existing.status === input.status ? existing.lastTransitionTime : formatTime(now),
    reason: input.reason,
    message: truncateMessage(input.message),
  };
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}

/** Returns a NEW list without the condition of that type. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}

export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === 'True';
}

export function isFalse(conditions: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === 'False';
}

function conditionEqual(a: Condition, b: Condition): boolean {
  return (
    a.type === b.type &&
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.observedGeneration === b.observedGeneration &&
    a.lastTransitionTime === b.lastTransitionTime
  );
}

/**
 * Whether two condition lists are the same, every field and the order included (the
 * status writer's "did it change" check). Absent and empty lists are equal: both say
 * "no conditions", and writing one over the other would only churn.
 */
export function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const left = a ?? [];
  const right = b ?? [];
  return (
    left.length === right.length &&
    left.every((c, i) => {
      const other = right[i];
      return other !== undefined && conditionEqual(c, other);
    })
  );
}

// ---------------------------------------------------------------------------------------
// Readiness: one meaning of Ready on every kind, and kstatus' Reconciling/Stalled from it.
//
// Ready=True means "settled": the operator has done everything the object's spec asks and
// nothing is wrong (kstatus Current). Ready=False means it is either still working
// (Reconciling=True, kstatus InProgress) or cannot go on until a person acts (Stalled=True,
// kstatus Failed). Whether a person *has access* is not Ready's business: phase and the
// Accepted / OwnerActive / IdentitySynced / Delivered conditions say that.
//
// Waiting for a person to accept an invitation is settled (Current), not progress: the
// operator has mailed the link and has nothing left to do; acceptance happens outside the
// cluster and may take days. Reporting it as InProgress would hold a Flux Kustomization
// with `wait: true` (and Argo CD's sync) until its timeout and then call it failed,
// although nothing failed. The same goes for a revoked invitation and a Membership past
// its expiresAt: both are the state their spec asked for.
//
// kstatus reads Reconciling/Stalled first and, for objects that show neither as True,
// falls back to Ready (True = Current, otherwise InProgress); so Ready must be True exactly
// when both are absent, which setConditions guarantees.
// ---------------------------------------------------------------------------------------

/** How kstatus should see an object: still being worked on, stuck on a person, or settled. */
export type Readiness = 'progress' | 'stalled' | 'current';

/** The kinds whose status carries Ready. */
export type RosterKind = 'Team' | 'Membership' | 'Invitation' | 'Project' | 'AccessKey';

/**
 * Every Ready reason the operator writes, classified. A reason not listed falls back on
 * Ready's status (True = current, otherwise progress: the controller retries errors it
 * cannot name, so "still working" is the honest answer).
 */
export const readyReasons: Readonly<Record<string, Readiness>> = {
  // Settled.
  Reconciled: 'current',
  Active: 'current',
  Pending: 'current', // an Invitation mailed and waiting for its person
  AwaitingAcceptance: 'current', // a Membership (or a Team's owner) waiting for its person
  Accepted: 'current',
  Revoked: 'current', // spec.revoked: true, as declared
  Expired: 'current', // a Membership past spec.expiresAt, as declared (Invitation: see below)
  Superseded: 'current', // a Membership whose person became the owner: ownership covers it
  // Still working: retried with backoff, or waiting on something that arrives by itself.
  Reconciling: 'progress',
  Sending: 'progress',
  SendFailed: 'progress',
  NamespaceMissing: 'progress', // GitOps may create the namespace in the same sync
  Unreachable: 'progress',
  Timeout: 'progress',
  ServerError: 'progress',
  RateLimited: 'progress',
  PreconditionFailed: 'progress',
  NotFound: 'progress',
  Conflict: 'progress',
  PartialRead: 'progress',
  InvalidResponse: 'progress',
  BackendError: 'progress',
  CacheNotSynced: 'progress',
  CredentialsUnavailable: 'progress', // retried: a mounted Secret may appear
  Cancelled: 'progress', // the reconcile was cancelled (shutdown); the next leader retries
  // Stuck until a person acts (the message says what to do).
  TeamNotFound: 'stalled',
  UnknownIdentityBackend: 'stalled',
  OverSeatLimit: 'stalled',
  NamespaceTaken: 'stalled',
  NamespaceNotAssigned: 'stalled',
  RemovalsHeld: 'stalled', // an owner or admin must release (or undo) a mass removal
  RemovalHeld: 'stalled', // a Membership whose removal the brake holds
  QuotaExceeded: 'stalled',
  SendRejected: 'stalled',
  // Access keys (SPEC §9): suspended until the owner is Active again or a person changes something.
  OwnerInactive: 'stalled',
  OutsideOwnerRights: 'stalled',
  KeysUnsupported: 'stalled',
  // Identity backend refusals (IdentityBackendError reasons that are not retried).
  Rejected: 'stalled',
  Unauthorized: 'stalled',
  Forbidden: 'stalled',
  InvalidCredentials: 'stalled',
  GroupNameTaken: 'stalled',
  AmbiguousPerson: 'stalled',
  AmbiguousGroup: 'stalled',
  Unsupported: 'stalled',
};

/** Where a kind reads a reason differently from the table above. */
const readyReasonsByKind: Readonly<Partial<Record<RosterKind, Readonly<Record<string, Readiness>>>>> = {
  // An expired link cannot be accepted: someone has to resend it (the message says how).
  Invitation: { Expired: 'stalled' },
};

/** How kstatus should see an object whose Ready condition has this reason (and status). */
export function readinessOf(kind: RosterKind, ready: Pick<Condition, 'status' | 'reason'>): Readiness {
  return readyReasonsByKind[kind]?.[ready.reason] ?? readyReasons[ready.reason] ?? (ready.status === 'True' ? 'current' : 'progress');
}

/** A Ready input with its status made to agree with its reason (True exactly when settled). */
export function normalizeReady(kind: RosterKind, input: ConditionInput): ConditionInput {
  if (input.type !== ConditionType.Ready) return input;
  const status: ConditionStatus = readinessOf(kind, input) === 'current' ? 'True' : 'False';
  return status === input.status ? input : { ...input, status };
}

/**
 * Returns a NEW list with Reconciling and Stalled derived from Ready: the one that applies
 * is True with Ready's reason and message, the other is removed; both are removed when the
 * object is settled (kstatus' conditions are abnormal-true). Without Ready (the controller
 * has not decided anything yet) the list is returned unchanged.
 */
export function withKstatusConditions(
  kind: RosterKind,
  conditions: readonly Condition[] | undefined,
  observedGeneration: number | undefined,
  now: Date,
): Condition[] {
  const ready = getCondition(conditions, ConditionType.Ready);
  if (!ready) return [...(conditions ?? [])];
  const readiness = readinessOf(kind, ready);
  let list = removeCondition(conditions, readiness === 'progress' ? ConditionType.Stalled : ConditionType.Reconciling);
  if (readiness === 'current') return removeCondition(list, ConditionType.Stalled);
  const type = readiness === 'progress' ? ConditionType.Reconciling : ConditionType.Stalled;
  list = setCondition(list, { type, status: 'True', reason: ready.reason, message: ready.message }, observedGeneration, now);
  return list;
}

/**
 * What an Invitation's failed delivery means for Ready: the mail is what the invitation is
 * for, so Delivered=False (SendFailed, SendRejected, QuotaExceeded) makes Ready False with
 * the same reason and message. Sending, an unconfirmed delivery and a deferred resend
 * (Delivered=Unknown) leave Ready as it was: the link that went out still works.
 */
function impliedInputs(kind: RosterKind, input: ConditionInput): ConditionInput[] {
  if (kind === 'Invitation' && input.type === ConditionType.Delivered && input.status === 'False') {
    return [input, { type: ConditionType.Ready, status: 'False', reason: input.reason, message: input.message }];
  }
  return [input];
}

/**
 * Sets each condition in turn (Ready's status made to agree with its reason), then derives
 * Reconciling and Stalled: the way controllers write conditions, so every kind carries the
 * same three.
 */
export function setConditions(
  kind: RosterKind,
  conditions: readonly Condition[] | undefined,
  inputs: readonly ConditionInput[],
  observedGeneration: number | undefined,
  now: Date,
): Condition[] {
  let list = conditions ? [...conditions] : undefined;
  for (const input of inputs.flatMap((i) => impliedInputs(kind, i))) list = setCondition(list, normalizeReady(kind, input), observedGeneration, now);
  return withKstatusConditions(kind, list, observedGeneration, now);
}
