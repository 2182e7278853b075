// Admission of AccessKeys (SPEC §9): the owner is the requester (stamped by the mutating
// webhook, checked again here), only an Active owner or admin of the team creates keys, a
// key asks for no more than its owner holds, in no namespace the team was not assigned,
// and for at most accessKeys.maxLifetimeDays. Pure, like validators.ts.
import type { AccessKey, Team } from '../api/generated.ts';
import { effectiveKeyRights, emailOfUser, keyExcess, keyExpiryProblem, mayCreateKeys, ownerStanding, type KeyBackend } from '../domain/access-keys.ts';
import { sameEmail } from '../domain/email.ts';
import { accessTargets, isUnscoped, scopeReferenceProblems } from '../domain/scope.ts';
import { namespaceAssignment } from '../tenancy/namespaces.ts';
import type { JsonPatchOperation } from './review.ts';
import type { AdmissionView, Change, RuleContext, Verdict } from './validators.ts';

export interface AccessKeyPolicy {
  readonly maxLifetimeDays: number;
  /** Whether the operator writes RBAC for the team, and how its people are named (src/domain/access-keys.ts). */
  readonly backendOf: (team: Team) => KeyBackend;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const denied = (problems: readonly string[]): Verdict => ({ allowed: false, message: problems.join('; ') });

/**
 * The mutating webhook's part: on create, spec.owner becomes the requester's email (whatever
 * was written); on an update that drops it, it is put back (it is immutable).
 */
export function ownerPatch(
  operation: 'CREATE' | 'UPDATE',
  object: unknown,
  oldObject: unknown,
  username: string,
  team: Team | undefined,
  policy: AccessKeyPolicy | undefined,
): JsonPatchOperation[] {
  if (!isRecord(object) || !isRecord(object.spec)) return [];
  const current = object.spec.owner;
  let wanted: unknown;
  if (operation === 'CREATE') {
    const backend = team && policy ? policy.backendOf(team) : undefined;
    wanted = backend?.kind === 'kubernetes' ? emailOfUser(username, backend.userPrefix) : undefined;
  } else {
    wanted = isRecord(oldObject) && isRecord(oldObject.spec) ? oldObject.spec.owner : undefined;
    if (current !== undefined) return []; // a change is the validating webhook's to refuse
  }
  if (wanted === current) return [];
  if (typeof wanted !== 'string') return current === undefined ? [] : [{ op: 'remove', path: '/spec/owner' }];
  return [{ op: current === undefined ? 'add' : 'replace', path: '/spec/owner', value: wanted }];
}

export function validateAccessKey(change: Change<AccessKey>, view: AdmissionView, ctx: RuleContext, policy: AccessKeyPolicy | undefined): Verdict {
  const key = change.object;
  if (!isRecord(key) || !isRecord(key.spec) || typeof key.spec.team !== 'string' || typeof key.spec.role !== 'string') {
    return denied(['the AccessKey needs spec.team, spec.role and spec.expiresAt']);
  }
  if (change.operation === 'UPDATE') return validateKeyUpdate(change);
  if (!policy) return denied(['access keys are not enabled in this operator (no accessKeys policy); ask the platform team']);
  const team = view.team;
  if (!team)
    return denied([`team ${key.spec.team} does not exist in namespace ${key.metadata.namespace ?? '(none)'}; create the Team first, or fix spec.team`]);
  const teamName = team.metadata.name ?? key.spec.team;
  const backend = policy.backendOf(team);
  if (backend.kind !== 'kubernetes') return denied([backend.message]);

  const requester = emailOfUser(change.user.username, backend.userPrefix);
  if (requester === undefined) {
    return denied([
      `only a person of team ${teamName} (an Active owner or admin) may create an access key, and ${change.user.username} is not one; create it as yourself`,
    ]);
  }
  if (key.spec.owner === undefined) return denied(['spec.owner was not stamped by the roster mutating webhook; retry in a moment']);
  if (!sameEmail(key.spec.owner, requester)) {
    return denied([`spec.owner must be the person creating the key (${requester}), not ${key.spec.owner}; keys always act for whoever creates them`]);
  }
  const standing = ownerStanding(team, view.memberships, requester, ctx.now);
  if (standing.kind !== 'active') return denied([`${standing.message}; only an Active owner or admin of team ${teamName} may create access keys`]);
  if (!mayCreateKeys(standing.rights.role)) {
    return denied([
      `${requester} is ${standing.rights.role} in team ${teamName}; only the owner or an admin may create access keys (API keys are security settings): ask one of them`,
    ]);
  }

  const problems: string[] = [];
  const expiry = keyExpiryProblem(key.spec.expiresAt, ctx.now, policy.maxLifetimeDays, standing.expiresAt);
  if (expiry) problems.push(expiry);
  problems.push(...scopeReferenceProblems(key.spec.projects, view.projects));
  const excess = keyExcess(key.spec, standing.rights);
  if (excess.length > 0) problems.push(`the key asks for more than its owner ${requester} has (${standing.source}): ${excess.join('; ')}`);
  if (problems.length) return denied(problems);

  // Every environment the key would reach must be one the platform assigned to the team.
  const effective = effectiveKeyRights(key.spec, standing.rights);
  const warnings: string[] = [];
  if (ctx.tenancy && effective) {
    for (const target of accessTargets(effective.role, effective.projects, view.projects)) {
      const facts = view.namespaces?.get(target.namespace) ?? { labels: undefined, holdsTeam: false };
      const verdict = namespaceAssignment(ctx.tenancy, key.metadata.namespace ?? '', target.namespace, facts);
      const where = `environment ${target.project}/${target.environment}`;
      // Named in spec.projects: refused. Reached only because the key is unscoped: the key
      // gets nothing there (the controller binds assigned namespaces only), and says so.
      if (verdict.kind === 'refused' && !isUnscoped(key.spec.projects))
        problems.push(`${where}: ${verdict.message}; narrow spec.projects to assigned environments`);
      else if (verdict.kind !== 'assigned') warnings.push(`${where}: ${verdict.message}; the key gets no access there`);
    }
  }
  return problems.length ? denied(problems) : { allowed: true, warnings };
}

/** Updates: team and owner stay (CEL says so too); a new expiry obeys the same limit. */
function validateKeyUpdate(change: Change<AccessKey>): Verdict {
  const old = change.oldObject;
  const key = change.object;
  if (!old || !isRecord(old.spec)) return denied(['malformed admission request: an update of an AccessKey without the old object']);
  const problems: string[] = [];
  if (key.spec.team !== old.spec.team) problems.push('spec.team is immutable; create a new key in the other team instead');
  if (key.spec.owner !== old.spec.owner) {
    problems.push(
      `spec.owner is immutable (it is ${old.spec.owner ?? 'unset'}); a key acts for whoever created it: create a new key as the other person instead`,
    );
  }
  if (key.spec.expiresAt !== old.spec.expiresAt) {
    problems.push('spec.expiresAt cannot be moved; create a new key (the owner mints tokens for it the same way) and revoke this one');
  }
  if (key.spec.role !== old.spec.role && key.spec.role === 'developer') {
    problems.push('a key cannot be raised to developer after creation; create a new key instead');
  } else {
    // Admission checked the request against its owner once, at creation: an update may only
    // narrow it, or an admin could widen a colleague's key without that person asking.
    const widened = keyExcess(
      { role: key.spec.role, ...(key.spec.projects ? { projects: key.spec.projects } : {}) },
      { role: old.spec.role, projects: old.spec.projects },
    );
    if (widened.length > 0) {
      const phrases = widened.map((w) =>
        w
          .replace("outside the owner's scope", 'beyond what the key asked for')
          .replace('where the owner has only', 'where the key had only')
          .replace('where the owner is scoped to', 'where the key was scoped to'),
      );
      problems.push(`an update may only narrow a key's projects: ${phrases.join('; ')}; create a new key for more`);
    }
  }
  if (problems.length) return denied(problems);
  // Narrowing the request (fewer projects, observer) is fine: the controller intersects again.
  return { allowed: true, warnings: [] };
}
