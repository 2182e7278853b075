// The `keycloak` identity backend (@keycloak/keycloak-admin-client): people are users of one
// realm; access is membership of top-level groups per team, role and scope (names and tags:
// groups.ts), e.g. `roster_acme_acme_developer_shop_staging`.
//
// Why groups and not Keycloak organizations: an organization fits "a team" but not "a role
// in a team" or "a role in one environment of one project" — organization members have no
// role or scope of their own, so groups would still be needed inside each organization, and
// organizations must be enabled per realm, tie members to email domains and identity
// providers, and are not part of a token unless a mapper is added. Groups exist in every
// realm, appear in tokens through the standard `groups` mapper, can carry realm/client role
// mappings, and are exactly "who has this role where". Flat top-level groups (not a
// hierarchy) because Keycloak subgroup members inherit their parents' role mappings, which
// would make a scoped developer inherit the team-wide developer group's roles.
//
// Roster's groups carry attributes `roster.dev/managed: true`, `roster.dev/team: <ns>/<team>`
// and `roster.dev/group: <tag>`; only such groups are ever changed, and a hand-made group
// with Roster's name is reported (GroupNameTaken), not adopted.
//
// People: found by email. A new person is created (username = email, required action
// UPDATE_PASSWORD) and gets Keycloak's own execute-actions-email to set a password; an
// existing user is linked as is. The mail is sent again only while the user is still
// unusable (UPDATE_PASSWORD pending, no password) and holds none of the team's groups yet, so
// a failed send is retried by the next reconcile and a provisioned person is never re-mailed.
//
// Removal ends the person's sessions (group removal alone logs nobody out): logout, remove
// the team's groups, logout again (closing the window in between); the account stays.
//
// Credentials: client credentials (a confidential client with the realm-management roles
// manage-users and view-users, query-groups) or an admin user, each secret read from a file on
// every token request, so a rotated Secret needs no restart.
import { AsyncLocalStorage } from 'node:async_hooks';
import KcAdminClient, { NetworkError } from '@keycloak/keycloak-admin-client';
import type GroupRepresentation from '@keycloak/keycloak-admin-client/lib/defs/groupRepresentation.js';
import type UserRepresentation from '@keycloak/keycloak-admin-client/lib/defs/userRepresentation.js';
import { desiredGroups, groupName, groupTag, planMembership, teamTag, type GroupSpec, type HeldGroup } from './groups.ts';
import {
  cancelledError,
  IdentityBackendError,
  throwIfCancelled,
  unlessCancelled,
  type CallOptions,
  type EnsureResult,
  type Grant,
  type IdentityBackend,
  type Person,
  type TeamRef,
} from './types.ts';

export const KEYCLOAK_MANAGED_ATTRIBUTE = 'roster.dev/managed';
export const KEYCLOAK_TEAM_ATTRIBUTE = 'roster.dev/team';
export const KEYCLOAK_GROUP_ATTRIBUTE = 'roster.dev/group';

export type KeycloakCredentials =
  | { kind: 'clientCredentials'; clientId: string; clientSecret: () => string }
  | { kind: 'password'; clientId: string; username: string; password: () => string };

export interface KeycloakBackendOptions {
  name: string;
  /** Keycloak's base URL, e.g. https://sso.example (no /admin, no /realms). */
  url: string;
  /** The realm whose users and groups Roster manages. */
  realm: string;
  /** The realm to get a token from (default: `realm` for client credentials, `master` for an admin user). */
  authRealm?: string;
  credentials: KeycloakCredentials;
  groupPrefix?: string;
  /** Keycloak's set-password mail for new users. Default on. */
  actionsEmail?: { enabled?: boolean; lifespanSeconds?: number; clientId?: string; redirectUri?: string };
  timeoutMs?: number;
  pageSize?: number;
  holdsOtherGrant?: (team: TeamRef, key: string, person: Person) => boolean;
  fetch?: typeof fetch;
}

