import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { InvitationStatus } from '../../../src/api/generated.ts';
import {
  acceptInvitation,
  DEFAULT_INVITATION_TTL,
  invitationStateOf,
  invitationStatusFields,
  invitationTtlMs,
  isLinkLive,
  planInvitation,
  RESEND_ANNOTATION,
  transitionInvitation,
  type InvitationEvent,
  type InvitationState,
  type TransitionContext,
} from '../../../src/domain/invitation-state.ts';

const H = 3_600_000;
const T0 = new Date('2026-01-01T00:00:00Z');
const later = (ms: number): Date => new Date(T0.getTime() + ms);
const ctx = (now: Date = T0): TransitionContext => ({ now, ttlMs: 168 * H });

const pending: InvitationState = {
  phase: 'Pending',
  delivery: { sentAt: '2026-01-01T00:00:00Z', expiresAt: '2026-01-08T00:00:00Z', deliveries: 1 },
};
const expired: InvitationState = { phase: 'Expired', delivery: pending.phase === 'Pending' ? pending.delivery : { sentAt: '', expiresAt: '', deliveries: 0 } };

describe('invitationTtlMs', () => {
  it('defaults to 168h and reads Go durations', () => {
    expect(DEFAULT_INVITATION_TTL).toBe('168h');
    expect(invitationTtlMs(undefined)).toBe(168 * H);
    expect(invitationTtlMs('72h')).toBe(72 * H);
    expect(invitationTtlMs('1m')).toBe(60_000);
  });

  it('refuses what the CRD refuses', () => {
    expect(() => invitationTtlMs('30s')).toThrow(/out of range: use a duration between 1m and 8760h/);
    expect(() => invitationTtlMs('8761h')).toThrow(/out of range/);
    expect(() => invitationTtlMs('7d')).toThrow(/invalid duration/);
  });
});

describe('invitationStateOf', () => {
  it('reads each phase', () => {
    expect(invitationStateOf(undefined)).toEqual({ phase: 'New' });
    expect(invitationStateOf({ conditions: [] })).toEqual({ phase: 'New' });
    expect(invitationStateOf({ phase: 'Pending', sentAt: 'a', expiresAt: 'b', deliveries: 2 })).toEqual({
      phase: 'Pending',
      delivery: { sentAt: 'a', expiresAt: 'b', deliveries: 2 },
    });
    expect(invitationStateOf({ phase: 'Accepted', acceptedAt: 'c', sentAt: 'a', expiresAt: 'b' })).toMatchObject({ phase: 'Accepted', acceptedAt: 'c' });
    expect(invitationStateOf({ phase: 'Revoked' })).toEqual({ phase: 'Revoked', delivery: undefined });
  });

  it('treats a Pending status without its times as Expired (a resend recovers it)', () => {
    expect(invitationStateOf({ phase: 'Pending', deliveries: 3 }).phase).toBe('Expired');
  });

  it('round-trips through status fields', () => {
    for (const status of [
      { phase: 'Pending', sentAt: 'a', expiresAt: 'b', deliveries: 2 },
      { phase: 'Expired', sentAt: 'a', expiresAt: 'b', deliveries: 1 },
      { phase: 'Accepted', sentAt: 'a', expiresAt: 'b', deliveries: 1, acceptedAt: 'c' },
      { phase: 'Revoked' },
    ] satisfies InvitationStatus[]) {
      expect(invitationStatusFields(invitationStateOf(status))).toEqual(status);
    }
    expect(invitationStatusFields({ phase: 'New' })).toEqual({});
  });
});

