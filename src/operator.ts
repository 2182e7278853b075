// Builds the operator from its configuration: caches, controllers, backends, the accept
// page, probes. src/main.ts only calls this.
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Invitation, Membership, Project, Team } from './api/generated.ts';
import { resources } from './api/resources.ts';
import { GRANT_ANNOTATION, KubernetesIdentityBackend, MANAGED_BY, teamClusterRoleObjects, type RoleBinding } from './backends/identity/kubernetes.ts';
import type { IdentityBackend } from './backends/identity/types.ts';
import { createMailBackend, loadInvitationTemplates } from './backends/mail/registry.ts';
import type { MailBackend } from './backends/mail/types.ts';
import type { RosterConfig } from './config.ts';
import { index, teamKeyOf, type AuditEntry, type Caches, type OperatorContext } from './controllers/context.ts';
import { reconcileInvitation } from './controllers/invitation.ts';
import { reconcileMembership } from './controllers/membership.ts';
import { reconcileProject } from './controllers/project.ts';
import { reconcileTeam } from './controllers/team.ts';
import { EventRecorder } from './runtime/events.ts';
import type { InformerEvent } from './runtime/informer.ts';
import { KubeClient, type KubeObject } from './runtime/kube-client.ts';
import { defaultIdentity } from './runtime/leader-election.ts';
import { Manager, ownerKeys, watch } from './runtime/manager.ts';
import { AcceptPage } from './web/accept.ts';

export interface Operator {
  manager: Manager;
  acceptPage: AcceptPage;
  context: OperatorContext;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface OperatorOverrides {
  mail?: MailBackend;
  now?: () => Date;
}

export function kubeConfigFor(config: RosterConfig): KubeConfig {
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();
  return kc;
}

/** Keys of a grant's owner, from the annotation on the RoleBindings the kubernetes backend writes. */
function grantOwnerKeys(event: InformerEvent<KubeObject>): { team?: string; membership?: string } {
  const value = event.object.metadata.annotations?.[GRANT_ANNOTATION];
  if (!value) return {};
  const [namespace, team, ...rest] = value.split('/');
  const key = rest.join('/');
  if (key === 'owner') return { team: `${namespace}/${team}` };
  if (key.startsWith('member:')) return { membership: `${namespace}/${key.slice('member:'.length)}` };
  return {};
}

export function createOperator(config: RosterConfig, logger: Logger, overrides: OperatorOverrides = {}): Operator {
  const identity = config.identity ?? process.env.POD_NAME ?? defaultIdentity();
  const client = new KubeClient(kubeConfigFor(config), { fieldManager: 'roster-operator', userAgent: `roster/${identity}` });
  const manager = new Manager({
    client,
    logger,
    resyncMs: config.resyncMinutes * 60_000,
    probes: { port: config.server.probesPort, host: config.server.host },
    ...(config.leaderElection.enabled
      ? {
          leaderElection: {
            namespace: config.namespace,
            name: config.leaderElection.leaseName,
            identity,
            leaseDurationMs: config.leaderElection.leaseDurationSeconds * 1000,
            renewDeadlineMs: config.leaderElection.renewDeadlineSeconds * 1000,
            retryPeriodMs: config.leaderElection.retryPeriodSeconds * 1000,
          },
        }
      : {}),
  });

  const byTeam = (o: { metadata: { namespace?: string }; spec: { team: string } }) => [teamKeyOf(o)];
  const caches: Caches = {
    teams: manager.informer<Team>(resources.team),
    memberships: manager.informer<Membership>(resources.membership, { indexers: { [index.byTeam]: byTeam } }),
    invitations: manager.informer<Invitation>(resources.invitation, {
      indexers: {
        [index.byTeam]: byTeam,
        [index.byMembership]: (i) => {
          const owners = (i.metadata.ownerReferences ?? []).filter((o) => o.kind === 'Membership').map((o) => `${i.metadata.namespace}/${o.name}`);
          if (i.status?.membership) owners.push(`${i.metadata.namespace}/${i.status.membership}`);
          return [...new Set(owners)];
        },
        [index.byLinkHash]: (i) => (i.status?.link?.hash ? [i.status.link.hash] : []),
      },
    }),
    projects: manager.informer<Project>(resources.project, { indexers: { [index.byTeam]: byTeam } }),
    roleBindings: manager.informer<RoleBinding>(resources.roleBinding, { labelSelector: `${MANAGED_BY}=roster` }),
  };

  const backends = new Map<string, IdentityBackend>();
  for (const [name, backendConfig] of Object.entries(config.identityBackends)) {
    if (backendConfig.type === 'kubernetes') {
      backends.set(name, new KubernetesIdentityBackend({ name, client, roleBindings: caches.roleBindings, clusterRoles: config.roleBindings }));
    } else {
      logger.warn({ backend: name, type: backendConfig.type }, 'identity backend type not available in this build; teams using it report UnknownIdentityBackend');
    }
  }

  const mail = overrides.mail ?? createMailBackend(config.mail, { logger });
  const templates = loadInvitationTemplates(config.mail.templates);
  const events = new EventRecorder({ client, reportingInstance: identity.slice(0, 128), logger });
  const auditLog = logger.child({ stream: 'audit' });
  const context: OperatorContext = {
    client,
    caches,
    logger,
    audit: (entry: AuditEntry) => auditLog.info(entry, `${entry.entity} ${entry.action}`),
    events,
    metrics: manager.metrics,
    mail,
    mailFrom: config.mail.from,
    templates,
    identity: (name) => backends.get(name),
    publicUrl: config.publicUrl,
    now: overrides.now ?? (() => new Date()),
  };

  const teamOf = (e: InformerEvent<KubeObject>) => {
    const o = e.object as unknown as { metadata: { namespace?: string }; spec?: { team?: string } };
    return o.spec?.team ? [`${o.metadata.namespace}/${o.spec.team}`] : [];
  };
  const membershipsOfTeam = (e: InformerEvent<KubeObject>) => teamOf(e).flatMap((t) => caches.memberships.byIndex(index.byTeam, t).map((m) => `${m.metadata.namespace}/${m.metadata.name}`));
  const keysOf = (list: KubeObject[]) => list.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);

