// The operator's configuration: one validated object, from a YAML file (`--config`) with a
// few command-line overrides. The JSON schema below is the reference (the Helm chart
// renders the same shape into a ConfigMap); ajv validates it and fills in defaults.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { identityBackendSchema } from './backends/identity/schema.ts';
import { webhookConfigProblems, webhookConfigSchema, type WebhookConfig } from './admission/config.ts';

const portSchema = { type: 'integer', minimum: 0, maximum: 65535 } as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    kubeconfig: { type: 'string', description: 'Path to a kubeconfig; empty = in-cluster, then $KUBECONFIG, then ~/.kube/config.' },
    namespace: { type: 'string', default: 'roster-system', description: 'Namespace of the operator: its Lease, Secrets and Events live here.' },
    identity: {
      type: 'string',
      description: 'This replica\'s identity for leader election and Events (default: the pod name or hostname).',
    },
    publicUrl: {
      type: 'string',
      default: 'http://localhost:8081',
      pattern: '^https?://',
      description: 'Base URL of the accept page as people reach it (links are <publicUrl>/invite/<token>).',
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
        probesPort: { ...portSchema, default: 8080, description: '/healthz, /readyz and /metrics.' },
        acceptPort: { ...portSchema, default: 8081, description: 'The accept page.' },
        webhookPort: { ...portSchema, default: 9443, description: 'The admission webhook (HTTPS).' },
      },
    },
    workers: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        team: { type: 'integer', minimum: 1, default: 2 },
        membership: { type: 'integer', minimum: 1, default: 4 },
        invitation: { type: 'integer', minimum: 1, default: 4 },
        project: { type: 'integer', minimum: 1, default: 2 },
      },
    },
    resyncMinutes: { type: 'number', minimum: 0, default: 600, description: 'Periodic full resync (0 = off). controller-runtime uses hours.' },
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
    roleBindings: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Role → ClusterRole bound in each in-scope namespace by the kubernetes backend.',
      properties: {
        admin: { type: 'string', default: 'admin' },
        developer: { type: 'string', default: 'edit' },
        observer: { type: 'string', default: 'view' },
      },
    },
  },
} as const;

export interface RosterConfig {
  kubeconfig?: string;
  namespace: string;
  identity?: string;
  publicUrl: string;
  leaderElection: { enabled: boolean; leaseName: string; leaseDurationSeconds: number; renewDeadlineSeconds: number; retryPeriodSeconds: number };
  server: { host: string; probesPort: number; acceptPort: number; webhookPort: number };
  workers: { team: number; membership: number; invitation: number; project: number };
  resyncMinutes: number;
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' };
  mail: {
    backend: 'smtp' | 'log';
    from: string;
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
    };
    log: { includeLinks: boolean };
    templates: { subjectFile?: string; textFile?: string; htmlFile?: string };
  };
  identityBackends: Record<string, { type: 'kubernetes' | 'keycloak' | 'ldap' | 'scim'; [key: string]: unknown }>;
  roleBindings: { admin: string; developer: string; observer: string };
  webhook: WebhookConfig;
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
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const config = copy as RosterConfig;
  if (config.mail.backend === 'smtp' && !config.mail.smtp) throw new ConfigError('invalid configuration: mail.backend is smtp but mail.smtp is missing');
  if (!config.identityBackends.default) throw new ConfigError('invalid configuration: identityBackends needs an entry named "default"');
  const le = config.leaderElection;
  if (!(le.leaseDurationSeconds > le.renewDeadlineSeconds && le.renewDeadlineSeconds > le.retryPeriodSeconds)) {
    throw new ConfigError('invalid configuration: leaderElection needs leaseDurationSeconds > renewDeadlineSeconds > retryPeriodSeconds');
  }
  const webhookProblem = webhookConfigProblems(config.webhook)[0];
  if (webhookProblem) throw new ConfigError(`invalid configuration: ${webhookProblem}`);
  return config;
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
