// contains(): whether a live object already holds everything an apply would set.
import { describe, expect, it } from 'vitest';
import { contains } from '../../../src/runtime/apply.ts';

describe('contains', () => {
  const desired = { metadata: { name: 'roster', labels: { a: '1' } }, webhooks: [{ name: 'w', rules: [{ operations: ['CREATE'] }] }] };

  it('ignores what only the server set (defaults, managed metadata)', () => {
    const live = {
      metadata: { name: 'roster', labels: { a: '1', extra: 'x' }, resourceVersion: '7', uid: 'u' },
      webhooks: [{ name: 'w', timeoutSeconds: 10, rules: [{ operations: ['CREATE'], scope: '*' }] }],
    };
    expect(contains(live, desired)).toBe(true);
  });

  it('sees a changed value, a missing field and a list of another length', () => {
    expect(contains({ ...desired, metadata: { name: 'roster', labels: { a: '2' } } }, desired)).toBe(false);
    expect(contains({ metadata: desired.metadata }, desired)).toBe(false);
    expect(contains({ ...desired, webhooks: [...desired.webhooks, { name: 'v', rules: [] }] }, desired)).toBe(false);
    expect(contains({ ...desired, webhooks: [{ name: 'w', rules: [{ operations: ['CREATE', 'UPDATE'] }] }] }, desired)).toBe(false);
  });
});
