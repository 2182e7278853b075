import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderRoleMatrixMarkdown } from '../../../src/domain/roles.ts';

describe('README', () => {
  it('shows the role matrix exactly as the code defines it', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const between = /<!-- role-matrix:start -->\n([\s\S]*?)<!-- role-matrix:end -->/.exec(readme)?.[1];
    expect(between).toBe(renderRoleMatrixMarkdown());
  });
});
