// The mail rules of SPEC §7 ("mail cannot be turned into a relay") as pure functions: which
// sender a Team may put in spec.invitations.from, and how soon an Invitation may be resent.
// Admission calls them; the controller may call senderProblem too (a Team admitted before
// the allow-list changed, or while the webhook was off).
import addressparser from 'nodemailer/lib/addressparser';
import { RESEND_ANNOTATION } from '../domain/invitation-state.ts';
import { parseTime } from '../domain/time.ts';

/** The operator's mail settings the rules read (config `mail`). */
export interface MailPolicy {
  /** mail.allowedSenderDomains; empty means only the domain of `defaultFrom`. */
  readonly allowedSenderDomains: readonly string[];
  /** mail.from, the operator's own sender. */
  readonly defaultFrom: string;
  /** mail.resendCooldownSeconds (0 = no cooldown). */
  readonly resendCooldownSeconds: number;
}

/** The defaults of src/config.ts, for callers built without a config (tests, benchmarks). */
export const DEFAULT_MAIL_POLICY: MailPolicy = { allowedSenderDomains: [], defaultFrom: 'Roster <roster@localhost>', resendCooldownSeconds: 60 };

// One @, something either side; a host without a dot (roster@localhost, the default sender) is fine.
const ADDRESS = /^[^@\s]+@[^@\s]+$/;
// CR, LF and other control characters would let a sender smuggle headers into the mail.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The one mailbox of a From value ("Acme <team@acme.com>", "team@acme.com"), parsed the way
 * nodemailer parses it when it sends, so what is checked is what goes out. A string when
 * the value is not exactly one plain address (the reason), else the address and its domain.
 */
export function parseSender(from: string): { address: string; domain: string } | string {
  if (CONTROL.test(from)) return 'it contains a line break or another control character';
  const parsed = addressparser(from);
  if (parsed.length !== 1 || parsed[0]!.group !== undefined) return 'it must name exactly one sender address, such as "Acme <team@acme.com>"';
  const address = parsed[0]!.address ?? '';
  if (!ADDRESS.test(address)) return `${JSON.stringify(address || from)} is not an email address such as team@acme.com`;
  return { address, domain: address.slice(address.lastIndexOf('@') + 1).toLowerCase() };
}

/** The domains a Team may send from, lower-case: the configured list, or the domain of mail.from. */
export function allowedSenderDomains(policy: Pick<MailPolicy, 'allowedSenderDomains' | 'defaultFrom'>): string[] {
  if (policy.allowedSenderDomains.length > 0) return [...new Set(policy.allowedSenderDomains.map((d) => d.trim().toLowerCase()))];
  const own = parseSender(policy.defaultFrom);
  return typeof own === 'string' ? [] : [own.domain];
}

/**
 * Why a Team may not send from `from` (spec.invitations.from), or undefined when it may.
 * Domains match exactly, ignoring case: sub.acme.com is not acme.com.
 */
export function senderProblem(from: string, policy: Pick<MailPolicy, 'allowedSenderDomains' | 'defaultFrom'>): string | undefined {
  const sender = parseSender(from);
  if (typeof sender === 'string') return `spec.invitations.from ${JSON.stringify(from)} is not a sender address: ${sender}`;
  const allowed = allowedSenderDomains(policy);
  if (allowed.includes(sender.domain)) return undefined;
  const list = allowed.length ? allowed.join(', ') : '(none)';
  return (
    `spec.invitations.from ${JSON.stringify(from)} sends from domain ${sender.domain}, which this operator may not send from (allowed: ${list}); ` +
    `use an address in one of those domains, or remove spec.invitations.from to use the operator's sender; ` +
    `a platform admin can add the domain to mail.allowedSenderDomains`
  );
}

interface ResendView {
  metadata?: { name?: string; annotations?: Record<string, string> | null };
  status?: { phase?: string; sentAt?: string };
}

const resendValue = (o: ResendView | undefined): string | undefined => {
  const value = o?.metadata?.annotations?.[RESEND_ANNOTATION];
  return typeof value === 'string' && value !== '' ? value : undefined;
};

/**
 * Why this update may not ask for a resend yet, or undefined. An update asks for a resend when
 * it sets roster.dev/resend to a new non-empty value; it is refused while the last mail
 * (status.sentAt, set when a mail is about to go out) is younger than the cooldown. Accepted
 * and Revoked invitations are left to the controller, which refuses their resend anyway.
 */
export function resendCooldownProblem(object: ResendView, oldObject: ResendView, now: Date, cooldownSeconds: number): string | undefined {
  if (cooldownSeconds <= 0) return undefined;
  const requested = resendValue(object);
  if (requested === undefined || requested === resendValue(oldObject)) return undefined;
  const status = oldObject.status ?? object.status;
  if (status?.phase === 'Accepted' || status?.phase === 'Revoked') return undefined;
  const sentAt = status?.sentAt === undefined ? undefined : parseTime(status.sentAt);
  if (sentAt === undefined) return undefined;
  const elapsedMs = Math.max(0, now.getTime() - sentAt); // a sentAt ahead of our clock counts as now
  if (elapsedMs >= cooldownSeconds * 1000) return undefined;
  const ago = Math.floor(elapsedMs / 1000);
  const left = Math.max(1, Math.ceil(cooldownSeconds - elapsedMs / 1000));
  const name = object.metadata?.name ?? oldObject.metadata?.name ?? '';
  return `invitation ${name} was mailed ${ago} s ago; resend again in ${left} s (one mail per invitation every ${cooldownSeconds} s, mail.resendCooldownSeconds)`;
}
