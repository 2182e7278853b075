// The admission logic behind the HTTPS endpoints: decode, pick the validator for the kind,
// give it a view of the team from the shared caches, make a seat decision hold with a
// reservation, and answer with a message a person can act on. Never throws: whatever
// goes wrong becomes a denial that says so (the webhook fails closed).
import { isDeepStrictEqual } from 'node:util';
import type { AccessKey, Invitation, Membership, Project, Team } from '../api/generated.ts';
import { FINALIZER, resources } from '../api/resources.ts';
import { index, keyOfTeam, teamEmailKey } from '../api/indexes.ts';
import { normalizeEmail } from '../domain/email.ts';
import type { KubeClient, KubeObject } from '../runtime/kube-client.ts';
import type { Logger } from '../runtime/logger.ts';
import { actorPatch, DELETED_BY } from '../audit/actor.ts';
import { noteWithActor, type Recorder } from '../audit/record.ts';
import { resendCooldownProblem, type MailPolicy } from './mail-rules.ts';
import { ownerPatch, validateAccessKey, type AccessKeyPolicy } from './access-key-rules.ts';
import type { NamespaceFacts, TenancyPolicy } from '../tenancy/namespaces.ts';
import { allow, decodeReview, deny, type AdmissionRequest, type AdmissionReviewResponse, type Decoded, type JsonPatchOperation } from './review.ts';
import type { SeatClaim, SeatDecision, SeatReservation, TeamObjects } from '../seats/decision.ts';
import type { ReserveOptions } from '../seats/ledger.ts';
import type { SeatHolderIndex } from '../seats/seat-index.ts';
import {
  validateInvitation,
  validateMembership,
  validateProject,
  validateTeam,
  type AdmissionView,
  type Change,
  type RuleContext,
  type Verdict,
} from './validators.ts';

/** The parts of an Informer the webhook reads. */
export interface CacheReader<T> {
  get(namespace: string | undefined, name: string): T | undefined;
  byIndex(index: string, value: string): T[];
  hasSynced(): boolean;
  waitForSync(): Promise<void>;
}

export interface AdmissionCaches {
  teams: CacheReader<Team>;
  memberships: CacheReader<Membership>;
  invitations: CacheReader<Invitation>;
  projects: CacheReader<Project>;
  /** Every namespace, for the tenancy rule (labels assign namespaces to teams). */
  namespaces?: CacheReader<KubeObject>;
}

/** The seat ledger as the handler uses it (SeatLedger; a fake in unit tests). */
export interface SeatReserver {
  reserve(claim: SeatClaim, options: ReserveOptions): Promise<SeatDecision>;
  live(objects: TeamObjects): Promise<SeatReservation[]>;
  /** live() and the seats the ledger's blocks hold (SeatLedger); without it, no blocks are counted. */
  liveSeats?(objects: TeamObjects): Promise<{ reservations: SeatReservation[]; held: number }>;
}

export interface AdmissionHandlerOptions {
  caches: AdmissionCaches;
  /** Each team's seat holders kept from the caches' events (without it, the team is walked per claim). */
  seats?: SeatHolderIndex;
  /** Live reads when the caches have not caught up (a Team applied a moment ago). */
  client?: Pick<KubeClient, 'find' | 'list' | 'patch'>;
  ledger: SeatReserver;
  logger: Logger;
  now?: () => Date;
  /** The operator's own user name (only it may create owner invitations). */
  operatorUsername?: () => Promise<string | undefined>;
  /** How long a request waits for the caches to sync after a start. */
  syncWaitMs?: number;
  /** The operator's mail settings (sender allow-list, resend cooldown); without them those rules are off. */
  mail?: MailPolicy;
  /** Which namespaces a team may reach (SPEC §7). */
  tenancy?: TenancyPolicy;
  /** Events for deletions nothing else records (standalone Invitations, Projects). */
  events?: Recorder;
  /** Access keys (SPEC §9); without it, keys are refused. */
  accessKeys?: AccessKeyPolicy;
}

