// Every value of the chart is documented (values.yaml comments and the README table, which
// is generated from them) and described by values.schema.json, which is strict: the
// defaults pass, unknown keys and wrong types do not.
// Regenerate the README table: UPDATE_CHART_README=1 npx vitest run test/unit/chart/values.test.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { chartDirectory, documentedValues, leafPaths, readmePath, readmeWithTable, valueAt, valuesPath } from './values-doc.ts';

const values = parse(readFileSync(valuesPath, 'utf8')) as Record<string, unknown>;
const schema = JSON.parse(readFileSync(join(chartDirectory, 'values.schema.json'), 'utf8')) as Record<string, unknown>;
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
const documented = documentedValues();

type SchemaNode = { type?: string; properties?: Record<string, SchemaNode>; additionalProperties?: boolean | SchemaNode };

/** The schema node for a values path, following properties (and typed additionalProperties). */
function schemaAt(path: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = schema as SchemaNode;
  for (const key of path.split('.')) {
    if (!node) return undefined;
    node = node.properties?.[key] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
  }
  return node;
}

const withValue = (path: string, value: unknown) => {
  const copy = structuredClone(values);
  const keys = path.split('.');
  let node = copy as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
  node[keys[keys.length - 1]!] = value;
  return copy;
};

describe('values.yaml', () => {
  it('documents every value, itself or through the key above it', () => {
    const paths = documented.map((d) => d.path);
    const undocumented = leafPaths(values).filter((leaf) => !paths.some((p) => leaf === p || leaf.startsWith(`${p}.`)));
    expect(undocumented).toEqual([]);
    expect(documented.length).toBeGreaterThan(60);
    for (const d of documented) {
      expect(d.description.length, d.path).toBeGreaterThan(5);
      expect(valueAt(values, d.path), d.path).not.toBeUndefined();
    }
  });

  it('has the generated values table in the chart README', () => {
    const readme = readFileSync(readmePath, 'utf8');
    const expected = readmeWithTable(readme);
    if (process.env.UPDATE_CHART_README) writeFileSync(readmePath, expected);
    expect(readme).toBe(expected);
  });
});

describe('values.schema.json', () => {
  it('accepts the defaults', () => {
    expect(validate(values), JSON.stringify(validate.errors)).toBe(true);
  });

  it('describes every documented value, and no key values.yaml lacks', () => {
    for (const d of documented) expect(schemaAt(d.path), d.path).toBeDefined();
    const topLevel = Object.keys((schema as SchemaNode).properties ?? {}).filter((k) => k !== 'global');
    expect(topLevel.sort()).toEqual(Object.keys(values).sort());
  });

  it('is strict: every object of settings refuses unknown keys', () => {
    const strictObjects = documented.filter((d) => {
      const node = schemaAt(d.path);
      return node?.type === 'object' && node.properties && Object.keys(node.properties).length > 0 && !/securitycontext|resources/i.test(d.path);
    });
    expect(strictObjects.length).toBeGreaterThan(5);
    for (const d of strictObjects) {
      expect(validate(withValue(`${d.path}.surelyNotAKey`, 1)), d.path).toBe(false);
    }
    expect(validate({ ...values, replicas: 2 })).toBe(false);
  });

  it.each([
    ['replicaCount', -1],
    ['replicaCount', '2'],
    ['webhook.timeoutSeconds', 30],
    ['webhook.certificates', 'vault'],
    ['webhook.caValidity', 'three years'],
    ['mail.backend', 'sendmail'],
    ['mail.smtp.port', 70000],
    ['operator.logLevel', 'verbose'],
    ['image.digest', 'latest'],
    ['ports.webhook', 0],
    ['service.type', 'ExternalName'],
    ['secretMounts', [{ secretName: 'x' }]],
    ['podDisruptionBudget.minAvailable', 'half'],
    ['fence.enabled', 'yes'],
    ['tenancy.namespaceLabel', 'roster.dev/team name'],
    ['tenancy.namespaceLabel', '/team'],
    ['mail.allowedSenderDomains', 'acme.example'],
    ['mail.allowedSenderDomains', ['']],
    ['mail.resendCooldownSeconds', -1],
    ['mail.dailyQuotaPerTeam', 1.5],
    ['mail.smtp.allowInsecure', 'true'],
  ])('refuses %s = %j', (path, value) => {
    expect(validate(withValue(path, value))).toBe(false);
  });

  it.each([
    ['podDisruptionBudget.minAvailable', '50%'],
    ['image.digest', `sha256:${'a'.repeat(64)}`],
    ['webhook.certManager.issuerRef', { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' }],
    ['operator.identityBackends', { default: { type: 'kubernetes' }, corp: { type: 'keycloak', url: 'https://sso' } }],
    ['secretMounts', [{ name: 'keycloak', secretName: 'roster-keycloak', items: [{ key: 'secret', path: 'client-secret' }] }]],
    ['tenancy.namespaceLabel', 'platform.example.com/owner-team'],
    ['tenancy.namespaceLabel', 'team'],
    ['mail.allowedSenderDomains', ['acme.example', 'mail.acme.example']],
    ['mail.dailyQuotaPerTeam', 0],
  ])('accepts %s = %j', (path, value) => {
    expect(validate(withValue(path, value)), JSON.stringify(validate.errors)).toBe(true);
  });
});
