// The admission webhook as the operator runs it: certificates (managed in a Secret or read
// from cert-manager's files), the HTTPS server, the registration (when configured) and the
// CA bundle injection. The manager runs it on every replica: started before the caches
// sync, stopped last (src/operator.ts).
import type { KubeClient } from '../runtime/kube-client.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { parseDuration } from '../domain/duration.ts';
import { FileCertificates, OperatorCertificates, subjectAltNamesFor, type CertificateSource, type TlsMaterial } from './certificates.ts';
import type { TenancyPolicy } from '../tenancy/namespaces.ts';
import type { Recorder } from '../audit/record.ts';
import type { WebhookConfig } from './config.ts';
import { AdmissionHandler, type AdmissionCaches } from './handler.ts';
import { DEFAULT_MAIL_POLICY, type MailPolicy } from './mail-rules.ts';
import type { AccessKeyPolicy } from './access-key-rules.ts';
import {
  applyWebhookConfigurations,
  checkWebhookConfigurations,
  injectCaBundle,
  renderWebhookConfigurations,
  type ClientConfigTarget,
} from './registration.ts';
import { SeatLedger, type LedgerCache } from '../seats/ledger.ts';
import type { SeatHolderIndex } from '../seats/seat-index.ts';
import { AdmissionServer } from './server.ts';

export { reconcileSeatReservations } from '../seats/ledger.ts';

export interface AdmissionOptions {
  config: WebhookConfig;
  /** The operator's namespace (the certificate Secret lives here). */
  namespace: string;
  port: number;
  host: string;
  client: KubeClient;
  /** With the watched seat ledgers, when the operator has them (a commit reads the ledger from there first). */
  caches: AdmissionCaches & { seatLedgers?: LedgerCache };
  /** Each team's seat holders kept from the caches' events (without it, the team is walked per claim). */
  seats?: SeatHolderIndex;
  logger: Logger;
  metrics?: Metrics;
  /** Counts denials (roster_admission_denials_total). */
  onDenied?: (webhook: string) => void;
  now?: () => Date;
  /** Which namespaces a team may reach (SPEC §7); Project environments are checked against it. */
  tenancy?: TenancyPolicy;
  /** The operator's Event recorder (deletions of objects no controller follows). */
  events?: Recorder;
  /** Sender allow-list and resend cooldown (config `mail`); the config's defaults when absent. */
  mail?: MailPolicy;
  /** Access keys (SPEC §9); without it, keys are refused. */
  accessKeys?: AccessKeyPolicy;
}

