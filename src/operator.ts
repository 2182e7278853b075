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
import { insecureTransports, type RosterConfig } from './config.ts';
import { parseDuration } from './domain/duration.ts';
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
import { Metrics } from './runtime/metrics.ts';
import { SecureMetricsServer } from './runtime/metrics-server.ts';
import { generateCa, issueServingCertificate } from './admission/certificates.ts';
import { TenancyView } from './tenancy/view.ts';
import { AcceptPage } from './web/accept.ts';
import { recordChange } from './audit/record.ts';
import { RosterMetrics } from './metrics.ts';

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
  // Made first so the client's rest_client_* series land in the registry /metrics serves.
  const metrics = new Metrics();
  const client = new KubeClient(kubeConfigFor(config), { fieldManager: 'roster-operator', userAgent: `roster/${identity}`, metrics: metrics.clientSink() });
  const manager = new Manager({
    client,
    logger,
    metrics,
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
    teams: manager.informer<Team>(resources.team, { indexers: { [index.byNamespace]: (t) => [t.metadata.namespace ?? ''] } }),
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
    projects: manager.informer<Project>(resources.project, {
      indexers: { [index.byTeam]: byTeam, [index.byEnvironmentNamespace]: (p) => [...new Set((p.spec?.environments ?? []).map((e) => e.namespace))] },
    }),
    roleBindings: manager.informer<RoleBinding>(resources.roleBinding, { labelSelector: `${MANAGED_BY}=roster` }),
    namespaces: manager.informer<KubeObject>(resources.namespace),
  };
  const tenancy = new TenancyView({ namespaceLabel: config.tenancy.namespaceLabel, operatorNamespace: config.namespace }, caches.namespaces, {
    inNamespace: (namespace) => caches.teams.byIndex(index.byNamespace, namespace),
    hasSynced: () => caches.teams.hasSynced(),
  });

  // Identity backends by name (src/backends/identity/registry.ts). Group-based backends keep
  // access per person, so removing one grant must not strip a person who holds another one in
  // the team (the owner with a superseded Membership during an ownership transfer).
  const backends = createIdentityBackends(config.identityBackends, {
    kubernetes: {
      client,
      roleBindings: caches.roleBindings,
      clusterRoles: config.roleBindings,
      assignment: (control, namespace) => tenancy.assignment(control, namespace),
    },
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
    metrics: new RosterMetrics(manager.metrics.registry),
    mail,
    mailFrom: config.mail.from,
    mailLimits: { resendCooldownSeconds: config.mail.resendCooldownSeconds, dailyQuotaPerTeam: config.mail.dailyQuotaPerTeam },
    templates,
    identity: (name) => backends.get(name),
    publicUrl: config.publicUrl,
    now: overrides.now ?? (() => new Date()),
    tenancy,
    seatReservationMs: config.webhook.seatReservationSeconds * 1000,
    ...(config.removalBrake.enabled
      ? {
          removalBrake: {
            windowMs: parseDuration(config.removalBrake.window),
            maxFraction: config.removalBrake.maxFraction,
            minPeople: config.removalBrake.minPeople,
          },
        }
      : {}),
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
  // A namespace's assignment label decides who may reach it: when it changes, the teams it
  // named before and after (and a team created in a namespace assigned to another) look again.
  const teamsOfControlNamespaces = (controlNamespaces: string[]) => controlNamespaces.flatMap((ns) => keysOf(caches.teams.byIndex(index.byNamespace, ns)));
  const assignmentChanged = (e: InformerEvent<KubeObject>) =>
    TenancyView.labelChanged(
      tenancy.policy,
      e.type === 'updated' ? e.old : e.type === 'added' ? undefined : e.object,
      e.type === 'deleted' ? undefined : e.object,
    );
  const teamsReachingNamespace = (e: InformerEvent<KubeObject>) => {
    const label = caches.namespaces.get(undefined, e.object.metadata.namespace ?? '')?.metadata.labels?.[tenancy.policy.namespaceLabel];
    return e.type === 'added' || e.type === 'deleted' ? teamsOfControlNamespaces(label ? [label] : []) : [];
  };
  const newlyApproved = (before: Team, after: Team) => {
    const was = new Set(before.status?.removals?.approved ?? []);
    return (after.status?.removals?.approved ?? []).filter((n) => !was.has(n));
  };
  const specChanged = (e: InformerEvent<KubeObject>) =>
    e.type !== 'updated' ||
    e.old.metadata.generation !== e.object.metadata.generation ||
    e.object.metadata.deletionTimestamp !== e.old.metadata.deletionTimestamp;

  manager.addController({
    name: 'team',
    informer: caches.teams,
    workers: config.workers.team,
    reconcile: (key, signal) => reconcileTeam({ ...context, signal }, key),
    watches: [
      watch(caches.memberships, teamOf),
      watch(caches.invitations, teamOf),
      watch(caches.projects, teamOf),
      watch(caches.roleBindings, (e) => [grantOwnerKeys(e).team ?? ''].filter(Boolean)),
      watch(caches.namespaces, (e) => teamsOfControlNamespaces(assignmentChanged(e))),
      watch(caches.teams, teamsReachingNamespace),
      // The team that holds a namespace goes: a second one waiting there gets its turn.
      watch(caches.teams, (e) => (e.type === 'deleted' ? teamsOfControlNamespaces([e.object.metadata.namespace ?? '']) : [])),
    ],
  });
  manager.addController({
    name: 'membership',
    informer: caches.memberships,
    workers: config.workers.membership,
    reconcile: (key, signal) => reconcileMembership({ ...context, signal }, key),
    watches: [
      watch(caches.invitations, (e) => [
        ...ownerKeys('Membership')(e),
        ...((e.object as Invitation).status?.membership ? [`${e.object.metadata.namespace}/${(e.object as Invitation).status!.membership}`] : []),
      ]),
      watch(caches.teams, (e) => (specChanged(e) ? keysOf(caches.memberships.byIndex(index.byTeam, e.key)) : [])),
      // The removal brake let removals through (Team status.removals.approved): those Memberships go on.
      watch(caches.teams, (e) =>
        e.type === 'updated' ? newlyApproved(e.old as Team, e.object as Team).map((n) => `${e.object.metadata.namespace}/${n}`) : [],
      ),
      // A membership that goes frees a seat: the ones waiting over the limit get another look.
      watch(caches.memberships, (e) =>
        e.type === 'deleted'
          ? teamOf(e).flatMap((t) => keysOf(caches.memberships.byIndex(index.byTeam, t).filter((m) => m.status?.phase === 'OverSeatLimit')))
          : [],
      ),
      watch(caches.projects, membershipsOfTeam),
      watch(caches.roleBindings, (e) => [grantOwnerKeys(e).membership ?? ''].filter(Boolean)),
      watch(caches.namespaces, (e) => assignmentChanged(e).flatMap((ns) => keysOf(caches.memberships.list(ns)))),
      watch(caches.teams, (e) => teamsReachingNamespace(e).flatMap((t) => keysOf(caches.memberships.byIndex(index.byTeam, t)))),
    ],
  });
  manager.addController({
    name: 'invitation',
    informer: caches.invitations,
    workers: config.workers.invitation,
    reconcile: (key, signal) => reconcileInvitation({ ...context, signal }, key),
    watches: [
      watch(caches.teams, (e) => (specChanged(e) ? keysOf(caches.invitations.byIndex(index.byTeam, e.key)) : [])),
      watch(caches.memberships, (e) =>
        teamOf(e).flatMap((t) => keysOf(caches.invitations.byIndex(index.byTeam, t).filter((i) => !(i.metadata.ownerReferences ?? []).length))),
      ),
    ],
  });
  manager.addController({
    name: 'project',
    informer: caches.projects,
    workers: config.workers.project,
    reconcile: (key, signal) => reconcileProject({ ...context, signal }, key),
    watches: [
      watch(caches.memberships, (e) => teamOf(e).flatMap((t) => keysOf(caches.projects.byIndex(index.byTeam, t)))),
      // Assignment, creation or deletion of an environment's namespace changes EnvironmentsAssigned.
      watch(caches.namespaces, (e) =>
        e.type === 'updated' && assignmentChanged(e).length === 0
          ? []
          : keysOf(caches.projects.byIndex(index.byEnvironmentNamespace, e.object.metadata.name ?? '')),
      ),
      watch(caches.teams, (e) =>
        e.type === 'added' || e.type === 'deleted' ? keysOf(caches.projects.byIndex(index.byEnvironmentNamespace, e.object.metadata.namespace ?? '')) : [],
      ),
    ],
  });

  const acceptPage = new AcceptPage({
    client,
    invitations: caches.invitations,
    teams: caches.teams,
    memberships: caches.memberships,
    projectsOf: (namespace, team) => caches.projects.byIndex(index.byTeam, `${namespace}/${team}`),
    identityTypeOf: (name) => backends.get(name)?.type,
    ...(config.acceptPage.welcomeUrl ? { welcomeUrl: config.acceptPage.welcomeUrl } : {}),
    hashIndex: index.byLinkHash,
    logger,
    now: context.now,
    rateLimit: config.server.acceptRateLimit,
    trustedProxies: config.server.trustedProxies,
    onAccepted: (inv) =>
      recordChange(context, {
        regarding: inv,
        type: 'Normal',
        reason: 'Accepted',
        action: 'Accept',
        note: `${inv.spec.email} accepted the invitation to team ${inv.spec.team} as ${inv.spec.role}`,
        actor: inv.spec.email,
        audit: {
          action: 'accept',
          entity: 'invitation',
          team: inv.spec.team,
          namespace: inv.metadata.namespace ?? '',
          subject: inv.spec.email,
          roleAfter: inv.spec.role,
        },
      }),
  });

  const admission = config.webhook.enabled
    ? createAdmission({
        config: config.webhook,
        namespace: config.namespace,
        port: config.server.webhookPort,
        host: config.server.host,
        client,
        caches,
        logger,
        metrics: manager.metrics,
        onDenied: (webhook) => context.metrics.admissionDenials.inc({ webhook }),
        now: context.now,
        tenancy: tenancy.policy,
        events,
        mail: {
          allowedSenderDomains: config.mail.allowedSenderDomains,
          defaultFrom: config.mail.from,
          resendCooldownSeconds: config.mail.resendCooldownSeconds,
        },
      })
    : undefined;
  if (admission) manager.health.addReadiness('webhook', () => (admission.serving() ? undefined : 'the admission webhook is not serving'));

  // The manager starts these in this order (before its caches sync, on every replica) and
  // stops them in the reverse order once the controllers have drained: the webhook goes
  // last, so other replicas' (and our own) writes still get admitted while we drain, and
  // Events are flushed once the accept page, which records them, has closed.
  if (admission) manager.add({ name: 'webhook', beforeCaches: true, start: () => admission.start(), stop: () => admission.stop() });
  manager.add({ name: 'mail', beforeCaches: true, stop: () => mail.close() });
  manager.add({ name: 'events', beforeCaches: true, stop: () => events.flush() });
  manager.add({
    name: 'accept page',
    beforeCaches: true,
    start: () => acceptPage.listen(config.server.acceptPort, config.server.host),
    stop: () => acceptPage.close(),
  });
  const secureMetrics = config.server.metrics.secure ? secureMetricsServer(config, client, metrics, logger) : undefined;
  if (secureMetrics) {
    manager.health.serveMetricsElsewhere(
      `they are served over HTTPS on port ${config.server.metrics.port}, to a bearer token allowed to get the non-resource URL /metrics`,
    );
    manager.add({
      name: 'metrics',
      beforeCaches: true,
      start: () => secureMetrics.listen(config.server.metrics.port, config.server.host),
      stop: () => secureMetrics.close(),
    });
  }

  return {
    manager,
    acceptPage,
    context,
    ...(admission ? { admission } : {}),
    async start() {
      // Only allowInsecure: true gets here (parseConfig refuses the rest): say it on every start.
      for (const t of insecureTransports(config))
        logger.warn({ key: t.key, insecure: true }, `${t.key}: ${t.problem}; allowed by allowInsecure: true, for development only: ${t.fix.split(';')[0]}`);
      for (const role of teamClusterRoleObjects()) {
        try {
          await client.apply(resources.clusterRole, role);
        } catch (e) {
          logger.warn(
            { err: e instanceof Error ? e.message : String(e), role: role.metadata.name },
            'could not apply ClusterRole (the Helm chart installs it)',
          );
        }
      }
      await manager.start();
      logger.info(
        { identity, acceptPort: acceptPage.port, probesPort: manager.health.port, webhookPort: admission?.port, metricsPort: secureMetrics?.port },
        'operator started',
      );
    },
    async stop() {
      try {
        await manager.stop(); // each step timed in the debug log
      } finally {
        client.close();
      }
    },
  };
}

/** server.metrics.secure: /metrics over HTTPS behind TokenReview + SubjectAccessReview. */
function secureMetricsServer(config: RosterConfig, client: KubeClient, metrics: Metrics, logger: Logger): SecureMetricsServer {
  const { certDir } = config.server.metrics;
  const yearMs = 365 * 24 * 3600_000;
  return new SecureMetricsServer({
    metrics,
    client,
    logger,
    // Scrapers of a self-signed endpoint skip verification (the chart's ServiceMonitor does);
    // mount a certificate (certDir) to have it verified.
    certificate: certDir
      ? { dir: certDir }
      : {
          generate: async () => {
            const now = new Date();
            const ca = await generateCa('roster-metrics-ca', now, yearMs);
            return await issueServingCertificate(ca, { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }, now, yearMs);
          },
        },
    forbiddenHint:
      'bind it to a ClusterRole granting get on the non-resource URL /metrics (the chart installs one: <release>-metrics-reader, roster-metrics-reader by default)',
  });
}
