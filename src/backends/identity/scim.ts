// The `scim` identity backend: a SCIM 2.0 client (RFC 7643/7644) on fetch, for any service
// provider with Users and Groups.
//
// - Discovery: GET /ServiceProviderConfig once (again after a failure) for patch, etag, bulk
//   and filter support. Without PATCH, group members are changed by GET + PUT of the group
//   (with If-Match when ETags are supported). Bulk is discovered and reported but not used:
//   one person's change touches a handful of groups, and per-group PATCH keeps ETag
//   preconditions simple.
// - People: found by `userName eq "<email>"`, created (userName = email, emails[0] = email,
//   externalId `roster:<email>`) when new.
// - Access: groups per team, role and scope (names and tags: groups.ts), found by
//   `displayName eq "<name>"` and created when missing. A Roster group carries
//   `externalId: roster:<tag>`; a group with the same displayName and any other externalId is
//   not Roster's and is never modified (GroupNameTaken).
// - Members change through PATCH (add: one `add` operation with up to `batchSize` values;
//   remove: one `remove` operation per value, up to `batchSize` per request), with If-Match
//   when the provider supports ETags (a 412 re-reads the version and retries).
// - Drift: the person's current groups are read with a Groups filter on members
//   (`members[value eq "<id>"]`, or `members.value eq` for providers that want it), every page
//   of it; a short page, a total that does not add up, a 5xx, a timeout: all throw a retryable
//   IdentityBackendError before anything is written, so a bad read never removes access.
// - Removal takes the person out of the team's Roster groups; the account stays (SPEC §4).
//   With `deactivateOnRemoval: true`, a user Roster created (externalId roster:…) who is left in
//   no Roster group of any team is set `active: false`, and set active again when a grant
//   brings them back (Roster then owns `active` of the users it created).
import { AsyncLocalStorage } from 'node:async_hooks';
import { chunks, desiredGroups, groupName, groupTag, isTagOfTeam, planMembership, teamTag, type GroupSpec, type HeldGroup } from './groups.ts';
import {
  cancelledError,
  IdentityBackendError,
  throwIfCancelled,
  type CallOptions,
  type EnsureResult,
  type Grant,
  type IdentityBackend,
  type Person,
  type TeamRef,
} from './types.ts';

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SCIM_EXTERNAL_ID_PREFIX = 'roster:';

export interface ScimBackendOptions {
  name: string;
  /** The SCIM base URL, e.g. https://idp.example/scim/v2 (Users, Groups and ServiceProviderConfig below it). */
  baseUrl: string;
  /** Returns the bearer token (read from a mounted Secret). */
  token: () => string;
  groupPrefix?: string;
  /** Member values per PATCH request. Default 50. */
  batchSize?: number;
  /** Resources per page when listing. Default 100. */
  pageSize?: number;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  /** How to ask for the groups a user is in: RFC 7644 value path (default) or dotted attribute. */
  memberFilter?: 'valuePath' | 'dotted';
  deactivateOnRemoval?: boolean;
  holdsOtherGrant?: (team: TeamRef, key: string, person: Person) => boolean;
  fetch?: typeof fetch;
}

export interface ScimCapabilities {
  patch: boolean;
  etag: boolean;
  bulk: { supported: boolean; maxOperations?: number; maxPayloadSize?: number };
  filter: { supported: boolean; maxResults?: number };
}

interface ScimResource {
  id: string;
  externalId?: string;
  meta?: { version?: string };
  [key: string]: unknown;
}

interface ScimUser extends ScimResource {
  userName?: string;
  active?: boolean;
}

interface ScimGroup extends ScimResource {
  displayName?: string;
  members?: Array<{ value: string; display?: string; type?: string }>;
}

interface ScimResponse {
  status: number;
  body: unknown;
  etag: string | undefined;
}

/** A SCIM filter string literal (RFC 7644 §3.4.2.2 uses JSON string syntax). */
export function scimString(value: string): string {
  return JSON.stringify(value);
}

