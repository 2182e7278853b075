// Email addresses: the CRDs' validation rule and the one normalization used to tell
// whether two addresses name the same person.

/**
 * The CRDs' CEL rule `^[^@\s]+@[^@\s]+\.[^@\s]+$`, transcribed exactly. CEL evaluates it
 * with RE2, where `\s` is only `[\t\n\f\r ]`; JavaScript's `\s` also matches `\v` and
 * Unicode spaces, so it is spelled out to accept and refuse the same strings the API
 * server does.
 */
export const EMAIL_PATTERN = /^[^@\t\n\f\r ]+@[^@\t\n\f\r ]+\.[^@\t\n\f\r ]+$/;

/** Whether the address passes the CRDs' email rule (the text as written, not normalized). */
export function isValidEmail(text: string): boolean {
  return EMAIL_PATTERN.test(text);
}

/**
 * A readable problem with an email field, or undefined when it is fine. `field` names the
 * field in the message, e.g. `spec.owner.email`.
 */
export function emailProblem(text: string, field = 'email'): string | undefined {
  if (isValidEmail(text)) return undefined;
  if (text.trim() !== text && isValidEmail(text.trim())) {
    return `${field} must not start or end with whitespace; write ${JSON.stringify(text.trim())}`;
  }
  return `${field} must be an email address such as riley@acme.com, not ${JSON.stringify(text)}`;
}

/**
 * The identity key of an address: trimmed, Unicode-NFC, and lowercased as a whole.
 *
 * RFC 5321 lets the local part be case-sensitive, but no mainstream mail provider treats
 * it so, and people type `Riley@Acme.com` and `riley@acme.com` for the same person. The
 * rules built on this key (one owner, one Membership per person, one seat per person)
 * must not be sidestepped by a change of case, so the whole address is lowercased for
 * matching. Mail still goes to the address exactly as the manifest wrote it.
 */
export function normalizeEmail(text: string): string {
  return text.trim().normalize('NFC').toLowerCase();
}

/** Whether two addresses name the same person. */
export function sameEmail(a: string, b: string): boolean {
  return normalizeEmail(a) === normalizeEmail(b);
}

/**
 * Why the spelling of an address matters to the kubernetes identity backend: it binds the
 * Kubernetes user exactly as written (that is the name an OIDC authenticator presents: the
 * IdP's email claim, case kept), and Kubernetes user names are case-sensitive, so
 * `Riley@Acme.com` and `riley@acme.com` are two users to the API server. `holder` is what
 * binds, e.g. `Membership riley`; `field` where the address is written, e.g. `spec.email`.
 */
export function exactUserNote(holder: string, written: string, field: string): string {
  // Kept short: admission warnings are cut at 240 characters (src/admission/review.ts).
  return `${holder} binds Kubernetes user ${written} as written in ${field} (user names are case-sensitive): the authenticator must present exactly that`;
}