  manager.addController({
    name: 'team',
    informer: caches.teams,
    workers: config.workers.team,
    reconcile: (key) => reconcileTeam(context, key),
    watches: [
      watch(caches.memberships, teamOf),
      watch(caches.invitations, teamOf),
      watch(caches.projects, teamOf),
      watch(caches.roleBindings, (e) => [grantOwnerKeys(e).team ?? ''].filter(Boolean)),
    ],
  });
  manager.addController({
    name: 'membership',
    informer: caches.memberships,
    workers: config.workers.membership,
    reconcile: (key) => reconcileMembership(context, key),
    watches: [
      watch(caches.invitations, (e) => [...ownerKeys('Membership')(e), ...((e.object as Invitation).status?.membership ? [`${e.object.metadata.namespace}/${(e.object as Invitation).status!.membership}`] : [])]),
      watch(caches.teams, (e) => keysOf(caches.memberships.byIndex(index.byTeam, e.key))),
      watch(caches.projects, membershipsOfTeam),
      watch(caches.roleBindings, (e) => [grantOwnerKeys(e).membership ?? ''].filter(Boolean)),
    ],
  });
  manager.addController({
    name: 'invitation',
    informer: caches.invitations,
    workers: config.workers.invitation,
    reconcile: (key) => reconcileInvitation(context, key),
    watches: [
      watch(caches.teams, (e) => keysOf(caches.invitations.byIndex(index.byTeam, e.key))),
      watch(caches.memberships, (e) => teamOf(e).flatMap((t) => keysOf(caches.invitations.byIndex(index.byTeam, t).filter((i) => !(i.metadata.ownerReferences ?? []).length)))),
    ],
  });
  manager.addController({
    name: 'project',
    informer: caches.projects,
    workers: config.workers.project,
    reconcile: (key) => reconcileProject(context, key),
    watches: [watch(caches.memberships, (e) => teamOf(e).flatMap((t) => keysOf(caches.projects.byIndex(index.byTeam, t))))],
  });

  const acceptPage = new AcceptPage({
    client,
    invitations: caches.invitations,
    teams: caches.teams,
    hashIndex: index.byLinkHash,
    logger,
    now: context.now,
    onAccepted: (inv) =>
      context.audit({ action: 'accept', entity: 'invitation', team: inv.spec.team, namespace: inv.metadata.namespace ?? '', subject: inv.spec.email, roleAfter: inv.spec.role, actor: inv.spec.email }),
  });

  return {
    manager,
    acceptPage,
    context,
    async start() {
      for (const role of teamClusterRoleObjects()) {
        try {
          await client.apply(resources.clusterRole, role);
        } catch (e) {
          logger.warn({ err: e instanceof Error ? e.message : String(e), role: role.metadata.name }, 'could not apply ClusterRole (the Helm chart installs it)');
        }
      }
      await acceptPage.listen(config.server.acceptPort, config.server.host);
      await manager.start();
      logger.info({ identity, acceptPort: acceptPage.port, probesPort: manager.health.port }, 'operator started');
    },
    async stop() {
      await manager.stop();
      await events.flush();
      await acceptPage.close();
      await mail.close();
      client.close();
    },
  };
}
