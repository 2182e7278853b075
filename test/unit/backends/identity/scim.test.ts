import { describe, expect, it } from 'vitest';
import { checkListPage, httpError, memberPatches, scimString, ScimIdentityBackend } from '../../../../src/backends/identity/scim.ts';
import { IdentityBackendError } from '../../../../src/backends/identity/types.ts';

describe('memberPatches', () => {
  it('adds in one operation per batch and removes with one value-path operation per member, batch by batch', () => {
    const patches = memberPatches(['a', 'b', 'c'], ['x', 'y', 'z'], 2);
    expect(patches).toHaveLength(4);
    expect(patches[0]!.Operations).toEqual([{ op: 'add', path: 'members', value: [{ value: 'a' }, { value: 'b' }] }]);
    expect(patches[1]!.Operations).toEqual([{ op: 'add', path: 'members', value: [{ value: 'c' }] }]);
    expect(patches[2]!.Operations).toEqual([
      { op: 'remove', path: 'members[value eq "x"]' },
      { op: 'remove', path: 'members[value eq "y"]' },
    ]);
    expect(patches[3]!.Operations).toEqual([{ op: 'remove', path: 'members[value eq "z"]' }]);
    for (const p of patches) expect(p.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:PatchOp']);
  });

  it('nothing to change, no request', () => {
    expect(memberPatches([], [], 50)).toEqual([]);
  });
});

describe('scimString', () => {
  it('quotes filter values so that quotes and backslashes cannot break out', () => {
    expect(scimString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(`userName eq ${scimString('riley@acme.com')}`).toBe('userName eq "riley@acme.com"');
  });
});

describe('checkListPage', () => {
  const page = (total: number, n: number, startIndex = 1) => ({
    totalResults: total,
    startIndex,
    Resources: Array.from({ length: n }, (_, i) => ({ id: `r${startIndex + i}` })),
  });

  it('accepts a consistent page', () => {
    expect(checkListPage(page(3, 2), 1, 0, 'read').resources).toHaveLength(2);
    expect(checkListPage({ totalResults: 0 }, 1, 0, 'read').resources).toEqual([]);
  });

  it('refuses a page that stops before the announced total', () => {
    expect(() => checkListPage(page(5, 0, 3), 3, 2, 'read the groups')).toThrow(/announced 5 results but stopped after 2/);
    try {
      checkListPage(page(5, 0, 3), 3, 2, 'read');
    } catch (e) {
      expect((e as IdentityBackendError).reason).toBe('PartialRead');
      expect((e as IdentityBackendError).retryable).toBe(true);
    }
  });

  it('refuses a page from somewhere else, or a malformed one', () => {
    expect(() => checkListPage(page(5, 2, 1), 3, 2, 'read')).toThrow(/answered from 1/);
    expect(() => checkListPage({ Resources: [] }, 1, 0, 'read')).toThrow(/no totalResults/);
    expect(() => checkListPage({ totalResults: 1, Resources: [{ name: 'no id' }] }, 1, 0, 'read')).toThrow(/malformed/);
  });
});

describe('httpError', () => {
  it.each([
    [401, 'Unauthorized', false],
    [403, 'Forbidden', false],
    [409, 'Conflict', true],
    [412, 'PreconditionFailed', true],
    [429, 'RateLimited', true],
    [500, 'ServerError', true],
    [503, 'ServerError', true],
    [400, 'Rejected', false],
  ])('%i → %s (retryable %s)', (status, reason, retryable) => {
    const e = httpError(status, { detail: 'nope' }, 'read', 'https://idp.example/scim/v2');
    expect(e.reason).toBe(reason);
    expect(e.retryable).toBe(retryable);
    expect(e.message).toContain(`answered ${status}: nope`);
  });
});

describe('ScimIdentityBackend with a provider that misbehaves', () => {
  type Handler = (url: URL, init: RequestInit) => Response;
  function provider(handler: Handler) {
    const calls: Array<{ method: string; url: string; auth: string | null }> = [];
    const fakeFetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
      const url = new URL(String(input));
      calls.push({ method: init.method ?? 'GET', url: url.pathname + url.search, auth: new Headers(init.headers).get('authorization') });
      if (url.pathname.endsWith('/ServiceProviderConfig'))
        return Response.json({ patch: { supported: true }, etag: { supported: false }, filter: { supported: true }, bulk: { supported: false } });
      return handler(url, init);
    }) as typeof fetch;
    return { calls, fakeFetch };
  }
  const user = { id: 'u1', userName: 'riley@acme.com' };
  const grant = { team: { namespace: 'acme', name: 'acme' }, key: 'member:riley', person: { email: 'riley@acme.com' }, role: 'observer' as const, targets: [] };

  it('a groups read that comes back short (totalResults says 3, the pages hold 2) throws and writes nothing', async () => {
    const { calls, fakeFetch } = provider((url) => {
      if (url.pathname.endsWith('/Users')) return Response.json({ totalResults: 1, startIndex: 1, Resources: [user] });
      const start = Number(url.searchParams.get('startIndex'));
      // The person is in the team group and (by hand) the admin group; a third page never comes.
      if (start === 1)
        return Response.json({
          totalResults: 3,
          startIndex: 1,
          Resources: [
            { id: 'g1', externalId: 'roster:acme/acme' },
            { id: 'g2', externalId: 'roster:acme/acme/admin' },
          ],
        });
      return Response.json({ totalResults: 3, startIndex: start, Resources: [] });
    });
    const backend = new ScimIdentityBackend({ name: 'idp', baseUrl: 'https://idp.example/scim/v2/', token: () => 'tok', fetch: fakeFetch, pageSize: 2 });
    const error = await backend.ensure(grant).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IdentityBackendError);
    expect((error as IdentityBackendError).reason).toBe('PartialRead');
    expect(calls.filter((c) => c.method !== 'GET')).toEqual([]);
    expect(calls.every((c) => c.auth === 'Bearer tok')).toBe(true);
    expect(calls[1]!.url).toContain('/scim/v2/Users?filter=userName+eq+%22riley%40acme.com%22');
  });

  it('a provider answering 502 to the groups read: retryable ServerError, nothing written, the token not in the message', async () => {
    const { calls, fakeFetch } = provider((url) => {
      if (url.pathname.endsWith('/Users')) return Response.json({ totalResults: 1, startIndex: 1, Resources: [user] });
      return new Response('bad gateway', { status: 502 });
    });
    const backend = new ScimIdentityBackend({ name: 'idp', baseUrl: 'https://idp.example/scim/v2', token: () => 'super-secret-token', fetch: fakeFetch });
    const error = (await backend.remove(grant.team, grant.key, grant.person).catch((e: unknown) => e)) as IdentityBackendError;
    expect(error.reason).toBe('ServerError');
    expect(error.retryable).toBe(true);
    expect(error.message).not.toContain('super-secret-token');
    expect(calls.filter((c) => c.method !== 'GET')).toEqual([]);
  });

  it('discovery that fails is retried on the next call rather than remembered', async () => {
    let up = false;
    const fakeFetch = (async (input: string | URL | Request) => {
      if (!up) throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' } });
      const url = new URL(String(input));
      if (url.pathname.endsWith('/ServiceProviderConfig')) return Response.json({ patch: { supported: true }, filter: { supported: true } });
      return Response.json({ totalResults: 0, startIndex: 1, Resources: [] });
    }) as typeof fetch;
    const backend = new ScimIdentityBackend({ name: 'idp', baseUrl: 'https://idp.example/v2', token: () => 't', fetch: fakeFetch });
    const down = (await backend.capabilities().catch((e: unknown) => e)) as IdentityBackendError;
    expect(down.reason).toBe('Unreachable');
    expect(down.message).toContain('ECONNREFUSED');
    up = true;
    expect((await backend.capabilities()).patch).toBe(true);
    expect(await backend.remove(grant.team, grant.key, grant.person)).toEqual([]);
  });
});
