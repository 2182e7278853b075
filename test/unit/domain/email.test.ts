import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { EMAIL_PATTERN, emailProblem, isValidEmail, normalizeEmail, sameEmail } from '../../../src/domain/email.ts';

describe("isValidEmail (the CRDs' CEL rule)", () => {
  it.each(['riley@acme.com', 'a@b.c', 'first.last+tag@sub.example.co.uk', 'Ünï@例え.jp', 'a@b.c.d'])('accepts %s', (email) => {
    expect(isValidEmail(email)).toBe(true);
  });

  it.each([
    '',
    'riley',
    'riley@acme',
    '@acme.com',
    'riley@.com.',
    'riley@acme.',
    'a@@b.com',
    'riley @acme.com',
    'riley@acme.com ',
    ' riley@acme.com',
    'ri\tley@acme.com',
    'riley@ac\nme.com',
    'a@b.c\r',
  ])('refuses %j', (email) => {
    expect(isValidEmail(email)).toBe(false);
  });

  it('treats only RE2 whitespace as whitespace, like the API server', () => {
    // RE2's \s is [\t\n\f\r ]; a vertical tab or a no-break space passes CEL, so it passes here.
    expect(isValidEmail('a\u000bb@acme.com')).toBe(true);
    expect(isValidEmail('a\u00a0b@acme.com')).toBe(true);
    expect(isValidEmail('a\fb@acme.com')).toBe(false);
    expect(EMAIL_PATTERN.source).toContain('\\t\\n\\f\\r ');
  });
});

describe('emailProblem', () => {
  it('is undefined for a valid address', () => {
    expect(emailProblem('riley@acme.com')).toBeUndefined();
  });

  it('names the field and shows an example', () => {
    expect(emailProblem('riley', 'spec.owner.email')).toBe('spec.owner.email must be an email address such as riley@acme.com, not "riley"');
  });

  it('says to trim when only whitespace around it is wrong', () => {
    expect(emailProblem(' riley@acme.com ')).toBe('email must not start or end with whitespace; write "riley@acme.com"');
  });
});

describe('normalizeEmail', () => {
  it('trims and lowercases the whole address', () => {
    expect(normalizeEmail('  Riley.Park@Acme.COM ')).toBe('riley.park@acme.com');
  });

  it('normalizes Unicode to NFC so composed and decomposed forms match', () => {
    expect(normalizeEmail('Jose\u0301@acme.com')).toBe(normalizeEmail('José@acme.com'));
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(normalizeEmail(normalizeEmail(s))).toBe(normalizeEmail(s));
      }),
    );
  });

  it('sameEmail ignores case and surrounding space but not other differences', () => {
    expect(sameEmail('Riley@Acme.com', ' riley@acme.com')).toBe(true);
    expect(sameEmail('riley@acme.com', 'riley@acme.co')).toBe(false);
    expect(sameEmail('riley+a@acme.com', 'riley@acme.com')).toBe(false);
  });
});
