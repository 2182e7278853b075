// Loads the CRDs from crds/, the single source of truth for the API. Used by the type
// generator, by ajv validation and by the test harness that installs them.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const crdDirectory = fileURLToPath(new URL('../../crds/', import.meta.url));

export type JsonSchema = { [key: string]: unknown };

export interface CrdDocument {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    group: string;
    names: { kind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    versions: Array<{ name: string; served: boolean; storage: boolean; schema: { openAPIV3Schema: JsonSchema } }>;
  };
}

/** Every CRD under crds/, sorted by file name so output is stable. */
export function loadCrds(dir: string = crdDirectory): Array<{ file: string; crd: CrdDocument }> {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((file) => ({ file: join(dir, file), crd: parse(readFileSync(join(dir, file), 'utf8')) as CrdDocument }));
}

/** The storage version's OpenAPI schema of a kind. */
export function schemaOf(crd: CrdDocument): JsonSchema {
  const version = crd.spec.versions.find((v) => v.storage);
  if (!version) throw new Error(`${crd.metadata.name}: no storage version`);
  return version.schema.openAPIV3Schema;
}
