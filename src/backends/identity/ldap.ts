// The `ldap` identity backend (ldapts): people are inetOrgPerson entries under `peopleDn`
// (created when the email is new, found by their `mail` attribute otherwise); access is
// membership of groupOfNames entries under `groupsDn`, one per team, role and scope (names
// and tags: groups.ts), e.g. `cn=roster_acme_acme_developer_shop_staging,ou=groups,…`.
//
// Roster's groups carry a marker in `businessCategory` (multi-valued, present in
// groupOfNames, indexed for equality on most servers):
//   businessCategory: roster.dev/managed
//   businessCategory: roster.dev/team=<ns>/<team>
//   businessCategory: roster.dev/group=<tag>
// Only groups with that marker are ever modified; groups are found by their marker, never by
// name alone, so a hand-made group that happens to have the same name is left alone (and
// reported as a conflict).
//
// groupOfNames needs at least one `member`: every Roster group keeps a placeholder member
// (default: the groups container itself, an entry that exists and is not a person) from the
// moment it is created, and groups are never deleted. Consumers should ignore members that
// are not people; an "empty" group is one whose only member is the placeholder. (Deleting a
// group when its last person leaves would race with a concurrent add from another member's
// reconcile.)
//
// Each ensure/remove opens its own connection, binds, and reads everything it needs before
// it writes anything: any failed, timed-out or partial read (size/time/admin limit, a
// referral we cannot follow) throws a retryable IdentityBackendError and removes nothing.
import {
  AlreadyExistsError,
  AndFilter,
  Attribute,
  Change,
  Client,
  EqualityFilter,
  InsufficientAccessError,
  InvalidCredentialsError,
  NoSuchAttributeError,
  NoSuchObjectError,
  ResultCodeError,
  TypeOrValueExistsError,
  type Entry,
  type Filter,
} from 'ldapts';
import { desiredGroups, groupName, groupTag, planMembership, teamTag, type GroupSpec, type HeldGroup } from './groups.ts';
import {
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

export const LDAP_MANAGED_MARKER = 'roster.dev/managed';
export const LDAP_TEAM_MARKER = 'roster.dev/team=';
export const LDAP_GROUP_MARKER = 'roster.dev/group=';

export interface LdapBackendOptions {
  name: string;
  /** ldap://host:port or ldaps://host:port. */
  url: string;
  bindDn: string;
  /** Returns the bind password (read from a mounted Secret). */
  bindPassword: () => string;
  peopleDn: string;
  groupsDn: string;
  /** RDN attribute of new people entries; its value is the email. Default `uid`. */
  userRdnAttribute?: string;
  /** Group name prefix (groups.ts). */
  groupPrefix?: string;
  /** The member every Roster group keeps so that it is never empty. Default: groupsDn. */
  placeholderMember?: string;
  /** Per-operation timeout. Default 10 s. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  /** Upgrade ldap:// connections with StartTLS. */
  startTls?: boolean;
  /** PEM CA bundle for ldaps:// and StartTLS. */
  ca?: string;
  /** Page size for searches (paged results control). Default 200. */
  pageSize?: number;
  /** When it returns true, remove() leaves the person's groups alone (they still hold another grant in the team). */
  holdsOtherGrant?: (team: TeamRef, key: string, person: Person) => boolean;
}

/** RFC 4514 escaping of an attribute value inside a DN. */
export function escapeDnValue(value: string): string {
  let out = value.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/\0/g, '\\00');
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ') && out.length > 1) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/** The person's sn: the last word of their name, else the email's local part. */
export function surnameOf(person: Person): string {
  const words = (person.name ?? '').trim().split(/\s+/).filter(Boolean);
  return words[words.length - 1] ?? person.email.split('@')[0] ?? person.email;
}

function values(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const raw = key === undefined ? undefined : entry[key];
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

function tagOf(entry: Entry): string | undefined {
  const marker = values(entry, 'businessCategory').find((v) => v.toLowerCase().startsWith(LDAP_GROUP_MARKER));
  return marker?.slice(LDAP_GROUP_MARKER.length).toLowerCase();
}

const eq = (attribute: string, value: string): Filter => new EqualityFilter({ attribute, value });

export class LdapIdentityBackend implements IdentityBackend {
  readonly type = 'ldap' as const;
  readonly name: string;
  private readonly options: LdapBackendOptions;

  constructor(options: LdapBackendOptions) {
    this.name = options.name;
    this.options = options;
  }

  private get prefix(): string | undefined {
    return this.options.groupPrefix;
  }

  private get placeholder(): string {
    return this.options.placeholderMember ?? this.options.groupsDn;
  }

  async ensure(grant: Grant, { signal }: CallOptions = {}): Promise<EnsureResult> {
    const email = grant.person.email;
    return await this.session(signal, async (c, step) => {
      const changes: string[] = [];
      let userDn = await step(`find the LDAP entry of ${email}`, () => this.findPerson(c, grant.person));
      if (!userDn) {
        userDn = await step(`create the LDAP entry of ${email}`, () => this.createPerson(c, grant.person));
        changes.push(`created LDAP entry ${userDn}`);
      }
      const dn = userDn;
      // Every read before any write: a read that fails throws here and nothing is removed.
      const teamGroups = await step(`read the LDAP groups of team ${teamTag(grant.team)}`, () => this.teamGroups(c, grant.team));
      const held = await step(`read the LDAP groups of ${email} in team ${teamTag(grant.team)}`, () => this.heldGroups(c, grant.team, dn));
      const plan = planMembership(grant.team, desiredGroups(grant), held);
      for (const spec of plan.add) {
        const existing = teamGroups.get(groupTag(spec));
        const name = groupName(spec, this.prefix);
        if (existing) {
          await step(`add ${email} to LDAP group ${name}`, () => this.addMember(c, existing, dn));
          changes.push(`added ${email} to LDAP group ${name}`);
        } else {
          const created = await step(`create LDAP group ${name}`, () => this.createGroup(c, spec, dn));
          changes.push(created ? `created LDAP group ${name} with ${email}` : `added ${email} to LDAP group ${name}`);
        }
      }
      for (const group of plan.remove) {
        await step(`remove ${email} from LDAP group ${group.ref}`, () => this.removeMember(c, group.ref, dn));
        changes.push(`removed ${email} from LDAP group ${cnOf(group.ref)}`);
      }
      return { subject: dn, changes };
    });
  }

  async remove(team: TeamRef, key: string, person: Person, { signal }: CallOptions = {}): Promise<string[]> {
    if (this.options.holdsOtherGrant?.(team, key, person)) return [];
    return await this.session(signal, async (c, step) => {
      const userDn = await step(`find the LDAP entry of ${person.email}`, () => this.findPerson(c, person));
      if (!userDn) return [];
      const held = await step(`read the LDAP groups of ${person.email} in team ${teamTag(team)}`, () => this.heldGroups(c, team, userDn));
      const changes: string[] = [];
      for (const group of planMembership(team, [], held).remove) {
        await step(`remove ${person.email} from LDAP group ${group.ref}`, () => this.removeMember(c, group.ref, userDn));
        changes.push(`removed ${person.email} from LDAP group ${cnOf(group.ref)}`);
      }
      return changes;
    });
  }

  /**
   * One connection per call: connect, bind, run, unbind. Errors become IdentityBackendErrors
   * naming the step. When `signal` aborts, the step in progress rejects at once, the connection
   * is closed (so an operation in flight goes no further on our side) and no step starts.
   */
  private async session<T>(
    signal: AbortSignal | undefined,
    run: (c: Client, step: <R>(what: string, action: () => Promise<R>) => Promise<R>) => Promise<T>,
  ): Promise<T> {
    throwIfCancelled(signal, `connect to LDAP server ${this.options.url}`);
    const client = new Client({
      url: this.options.url,
      timeout: this.options.timeoutMs ?? 10_000,
      connectTimeout: this.options.connectTimeoutMs ?? 5_000,
      strictDN: false,
      ...(this.options.ca ? { tlsOptions: { ca: this.options.ca } } : {}),
    });
    const step = async <R>(what: string, action: () => Promise<R>): Promise<R> => {
      try {
        throwIfCancelled(signal, what);
        return await unlessCancelled(action(), signal, what);
      } catch (e) {
        throw e instanceof IdentityBackendError ? e : toBackendError(e, what, this.options.url);
      }
    };
    const hangUp = () => void client.unbind().catch(() => undefined);
    signal?.addEventListener('abort', hangUp, { once: true });
    try {
      await step(`connect to LDAP server ${this.options.url}`, async () => {
        if (this.options.startTls) await client.startTLS(this.options.ca ? { ca: this.options.ca } : {});
        await client.bind(this.options.bindDn, this.options.bindPassword());
      });
      return await run(client, step);
    } finally {
      signal?.removeEventListener('abort', hangUp);
      await client.unbind().catch(() => undefined);
    }
  }

  /** A complete search (paged), or a throw: referrals and limits make a read partial. */
  private async searchAll(c: Client, base: string, filter: Filter, attributes: string[], scope: 'one' | 'sub'): Promise<Entry[]> {
    const result = await c.search(base, { scope, filter, attributes, paged: { pageSize: this.options.pageSize ?? 200 } });
    if (result.searchReferences.length) {
      throw new IdentityBackendError(
        'PartialRead',
        `LDAP search under ${base} returned referrals (${result.searchReferences.length}); not acting on a partial result`,
      );
    }
    return result.searchEntries;
  }

  private async findPerson(c: Client, person: Person): Promise<string | undefined> {
    const entries = await this.searchAll(
      c,
      this.options.peopleDn,
      new AndFilter({ filters: [eq('objectClass', 'inetOrgPerson'), eq('mail', person.email)] }),
      ['mail'],
      'sub',
    );
    if (entries.length > 1) {
      throw new IdentityBackendError(
        'AmbiguousPerson',
        `${entries.length} LDAP entries under ${this.options.peopleDn} have mail ${person.email}: ${entries.map((e) => e.dn).join('; ')}; keep one`,
        { retryable: false },
      );
    }
    return entries[0]?.dn;
  }

  private async createPerson(c: Client, person: Person): Promise<string> {
    const rdn = this.options.userRdnAttribute ?? 'uid';
    const dn = `${rdn}=${escapeDnValue(person.email)},${this.options.peopleDn}`;
    const name = person.name?.trim() || person.email;
    const attributes: Record<string, string[] | string> = {
      objectClass: ['top', 'person', 'organizationalPerson', 'inetOrgPerson'],
      cn: name,
      sn: surnameOf(person),
      mail: person.email,
      displayName: name,
    };
    if (rdn.toLowerCase() !== 'mail' && rdn.toLowerCase() !== 'cn') attributes[rdn] = person.email;
    try {
      await c.add(dn, attributes);
    } catch (e) {
      // Someone (another reconcile) created it in between: use it if it is the same person.
      if (e instanceof AlreadyExistsError) {
        const found = await this.findPerson(c, person);
        if (found) return found;
      }
      throw e;
    }
    // The server's spelling of the DN (it normalizes escapes), so the subject stays stable.
    return (await this.findPerson(c, person)) ?? dn;
  }

  /** The team's Roster groups, by tag. */
  private async teamGroups(c: Client, team: TeamRef): Promise<Map<string, string>> {
    const entries = await this.searchAll(
      c,
      this.options.groupsDn,
      new AndFilter({ filters: [eq('objectClass', 'groupOfNames'), eq('businessCategory', LDAP_TEAM_MARKER + teamTag(team))] }),
      ['businessCategory'],
      'sub',
    );
    const byTag = new Map<string, string>();
    for (const entry of entries) {
      const tag = tagOf(entry);
      if (tag) byTag.set(tag, entry.dn);
    }
    return byTag;
  }

  /** The team's Roster groups the person is a member of. */
  private async heldGroups(c: Client, team: TeamRef, userDn: string): Promise<HeldGroup<string>[]> {
    const entries = await this.searchAll(
      c,
      this.options.groupsDn,
      new AndFilter({
        filters: [eq('objectClass', 'groupOfNames'), eq('businessCategory', LDAP_TEAM_MARKER + teamTag(team)), eq('member', userDn)],
      }),
      ['businessCategory'],
      'sub',
    );
    const held: HeldGroup<string>[] = [];
    for (const entry of entries) {
      const tag = tagOf(entry);
      if (tag && values(entry, 'businessCategory').includes(LDAP_MANAGED_MARKER)) held.push({ tag, ref: entry.dn });
    }
    return held;
  }

  /** Creates the group with the person in it; false when it appeared meanwhile (the person was added to it instead). */
  private async createGroup(c: Client, spec: GroupSpec, userDn: string): Promise<boolean> {
    const name = groupName(spec, this.prefix);
    const dn = `cn=${escapeDnValue(name)},${this.options.groupsDn}`;
    const tag = groupTag(spec);
    try {
      await c.add(dn, {
        objectClass: ['top', 'groupOfNames'],
        cn: name,
        businessCategory: [LDAP_MANAGED_MARKER, LDAP_TEAM_MARKER + teamTag(spec.team), LDAP_GROUP_MARKER + tag],
        description: `Managed by Roster (team ${teamTag(spec.team)}${spec.role ? `, role ${spec.role}` : ''}${spec.scope ? `, ${spec.scope.project}/${spec.scope.environment}` : ''}); changes made by hand are reverted.`,
        member: [this.placeholder, userDn],
      });
      return true;
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e;
    }
    // The name is taken: ours (created concurrently) or someone else's.
    const existing = await this.searchAll(c, dn, eq('objectClass', 'groupOfNames'), ['businessCategory'], 'sub').catch((e: unknown) => {
      if (e instanceof NoSuchObjectError) return [];
      throw e;
    });
    const entry = existing[0];
    if (!entry || tagOf(entry) !== tag.toLowerCase()) {
      throw new IdentityBackendError(
        'GroupNameTaken',
        `LDAP entry ${dn} exists but is not Roster's group for ${tag}; rename or remove it, or set a different groupPrefix`,
        { retryable: false },
      );
    }
    await this.addMember(c, entry.dn, userDn);
    return false;
  }

  private async addMember(c: Client, groupDn: string, userDn: string): Promise<void> {
    try {
      await c.modify(groupDn, new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [userDn] }) }));
    } catch (e) {
      if (!(e instanceof TypeOrValueExistsError)) throw e; // already a member: fine
    }
  }

  private async removeMember(c: Client, groupDn: string, userDn: string): Promise<void> {
    try {
      await c.modify(groupDn, new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [userDn] }) }));
    } catch (e) {
      if (!(e instanceof NoSuchAttributeError || e instanceof NoSuchObjectError)) throw e; // already gone: fine
    }
  }
}

