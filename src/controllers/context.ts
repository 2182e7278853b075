// What every controller gets: the client, the caches, the backends, the clock, Events and
// the audit stream. Built once by src/operator.ts.
import type { Logger } from 'pino';
import type { Invitation, Membership, Project, Team } from '../api/generated.ts';
import type { IdentityBackend } from '../backends/identity/types.ts';
import type { RoleBinding } from '../backends/identity/kubernetes.ts';
import type { MailBackend } from '../backends/mail/types.ts';
import type { CompiledInvitationTemplates } from '../backends/mail/templates.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeClient, KubeObject } from '../runtime/kube-client.ts';
import type { Metrics } from '../runtime/metrics.ts';

export interface Recorder {
  record(regarding: KubeObject, type: 'Normal' | 'Warning', reason: string, action: string, note: string): void;
}

export interface Caches {
  teams: Informer<Team>;
  memberships: Informer<Membership>;
  invitations: Informer<Invitation>;
  projects: Informer<Project>;
  roleBindings: Informer<RoleBinding>;
}

export interface AuditEntry {
  action: string;
  entity: 'team' | 'member' | 'invitation' | 'project';
  team: string;
  namespace: string;
  subject?: string;
  roleBefore?: string;
  roleAfter?: string;
  actor?: string;
  detail?: string;
}

export interface OperatorContext {
  client: KubeClient;
  caches: Caches;
  logger: Logger;
  audit: (entry: AuditEntry) => void;
  events: Recorder;
  metrics: Metrics;
  mail: MailBackend;
  mailFrom: string;
  templates: CompiledInvitationTemplates;
  identity: (name: string) => IdentityBackend | undefined;
  publicUrl: string;
  now: () => Date;
}

// Labels and annotations the operator puts on what it creates.
export const labels = {
  managedBy: 'app.kubernetes.io/managed-by',
  team: 'roster.dev/team',
  membership: 'roster.dev/membership',
  owner: 'roster.dev/owner',
  createdBy: 'roster.dev/created-by',
} as const;

export const FINALIZER = 'roster.dev/access';

/** Index names of the shared caches. */
export const index = {
  byTeam: 'team', // value: namespace/team
  byMembership: 'membership', // invitations, value: namespace/membership
  byLinkHash: 'link-hash', // invitations, value: hex hash of the live link
} as const;

export const teamKeyOf = (o: { metadata: { namespace?: string }; spec: { team: string } }): string =>
  `${o.metadata.namespace}/${o.spec.team}`;

export function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}