interface Token {
  value: string;
  expiresAt: number;
}

function attribute(group: GroupRepresentation, key: string): string | undefined {
  const value = (group.attributes as Record<string, unknown> | undefined)?.[key];
  return Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
}

function tagOf(group: GroupRepresentation): string | undefined {
  if (attribute(group, KEYCLOAK_MANAGED_ATTRIBUTE) !== 'true') return undefined;
  return attribute(group, KEYCLOAK_GROUP_ATTRIBUTE);
}

/**
 * The admin client with a signal per request: the timeout, joined with the signal of the
 * ensure/remove the request belongs to. (The client's own `timeout` option would replace
 * any signal with a bare timeout, so it is not set.)
 */
class CancellableAdminClient extends KcAdminClient {
  readonly #signal: () => AbortSignal;
  constructor(config: ConstructorParameters<typeof KcAdminClient>[0], signal: () => AbortSignal) {
    super(config);
    this.#signal = signal;
  }
  override getRequestOptions(): RequestInit {
    return { ...super.getRequestOptions(), signal: this.#signal() };
  }
}

export class KeycloakIdentityBackend implements IdentityBackend {
  readonly type = 'keycloak' as const;
  readonly name: string;
  private readonly options: KeycloakBackendOptions;
  private readonly admin: KcAdminClient;
  private token: Token | undefined;
  private tokenRequest: Promise<string> | undefined;
  /** The signal of the ensure/remove in progress, for every request it makes (calls run concurrently). */
  private readonly callSignal = new AsyncLocalStorage<AbortSignal | undefined>();

  constructor(options: KeycloakBackendOptions) {
    this.name = options.name;
    this.options = options;
    const timeoutMs = options.timeoutMs ?? 10_000;
    this.admin = new CancellableAdminClient({ baseUrl: options.url.replace(/\/+$/, ''), realmName: options.realm }, () => {
      const cancel = this.callSignal.getStore();
      return cancel ? AbortSignal.any([AbortSignal.timeout(timeoutMs), cancel]) : AbortSignal.timeout(timeoutMs);
    });
    // The token request is shared by concurrent calls, so one call's cancel does not abort it; it only stops waiting.
    this.admin.registerTokenProvider({ getAccessToken: () => unlessCancelled(this.accessToken(), this.callSignal.getStore(), 'get a Keycloak token') });
  }

  private get prefix(): string | undefined {
    return this.options.groupPrefix;
  }

  private get realm(): string {
    return this.options.realm;
  }

  ensure(grant: Grant, options: CallOptions = {}): Promise<EnsureResult> {
    return this.callSignal.run(options.signal, () => this.ensureNow(grant));
  }

  remove(team: TeamRef, key: string, person: Person, options: CallOptions = {}): Promise<string[]> {
    return this.callSignal.run(options.signal, () => this.removeNow(team, key, person));
  }

