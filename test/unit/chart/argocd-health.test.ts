// The Argo CD health check (deploy/argocd/roster-health.lua) over objects shaped as the
// operator writes them (conditions from the domain's own helper), run by a real Lua; the
// argocd-cm snippet carries it verbatim for all four kinds; the Application for the
// examples points at them and lives outside examples/.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { Condition } from '../../../src/api/generated.ts';
import { loadCrds } from '../../../src/api/crds.ts';
import { setCondition, setConditions, type ConditionInput, type RosterKind } from '../../../src/domain/conditions.ts';
import { argoHealth, healthScriptPath, luaLiteral } from './argocd-health.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const now = new Date('2026-03-01T12:00:00Z');

function object(kind: string, options: { generation?: number; observed?: number; phase?: string; conditions?: ConditionInput[] } = {}): unknown {
  const generation = options.generation ?? 1;
  let conditions: Condition[] | undefined;
  for (const c of options.conditions ?? []) conditions = setCondition(conditions, c, options.observed ?? generation, now);
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind,
    metadata: { name: 'x', namespace: 'acme', generation, uid: 'u-1' },
    spec: {},
    status: {
      ...(options.observed !== undefined || options.conditions ? { observedGeneration: options.observed ?? generation } : {}),
      ...(options.phase ? { phase: options.phase } : {}),
      ...(conditions ? { conditions } : {}),
    },
  };
}

const ready = (status: 'True' | 'False' | 'Unknown', reason: string, message = `${reason} message`): ConditionInput => ({
  type: 'Ready',
  status,
  reason,
  message,
});

/** An object as the operator writes it now: Ready follows its reason, with Reconciling/Stalled beside it. */
function written(kind: RosterKind, phase: string | undefined, ...inputs: ConditionInput[]): unknown {
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind,
    metadata: { name: 'x', namespace: 'acme', generation: 2, uid: 'u-1' },
    spec: {},
    status: { observedGeneration: 2, ...(phase ? { phase } : {}), conditions: setConditions(kind, undefined, inputs, 2, now) },
  };
}

