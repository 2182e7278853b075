import { describe, expect, it } from 'vitest';
import { CliError, describeError, ExitCode, UsageError } from '../../../src/cli/errors.ts';
import { invitationNamePrefix, parseEmail, parseObjectName, parseProjectScopes, parseRoleFlag, parseSince } from '../../../src/cli/values.ts';
import { KubeApiError } from '../../../src/runtime/kube-client.ts';

const usage = (fn: () => unknown): UsageError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof UsageError) return e;
    throw e;
  }
  throw new Error('expected a UsageError');
};

describe('--project P[:env1,env2]', () => {
  it('reads projects with and without environments, merging repeats', () => {
    expect(parseProjectScopes([], 'invite')).toBeUndefined();
    expect(parseProjectScopes(['shop:staging,production', 'blog'], 'invite')).toEqual([
      { name: 'shop', environments: ['staging', 'production'] },
      { name: 'blog' },
    ]);
    expect(parseProjectScopes(['shop:staging', 'shop:production', 'shop:staging'], 'invite')).toEqual([
      { name: 'shop', environments: ['staging', 'production'] },
    ]);
    // Naming the project without environments anywhere means all of them.
    expect(parseProjectScopes(['shop:staging', 'shop'], 'invite')).toEqual([{ name: 'shop' }]);
  });

  it('refuses what is not a project or environment name', () => {
    for (const bad of ['', ':staging', 'Shop', 'shop:', 'shop:staging,', 'shop:Prod', 'shop/staging']) {
      expect(usage(() => parseProjectScopes([bad], 'invite')).message, bad).toMatch(/^--project /);
    }
  });
});

describe('--since', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  it('takes a Go duration back from now or an RFC 3339 time', () => {
    expect(parseSince('30m', now, 'audit').toISOString()).toBe('2026-03-01T11:30:00.000Z');
    expect(parseSince('1h30m', now, 'audit').toISOString()).toBe('2026-03-01T10:30:00.000Z');
    expect(parseSince('2026-02-28T00:00:00Z', now, 'audit').toISOString()).toBe('2026-02-28T00:00:00.000Z');
  });
  it('refuses anything else', () => {
    for (const bad of ['yesterday', '7d', '-5m', '2026-13-45T00:00:00Z']) expect(() => parseSince(bad, now, 'audit'), bad).toThrow(UsageError);
  });
});

describe('other values', () => {
  it('checks emails, roles and object names with the rules the API server applies', () => {
    expect(parseEmail('riley@acme.com', 'invite')).toBe('riley@acme.com');
    expect(usage(() => parseEmail('riley', 'invite')).message).toMatch(/EMAIL must be an email address/);
    expect(parseRoleFlag('developer', 'invite')).toBe('developer');
    expect(usage(() => parseRoleFlag('owner', 'invite')).message).toMatch(/a team has exactly one owner/);
    expect(usage(() => parseRoleFlag('root', 'invite')).message).toMatch(/role must be one of admin, developer, observer, billing/);
    expect(parseObjectName('riley-7kq2p', 'INVITATION', 'resend')).toBe('riley-7kq2p');
    expect(() => parseObjectName('Riley', 'INVITATION', 'resend')).toThrow(/not a valid object name/);
  });

  it('derives an invitation name prefix from the email', () => {
    expect(invitationNamePrefix('Riley.Park+test@Acme.com')).toBe('riley-park-test-');
    expect(invitationNamePrefix('__@acme.com')).toBe('invitation-');
    expect(invitationNamePrefix(`${'a'.repeat(80)}@acme.com`)).toBe(`${'a'.repeat(50)}-`);
  });
});

describe('describeError: one line and an exit code scripts can use', () => {
  it('passes CLI errors through with their code', () => {
    expect(describeError(new CliError(ExitCode.no, 'team acme not found'))).toEqual({ message: 'team acme not found', exitCode: 1 });
    expect(describeError(new UsageError('bad\nflag'))).toEqual({ message: 'bad; flag', exitCode: 2 });
  });

  it("uses the API server's own message; not found is a no, everything else an API error", () => {
    const status = (code: number, reason: string, message: string) =>
      new KubeApiError(code, reason, `GET /apis/roster.dev/v1alpha1/x: ${code} ${message}`, { kind: 'Status', reason, message });
    expect(describeError(status(404, 'NotFound', 'invitations.roster.dev "x" not found'))).toEqual({
      message: 'invitations.roster.dev "x" not found',
      exitCode: 1,
    });
    expect(describeError(status(403, 'Forbidden', 'teams.roster.dev is forbidden: User "riley" cannot list'))).toEqual({
      message: 'teams.roster.dev is forbidden: User "riley" cannot list',
      exitCode: 3,
    });
    expect(describeError(new KubeApiError(500, '', 'GET /x: 500 oops', 'oops')).exitCode).toBe(3);
  });

  it('says which server could not be reached', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(describeError(refused, 'https://127.0.0.1:1')).toEqual({
      message: 'cannot reach the API server at https://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1',
      exitCode: 3,
    });
  });
});