  private async ensureNow(grant: Grant): Promise<EnsureResult> {
    const email = grant.person.email;
    const changes: string[] = [];
    let user = await this.call(`find Keycloak user ${email}`, () => this.findUser(email));
    let created = false;
    if (!user) {
      user = await this.call(`create Keycloak user ${email}`, () => this.createUser(grant.person));
      created = true;
      changes.push(`created Keycloak user ${email}`);
    }
    const userId = user.id!;
    // Every read before any write: the person's groups, then the groups to add them to.
    const held = await this.call(`read the Keycloak groups of ${email} in team ${teamTag(grant.team)}`, () => this.heldGroups(userId, grant.team));
    const plan = planMembership(grant.team, desiredGroups(grant), held);
    const targets: Array<{ spec: GroupSpec; group: GroupRepresentation | undefined }> = [];
    for (const spec of plan.add) {
      targets.push({ spec, group: await this.call(`find Keycloak group ${groupName(spec, this.prefix)}`, () => this.findGroup(spec)) });
    }
    if (this.options.actionsEmail?.enabled !== false && (created || (held.length === 0 && (await this.awaitsPassword(user))))) {
      await this.call(`send the set-password mail to ${email}`, () =>
        this.admin.users.executeActionsEmail({
          realm: this.realm,
          id: userId,
          actions: ['UPDATE_PASSWORD'],
          lifespan: this.options.actionsEmail?.lifespanSeconds ?? 7 * 24 * 3600,
          ...(this.options.actionsEmail?.clientId ? { clientId: this.options.actionsEmail.clientId } : {}),
          ...(this.options.actionsEmail?.redirectUri ? { redirectUri: this.options.actionsEmail.redirectUri } : {}),
        }),
      );
      changes.push(`sent Keycloak's set-password mail to ${email}`);
    }
    for (const { spec, group } of targets) {
      const name = groupName(spec, this.prefix);
      const groupId = group?.id ?? (await this.call(`create Keycloak group ${name}`, () => this.createGroup(spec)));
      await this.call(`add ${email} to Keycloak group ${name}`, () => this.admin.users.addToGroup({ realm: this.realm, id: userId, groupId }));
      changes.push(`added ${email} to Keycloak group ${name}`);
    }
    for (const h of plan.remove) {
      await this.call(`remove ${email} from Keycloak group ${h.ref.name}`, () => this.leave(userId, h.ref.id));
      changes.push(`removed ${email} from Keycloak group ${h.ref.name}`);
    }
    return { subject: userId, changes };
  }

  private async removeNow(team: TeamRef, key: string, person: Person): Promise<string[]> {
    if (this.options.holdsOtherGrant?.(team, key, person)) return [];
    const user = await this.call(`find Keycloak user ${person.email}`, () => this.findUser(person.email));
    if (!user?.id) return [];
    const userId = user.id;
    const held = await this.call(`read the Keycloak groups of ${person.email} in team ${teamTag(team)}`, () => this.heldGroups(userId, team));
    const leaving = planMembership(team, [], held).remove;
    if (leaving.length === 0) return [];
    const logout = () => this.call(`end the Keycloak sessions of ${person.email}`, () => this.admin.users.logout({ realm: this.realm, id: userId }));
    const changes: string[] = [];
    await logout();
    for (const h of leaving) {
      await this.call(`remove ${person.email} from Keycloak group ${h.ref.name}`, () => this.leave(userId, h.ref.id));
      changes.push(`removed ${person.email} from Keycloak group ${h.ref.name}`);
    }
    await logout();
    changes.push(`ended the Keycloak sessions of ${person.email}`);
    return changes;
  }

  // --- people ---

  private async findUser(email: string): Promise<UserRepresentation | undefined> {
    const users = await this.admin.users.find({ realm: this.realm, email, exact: true, briefRepresentation: false });
    const exact = users.filter((u) => u.email?.toLowerCase() === email.toLowerCase());
    if (exact.length > 1)
      throw new IdentityBackendError('AmbiguousPerson', `${exact.length} Keycloak users in realm ${this.realm} have email ${email}; keep one`, {
        retryable: false,
      });
    return exact[0];
  }

  private async createUser(person: Person): Promise<UserRepresentation> {
    const words = (person.name ?? '').trim().split(/\s+/).filter(Boolean);
    try {
      const { id } = await this.admin.users.create({
        realm: this.realm,
        username: person.email,
        email: person.email,
        enabled: true,
        emailVerified: false,
        requiredActions: ['UPDATE_PASSWORD'],
        ...(words.length ? { firstName: words.slice(0, -1).join(' ') || words[0], lastName: words[words.length - 1] } : {}),
      });
      return { id, email: person.email, requiredActions: ['UPDATE_PASSWORD'] };
    } catch (e) {
      // Created in between (409): use it.
      if (e instanceof NetworkError && e.response.status === 409) {
        const found = await this.findUser(person.email);
        if (found) return found;
        throw new IdentityBackendError(
          'Conflict',
          `Keycloak refused to create ${person.email} (a user with that username or email exists, but not with that email); resolve it in realm ${this.realm}`,
          { retryable: false, cause: e },
        );
      }
      throw e;
    }
  }

