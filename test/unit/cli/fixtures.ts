// Plain objects for the CLI's pure views: a team, its projects, memberships and invitations.
import type { Condition, Invitation, Membership, Project, Team } from '../../../src/api/generated.ts';

const apiVersion = 'roster.dev/v1alpha1' as const;
let uid = 0;
const nextUid = () => `uid-${++uid}`;

export function team(name: string, owner: string, options: { ownerPhase?: 'Invited' | 'Active'; seats?: number; status?: Team['status'] } = {}): Team {
  return {
    apiVersion,
    kind: 'Team',
    metadata: { name, namespace: 'ns', uid: nextUid(), creationTimestamp: '2026-03-01T10:00:00Z' },
    spec: { owner: { email: owner }, seats: options.seats ?? 10 },
    status: options.status ?? (options.ownerPhase ? { owner: { email: owner, phase: options.ownerPhase } } : undefined),
  };
}

export function project(name: string, teamName: string, envs: string[]): Project {
  const environments = envs.map((e) => ({ name: e, namespace: `${name}-${e}` }));
  return {
    apiVersion,
    kind: 'Project',
    metadata: { name, namespace: 'ns', uid: nextUid() },
    spec: { team: teamName, environments: [environments[0]!, ...environments.slice(1)] },
  };
}

export function membership(
  name: string,
  teamName: string,
  email: string,
  role: Membership['spec']['role'],
  options: {
    phase?: NonNullable<Membership['status']>['phase'];
    projects?: Membership['spec']['projects'];
    expiresAt?: string;
    acceptedAt?: string;
    conditions?: Condition[];
    created?: string;
  } = {},
): Membership {
  return {
    apiVersion,
    kind: 'Membership',
    metadata: { name, namespace: 'ns', uid: nextUid(), creationTimestamp: options.created ?? '2026-03-01T10:05:00Z' },
    spec: {
      team: teamName,
      email,
      role,
      ...(options.projects ? { projects: options.projects } : {}),
      ...(options.expiresAt ? { expiresAt: options.expiresAt } : {}),
    },
    ...(options.phase || options.acceptedAt || options.conditions
      ? {
          status: {
            ...(options.phase ? { phase: options.phase } : {}),
            ...(options.acceptedAt ? { acceptedAt: options.acceptedAt } : {}),
            ...(options.conditions ? { conditions: options.conditions } : {}),
          },
        }
      : {}),
  };
}

export function invitation(
  name: string,
  teamName: string,
  email: string,
  role: Invitation['spec']['role'],
  options: {
    phase?: NonNullable<Invitation['status']>['phase'];
    revoked?: boolean;
    ownedBy?: { kind: 'Membership' | 'Team'; name: string };
    projects?: Invitation['spec']['projects'];
  } = {},
): Invitation {
  return {
    apiVersion,
    kind: 'Invitation',
    metadata: {
      name,
      namespace: 'ns',
      uid: nextUid(),
      creationTimestamp: '2026-03-01T10:10:00Z',
      ...(options.ownedBy
        ? { ownerReferences: [{ apiVersion, kind: options.ownedBy.kind, name: options.ownedBy.name, uid: 'owner-uid', controller: true }] }
        : {}),
    },
    spec: { team: teamName, email, role, ...(options.revoked ? { revoked: true } : {}), ...(options.projects ? { projects: options.projects } : {}) },
    ...(options.phase ? { status: { phase: options.phase } } : {}),
  };
}

export function condition(type: string, status: Condition['status'], message: string): Condition {
  return { type, status, reason: 'Test', message, lastTransitionTime: '2026-03-01T10:00:00Z' };
}
