// How the kubernetes identity backend names the Kubernetes subject it binds, shared with
// `kubectl roster can-i` so that both name the same subject. Two modes (operator config
// identityBackends.<name>.subject):
// - User (default): the person, as the cluster's authenticator names them: userPrefix + the
//   address exactly as the manifest writes it (OIDC authenticators prefix users, e.g. `oidc:`).
// - Group: Roster binds groups and the platform's IdP puts people into them (Roster does not
//   manage IdP membership in this mode). One group per team and role, and for a scoped role
//   one per project and environment, so that a group never reaches beyond the scope:
//   <groupPrefix>roster:<control namespace>:<team>:<role>[:<project>:<environment>].
import type { Role } from '../../domain/roles.ts';

export type SubjectKind = 'User' | 'Group';

export interface SubjectMapping {
  readonly subject: SubjectKind;
  /** Prepended to the email in User mode, e.g. `oidc:`. */
  readonly userPrefix: string;
  /** Prepended to group names in Group mode, for authenticators that prefix groups, e.g. `oidc:`. */
  readonly groupPrefix: string;
}

export const DEFAULT_SUBJECT_MAPPING: SubjectMapping = { subject: 'User', userPrefix: '', groupPrefix: '' };

/** A Kubernetes RBAC subject. */
export interface KubeSubject {
  readonly kind: SubjectKind;
  readonly name: string;
}

/** What a group is for: a team and role, and for scoped roles one environment of one project. */
export interface GroupScope {
  readonly controlNamespace: string;
  readonly team: string;
  readonly role: Role;
  readonly project?: string;
  readonly environment?: string;
}

export function userSubjectName(mapping: Pick<SubjectMapping, 'userPrefix'>, email: string): string {
  return `${mapping.userPrefix}${email}`;
}

export function groupSubjectName(mapping: Pick<SubjectMapping, 'groupPrefix'>, scope: GroupScope): string {
  const parts = ['roster', scope.controlNamespace, scope.team, scope.role];
  if (scope.project !== undefined && scope.environment !== undefined) parts.push(scope.project, scope.environment);
  return `${mapping.groupPrefix}${parts.join(':')}`;
}

/** The start every group of the team's shares (the operator fence checks it). */
export function teamGroupStart(mapping: Pick<SubjectMapping, 'groupPrefix'>, controlNamespace: string): string {
  return `${mapping.groupPrefix}roster:${controlNamespace}:`;
}

/** `User oidc:riley@acme.com`, `Group roster:acme:acme:developer`. */
export function describeSubject(subject: KubeSubject): string {
  return `${subject.kind} ${subject.name}`;
}
