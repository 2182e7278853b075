// The README's demo command, run headless: it starts its own control plane, MailDev and
// the operator, applies examples/, and must settle with every invitation in the mail
// catcher — then stop everything cleanly.
import { execFile, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../controlplane/harness.ts';

describe('npm run demo', () => {
  it('settles with every invitation mailed, then stops cleanly', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['scripts/demo.ts', '--exit-when-settled'], { cwd: projectRoot, timeout: 240_000, maxBuffer: 8 << 20 }, (error, out, err) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: out, stderr: err }),
      );
    });
    expect(stderr).not.toContain('demo failed');
    expect(code).toBe(0);
    expect(stdout).toContain('invitations mailed 8/8');
    expect(stdout).toContain('the mail catcher holds 8 invitation mails');
    expect(stdout).toMatch(/team\.roster\.dev\/acme\s+liam@acme\.com\s+6\/10/);
    expect(stdout).toMatch(/membership\.roster\.dev\/riley\s+acme\s+riley@acme\.com\s+developer\s+Invited/);
    expect(stdout).toContain('The demo is running.');
    expect(stdout).toContain('stopped.');
    // Nothing is left running: no operator, no MailDev, no control plane of the demo.
    const leftovers = spawnSync('pgrep', ['-af', 'demo/operator.yaml|maildev --smtp|roster/demo/control-plane'], { encoding: 'utf8' });
    expect(leftovers.stdout.trim()).toBe('');
  }, 300_000);
});