type RosterKind = 'Team' | 'Membership' | 'Invitation' | 'Project' | 'AccessKey';
const ROSTER_KINDS: readonly string[] = ['Team', 'Membership', 'Invitation', 'Project', 'AccessKey'];
const ENTITY: Record<RosterKind, string> = { Team: 'team', Membership: 'member', Invitation: 'invitation', Project: 'project', AccessKey: 'key' };
/** The person an object is about: a Team's owner, a key's owner, a member's email. */
const subjectOf = (kind: RosterKind, spec: Record<string, unknown>): unknown =>
  kind === 'Team' ? (isRecord(spec.owner) ? spec.owner.email : undefined) : kind === 'AccessKey' ? spec.owner : spec.email;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Whether the request is one of ours: a roster.dev kind, create or update of the object itself. */
function rosterKind(request: AdmissionRequest): RosterKind | undefined {
  if (request.kind.group !== 'roster.dev' || !ROSTER_KINDS.includes(request.kind.kind)) return undefined;
  if (request.subResource) return undefined;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return undefined;
  return request.kind.kind as RosterKind;
}

export class AdmissionHandler {
  private readonly options: AdmissionHandlerOptions;
  private readonly audit: Logger;
  private readonly now: () => Date;

  constructor(options: AdmissionHandlerOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
    this.audit = options.logger.child({ stream: 'audit' });
  }

  /** POST /validate: a body in, an AdmissionReview (or an HTTP 400 reason) out. */
  async validateBody(body: string, deadline: number): Promise<AdmissionReviewResponse | { malformed: string }> {
    return await this.answer(decodeReview(body), (request) => this.validate(request, deadline));
  }

  /** POST /mutate. */
  async mutateBody(body: string): Promise<AdmissionReviewResponse | { malformed: string }> {
    return await this.answer(decodeReview(body), async (request) => this.mutate(request));
  }

  private async answer(
    decoded: Decoded,
    run: (r: AdmissionRequest) => Promise<AdmissionReviewResponse>,
  ): Promise<AdmissionReviewResponse | { malformed: string }> {
    if (decoded.kind === 'malformed') return { malformed: decoded.message };
    if (decoded.kind === 'invalid') return deny(decoded.uid, decoded.message, { code: 400 });
    try {
      return await run(decoded.request);
    } catch (e) {
      this.options.logger.error({ err: message(e), uid: decoded.request.uid }, 'admission failed');
      return deny(decoded.request.uid, `the roster webhook could not decide: ${message(e)}; retry in a moment`, { code: 500 });
    }
  }

  async mutate(request: AdmissionRequest): Promise<AdmissionReviewResponse> {
    if (!rosterKind(request)) return allow(request.uid);
    // Only the operator may write deleted-by (its deletion hook below); ask who it is only then.
    const annotations =
      isRecord(request.object) && isRecord(request.object.metadata) && isRecord(request.object.metadata.annotations) ? request.object.metadata.annotations : {};
    const isOperator = DELETED_BY in annotations && request.userInfo.username === (await this.operatorUsernameOrUndefined());
    const patch = actorPatch(request.operation as 'CREATE' | 'UPDATE', request.object, request.oldObject, request.userInfo.username, isOperator);
    if (request.kind.kind === 'AccessKey') patch.push(...(await this.keyOwnerPatch(request)));
    // The finalizer the controllers would add with a PATCH right after: one write fewer per object (issue 14).
    if (request.operation === 'CREATE' && (request.kind.kind === 'Membership' || request.kind.kind === 'Team')) patch.push(...finalizerPatch(request.object));
    return allow(request.uid, { patch });
  }

  /** An AccessKey's owner is whoever creates it (SPEC §9). */
  private async keyOwnerPatch(request: AdmissionRequest) {
    const spec = isRecord(request.object) && isRecord(request.object.spec) ? request.object.spec : {};
    const named = typeof spec.team === 'string' && request.namespace ? { namespace: request.namespace, name: spec.team } : undefined;
    let team = named ? this.options.caches.teams.get(named.namespace, named.name) : undefined;
    // A Team applied a moment ago may not be in the cache yet.
    if (!team && named && request.operation === 'CREATE' && this.options.client)
      team = await this.options.client.find<Team>(resources.team, named.namespace, named.name);
    const operation = request.operation as 'CREATE' | 'UPDATE';
    return ownerPatch(operation, request.object, request.oldObject, request.userInfo.username, team, this.options.accessKeys);
  }

