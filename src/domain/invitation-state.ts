// The invitation state machine (SPEC §1 Invitation):
//
//   New ──send──► Pending ──accept (before expiresAt)──► Accepted (final)
//                  │  ▲ │
//       expire (at │  │ └──resend──► Pending (fresh link, expiry restarts, deliveries + 1)
//       expiresAt) ▼  │
//                 Expired ──resend──► Pending (revived with a fresh link)
//   New | Pending | Expired ──revoke──► Revoked (final)
//
// "New" is an Invitation without a status yet (nothing sent). Every link is minted exactly
// once and mailed at most once: the effect `mintAndSend` tells the controller to mint a token,
// store its hash and record the new status *before* sending the mail, so that a crash between
// the two loses a mail (the Delivered condition says so; a resend recovers) but never sends
// one twice. No clock reads here: `now` comes in.

import { createHash } from 'node:crypto';
import type { InvitationStatus } from '../api/generated.ts';
import { parseDuration, formatDuration } from './duration.ts';
import { formatTime, parseTime } from './time.ts';

/** The annotation whose new values ask for a resend (`kubectl annotate invitation X roster.dev/resend=...`). */
export const RESEND_ANNOTATION = 'roster.dev/resend';

export const DEFAULT_INVITATION_TTL = '168h';
const MIN_TTL_MS = 60_000; // the CRD's bounds: 1m ..
const MAX_TTL_MS = 8760 * 3_600_000; // .. 8760h

/** What the current link's last delivery looked like. Times are RFC 3339. */
export interface Delivery {
  readonly sentAt: string;
  readonly expiresAt: string;
  /** Mails sent so far (first send + resends). */
  readonly deliveries: number;
}

export type InvitationState =
  | { readonly phase: 'New' }
  | { readonly phase: 'Pending'; readonly delivery: Delivery }
  | { readonly phase: 'Expired'; readonly delivery: Delivery }
  | { readonly phase: 'Accepted'; readonly acceptedAt: string; readonly delivery: Delivery | undefined }
  | { readonly phase: 'Revoked'; readonly delivery: Delivery | undefined };

export type InvitationPhase = InvitationState['phase'];

export type InvitationEvent =
  | { readonly type: 'send' } // first delivery of a New invitation
  | { readonly type: 'resend' }
  | { readonly type: 'accept' }
  | { readonly type: 'expire' } // the clock passed expiresAt (checked against `now`)
  | { readonly type: 'revoke' };

/**
 * What the controller must do after a transition:
 * - `mintAndSend`: mint a fresh token (the previous link, if any, stops working because its
 *   hash is replaced), record the new status, then mail the new link;
 * - `invalidateLink`: forget the stored hash (accepted, expired or revoked — the link is dead);
 * - `none`.
 */
export type InvitationEffect = 'none' | 'mintAndSend' | 'invalidateLink';

export type RejectionReason = 'notSent' | 'expired' | 'revoked' | 'alreadyAccepted';

export type TransitionResult =
  | { readonly outcome: 'applied'; readonly state: InvitationState; readonly effect: InvitationEffect }
  /** Nothing to do (e.g. revoking what is already revoked, expiring what is not due). */
  | { readonly outcome: 'ignored'; readonly state: InvitationState }
  /** Refused; the state is unchanged and `message` says why, for a person. */
  | { readonly outcome: 'rejected'; readonly state: InvitationState; readonly reason: RejectionReason; readonly message: string };

export interface TransitionContext {
  readonly now: Date;
  /** Link lifetime in milliseconds (see invitationTtlMs). */
  readonly ttlMs: number;
}

/** The TTL of a team's invitation links: spec.invitations.ttl or 168h; throws on a value the CRD would refuse. */
export function invitationTtlMs(ttl: string | undefined): number {
  const ms = parseDuration(ttl ?? DEFAULT_INVITATION_TTL);
  if (ms < MIN_TTL_MS || ms > MAX_TTL_MS) {
    throw new Error(`invitations.ttl ${formatDuration(ms)} is out of range: use a duration between 1m and 8760h, such as 168h`);
  }
  return ms;
}

