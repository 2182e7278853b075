// The krew manifest the plugin build rewrites: each built archive's uri and sha256 land on the
// platform of its arch, the version follows, and the hand-written rest (comments, files,
// caveats) stays as it is.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { rewriteKrewManifest } from '../../../scripts/build-plugin.ts';
import { projectRoot } from '../../../controlplane/harness.ts';

const manifest = readFileSync(join(projectRoot, 'deploy', 'krew', 'roster.yaml'), 'utf8');

interface Platform {
  selector: { matchLabels: { os: string; arch: string } };
  uri: string;
  sha256: string;
  files: { from: string; to: string }[];
  bin: string;
}

describe('rewriteKrewManifest', () => {
  it("points each built arch's platform at its archive, and leaves the others and the rest alone", () => {
    const x64 = { path: '/somewhere/dist/kubectl-roster-linux-amd64.tar.gz', sha256: 'a'.repeat(64) };
    const text = rewriteKrewManifest(manifest, '1.2.3', 'https://example.test/releases/v{version}/', { x64 });
    const doc = parse(text) as { apiVersion: string; metadata: { name: string }; spec: { version: string; platforms: Platform[]; caveats: string } };
    expect(doc.apiVersion).toBe('krew.googlecontainertools.github.com/v1alpha2');
    expect(doc.metadata.name).toBe('roster');
    expect(doc.spec.version).toBe('v1.2.3');
    const [amd64, arm64] = doc.spec.platforms;
    expect(amd64).toMatchObject({
      selector: { matchLabels: { os: 'linux', arch: 'amd64' } },
      uri: 'https://example.test/releases/v1.2.3/kubectl-roster-linux-amd64.tar.gz',
      sha256: 'a'.repeat(64),
      bin: 'kubectl-roster',
    });
    expect(amd64!.files.map((f) => f.from)).toEqual(['kubectl-roster', 'kubectl_complete-roster', 'LICENSE.node']);
    const before = (parse(manifest) as { spec: { platforms: Platform[] } }).spec.platforms[1];
    expect(arm64).toEqual(before); // not built this time: untouched
    expect(text.split('\n').slice(0, 4).join('\n')).toBe(manifest.split('\n').slice(0, 4).join('\n')); // the header comment
    expect(doc.spec.caveats).toContain('kubectl_complete-roster');
  });

  it('refuses a manifest without a platform for a built arch', () => {
    const noArm = manifest.replace('arch: arm64', 'arch: s390x');
    expect(() => rewriteKrewManifest(noArm, '1.2.3', 'https://example.test', { arm64: { path: 'x.tar.gz', sha256: 'b'.repeat(64) } })).toThrow(
      'deploy/krew/roster.yaml has no platform with arch: arm64',
    );
  });
});