/** PATCH bodies for adding and removing members, at most `batchSize` member values each. */
export function memberPatches(add: readonly string[], remove: readonly string[], batchSize: number): Array<{ schemas: string[]; Operations: unknown[] }> {
  const out: Array<{ schemas: string[]; Operations: unknown[] }> = [];
  for (const chunk of chunks(add, batchSize)) {
    out.push({ schemas: [PATCH_SCHEMA], Operations: [{ op: 'add', path: 'members', value: chunk.map((value) => ({ value })) }] });
  }
  for (const chunk of chunks(remove, batchSize)) {
    out.push({ schemas: [PATCH_SCHEMA], Operations: chunk.map((value) => ({ op: 'remove', path: `members[value eq ${scimString(value)}]` })) });
  }
  return out;
}

/**
 * Checks that a ListResponse page is what a complete read needs; returns its resources.
 * Throws (PartialRead) when the provider says there is more than it hands over.
 */
export function checkListPage(body: unknown, startIndex: number, seenSoFar: number, what: string): { resources: ScimResource[]; total: number } {
  const page = body as { schemas?: unknown; totalResults?: unknown; Resources?: unknown; startIndex?: unknown };
  if (!page || typeof page !== 'object' || typeof page.totalResults !== 'number') {
    throw new IdentityBackendError('InvalidResponse', `could not ${what}: the SCIM provider's list response has no totalResults`);
  }
  const resources = page.Resources === undefined ? [] : page.Resources;
  if (!Array.isArray(resources) || resources.some((r) => !r || typeof r !== 'object' || typeof (r as ScimResource).id !== 'string')) {
    throw new IdentityBackendError('InvalidResponse', `could not ${what}: the SCIM provider's list response has malformed Resources`);
  }
  if (typeof page.startIndex === 'number' && page.startIndex !== startIndex) {
    throw new IdentityBackendError(
      'PartialRead',
      `could not ${what}: asked for results from ${startIndex}, the SCIM provider answered from ${page.startIndex}; nothing was changed`,
    );
  }
  if (resources.length === 0 && seenSoFar < page.totalResults) {
    throw new IdentityBackendError(
      'PartialRead',
      `could not ${what}: the SCIM provider announced ${page.totalResults} results but stopped after ${seenSoFar}; nothing was changed`,
    );
  }
  return { resources: resources as ScimResource[], total: page.totalResults };
}

export class ScimIdentityBackend implements IdentityBackend {
  readonly type = 'scim' as const;
  readonly name: string;
  private readonly options: ScimBackendOptions;
  private readonly baseUrl: string;
  private discovered: ScimCapabilities | undefined;
  /** The signal of the ensure/remove in progress, for every request it makes (calls run concurrently). */
  private readonly call = new AsyncLocalStorage<AbortSignal | undefined>();

