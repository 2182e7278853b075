// The one interface every identity backend implements. Adapters translate a person's
// desired access into the backend's terms (RoleBindings, groups, entries); they don't
// decide policy — the controllers compute the grant from the manifests.
import { untilAborted } from '../../runtime/abort.ts';
import type { Role } from '../../domain/roles.ts';

export interface Person {
  email: string;
  name?: string;
}

/** An environment a grant covers: the project and environment name, and its namespace. */
export interface ScopeTarget {
  project: string;
  environment: string;
  namespace: string;
}

export interface TeamRef {
  namespace: string;
  name: string;
}

/**
 * What one person should have in one team. `key` identifies the grant across reconciles
 * (the owner, or a Membership by name); `targets` are the environments the role applies
 * in (empty for roles that get nothing in project namespaces, such as billing).
 */
export interface Grant {
  team: TeamRef;
  key: string;
  person: Person;
  role: Role;
  targets: ScopeTarget[];
  /** The Membership lists projects (a scoped developer or observer): targets are its whole reach. */
  scoped?: boolean;
}

export interface EnsureResult {
  /** The person's identifier in the backend. */
  subject: string;
  /** Human-readable changes made, empty when the backend already matched. */
  changes: string[];
}

/** A failure talking to a backend; `retryable` failures are retried with backoff. */
export class IdentityBackendError extends Error {
  readonly retryable: boolean;
  readonly reason: string;
  constructor(reason: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'IdentityBackendError';
    this.reason = reason;
    this.retryable = options.retryable ?? true;
  }
}

/**
 * Per call: `signal` aborts when the reconcile is cancelled (the operator stops and its
 * shutdown deadline has passed). Adapters then start nothing new, give up what is in flight
 * and reject with a retryable `Cancelled` error; the next reconcile, here or on the next
 * leader, does the whole call again (ensure and remove are idempotent).
 */
export interface CallOptions {
  signal?: AbortSignal;
}

/** The error a cancelled call rejects with. */
export function cancelledError(what: string, cause?: unknown): IdentityBackendError {
  return new IdentityBackendError('Cancelled', `${what} was cancelled: the operator is stopping; the next reconcile does it again`, { retryable: true, cause });
}

/** Throws the Cancelled error when `signal` has aborted: call before each step that talks to the backend. */
export function throwIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cancelledError(what, signal.reason);
}

/**
 * `work`, or the Cancelled error as soon as `signal` aborts, for calls that cannot take a
 * signal themselves (the work goes on in the background; the adapter closes its connection).
 */
export async function unlessCancelled<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  return signal ? await untilAborted(work, signal, () => cancelledError(what, signal.reason)) : await work;
}

export interface IdentityBackend {
  readonly name: string;
  readonly type: 'kubernetes' | 'keycloak' | 'ldap' | 'scim';
  /**
   * Makes the person's access in the team exactly `grant`: creates or links the person,
   * adds what is missing, removes what Roster manages and the grant no longer covers.
   * Must read before removing and throw when the read fails or is partial: a failed read
   * never turns into removals.
   */
  ensure(grant: Grant, options?: CallOptions): Promise<EnsureResult>;
  /** Removes every access Roster manages for this grant key; the person's account stays. */
  remove(team: TeamRef, key: string, person: Person, options?: CallOptions): Promise<string[]>;
}
