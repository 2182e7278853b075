// Builds the configured identity backends (config.identityBackends) by name. Each type's
// settings are validated by the config schema (identityBackendSchema below, used by
// src/config.ts); secrets come only from files (mounted Secrets), are read here once to fail
// fast, re-read on use so a rotated Secret needs no restart, and are never logged.
// The ldap, scim and keycloak adapters (and their libraries: ldapts, the Keycloak admin
// client) load on first use, so an operator that configures none of them never loads them.
import type { Logger } from '../../runtime/logger.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { KubeClient } from '../../runtime/kube-client.ts';
import type { KeycloakBackendOptions, KeycloakCredentials } from './keycloak.ts';
import { KubernetesIdentityBackend, type RoleBinding } from './kubernetes.ts';
import type { LdapBackendOptions } from './ldap.ts';
import type { ScimBackendOptions } from './scim.ts';
import type { Assignment } from '../../tenancy/namespaces.ts';
import { IdentityConfigError, readUtf8, SecretFile, type ReadFile } from './secrets.ts';
import type { IdentityBackend, Person, TeamRef } from './types.ts';

export { IdentityConfigError };
export { identityBackendSchema } from './schema.ts';

/** What the operator builds itself rather than reading from the configuration. */
type Wired = 'name' | 'holdsOtherGrant' | 'fetch';

/** The configuration of each type: the backend's own settings, with secrets named by file. */
// allowInsecure is checked when the config loads (src/config.ts) and not passed on.
export type LdapBackendConfig = { type: 'ldap'; bindPasswordFile: string; caFile?: string; allowInsecure?: boolean } & Omit<
  LdapBackendOptions,
  Wired | 'bindPassword' | 'ca'
>;
export type ScimBackendConfig = { type: 'scim'; tokenFile: string; allowInsecure?: boolean } & Omit<ScimBackendOptions, Wired | 'token'>;
export type KeycloakBackendConfig = {
  type: 'keycloak';
  clientId?: string;
  clientSecretFile?: string;
  username?: string;
  passwordFile?: string;
  allowInsecure?: boolean;
} & Omit<KeycloakBackendOptions, Wired | 'credentials'>;

export interface KubernetesBackendConfig {
  type: 'kubernetes';
  /** User (default) or Group: see kubernetes-subjects.ts. */
  subject?: 'User' | 'Group';
  userPrefix?: string;
  groupPrefix?: string;
}

export type IdentityBackendConfig = LdapBackendConfig | ScimBackendConfig | KeycloakBackendConfig | KubernetesBackendConfig;

export interface IdentityBackendDeps {
  /** What the kubernetes backend needs from the operator (required when one is configured). */
  kubernetes?: {
    client: KubeClient;
    roleBindings: Informer<RoleBinding>;
    clusterRoles: { admin: string; developer: string; observer: string };
    assignment: (controlNamespace: string, namespace: string) => Assignment;
  };
  /**
   * Whether a person still holds another grant in the team than `key` (the owner who also has
   * a superseded Membership, say). The group backends keep access per person, not per grant,
   * so their remove() leaves the person's groups alone then.
   */
  holdsOtherGrant?: (team: TeamRef, key: string, person: Person) => boolean;
  logger?: Logger;
  /** Reads secret and CA files (injectable for tests). */
  readFile?: ReadFile;
  fetch?: typeof fetch;
}

/** Builds every configured backend; throws an IdentityConfigError naming the backend and the problem. */
export function createIdentityBackends(
  configs: Record<string, { type: string; [key: string]: unknown }>,
  deps: IdentityBackendDeps = {},
): Map<string, IdentityBackend> {
  const backends = new Map<string, IdentityBackend>();
  for (const [name, raw] of Object.entries(configs)) {
    try {
      const backend = createIdentityBackend(name, raw as unknown as IdentityBackendConfig, deps);
      backends.set(name, backend);
      deps.logger?.info({ backend: name, type: backend.type, ...describe(raw as unknown as IdentityBackendConfig) }, 'identity backend configured');
    } catch (e) {
      if (e instanceof IdentityConfigError) throw new IdentityConfigError(`identityBackends.${name}: ${e.message}`);
      throw e;
    }
  }
  return backends;
}

/** Where a backend points, without anything secret (for the startup log). */
function describe(config: IdentityBackendConfig): Record<string, unknown> {
  switch (config.type) {
    case 'ldap':
      return { url: config.url, bindDn: config.bindDn, peopleDn: config.peopleDn, groupsDn: config.groupsDn };
    case 'scim':
      return { baseUrl: config.baseUrl };
    case 'keycloak':
      return { url: config.url, realm: config.realm, auth: config.clientSecretFile ? 'clientCredentials' : 'password' };
    case 'kubernetes':
      return { subject: config.subject ?? 'User', userPrefix: config.userPrefix ?? '', groupPrefix: config.groupPrefix ?? '' };
    default:
      return {};
  }
}

