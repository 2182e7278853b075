// The shared caches every controller, the webhook and the accept page read, with the indexes
// their lookups use (src/api/indexes.ts names them). One informer per kind and label selector.
import type { AccessKey, Invitation, Membership, Project, Team } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import { MANAGED_BY, type RoleBinding } from '../backends/identity/kubernetes.ts';
import { ACCESS_KEY_LABEL } from '../domain/access-keys.ts';
import type { KubeObject } from '../runtime/kube-client.ts';
import type { Manager } from '../runtime/manager.ts';
import { LEDGER_SELECTOR, type ConfigMap } from '../seats/ledger.ts';
import { keyOwnerIndexValue } from './access-key/gather.ts';
import { index, teamKeyOf, type Caches } from './context.ts';
import { teamEmailKey } from '../api/indexes.ts';
import { normalizeEmail } from '../domain/email.ts';

const byTeam = (o: { metadata: { namespace?: string }; spec: { team: string } }): string[] => [teamKeyOf(o)];

/** The invitations of a Membership: the ones it owns, and the one accepted into it. */
function membershipsOfInvitation(i: Invitation): string[] {
  const owners = (i.metadata.ownerReferences ?? []).filter((o) => o.kind === 'Membership').map((o) => `${i.metadata.namespace}/${o.name}`);
  if (i.status?.membership) owners.push(`${i.metadata.namespace}/${i.status.membership}`);
  return [...new Set(owners)];
}

export function createCaches(manager: Manager): Caches {
  return {
    teams: manager.informer<Team>(resources.team, { indexers: { [index.byNamespace]: (t) => [t.metadata.namespace ?? ''] } }),
    memberships: manager.informer<Membership>(resources.membership, {
      // The webhook's "this person already has a Membership" check, without walking the team.
      indexers: { [index.byTeam]: byTeam, [index.byTeamEmail]: (m) => [teamEmailKey(m.metadata.namespace, m.spec.team, normalizeEmail(m.spec.email))] },
    }),
    invitations: manager.informer<Invitation>(resources.invitation, {
      indexers: {
        [index.byTeam]: byTeam,
        [index.byMembership]: membershipsOfInvitation,
        // The few a Membership event wakes, without walking the team's every invitation.
        [index.unownedByTeam]: (i) => ((i.metadata.ownerReferences ?? []).length === 0 ? byTeam(i) : []),
        [index.byLinkHash]: (i) => (i.status?.link?.hash ? [i.status.link.hash] : []),
      },
    }),
    projects: manager.informer<Project>(resources.project, {
      indexers: { [index.byTeam]: byTeam, [index.byEnvironmentNamespace]: (p) => [...new Set((p.spec?.environments ?? []).map((e) => e.namespace))] },
    }),
    roleBindings: manager.informer<RoleBinding>(resources.roleBinding, { labelSelector: `${MANAGED_BY}=roster` }),
    namespaces: manager.informer<KubeObject>(resources.namespace),
    accessKeys: manager.informer<AccessKey>(resources.accessKey, {
      indexers: {
        [index.byTeam]: byTeam,
        [index.byKeyOwner]: (k) => (k.spec?.owner ? [keyOwnerIndexValue(k.metadata.namespace ?? '', k.spec.team, k.spec.owner)] : []),
      },
    }),
    serviceAccounts: manager.informer<KubeObject>(resources.serviceAccount, { labelSelector: ACCESS_KEY_LABEL }),
    roles: manager.informer<KubeObject>(resources.role, { labelSelector: ACCESS_KEY_LABEL }),
    seatLedgers: manager.informer<ConfigMap>(resources.configMap, { labelSelector: LEDGER_SELECTOR }),
  };
}
