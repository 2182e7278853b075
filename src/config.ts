// The operator's configuration: one validated object, from a YAML file (`--config`) with a
// few command-line overrides. The JSON schema below is the reference (the Helm chart
// renders the same shape into a ConfigMap); ajv validates it and fills in defaults.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { identityBackendSchema } from './backends/identity/schema.ts';
import { webhookConfigProblems, webhookConfigSchema, type WebhookConfig } from './admission/config.ts';
import { parseSender } from './admission/mail-rules.ts';
import { parseCidr } from './web/client-address.ts';
import { DEFAULT_NAMESPACE_CLUSTER_ROLES, type NamespaceClusterRoles } from './domain/role-bindings.ts';

const portSchema = { type: 'integer', minimum: 0, maximum: 65535 } as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    kubeconfig: { type: 'string', description: 'Path to a kubeconfig; empty = in-cluster, then $KUBECONFIG, then ~/.kube/config.' },
    namespace: { type: 'string', default: 'roster-system', description: 'Namespace of the operator: its Lease, Secrets and Events live here.' },
    identity: {
      type: 'string',
      description: "This replica's identity for leader election and Events (default: the pod name or hostname).",
    },
    publicUrl: {
      type: 'string',
      default: 'http://localhost:8081',
      pattern: '^https?://',
      description: 'Base URL of the accept page as people reach it (links are <publicUrl>/invite/<token>).',
    },
    acceptPage: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        welcomeUrl: {
          type: 'string',
          maxLength: 2048,
          pattern: '^https://[^\\s]+$',
          description:
            "Where the accept page sends people once they accepted (the cluster's login page, a dashboard), unless their Team sets spec.invitations.welcomeUrl. https only; unset = no button.",
        },
      },
    },
    leaderElection: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true },
        leaseName: { type: 'string', default: 'roster-operator' },
        leaseDurationSeconds: { type: 'number', exclusiveMinimum: 0, default: 15 },
        renewDeadlineSeconds: { type: 'number', exclusiveMinimum: 0, default: 10 },
        retryPeriodSeconds: { type: 'number', exclusiveMinimum: 0, default: 2 },
      },
    },
    server: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        host: { type: 'string', default: '0.0.0.0' },
        probesPort: { ...portSchema, default: 8080, description: '/healthz, /readyz, and /metrics unless metrics.secure is on.' },
        metrics: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description:
            "Where /metrics is served. Plain (default): on probesPort, to anyone who reaches it. Secure: over HTTPS on its own port, for bearer tokens the API server authenticates (TokenReview) and authorizes for get on the non-resource URL /metrics (SubjectAccessReview), as controller-runtime's metrics filters do; probesPort then serves only the probes.",
          properties: {
            secure: { type: 'boolean', default: false },
            port: { ...portSchema, default: 8443, description: 'The HTTPS metrics port (secure only).' },
            certDir: {
              type: 'string',
              description: 'Directory with tls.crt and tls.key (secure only); unset = a self-signed certificate made in memory at start.',
            },
          },
        },
        acceptPort: { ...portSchema, default: 8081, description: 'The accept page.' },
        webhookPort: { ...portSchema, default: 9443, description: 'The admission webhook (HTTPS).' },
        trustedProxies: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          default: [],
          description:
            "CIDR blocks (IPv4 or IPv6, e.g. 10.0.0.0/8) of the proxies in front of the accept page, such as the Ingress controller's Pods. Only from these is X-Forwarded-For believed, to rate-limit per person rather than per proxy; empty = the TCP peer is the client.",
        },
        acceptRateLimit: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Accept page limits, per client address.',
          properties: {
            failedLookupsPerMinute: {
              type: 'integer',
              minimum: 1,
              default: 20,
              description:
                'Links that did not work (unknown, used, revoked, expired) per minute, as a burst of the same size; over it every link gets 429 with Retry-After.',
            },
            requestsPerMinute: {
              type: 'integer',
              minimum: 1,
              default: 600,
              description: 'All requests per minute: a flood guard, generous because a proxy without trustedProxies puts everyone behind it on one address.',
            },
          },
        },
      },
    },
    workers: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        team: { type: 'integer', minimum: 1, default: 2 },
        // A reconcile mostly waits on the API server and SMTP: 16 keep both busy at a bulk
        // onboarding (issue 14: 4 left Memberships waiting seconds in the queue).
        membership: { type: 'integer', minimum: 1, default: 16 },
        invitation: { type: 'integer', minimum: 1, default: 16 },
        project: { type: 'integer', minimum: 1, default: 2 },
      },
    },
    resyncMinutes: { type: 'number', minimum: 0, default: 600, description: 'Periodic full resync (0 = off). controller-runtime uses hours.' },
    kubeClient: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        "Client-side rate limit of the operator's API requests (a token bucket, as client-go's): a guard against a runaway loop, not the everyday pace; the API server's Priority and Fairness is what shares it between clients. Status and Lease writes wait in a lane of their own that goes first.",
      properties: {
        qps: {
          type: 'number',
          minimum: 0,
          default: 200,
          description:
            'Requests per second, sustained (0 = no client-side limit). client-go defaults to 5, controller-runtime to 20: too slow for thousands of teams at start.',
        },
        burst: { type: 'integer', minimum: 1, default: 400, description: 'Requests that may go out at once after a quiet spell.' },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info' } },
    },
    mail: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        backend: { enum: ['smtp', 'log'], default: 'log' },
        from: { type: 'string', default: 'Roster <roster@localhost>' },
        allowedSenderDomains: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          default: [],
          description:
            'Domains a Team may send from (spec.invitations.from); empty = only the domain of mail.from. Anything else is denied at admission, so the operator cannot be used as a mail relay.',
        },
        resendCooldownSeconds: {
          type: 'integer',
          minimum: 0,
          default: 60,
          description: 'Minimum time between two mails of one Invitation; an earlier resend is denied with the time left.',
        },
        dailyQuotaPerTeam: {
          type: 'integer',
          minimum: 0,
          default: 200,
          description: 'Invitation mails per team per 24 h (0 = no quota); over it nothing is sent and Delivered=False, reason QuotaExceeded.',
        },
        smtp: {
          type: 'object',
          additionalProperties: false,
          required: ['host'],
          properties: {
            host: { type: 'string' },
            port: { ...portSchema, default: 587 },
            secure: { type: 'boolean', default: false, description: 'Implicit TLS (port 465).' },
            requireTLS: { type: 'boolean', default: false, description: 'Refuse to send without STARTTLS.' },
            rejectUnauthorized: { type: 'boolean', default: true },
            caFile: { type: 'string' },
            user: { type: 'string' },
            passwordFile: { type: 'string', description: 'File holding the SMTP password (a mounted Secret).' },
            pool: { type: 'boolean', default: true },
            maxConnections: { type: 'integer', minimum: 1, default: 3 },
            allowInsecure: { type: 'boolean', default: false, description: 'Allow sending without TLS (neither secure nor requireTLS). Development only.' },
          },
        },
        log: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: { includeLinks: { type: 'boolean', default: false, description: 'Development only: log accept links unredacted.' } },
        },
        templates: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            subjectFile: { type: 'string' },
            textFile: { type: 'string' },
            htmlFile: { type: 'string' },
          },
        },
      },
    },
    identityBackends: {
      type: 'object',
      description: 'Named identity backends; a Team picks one with spec.identity.backend (default "default").',
      default: { default: { type: 'kubernetes' } },
      // Each type's settings: src/backends/identity/schema.ts (ldap, scim, keycloak; kubernetes uses roleBindings below).
      additionalProperties: identityBackendSchema,
    },
    webhook: webhookConfigSchema,
    removalBrake: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        'The removal brake (SPEC §8): deletions in one team within `window` may take access from at most `maxFraction` of its active members (and always `minPeople`); the rest are held until an owner or admin runs `kubectl roster release TEAM`. Expiry is never held. A Team may set a stricter one (spec.removalBrake).',
      properties: {
        enabled: { type: 'boolean', default: true },
        window: { type: 'string', pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$', default: '10m' },
        maxFraction: { type: 'number', minimum: 0, maximum: 1, default: 0.25 },
        minPeople: { type: 'integer', minimum: 0, default: 2 },
      },
    },
    accessKeys: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Access keys (SPEC §9): automation credentials that never outrank their owner.',
      properties: {
        maxLifetimeDays: { type: 'integer', minimum: 1, maximum: 3650, default: 90, description: 'How far ahead an AccessKey spec.expiresAt may lie.' },
      },
    },
    tenancy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Which namespaces a team may reach (SPEC §7).',
      properties: {
        namespaceLabel: {
          type: 'string',
          default: 'roster.dev/team',
          pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$',
          description:
            "Label a cluster admin puts on a namespace to assign it to a team: <label>=<the team's control namespace>. Only assigned namespaces may be Project environments.",
        },
      },
    },
    roleBindings: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Role → ClusterRole bound in each in-scope namespace by the kubernetes backend.',
      properties: {
        admin: { type: 'string', default: DEFAULT_NAMESPACE_CLUSTER_ROLES.admin },
        developer: { type: 'string', default: DEFAULT_NAMESPACE_CLUSTER_ROLES.developer },
        observer: { type: 'string', default: DEFAULT_NAMESPACE_CLUSTER_ROLES.observer },
      },
    },
  },
} as const;