  /** Still unusable: the set-password action is pending and there is no password yet. */
  private async awaitsPassword(user: UserRepresentation): Promise<boolean> {
    if (!(user.requiredActions ?? []).includes('UPDATE_PASSWORD')) return false;
    const credentials = await this.call(`read the credentials of ${user.email}`, () => this.admin.users.getCredentials({ realm: this.realm, id: user.id! }));
    return !credentials.some((c) => c.type === 'password');
  }

  // --- groups ---

  /** The team's Roster groups the user is in: every page, checked against the count. */
  private async heldGroups(userId: string, team: TeamRef): Promise<HeldGroup<{ id: string; name: string }>[]> {
    const pageSize = this.options.pageSize ?? 100;
    const { count } = await this.admin.users.countGroups({ realm: this.realm, id: userId });
    const all: GroupRepresentation[] = [];
    for (let first = 0; ; first += pageSize) {
      const page = await this.admin.users.listGroups({ realm: this.realm, id: userId, briefRepresentation: false, first, max: pageSize });
      if (!Array.isArray(page)) throw new IdentityBackendError('InvalidResponse', 'Keycloak answered the group list with something that is not a list');
      all.push(...page);
      if (page.length < pageSize) break;
    }
    if (all.length < count) {
      throw new IdentityBackendError('PartialRead', `Keycloak counts ${count} groups for the user but listed ${all.length}; nothing was changed`);
    }
    const held: HeldGroup<{ id: string; name: string }>[] = [];
    for (const g of all) {
      const tag = tagOf(g);
      if (tag && g.id && attribute(g, KEYCLOAK_TEAM_ATTRIBUTE) === teamTag(team)) held.push({ tag, ref: { id: g.id, name: g.name ?? g.id } });
    }
    return held;
  }

  private async findGroup(spec: GroupSpec): Promise<GroupRepresentation | undefined> {
    const name = groupName(spec, this.prefix);
    const found = await this.admin.groups.find({ realm: this.realm, search: name, exact: true, briefRepresentation: false, max: 10 });
    const group = found.find((g) => g.name === name && (g.path === undefined || g.path === `/${name}`));
    if (!group) return undefined;
    if (tagOf(group) !== groupTag(spec)) {
      throw new IdentityBackendError(
        'GroupNameTaken',
        `Keycloak group ${name} in realm ${this.realm} exists but is not Roster's; rename it, or set a different groupPrefix`,
        { retryable: false },
      );
    }
    return group;
  }

  private async createGroup(spec: GroupSpec): Promise<string> {
    const name = groupName(spec, this.prefix);
    try {
      const { id } = await this.admin.groups.create({
        realm: this.realm,
        name,
        attributes: {
          [KEYCLOAK_MANAGED_ATTRIBUTE]: ['true'],
          [KEYCLOAK_TEAM_ATTRIBUTE]: [teamTag(spec.team)],
          [KEYCLOAK_GROUP_ATTRIBUTE]: [groupTag(spec)],
        },
      });
      return id;
    } catch (e) {
      if (!(e instanceof NetworkError && e.response.status === 409)) throw e;
    }
    const group = await this.findGroup(spec); // created concurrently
    if (!group?.id) throw new IdentityBackendError('Conflict', `Keycloak group ${name} could not be created (conflict) and is not there; retrying`);
    return group.id;
  }

  private async leave(userId: string, groupId: string): Promise<void> {
    try {
      await this.admin.users.delFromGroup({ realm: this.realm, id: userId, groupId });
    } catch (e) {
      if (!(e instanceof NetworkError && e.response.status === 404)) throw e; // already gone
    }
  }

  // --- plumbing ---

