// The Dockerfile cannot be built on a machine without a container engine, so it is read:
// its stages, the production-only install, the non-root user, the command (the one the
// tests run), and that everything the operator loads at run time is in the image — every
// module reachable from src/main.ts is copied, and every package it imports is a
// production dependency (dev dependencies are not installed there).
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

/** Instructions with line continuations joined and comments dropped; `stage` counts FROMs. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (pending && line.startsWith('#')) continue;
    pending += (pending ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const [keyword, ...rest] = pending.split(/\s+/);
    if (keyword!.toUpperCase() === 'FROM') stage++;
    out.push({ keyword: keyword!.toUpperCase(), args: rest.join(' '), stage });
    pending = '';
  }
  return out;
}

const all = instructions(dockerfile);
const stages = all.filter((i) => i.keyword === 'FROM').map((i) => i.args);
const finalStage = stages.length - 1;
const inFinal = all.filter((i) => i.stage === finalStage);
const exec = (keyword: string) => {
  const found = inFinal.filter((i) => i.keyword === keyword);
  expect(found, keyword).toHaveLength(1);
  return JSON.parse(found[0]!.args) as string[];
};
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  type: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe('Dockerfile', () => {
  it('has a dependencies stage and a runtime stage, both on Node 24', () => {
    expect(stages).toEqual(['${NODE_IMAGE} AS deps', '${NODE_IMAGE} AS runtime']);
    const arg = all.find((i) => i.keyword === 'ARG' && i.stage === -1);
    expect(arg?.args).toMatch(/^NODE_IMAGE=(node:24(\.\d+)*-(bookworm|trixie)-slim|gcr\.io\/distroless\/nodejs24)/);
  });

  it('installs production dependencies only, from the lockfile, without install scripts', () => {
    const runs = all.filter((i) => i.keyword === 'RUN' && i.stage === 0).map((i) => i.args);
    expect(runs.some((r) => /\bnpm ci\b/.test(r) && r.includes('--omit=dev') && r.includes('--ignore-scripts'))).toBe(true);
    const copies = all.filter((i) => i.keyword === 'COPY' && i.stage === 0).map((i) => i.args);
    expect(copies).toEqual(['package.json package-lock.json ./']);
    // The repository's `node` devDependency is not what runs in the image.
    expect(packageJson.devDependencies.node).toBeDefined();
    expect(packageJson.dependencies.node).toBeUndefined();
  });

  it('runs as a non-root numeric user, with nothing it could write to', () => {
    const user = inFinal.filter((i) => i.keyword === 'USER').map((i) => i.args);
    expect(user).toEqual(['65532:65532']);
    for (const copy of inFinal.filter((i) => i.keyword === 'COPY')) expect(copy.args).toMatch(/--chown=0:0/);
    const env = inFinal
      .filter((i) => i.keyword === 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toContain('TMPDIR=/tmp');
    expect(env).toContain('NODE_ENV=production');
  });

  it("sets the chart's memory defaults, so the image alone runs as lean as a chart install", () => {
    const env = inFinal
      .filter((i) => i.keyword === 'ENV')
      .map((i) => i.args)
      .join(' ');
    const values = parse(readFileSync(join(root, 'charts/roster/values.yaml'), 'utf8')) as {
      nodeOptions: string;
      mallocArenaMax: number;
      mallocThresholdBytes: number;
    };
    expect(env).toContain(`NODE_OPTIONS=${values.nodeOptions}`);
    expect(env).toContain(`MALLOC_ARENA_MAX=${values.mallocArenaMax}`);
    expect(env).toContain(`MALLOC_MMAP_THRESHOLD_=${values.mallocThresholdBytes}`);
    expect(env).toContain(`MALLOC_TRIM_THRESHOLD_=${values.mallocThresholdBytes}`);
  });

  it('starts `node src/main.ts --config /etc/roster/config.yaml`, the command the tests run', () => {
    expect([...exec('ENTRYPOINT'), ...exec('CMD')]).toEqual(['node', 'src/main.ts', '--config', '/etc/roster/config.yaml']);
    // test/integration/support/operator.ts launches the same entry point with --config.
    const launcher = readFileSync(join(root, 'test/integration/support/operator.ts'), 'utf8');
    expect(launcher).toMatch(/join\(projectRoot, 'src', 'main\.ts'\), '--config'/);
  });

  it('copies the runtime files, and the build context (.dockerignore) lets exactly those in', () => {
    const copied = inFinal
      .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
      .map((i) =>
        i.args
          .replace(/--\S+\s+/g, '')
          .split(/\s+/)
          .slice(0, -1),
      )
      .flat();
    expect(copied.sort()).toEqual(['crds', 'package.json', 'src']);
    expect(inFinal.some((i) => i.keyword === 'COPY' && i.args.includes('--from=deps') && i.args.includes('/app/node_modules'))).toBe(true);
    const ignore = readFileSync(join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('**');
    for (const path of ['package.json', 'package-lock.json', 'crds/', 'src/']) expect(ignore).toContain(`!${path}`);
    expect(ignore.filter((l) => l.startsWith('!')).every((l) => /^!(package(-lock)?\.json|crds\/(\*\*)?|src\/(\*\*)?)$/.test(l))).toBe(true);
  });

  it('has everything the operator imports from src/main.ts: copied files and production packages only', () => {
    expect(packageJson.type).toBe('module'); // .ts files under src/ load as ES modules
    const { files, packages } = importGraph(join(root, 'src', 'main.ts'));
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) expect(relative(root, file), 'outside the copied folders').toMatch(/^(src|crds)\//);
    const production = new Set(Object.keys(packageJson.dependencies));
    const notProduction = [...packages].filter((p) => !production.has(p));
    expect(notProduction, 'imported by the operator but not a production dependency').toEqual([]);
    // The operator reads crds/ at run time only through src/api/crds.ts, which resolves ../../crds.
    expect(existsSync(join(root, 'crds'))).toBe(true);
  });
});

/** Relative modules reachable from `entry` (type-only imports left out) and the packages they import. */
function importGraph(entry: string): { files: string[]; packages: Set<string> } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const builtins = new Set(builtinModules);
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    const specifiers = [
      ...[...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
      ...[...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!),
    ];
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) {
        const target = resolve(dirname(file), specifier);
        expect(existsSync(target), `${relative(root, file)} imports ${specifier}`).toBe(true);
        visit(target);
      } else if (!specifier.startsWith('node:') && !builtins.has(specifier)) {
        const parts = specifier.split('/');
        packages.add(specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
      }
    }
  };
  visit(entry);
  return { files: [...seen], packages };
}