  constructor(options: ScimBackendOptions) {
    this.name = options.name;
    this.options = options;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  private get prefix(): string | undefined {
    return this.options.groupPrefix;
  }

  /** The provider's capabilities (GET /ServiceProviderConfig), asked once. */
  async capabilities(): Promise<ScimCapabilities> {
    if (this.discovered) return this.discovered;
    const { body } = await this.request('GET', '/ServiceProviderConfig', 'read the SCIM ServiceProviderConfig');
    const spc = (body ?? {}) as Record<string, { supported?: unknown; maxOperations?: unknown; maxPayloadSize?: unknown; maxResults?: unknown } | undefined>;
    const flag = (key: string) => spc[key]?.supported === true;
    const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
    this.discovered = {
      patch: flag('patch'),
      etag: flag('etag'),
      bulk: { supported: flag('bulk'), maxOperations: num(spc.bulk?.maxOperations), maxPayloadSize: num(spc.bulk?.maxPayloadSize) },
      filter: { supported: flag('filter'), maxResults: num(spc.filter?.maxResults) },
    };
    if (!this.discovered.filter.supported) {
      const error = new IdentityBackendError(
        'Unsupported',
        `SCIM provider ${this.baseUrl} does not support filtering; Roster needs filters to find people and groups`,
        { retryable: false },
      );
      this.discovered = undefined;
      throw error;
    }
    return this.discovered;
  }

  ensure(grant: Grant, options: CallOptions = {}): Promise<EnsureResult> {
    return this.call.run(options.signal, () => this.ensureNow(grant));
  }

  remove(team: TeamRef, key: string, person: Person, options: CallOptions = {}): Promise<string[]> {
    return this.call.run(options.signal, () => this.removeNow(team, key, person));
  }

  private async ensureNow(grant: Grant): Promise<EnsureResult> {
    const caps = await this.capabilities();
    const email = grant.person.email;
    const changes: string[] = [];
    let user = await this.findUser(email);
    if (!user) {
      user = await this.createUser(grant.person);
      changes.push(`created SCIM user ${email}`);
    } else if (user.active === false && this.options.deactivateOnRemoval && isRosterCreated(user)) {
      await this.setActive(user, true, caps);
      changes.push(`reactivated SCIM user ${email}`);
    }
    const userId = user.id;
    // Every read before any write: the person's groups, then the groups to add them to.
    const held = await this.heldGroups(userId, grant.team, email);
    const plan = planMembership(grant.team, desiredGroups(grant), held);
    const targets: Array<{ spec: GroupSpec; group: ScimGroup | undefined }> = [];
    for (const spec of plan.add) targets.push({ spec, group: await this.findGroup(spec) });
    for (const { spec, group } of targets) {
      const name = groupName(spec, this.prefix);
      if (group) {
        await this.changeMembers(group.id, [userId], [], caps, `add ${email} to SCIM group ${name}`);
        changes.push(`added ${email} to SCIM group ${name}`);
      } else {
        const created = await this.createGroup(spec, userId, caps);
        changes.push(created ? `created SCIM group ${name} with ${email}` : `added ${email} to SCIM group ${name}`);
      }
    }
    for (const h of plan.remove) {
      await this.changeMembers(h.ref.id, [], [userId], caps, `remove ${email} from SCIM group ${h.ref.name}`);
      changes.push(`removed ${email} from SCIM group ${h.ref.name}`);
    }
    return { subject: userId, changes };
  }

  private async removeNow(team: TeamRef, key: string, person: Person): Promise<string[]> {
    if (this.options.holdsOtherGrant?.(team, key, person)) return [];
    const caps = await this.capabilities();
    const user = await this.findUser(person.email);
    if (!user) return [];
    const held = await this.heldGroups(user.id, team, person.email);
    const changes: string[] = [];
    for (const h of planMembership(team, [], held).remove) {
      await this.changeMembers(h.ref.id, [], [user.id], caps, `remove ${person.email} from SCIM group ${h.ref.name}`);
      changes.push(`removed ${person.email} from SCIM group ${h.ref.name}`);
    }
    if (this.options.deactivateOnRemoval && isRosterCreated(user) && user.active !== false) {
      const anyLeft = (await this.groupsOfUser(user.id, `read the SCIM groups of ${person.email}`)).some((g) =>
        g.externalId?.startsWith(SCIM_EXTERNAL_ID_PREFIX),
      );
      if (!anyLeft) {
        await this.setActive(user, false, caps);
        changes.push(`deactivated SCIM user ${person.email} (in no Roster group any more)`);
      }
    }
    return changes;
  }

  // --- people ---

  private async findUser(email: string): Promise<ScimUser | undefined> {
    const users = (await this.listAll('/Users', `userName eq ${scimString(email)}`, undefined, `find SCIM user ${email}`)) as ScimUser[];
    const exact = users.filter((u) => typeof u.userName === 'string' && u.userName.toLowerCase() === email.toLowerCase());
    if (exact.length > 1) {
      throw new IdentityBackendError('AmbiguousPerson', `${exact.length} SCIM users have userName ${email}; keep one`, { retryable: false });
    }
    return exact[0] ?? (users.length === 1 ? users[0] : undefined);
  }

  private async createUser(person: Person): Promise<ScimUser> {
    const name = person.name?.trim();
    const words = name ? name.split(/\s+/) : [];
    const body = {
      schemas: [USER_SCHEMA],
      userName: person.email,
      externalId: `${SCIM_EXTERNAL_ID_PREFIX}${person.email}`,
      ...(name
        ? { displayName: name, name: { formatted: name, givenName: words.slice(0, -1).join(' ') || name, familyName: words[words.length - 1] ?? name } }
        : {}),
      emails: [{ value: person.email, type: 'work', primary: true }],
      active: true,
    };
    try {
      const { body: created } = await this.request('POST', '/Users', `create SCIM user ${person.email}`, { body });
      return asResource(created, `create SCIM user ${person.email}`) as ScimUser;
    } catch (e) {
      // Created in between (409 uniqueness): use it.
      if (e instanceof IdentityBackendError && e.reason === 'Conflict') {
        const found = await this.findUser(person.email);
        if (found) return found;
      }
      throw e;
    }
  }

  private async setActive(user: ScimUser, active: boolean, caps: ScimCapabilities): Promise<void> {
    const what = `${active ? 'reactivate' : 'deactivate'} SCIM user ${user.userName ?? user.id}`;
    if (caps.patch) {
      await this.request('PATCH', `/Users/${encodeURIComponent(user.id)}`, what, {
        body: { schemas: [PATCH_SCHEMA], Operations: [{ op: 'replace', path: 'active', value: active }] },
      });
      return;
    }
    const { body, etag } = await this.request('GET', `/Users/${encodeURIComponent(user.id)}`, what);
    const full = asResource(body, what);
    const { meta: _meta, ...rest } = full;
    await this.request('PUT', `/Users/${encodeURIComponent(user.id)}`, what, { body: { ...rest, active }, ifMatch: caps.etag ? etag : undefined });
  }

  // --- groups ---

  private membersFilter(userId: string): string {
    return this.options.memberFilter === 'dotted' ? `members.value eq ${scimString(userId)}` : `members[value eq ${scimString(userId)}]`;
  }

  private async groupsOfUser(userId: string, what: string): Promise<ScimGroup[]> {
    return (await this.listAll('/Groups', this.membersFilter(userId), 'id,displayName,externalId', what)) as ScimGroup[];
  }

  /** The team's Roster groups the user is in (a complete read, or a throw). */
  private async heldGroups(userId: string, team: TeamRef, email: string): Promise<HeldGroup<{ id: string; name: string }>[]> {
    const groups = await this.groupsOfUser(userId, `read the SCIM groups of ${email} in team ${teamTag(team)}`);
    const held: HeldGroup<{ id: string; name: string }>[] = [];
    for (const g of groups) {
      const tag = g.externalId?.startsWith(SCIM_EXTERNAL_ID_PREFIX) ? g.externalId.slice(SCIM_EXTERNAL_ID_PREFIX.length) : undefined;
      if (tag && isTagOfTeam(tag, team)) held.push({ tag, ref: { id: g.id, name: g.displayName ?? g.id } });
    }
    return held;
  }

  /** The Roster group for `spec`, found by displayName; undefined when there is none. */
  private async findGroup(spec: GroupSpec): Promise<ScimGroup | undefined> {
    const name = groupName(spec, this.prefix);
    const found = (await this.listAll('/Groups', `displayName eq ${scimString(name)}`, 'id,displayName,externalId', `find SCIM group ${name}`)) as ScimGroup[];
    const exact = found.filter((g) => g.displayName === name);
    const ours = exact.filter((g) => g.externalId === `${SCIM_EXTERNAL_ID_PREFIX}${groupTag(spec)}`);
    if (ours.length > 1) throw new IdentityBackendError('AmbiguousGroup', `${ours.length} SCIM groups are named ${name}; keep one`, { retryable: false });
    if (ours.length === 0 && exact.length > 0) {
      throw new IdentityBackendError(
        'GroupNameTaken',
        `SCIM group ${name} exists but is not Roster's (externalId ${exact[0]!.externalId ?? 'unset'}); rename it, or set a different groupPrefix`,
        { retryable: false },
      );
    }
    return ours[0];
  }

  /** Creates the group with the user in it; false when it appeared meanwhile (the user was added to it instead). */
  private async createGroup(spec: GroupSpec, userId: string, caps: ScimCapabilities): Promise<boolean> {
    const name = groupName(spec, this.prefix);
    try {
      await this.request('POST', '/Groups', `create SCIM group ${name}`, {
        body: { schemas: [GROUP_SCHEMA], displayName: name, externalId: `${SCIM_EXTERNAL_ID_PREFIX}${groupTag(spec)}`, members: [{ value: userId }] },
      });
      return true;
    } catch (e) {
      if (!(e instanceof IdentityBackendError && e.reason === 'Conflict')) throw e;
    }
    const group = await this.findGroup(spec);
    if (!group) throw new IdentityBackendError('Conflict', `SCIM group ${name} could not be created (conflict) and is not there; retrying`);
    await this.changeMembers(group.id, [userId], [], caps, `add member to SCIM group ${name}`);
    return false;
  }

  /** Adds and removes member values: PATCH in batches (If-Match with ETags), or GET + PUT without PATCH support. */
  private async changeMembers(groupId: string, add: string[], remove: string[], caps: ScimCapabilities, what: string): Promise<void> {
    const path = `/Groups/${encodeURIComponent(groupId)}`;
    if (!caps.patch) {
      await this.withPreconditionRetry(async () => {
        const { body, etag } = await this.request('GET', path, what);
        const group = asResource(body, what) as ScimGroup;
        const members = (group.members ?? []).filter((m) => !remove.includes(m.value));
        for (const id of add) if (!members.some((m) => m.value === id)) members.push({ value: id });
        const { meta: _meta, ...rest } = group;
        await this.request('PUT', path, what, { body: { ...rest, members }, ifMatch: caps.etag ? etag : undefined });
      });
      return;
    }
    for (const patch of memberPatches(add, remove, this.options.batchSize ?? 50)) {
      await this.withPreconditionRetry(async () => {
        const ifMatch = caps.etag ? await this.versionOf(path, what) : undefined;
        await this.request('PATCH', path, what, { body: patch, ifMatch });
      });
    }
  }

  private async versionOf(path: string, what: string): Promise<string | undefined> {
    const { body, etag } = await this.request('GET', `${path}?attributes=id`, what);
    return etag ?? (body as ScimResource | undefined)?.meta?.version;
  }

  /** Runs `action` again (up to 3 times) when an If-Match precondition failed: someone changed the resource in between. */
  private async withPreconditionRetry(action: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await action();
      } catch (e) {
        if (!(e instanceof IdentityBackendError && e.reason === 'PreconditionFailed') || attempt >= 3) throw e;
      }
    }
  }

  // --- HTTP ---

  /** Every page of a filtered list, or a throw: a read that cannot be completed is never used. */
  private async listAll(resource: string, filter: string, attributes: string | undefined, what: string): Promise<ScimResource[]> {
    const pageSize = this.options.pageSize ?? 100;
    const byId = new Map<string, ScimResource>();
    let startIndex = 1;
    let received = 0;
    for (let pages = 0; pages < 10_000; pages++) {
      const query = new URLSearchParams({ filter, startIndex: String(startIndex), count: String(pageSize) });
      if (attributes) query.set('attributes', attributes);
      const { body } = await this.request('GET', `${resource}?${query.toString()}`, what);
      const { resources, total } = checkListPage(body, startIndex, received, what);
      received += resources.length;
      for (const r of resources) byId.set(r.id, r);
      if (received >= total) return [...byId.values()];
      startIndex += resources.length;
    }
    throw new IdentityBackendError('PartialRead', `could not ${what}: too many pages`);
  }

  private async request(method: string, path: string, what: string, options: { body?: unknown; ifMatch?: string | undefined } = {}): Promise<ScimResponse> {
    const cancel = this.call.getStore();
    throwIfCancelled(cancel, what); // nothing new goes out once the reconcile is cancelled
    const doFetch = this.options.fetch ?? fetch;
    const headers: Record<string, string> = { accept: 'application/scim+json, application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/scim+json';
    if (options.ifMatch) headers['if-match'] = options.ifMatch;
    let token: string;
    try {
      token = this.options.token();
    } catch (e) {
      throw new IdentityBackendError('CredentialsUnavailable', `could not ${what}: the SCIM token file cannot be read (${(e as Error).message})`, { cause: e });
    }
    headers.authorization = `Bearer ${token}`;
    const timeoutMs = this.options.timeoutMs ?? 10_000;
    let response: Response;
    let text: string;
    try {
      response = await doFetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        signal: cancel ? AbortSignal.any([AbortSignal.timeout(timeoutMs), cancel]) : AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (e) {
      if (cancel?.aborted) throw cancelledError(what, e);
      const name = (e as Error)?.name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new IdentityBackendError('Timeout', `could not ${what}: the SCIM provider ${this.baseUrl} did not answer within ${timeoutMs} ms`, { cause: e });
      }
      const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
      const detail = [cause?.code, cause?.message].filter(Boolean).join(': ') || (e as Error).message;
      throw new IdentityBackendError('Unreachable', `could not ${what}: the SCIM provider ${this.baseUrl} is unreachable (${detail})`, { cause: e });
    }
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        if (response.ok)
          throw new IdentityBackendError('InvalidResponse', `could not ${what}: the SCIM provider answered ${response.status} with a body that is not JSON`);
      }
    }
    if (!response.ok) throw httpError(response.status, body, what, this.baseUrl);
    return { status: response.status, body, etag: response.headers.get('etag') ?? undefined };
  }
}