  /** A token for the admin API, fetched with the configured credentials and cached until shortly before it expires. */
  private async accessToken(): Promise<string> {
    if (this.token && this.token.expiresAt - 15_000 > Date.now()) return this.token.value;
    this.tokenRequest ??= this.fetchToken().finally(() => {
      this.tokenRequest = undefined;
    });
    return await this.tokenRequest;
  }

  private async fetchToken(): Promise<string> {
    const creds = this.options.credentials;
    const authRealm = this.options.authRealm ?? (creds.kind === 'password' ? 'master' : this.realm);
    const form = new URLSearchParams({ client_id: creds.clientId });
    if (creds.kind === 'clientCredentials') {
      form.set('grant_type', 'client_credentials');
      form.set('client_secret', creds.clientSecret());
    } else {
      form.set('grant_type', 'password');
      form.set('username', creds.username);
      form.set('password', creds.password());
    }
    const url = `${this.options.url.replace(/\/+$/, '')}/realms/${encodeURIComponent(authRealm)}/protocol/openid-connect/token`;
    const res = await (this.options.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
    if (!res.ok || !body.access_token) {
      const why = body.error_description ?? body.error ?? `HTTP ${res.status}`;
      const retryable = res.status >= 500 || res.status === 429;
      throw new IdentityBackendError(
        retryable ? 'ServerError' : 'InvalidCredentials',
        `Keycloak refused Roster's credentials (client ${creds.clientId} in realm ${authRealm}): ${why}`,
        { retryable },
      );
    }
    this.token = { value: body.access_token, expiresAt: Date.now() + (body.expires_in ?? 60) * 1000 };
    return this.token.value;
  }

  /** Runs one admin call; any failure becomes an IdentityBackendError saying what could not be done. */
  private async call<T>(what: string, action: () => Promise<T>): Promise<T> {
    const cancel = this.callSignal.getStore();
    throwIfCancelled(cancel, what); // nothing new goes out once the reconcile is cancelled
    try {
      return await action();
    } catch (e) {
      if (cancel?.aborted) throw cancelledError(what, e);
      if (e instanceof IdentityBackendError)
        throw new IdentityBackendError(e.reason, e.message.startsWith('could not') ? e.message : `could not ${what}: ${e.message}`, {
          retryable: e.retryable,
          cause: e.cause ?? e,
        });
      throw toBackendError(e, what, this.options.url);
    }
  }
}

/** Admin-client and fetch failures as IdentityBackendErrors. */
export function toBackendError(e: unknown, what: string, url: string): IdentityBackendError {
  if (e instanceof NetworkError) {
    const status = e.response.status;
    const message = `could not ${what}: Keycloak answered ${status} (${e.message})`;
    if (status === 401) return new IdentityBackendError('Unauthorized', `${message}; check Roster's Keycloak credentials`, { retryable: false, cause: e });
    if (status === 403)
      return new IdentityBackendError(
        'Forbidden',
        `${message}; Roster's Keycloak client lacks the realm-management roles (manage-users, view-users, query-groups)`,
        { retryable: false, cause: e },
      );
    if (status === 404) return new IdentityBackendError('NotFound', message, { retryable: true, cause: e });
    if (status === 409) return new IdentityBackendError('Conflict', message, { retryable: true, cause: e });
    if (status === 429) return new IdentityBackendError('RateLimited', message, { retryable: true, cause: e });
    if (status >= 500) return new IdentityBackendError('ServerError', message, { retryable: true, cause: e });
    return new IdentityBackendError('Rejected', message, { retryable: false, cause: e });
  }
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') {
    return new IdentityBackendError('Timeout', `could not ${what}: Keycloak at ${url} did not answer in time`, { retryable: true, cause: e });
  }
  const detail = [err?.cause?.code, err?.cause?.message].filter(Boolean).join(': ') || err?.message || String(e);
  return new IdentityBackendError('Unreachable', `could not ${what}: Keycloak at ${url} is unreachable (${detail})`, { retryable: true, cause: e });
}
