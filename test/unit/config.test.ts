import { describe, expect, it } from 'vitest';
import { ConfigError, insecureTransports, parseConfig } from '../../src/config.ts';

const smtp = (settings: Record<string, unknown>) => ({
  mail: { backend: 'smtp', from: 'Roster <roster@acme.com>', smtp: { host: 'smtp.acme.com', ...settings } },
});
const ldap = { type: 'ldap', bindDn: 'cn=roster,dc=acme', bindPasswordFile: '/s/ldap', peopleDn: 'ou=people,dc=acme', groupsDn: 'ou=groups,dc=acme' };
const backends = (corp: Record<string, unknown>) => ({ identityBackends: { default: { type: 'kubernetes' }, corp } });

function refusal(raw: unknown): string {
  try {
    parseConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected parseConfig to refuse the configuration');
}

describe('SMTP needs TLS', () => {
  it('refuses plain SMTP, naming the key and the fix', () => {
    const message = refusal(smtp({ port: 25 }));
    expect(message).toContain('mail.smtp: mail to smtp.acme.com:25 would go without TLS');
    expect(message).toContain('set mail.smtp.requireTLS: true (STARTTLS, port 587) or mail.smtp.secure: true (implicit TLS, port 465)');
    expect(message).toContain('mail.smtp.allowInsecure: true');
  });

  it('accepts implicit TLS, STARTTLS, or plain SMTP with allowInsecure', () => {
    expect(parseConfig(smtp({ port: 465, secure: true })).mail.smtp?.secure).toBe(true);
    expect(parseConfig(smtp({ requireTLS: true })).mail.smtp?.requireTLS).toBe(true);
    const insecure = parseConfig(smtp({ port: 1025, allowInsecure: true }));
    expect(insecureTransports(insecure)).toEqual([expect.objectContaining({ key: 'mail.smtp', allowed: true })]);
  });

  it('does not judge an smtp section the log backend does not use', () => {
    expect(parseConfig({ mail: { backend: 'log', smtp: { host: 'smtp.acme.com' } } }).mail.backend).toBe('log');
  });

  it('defaults allowInsecure to false', () => {
    expect(parseConfig(smtp({ secure: true })).mail.smtp?.allowInsecure).toBe(false);
    expect(insecureTransports(parseConfig(smtp({ secure: true })))).toEqual([]);
  });
});

describe('identity backends need TLS', () => {
  it('refuses ldap:// without startTls, and accepts ldaps://, StartTLS or allowInsecure', () => {
    expect(refusal(backends({ ...ldap, url: 'ldap://ldap.acme.com' }))).toMatch(
      /identityBackends.corp.url: ldap:\/\/ldap.acme.com would send the bind password and directory data without TLS; use ldaps:\/\/, or set identityBackends.corp.startTls: true; for a local test server only, identityBackends.corp.allowInsecure: true/,
    );
    expect(parseConfig(backends({ ...ldap, url: 'ldaps://ldap.acme.com' })).identityBackends.corp?.url).toBe('ldaps://ldap.acme.com');
    expect(parseConfig(backends({ ...ldap, url: 'ldap://ldap.acme.com', startTls: true })).identityBackends.corp?.startTls).toBe(true);
    expect(insecureTransports(parseConfig(backends({ ...ldap, url: 'ldap://127.0.0.1:3389', allowInsecure: true })))).toEqual([
      expect.objectContaining({ key: 'identityBackends.corp.url', allowed: true }),
    ]);
  });

  it('refuses http:// Keycloak and SCIM unless allowInsecure', () => {
    const keycloak = { type: 'keycloak', url: 'http://sso.acme.com', realm: 'acme', clientId: 'roster', clientSecretFile: '/s/kc' };
    const scim = { type: 'scim', baseUrl: 'http://idp.acme.com/scim/v2', tokenFile: '/s/scim' };
    expect(refusal(backends(keycloak))).toMatch(
      /identityBackends.corp.url: http:\/\/sso.acme.com would send the credentials and tokens without TLS; use https:\/\//,
    );
    expect(refusal(backends(scim))).toMatch(
      /identityBackends.corp.baseUrl: http:\/\/idp.acme.com\/scim\/v2 would send the bearer token without TLS; use https:\/\//,
    );
    parseConfig(backends({ ...keycloak, url: 'https://sso.acme.com' }));
    parseConfig(backends({ ...scim, allowInsecure: true }));
  });
});

describe('sender settings', () => {
  it('refuses a mail.from that is not one address, and allowedSenderDomains entries that are not domains', () => {
    expect(refusal({ mail: { from: 'roster' } })).toMatch(/mail.from "roster" is not one sender address/);
    expect(refusal({ mail: { allowedSenderDomains: ['*.acme.com'] } })).toMatch(
      /mail.allowedSenderDomains: "\*.acme.com" is not a domain; list each domain as it follows the @/,
    );
    expect(refusal({ mail: { allowedSenderDomains: ['@acme.com'] } })).toMatch(/is not a domain/);
    expect(parseConfig({ mail: { allowedSenderDomains: ['acme.com', 'Acme.io'] } }).mail.allowedSenderDomains).toEqual(['acme.com', 'Acme.io']);
  });

  it('defaults to the domain of mail.from and a 60 s resend cooldown', () => {
    const config = parseConfig({});
    expect(config.mail.allowedSenderDomains).toEqual([]);
    expect(config.mail.resendCooldownSeconds).toBe(60);
  });
});