  private async operatorUsernameOrUndefined(): Promise<string | undefined> {
    try {
      return await this.options.operatorUsername?.();
    } catch (e) {
      this.options.logger.warn({ err: message(e) }, "could not learn the operator's own user name");
      return undefined;
    }
  }

  /**
   * DELETE of a roster object (the deletions webhook, which fails open): an audit line naming
   * who deleted it and, while our finalizer holds the object, a deleted-by annotation, so the
   * controller's Events about the removal name that person too. Always allowed.
   */
  private recordDeletion(request: AdmissionRequest): AdmissionReviewResponse {
    const old = isRecord(request.oldObject) ? request.oldObject : undefined;
    const metadata = old && isRecord(old.metadata) ? old.metadata : {};
    if (request.dryRun || !old || metadata.deletionTimestamp !== undefined) return allow(request.uid);
    const kind = request.kind.kind as RosterKind;
    const spec = isRecord(old.spec) ? old.spec : {};
    const team = kind === 'Team' ? String(metadata.name ?? request.name ?? '') : String(spec.team ?? '');
    const subject = subjectOf(kind, spec);
    const actor = request.userInfo.username;
    const finalizers = Array.isArray(metadata.finalizers) ? metadata.finalizers : [];
    const owners = Array.isArray(metadata.ownerReferences)
      ? metadata.ownerReferences.filter((r) => isRecord(r) && typeof r.apiVersion === 'string' && r.apiVersion.startsWith('roster.dev/'))
      : [];
    // A finalizer means the controller records the removal itself (naming this actor, from the
    // annotation below); an object owned by another roster object goes with its owner.
    if (finalizers.length > 0 || owners.length > 0) {
      this.annotateDeletion(request, kind, metadata, actor, finalizers.length > 0);
      return allow(request.uid);
    }
    const note = `${kind} ${String(metadata.name ?? request.name ?? '')}${subject ? ` for ${String(subject)}` : ''} deleted`;
    this.options.events?.record(old as unknown as KubeObject, 'Normal', 'Deleted', 'Delete', noteWithActor(note, actor));
    this.audit.info(
      {
        action: 'delete',
        entity: ENTITY[kind],
        kind,
        team,
        namespace: request.namespace,
        name: metadata.name ?? request.name,
        uid: metadata.uid,
        requestUid: request.uid,
        subject,
        ...(kind === 'Membership' || kind === 'Invitation' ? { roleBefore: spec.role } : {}),
        actor,
      },
      `${kind} ${String(metadata.name ?? request.name ?? '')} deleted by ${actor}`,
    );
    return allow(request.uid);
  }

  private annotateDeletion(request: AdmissionRequest, kind: RosterKind, metadata: Record<string, unknown>, actor: string, heldByFinalizer: boolean): void {
    const client = this.options.client;
    if (client && heldByFinalizer && request.namespace && typeof metadata.name === 'string') {
      const ref = {
        Team: resources.team,
        Membership: resources.membership,
        Invitation: resources.invitation,
        Project: resources.project,
        AccessKey: resources.accessKey,
      }[kind];
      // After we answer: the API server marks the object deleted, our finalizer keeps it.
      setTimeout(() => {
        client
          .patch(ref, request.namespace, metadata.name as string, 'merge', { metadata: { annotations: { [DELETED_BY]: actor } } })
          .catch((e: unknown) => this.options.logger.debug({ err: message(e), kind, name: metadata.name }, 'could not record who deleted it'));
      }, 0);
    }
  }

