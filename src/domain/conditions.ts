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
export const CONDITION_TYPE_PATTERN =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
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
    lastTransitionTime:
      existing !== undefined && existing.status === input.status ? existing.lastTransitionTime : formatTime(now),
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
  return left.length === right.length && left.every((c, i) => {
    const other = right[i];
    return other !== undefined && conditionEqual(c, other);
  });
}
