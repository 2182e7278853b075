// The webhook configurations: rendered here once, for the operator to apply itself (tests,
// the demo: clientConfig.url, as envtest does) and for the Helm chart to reuse (a Service
// reference). Narrow rules: only roster.dev kinds, only the operations a rule needs.
import { applyIfChanged } from '../runtime/apply.ts';
import { isConflict, isNotFound, type KubeClient, type KubeObject, type ResourceRef } from '../runtime/kube-client.ts';

export const webhookConfigurationResources = {
  validating: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations', namespaced: false },
  mutating: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations', namespaced: false },
} as const satisfies Record<string, ResourceRef>;

export const VALIDATING_WEBHOOK = 'validate.roster.dev';
export const MUTATING_WEBHOOK = 'actor.roster.dev';
/** Sees deletions, to record who deleted (deletes never reach the other webhooks). Fails open. */
export const DELETION_WEBHOOK = 'deletions.roster.dev';
export const VALIDATE_PATH = '/validate';
export const MUTATE_PATH = '/mutate';

export type ClientConfigTarget = { url: string } | { service: { name: string; namespace: string; port: number } };

export interface RenderOptions {
  /** Name of both configuration objects. */
  name: string;
  target: ClientConfigTarget;
  /** PEM CA bundle to trust (operator-managed certificates); omit with cert-manager. */
  caBundle?: string;
  /** cert-manager: `namespace/certificate` whose CA the cainjector puts into caBundle. */
  certManagerCertificate?: string;
  failurePolicy: 'Fail' | 'Ignore';
  timeoutSeconds: number;
  namespaceSelector?: Record<string, unknown>;
  labels?: Record<string, string>;
  /**
   * The operator's own user name. Its creates of the Invitations it keeps for Memberships and
   * Team owners then skip the create/update webhooks (see ownInvitationsCondition).
   */
  operatorUsername?: string;
}

/**
 * A matchCondition that leaves out the operator's creates of the Invitations it makes for a
 * Membership or a Team owner (controller owner reference). The webhooks admitted the object
 * those come from, and the operator is trusted with its own writes: calling them again cost
 * the API server two webhook calls per invited person, about 15 % of its CPU per Membership
 * at scale (issue 14). Nobody else matches: the user name is the authenticated one, and any
 * other Invitation (standalone, or created by anyone else) still goes through both webhooks.
 */