export interface RosterConfig {
  kubeconfig?: string;
  namespace: string;
  identity?: string;
  publicUrl: string;
  acceptPage: { welcomeUrl?: string };
  leaderElection: { enabled: boolean; leaseName: string; leaseDurationSeconds: number; renewDeadlineSeconds: number; retryPeriodSeconds: number };
  server: {
    host: string;
    probesPort: number;
    metrics: { secure: boolean; port: number; certDir?: string };
    acceptPort: number;
    webhookPort: number;
    trustedProxies: string[];
    acceptRateLimit: { failedLookupsPerMinute: number; requestsPerMinute: number };
  };
  workers: { team: number; membership: number; invitation: number; project: number };
  resyncMinutes: number;
  kubeClient: { qps: number; burst: number };
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' };
  mail: {
    backend: 'smtp' | 'log';
    from: string;
    allowedSenderDomains: string[];
    resendCooldownSeconds: number;
    dailyQuotaPerTeam: number;
    smtp?: {
      host: string;
      port: number;
      secure: boolean;
      requireTLS: boolean;
      rejectUnauthorized: boolean;
      caFile?: string;
      user?: string;
      passwordFile?: string;
      pool: boolean;
      maxConnections: number;
      allowInsecure: boolean;
    };
    log: { includeLinks: boolean };
    templates: { subjectFile?: string; textFile?: string; htmlFile?: string };
  };
  identityBackends: Record<string, { type: 'kubernetes' | 'keycloak' | 'ldap' | 'scim'; [key: string]: unknown }>;
  roleBindings: NamespaceClusterRoles;
  webhook: WebhookConfig;
  tenancy: { namespaceLabel: string };
  accessKeys: { maxLifetimeDays: number };
  removalBrake: { enabled: boolean; window: string; maxFraction: number; minPeople: number };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: false });
