// The removal brake in the controllers (SPEC §8). Deleting a Membership asks for its access
// to be removed; the Team controller, which works on one team at a time (so concurrent
// deletions cannot both take the last allowance), decides with the pure brake which removals
// go through now and which are held, and records both in the Team's status. The Membership
// controller removes access only for a removal the Team let through — or one that needs no
// permission: expiry, a Membership that grants nothing, a team without a brake.
import type { Membership, Team, TeamStatus } from '../api/generated.ts';
import { ConditionType, type ConditionInput } from '../domain/conditions.ts';
import { teamBrakePolicy } from '../domain/access-plan.ts';
import { decideRemovals, stricter, type BrakeDecision, type BrakePolicy, type PendingRemoval } from '../domain/removal-brake.ts';
import { formatTime } from '../domain/time.ts';
import { FINALIZER, type OperatorContext } from './context.ts';

import { RELEASE_ANNOTATION } from '../audit/actor.ts';

type Removals = NonNullable<TeamStatus['removals']>;

/** The brake for a team: the operator's, tightened by the Team's own; undefined when off. */
export function brakeFor(ctx: Pick<OperatorContext, 'removalBrake'>, team: Team): BrakePolicy | undefined {
  return ctx.removalBrake ? stricter(ctx.removalBrake, teamBrakePolicy(team)) : undefined;
}

const expired = (m: Membership, now: Date) => m.spec.expiresAt !== undefined && Date.parse(m.spec.expiresAt) <= now.getTime();

/** Whether removing this Membership's access takes access from someone (and so asks the brake). */
export function needsBrake(m: Membership, now: Date): boolean {
  return m.status?.phase === 'Active' && !expired(m, now);
}

/** Whether the Membership controller may remove this (deleted) Membership's access now. */
export function removalLetThrough(ctx: Pick<OperatorContext, 'removalBrake'>, m: Membership, team: Team | undefined, now: Date): boolean {
  if (!team || !brakeFor(ctx, team) || !needsBrake(m, now)) return true;
  return (team.status?.removals?.approved ?? []).includes(m.metadata.name ?? '');
}

export interface RemovalPlan {
  readonly removals: Removals | undefined;
  readonly decision: BrakeDecision | undefined;
  readonly condition: ConditionInput;
  /** A hold that was not there before: worth an Event. */
  readonly newHold: boolean;
}

/** The Team controller's half: which removals go through, which are held, and the status that says so. */
export function planRemovals(ctx: Pick<OperatorContext, 'removalBrake'>, team: Team, memberships: readonly Membership[], now: Date): RemovalPlan {
  const policy = brakeFor(ctx, team);
  const previous = team.status?.removals;
  const leaving = memberships.filter((m) => m.metadata.deletionTimestamp && (m.metadata.finalizers ?? []).includes(FINALIZER) && needsBrake(m, now));
  if (!policy || leaving.length === 0) {
    const recent = policy ? (previous?.recent ?? []).filter((r) => Date.parse(r.at ?? '') > now.getTime() - policy.windowMs) : [];
    return {
      removals: recent.length ? { recent } : undefined,
      decision: undefined,
      condition: { type: ConditionType.RemovalsHeld, status: 'False', reason: 'NoneHeld', message: policy ? 'no removal is held' : 'the removal brake is off' },
      newHold: false,
    };
  }
  const alreadyApproved = new Set(previous?.approved ?? []);
  const pending: PendingRemoval[] = [];
  const approved: string[] = [];
  for (const m of leaving) {
    const name = m.metadata.name ?? '';
    if (alreadyApproved.has(name)) {
      approved.push(name); // let through earlier; its access is being removed
      continue;
    }
    const release = m.metadata.annotations?.[RELEASE_ANNOTATION];
    pending.push({ name, email: m.spec.email, requestedAt: m.metadata.deletionTimestamp ?? formatTime(now), ...(release ? { releasedWith: release } : {}) });
  }
  const active = memberships.filter((m) => m.status?.phase === 'Active').length;
  const past = (previous?.recent ?? []).filter((r): r is { name: string; at: string } => typeof r.name === 'string' && typeof r.at === 'string');
  const decision = decideRemovals({ policy, activeMembers: active, past, pending, now, ...(previous?.holdId ? { holdId: previous.holdId } : {}) });
  const at = formatTime(now);
  const recent = [...decision.recent, ...decision.proceed.map((p) => ({ name: p.name, at }))];
  approved.push(...decision.proceed.map((p) => p.name));
  const removals: Removals = {
    recent,
    ...(approved.length ? { approved: approved.sort() } : {}),
    ...(decision.held.length ? { held: decision.held.map((h) => ({ name: h.name, email: h.email, requestedAt: h.requestedAt })) } : {}),
    ...(decision.holdId ? { holdId: decision.holdId } : {}),
  };
  const names = decision.held.map((h) => `${h.email} (${h.name})`);
  const condition: ConditionInput = decision.held.length
    ? {
        type: ConditionType.RemovalsHeld,
        status: 'True',
        reason: 'RemovalsHeld',
        message: `${decision.held.length} removal(s) held by the removal brake (at most ${decision.allowed} of ${active} active members may lose access within ${Math.round(policy.windowMs / 60_000)} min): ${names.join(', ')}; their access stays until an owner or admin releases them: kubectl roster release ${team.metadata.name} -n ${team.metadata.namespace}`,
      }
    : { type: ConditionType.RemovalsHeld, status: 'False', reason: 'NoneHeld', message: 'no removal is held' };
  const heldBefore = new Set((previous?.held ?? []).map((h) => h.name));
  return { removals, decision, condition, newHold: decision.held.some((h) => !heldBefore.has(h.name)) };
}