/** Reads the state out of an Invitation status. A Pending status missing its times is treated as Expired (its link cannot be trusted; a resend recovers). */
export function invitationStateOf(status: InvitationStatus | undefined): InvitationState {
  const delivery: Delivery | undefined =
    status?.sentAt !== undefined && status.expiresAt !== undefined
      ? { sentAt: status.sentAt, expiresAt: status.expiresAt, deliveries: status.deliveries ?? 1 }
      : undefined;
  switch (status?.phase) {
    case undefined:
      return { phase: 'New' };
    case 'Pending':
    case 'Expired':
      return delivery !== undefined
        ? { phase: status.phase, delivery }
        : {
            phase: 'Expired',
            delivery: { sentAt: status.sentAt ?? '', expiresAt: status.expiresAt ?? '', deliveries: status.deliveries ?? 0 },
          };
    case 'Accepted':
      return { phase: 'Accepted', acceptedAt: status.acceptedAt ?? '', delivery };
    case 'Revoked':
      return { phase: 'Revoked', delivery };
  }
}

/** The status fields the state machine owns, for merging into an Invitation status. */
export type InvitationStateFields = Pick<InvitationStatus, 'phase' | 'sentAt' | 'expiresAt' | 'deliveries' | 'acceptedAt'>;

/** The status fields of a state (New has no phase yet). */
export function invitationStatusFields(state: InvitationState): InvitationStateFields {
  if (state.phase === 'New') return {};
  const fields: InvitationStateFields = { phase: state.phase };
  if (state.delivery !== undefined) {
    if (state.delivery.sentAt !== '') fields.sentAt = state.delivery.sentAt;
    if (state.delivery.expiresAt !== '') fields.expiresAt = state.delivery.expiresAt;
    fields.deliveries = state.delivery.deliveries;
  }
  if (state.phase === 'Accepted' && state.acceptedAt !== '') fields.acceptedAt = state.acceptedAt;
  return fields;
}

/** Whether the link of this state may still be accepted at `now`. */
export function isLinkLive(state: InvitationState, now: Date): boolean {
  if (state.phase !== 'Pending') return false;
  const expires = parseTime(state.delivery.expiresAt);
  return expires !== undefined && now.getTime() < expires;
}

function freshDelivery(previous: Delivery | undefined, ctx: TransitionContext): Delivery {
  return {
    sentAt: formatTime(ctx.now),
    expiresAt: formatTime(new Date(ctx.now.getTime() + ctx.ttlMs)),
    deliveries: (previous?.deliveries ?? 0) + 1,
  };
}

const REJECTIONS: Readonly<Record<RejectionReason, string>> = {
  notSent: 'this invitation has not been sent yet; wait for the mail',
  expired: 'this invitation link has expired; ask the team to resend it',
  revoked: 'this invitation was revoked; ask the team for a new one',
  alreadyAccepted: 'this invitation was already accepted; sign in instead',
};

function rejected(state: InvitationState, reason: RejectionReason): TransitionResult {
  return { outcome: 'rejected', state, reason, message: REJECTIONS[reason] };
}

