// Turns the CRDs' OpenAPI schemas into TypeScript declarations. Shared by the generator
// script and the drift test so both render exactly the same text.
import { compile } from 'json-schema-to-typescript';
import { loadCrds, schemaOf, type JsonSchema } from '../src/api/crds.ts';

const banner = `// Generated from crds/*.yaml by \`npm run generate\`. Do not edit by hand:
// change the CRD and regenerate (a test fails when this file drifts from the CRDs).
`;

/** Gives the top-level spec/status and named sub-objects titles so they become named types. */
function titled(kind: string, schema: JsonSchema): JsonSchema {
  const copy = structuredClone(schema) as JsonSchema & { properties: Record<string, JsonSchema> };
  copy.title = kind;
  copy.additionalProperties = false;
  const props = copy.properties;
  props.metadata = { tsType: 'ObjectMeta' };
  props.apiVersion = { type: 'string', const: 'roster.dev/v1alpha1' };
  props.kind = { type: 'string', const: kind };
  for (const part of ['spec', 'status'] as const) {
    const sub = props[part];
    if (sub) sub.title = `${kind}${part === 'spec' ? 'Spec' : 'Status'}`;
  }
  const status = props.status as { properties?: Record<string, JsonSchema> } | undefined;
  if (status?.properties?.conditions) status.properties.conditions = { type: 'array', items: { tsType: 'Condition' } };
  copy.required = ['apiVersion', 'kind', 'metadata', ...((copy.required as string[] | undefined) ?? [])];
  return closeObjects(copy);
}

/**
 * CRD objects reject unknown fields, so the types do too. A string whose CEL rule is
 * `self in ['a', 'b']` is an enum in all but name: CEL instead of `enum` lets the API
 * server answer with our message (an `enum` failure stops validation before CEL runs).
 */
function closeObjects(schema: JsonSchema): JsonSchema {
  if (schema.type === 'object' && schema.properties && schema.additionalProperties === undefined) {
    schema.additionalProperties = false;
  }
  const rules = (schema['x-kubernetes-validations'] ?? []) as Array<{ rule: string }>;
  for (const { rule } of rules) {
    const members = /^self in \[(.*)\]$/.exec(rule)?.[1];
    if (schema.type === 'string' && members) schema.enum = [...members.matchAll(/'([^']*)'/g)].map((m) => m[1]);
  }
  for (const value of Object.values(schema)) {
    if (value && typeof value === 'object') {
      if (Array.isArray(value)) value.forEach((v) => v && typeof v === 'object' && closeObjects(v as JsonSchema));
      else closeObjects(value as JsonSchema);
    }
  }
  return schema;
}

export async function renderApiTypes(): Promise<string> {
  const parts: string[] = [
    banner,
    `import type { ObjectMeta } from '../runtime/kube-client.ts';\n`,
    `/** A metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}
`,
  ];
  for (const { crd } of loadCrds()) {
    const kind = crd.spec.names.kind;
    const ts = await compile(titled(kind, schemaOf(crd)) as Parameters<typeof compile>[0], kind, {
      bannerComment: '',
      additionalProperties: false,
      strictIndexSignatures: true,
      format: true,
      style: { singleQuote: true, printWidth: 110 },
    });
    parts.push(ts.trim() + '\n');
  }
  return parts.join('\n');
}
