// The values table of charts/roster/README.md, generated from the `# --` comments of
// charts/roster/values.yaml (the helm-docs convention) and the defaults in it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const chartDirectory = fileURLToPath(new URL('../../../charts/roster/', import.meta.url));
export const valuesPath = join(chartDirectory, 'values.yaml');
export const readmePath = join(chartDirectory, 'README.md');
export const TABLE_START = '<!-- values:start (generated from values.yaml by test/unit/chart/values-doc.ts) -->';
export const TABLE_END = '<!-- values:end -->';

export interface DocumentedValue {
  path: string;
  description: string;
  default: unknown;
}

/** Each key preceded by a `# --` comment, in file order, with its default. */
export function documentedValues(text: string = readFileSync(valuesPath, 'utf8')): DocumentedValue[] {
  const values = parse(text) as Record<string, unknown>;
  const stack: Array<{ indent: number; key: string }> = [];
  const out: DocumentedValue[] = [];
  let pending: string[] | undefined;
  for (const line of text.split('\n')) {
    const comment = /^\s*#\s?(.*)$/.exec(line);
    if (comment) {
      const body = comment[1]!;
      if (body.startsWith('-- ')) pending = [body.slice(3).trim()];
      else if (pending) pending.push(body.trim());
      continue;
    }
    const key = /^(\s*)([A-Za-z0-9_]+):(?:\s|$)/.exec(line);
    if (!key) {
      if (line.trim() === '') pending = undefined;
      continue;
    }
    const indent = key[1]!.length;
    while (stack.length && stack[stack.length - 1]!.indent >= indent) stack.pop();
    stack.push({ indent, key: key[2]! });
    const path = stack.map((s) => s.key).join('.');
    if (pending) out.push({ path, description: pending.join(' '), default: valueAt(values, path) });
    pending = undefined;
  }
  return out;
}

export function valueAt(values: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), values);
}

/** Paths of the leaves (scalars, lists, empty maps) of a values tree. */
export function leafPaths(values: unknown, prefix = ''): string[] {
  if (values && typeof values === 'object' && !Array.isArray(values) && Object.keys(values).length > 0) {
    return Object.entries(values as Record<string, unknown>).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function valuesTable(values: DocumentedValue[] = documentedValues()): string {
  const rows = values.map((v) => `| \`${v.path}\` | \`${cell(JSON.stringify(v.default))}\` | ${cell(v.description)} |`);
  return ['| Key | Default | Description |', '|---|---|---|', ...rows].join('\n');
}

/** The README with its values table replaced by a freshly generated one. */
export function readmeWithTable(readme: string, table: string = valuesTable()): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README has no ${TABLE_START} … ${TABLE_END} block`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${table}\n${readme.slice(end)}`;
}