/** One step of the state machine. Pure: the same inputs give the same result. */
export function transitionInvitation(state: InvitationState, event: InvitationEvent, ctx: TransitionContext): TransitionResult {
  switch (state.phase) {
    case 'New':
      switch (event.type) {
        case 'send':
        case 'resend':
          return { outcome: 'applied', state: { phase: 'Pending', delivery: freshDelivery(undefined, ctx) }, effect: 'mintAndSend' };
        case 'accept':
          return rejected(state, 'notSent');
        case 'expire':
          return { outcome: 'ignored', state };
        case 'revoke':
          return { outcome: 'applied', state: { phase: 'Revoked', delivery: undefined }, effect: 'none' };
      }
      break;
    case 'Pending':
      switch (event.type) {
        case 'send': // already sent: never twice for one link
          return { outcome: 'ignored', state };
        case 'resend':
          return { outcome: 'applied', state: { phase: 'Pending', delivery: freshDelivery(state.delivery, ctx) }, effect: 'mintAndSend' };
        case 'accept':
          if (!isLinkLive(state, ctx.now)) return rejected(state, 'expired');
          return {
            outcome: 'applied',
            state: { phase: 'Accepted', acceptedAt: formatTime(ctx.now), delivery: state.delivery },
            effect: 'invalidateLink',
          };
        case 'expire':
          if (isLinkLive(state, ctx.now)) return { outcome: 'ignored', state };
          return { outcome: 'applied', state: { phase: 'Expired', delivery: state.delivery }, effect: 'invalidateLink' };
        case 'revoke':
          return { outcome: 'applied', state: { phase: 'Revoked', delivery: state.delivery }, effect: 'invalidateLink' };
      }
      break;
    case 'Expired':
      switch (event.type) {
        case 'resend':
          return { outcome: 'applied', state: { phase: 'Pending', delivery: freshDelivery(state.delivery, ctx) }, effect: 'mintAndSend' };
        case 'accept':
          return rejected(state, 'expired');
        case 'revoke':
          return { outcome: 'applied', state: { phase: 'Revoked', delivery: state.delivery }, effect: 'none' };
        case 'send':
        case 'expire':
          return { outcome: 'ignored', state };
      }
      break;
    case 'Accepted':
      return event.type === 'accept' || event.type === 'resend' ? rejected(state, 'alreadyAccepted') : { outcome: 'ignored', state };
    case 'Revoked':
      return event.type === 'accept' || event.type === 'resend' ? rejected(state, 'revoked') : { outcome: 'ignored', state };
  }
  // Unreachable with exhaustive switches; keeps TypeScript's control-flow analysis honest.
  throw new Error(`unhandled invitation transition ${state.phase} + ${event.type}`);
}

export interface InvitationPlanInput {
  /** spec.revoked. */
  readonly revoked: boolean | undefined;
  readonly status: InvitationStatus | undefined;
  /** The current value of the roster.dev/resend annotation, if any. */
  readonly resendAnnotation: string | undefined;
  readonly now: Date;
  readonly ttlMs: number;
}

export interface InvitationPlan {
  readonly state: InvitationState;
  /** Status fields to write (merged over the current status; unchanged when nothing happened). */
  readonly status: InvitationStateFields & Pick<InvitationStatus, 'resendToken'>;
  readonly effect: InvitationEffect;
  /** The events that were applied, in order (for Events and logs). */
  readonly applied: readonly InvitationEvent['type'][];
  /** A resend that was refused (on an Accepted or Revoked invitation), for a Warning Event. */
  readonly rejection?: { readonly reason: RejectionReason; readonly message: string };
  /** When to look again: the expiry of a live link. */
  readonly requeueAt?: Date;
}

/**
 * The level-triggered reconcile of one Invitation: from what is (spec.revoked, status,
 * the resend annotation, the time) to what should be, in this order:
 * Accepted and Revoked are final; spec.revoked revokes; a New invitation is sent (an
 * annotation already present at creation counts as consumed); a resend annotation value
 * not acted on yet (≠ status.resendToken) resends — reviving an Expired one; finally a
 * Pending link past its expiry expires. Running it again on its own output does nothing.
 */
