import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import {
  hashesEqual,
  hashToken,
  isWellFormedToken,
  LINK_ID_LENGTH,
  linkIdOf,
  mintToken,
  TOKEN_BYTES,
  TOKEN_LENGTH,
  tokenMatches,
} from '../../../src/domain/tokens.ts';

const fixed = (byte: number) => (size: number) => new Uint8Array(size).fill(byte);

describe('mintToken', () => {
  it('uses 32 random bytes (256 bits) as 43 base64url characters', () => {
    expect(TOKEN_BYTES * 8).toBeGreaterThanOrEqual(128);
    expect(TOKEN_LENGTH).toBe(43);
    const { token } = mintToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('returns the SHA-256 hex hash and a 12-character link id from it', () => {
    const { token, hash, linkId } = mintToken();
    expect(hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(linkId).toBe(hash.slice(0, 12));
    expect(LINK_ID_LENGTH).toBe(12);
    expect(token).not.toContain(linkId);
  });

  it('takes an injected random source', () => {
    let asked = 0;
    const minted = mintToken((size) => {
      asked = size;
      return fixed(0xff)(size);
    });
    expect(asked).toBe(32);
    expect(minted.token).toBe(Buffer.alloc(32, 0xff).toString('base64url'));
    expect(minted.token).toBe(`${'_'.repeat(42)}8`);
    expect(mintToken(fixed(0xff))).toEqual(minted);
    expect(mintToken(fixed(0)).token).toBe('A'.repeat(43));
  });

  it('refuses a random source that returns too few bytes', () => {
    expect(() => mintToken(() => new Uint8Array(16))).toThrow(/returned 16 bytes, need 32/);
  });

  it('mints distinct, well-formed tokens', () => {
    const tokens = new Set(Array.from({ length: 2000 }, () => mintToken().token));
    expect(tokens.size).toBe(2000);
    for (const t of tokens) expect(isWellFormedToken(t)).toBe(true);
  });

  it('maps distinct random bytes to distinct tokens and hashes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (a, b) => {
        const ta = mintToken(() => a);
        const tb = mintToken(() => b);
        expect(ta.token.length).toBe(43);
        expect(ta.token === tb.token).toBe(Buffer.from(a).equals(Buffer.from(b)));
        expect(ta.hash === tb.hash).toBe(ta.token === tb.token);
      }),
    );
  });
});

describe('hashing and comparison', () => {
  it('hashes with SHA-256 (known vector)', () => {
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('linkIdOf takes the first 12 hex characters', () => {
    expect(linkIdOf('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')).toBe('ba7816bf8f01');
  });

  it('compares hashes, refusing anything that is not a lowercase 64-hex hash', () => {
    const h = hashToken('x');
    expect(hashesEqual(h, h)).toBe(true);
    expect(hashesEqual(h, hashToken('y'))).toBe(false);
    expect(hashesEqual(h, h.slice(0, 63))).toBe(false);
    expect(hashesEqual(h.toUpperCase(), h)).toBe(false);
    expect(hashesEqual('zz'.repeat(32), 'zz'.repeat(32))).toBe(false);
    expect(hashesEqual('', '')).toBe(false);
  });

  it('matches a presented token against the stored hash', () => {
    const { token, hash } = mintToken();
    expect(tokenMatches(token, hash)).toBe(true);
    expect(tokenMatches(mintToken().token, hash)).toBe(false);
    expect(tokenMatches(`${token}x`, hash)).toBe(false);
    expect(tokenMatches('', hash)).toBe(false);
  });

  it('isWellFormedToken rejects other shapes', () => {
    expect(isWellFormedToken('A'.repeat(43))).toBe(true);
    expect(isWellFormedToken('A'.repeat(42))).toBe(false);
    expect(isWellFormedToken(`${'A'.repeat(42)}=`)).toBe(false);
    expect(isWellFormedToken(`${'A'.repeat(42)}/`)).toBe(false);
    expect(isWellFormedToken(`${'A'.repeat(43)}\n`)).toBe(false);
  });
});
