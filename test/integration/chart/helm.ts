// Runs the helm built by scripts/setup-helm.sh (.roster/bin/helm) and parses what it renders.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { projectRoot } from '../../../controlplane/harness.ts';

export const chartDirectory = join(projectRoot, 'charts', 'roster');

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function helmBinary(): string {
  const path = join(projectRoot, '.roster', 'bin', 'helm');
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`bash scripts/setup-helm.sh\``);
  return path;
}

/** Helm with its caches and config in a throwaway directory (no state from the machine). */
const helmHome = mkdtempSync(join(tmpdir(), 'roster-helm-home-'));

export function helm(args: string[], options: { kubeconfig?: string } = {}): Promise<HelmResult> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: helmHome,
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
    ...(options.kubeconfig ? { KUBECONFIG: options.kubeconfig } : {}),
  };
  return new Promise((resolve) => {
    execFile(helmBinary(), args, { env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Writes values to a file for `-f` (helm's --set cannot express lists of objects well). */
export function valuesFile(values: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'roster-values-'));
  const path = join(dir, 'values.yaml');
  writeFileSync(path, stringify(values));
  return path;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`helm rendered invalid YAML: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

/** `helm template` of the chart with these values; throws with helm's message on failure. */
export async function renderChart(
  values: Record<string, unknown> = {},
  options: { namespace?: string; release?: string; includeCrds?: boolean } = {},
): Promise<K8sObject[]> {
  const args = ['template', options.release ?? 'roster', chartDirectory, '--namespace', options.namespace ?? 'roster-system', '-f', valuesFile(values)];
  if (options.includeCrds) args.push('--include-crds');
  const result = await helm(args);
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}):\n${result.stderr}`);
  return parseManifests(result.stdout);
}

export function find(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1)
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found[0]!;
}
