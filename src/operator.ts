// Builds the operator from its configuration: caches, controllers, backends, the accept
// page, probes. src/main.ts only calls this.
import type { Logger } from 'pino';
import { createAdmission, type Admission } from './admission/index.ts';
import { resources } from './api/resources.ts';
import { teamClusterRoleObjects } from './backends/identity/kubernetes.ts';
import { createIdentityBackends } from './backends/identity/registry.ts';
import { createMailBackend, loadInvitationTemplates } from './backends/mail/registry.ts';
import type { MailBackend } from './backends/mail/types.ts';
import { insecureTransports, type RosterConfig } from './config.ts';
import { parseDuration } from './domain/duration.ts';
import { sameEmail } from './domain/email.ts';
import { createCaches } from './controllers/caches.ts';
import { index, teamKey, type AuditEntry, type Caches, type OperatorContext } from './controllers/context.ts';
import { reconcileInvitation } from './controllers/invitation.ts';
import { grantKey, reconcileMembership } from './controllers/membership.ts';
import { reconcileProject } from './controllers/project.ts';
import { reconcileAccessKey } from './controllers/access-key.ts';
import { keyBackendOf } from './domain/access-keys.ts';
import { OWNER_GRANT, reconcileTeam } from './controllers/team.ts';
import { controllerWatches } from './controllers/watches.ts';
import { applyIfChanged } from './runtime/apply.ts';
import { EventRecorder } from './runtime/events.ts';
import type { ReconcileResult } from './runtime/controller.ts';
import type { Informer } from './runtime/informer.ts';
import { TokenBucket } from './runtime/rate-limit.ts';
import { KubeClient, type KubeCredentials, type KubeObject } from './runtime/kube-client.ts';
import { loadKubeConfig } from './runtime/kubeconfig.ts';
import { defaultIdentity } from './runtime/leader-election.ts';
import { Manager, type Watch } from './runtime/manager.ts';
import { Metrics } from './runtime/metrics.ts';
import { SecureMetricsServer } from './runtime/metrics-server.ts';
import { generateCa, issueServingCertificate } from './admission/certificates.ts';
import { TenancyView } from './tenancy/view.ts';
import { AcceptPage } from './web/accept.ts';
import { recordChange } from './audit/record.ts';
import { RosterMetrics } from './metrics.ts';
import { SeatIndex } from './seats/seat-index.ts';
import { TeamMailTimes } from './controllers/team-mails.ts';

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

// Not @kubernetes/client-node's KubeConfig: loading that package costs the operator ~80 MiB of RSS.
export function kubeConfigFor(config: RosterConfig): KubeCredentials {
  return loadKubeConfig(config.kubeconfig);
}

