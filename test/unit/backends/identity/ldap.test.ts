import { describe, expect, it } from 'vitest';
import { InsufficientAccessError, InvalidCredentialsError, SizeLimitExceededError, AdminLimitExceededError, UnavailableError } from 'ldapts';
import { escapeDnValue, surnameOf, toBackendError } from '../../../../src/backends/identity/ldap.ts';

describe('escapeDnValue', () => {
  it('escapes what RFC 4514 says must be escaped', () => {
    expect(escapeDnValue('riley@acme.com')).toBe('riley@acme.com');
    expect(escapeDnValue('riley+ops@acme.com')).toBe('riley\\+ops@acme.com');
    expect(escapeDnValue('a,b=c;d"e<f>g\\h')).toBe('a\\,b\\=c\\;d\\"e\\<f\\>g\\\\h');
    expect(escapeDnValue('#x')).toBe('\\#x');
    expect(escapeDnValue(' x ')).toBe('\\ x\\ ');
  });
});

describe('surnameOf', () => {
  it("is the last word of the name, else the email's local part", () => {
    expect(surnameOf({ email: 'r@a.com', name: 'Riley  Park ' })).toBe('Park');
    expect(surnameOf({ email: 'riley@acme.com' })).toBe('riley');
  });
});

describe('toBackendError', () => {
  const url = 'ldap://ldap.example:389';
  it('names what could not be done and why', () => {
    const e = toBackendError(
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:389'), { code: 'ECONNREFUSED' }),
      'read the LDAP groups of riley@acme.com',
      url,
    );
    expect(e.reason).toBe('Unreachable');
    expect(e.retryable).toBe(true);
    expect(e.message).toBe('could not read the LDAP groups of riley@acme.com: connect ECONNREFUSED 10.0.0.1:389 (ldap://ldap.example:389)');
  });

  it('treats limits (a paged search stopped early) as a partial read, retryable', () => {
    for (const error of [new SizeLimitExceededError(), new AdminLimitExceededError()]) {
      const e = toBackendError(error, 'read', url);
      expect(e.reason).toBe('PartialRead');
      expect(e.retryable).toBe(true);
    }
  });

  it('a timeout, an unavailable server, bad credentials, missing rights', () => {
    expect(toBackendError(new Error('SearchRequest: Operation timed out'), 'read', url).reason).toBe('Timeout');
    expect(toBackendError(new UnavailableError(), 'read', url)).toMatchObject({ reason: 'Unavailable', retryable: true });
    expect(toBackendError(new InvalidCredentialsError(), 'bind', url)).toMatchObject({ reason: 'InvalidCredentials', retryable: false });
    expect(toBackendError(new InsufficientAccessError(), 'write', url)).toMatchObject({ reason: 'Forbidden', retryable: false });
  });
});
