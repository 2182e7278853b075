// The JSON schema of one entry of the operator config's identityBackends, per type
// (src/config.ts validates with it; src/backends/identity/registry.ts builds from it). Kept
// apart from the backends so that loading the config does not load every backend's client.

const groupPrefixSchema = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$',
  maxLength: 32,
  description: 'Prefix of the group names (<prefix>_<namespace>_<team>[_<role>[_<project>_<environment>]]). Default "roster".',
} as const;
const timeoutSchema = { type: 'integer', minimum: 100, description: 'Per-request timeout in milliseconds. Default 10000.' } as const;
const pageSizeSchema = { type: 'integer', minimum: 1, maximum: 10000, description: 'Results per page when listing.' } as const;

const ldapSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'url', 'bindDn', 'bindPasswordFile', 'peopleDn', 'groupsDn'],
  properties: {
    type: { const: 'ldap' },
    url: { type: 'string', pattern: '^ldaps?://', description: 'ldap://host:port or ldaps://host:port.' },
    bindDn: { type: 'string', minLength: 1, description: 'The DN Roster binds as (needs write access to peopleDn and groupsDn).' },
    bindPasswordFile: { type: 'string', minLength: 1, description: 'File holding the bind password (a mounted Secret).' },
    peopleDn: { type: 'string', minLength: 1, description: 'Where people (inetOrgPerson) are found by mail and created.' },
    groupsDn: { type: 'string', minLength: 1, description: 'Where Roster keeps its groupOfNames entries.' },
    userRdnAttribute: {
      type: 'string',
      pattern: '^[A-Za-z][A-Za-z0-9-]*$',
      description: 'RDN attribute of new people entries, valued with the email. Default uid.',
    },
    placeholderMember: { type: 'string', description: 'The member every Roster group keeps so that it is never empty. Default: groupsDn.' },
    startTls: { type: 'boolean', description: 'Upgrade ldap:// with StartTLS.' },
    caFile: { type: 'string', description: 'PEM CA bundle for ldaps:// and StartTLS.' },
    allowInsecure: {
      type: 'boolean',
      description: 'Allow ldap:// without startTls (the bind password in the clear). Development only; the operator warns at start.',
    },
    groupPrefix: groupPrefixSchema,
    timeoutMs: timeoutSchema,
    connectTimeoutMs: timeoutSchema,
    pageSize: pageSizeSchema,
  },
} as const;

const scimSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'baseUrl', 'tokenFile'],
  properties: {
    type: { const: 'scim' },
    baseUrl: { type: 'string', pattern: '^https?://', description: 'The SCIM base URL (Users, Groups and ServiceProviderConfig below it).' },
    tokenFile: { type: 'string', minLength: 1, description: 'File holding the bearer token (a mounted Secret).' },
    allowInsecure: { type: 'boolean', description: 'Allow an http:// baseUrl (the bearer token in the clear). Development only; the operator warns at start.' },
    groupPrefix: groupPrefixSchema,
    batchSize: { type: 'integer', minimum: 1, maximum: 1000, description: 'Member values per PATCH request. Default 50.' },
    pageSize: pageSizeSchema,
    timeoutMs: timeoutSchema,
    memberFilter: { enum: ['valuePath', 'dotted'], description: 'How to list a user\'s groups: members[value eq "id"] (default) or members.value eq "id".' },
    deactivateOnRemoval: {
      type: 'boolean',
      description: 'Set active=false on users Roster created once they are in no Roster group (default false: the account stays).',
    },
  },
} as const;

const keycloakSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'url', 'realm'],
  properties: {
    type: { const: 'keycloak' },
    url: { type: 'string', pattern: '^https?://', description: 'Keycloak base URL, e.g. https://sso.example.' },
    realm: { type: 'string', minLength: 1, description: 'The realm whose users and groups Roster manages.' },
    allowInsecure: {
      type: 'boolean',
      description: 'Allow an http:// url (credentials and tokens in the clear). Development only; the operator warns at start.',
    },
    authRealm: { type: 'string', minLength: 1, description: 'Realm to authenticate in (default: realm for client credentials, master for an admin user).' },
    clientId: { type: 'string', minLength: 1, description: 'OAuth client (default admin-cli with username/passwordFile; required with clientSecretFile).' },
    clientSecretFile: { type: 'string', minLength: 1, description: 'Client credentials: file holding the client secret (a mounted Secret).' },
    username: { type: 'string', minLength: 1, description: 'Admin user (with passwordFile) instead of client credentials.' },
    passwordFile: { type: 'string', minLength: 1, description: "File holding the admin user's password (a mounted Secret)." },
    groupPrefix: groupPrefixSchema,
    timeoutMs: timeoutSchema,
    pageSize: pageSizeSchema,
    actionsEmail: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean', description: "Send Keycloak's set-password mail (execute-actions-email) to new users. Default true." },
        lifespanSeconds: { type: 'integer', minimum: 60, description: "How long the mail's link works. Default 7 days." },
        clientId: { type: 'string' },
        redirectUri: { type: 'string' },
      },
    },
  },
} as const;

const kubernetesSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { const: 'kubernetes' },
    subject: {
      enum: ['User', 'Group'],
      description:
        "What RoleBindings name: User <userPrefix><email> (default), or Group <groupPrefix>roster:<namespace>:<team>:<role>[:<project>:<environment>] that the platform's IdP fills.",
    },
    userPrefix: {
      type: 'string',
      maxLength: 64,
      pattern: '^(?!system:)[^\\s]*$',
      description: "Prepended to the email, as the cluster's authenticator prefixes users (e.g. oidc: for --oidc-username-prefix). Default empty.",
    },
    groupPrefix: {
      type: 'string',
      maxLength: 64,
      pattern: '^(?!system:)[^\\s]*$',
      description: 'Subject Group: prepended to group names, as the authenticator prefixes groups (e.g. oidc: for --oidc-groups-prefix). Default empty.',
    },
  },
} as const;

/** The schema of one entry of config.identityBackends. */
export const identityBackendSchema = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { enum: ['kubernetes', 'keycloak', 'ldap', 'scim'] },
  },
  allOf: [
    { if: { required: ['type'], properties: { type: { const: 'ldap' } } }, then: ldapSchema },
    { if: { required: ['type'], properties: { type: { const: 'scim' } } }, then: scimSchema },
    { if: { required: ['type'], properties: { type: { const: 'keycloak' } } }, then: keycloakSchema },
    { if: { required: ['type'], properties: { type: { const: 'kubernetes' } } }, then: kubernetesSchema },
  ],
} as const;