describe('transitionInvitation', () => {
  it('sends a new invitation once: mint a link, expiry = now + ttl, one delivery', () => {
    const r = transitionInvitation({ phase: 'New' }, { type: 'send' }, ctx());
    expect(r).toEqual({ outcome: 'applied', state: pending, effect: 'mintAndSend' });
    expect(transitionInvitation(pending, { type: 'send' }, ctx())).toEqual({ outcome: 'ignored', state: pending });
  });

  it('resend mints a fresh link, restarts the expiry and counts the delivery', () => {
    const r = transitionInvitation(pending, { type: 'resend' }, ctx(later(2 * H + 500)));
    expect(r).toEqual({
      outcome: 'applied',
      effect: 'mintAndSend',
      state: { phase: 'Pending', delivery: { sentAt: '2026-01-01T02:00:00Z', expiresAt: '2026-01-08T02:00:00Z', deliveries: 2 } },
    });
  });

  it('resend revives an Expired invitation with a new link', () => {
    const r = transitionInvitation(expired, { type: 'resend' }, ctx(later(200 * H)));
    expect(r.outcome).toBe('applied');
    expect(r.state).toMatchObject({ phase: 'Pending', delivery: { deliveries: 2, sentAt: '2026-01-09T08:00:00Z' } });
    expect(r.outcome === 'applied' && r.effect).toBe('mintAndSend');
  });

  it('accepts a live link and consumes it', () => {
    const r = transitionInvitation(pending, { type: 'accept' }, ctx(later(H)));
    expect(r).toEqual({
      outcome: 'applied',
      effect: 'invalidateLink',
      state: { phase: 'Accepted', acceptedAt: '2026-01-01T01:00:00Z', delivery: pending.phase === 'Pending' ? pending.delivery : undefined },
    });
  });

  it('refuses accepting at or after expiresAt, before sending, after revoking, and twice', () => {
    expect(transitionInvitation(pending, { type: 'accept' }, ctx(later(168 * H)))).toMatchObject({ outcome: 'rejected', reason: 'expired', state: pending });
    expect(transitionInvitation(pending, { type: 'accept' }, ctx(later(168 * H - 1000)))).toMatchObject({ outcome: 'applied' });
    expect(transitionInvitation(expired, { type: 'accept' }, ctx())).toMatchObject({ outcome: 'rejected', reason: 'expired' });
    expect(transitionInvitation({ phase: 'New' }, { type: 'accept' }, ctx())).toMatchObject({ outcome: 'rejected', reason: 'notSent' });
    expect(transitionInvitation({ phase: 'Revoked', delivery: undefined }, { type: 'accept' }, ctx())).toMatchObject({
      outcome: 'rejected',
      reason: 'revoked',
      message: 'this invitation was revoked; ask the team for a new one',
    });
    const accepted: InvitationState = { phase: 'Accepted', acceptedAt: 'x', delivery: undefined };
    expect(transitionInvitation(accepted, { type: 'accept' }, ctx())).toMatchObject({ outcome: 'rejected', reason: 'alreadyAccepted' });
  });

  it('expires only when due, killing the link', () => {
    expect(transitionInvitation(pending, { type: 'expire' }, ctx(later(167 * H)))).toEqual({ outcome: 'ignored', state: pending });
    expect(transitionInvitation(pending, { type: 'expire' }, ctx(later(168 * H)))).toMatchObject({
      outcome: 'applied',
      effect: 'invalidateLink',
      state: { phase: 'Expired' },
    });
  });

  it('revoke is final from New, Pending and Expired', () => {
    expect(transitionInvitation({ phase: 'New' }, { type: 'revoke' }, ctx())).toMatchObject({
      outcome: 'applied',
      effect: 'none',
      state: { phase: 'Revoked' },
    });
    expect(transitionInvitation(pending, { type: 'revoke' }, ctx())).toMatchObject({
      outcome: 'applied',
      effect: 'invalidateLink',
      state: { phase: 'Revoked' },
    });
    expect(transitionInvitation(expired, { type: 'revoke' }, ctx())).toMatchObject({ outcome: 'applied', effect: 'none', state: { phase: 'Revoked' } });
    const revoked: InvitationState = { phase: 'Revoked', delivery: undefined };
    for (const type of ['send', 'expire', 'revoke'] as const) {
      expect(transitionInvitation(revoked, { type }, ctx())).toEqual({ outcome: 'ignored', state: revoked });
    }
    expect(transitionInvitation(revoked, { type: 'resend' }, ctx())).toMatchObject({ outcome: 'rejected', reason: 'revoked' });
  });

  it('Accepted is final', () => {
    const accepted: InvitationState = { phase: 'Accepted', acceptedAt: 'x', delivery: undefined };
    for (const type of ['send', 'expire', 'revoke'] as const) {
      expect(transitionInvitation(accepted, { type }, ctx())).toEqual({ outcome: 'ignored', state: accepted });
    }
    expect(transitionInvitation(accepted, { type: 'resend' }, ctx())).toMatchObject({ outcome: 'rejected', reason: 'alreadyAccepted' });
  });

  it('never leaves Accepted or Revoked, whatever happens', () => {
    const events = fc.constantFrom<InvitationEvent>({ type: 'send' }, { type: 'resend' }, { type: 'accept' }, { type: 'expire' }, { type: 'revoke' });
    fc.assert(
      fc.property(fc.array(fc.tuple(events, fc.nat(400 * H)), { maxLength: 30 }), (steps) => {
        let state: InvitationState = { phase: 'New' };
        let final: InvitationState | undefined;
        let deliveries = 0;
        for (const [event, offset] of steps) {
          const r = transitionInvitation(state, event, ctx(later(offset)));
          if (final) expect(r.state).toBe(final);
          if (r.outcome === 'applied' && r.effect === 'mintAndSend') deliveries++;
          state = r.state;
          if (state.phase === 'Accepted' || state.phase === 'Revoked') final ??= state;
          if (state.phase === 'Pending' || state.phase === 'Expired') expect(state.delivery.deliveries).toBe(deliveries);
        }
      }),
    );
  });
});