export function planInvitation(input: InvitationPlanInput): InvitationPlan {
  const ctx: TransitionContext = { now: input.now, ttlMs: input.ttlMs };
  const annotation = input.resendAnnotation !== undefined && input.resendAnnotation !== '' ? input.resendAnnotation : undefined;
  let resendToken = input.status?.resendToken;
  let state = invitationStateOf(input.status);
  const effects: InvitationEffect[] = [];
  const applied: InvitationEvent['type'][] = [];
  let rejection: InvitationPlan['rejection'];

  const step = (type: InvitationEvent['type']): void => {
    const result = transitionInvitation(state, { type }, ctx);
    if (result.outcome === 'applied') {
      state = result.state;
      effects.push(result.effect);
      applied.push(type);
    } else if (result.outcome === 'rejected') {
      rejection = { reason: result.reason, message: result.message };
    }
  };

  if (input.revoked === true) {
    step('revoke');
  } else if (state.phase === 'New') {
    step('send');
    resendToken = annotation;
  } else if (annotation !== undefined && annotation !== resendToken) {
    step('resend');
    resendToken = annotation; // acted on, even if refused: one Warning, not one per resync
  }
  if (state.phase === 'Pending') step('expire');

  const effect: InvitationEffect = effects.includes('mintAndSend') ? 'mintAndSend' : effects.includes('invalidateLink') ? 'invalidateLink' : 'none';
  const status: InvitationPlan['status'] = { ...invitationStatusFields(state) };
  if (resendToken !== undefined) status.resendToken = resendToken;
  const expires = state.phase === 'Pending' ? parseTime(state.delivery.expiresAt) : undefined;
  return {
    state,
    status,
    effect,
    applied,
    ...(rejection !== undefined ? { rejection } : {}),
    ...(expires !== undefined ? { requeueAt: new Date(expires) } : {}),
  };
}

/**
 * Accepting through the link (the accept page): only a Pending invitation whose link is
 * still live. The caller has already matched the token against the stored hash.
 */
export function acceptInvitation(status: InvitationStatus | undefined, revoked: boolean | undefined, now: Date): TransitionResult {
  const current = invitationStateOf(status);
  const state: InvitationState =
    revoked === true && current.phase !== 'Accepted' && current.phase !== 'Revoked'
      ? { phase: 'Revoked', delivery: current.phase === 'New' ? undefined : current.delivery }
      : current;
  // ttl is irrelevant to accepting; 0 keeps the context honest.
  return transitionInvitation(state, { type: 'accept' }, { now, ttlMs: 0 });
}

// ---------------------------------------------------------------------------------------
// Names: one Invitation per Membership and attempt.
//
// The operator names the Invitations it creates from the owner's uid and an attempt number
// rather than at random, so a reconcile working from a stale cache (one that does not show
// the Invitation created a moment ago) tries to create the same name and meets AlreadyExists
// instead of minting a second link and a second mail. The attempt moves on only when the
// previous Invitation is revoked (a new one is then due); a cache that lags can only
// compute an older attempt, whose name already exists.

/** The label on operator-made Invitations that carries their attempt number. */
export const ATTEMPT_LABEL = 'roster.dev/attempt';

const MAX_NAME_PREFIX = 253 - 1 - 10;

/** `<base>-<10 hex of sha256(uid/attempt[/discriminator])>`: the same inputs give the same name. */
export function invitationNameFor(base: string, ownerUid: string, attempt: number, discriminator = ''): string {
  const digest = createHash('sha256').update(`${ownerUid}/${attempt}/${discriminator}`).digest('hex').slice(0, 10);
  const prefix = base.slice(0, MAX_NAME_PREFIX).replace(/[-.]+$/, '') || 'invitation';
  return `${prefix}-${digest}`;
}

/** The attempt of an operator-made Invitation (its label), or undefined. */
export function attemptOf(labels: Readonly<Record<string, string>> | undefined): number | undefined {
  const value = labels?.[ATTEMPT_LABEL];
  if (value === undefined || !/^\d{1,9}$/.test(value)) return undefined;
  return Number(value);
}

/** The next attempt after the ones seen (0 when none; labelled-less old objects count as 0). */
export function nextAttempt(seen: ReadonlyArray<Readonly<Record<string, string>> | undefined>): number {
  let max = -1;
  for (const labels of seen) max = Math.max(max, attemptOf(labels) ?? 0);
  return max + 1;
}

