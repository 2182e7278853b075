// The chart ships the CRDs in its crds/ folder (Helm installs them before the templates and
// never deletes them, so uninstalling the chart cannot cascade-delete every Team). crds/ at
// the repository root is the single source: the chart's copy must be byte-identical.
// Fix a failure with: cp crds/*.yaml charts/roster/crds/
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const source = join(root, 'crds');
const chart = join(root, 'charts', 'roster', 'crds');
const yamlFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort();

describe("the chart's CRDs", () => {
  it('are the same files as crds/', () => {
    expect(yamlFiles(chart)).toEqual(yamlFiles(source));
    expect(yamlFiles(source)).toHaveLength(5);
    expect(readdirSync(chart).sort()).toEqual(yamlFiles(chart)); // nothing else in the folder
  });

  it.each(yamlFiles(source))('%s is byte-identical to the source', (file) => {
    expect(readFileSync(join(chart, file), 'utf8')).toBe(readFileSync(join(source, file), 'utf8'));
  });
});