describe('isLinkLive', () => {
  it('is true only for Pending before expiresAt', () => {
    expect(isLinkLive(pending, T0)).toBe(true);
    expect(isLinkLive(pending, later(168 * H))).toBe(false);
    expect(isLinkLive(expired, T0)).toBe(false);
    expect(isLinkLive({ phase: 'New' }, T0)).toBe(false);
  });
});

describe('planInvitation (the reconcile)', () => {
  const base = { revoked: false, status: undefined, resendAnnotation: undefined, now: T0, ttlMs: 168 * H };

  it('sends a new invitation and asks to look again at expiry', () => {
    const plan = planInvitation(base);
    expect(plan.effect).toBe('mintAndSend');
    expect(plan.applied).toEqual(['send']);
    expect(plan.status).toEqual({ phase: 'Pending', sentAt: '2026-01-01T00:00:00Z', expiresAt: '2026-01-08T00:00:00Z', deliveries: 1 });
    expect(plan.requeueAt).toEqual(new Date('2026-01-08T00:00:00Z'));
  });

  it('treats a resend annotation present at creation as consumed', () => {
    const plan = planInvitation({ ...base, resendAnnotation: 'r1' });
    expect(plan.status.resendToken).toBe('r1');
    expect(plan.status.deliveries).toBe(1);
    const again = planInvitation({ ...base, resendAnnotation: 'r1', status: plan.status, now: later(H) });
    expect(again.effect).toBe('none');
  });

  it('does nothing on a resync of an unchanged invitation', () => {
    const first = planInvitation(base);
    const second = planInvitation({ ...base, status: first.status, now: later(5 * H) });
    expect(second).toMatchObject({ effect: 'none', applied: [], status: first.status });
    expect(second.rejection).toBeUndefined();
  });

  it('resends on a new annotation value, once', () => {
    const first = planInvitation(base);
    const resent = planInvitation({ ...base, status: first.status, resendAnnotation: `${RESEND_ANNOTATION}-1`, now: later(H) });
    expect(resent.effect).toBe('mintAndSend');
    expect(resent.status).toMatchObject({ deliveries: 2, expiresAt: '2026-01-08T01:00:00Z', resendToken: 'roster.dev/resend-1' });
    const again = planInvitation({ ...base, status: resent.status, resendAnnotation: `${RESEND_ANNOTATION}-1`, now: later(2 * H) });
    expect(again.effect).toBe('none');
  });

  it('ignores an empty annotation value', () => {
    const first = planInvitation(base);
    expect(planInvitation({ ...base, status: first.status, resendAnnotation: '' }).effect).toBe('none');
  });

  it('expires a Pending invitation past expiresAt and revives it on resend', () => {
    const first = planInvitation(base);
    const expiredPlan = planInvitation({ ...base, status: first.status, now: later(168 * H) });
    expect(expiredPlan).toMatchObject({ effect: 'invalidateLink', applied: ['expire'], status: { phase: 'Expired' } });
    expect(expiredPlan.requeueAt).toBeUndefined();
    const revived = planInvitation({ ...base, status: expiredPlan.status, resendAnnotation: 'again', now: later(200 * H) });
    expect(revived).toMatchObject({ effect: 'mintAndSend', applied: ['resend'], status: { phase: 'Pending', deliveries: 2 } });
  });

  it('revokes on spec.revoked, killing the link; a later resend is refused once', () => {
    const first = planInvitation(base);
    const revoked = planInvitation({ ...base, revoked: true, status: first.status });
    expect(revoked).toMatchObject({ effect: 'invalidateLink', status: { phase: 'Revoked', deliveries: 1 } });
    const resend = planInvitation({ ...base, revoked: true, status: revoked.status, resendAnnotation: 'x' });
    expect(resend.effect).toBe('none');
    expect(resend.status.phase).toBe('Revoked');
  });

  it('refuses a resend on an Accepted invitation, recording the annotation so it warns once', () => {
    const accepted: InvitationStatus = { phase: 'Accepted', acceptedAt: 'x', sentAt: 'a', expiresAt: 'b', deliveries: 1 };
    const plan = planInvitation({ ...base, status: accepted, resendAnnotation: 'x' });
    expect(plan).toMatchObject({ effect: 'none', rejection: { reason: 'alreadyAccepted' }, status: { phase: 'Accepted', resendToken: 'x' } });
    expect(planInvitation({ ...base, status: plan.status, resendAnnotation: 'x' }).rejection).toBeUndefined();
  });

  it('revokes a never-sent invitation without sending it', () => {
    expect(planInvitation({ ...base, revoked: true })).toMatchObject({ effect: 'none', status: { phase: 'Revoked' } });
  });

  it('is idempotent: planning again from its own output at the same time does nothing', () => {
    const statusArb = fc.option(
      fc.record({
        phase: fc.option(fc.constantFrom('Pending', 'Accepted', 'Revoked', 'Expired') as fc.Arbitrary<InvitationStatus['phase']>, { nil: undefined }),
        sentAt: fc.constant('2026-01-01T00:00:00Z'),
        expiresAt: fc.constantFrom('2026-01-02T00:00:00Z', '2026-01-10T00:00:00Z'),
        deliveries: fc.integer({ min: 1, max: 5 }),
        resendToken: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
      }),
      { nil: undefined },
    );
    fc.assert(
      fc.property(
        statusArb,
        fc.boolean(),
        fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }),
        fc.nat(300 * H),
        (status, revoked, annotation, offset) => {
          const input = { revoked, status, resendAnnotation: annotation, now: later(offset), ttlMs: 168 * H };
          // the controller merges the plan's fields over the current status
          const first = planInvitation(input);
          const written = { ...status, ...first.status };
          const second = planInvitation({ ...input, status: written });
          expect(second.effect).toBe('none');
          expect(second.applied).toEqual([]);
          expect({ ...written, ...second.status }).toEqual(written);
        },
      ),
    );
  });
});

describe('acceptInvitation', () => {
  const status: InvitationStatus = { phase: 'Pending', sentAt: '2026-01-01T00:00:00Z', expiresAt: '2026-01-08T00:00:00Z', deliveries: 1 };

  it('accepts a live link', () => {
    expect(acceptInvitation(status, false, later(H))).toMatchObject({ outcome: 'applied', state: { phase: 'Accepted', acceptedAt: '2026-01-01T01:00:00Z' } });
  });

  it('refuses when spec.revoked is set even before the controller caught up', () => {
    expect(acceptInvitation(status, true, later(H))).toMatchObject({ outcome: 'rejected', reason: 'revoked' });
  });

  it('refuses an expired link whose status still says Pending', () => {
    expect(acceptInvitation(status, false, later(169 * H))).toMatchObject({
      outcome: 'rejected',
      reason: 'expired',
      message: 'this invitation link has expired; ask the team to resend it',
    });
  });

  it('says already accepted rather than revoked for an accepted, later revoked invitation', () => {
    expect(acceptInvitation({ ...status, phase: 'Accepted', acceptedAt: 'x' }, true, later(H))).toMatchObject({ reason: 'alreadyAccepted' });
  });
});