// ---------------------------------------------------------------------------------------
// Mail limits (SPEC §7 "Mail cannot be turned into a relay"): a per-team daily quota and a
// per-invitation resend cooldown. Each Invitation keeps, in status.recentMails, when its
// mails went out in the last 24 h; a team's count is the sum over its Invitations.

export const MAIL_QUOTA_WINDOW_MS = 24 * 3_600_000;

/** The times (ms) of `recentMails` inside the window ending at `now`. */
export function mailsInWindow(recentMails: readonly string[] | undefined, now: Date, windowMs = MAIL_QUOTA_WINDOW_MS): number[] {
  const from = now.getTime() - windowMs;
  const times: number[] = [];
  for (const text of recentMails ?? []) {
    const t = parseTime(text);
    if (t !== undefined && t > from && t <= now.getTime() + 60_000) times.push(t);
  }
  return times.sort((a, b) => a - b);
}

/** recentMails after one more mail at `now`, pruned to the window. */
export function withMailAt(recentMails: readonly string[] | undefined, now: Date): string[] {
  return [...mailsInWindow(recentMails, now).map((t) => formatTime(new Date(t))), formatTime(now)];
}

export type MailHold =
  { readonly kind: 'quota'; readonly sent: number; readonly quota: number; readonly until: Date } | { readonly kind: 'cooldown'; readonly until: Date };

/** Every mail time in these recentMails lists, ms, sorted (what MailHoldInput.teamMails takes). */
export function mailTimes(lists: ReadonlyArray<readonly string[] | undefined>): number[] {
  const times: number[] = [];
  for (const list of lists)
    for (const text of list ?? []) {
      const t = parseTime(text);
      if (t !== undefined) times.push(t);
    }
  return times.sort((a, b) => a - b);
}

export interface MailHoldInput {
  readonly now: Date;
  /** The team's mails: every team invitation's status.recentMails (this one's included), as mailTimes gives them. */
  readonly teamMails: readonly number[];
  /** 0 = no quota. */
  readonly dailyQuota: number;
  /** Whether this mail is a resend a person asked for (the cooldown applies to those only). */
  readonly resend: boolean;
  /** When this invitation's last mail went out (status.sentAt), if ever. */
  readonly lastSentAt: string | undefined;
  readonly cooldownMs: number;
}

/** Whether a mail may go out now; if not, why and until when. */
export function mailHold(input: MailHoldInput): MailHold | undefined {
  const now = input.now.getTime();
  if (input.resend && input.cooldownMs > 0) {
    const last = parseTime(input.lastSentAt);
    if (last !== undefined && now < last + input.cooldownMs) return { kind: 'cooldown', until: new Date(last + input.cooldownMs) };
  }
  if (input.dailyQuota > 0) {
    const from = now - MAIL_QUOTA_WINDOW_MS;
    const times = input.teamMails.filter((t) => t > from && t <= now + 60_000);
    if (times.length >= input.dailyQuota) {
      // A slot frees when enough of the oldest mails leave the window.
      const freeing = times[times.length - input.dailyQuota]!;
      return { kind: 'quota', sent: times.length, quota: input.dailyQuota, until: new Date(freeing + MAIL_QUOTA_WINDOW_MS) };
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// What a Membership (and `kubectl roster members`) says about its invitation's mail.

export type DeliverySummary = 'Sending' | 'Sent' | 'Failed' | 'Unconfirmed' | 'Deferred';

/** The mail of an invitation in one word, from its status; undefined before anything happened. */
export function deliverySummaryOf(status: InvitationStatus | undefined): DeliverySummary | undefined {
  const delivered = status?.conditions?.find((c) => c.type === 'Delivered');
  if (delivered?.reason === 'QuotaExceeded' || delivered?.reason === 'ResendCooldown') return 'Deferred';
  const state = status?.delivery?.state;
  if (state === 'Sending' || state === 'Sent' || state === 'Failed' || state === 'Unconfirmed') return state;
  return undefined;
}
