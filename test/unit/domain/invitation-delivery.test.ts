// Pure pieces of invitation delivery: deterministic names, the mail limits, and the one-word
// delivery summary that Memberships and `kubectl roster members` show.
import { describe, expect, it } from 'vitest';
import type { InvitationStatus } from '../../../src/api/generated.ts';
import { deliverySummaryOf, invitationNameFor, mailHold, mailTimes, nextAttempt, withMailAt } from '../../../src/domain/invitation-state.ts';

const now = new Date('2026-03-10T12:00:00Z');
const hoursAgo = (h: number): string => new Date(now.getTime() - h * 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');

describe('invitationNameFor', () => {
  it('gives the same name for the same owner and attempt, another for the next attempt', () => {
    const a = invitationNameFor('riley', 'uid-1', 0);
    expect(invitationNameFor('riley', 'uid-1', 0)).toBe(a);
    expect(invitationNameFor('riley', 'uid-1', 1)).not.toBe(a);
    expect(invitationNameFor('riley', 'uid-2', 0)).not.toBe(a);
    expect(invitationNameFor('acme-owner', 'uid-1', 0, 'liam@acme.com')).not.toBe(invitationNameFor('acme-owner', 'uid-1', 0, 'ava@acme.com'));
    expect(a).toMatch(/^riley-[0-9a-f]{10}$/);
  });

  it('stays a valid object name for the longest base', () => {
    const name = invitationNameFor(`${'a'.repeat(252)}-`, 'uid', 3);
    expect(name.length).toBeLessThanOrEqual(253);
    expect(name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });
});

describe('nextAttempt', () => {
  it('is one past the highest attempt seen; objects without the label count as 0', () => {
    expect(nextAttempt([])).toBe(0);
    expect(nextAttempt([undefined])).toBe(1);
    expect(nextAttempt([{ 'roster.dev/attempt': '0' }, { 'roster.dev/attempt': '4' }])).toBe(5);
    expect(nextAttempt([{ 'roster.dev/attempt': 'x' }])).toBe(1);
  });
});

describe('mailHold', () => {
  const input = {
    now,
    teamMails: [] as number[],
    dailyQuota: 3,
    resend: false,
    lastSentAt: undefined as string | undefined,
    cooldownMs: 60_000,
  };

  it('lets a mail go under the quota and holds it at the quota until the oldest leaves the window', () => {
    expect(mailHold({ ...input, teamMails: mailTimes([[hoursAgo(1)], [hoursAgo(2)]]) })).toBeUndefined();
    const held = mailHold({ ...input, teamMails: mailTimes([[hoursAgo(1), hoursAgo(23)], [hoursAgo(2)]]) });
    expect(held).toEqual({ kind: 'quota', sent: 3, quota: 3, until: new Date(now.getTime() + 3_600_000) });
  });

  it('forgets mails older than 24 h; quota 0 means none', () => {
    expect(mailHold({ ...input, teamMails: mailTimes([[hoursAgo(25), hoursAgo(30), hoursAgo(1)], [hoursAgo(2)]]) })).toBeUndefined();
    expect(mailHold({ ...input, dailyQuota: 0, teamMails: mailTimes([Array.from({ length: 500 }, () => hoursAgo(1))]) })).toBeUndefined();
  });

  it('holds a resend within the cooldown, but not a first send or a retry', () => {
    const lastSentAt = new Date(now.getTime() - 20_000).toISOString();
    expect(mailHold({ ...input, resend: true, lastSentAt })).toEqual({ kind: 'cooldown', until: new Date(now.getTime() + 40_000) });
    expect(mailHold({ ...input, resend: false, lastSentAt })).toBeUndefined();
    expect(mailHold({ ...input, resend: true, lastSentAt: hoursAgo(1) })).toBeUndefined();
    expect(mailHold({ ...input, resend: true, lastSentAt, cooldownMs: 0 })).toBeUndefined();
  });

  it('withMailAt keeps the window and adds now', () => {
    expect(withMailAt([hoursAgo(30), hoursAgo(2)], now)).toEqual([hoursAgo(2), hoursAgo(0)]);
  });
});

describe('deliverySummaryOf', () => {
  const condition = (reason: string) => ({ type: 'Delivered', status: 'False' as const, reason, message: '', lastTransitionTime: hoursAgo(0) });
  it('names the state of the mail in one word', () => {
    expect(deliverySummaryOf(undefined)).toBeUndefined();
    expect(deliverySummaryOf({ delivery: { state: 'Unconfirmed' } } as InvitationStatus)).toBe('Unconfirmed');
    expect(deliverySummaryOf({ delivery: { state: 'Sent' } } as InvitationStatus)).toBe('Sent');
    expect(deliverySummaryOf({ delivery: { state: 'Sent' }, conditions: [condition('QuotaExceeded')] } as InvitationStatus)).toBe('Deferred');
    expect(deliverySummaryOf({ conditions: [condition('ResendCooldown')] } as InvitationStatus)).toBe('Deferred');
  });
});