function isRosterCreated(user: ScimUser): boolean {
  return typeof user.externalId === 'string' && user.externalId.startsWith(SCIM_EXTERNAL_ID_PREFIX);
}

function asResource(body: unknown, what: string): ScimResource {
  if (!body || typeof body !== 'object' || typeof (body as ScimResource).id !== 'string') {
    throw new IdentityBackendError('InvalidResponse', `could not ${what}: the SCIM provider's answer has no id`);
  }
  return body as ScimResource;
}

/** An HTTP error status as an IdentityBackendError (the SCIM error's detail included, never the token). */
export function httpError(status: number, body: unknown, what: string, baseUrl: string): IdentityBackendError {
  const detail =
    body && typeof body === 'object' && typeof (body as { detail?: unknown }).detail === 'string' ? `: ${(body as { detail: string }).detail}` : '';
  const scimType =
    body && typeof body === 'object' && typeof (body as { scimType?: unknown }).scimType === 'string' ? (body as { scimType: string }).scimType : undefined;
  const message = `could not ${what}: ${baseUrl} answered ${status}${detail}`;
  if (status === 401) return new IdentityBackendError('Unauthorized', `${message} (check the SCIM token file)`, { retryable: false });
  if (status === 403) return new IdentityBackendError('Forbidden', message, { retryable: false });
  if (status === 404) return new IdentityBackendError('NotFound', message, { retryable: true });
  if (status === 409 || scimType === 'uniqueness') return new IdentityBackendError('Conflict', message, { retryable: true });
  if (status === 412) return new IdentityBackendError('PreconditionFailed', message, { retryable: true });
  if (status === 429) return new IdentityBackendError('RateLimited', message, { retryable: true });
  if (status >= 500) return new IdentityBackendError('ServerError', message, { retryable: true });
  return new IdentityBackendError('Rejected', message, { retryable: false });
}