  async validate(request: AdmissionRequest, deadline: number): Promise<AdmissionReviewResponse> {
    if (request.operation === 'DELETE' && request.kind.group === 'roster.dev' && ROSTER_KINDS.includes(request.kind.kind) && !request.subResource)
      return this.recordDeletion(request);
    const kind = rosterKind(request);
    if (!kind) return allow(request.uid);
    if (!isRecord(request.object)) return deny(request.uid, `malformed admission request: no ${kind} object to check`, { code: 400 });
    if (request.operation === 'UPDATE' && !isRecord(request.oldObject))
      return deny(request.uid, `malformed admission request: an update without the old ${kind}`, { code: 400 });

    // An update that leaves the spec as it was (finalizers, labels, annotations) cannot break a
    // rule about the spec, and an object on its way out must always be able to drop its
    // finalizers: denying those would leave a deleted Team's Memberships, and with them
    // their namespace, stuck in Terminating.
    if (request.operation === 'UPDATE' && isRecord(request.oldObject)) {
      const leaving = isRecord(request.oldObject.metadata) && request.oldObject.metadata.deletionTimestamp !== undefined;
      // A resend changes an annotation, not the spec: its cooldown is checked before the shortcut.
      const tooSoon =
        !leaving && kind === 'Invitation' && this.options.mail
          ? resendCooldownProblem(request.object, request.oldObject, this.now(), this.options.mail.resendCooldownSeconds)
          : undefined;
      if (tooSoon) return deny(request.uid, tooSoon);
      if (leaving || isDeepStrictEqual(request.object.spec, request.oldObject.spec)) return allow(request.uid);
    }

    const synced = await this.cachesSynced(deadline);
    if (!synced) return deny(request.uid, 'the roster webhook is starting and its caches are not synced yet; retry in a few seconds', { code: 500 });

    const object = withNamespace(request.object, request.namespace);
    const oldObject = request.oldObject === undefined ? undefined : withNamespace(request.oldObject, request.namespace);
    const namespace = request.namespace ?? (object.metadata as { namespace?: string } | undefined)?.namespace ?? '';
    const teamName =
      kind === 'Team'
        ? String((object.metadata as { name?: unknown } | undefined)?.name ?? request.name ?? '')
        : String((isRecord(object.spec) ? object.spec.team : '') ?? '');
    const view = await this.view(kind, namespace, teamName, object);
    const change: Change<never> = {
      operation: request.operation as 'CREATE' | 'UPDATE',
      object: object as never,
      oldObject: oldObject as never,
      user: { username: request.userInfo.username, groups: request.userInfo.groups },
      requestUid: request.uid,
    };
    const ctx: RuleContext = {
      now: this.now(),
      operatorUsername: await this.operatorUsernameIfNeeded(kind, object),
      ...(this.options.tenancy ? { tenancy: this.options.tenancy } : {}),
      ...(this.options.mail ? { mail: this.options.mail } : {}),
    };

    let verdict: Verdict;
    switch (kind) {
      case 'Team':
        verdict = validateTeam(change, view.team ? { ...view, ...(await this.liveReservations(view, change)) } : view, ctx);
        break;
      case 'Membership':
        verdict = validateMembership(change, view, ctx);
        break;
      case 'Invitation':
        verdict = validateInvitation(change, view, ctx);
        break;
      case 'Project':
        verdict = validateProject(change, view, ctx);
        break;
      case 'AccessKey':
        verdict = validateAccessKey(change as Change<AccessKey>, view, ctx, this.options.accessKeys);
        break;
    }
    if (!verdict.allowed) return deny(request.uid, verdict.message);

    if (verdict.seat && view.team) {
      const team = view.team;
      const key = keyOfTeam(team);
      const decision = await this.options.ledger.reserve(verdict.seat, {
        dryRun: request.dryRun,
        deadline,
        team,
        snapshot: () =>
          this.options.seats?.holders(team, this.now()) ?? {
            team,
            memberships: this.options.caches.memberships.byIndex(index.byTeam, key),
            invitations: this.options.caches.invitations.byIndex(index.byTeam, key),
          },
      });
      if (decision.kind === 'deny') return deny(request.uid, decision.message);
    }
    // Updates that leave the spec alone were admitted above, so this is a create or a spec
    // edit: a team change for the audit stream (finalizers and labels are not).
    if (!request.dryRun) this.auditAdmission(kind, request, object, oldObject, teamName);
    return allow(request.uid, { warnings: verdict.warnings });
  }