/**
 * A backend whose adapter module is imported on its first call (the settings were checked
 * already). A failed import is not remembered: the next call tries again.
 */
function loadedOnUse(name: string, type: IdentityBackend['type'], load: () => Promise<IdentityBackend>): IdentityBackend {
  let loading: Promise<IdentityBackend> | undefined;
  const backend = () =>
    (loading ??= load().catch((e: unknown) => {
      loading = undefined;
      throw e;
    }));
  return {
    name,
    type,
    ensure: async (grant, options) => await (await backend()).ensure(grant, options),
    remove: async (team, key, person, options) => await (await backend()).remove(team, key, person, options),
  };
}

export function createIdentityBackend(name: string, config: IdentityBackendConfig, deps: IdentityBackendDeps = {}): IdentityBackend {
  const readFile = deps.readFile ?? readUtf8;
  const common = { name, ...(deps.holdsOtherGrant ? { holdsOtherGrant: deps.holdsOtherGrant } : {}) };
  switch (config.type) {
    case 'kubernetes': {
      if (!deps.kubernetes) throw new IdentityConfigError("the kubernetes backend needs the operator's Kubernetes client");
      const subjects = { subject: config.subject ?? 'User', userPrefix: config.userPrefix ?? '', groupPrefix: config.groupPrefix ?? '' } as const;
      return new KubernetesIdentityBackend({ name, ...deps.kubernetes, subjects });
    }
    case 'ldap': {
      const password = new SecretFile(config.bindPasswordFile, 'the LDAP bind password', readFile);
      const ca = config.caFile === undefined ? undefined : readCa(config.caFile, readFile);
      if (config.startTls && config.url.startsWith('ldaps://')) throw new IdentityConfigError('startTls makes no sense with ldaps://; use one of them');
      const { type: _type, bindPasswordFile: _file, caFile: _ca, allowInsecure: _insecure, ...settings } = config;
      const options: LdapBackendOptions = { ...settings, ...common, bindPassword: () => password.get(), ...(ca ? { ca } : {}) };
      return loadedOnUse(name, 'ldap', async () => new (await import('./ldap.ts')).LdapIdentityBackend(options));
    }
    case 'scim': {
      const token = new SecretFile(config.tokenFile, 'the SCIM bearer token', readFile);
      const { type: _type, tokenFile: _file, allowInsecure: _insecure, ...settings } = config;
      const options: ScimBackendOptions = { ...settings, ...common, token: () => token.get(), ...(deps.fetch ? { fetch: deps.fetch } : {}) };
      return loadedOnUse(name, 'scim', async () => new (await import('./scim.ts')).ScimIdentityBackend(options));
    }
    case 'keycloak': {
      let credentials: KeycloakCredentials;
      if (config.clientSecretFile !== undefined && config.passwordFile !== undefined) {
        throw new IdentityConfigError('set either clientSecretFile (client credentials) or username and passwordFile (an admin user), not both');
      }
      if (config.clientSecretFile !== undefined) {
        if (!config.clientId) throw new IdentityConfigError('clientSecretFile needs clientId');
        const secret = new SecretFile(config.clientSecretFile, 'the Keycloak client secret', readFile);
        credentials = { kind: 'clientCredentials', clientId: config.clientId, clientSecret: () => secret.get() };
      } else if (config.passwordFile !== undefined) {
        if (!config.username) throw new IdentityConfigError('passwordFile needs username');
        const password = new SecretFile(config.passwordFile, 'the Keycloak admin password', readFile);
        credentials = { kind: 'password', clientId: config.clientId ?? 'admin-cli', username: config.username, password: () => password.get() };
      } else {
        throw new IdentityConfigError('needs credentials: clientId and clientSecretFile, or username and passwordFile');
      }
      const { type: _type, clientId: _id, clientSecretFile: _secret, username: _user, passwordFile: _password, allowInsecure: _insecure, ...settings } = config;
      const options: KeycloakBackendOptions = { ...settings, ...common, credentials, ...(deps.fetch ? { fetch: deps.fetch } : {}) };
      return loadedOnUse(name, 'keycloak', async () => new (await import('./keycloak.ts')).KeycloakIdentityBackend(options));
    }
    default:
      throw new IdentityConfigError(
        `unknown identity backend type ${JSON.stringify((config as { type: unknown }).type)}; use kubernetes, keycloak, ldap or scim`,
      );
  }
}

function readCa(path: string, readFile: ReadFile): string {
  try {
    return readFile(path);
  } catch (e) {
    throw new IdentityConfigError(`cannot read caFile ${path}: ${(e as Error).message}`);
  }
}
