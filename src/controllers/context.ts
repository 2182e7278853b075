// What every controller gets: the client, the caches, the backends, the clock, Events and
// the audit stream. Built once by src/operator.ts.
import type { Logger } from 'pino';
import type { AccessKey, Invitation, Membership, Project, Team } from '../api/generated.ts';
import type { KeyBackend } from '../domain/access-keys.ts';
import type { NamespaceClusterRoles } from '../domain/role-bindings.ts';
import type { IdentityBackend } from '../backends/identity/types.ts';
import type { RoleBinding } from '../backends/identity/kubernetes.ts';
import type { MailBackend } from '../backends/mail/types.ts';
import type { CompiledInvitationTemplates } from '../backends/mail/templates.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeClient, KubeObject } from '../runtime/kube-client.ts';
import type { AuditEntry, Recorder } from '../audit/record.ts';
import type { RosterMetrics } from '../metrics.ts';
import type { TenancyView } from '../tenancy/view.ts';
import type { BrakePolicy } from '../domain/removal-brake.ts';
import type { ConfigMap } from '../seats/ledger.ts';
import type { SeatIndex } from '../seats/seat-index.ts';
import type { TeamMailTimes } from './team-mails.ts';

export interface Caches {
  teams: Informer<Team>;
  memberships: Informer<Membership>;
  invitations: Informer<Invitation>;
  projects: Informer<Project>;
  roleBindings: Informer<RoleBinding>;
  /** Every namespace (their labels assign them to teams: src/tenancy). */
  namespaces: Informer<KubeObject>;
  accessKeys: Informer<AccessKey>;
  /** ServiceAccounts and Roles the operator made for access keys (labelled roster.dev/access-key). */
  serviceAccounts: Informer<KubeObject>;
  roles: Informer<KubeObject>;
  /** The seat ledgers (src/seats/ledger.ts), so team reconciles read them without a GET. */
  seatLedgers: Informer<ConfigMap>;
}

export type { AuditEntry, Recorder } from '../audit/record.ts';

export interface OperatorContext {
  client: KubeClient;
  caches: Caches;
  logger: Logger;
  audit: (entry: AuditEntry) => void;
  events: Recorder;
  metrics: RosterMetrics;
  mail: MailBackend;
  mailFrom: string;
  /** mail.resendCooldownSeconds and mail.dailyQuotaPerTeam (0 = none), SPEC §7. */
  mailLimits: { resendCooldownSeconds: number; dailyQuotaPerTeam: number };
  templates: CompiledInvitationTemplates;
  identity: (name: string) => IdentityBackend | undefined;
  publicUrl: string;
  now: () => Date;
  /** Which namespaces a team may reach (SPEC §7). */
  tenancy: TenancyView;
  /** The operator's removal brake (SPEC §8); undefined when turned off. */
  removalBrake?: BrakePolicy;
  /** Each team's seat holders, kept from the cache events (src/seats/seat-index.ts); without it, seats are found by walking the team. */
  seats?: SeatIndex;
  /** Each team's mail times for the daily quota, kept until one of its invitations records a mail; without it the team is walked. */
  teamMails?: TeamMailTimes;
  /** How long a seat reservation may hold (webhook.seatReservationSeconds), for settling the ledger. */
  seatReservationMs?: number;
  /** Access keys (SPEC §9): the ClusterRoles keys are bound to, and whether the operator writes RBAC for a team. */
  accessKeys?: { clusterRoles: NamespaceClusterRoles; backendOf: (team: Team) => KeyBackend };
  /**
   * The reconcile's cancellation (src/runtime/controller.ts: aborted when the operator stops
   * and its deadline has passed), set per reconcile; backend calls take it so they give up.
   */
  signal?: AbortSignal;
}

// Labels and annotations the operator puts on what it creates.
export const labels = {
  managedBy: 'app.kubernetes.io/managed-by',
  team: 'roster.dev/team',
  membership: 'roster.dev/membership',
  owner: 'roster.dev/owner',
  createdBy: 'roster.dev/created-by',
} as const;

export { FINALIZER } from '../api/resources.ts';

export { index, keyOfTeam, teamKey, teamKeyOf } from '../api/indexes.ts';

export function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}