const validate = ajv.compile(configSchema);

/** Validates (and defaults) a raw config object; throws a ConfigError naming every problem. */
export function parseConfig(raw: unknown): RosterConfig {
  const copy = structuredClone(raw ?? {});
  if (!validate(copy)) {
    const problems = (validate.errors ?? []).map(
      (e) => `${e.instancePath || '(root)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
    );
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const config = copy as RosterConfig;
  if (config.mail.backend === 'smtp' && !config.mail.smtp) throw new ConfigError('invalid configuration: mail.backend is smtp but mail.smtp is missing');
  if (!config.identityBackends.default) throw new ConfigError('invalid configuration: identityBackends needs an entry named "default"');
  const le = config.leaderElection;
  if (!(le.leaseDurationSeconds > le.renewDeadlineSeconds && le.renewDeadlineSeconds > le.retryPeriodSeconds)) {
    throw new ConfigError('invalid configuration: leaderElection needs leaseDurationSeconds > renewDeadlineSeconds > retryPeriodSeconds');
  }
  for (const cidr of config.server.trustedProxies) {
    try {
      parseCidr(cidr);
    } catch (e) {
      throw new ConfigError(`invalid configuration: server.trustedProxies: ${(e as Error).message}`);
    }
  }
  const webhookProblem = webhookConfigProblems(config.webhook)[0];
  if (webhookProblem) throw new ConfigError(`invalid configuration: ${webhookProblem}`);
  const mailProblem = mailConfigProblems(config.mail)[0];
  if (mailProblem) throw new ConfigError(`invalid configuration: ${mailProblem}`);
  const refused = insecureTransports(config).find((t) => !t.allowed);
  if (refused) throw new ConfigError(`invalid configuration: ${refused.key}: ${refused.problem}; ${refused.fix}`);
  return config;
}

/** The sender settings the admission rules rely on (src/admission/mail-rules.ts). */
function mailConfigProblems(mail: RosterConfig['mail']): string[] {
  const problems: string[] = [];
  const from = parseSender(mail.from);
  if (typeof from === 'string')
    problems.push(`mail.from ${JSON.stringify(mail.from)} is not one sender address (${from}); write it as "Name <address@domain>"`);
  for (const domain of mail.allowedSenderDomains) {
    if (!/^[^\s@*/:]+$/.test(domain) || domain.startsWith('.')) {
      problems.push(
        `mail.allowedSenderDomains: ${JSON.stringify(domain)} is not a domain; list each domain as it follows the @ (acme.com), one entry per domain: subdomains are not included`,
      );
    }
  }
  return problems;
}

/** A connection that would carry mail or identity-backend credentials without TLS. */
export interface InsecureTransport {
  /** The config key at fault, e.g. `mail.smtp` or `identityBackends.corp.url`. */
  readonly key: string;
  readonly problem: string;
  /** What to set instead. */
  readonly fix: string;
  /** Whether `allowInsecure: true` lets it through (a warning at start, not a refusal). */
  readonly allowed: boolean;
}

/**
 * SPEC §7, secure by default: SMTP needs implicit TLS or STARTTLS, identity backends need
 * https:// or ldaps:// (or ldap:// with startTls), unless that section says allowInsecure: true.
 */
export function insecureTransports(config: Pick<RosterConfig, 'mail' | 'identityBackends'>): InsecureTransport[] {
  const found: InsecureTransport[] = [];
  const smtp = config.mail.smtp;
  if (config.mail.backend === 'smtp' && smtp && !smtp.secure && !smtp.requireTLS) {
    found.push({
      key: 'mail.smtp',
      problem: `mail to ${smtp.host}:${smtp.port} would go without TLS (accept links and the SMTP password in the clear)`,
      fix: 'set mail.smtp.requireTLS: true (STARTTLS, port 587) or mail.smtp.secure: true (implicit TLS, port 465); for a local test server only, mail.smtp.allowInsecure: true',
      allowed: smtp.allowInsecure === true,
    });
  }
  for (const [name, backend] of Object.entries(config.identityBackends)) {
    const allowed = backend.allowInsecure === true;
    const allow = `; for a local test server only, identityBackends.${name}.allowInsecure: true`;
    if (backend.type === 'ldap' && typeof backend.url === 'string' && /^ldap:\/\//i.test(backend.url) && backend.startTls !== true) {
      found.push({
        key: `identityBackends.${name}.url`,
        problem: `${backend.url} would send the bind password and directory data without TLS`,
        fix: `use ldaps://, or set identityBackends.${name}.startTls: true${allow}`,
        allowed,
      });
    }
    const urlKey = backend.type === 'keycloak' ? 'url' : backend.type === 'scim' ? 'baseUrl' : undefined;
    const url = urlKey ? backend[urlKey] : undefined;
    if (urlKey && typeof url === 'string' && /^http:\/\//i.test(url)) {
      found.push({
        key: `identityBackends.${name}.${urlKey}`,
        problem: `${url} would send the ${backend.type === 'scim' ? 'bearer token' : 'credentials and tokens'} without TLS`,
        fix: `use https://${allow}`,
        allowed,
      });
    }
  }
  return found;
}

