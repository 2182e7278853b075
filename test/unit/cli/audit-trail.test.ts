import { describe, expect, it } from 'vitest';
import { auditTrail, eventTime, type EventRecord, type TeamObjects } from '../../../src/cli/audit-trail.ts';
import { invitation, membership, project, team } from './fixtures.ts';

const acme = team('acme', 'liam@acme.com');
const beta = team('beta', 'bea@beta.com');
const riley = membership('riley', 'acme', 'riley@acme.com', 'developer');
const rileyInv = invitation('riley-x1', 'acme', 'riley@acme.com', 'developer', { ownedBy: { kind: 'Membership', name: 'riley' } });
const betaMember = membership('bo', 'beta', 'bo@beta.com', 'admin');
const shop = project('shop', 'acme', ['production']);

let n = 0;
function event(regarding: { kind: string; name?: string; uid?: string }, reason: string, time: string, extra: Partial<EventRecord> = {}): EventRecord {
  return {
    metadata: { name: `e${++n}`, namespace: 'ns', creationTimestamp: time.replace(/\.\d+Z$/, 'Z') },
    eventTime: time,
    type: 'Normal',
    reason,
    action: 'Test',
    note: `${reason} note`,
    reportingController: 'roster.dev/operator',
    regarding: { apiVersion: 'roster.dev/v1alpha1', namespace: 'ns', ...regarding },
    ...extra,
  };
}
const ref = (o: { kind: string; metadata: { name?: string; uid?: string } }) => ({ kind: o.kind, name: o.metadata.name, uid: o.metadata.uid });

function objects(overrides: Partial<TeamObjects> = {}): TeamObjects {
  return { team: acme, namespace: 'ns', teamsInNamespace: 2, memberships: [riley, betaMember], invitations: [rileyInv], projects: [shop], ...overrides };
}

describe('audit trail', () => {
  const events: EventRecord[] = [
    event(ref(rileyInv), 'Sent', '2026-03-01T10:00:02.000000Z'),
    event(ref(acme), 'OwnerInvited', '2026-03-01T10:00:01.000000Z'),
    event(ref(riley), 'Activated', '2026-03-01T10:05:00.000000Z'),
    event(ref(betaMember), 'Activated', '2026-03-01T10:06:00.000000Z'),
    event({ kind: 'Membership', name: 'pat', uid: 'deleted-uid' }, 'AccessRemoved', '2026-03-01T10:07:00.000000Z'),
    event(ref(shop), 'Ready', '2026-03-01T10:00:00.500000Z'),
    event({ kind: 'Pod', name: 'web', uid: 'pod-uid' }, 'Started', '2026-03-01T10:00:03.000000Z', {
      regarding: { apiVersion: 'v1', kind: 'Pod', name: 'web', uid: 'pod-uid', namespace: 'ns' },
    }),
    event(ref(riley), 'Resent', '2026-03-01T10:01:00.000000Z', { series: { count: 3, lastObservedTime: '2026-03-01T10:09:00.000000Z' } }),
  ];

  it("keeps the Events of the team's own objects, oldest first", () => {
    const trail = auditTrail(objects(), events);
    expect(trail.map((e) => `${e.object} ${e.reason}`)).toEqual([
      'project/shop Ready',
      'team/acme OwnerInvited',
      'invitation/riley-x1 Sent',
      'membership/riley Activated',
      'membership/riley Resent',
    ]);
    expect(trail.at(-1)).toMatchObject({ count: 3, time: '2026-03-01T10:09:00.000000Z', type: 'Normal', note: 'Resent note', reporter: 'roster.dev/operator' });
  });

  it('counts Events of deleted objects only when the team is alone in its namespace', () => {
    const alone = auditTrail(objects({ teamsInNamespace: 1, memberships: [riley] }), events);
    expect(alone.map((e) => e.reason)).toContain('AccessRemoved');
    expect(auditTrail(objects(), events).map((e) => e.reason)).not.toContain('AccessRemoved');
  });

  it('leaves out what happened before --since', () => {
    const trail = auditTrail(objects(), events, new Date('2026-03-01T10:04:00Z'));
    expect(trail.map((e) => e.reason)).toEqual(['Activated', 'Resent']);
  });

  it('reads the time of an Event from its series, its eventTime, or the deprecated fields', () => {
    const base = { metadata: { name: 'x', creationTimestamp: '2026-01-01T00:00:00Z' } };
    expect(eventTime({ ...base, eventTime: '2026-01-02T00:00:00.000000Z', series: { count: 2, lastObservedTime: '2026-01-03T00:00:00.000000Z' } })).toBe(
      '2026-01-03T00:00:00.000000Z',
    );
    expect(eventTime({ ...base, eventTime: '2026-01-02T00:00:00.000000Z' })).toBe('2026-01-02T00:00:00.000000Z');
    expect(eventTime({ ...base, deprecatedLastTimestamp: '2026-01-04T00:00:00Z' })).toBe('2026-01-04T00:00:00Z');
    expect(eventTime(base)).toBe('2026-01-01T00:00:00Z');
  });

  it("does not take another team's Events even for an object of the same kind", () => {
    const betaTrail = auditTrail(objects({ team: beta }), events);
    expect(betaTrail.map((e) => `${e.object} ${e.reason}`)).toEqual(['membership/bo Activated']);
  });
});
