// The `webhook` section of the operator's configuration (src/config.ts includes it). The
// schema is the reference; ajv fills in the defaults.

const durationPattern = '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$';

export const webhookConfigSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'The admission webhook (SPEC §3): served over HTTPS on server.webhookPort by every replica.',
  properties: {
    enabled: { type: 'boolean', default: true },
    certificates: {
      enum: ['operator', 'cert-manager'],
      default: 'operator',
      description:
        "operator: the operator keeps a CA and a serving certificate in a Secret of its namespace, injects the CA as caBundle and rotates both before expiry. cert-manager: read tls.crt/tls.key from certDir (a mounted Secret) and leave caBundle to cert-manager's CA injector.",
    },
    certDir: { type: 'string', default: '/tmp/k8s-webhook-server/serving-certs', description: 'cert-manager mode: directory holding tls.crt and tls.key.' },
    tls: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        secretName: { type: 'string', default: 'roster-webhook-tls' },
        caValidity: { type: 'string', pattern: durationPattern, default: '26280h', description: 'Lifetime of a generated CA (default 3 years).' },
        servingValidity: { type: 'string', pattern: durationPattern, default: '2160h', description: 'Lifetime of a serving certificate (default 90 days).' },
        checkInterval: {
          type: 'string',
          pattern: durationPattern,
          default: '1m',
          description: 'How often each replica re-reads the Secret (or certDir) and renews what is due.',
        },
        dnsNames: { type: 'array', items: { type: 'string' }, default: [], description: 'Extra DNS names for the serving certificate.' },
        ipAddresses: { type: 'array', items: { type: 'string' }, default: [], description: 'Extra IP addresses for the serving certificate.' },
      },
    },
    register: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        'Whether the operator applies the webhook configurations itself (tests, the demo). In a cluster the chart registers them; the operator still injects caBundle when it manages the certificates.',
      properties: {
        enabled: { type: 'boolean', default: false },
        url: { type: 'string', pattern: '^https://', description: 'Base URL the API server calls (envtest style), e.g. https://127.0.0.1:9443.' },
        service: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: { type: 'string' }, namespace: { type: 'string' }, port: { type: 'integer', minimum: 1, maximum: 65535, default: 443 } },
        },
        namespaceSelector: { type: 'object', description: 'A metav1.LabelSelector limiting the namespaces the webhooks apply to (default: all).' },
      },
    },
    configurationName: { type: 'string', default: 'roster', description: 'Name of the ValidatingWebhookConfiguration and MutatingWebhookConfiguration.' },
    failurePolicy: {
      enum: ['Fail', 'Ignore'],
      default: 'Fail',
      description: 'Fail closed (default): roster objects cannot be created while no replica answers.',
    },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 5, default: 5 },
    seatReservationSeconds: {
      type: 'integer',
      minimum: 5,
      maximum: 600,
      default: 30,
      description: 'How long a seat reservation holds when its object never shows up.',
    },
    seatBlockSize: {
      type: 'integer',
      minimum: 0,
      maximum: 1000,
      default: 16,
      description:
        'The most seats one replica sets aside in one ledger write, to admit a burst of creates into a team without a write each (half the free seats at most; near the limit every seat is written). 0: every seat is written.',
    },
    operatorUsername: { type: 'string', description: "The operator's own Kubernetes user name (default: asked with a SelfSubjectReview)." },
  },
} as const;

export interface WebhookConfig {
  enabled: boolean;
  certificates: 'operator' | 'cert-manager';
  certDir: string;
  tls: { secretName: string; caValidity: string; servingValidity: string; checkInterval: string; dnsNames: string[]; ipAddresses: string[] };
  register: {
    enabled: boolean;
    url?: string;
    service?: { name: string; namespace?: string; port: number };
    namespaceSelector?: Record<string, unknown>;
  };
  configurationName: string;
  failurePolicy: 'Fail' | 'Ignore';
  timeoutSeconds: number;
  seatReservationSeconds: number;
  seatBlockSize: number;
  operatorUsername?: string;
}

/** Cross-field checks ajv cannot express; a message per problem. */
export function webhookConfigProblems(config: WebhookConfig): string[] {
  const problems: string[] = [];
  const { register } = config;
  if (register.enabled && !register.url === !register.service) {
    problems.push('webhook.register needs exactly one of url and service when enabled');
  }
  return problems;
}