/** Reads `--config FILE` (YAML) and applies flag overrides. */
export function loadConfig(argv: string[] = process.argv.slice(2)): RosterConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      'public-url': { type: 'string' },
      'probes-port': { type: 'string' },
      'accept-port': { type: 'string' },
      'webhook-port': { type: 'string' },
      'leader-elect': { type: 'string' },
      'log-level': { type: 'string' },
      identity: { type: 'string' },
    },
    strict: true,
  });
  const raw = (values.config ? parse(readFileSync(values.config, 'utf8')) : {}) as Record<string, Record<string, unknown>>;
  const set = (path: string[], value: unknown) => {
    if (value === undefined) return;
    let node: Record<string, unknown> = raw;
    for (const part of path.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]!] = value;
  };
  const port = (s: string | undefined) => (s === undefined ? undefined : Number(s));
  set(['kubeconfig'], values.kubeconfig);
  set(['namespace'], values.namespace);
  set(['publicUrl'], values['public-url']);
  set(['identity'], values.identity);
  set(['server', 'probesPort'], port(values['probes-port']));
  set(['server', 'acceptPort'], port(values['accept-port']));
  set(['server', 'webhookPort'], port(values['webhook-port']));
  set(['leaderElection', 'enabled'], values['leader-elect'] === undefined ? undefined : values['leader-elect'] !== 'false');
  set(['log', 'level'], values['log-level']);
  return parseConfig(raw);
}
