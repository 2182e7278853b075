// Invitation link tokens (SPEC §5): random (256 bits), single-use, stored only as a hash.
// The token itself exists in exactly two places: the mail and the person's browser. Logs,
// Events, status and metrics may carry the linkId, a short prefix of the hash.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Bytes of randomness per token: 256 bits, well over the 128 the SPEC asks for. */
export const TOKEN_BYTES = 32;
/** Length of a token in base64url without padding (32 bytes → 43 characters). */
export const TOKEN_LENGTH = Math.ceil((TOKEN_BYTES * 8) / 6);
/** Hex characters of the hash used as a link id in logs. */
export const LINK_ID_LENGTH = 12;

/** A source of random bytes (injectable for tests); defaults to node:crypto randomBytes. */
export type RandomSource = (size: number) => Uint8Array;

export interface MintedToken {
  /** The secret: goes into the mail's link and nowhere else. */
  readonly token: string;
  /** SHA-256 of the token, lowercase hex: the only thing stored. */
  readonly hash: string;
  /** A short, non-secret id of the link for logs and Events. */
  readonly linkId: string;
}

const TOKEN_PATTERN = new RegExp(`^[A-Za-z0-9_-]{${TOKEN_LENGTH}}$`);
const HASH_PATTERN = /^[0-9a-f]{64}$/;

/** Mints a fresh token. Throws if the random source returns fewer bytes than asked for. */
export function mintToken(random: RandomSource = randomBytes): MintedToken {
  const bytes = random(TOKEN_BYTES);
  if (bytes.length < TOKEN_BYTES) throw new Error(`random source returned ${bytes.length} bytes, need ${TOKEN_BYTES}`);
  const token = Buffer.from(bytes.subarray(0, TOKEN_BYTES)).toString('base64url');
  const hash = hashToken(token);
  return { token, hash, linkId: linkIdOf(hash) };
}

/** SHA-256 of a token, lowercase hex. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The short link id of a hash (its first 12 hex characters). */
export function linkIdOf(hash: string): string {
  return hash.slice(0, LINK_ID_LENGTH);
}

/** Whether a string has the shape of a token (cheap check before hashing a URL segment). */
export function isWellFormedToken(text: string): boolean {
  return TOKEN_PATTERN.test(text);
}

/** Constant-time comparison of two hex SHA-256 hashes; false for anything that is not one. */
export function hashesEqual(a: string, b: string): boolean {
  if (!HASH_PATTERN.test(a) || !HASH_PATTERN.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

/** Whether a presented token matches a stored hash (constant time in the hash comparison). */
export function tokenMatches(token: string, storedHash: string): boolean {
  return isWellFormedToken(token) && hashesEqual(hashToken(token), storedHash);
}