export function createOperator(config: RosterConfig, logger: Logger, overrides: OperatorOverrides = {}): Operator {
  const identity = config.identity ?? process.env.POD_NAME ?? defaultIdentity();
  // Made first so the client's rest_client_* series land in the registry /metrics serves.
  const metrics = new Metrics();
  const client = new KubeClient(kubeConfigFor(config), {
    fieldManager: 'roster-operator',
    userAgent: `roster/${identity}`,
    metrics: metrics.clientSink(),
    rateLimiter: new TokenBucket(config.kubeClient),
  });
  const manager = createManager(config, identity, client, metrics, logger);
  const caches = createCaches(manager);
  const tenancy = new TenancyView({ namespaceLabel: config.tenancy.namespaceLabel, operatorNamespace: config.namespace }, caches.namespaces, {
    inNamespace: (namespace) => caches.teams.byIndex(index.byNamespace, namespace),
    hasSynced: () => caches.teams.hasSynced(),
  });
  const backends = createBackends(config, client, caches, tenancy, logger);
  const mail = overrides.mail ?? createMailBackend(config.mail, { logger });
  const events = new EventRecorder({ client, reportingInstance: identity.slice(0, 128), logger });
  const context = createContext(config, { client, caches, logger, events, manager, mail, backends, tenancy, now: overrides.now ?? (() => new Date()) });
  addControllers(manager, config, context, controllerWatches(caches, tenancy));
  const acceptPage = createAcceptPage(config, context, backends);
  const admission = config.webhook.enabled ? createWebhook(config, context, manager, tenancy) : undefined;
  const secureMetrics = config.server.metrics.secure ? secureMetricsServer(config, client, metrics, logger) : undefined;
  addServers(manager, config, { admission, mail, events, acceptPage, secureMetrics });

  return {
    manager,
    acceptPage,
    context,
    ...(admission ? { admission } : {}),
    async start() {
      // Only allowInsecure: true gets here (parseConfig refuses the rest): say it on every start.
      for (const t of insecureTransports(config))
        logger.warn({ key: t.key, insecure: true }, `${t.key}: ${t.problem}; allowed by allowInsecure: true, for development only: ${t.fix.split(';')[0]}`);
      await applyTeamClusterRoles(client, logger);
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

function createManager(config: RosterConfig, identity: string, client: KubeClient, metrics: Metrics, logger: Logger): Manager {
  return new Manager({
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
}

type Backends = ReturnType<typeof createIdentityBackends>;

/**
 * Identity backends by name (src/backends/identity/registry.ts). Group-based backends keep
 * access per person, so removing one grant must not strip a person who holds another one in
 * the team (the owner with a superseded Membership during an ownership transfer).
 */
function createBackends(config: RosterConfig, client: KubeClient, caches: Caches, tenancy: TenancyView, logger: Logger): Backends {
  return createIdentityBackends(config.identityBackends, {
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
        .byIndex(index.byTeam, teamKey(team.namespace, team.name))
        .some((m) => grantKey(m) !== key && !m.metadata.deletionTimestamp && m.status?.phase === 'Active' && sameEmail(m.spec.email, person.email));
    },
  });
}

interface ContextParts {
  client: KubeClient;
  caches: Caches;
  logger: Logger;
  events: EventRecorder;
  manager: Manager;
  mail: MailBackend;
  backends: Backends;
  tenancy: TenancyView;
  now: () => Date;
}

function createContext(config: RosterConfig, parts: ContextParts): OperatorContext {
  const auditLog = parts.logger.child({ stream: 'audit' });
  return {
    client: parts.client,
    caches: parts.caches,
    logger: parts.logger,
    audit: (entry: AuditEntry) => auditLog.info(entry, `${entry.entity} ${entry.action}`),
    events: parts.events,
    metrics: new RosterMetrics(parts.manager.metrics.registry),
    mail: parts.mail,
    mailFrom: config.mail.from,
    mailLimits: { resendCooldownSeconds: config.mail.resendCooldownSeconds, dailyQuotaPerTeam: config.mail.dailyQuotaPerTeam },
    templates: loadInvitationTemplates(config.mail.templates),
    identity: (name) => parts.backends.get(name),
    publicUrl: config.publicUrl,
    now: parts.now,
    tenancy: parts.tenancy,
    seats: new SeatIndex(parts.caches),
    teamMails: new TeamMailTimes(parts.caches.invitations),
    seatReservationMs: config.webhook.seatReservationSeconds * 1000,
    accessKeys: { clusterRoles: config.roleBindings, backendOf: (team) => keyBackendOf(config.identityBackends, team) },
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
}

function addControllers(manager: Manager, config: RosterConfig, context: OperatorContext, watches: ReturnType<typeof controllerWatches>): void {
  const { caches } = context;
  const add = <T extends KubeObject>(
    name: string,
    informer: Informer<T>,
    workers: number,
    reconcile: (ctx: OperatorContext, key: string) => Promise<ReconcileResult>,
    w: Watch[],
  ) => manager.addController({ name, informer, workers, reconcile: (key, signal) => reconcile({ ...context, signal }, key), watches: w });
  add('team', caches.teams, config.workers.team, reconcileTeam, watches.team);
  add('membership', caches.memberships, config.workers.membership, reconcileMembership, watches.membership);
  add('invitation', caches.invitations, config.workers.invitation, reconcileInvitation, watches.invitation);
  add('project', caches.projects, config.workers.project, reconcileProject, watches.project);
  add('accesskey', caches.accessKeys, config.workers.membership, reconcileAccessKey, watches.accessKey);
}

function createAcceptPage(config: RosterConfig, context: OperatorContext, backends: Backends): AcceptPage {
  const { caches } = context;
  return new AcceptPage({
    client: context.client,
    invitations: caches.invitations,
    teams: caches.teams,
    memberships: caches.memberships,
    projectsOf: (namespace, team) => caches.projects.byIndex(index.byTeam, teamKey(namespace, team)),
    identityTypeOf: (name) => backends.get(name)?.type,
    ...(config.acceptPage.welcomeUrl ? { welcomeUrl: config.acceptPage.welcomeUrl } : {}),
    hashIndex: index.byLinkHash,
    logger: context.logger,
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
}

function createWebhook(config: RosterConfig, context: OperatorContext, manager: Manager, tenancy: TenancyView): Admission {
  const admission = createAdmission({
    config: config.webhook,
    namespace: config.namespace,
    port: config.server.webhookPort,
    host: config.server.host,
    client: context.client,
    caches: context.caches,
    ...(context.seats ? { seats: context.seats } : {}),
    logger: context.logger,
    metrics: manager.metrics,
    onDenied: (webhook) => context.metrics.admissionDenials.inc({ webhook }),
    now: context.now,
    tenancy: tenancy.policy,
    events: context.events,
    accessKeys: { maxLifetimeDays: config.accessKeys.maxLifetimeDays, backendOf: (team) => keyBackendOf(config.identityBackends, team) },
    mail: {
      allowedSenderDomains: config.mail.allowedSenderDomains,
      defaultFrom: config.mail.from,
      resendCooldownSeconds: config.mail.resendCooldownSeconds,
    },
  });
  manager.health.addReadiness('webhook', () => (admission.serving() ? undefined : 'the admission webhook is not serving'));
  return admission;
}

interface Servers {
  admission: Admission | undefined;
  mail: MailBackend;
  events: EventRecorder;
  acceptPage: AcceptPage;
  secureMetrics: SecureMetricsServer | undefined;
}

/**
 * The manager starts these in this order (before its caches sync, on every replica) and stops
 * them in the reverse order once the controllers have drained: the webhook goes last, so other
 * replicas' (and our own) writes still get admitted while we drain, and Events are flushed
 * once the accept page, which records them, has closed.
 */
function addServers(manager: Manager, config: RosterConfig, { admission, mail, events, acceptPage, secureMetrics }: Servers): void {
  if (admission) manager.add({ name: 'webhook', beforeCaches: true, start: () => admission.start(), stop: () => admission.stop() });
  manager.add({ name: 'mail', beforeCaches: true, stop: () => mail.close() });
  manager.add({ name: 'events', beforeCaches: true, stop: () => events.flush() });
  manager.add({
    name: 'accept page',
    beforeCaches: true,
    start: () => acceptPage.listen(config.server.acceptPort, config.server.host),
    stop: () => acceptPage.close(),
  });
  if (!secureMetrics) return;
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

/** The ClusterRoles team bindings refer to; the Helm chart installs them too (a restricted operator may not). */
async function applyTeamClusterRoles(client: KubeClient, logger: Logger): Promise<void> {
  for (const role of teamClusterRoleObjects()) {
    try {
      await applyIfChanged(client, resources.clusterRole, role);
    } catch (e) {
      logger.warn({ err: e instanceof Error ? e.message : String(e), role: role.metadata.name }, 'could not apply ClusterRole (the Helm chart installs it)');
    }
  }
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