export interface Admission {
  readonly server: AdmissionServer;
  readonly handler: AdmissionHandler;
  readonly ledger: SeatLedger;
  readonly certificates: CertificateSource;
  readonly port: number;
  /** Whether the HTTPS server is up (a readiness check). */
  serving(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface SelfSubjectReview {
  status?: { userInfo?: { username?: string } };
}

/** Who the operator is to the API server (its requests are the only ones allowed to create owner invitations). */
export async function whoAmI(client: Pick<KubeClient, 'request'>): Promise<string | undefined> {
  const review = await client.request<SelfSubjectReview>('create', 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  return review.status?.userInfo?.username;
}

function target(config: WebhookConfig, namespace: string): ClientConfigTarget | undefined {
  const { register } = config;
  if (register.url) return { url: register.url };
  if (register.service) return { service: { name: register.service.name, namespace: register.service.namespace ?? namespace, port: register.service.port } };
  return undefined;
}

export function createAdmission(options: AdmissionOptions): Admission {
  const { config, client, namespace } = options;
  const logger = options.logger.child({ component: 'webhook' });
  const checkIntervalMs = parseDuration(config.tls.checkInterval);
  const clientTarget = target(config, namespace);

  let username: Promise<string | undefined> | undefined = config.operatorUsername ? Promise.resolve(config.operatorUsername) : undefined;
  const operatorUsername = () => {
    username ??= whoAmI(client).catch((e: unknown) => {
      username = undefined; // ask again next time
      throw e;
    });
    return username;
  };

  // Who the operator is, if it can tell: its own Invitations then skip the webhooks (registration.ts).
  const knownUsername = async (): Promise<{ operatorUsername?: string }> => {
    try {
      const name = await operatorUsername();
      return name ? { operatorUsername: name } : {};
    } catch (e) {
      logger.warn({ err: e instanceof Error ? e.message : String(e) }, "could not learn the operator's own user name; its Invitations go through the webhooks");
      return {};
    }
  };

  const ledger = new SeatLedger({
    client,
    ttlMs: config.seatReservationSeconds * 1000,
    blockSize: config.seatBlockSize,
    logger,
    ...(options.caches.seatLedgers ? { cache: options.caches.seatLedgers } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const handler = new AdmissionHandler({
    caches: options.caches,
    ...(options.seats ? { seats: options.seats } : {}),
    client,
    ledger,
    logger,
    operatorUsername,
    ...(options.now ? { now: options.now } : {}),
    ...(options.tenancy ? { tenancy: options.tenancy } : {}),
    ...(options.events ? { events: options.events } : {}),
    mail: options.mail ?? DEFAULT_MAIL_POLICY,
    ...(options.accessKeys ? { accessKeys: options.accessKeys } : {}),
  });
  const server = new AdmissionServer({
    handler,
    logger,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.onDenied ? { onDenied: options.onDenied } : {}),
  });
  const certificates: CertificateSource =
    config.certificates === 'cert-manager'
      ? new FileCertificates({ certDir: config.certDir, checkIntervalMs, logger })
      : new OperatorCertificates({
          client,
          namespace,
          secretName: config.tls.secretName,
          sans: subjectAltNamesFor({
            ...(config.register.url ? { url: config.register.url } : {}),
            ...(clientTarget && 'service' in clientTarget ? { service: clientTarget.service } : {}),
            dnsNames: config.tls.dnsNames,
            ipAddresses: config.tls.ipAddresses,
          }),
          policy: {
            caValidityMs: parseDuration(config.tls.caValidity),
            servingValidityMs: parseDuration(config.tls.servingValidity),
            caPropagationMs: Math.max(checkIntervalMs * 2, 1_000),
          },
          checkIntervalMs,
          logger,
          ...(options.now ? { now: options.now } : {}),
        });

  /** After new certificates: serve them, and make the API server trust them. */
  const publish = async (material: TlsMaterial, first: boolean) => {
    if (!first) server.setCertificate(material);
    const certManager = config.certificates === 'cert-manager';
    if (config.register.enabled && clientTarget) {
      await applyWebhookConfigurations(
        client,
        renderWebhookConfigurations({
          name: config.configurationName,
          target: clientTarget,
          // cert-manager's cainjector fills caBundle; a ca.crt next to the files is used too.
          ...(material.caBundle ? { caBundle: material.caBundle } : {}),
          ...(certManager ? { certManagerCertificate: `${namespace}/${config.tls.secretName}` } : {}),
          failurePolicy: config.failurePolicy,
          timeoutSeconds: config.timeoutSeconds,
          ...(config.register.namespaceSelector ? { namespaceSelector: config.register.namespaceSelector } : {}),
          ...(await knownUsername()),
        }),
      );
    } else if (!certManager) {
      await injectCaBundle(client, config.configurationName, material.caBundle);
    }
  };

  /**
   * Someone else (the chart) is meant to register the webhook. If nobody did, the API server
   * never calls it and the seat limit, one owner and actor stamping silently do not apply:
   * say so once, at start, with what to do.
   */
  const warnIfUnregistered = async () => {
    const name = config.configurationName;
    const check = await checkWebhookConfigurations(client, name);
    if (check.kind === 'missing') {
      logger.warn(
        { configurationName: name, missing: check.missing },
        `the admission webhook is served but no ${check.missing.join(' or ')} named ${name} exists, so the API server never calls it: ` +
          'the seat limit, the one-owner and transfer rules and actor stamping are not enforced. ' +
          'Install with the Helm chart (it registers them), or set webhook.register.enabled: true with webhook.register.url or webhook.register.service, ' +
          `or set webhook.configurationName to the name they were registered under`,
      );
    } else if (check.kind === 'unknown') {
      // cert-manager mode: the chart grants no read access to them, and that is fine.
      logger.debug({ configurationName: name, err: check.reason }, 'could not check that the webhook configurations exist');
    }
  };

  return {
    server,
    handler,
    ledger,
    certificates,
    get port() {
      return server.port;
    },
    serving: () => server.listening,
    async start() {
      const material = await certificates.ensure();
      await server.listen(options.port, options.host, material);
      await publish(material, true);
      certificates.start(async (next) => {
        logger.info('webhook certificates changed; serving the new ones');
        await publish(next, false);
      });
      logger.info({ port: server.port, certificates: config.certificates, registered: config.register.enabled }, 'admission webhook serving');
      if (!config.register.enabled) await warnIfUnregistered();
    },
    async stop() {
      certificates.stop();
      await server.close();
    },
  };
}
