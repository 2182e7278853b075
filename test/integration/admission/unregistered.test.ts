// A webhook that is served but registered by nobody enforces nothing (no seat limit, no one
// owner, no actor stamping), and nothing else would say so. The operator, started as a real
// process against the real API server, warns once at start until both configurations with
// its configured name exist, and then stops warning.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deleteWebhookConfigurations, renderWebhookConfigurations, webhookConfigurationResources } from '../../../src/admission/registration.ts';
import { KubeClient } from '../../../src/runtime/kube-client.ts';
import { eventually } from '../support/eventually.ts';
import { startOperator, type OperatorProcess } from '../support/operator.ts';
import { TEST_LABEL } from './support.ts';

const kubeconfig = inject('kubeconfigPath');
// Unique: the control plane is shared with other files (and, on an existing cluster, with other runs).
const name = `roster-test-unregistered-${randomBytes(3).toString('hex')}`;
let client: KubeClient;
let operator: OperatorProcess;

interface LogLine {
  level: string;
  msg?: string;
  component?: string;
  missing?: string[];
}

/** The operator's warnings about its own registration, from log text written after `from`. */
function registrationWarnings(from: number): LogLine[] {
  return operator
    .logs()
    .slice(from)
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine)
    .filter((l) => l.level === 'warn' && (l.msg ?? '').includes(`named ${name} exists`));
}

/** Readiness answers once the webhook listens; the registration check runs just after, before this line. */
async function started(from: number): Promise<void> {
  await eventually(() => expect(operator.logs().slice(from)).toContain('"msg":"operator started"'), 30_000, 100);
}

async function restart(): Promise<number> {
  await operator.kill();
  const from = operator.logs().length;
  await operator.restart();
  await started(from);
  return from;
}

// Configurations that the API server never calls: they select no namespace.
const configurations = () =>
  renderWebhookConfigurations({
    name,
    target: { url: 'https://127.0.0.1:9/unused' },
    failurePolicy: 'Ignore',
    timeoutSeconds: 1,
    namespaceSelector: { matchLabels: { [TEST_LABEL]: `${name}-selects-nothing` } },
  });

beforeAll(async () => {
  client = KubeClient.fromFile(kubeconfig);
  operator = await startOperator({ kubeconfigPath: kubeconfig, config: { webhook: { configurationName: name } } });
  await started(0);
});

afterAll(async () => {
  await operator?.kill();
  await deleteWebhookConfigurations(client, name);
  client.close();
});

describe('a served webhook that nobody registered', () => {
  it('is a warning at start, once, naming what is missing and what to do', () => {
    const warnings = registrationWarnings(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.missing).toEqual(['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']);
    expect(warnings[0]?.msg).toContain('the seat limit');
    expect(warnings[0]?.msg).toContain('webhook.register.enabled: true');
    expect(warnings[0]?.msg).toContain('Helm chart');
  });

  it('names only the configuration still missing', async () => {
    await client.apply(webhookConfigurationResources.validating, configurations().validating);
    const from = await restart();
    const warnings = registrationWarnings(from);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.missing).toEqual(['MutatingWebhookConfiguration']);
  });

  it('is silent once both exist', async () => {
    await client.apply(webhookConfigurationResources.mutating, configurations().mutating);
    const from = await restart();
    expect(operator.logs().slice(from)).toContain('admission webhook serving');
    expect(registrationWarnings(from)).toEqual([]);
  });
});

describe("the webhook in the operator's lifecycle (the manager runs it)", () => {
  it('serves before the caches sync, and on SIGTERM stops last, after the controllers, every step timed', async () => {
    const from = await restart();
    await operator.kill('SIGTERM');
    const lines = operator
      .logs()
      .slice(from)
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine & { step?: string; ms?: number });
    const messages = lines.map((l) => l.msg);
    expect(messages.indexOf('admission webhook serving')).toBeGreaterThanOrEqual(0);
    expect(messages.indexOf('admission webhook serving')).toBeLessThan(messages.indexOf('caches synced'));
    const steps = lines.filter((l) => l.msg === 'shutdown step done');
    expect(steps.map((l) => l.step)).toEqual(['controllers', 'leader election', 'caches', 'probes', 'accept page', 'events', 'mail', 'webhook']);
    for (const s of steps) expect(s.ms).toBeTypeOf('number');
  });
});
