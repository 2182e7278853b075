// The state of the world an AccessKey decision reads, gathered from the shared caches once
// (no API request), as plain data for the pure planner (plan.ts).
import type { AccessKey } from '../../api/generated.ts';
import type { RoleBinding } from '../../backends/identity/kubernetes.ts';
import { TEAM_NAMESPACE_LABEL } from '../../backends/identity/kubernetes.ts';
import { ACCESS_KEY_LABEL, keyServiceAccountName, ownerStanding } from '../../domain/access-keys.ts';
import { index, teamKeyOf, type OperatorContext } from '../context.ts';
import type { AccessKeyFacts, TokenRole } from './plan.ts';

/** The index value of a key's owner: namespace/team/email in lower case. */
export const keyOwnerIndexValue = (namespace: string, team: string, email: string): string => `${namespace}/${team}/${email.toLowerCase()}`;

export function gatherAccessKey(ctx: OperatorContext, key: AccessKey): AccessKeyFacts {
  const namespace = key.metadata.namespace ?? '';
  const now = ctx.now();
  const team = ctx.caches.teams.get(namespace, key.spec.team);
  const teamKey = teamKeyOf(key);
  const selector = { [ACCESS_KEY_LABEL]: key.metadata.name ?? '', [TEAM_NAMESPACE_LABEL]: namespace };
  const sa = keyServiceAccountName(key.metadata.name ?? '');
  const backend = team ? ctx.accessKeys?.backendOf(team) : undefined;
  return {
    key,
    now,
    ...(team ? { team } : {}),
    ...(backend ? { backend } : {}),
    ...(team && key.spec.owner ? { standing: ownerStanding(team, ctx.caches.memberships.byIndex(index.byTeam, teamKey), key.spec.owner, now) } : {}),
    projects: ctx.caches.projects.byIndex(index.byTeam, teamKey),
    assignment: (ns) => ctx.tenancy.assignment(namespace, ns),
    clusterRoles: ctx.accessKeys?.clusterRoles ?? { admin: 'admin', developer: 'edit', observer: 'view' },
    ...optional('serviceAccount', ctx.caches.serviceAccounts.get(namespace, sa)),
    ...optional('tokenRole', ctx.caches.roles.get(namespace, sa) as TokenRole | undefined),
    bindings: ctx.caches.roleBindings.byLabel(selector) as RoleBinding[],
  };
}

const optional = <K extends string, V>(k: K, v: V | undefined): Partial<Record<K, V>> => (v === undefined ? {} : ({ [k]: v } as Record<K, V>));