function cnOf(dn: string): string {
  const match = /^cn=((?:\\.|[^,])*)/i.exec(dn);
  return match ? match[1]!.replace(/\\(.)/g, '$1') : dn;
}

/** LDAP result codes and socket failures as IdentityBackendErrors with a reason a person can act on. */
export function toBackendError(e: unknown, what: string, url: string): IdentityBackendError {
  const detail = e instanceof Error ? e.message.split('\n')[0] : String(e);
  const message = `could not ${what}: ${detail}`;
  if (e instanceof InvalidCredentialsError)
    return new IdentityBackendError('InvalidCredentials', `${message} (check bindDn and the bind password file)`, { retryable: false, cause: e });
  if (e instanceof InsufficientAccessError)
    return new IdentityBackendError('Forbidden', `${message} (the bind DN lacks the rights)`, { retryable: false, cause: e });
  if (e instanceof ResultCodeError) {
    // 3 timeLimit, 4 sizeLimit, 11 adminLimit, 10 referral: the read is incomplete.
    if ([3, 4, 10, 11].includes(e.code))
      return new IdentityBackendError('PartialRead', `${message} (incomplete result; nothing was removed)`, { retryable: true, cause: e });
    // 51 busy, 52 unavailable, 80 other: the server's trouble.
    const retryable = [51, 52, 53, 80].includes(e.code);
    return new IdentityBackendError(retryable ? 'Unavailable' : 'LdapError', `${message} (LDAP result ${e.code})`, { retryable, cause: e });
  }
  if (/timed? ?out|timeout/i.test(detail ?? '')) return new IdentityBackendError('Timeout', `${message} (${url})`, { retryable: true, cause: e });
  return new IdentityBackendError('Unreachable', `${message} (${url})`, { retryable: true, cause: e });
}