describe('the Argo CD health check', () => {
  it.each([
    [
      'a Team the operator has not seen',
      { apiVersion: 'roster.dev/v1alpha1', kind: 'Team', metadata: { name: 'x', generation: 1 }, spec: {} },
      'Progressing',
      /Waiting for the Roster operator/,
    ],
    [
      'a Team whose new spec is not observed yet',
      object('Team', { generation: 3, observed: 2, conditions: [ready('True', 'Reconciled')] }),
      'Progressing',
      /observe generation 3/,
    ],
    ['a reconciled Team', object('Team', { conditions: [ready('True', 'Reconciled', 'the team is reconciled')] }), 'Healthy', /the team is reconciled/],
    [
      'a Team on an unknown identity backend',
      object('Team', { conditions: [ready('False', 'UnknownIdentityBackend', 'identity backend "corp" is not configured')] }),
      'Degraded',
      /"corp" is not configured/,
    ],
    ['a Team whose Ready is Unknown', object('Team', { conditions: [ready('Unknown', 'Reconciling')] }), 'Progressing', /Reconciling/],
    [
      'an invited Membership',
      object('Membership', {
        phase: 'Invited',
        conditions: [
          { type: 'Accepted', status: 'False', reason: 'AwaitingAcceptance', message: 'sent' },
          ready('False', 'AwaitingAcceptance', 'waiting for riley@acme.com to accept'),
        ],
      }),
      'Suspended',
      /riley@acme.com/,
    ],
    [
      'an active Membership',
      object('Membership', {
        phase: 'Active',
        conditions: [
          { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'ok' },
          { type: 'IdentitySynced', status: 'True', reason: 'Synced', message: 'ok' },
          ready('True', 'Active', 'riley has developer access'),
        ],
      }),
      'Healthy',
      /developer access/,
    ],
    [
      'a Membership over the seat limit',
      object('Membership', { phase: 'OverSeatLimit', conditions: [ready('False', 'OverSeatLimit', 'team acme has 10 of 10 seats in use')] }),
      'Degraded',
      /10 of 10 seats/,
    ],
    [
      'a Membership whose backend fails',
      object('Membership', {
        phase: 'Invited',
        conditions: [{ type: 'IdentitySynced', status: 'False', reason: 'Unreachable', message: 'keycloak is down' }, ready('False', 'Unreachable')],
      }),
      'Degraded',
      /keycloak is down/,
    ],
    [
      'an expired Membership',
      object('Membership', {
        phase: 'Expired',
        conditions: [{ type: 'IdentitySynced', status: 'True', reason: 'AccessRemoved', message: 'no access' }, ready('False', 'Expired', 'access ended')],
      }),
      'Suspended',
      /access ended/,
    ],
    [
      'a failed Membership',
      object('Membership', { phase: 'Failed', conditions: [ready('False', 'SupersededByOwnership', 'delete this Membership')] }),
      'Degraded',
      /delete this Membership/,
    ],
    [
      'a pending Invitation',
      object('Invitation', {
        phase: 'Pending',
        conditions: [{ type: 'Delivered', status: 'True', reason: 'Sent', message: 'mailed' }, ready('True', 'Pending', 'waiting for jordan to accept')],
      }),
      'Healthy',
      /jordan/,
    ],
    [
      'an Invitation whose mail failed',
      object('Invitation', {
        phase: 'Pending',
        conditions: [{ type: 'Delivered', status: 'False', reason: 'SendFailed', message: 'could not mail jordan: 451' }],
      }),
      'Degraded',
      /451/,
    ],
    [
      'an Invitation waiting out a resend cooldown',
      object('Invitation', {
        phase: 'Pending',
        conditions: [{ type: 'Delivered', status: 'Unknown', reason: 'ResendCooldown', message: 'resend in 40 s' }, ready('True', 'Pending')],
      }),
      'Progressing',
      /40 s/,
    ],
    [
      'an Invitation whose delivery is unconfirmed',
      object('Invitation', {
        phase: 'Pending',
        conditions: [{ type: 'Delivered', status: 'Unknown', reason: 'DeliveryUnconfirmed', message: 'resend if it did not arrive' }, ready('True', 'Pending')],
      }),
      'Degraded',
      /resend/,
    ],
    [
      'a revoked Invitation',
      object('Invitation', {
        phase: 'Revoked',
        conditions: [{ type: 'Delivered', status: 'True', reason: 'Sent', message: 'mailed' }, ready('False', 'Revoked', 'the invitation was revoked')],
      }),
      'Healthy',
      /revoked/,
    ],
    [
      'an expired Invitation',
      object('Invitation', {
        phase: 'Expired',
        conditions: [{ type: 'Delivered', status: 'True', reason: 'Sent', message: 'mailed' }, ready('False', 'Expired', 'the link expired; resend')],
      }),
      'Degraded',
      /expired/,
    ],
    [
      'an accepted Invitation',
      object('Invitation', {
        phase: 'Accepted',
        conditions: [{ type: 'Delivered', status: 'True', reason: 'Sent', message: 'mailed' }, ready('True', 'Accepted', 'accepted by jordan')],
      }),
      'Healthy',
      /accepted/,
    ],
    [
      'a Project of an unknown team',
      object('Project', { conditions: [ready('False', 'TeamNotFound', 'team nope does not exist')] }),
      'Degraded',
      /does not exist/,
    ],
    ['a reconciled Project', object('Project', { conditions: [ready('True', 'Reconciled', '2 environment(s)')] }), 'Healthy', /environment/],
    // As the operator writes them since Reconciling/Stalled (kstatus) were added.
    [
      'an invited Membership (Ready=True, settled)',
      written('Membership', 'Invited', ready('False', 'AwaitingAcceptance', 'waiting for riley@acme.com to accept')),
      'Suspended',
      /riley@acme.com/,
    ],
    ['an expired Membership (Ready=True, settled)', written('Membership', 'Expired', ready('False', 'Expired', 'access ended')), 'Suspended', /access ended/],
    [
      'a Membership over the seat limit (Stalled)',
      written('Membership', 'OverSeatLimit', ready('False', 'OverSeatLimit', '10 of 10 seats')),
      'Degraded',
      /10 of 10/,
    ],
    [
      'a Team in a namespace another Team holds (Stalled)',
      written('Team', undefined, ready('False', 'NamespaceTaken', 'namespace acme already holds team acme')),
      'Degraded',
      /already holds/,
    ],
    [
      'a Team whose backend is retried (Reconciling)',
      written('Team', undefined, ready('False', 'Unreachable', 'Keycloak is unreachable; retrying')),
      'Progressing',
      /unreachable/,
    ],
    [
      'a Project whose namespace is not assigned (Stalled)',
      written('Project', undefined, ready('False', 'NamespaceNotAssigned', 'kubectl label namespace shop-prod')),
      'Degraded',
      /kubectl label/,
    ],
    [
      'a Project whose namespace does not exist yet (Reconciling)',
      written('Project', undefined, ready('False', 'NamespaceMissing', 'shop-prod does not exist yet')),
      'Progressing',
      /does not exist yet/,
    ],
    [
      'a revoked Invitation (Ready=True, settled)',
      written(
        'Invitation',
        'Revoked',
        { type: 'Delivered', status: 'True', reason: 'Sent', message: 'mailed' },
        ready('False', 'Revoked', 'the invitation was revoked'),
      ),
      'Healthy',
      /revoked/,
    ],
    [
      'an expired Invitation (Stalled)',
      written(
        'Invitation',
        'Expired',
        { type: 'Delivered', status: 'True', reason: 'Sent', message: 'mailed' },
        ready('False', 'Expired', 'the link expired; resend'),
      ),
      'Degraded',
      /expired/,
    ],
    [
      'an Invitation over the mail quota (Stalled)',
      written('Invitation', 'Pending', { type: 'Delivered', status: 'False', reason: 'QuotaExceeded', message: 'daily quota used up' }),
      'Degraded',
      /quota/,
    ],
  ])('%s is %s', (_what, obj, status, message) => {
    const health = argoHealth(obj);
    expect(health.status).toBe(status);
    expect(health.message).toMatch(message);
  });

  it('turns JSON into Lua faithfully (nested tables, arrays, escapes, null)', () => {
    expect(luaLiteral({ a: [1, 'x"y'], b: null, c: { d: true } })).toBe('{["a"] = {1, "x\\"y"}, ["c"] = {["d"] = true}}');
  });

  it('keeps to Lua 5.1 (Argo CD runs gopher-lua): no goto, integer division, bit operators or utf8 library', () => {
    const code = readFileSync(healthScriptPath, 'utf8').replace(/--.*$/gm, '');
    expect(code).not.toMatch(/\bgoto\b|\/\/|<<|>>|\butf8\.|\bmath\.tointeger\b|&|~[^=]/);
  });
});