export function ownInvitationsCondition(operatorUsername: string): { name: string; expression: string } {
  const quoted = `'${operatorUsername.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return {
    name: 'not-the-operators-own-invitations',
    expression:
      `!(request.userInfo.username == ${quoted} && request.operation == 'CREATE' && request.kind.kind == 'Invitation' && ` +
      `has(object.metadata.ownerReferences) && object.metadata.ownerReferences.exists(r, has(r.controller) && r.controller && (r.kind == 'Membership' || r.kind == 'Team')))`,
  };
}

export interface WebhookConfigurationObject extends KubeObject {
  webhooks: Array<Record<string, unknown> & { name: string; clientConfig: Record<string, unknown> }>;
}

function clientConfig(target: ClientConfigTarget, path: string, caBundle: string | undefined): Record<string, unknown> {
  const ca = caBundle ? { caBundle: Buffer.from(caBundle).toString('base64') } : {};
  if ('url' in target) return { url: `${target.url.replace(/\/+$/, '')}${path}`, ...ca };
  return { service: { ...target.service, path }, ...ca };
}

const rosterRule = (operations: string[], resources: string[]) => ({
  apiGroups: ['roster.dev'],
  apiVersions: ['v1alpha1'],
  operations,
  resources,
  scope: 'Namespaced',
});

/** The ValidatingWebhookConfiguration and MutatingWebhookConfiguration, ready to apply. */
export function renderWebhookConfigurations(options: RenderOptions): { validating: WebhookConfigurationObject; mutating: WebhookConfigurationObject } {
  const timeoutSeconds = Math.min(5, Math.max(1, Math.round(options.timeoutSeconds)));
  const metadata = {
    name: options.name,
    labels: { 'app.kubernetes.io/name': 'roster', 'app.kubernetes.io/component': 'webhook', ...options.labels },
    ...(options.certManagerCertificate ? { annotations: { 'cert-manager.io/inject-ca-from': options.certManagerCertificate } } : {}),
  };
  const common = {
    failurePolicy: options.failurePolicy,
    matchPolicy: 'Equivalent',
    timeoutSeconds,
    admissionReviewVersions: ['v1'],
    ...(options.namespaceSelector ? { namespaceSelector: options.namespaceSelector } : {}),
  };
  const skipOwn = options.operatorUsername ? { matchConditions: [ownInvitationsCondition(options.operatorUsername)] } : {};
  return {
    validating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata,
      webhooks: [
        {
          name: VALIDATING_WEBHOOK,
          clientConfig: clientConfig(options.target, VALIDATE_PATH, options.caBundle),
          // Teams on create too: one Team per namespace, none in a system namespace (SPEC §7).
          rules: [rosterRule(['CREATE', 'UPDATE'], ['teams', 'memberships', 'invitations', 'projects', 'accesskeys'])],
          // Seat reservations write to the API server, except on dry-run requests.
          sideEffects: 'NoneOnDryRun',
          ...common,
          ...skipOwn,
        },
        {
          name: DELETION_WEBHOOK,
          clientConfig: clientConfig(options.target, VALIDATE_PATH, options.caBundle),
          rules: [rosterRule(['DELETE'], ['teams', 'memberships', 'invitations', 'projects', 'accesskeys'])],
          // It only records the actor: a replica that does not answer must never keep a
          // namespace from being deleted (the namespace controller deletes our objects).
          sideEffects: 'NoneOnDryRun',
          ...common,
          failurePolicy: 'Ignore',
        },
      ],
    },
    mutating: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata,
      webhooks: [
        {
          name: MUTATING_WEBHOOK,
          clientConfig: clientConfig(options.target, MUTATE_PATH, options.caBundle),
          rules: [rosterRule(['CREATE', 'UPDATE'], ['teams', 'memberships', 'invitations', 'projects', 'accesskeys'])],
          sideEffects: 'None',
          reinvocationPolicy: 'Never',
          ...common,
          ...skipOwn,
        },
      ],
    },
  };
}

/** Applies both configurations (server-side apply, the operator's field manager), each only if it is not already so. */
export async function applyWebhookConfigurations(
  client: Pick<KubeClient, 'apply' | 'find'>,
  objects: ReturnType<typeof renderWebhookConfigurations>,
): Promise<void> {
  await applyIfChanged(client, webhookConfigurationResources.validating, objects.validating);
  await applyIfChanged(client, webhookConfigurationResources.mutating, objects.mutating);
}

/**
 * Puts the CA bundle into every webhook of the named configurations (whoever registered
 * them, e.g. the chart). Missing configurations are skipped. Returns how many objects changed.
 */
export async function injectCaBundle(client: Pick<KubeClient, 'get' | 'replace'>, name: string, caBundle: string): Promise<number> {
  const encoded = Buffer.from(caBundle).toString('base64');
  let changed = 0;
  for (const ref of [webhookConfigurationResources.validating, webhookConfigurationResources.mutating]) {
    for (let attempt = 0; attempt < 5; attempt++) {
      let current: WebhookConfigurationObject;
      try {
        current = await client.get<WebhookConfigurationObject>(ref, undefined, name);
      } catch (e) {
        if (isNotFound(e)) break;
        throw e;
      }
      const ours = (current.webhooks ?? []).filter((w) => w.name === VALIDATING_WEBHOOK || w.name === MUTATING_WEBHOOK || w.name === DELETION_WEBHOOK);
      if (ours.every((w) => w.clientConfig.caBundle === encoded)) break;
      const webhooks = (current.webhooks ?? []).map((w) => (ours.includes(w) ? { ...w, clientConfig: { ...w.clientConfig, caBundle: encoded } } : w));
      try {
        await client.replace(ref, { ...current, webhooks });
        changed++;
        break;
      } catch (e) {
        if (!isConflict(e)) throw e;
      }
    }
  }
  return changed;
}

export type RegistrationCheck =
  | { kind: 'registered' }
  | { kind: 'missing'; missing: Array<'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration'> }
  /** The operator may not read them (cert-manager mode: the chart grants no access to them). */
  | { kind: 'unknown'; reason: string };

/**
 * Whether both configurations named `name` exist (whoever applied them). A webhook that is
 * served but registered by nobody enforces nothing, and nothing else would say so.
 */
export async function checkWebhookConfigurations(client: Pick<KubeClient, 'find'>, name: string): Promise<RegistrationCheck> {
  const missing: Array<'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration'> = [];
  const kinds = [
    ['ValidatingWebhookConfiguration', webhookConfigurationResources.validating],
    ['MutatingWebhookConfiguration', webhookConfigurationResources.mutating],
  ] as const;
  for (const [kind, ref] of kinds) {
    try {
      if (!(await client.find(ref, undefined, name))) missing.push(kind);
    } catch (e) {
      return { kind: 'unknown', reason: e instanceof Error ? e.message : String(e) };
    }
  }
  return missing.length ? { kind: 'missing', missing } : { kind: 'registered' };
}

/** Removes both configurations (tests; an uninstall). */
export async function deleteWebhookConfigurations(client: Pick<KubeClient, 'delete'>, name: string): Promise<void> {
  await client.delete(webhookConfigurationResources.validating, undefined, name);
  await client.delete(webhookConfigurationResources.mutating, undefined, name);
}
