import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createIdentityBackends, IdentityConfigError } from '../../../../src/backends/identity/registry.ts';
import { SecretFile } from '../../../../src/backends/identity/secrets.ts';
import { parseConfig } from '../../../../src/config.ts';

function files(contents: Record<string, string>): (path: string) => string {
  return (path) => {
    const content = contents[path];
    if (content === undefined) throw new Error('ENOENT: no such file or directory');
    return content;
  };
}

const ldap = {
  type: 'ldap',
  url: 'ldaps://ldap.example:636',
  bindDn: 'cn=roster,dc=example',
  bindPasswordFile: '/s/ldap',
  peopleDn: 'ou=people,dc=example',
  groupsDn: 'ou=groups,dc=example',
};
const scim = { type: 'scim', baseUrl: 'https://idp.example/scim/v2', tokenFile: '/s/scim' };
const keycloak = { type: 'keycloak', url: 'https://sso.example', realm: 'acme', clientId: 'roster', clientSecretFile: '/s/kc' };
const secrets = files({ '/s/ldap': 'pw\n', '/s/scim': 'token\n', '/s/kc': 'secret\n', '/s/empty': '\n' });

describe('createIdentityBackends', () => {
  it('builds each configured type by name', () => {
    const backends = createIdentityBackends({ corp: ldap, idp: scim, sso: keycloak }, { readFile: secrets });
    expect([...backends.values()].map((b) => [b.name, b.type])).toEqual([
      ['corp', 'ldap'],
      ['idp', 'scim'],
      ['sso', 'keycloak'],
    ]);
  });

  it('loads an adapter and its library only when a backend of that type is used', () => {
    // A fresh process: this one has loaded every adapter already.
    const script = `
      import { registerHooks } from 'node:module';
      const loaded = [];
      registerHooks({ resolve: (specifier, context, next) => { const r = next(specifier, context); loaded.push(r.url); return r; } });
      const heavy = () => loaded.filter((u) => /ldapts|keycloak-admin-client|identity\\/(ldap|scim|keycloak)\\.ts/.test(u)).map((u) => u.replace(/.*node_modules\\/|.*\\/identity\\//, '').split('/')[0]);
      const { createIdentityBackends } = await import('./src/backends/identity/registry.ts');
      const files = { '/s/ldap': 'pw', '/s/kc': 'secret' };
      const backends = createIdentityBackends(${JSON.stringify({ corp: ldap, sso: keycloak })}, { readFile: (p) => files[p] });
      const atStart = heavy();
      await backends.get('corp').remove({ namespace: 'a', name: 'a' }, 'k', { email: 'a@example.com' }, { signal: AbortSignal.abort() }).catch(() => {});
      console.log(JSON.stringify({ atStart, afterLdapCall: [...new Set(heavy())].sort() }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('../../../../', import.meta.url), encoding: 'utf8' });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ atStart: [], afterLdapCall: ['ldap.ts', 'ldapts'] });
  });

  it("needs the operator's client for the kubernetes backend", () => {
    expect(() => createIdentityBackends({ default: { type: 'kubernetes' } })).toThrow(/identityBackends.default: the kubernetes backend needs/);
  });

  it('fails at startup, naming the backend, when a secret file is missing or empty', () => {
    expect(() => createIdentityBackends({ corp: { ...ldap, bindPasswordFile: '/nope' } }, { readFile: secrets })).toThrow(
      /identityBackends.corp: cannot read the LDAP bind password from \/nope/,
    );
    expect(() => createIdentityBackends({ idp: { ...scim, tokenFile: '/s/empty' } }, { readFile: secrets })).toThrow(IdentityConfigError);
  });

  it('keycloak needs exactly one kind of credentials', () => {
    const { clientSecretFile: _s, ...noCredentials } = keycloak;
    expect(() => createIdentityBackends({ sso: noCredentials }, { readFile: secrets })).toThrow(/needs credentials/);
    expect(() => createIdentityBackends({ sso: { ...keycloak, username: 'admin', passwordFile: '/s/kc' } }, { readFile: secrets })).toThrow(/not both/);
    expect(() => createIdentityBackends({ sso: { ...noCredentials, passwordFile: '/s/kc' } }, { readFile: secrets })).toThrow(/passwordFile needs username/);
    expect(createIdentityBackends({ sso: { ...noCredentials, username: 'admin', passwordFile: '/s/kc' } }, { readFile: secrets }).get('sso')?.type).toBe(
      'keycloak',
    );
  });

  it('never logs a secret', () => {
    const lines: unknown[] = [];
    const logger = { info: (obj: unknown) => lines.push(obj) } as never;
    createIdentityBackends({ corp: ldap, idp: scim, sso: keycloak }, { readFile: secrets, logger });
    const text = JSON.stringify(lines);
    expect(text).toContain('ldaps://ldap.example:636');
    for (const secret of ['pw', 'token', 'secret']) expect(text).not.toContain(`"${secret}"`);
    const file = new SecretFile('/s/scim', 'the token', secrets);
    expect(JSON.stringify({ file })).not.toContain('token"');
    expect(inspect(file)).toBe('<secret from /s/scim>');
    expect(file.get()).toBe('token');
  });
});

describe('the config schema for identity backends', () => {
  it("accepts each type's settings", () => {
    const config = parseConfig({
      identityBackends: { default: { type: 'kubernetes' }, corp: ldap, idp: { ...scim, batchSize: 10, memberFilter: 'dotted' }, sso: keycloak },
    });
    expect(config.identityBackends.corp).toMatchObject({ type: 'ldap', url: 'ldaps://ldap.example:636' });
  });

  it('names what is missing or unknown', () => {
    expect(() => parseConfig({ identityBackends: { default: { type: 'kubernetes' }, corp: { type: 'ldap', url: 'ldap://x' } } })).toThrow(
      /must have required property 'bindDn'/,
    );
    expect(() => parseConfig({ identityBackends: { default: { type: 'kubernetes' }, idp: { ...scim, bindPassword: 'inline' } } })).toThrow(
      /must NOT have additional properties \(bindPassword\)/,
    );
    expect(() => parseConfig({ identityBackends: { default: { type: 'kubernetes' }, idp: { ...scim, baseUrl: 'ftp://x' } } })).toThrow(
      /baseUrl must match pattern/,
    );
    expect(() => parseConfig({ identityBackends: { default: { type: 'kubernetes' }, x: { type: 'okta' } } })).toThrow(
      /type must be equal to one of the allowed values/,
    );
  });
});
