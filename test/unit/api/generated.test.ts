import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderApiTypes } from '../../../scripts/api-types.ts';

describe('src/api/generated.ts', () => {
  it('matches what crds/ generates (run `npm run generate` after editing a CRD)', async () => {
    const committed = readFileSync(new URL('../../../src/api/generated.ts', import.meta.url), 'utf8');
    expect(committed).toBe(await renderApiTypes());
  });
});
