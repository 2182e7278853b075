// The removal brake (SPEC §8): one bad commit (a deleted folder, a wrong --prune) must not
// take a whole team's access at once. Removals in one team within a window may take access
// from at most a fraction of its active members (and always at least a few people); the
// rest are held — access stays, the Membership stays (finalizer) — until an owner or admin
// releases them. Expiry is intended and never held. Pure: the Team controller, which works
// on one team at a time, decides with it, and `kubectl roster plan` shows the same verdict.
import { createHash } from 'node:crypto';

export interface BrakePolicy {
  /** How far back removals count (default 10 minutes). */
  readonly windowMs: number;
  /** The share of active members that may lose access within the window (default 0.25). */
  readonly maxFraction: number;
  /** Removals always allowed within the window, whatever the fraction says (default 2). */
  readonly minPeople: number;
}

export const DEFAULT_BRAKE: BrakePolicy = { windowMs: 10 * 60_000, maxFraction: 0.25, minPeople: 2 };

/** A removal that already went through, as the Team's status remembers it. */
export interface PastRemoval {
  readonly name: string;
  /** RFC 3339. */
  readonly at: string;
}

/** A Membership on its way out, waiting for the brake. */
export interface PendingRemoval {
  readonly name: string;
  readonly email: string;
  /** When it was asked for (the Membership's deletionTimestamp). */
  readonly requestedAt: string;
  /** The hold id an owner or admin released it with, if any. */
  readonly releasedWith?: string;
}

export interface BrakeInput {
  readonly policy: BrakePolicy;
  /** People with access now (Active Memberships, those on their way out included). */
  readonly activeMembers: number;
  readonly past: readonly PastRemoval[];
  readonly pending: readonly PendingRemoval[];
  readonly now: Date;
  /**
   * The id of the hold in force (the Team's status.removals.holdId). It stays the same while
   * anything is held, so a release that annotates the held Memberships one by one is not
   * undone halfway; a removal asked for later is not annotated, so it stays held.
   */
  readonly holdId?: string;
}

export interface BrakeDecision {
  /** Removals that may proceed now, oldest request first. */
  readonly proceed: readonly PendingRemoval[];
  /** Removals held until released. */
  readonly held: readonly PendingRemoval[];
  /** How many removals the window allows in all, and how many it has left after `proceed`. */
  readonly allowed: number;
  readonly remaining: number;
  /** Identifies the hold: `kubectl roster release` marks exactly the Memberships it saw held with it. */
  readonly holdId?: string;
  /** Past removals still inside the window (what the Team's status keeps). */
  readonly recent: readonly PastRemoval[];
}

/** How many removals the window allows for a team with this many active members. */
export function removalsAllowed(policy: BrakePolicy, activeMembers: number): number {
  return Math.max(policy.minPeople, Math.floor(policy.maxFraction * activeMembers));
}

/** The stricter of the operator's policy and a Team's own (a Team may only tighten it). */
export function stricter(operator: BrakePolicy, team: Partial<BrakePolicy> | undefined): BrakePolicy {
  if (!team) return operator;
  return {
    windowMs: Math.max(operator.windowMs, team.windowMs ?? 0),
    maxFraction: Math.min(operator.maxFraction, team.maxFraction ?? Number.POSITIVE_INFINITY),
    minPeople: Math.min(operator.minPeople, team.minPeople ?? Number.POSITIVE_INFINITY),
  };
}

export function holdIdOf(held: readonly PendingRemoval[]): string | undefined {
  if (held.length === 0) return undefined;
  const names = held.map((h) => h.name).sort();
  return createHash('sha256').update(names.join('\n')).digest('hex').slice(0, 12);
}

export function decideRemovals(input: BrakeInput): BrakeDecision {
  const { policy, now } = input;
  const since = now.getTime() - policy.windowMs;
  const recent = input.past.filter((p) => Date.parse(p.at) > since);
  const allowed = removalsAllowed(policy, input.activeMembers);
  let remaining = Math.max(0, allowed - recent.length);
  const ordered = [...input.pending].sort((a, b) => Date.parse(a.requestedAt) - Date.parse(b.requestedAt) || a.name.localeCompare(b.name));
  const proceed: PendingRemoval[] = [];
  const held: PendingRemoval[] = [];
  for (const removal of ordered) {
    if (input.holdId !== undefined && removal.releasedWith === input.holdId) {
      proceed.push(removal); // an owner or admin saw it held and let it go
    } else if (remaining > 0) {
      proceed.push(removal);
      remaining--;
    } else {
      held.push(removal);
    }
  }
  const holdId = held.length === 0 ? undefined : (input.holdId ?? holdIdOf(held));
  return { proceed, held, allowed, remaining, ...(holdId ? { holdId } : {}), recent };
}
