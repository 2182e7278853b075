import { readdirSync, readFileSync } from 'node:fs';
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
  readyReasons,
  removeCondition,
  setCondition,
  setConditions,
  type ConditionInput,
  type Readiness,
  type RosterKind,
} from '../../../src/domain/conditions.ts';
import { kstatusCompute } from './kstatus.ts';

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
    const reordered = base.map((c) => ({
      message: c.message,
      reason: c.reason,
      lastTransitionTime: c.lastTransitionTime,
      observedGeneration: c.observedGeneration,
      status: c.status,
      type: c.type,
    }));
    expect(conditionsEqual(base, reordered)).toBe(true);
    expect(conditionsEqual(undefined, [])).toBe(true);
  });

  it('notices a change in any field or in order', () => {
    const [c] = base;
    if (!c) throw new Error('missing');
    for (const change of [
      { status: 'False' },
      { reason: 'Other' },
      { message: 'm' },
      { observedGeneration: 2 },
      { lastTransitionTime: 'x' },
      { type: 'T' },
    ] as Partial<Condition>[]) {
      expect(conditionsEqual(base, [{ ...c, ...change }])).toBe(false);
    }
    const two = setCondition(base, { type: 'Delivered', status: 'True', reason: 'Sent', message: '' }, 1, T1);
    expect(conditionsEqual(two, [...two].reverse())).toBe(false);
    expect(conditionsEqual(two, base)).toBe(false);
    expect(conditionsEqual(base, undefined)).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------
// Readiness and kstatus: every Ready reason the operator writes, evaluated by kstatus' rules.
// ---------------------------------------------------------------------------------------

describe('Ready, Reconciling and Stalled (kstatus)', () => {
  const G = 4;
  const toKstatus = { current: 'Current', progress: 'InProgress', stalled: 'Failed' } as const;
  const objectWith = (conditions: Condition[], generation = G, observedGeneration = G) => ({
    metadata: { generation },
    status: { observedGeneration, conditions },
  });

  // [kind, condition the controller sets (as it writes it), how kstatus must see the object]
  const cases: Array<[RosterKind, ConditionInput, Readiness]> = [
    ['Team', ready('True', 'Reconciled', 'the team is reconciled'), 'current'],
    ['Team', ready('False', 'UnknownIdentityBackend', 'identity backend "corp" is not configured in the operator'), 'stalled'],
    ['Team', ready('False', 'NamespaceTaken', 'namespace acme already holds team acme'), 'stalled'],
    ['Team', ready('False', 'Unreachable', 'Keycloak is unreachable'), 'progress'],
    ['Team', ready('False', 'Forbidden', 'the bind DN lacks the rights'), 'stalled'],
    ['Team', ready('False', 'BackendError', 'socket hang up'), 'progress'],
    ['Membership', ready('True', 'Active', 'riley has developer access'), 'current'],
    ['Membership', ready('False', 'AwaitingAcceptance', 'waiting for riley@acme.com to accept'), 'current'],
    ['Membership', ready('False', 'Expired', 'access ended; raise spec.expiresAt to restore it'), 'current'],
    ['Membership', ready('False', 'TeamNotFound', 'team nope does not exist'), 'stalled'],
    ['Membership', ready('False', 'UnknownIdentityBackend', 'not configured'), 'stalled'],
    ['Membership', ready('False', 'OverSeatLimit', '10 of 10 seats in use; raise spec.seats'), 'stalled'],
    ['Membership', ready('True', 'Superseded', 'riley owns team acme, which includes everything this grants'), 'current'],
    ['Membership', ready('False', 'Rejected', 'SCIM said 400'), 'stalled'],
    ['Membership', ready('False', 'Timeout', 'retrying'), 'progress'],
    ['Invitation', ready('True', 'Pending', 'waiting for jordan@acme.com to accept'), 'current'],
    ['Invitation', ready('True', 'Accepted', 'accepted by jordan@acme.com'), 'current'],
    ['Invitation', ready('False', 'Revoked', 'the invitation was revoked'), 'current'],
    ['Invitation', ready('False', 'Expired', 'the link expired; resend'), 'stalled'],
    ['Invitation', ready('False', 'TeamNotFound', 'team nope does not exist'), 'stalled'],
    ['Invitation', ready('False', 'OverSeatLimit', 'waiting for a free seat'), 'stalled'],
    ['Invitation', { type: 'Delivered', status: 'False', reason: 'SendFailed', message: 'could not mail: 451' }, 'progress'],
    ['Invitation', { type: 'Delivered', status: 'False', reason: 'SendRejected', message: 'could not mail: 550' }, 'stalled'],
    ['Invitation', { type: 'Delivered', status: 'False', reason: 'QuotaExceeded', message: 'the daily quota is used up' }, 'stalled'],
    ['Project', ready('True', 'Reconciled', '2 environment(s)'), 'current'],
    ['Project', ready('False', 'TeamNotFound', 'team nope does not exist'), 'stalled'],
    ['Project', ready('False', 'NamespaceNotAssigned', 'label it with kubectl label namespace'), 'stalled'],
    ['Project', ready('False', 'NamespaceMissing', 'shop-prod does not exist yet'), 'progress'],
  ];

  it.each(cases)('%s %o is %s', (kind, input, expected) => {
    const conditions = setConditions(kind, undefined, [input], G, T1);
    const result = kstatusCompute(objectWith(conditions));
    expect(result.status).toBe(toKstatus[expected]);
    // Ready means the same on every kind: True exactly when kstatus sees the object as Current.
    expect(getCondition(conditions, 'Ready')?.status).toBe(expected === 'current' ? 'True' : 'False');
    // The abnormal-true conditions: at most one, True, carrying Ready's reason and message.
    const reconciling = getCondition(conditions, 'Reconciling');
    const stalled = getCondition(conditions, 'Stalled');
    expect(reconciling?.status).toBe(expected === 'progress' ? 'True' : undefined);
    expect(stalled?.status).toBe(expected === 'stalled' ? 'True' : undefined);
    const kstatusCondition = reconciling ?? stalled;
    if (kstatusCondition) {
      expect(kstatusCondition).toMatchObject({ reason: getCondition(conditions, 'Ready')?.reason, message: input.message, observedGeneration: G });
      expect(result.message).toBe(input.message);
    }
  });

  it('sees a spec the controller has not observed yet as InProgress, even if it was Current', () => {
    const conditions = setConditions('Team', undefined, [ready('True', 'Reconciled')], G, T1);
    expect(kstatusCompute(objectWith(conditions, G + 1, G)).status).toBe('InProgress');
    expect(
      kstatusCompute({ metadata: { generation: G, deletionTimestamp: '2026-01-01T00:00:00Z' }, status: { observedGeneration: G, conditions } }).status,
    ).toBe('Terminating');
  });

  it('would read a settled object with Ready=False as InProgress (why Ready follows its reason)', () => {
    const raw = setCondition(undefined, ready('False', 'AwaitingAcceptance', 'waiting'), G, T1);
    expect(kstatusCompute(objectWith(raw)).status).toBe('InProgress');
    expect(kstatusCompute(objectWith(setConditions('Membership', undefined, [ready('False', 'AwaitingAcceptance', 'waiting')], G, T1))).status).toBe('Current');
  });

  it('moves between states cleanly: Stalled goes when the person acted, Reconciling when the retry worked', () => {
    let list = setConditions('Membership', undefined, [ready('False', 'OverSeatLimit', 'no seat')], G, T1);
    expect(kstatusCompute(objectWith(list)).status).toBe('Failed');
    list = setConditions('Membership', list, [ready('False', 'Unreachable', 'retrying')], G, T2);
    expect(kstatusCompute(objectWith(list)).status).toBe('InProgress');
    expect(getCondition(list, 'Stalled')).toBeUndefined();
    list = setConditions('Membership', list, [ready('True', 'Active', 'has access')], G, T2);
    expect(kstatusCompute(objectWith(list)).status).toBe('Current');
    expect(list.map((c) => c.type)).toEqual(['Ready']);
  });

  it('writes nothing new when nothing changed (the status writer then skips the write)', () => {
    for (const [kind, input] of cases) {
      const once = setConditions(kind, undefined, [input], G, T1);
      expect(conditionsEqual(setConditions(kind, once, [input], G, T2), once), `${kind} ${input.reason}`).toBe(true);
    }
  });

  it('leaves a settled Ready alone while a mail is sent, unconfirmed or deferred; a later failure overrides it', () => {
    let list = setConditions(
      'Invitation',
      undefined,
      [{ type: 'Delivered', status: 'True', reason: 'Sent', message: 'mailed' }, ready('True', 'Pending', 'waiting')],
      G,
      T1,
    );
    for (const reason of ['Sending', 'DeliveryUnconfirmed', 'ResendCooldown']) {
      const next = setConditions('Invitation', list, [{ type: 'Delivered', status: 'Unknown', reason, message: reason }], G, T2);
      expect(kstatusCompute(objectWith(next)).status, reason).toBe('Current');
    }
    list = setConditions('Invitation', list, [{ type: 'Delivered', status: 'False', reason: 'SendRejected', message: '550 no such user' }], G, T2);
    expect(kstatusCompute(objectWith(list))).toEqual({ status: 'Failed', message: '550 no such user' });
  });

  it('adds nothing before the controller has decided Ready', () => {
    const list = setConditions('Invitation', undefined, [{ type: 'Delivered', status: 'Unknown', reason: 'Sending', message: 'mailing' }], G, T1);
    expect(list.map((c) => c.type)).toEqual(['Delivered']);
  });

  it('classifies every Ready reason the controllers and the accept page write', () => {
    const root = new URL('../../../src/', import.meta.url);
    const controllers = readdirSync(new URL('controllers/', root), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const files = [...controllers.map((f) => new URL(`controllers/${f}`, root)), new URL('web/accept.ts', root)];
    const reasons = new Set<string>();
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(/ConditionType\.(?:Ready|Delivered),\s*status:\s*'(?:True|False)',\s*reason:\s*([^,]+),/g)) {
        for (const r of m[1]!.matchAll(/'([A-Za-z]+)'/g)) reasons.add(r[1]!);
      }
    }
    expect(reasons.size).toBeGreaterThan(10);
    const unclassified = [...reasons].filter((r) => !(r in readyReasons) && r !== 'Sent');
    expect(unclassified, 'add these to readyReasons in src/domain/conditions.ts').toEqual([]);
  });

  it('classifies identity backend failures by whether the backend retries them', () => {
    const root = new URL('../../../src/backends/identity/', import.meta.url);
    const retryable = new Map<string, Set<boolean>>();
    for (const file of readdirSync(root).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(new URL(file, root), 'utf8');
      for (const m of source.matchAll(/new IdentityBackendError\('([A-Za-z]+)'/g)) {
        const call = source.slice(m.index, source.indexOf('\n', m.index)); // one call per line
        const seen = retryable.get(m[1]!) ?? new Set<boolean>();
        seen.add(!/retryable:\s*false/.test(call));
        retryable.set(m[1]!, seen);
      }
    }
    expect(retryable.size).toBeGreaterThan(5);
    for (const [reason, seen] of retryable) {
      if (seen.size !== 1) continue; // retried in one backend, not in another: the table picks one
      expect(readyReasons[reason], reason).toBe(seen.has(true) ? 'progress' : 'stalled');
    }
  });
});
