// Builds the operator from its configuration: caches, controllers, backends, the accept
// page, probes. src/main.ts only calls this.
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { createAdmission, type Admission } from './admission/index.ts';
import type { Invitation, Membership, Project, Team } from './api/generated.ts';
import { resources } from './api/resources.ts';
import { GRANT_ANNOTATION, MANAGED_BY, teamClusterRoleObjects, type RoleBinding } from './backends/identity/kubernetes.ts';
import { createIdentityBackends } from './backends/identity/registry.ts';
import { createMailBackend, loadInvitationTemplates } from './backends/mail/registry.ts';
import type { MailBackend } from './backends/mail/types.ts';
import type { RosterConfig } from './config.ts';
import { sameEmail } from './domain/email.ts';
import { index, teamKeyOf, type AuditEntry, type Caches, type OperatorContext } from './controllers/context.ts';
import { reconcileInvitation } from './controllers/invitation.ts';
import { grantKey, reconcileMembership } from './controllers/membership.ts';
import { reconcileProject } from './controllers/project.ts';
import { OWNER_GRANT, reconcileTeam } from './controllers/team.ts';
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
  /** The admission webhook (served on every replica), unless webhook.enabled is false. */
  admission?: Admission;
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

  // Identity backends by name (src/backends/identity/registry.ts). Group-based backends keep
  // access per person, so removing one grant must not strip a person who holds another one in
  // the team (the owner with a superseded Membership during an ownership transfer).
  const backends = createIdentityBackends(config.identityBackends, {
    kubernetes: { client, roleBindings: caches.roleBindings, clusterRoles: config.roleBindings },
    logger,
    holdsOtherGrant: (team, key, person) => {
      const t = caches.teams.get(team.namespace, team.name);
      if (!t || t.metadata.deletionTimestamp) return false;
      if (key !== OWNER_GRANT && sameEmail(t.spec.owner.email, person.email) && t.status?.owner?.phase === 'Active') return true;
      return caches.memberships
        .byIndex(index.byTeam, `${team.namespace}/${team.name}`)
        .some((m) => grantKey(m) !== key && !m.metadata.deletionTimestamp && m.status?.phase === 'Active' && sameEmail(m.spec.email, person.email));
    },
  });

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
  const keysOf = (list: KubeObject[]) => list.map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
  const membershipsOfTeam = (e: InformerEvent<KubeObject>) => teamOf(e).flatMap((t) => keysOf(caches.memberships.byIndex(index.byTeam, t)));
  // Team status changes with every member; only spec changes (seats, owner, ttl) and
  // deletion concern a team's memberships and invitations. Fanning out on every status
  // write would make a team of n members cost n² reconciles.
  const specChanged = (e: InformerEvent<KubeObject>) =>
    e.type !== 'updated' || e.old.metadata.generation !== e.object.metadata.generation || e.object.metadata.deletionTimestamp !== e.old.metadata.deletionTimestamp;

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
      watch(caches.teams, (e) => (specChanged(e) ? keysOf(caches.memberships.byIndex(index.byTeam, e.key)) : [])),
      // A membership that goes frees a seat: the ones waiting over the limit get another look.
      watch(caches.memberships, (e) =>
        e.type === 'deleted' ? teamOf(e).flatMap((t) => keysOf(caches.memberships.byIndex(index.byTeam, t).filter((m) => m.status?.phase === 'OverSeatLimit'))) : [],
      ),
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
      watch(caches.teams, (e) => (specChanged(e) ? keysOf(caches.invitations.byIndex(index.byTeam, e.key)) : [])),
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

  const admission = config.webhook.enabled
    ? createAdmission({ config: config.webhook, namespace: config.namespace, port: config.server.webhookPort, host: config.server.host, client, caches, logger, metrics: manager.metrics, now: context.now })
    : undefined;
  if (admission) manager.health.addReadiness('webhook', () => (admission.serving() ? undefined : 'the admission webhook is not serving'));

  return {
    manager,
    acceptPage,
    context,
    ...(admission ? { admission } : {}),
    async start() {
      for (const role of teamClusterRoleObjects()) {
        try {
          await client.apply(resources.clusterRole, role);
        } catch (e) {
          logger.warn({ err: e instanceof Error ? e.message : String(e), role: role.metadata.name }, 'could not apply ClusterRole (the Helm chart installs it)');
        }
      }
      await admission?.start(); // before the manager, on every replica
      await acceptPage.listen(config.server.acceptPort, config.server.host);
      await manager.start();
      logger.info({ identity, acceptPort: acceptPage.port, probesPort: manager.health.port, webhookPort: admission?.port }, 'operator started');
    },
    async stop() {
      // Each step timed in the log, so a slow shutdown says where it waited.
      const step = async (name: string, run: () => Promise<unknown> | undefined) => {
        const started = performance.now();
        await run();
        logger.debug({ step: name, ms: Math.round(performance.now() - started) }, 'shutdown step done');
      };
      await step('controllers', () => manager.stop());
      await step('events', () => events.flush());
      await step('accept page', () => acceptPage.close());
      await step('mail', () => mail.close());
      await step('webhook', () => admission?.stop()); // last: other replicas' (and our own) writes still get admitted while we drain
      client.close();
    },
  };
}