describe('deploy/argocd', () => {
  it('argocd-cm-health.yaml carries the script verbatim for each of the four kinds', () => {
    const cm = parse(readFileSync(join(root, 'deploy/argocd/argocd-cm-health.yaml'), 'utf8')) as {
      kind: string;
      metadata: { name: string };
      data: Record<string, string>;
    };
    expect(cm.kind).toBe('ConfigMap');
    expect(cm.metadata.name).toBe('argocd-cm');
    const expectedKeys = loadCrds()
      .map(({ crd }) => `resource.customizations.health.${crd.spec.group}_${crd.spec.names.kind}`)
      .sort();
    expect(Object.keys(cm.data).sort()).toEqual(expectedKeys);
    const script = readFileSync(healthScriptPath, 'utf8');
    for (const key of expectedKeys) expect(cm.data[key], key).toBe(script);
  });

  it('the Application syncs examples/teams, recursively, and examples/ holds no Argo CD objects', () => {
    const app = parse(readFileSync(join(root, 'deploy/argocd/application.yaml'), 'utf8')) as {
      apiVersion: string;
      kind: string;
      spec: { source: { path: string; directory: { recurse: boolean } } };
    };
    expect(app).toMatchObject({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application' });
    expect(app.spec.source.path).toBe('examples/teams');
    expect(app.spec.source.directory.recurse).toBe(true);
    expect(statSync(join(root, app.spec.source.path)).isDirectory()).toBe(true);
    const apiVersions = yamlFiles(join(root, 'examples')).flatMap((file) =>
      parseAllDocuments(readFileSync(file, 'utf8')).map((d) => (d.toJS() as { apiVersion?: string } | null)?.apiVersion),
    );
    expect(apiVersions.length).toBeGreaterThan(5);
    for (const v of apiVersions) if (v) expect(v).not.toMatch(/argoproj\.io|fluxcd\.io/);
  });

  it('the chart Application ignores the caBundle the operator injects', () => {
    const app = parse(readFileSync(join(root, 'deploy/argocd/roster-chart.yaml'), 'utf8')) as {
      spec: { source: { path: string }; ignoreDifferences: Array<{ kind: string; jqPathExpressions: string[] }> };
    };
    expect(app.spec.source.path).toBe('charts/roster');
    expect(app.spec.ignoreDifferences.map((d) => d.kind).sort()).toEqual(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
    for (const d of app.spec.ignoreDifferences) expect(d.jqPathExpressions).toEqual(['.webhooks[]?.clientConfig.caBundle']);
  });
});

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}
