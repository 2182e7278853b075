// Message-IDs chosen before sending: the operator records the id with its intent to send,
// then sends; after a crash it can tell "sent" from "not sent" without mailing twice.
import { randomBytes } from 'node:crypto';

const FALLBACK_DOMAIN = 'roster.invalid';

/** The domain of a sender (`Acme <team@acme.com>` → `acme.com`), or undefined. */
export function senderDomain(from: string | undefined): string | undefined {
  const match = /@([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)>?\s*$/.exec(from ?? '');
  return match?.[1]?.toLowerCase();
}

/** A fresh, globally unique Message-ID in the sender's domain: `<roster.1a2b…@acme.com>`. */
export function createMessageId(from?: string, random: (size: number) => Uint8Array = randomBytes): string {
  const id = Buffer.from(random(16)).toString('hex');
  return `<roster.${id}@${senderDomain(from) ?? FALLBACK_DOMAIN}>`;
}
