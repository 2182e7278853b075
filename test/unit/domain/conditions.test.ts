import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Condition } from '../../../src/api/generated.ts';
import {
  conditionsEqual,
  ConditionType,
  getCondition,
  isFalse,
  isTrue,
  isValidReason,
  MAX_CONDITION_MESSAGE,
  removeCondition,
  setCondition,
  type ConditionInput,
} from '../../../src/domain/conditions.ts';

const T1 = new Date('2026-01-01T00:00:00.250Z');
const T2 = new Date('2026-01-02T00:00:00Z');
const ready = (status: Condition['status'], reason = 'Reconciled', message = 'all good'): ConditionInput => ({ type: 'Ready', status, reason, message });

describe('setCondition', () => {
  it('appends a new condition with observedGeneration and a second-precision transition time', () => {
    expect(setCondition(undefined, ready('True'), 3, T1)).toEqual([
      { type: 'Ready', status: 'True', observedGeneration: 3, lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'Reconciled', message: 'all good' },
    ]);
  });

  it('omits observedGeneration when unknown', () => {
    expect(setCondition([], ready('True'), undefined, T1)[0]).not.toHaveProperty('observedGeneration');
  });

  it('moves lastTransitionTime only when the status flips', () => {
    const first = setCondition([], ready('False', 'Waiting', 'not yet'), 1, T1);
    const same = setCondition(first, ready('False', 'StillWaiting', 'still not'), 2, T2);
    expect(same[0]).toMatchObject({ lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'StillWaiting', message: 'still not', observedGeneration: 2 });
    const flipped = setCondition(same, ready('True'), 2, T2);
    expect(flipped[0]?.lastTransitionTime).toBe('2026-01-02T00:00:00Z');
  });

  it('keeps existing order and appends new types', () => {
    let list = setCondition([], { type: 'Accepted', status: 'False', reason: 'Pending', message: '' }, 1, T1);
    list = setCondition(list, ready('False'), 1, T1);
    list = setCondition(list, { type: 'IdentitySynced', status: 'True', reason: 'Synced', message: '' }, 1, T1);
    list = setCondition(list, { type: 'Accepted', status: 'True', reason: 'Accepted', message: '' }, 1, T2);
    expect(list.map((c) => c.type)).toEqual(['Accepted', 'Ready', 'IdentitySynced']);
  });

  it('returns a new array and leaves the input alone', () => {
    const input = setCondition([], ready('False'), 1, T1);
    const snapshot = structuredClone(input);
    const output = setCondition(input, ready('True'), 2, T2);
    expect(output).not.toBe(input);
    expect(input).toEqual(snapshot);
    expect(setCondition(input, ready('False'), 1, T1)).not.toBe(input);
  });

  it('refuses reasons and types the API server would refuse', () => {
    expect(() => setCondition([], ready('True', 'not camel'), 1, T1)).toThrow(/must be CamelCase/);
    expect(() => setCondition([], ready('True', ''), 1, T1)).toThrow(/reason/);
    expect(() => setCondition([], ready('True', 'Trailing:'), 1, T1)).toThrow(/reason/);
    expect(() => setCondition([], ready('True', '9Lives'), 1, T1)).toThrow(/reason/);
    expect(() => setCondition([], { ...ready('True'), type: 'bad type' }, 1, T1)).toThrow(/condition type/);
    expect(setCondition([], { ...ready('True'), type: 'roster.dev/Custom' }, 1, T1)).toHaveLength(1);
  });

  it('validates reasons with the API pattern', () => {
    for (const ok of ['A', 'Ready', 'Backend_Down', 'SMTP:Timeout', 'a,b']) expect(isValidReason(ok)).toBe(true);
    for (const bad of ['', '_A', 'A-B', 'A.B', 'A ', 'A,', 'R'.repeat(1025)]) expect(isValidReason(bad)).toBe(false);
  });

  it('cuts messages longer than the API allows', () => {
    const [c] = setCondition([], ready('False', 'BackendError', 'x'.repeat(40_000)), 1, T1);
    expect(c?.message.length).toBe(MAX_CONDITION_MESSAGE);
    expect(c?.message.endsWith('(truncated)')).toBe(true);
  });

  it('is idempotent: setting the same condition twice gives an equal list', () => {
    const reasonArb = fc.constantFrom('Reconciled', 'Waiting', 'BackendDown', 'OverSeatLimit');
    const inputArb = fc.record({
      type: fc.constantFrom(...Object.values(ConditionType)),
      status: fc.constantFrom<Condition['status']>('True', 'False', 'Unknown'),
      reason: reasonArb,
      message: fc.string({ maxLength: 20 }),
    });
    fc.assert(
      fc.property(fc.array(inputArb, { maxLength: 8 }), inputArb, fc.nat(5), fc.nat(1e6), (setup, input, gen, t) => {
        let list: Condition[] = [];
        for (const i of setup) list = setCondition(list, i, 1, T1);
        const once = setCondition(list, input, gen, new Date(T1.getTime() + t * 1000));
        const twice = setCondition(once, input, gen, new Date(T2.getTime() + t * 1000));
        expect(conditionsEqual(once, twice)).toBe(true);
        expect(twice).toEqual(once);
        expect(new Set(once.map((c) => c.type)).size).toBe(once.length);
      }),
    );
  });
});

describe('reading conditions', () => {
  const list = setCondition(setCondition([], ready('True'), 1, T1), { type: 'Delivered', status: 'False', reason: 'SmtpDown', message: 'x' }, 1, T1);

  it('getCondition, isTrue, isFalse', () => {
    expect(getCondition(list, 'Delivered')?.reason).toBe('SmtpDown');
    expect(getCondition(list, 'Nope')).toBeUndefined();
    expect(getCondition(undefined, 'Ready')).toBeUndefined();
    expect(isTrue(list, 'Ready')).toBe(true);
    expect(isTrue(list, 'Delivered')).toBe(false);
    expect(isFalse(list, 'Delivered')).toBe(true);
    expect(isFalse(list, 'Nope')).toBe(false);
    expect(isTrue(undefined, 'Ready')).toBe(false);
  });

  it('removeCondition returns a new list without that type', () => {
    expect(removeCondition(list, 'Ready').map((c) => c.type)).toEqual(['Delivered']);
    expect(list).toHaveLength(2);
    expect(removeCondition(undefined, 'Ready')).toEqual([]);
  });
});

describe('conditionsEqual', () => {
  const base = setCondition([], ready('True'), 1, T1);

  it('is true for equal lists regardless of key order, and for absent vs empty', () => {
    const reordered = base.map((c) => ({ message: c.message, reason: c.reason, lastTransitionTime: c.lastTransitionTime, observedGeneration: c.observedGeneration, status: c.status, type: c.type }));
    expect(conditionsEqual(base, reordered)).toBe(true);
    expect(conditionsEqual(undefined, [])).toBe(true);
  });

  it('notices a change in any field or in order', () => {
    const [c] = base;
    if (!c) throw new Error('missing');
    for (const change of [{ status: 'False' }, { reason: 'Other' }, { message: 'm' }, { observedGeneration: 2 }, { lastTransitionTime: 'x' }, { type: 'T' }] as Partial<Condition>[]) {
      expect(conditionsEqual(base, [{ ...c, ...change }])).toBe(false);
    }
    const two = setCondition(base, { type: 'Delivered', status: 'True', reason: 'Sent', message: '' }, 1, T1);
    expect(conditionsEqual(two, [...two].reverse())).toBe(false);
    expect(conditionsEqual(two, base)).toBe(false);
    expect(conditionsEqual(base, undefined)).toBe(false);
  });
});