  private async cachesSynced(deadline: number): Promise<boolean> {
    const caches = Object.values(this.options.caches) as CacheReader<unknown>[];
    if (caches.every((c) => c.hasSynced())) return true;
    const wait = Math.max(0, Math.min(this.options.syncWaitMs ?? 2_000, deadline - Date.now()));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), wait)));
    const synced = Promise.all(caches.map((c) => c.waitForSync())).then(() => true as const);
    const result = await Promise.race([synced, timeout]);
    clearTimeout(timer);
    return result;
  }

  private async operatorUsernameIfNeeded(kind: RosterKind, object: Record<string, unknown>): Promise<string | undefined> {
    if (kind !== 'Invitation' || !isRecord(object.spec)) return undefined;
    // Owner invitations, and revoking an invitation the operator keeps for a Membership or Team.
    const owned =
      isRecord(object.metadata) &&
      Array.isArray(object.metadata.ownerReferences) &&
      object.metadata.ownerReferences.some((r) => isRecord(r) && (r.kind === 'Membership' || r.kind === 'Team'));
    if (object.spec.role !== 'owner' && !(object.spec.revoked === true && owned)) return undefined;
    try {
      return await this.options.operatorUsername?.();
    } catch (e) {
      this.options.logger.warn({ err: message(e) }, "could not learn the operator's own user name");
      return undefined;
    }
  }

  private async liveReservations(view: AdmissionView, change: Change<never>): Promise<Pick<AdmissionView, 'reservations' | 'heldSeats'>> {
    const team = change.object as Team;
    const old = change.oldObject as Team | undefined;
    // Only lowering spec.seats reads the ledger.
    if (!old || !isRecord(team.spec) || !isRecord(old.spec) || !(team.spec.seats < old.spec.seats)) return { reservations: [] };
    const objects = { team, memberships: view.memberships, invitations: view.invitations };
    const { ledger } = this.options;
    if (!ledger.liveSeats) return { reservations: await ledger.live(objects) };
    const { reservations, held } = await ledger.liveSeats(objects);
    return { reservations, heldSeats: held };
  }

  /** The team, its members, invitations and projects: from the caches, live where the caches lag. */
  private async view(kind: RosterKind, namespace: string, teamName: string, object: Record<string, unknown>): Promise<AdmissionView> {
    const { caches, client } = this.options;
    const key = `${namespace}/${teamName}`;
    let team: Team | undefined = kind === 'Team' ? (object as unknown as Team) : caches.teams.get(namespace, teamName);
    if (!team && client && teamName) team = await client.find<Team>(resources.team, namespace, teamName);
    // The team's objects, listed only if a rule asks for them: a Membership's create reads the
    // indexes below instead, so its cost does not grow with the team.
    let memberships: Membership[] | undefined;
    let invitations: Invitation[] | undefined;
    const listMemberships = () => (memberships ??= [...caches.memberships.byIndex(index.byTeam, key)]);
    let projects = caches.projects.byIndex(index.byTeam, key);
    const spec = isRecord(object.spec) ? object.spec : {};
    const named = Array.isArray(spec.projects)
      ? spec.projects
          .filter(isRecord)
          .map((p) => p.name)
          .filter((n): n is string => typeof n === 'string')
      : [];
    if (client && named.some((n) => !projects.some((p) => p.metadata.name === n))) {
      const listed = await client.list<Project>(resources.project, namespace);
      projects = listed.items.filter((p) => p.spec?.team === teamName);
    }
    // An operator's invitation for a Membership created a moment ago.
    const membershipRef = ((object.metadata as KubeObject['metadata'] | undefined)?.ownerReferences ?? []).find((r) => r.kind === 'Membership');
    if (client && membershipRef && caches.memberships.get(namespace, membershipRef.name)?.spec.team !== teamName) {
      const live = await client.find<Membership>(resources.membership, namespace, membershipRef.name);
      if (live) listMemberships().push(live);
    }
    const tenancy =
      kind === 'Project'
        ? { namespaces: await this.namespaceFacts(spec.environments) }
        : kind === 'AccessKey'
          ? { namespaces: await this.namespaceFacts(projects.flatMap((p) => p.spec.environments)) }
          : kind === 'Team'
            ? { teamsInNamespace: await this.teamsIn(namespace) }
            : {};
    // The seat holders the index keeps, for the seat check of a new Membership or Invitation (a Team's own check walks: its spec may change the owner).
    const seatHolders = team && kind !== 'Team' ? this.options.seats?.holders(team, this.now()) : undefined;
    const membershipsOf = (email: string) => caches.memberships.byIndex(index.byTeamEmail, teamEmailKey(namespace, teamName, normalizeEmail(email)));
    return {
      ...(team ? { team } : {}),
      get memberships() {
        return listMemberships();
      },
      get invitations() {
        return (invitations ??= caches.invitations.byIndex(index.byTeam, key));
      },
      projects,
      reservations: [],
      ...(seatHolders ? { seatHolders } : {}),
      membershipsOf,
      ...tenancy,
    };
  }

  /** What is known of each environment namespace: the cache, or a live read where the cache lags (a namespace applied a moment ago). */
  private async namespaceFacts(environments: unknown): Promise<Map<string, NamespaceFacts>> {
    const { caches, client } = this.options;
    const names = new Set(
      (Array.isArray(environments) ? environments : [])
        .filter(isRecord)
        .map((e) => e.namespace)
        .filter((n): n is string => typeof n === 'string'),
    );
    const facts = new Map<string, NamespaceFacts>();
    for (const name of names) {
      let ns = caches.namespaces?.get(undefined, name);
      if (!ns && client) ns = await client.find<KubeObject>(resources.namespace, undefined, name);
      facts.set(name, { labels: ns ? (ns.metadata.labels ?? {}) : undefined, holdsTeam: (await this.teamsIn(name)).length > 0 });
    }
    return facts;
  }

  /** Teams in a namespace: the cache, and a live list (two Teams applied in one sync). */
  private async teamsIn(namespace: string): Promise<Team[]> {
    const { caches, client } = this.options;
    const cached = caches.teams.byIndex(index.byNamespace, namespace);
    if (cached.length || !client) return cached;
    return (await client.list<Team>(resources.team, namespace)).items;
  }

  private auditAdmission(
    kind: RosterKind,
    request: AdmissionRequest,
    object: Record<string, unknown>,
    oldObject: Record<string, unknown> | undefined,
    team: string,
  ): void {
    const spec = isRecord(object.spec) ? object.spec : {};
    const oldSpec = oldObject && isRecord(oldObject.spec) ? oldObject.spec : undefined;
    const metadata = isRecord(object.metadata) ? object.metadata : {};
    const subject = subjectOf(kind, spec);
    this.audit.info(
      {
        action: request.operation === 'CREATE' ? 'create' : 'update',
        entity: ENTITY[kind],
        kind,
        team,
        namespace: request.namespace,
        name: metadata.name ?? request.name,
        uid: metadata.uid,
        requestUid: request.uid,
        subject,
        ...(kind === 'Membership' || kind === 'Invitation' || kind === 'AccessKey' ? { roleBefore: oldSpec?.role, roleAfter: spec.role } : {}),
        ...(kind === 'Team' && oldSpec && oldSpec.seats !== spec.seats ? { detail: `seats ${String(oldSpec.seats)} -> ${String(spec.seats)}` } : {}),
        actor: request.userInfo.username,
      },
      `${kind} ${String(metadata.name ?? request.name ?? '')} ${request.operation === 'CREATE' ? 'created' : 'changed'} by ${request.userInfo.username}`,
    );
  }
}

/**
 * A new Membership gets the controller's finalizer at admission, which saves the controller
 * a write (a PATCH) per Membership. The controller still adds it where it is missing (the
 * mutating webhook off, or skipped under failurePolicy Ignore).
 */
function finalizerPatch(object: unknown): JsonPatchOperation[] {
  if (!isRecord(object) || !isRecord(object.metadata)) return [];
  const finalizers = object.metadata.finalizers;
  if (finalizers === undefined) return [{ op: 'add', path: '/metadata/finalizers', value: [FINALIZER] }];
  if (!Array.isArray(finalizers) || finalizers.includes(FINALIZER)) return [];
  return [{ op: 'add', path: '/metadata/finalizers/-', value: FINALIZER }];
}

/** The object with its namespace filled in from the request (a create may leave it out). */
function withNamespace(object: unknown, namespace: string | undefined): Record<string, unknown> {
  if (!isRecord(object)) return {};
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  return { ...object, metadata: { ...metadata, namespace: metadata.namespace ?? namespace } };
}
