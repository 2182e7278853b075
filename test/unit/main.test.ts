// src/main.ts's own knob: ROSTER_HEAP_GROWING_PERCENT (V8's old-generation growth between full
// collections, issue 14) is checked before anything else starts.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const main = join(import.meta.dirname, '..', '..', 'src', 'main.ts');

describe('ROSTER_HEAP_GROWING_PERCENT', () => {
  it.each(['abc', '-5', '12.5'])(
    'refuses %s and says what it takes',
    (value) => {
      const run = spawnSync(process.execPath, [main, '--config', '/nonexistent/roster.yaml'], {
        env: { ...process.env, ROSTER_HEAP_GROWING_PERCENT: value },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain(`ROSTER_HEAP_GROWING_PERCENT must be a whole number of percent (0 = V8's default), not ${value}`);
    },
    40_000,
  );

  it('takes a whole number, then goes on to the configuration', () => {
    const run = spawnSync(process.execPath, [main, '--config', '/nonexistent/roster.yaml'], {
      env: { ...process.env, ROSTER_HEAP_GROWING_PERCENT: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).not.toContain('ROSTER_HEAP_GROWING_PERCENT');
    expect(run.stderr).toContain('/nonexistent/roster.yaml');
  }, 40_000);
});
