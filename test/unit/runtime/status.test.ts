import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonEqual, statusChanged } from '../../../src/runtime/status.ts';

// What a status may hold: JSON values, with undefined where a planner leaves a field out.
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.constant(undefined), fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 3 })),
  node: fc.oneof(
    { depthSize: 'small' },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 2 }), tie('node'), { maxKeys: 3 }),
  ),
})).node;

describe('jsonEqual', () => {
  it('agrees with comparing the JSON of both, whatever the key order', () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        const canonical = (v: unknown): unknown => {
          const parsed: unknown = JSON.parse(JSON.stringify(v ?? null));
          const sort = (x: unknown): unknown =>
            Array.isArray(x)
              ? x.map(sort)
              : typeof x === 'object' && x !== null
                ? Object.fromEntries(
                    Object.entries(x)
                      .sort(([k1], [k2]) => (k1 < k2 ? -1 : 1))
                      .map(([k, w]) => [k, sort(w)]),
                  )
                : x;
          return JSON.stringify(sort(parsed));
        };
        expect(jsonEqual(a ?? null, b ?? null)).toBe(canonical(a) === canonical(b));
        expect(jsonEqual(a, a)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('treats a key set to undefined as absent, and null as a value', () => {
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual({ a: null }, {})).toBe(false);
    expect(jsonEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] })).toBe(false);
    expect(jsonEqual([undefined], [null])).toBe(true);
    expect(statusChanged(undefined, {})).toBe(false);
    expect(statusChanged({ phase: 'Invited' }, { phase: 'Invited', delivery: undefined })).toBe(false);
    expect(statusChanged({ phase: 'Invited' }, { phase: 'Active' })).toBe(true);
  });
});
