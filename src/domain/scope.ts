// Scope rules: roles say what, projects say where (SPEC §1 Project, §2). Given a role and
// an optional project scope, which (project, environment, namespace) places does a person
// get access in — and what is wrong with a scope someone wrote.

import { grantOf, hasProjectAccess, isTeamWideRole, ROLE_MATRIX, type Permission, type Role } from './roles.ts';

/** One entry of Membership/Invitation spec.projects. */
export interface ProjectScope {
  readonly name: string;
  /** Omitted (or empty) means all of the project's environments. */
  readonly environments?: readonly string[];
}

/** The parts of a Project the scope rules read; a generated `Project` fits. */
export interface ProjectLike {
  readonly metadata: { readonly name?: string };
  readonly spec: { readonly environments: readonly { readonly name: string; readonly namespace: string }[] };
}

/** A place where a person gets access: an environment of a project and the namespace it runs in. */
export interface AccessTarget {
  readonly project: string;
  readonly environment: string;
  readonly namespace: string;
}

/** Whether a scope means "the whole team" (omitted or empty, as the CRDs' CEL rule reads it). */
export function isUnscoped(scope: readonly ProjectScope[] | undefined): boolean {
  return scope === undefined || scope.length === 0;
}

function namedProjects(projects: readonly ProjectLike[]): Map<string, ProjectLike> {
  const byName = new Map<string, ProjectLike>();
  for (const project of projects) {
    const name = project.metadata.name;
    if (name !== undefined && name !== '') byName.set(name, project);
  }
  return byName;
}

/**
 * Every place the role reaches, given the team's Projects (the caller passes only this
 * team's). Roles without project access (billing) reach nothing; team-wide roles and
 * unscoped developers/observers reach every environment of every project; a scoped role
 * reaches the listed projects (all their environments, or only the listed ones). Entries
 * naming projects or environments that do not exist are skipped (see scopeProblems).
 * Sorted by project name, then the project's own environment order; no duplicates.
 */
export function accessTargets(role: Role, scope: readonly ProjectScope[] | undefined, projects: readonly ProjectLike[]): AccessTarget[] {
  if (!hasProjectAccess(role)) return [];
  const byName = namedProjects(projects);
  const wanted = new Map<string, Set<string> | 'all'>();
  if (isTeamWideRole(role) || isUnscoped(scope)) {
    for (const name of byName.keys()) wanted.set(name, 'all');
  } else {
    for (const entry of scope ?? []) {
      const previous = wanted.get(entry.name);
      if (entry.environments === undefined || entry.environments.length === 0 || previous === 'all') {
        wanted.set(entry.name, 'all');
      } else {
        wanted.set(entry.name, new Set([...(previous ?? []), ...entry.environments]));
      }
    }
  }

  const targets: AccessTarget[] = [];
  for (const name of [...wanted.keys()].sort()) {
    const project = byName.get(name);
    const envs = wanted.get(name);
    if (project === undefined || envs === undefined) continue;
    for (const env of project.spec.environments) {
      if (envs === 'all' || envs.has(env.name)) {
        targets.push({ project: name, environment: env.name, namespace: env.namespace });
      }
    }
  }
  return targets;
}

/** The distinct namespaces of some targets, sorted (two environments may share one). */
export function accessNamespaces(targets: readonly AccessTarget[]): string[] {
  return [...new Set(targets.map((t) => t.namespace))].sort();
}

/** The problem with scoping a team-wide role, in the CRDs' words; undefined if none. */
export function teamWideScopeProblem(role: Role, scope: readonly ProjectScope[] | undefined): string | undefined {
  if (isUnscoped(scope) || !isTeamWideRole(role)) return undefined;
  return `role ${role} is team-wide and takes no projects; remove spec.projects, or use role developer or observer to scope access`;
}

/** Problems with the projects and environments a scope names, one message per problem. */
export function scopeReferenceProblems(scope: readonly ProjectScope[] | undefined, projects: readonly ProjectLike[]): string[] {
  const byName = namedProjects(projects);
  const known = [...byName.keys()].sort();
  const problems: string[] = [];
  for (const entry of scope ?? []) {
    const project = byName.get(entry.name);
    if (project === undefined) {
      problems.push(
        known.length === 0
          ? `project ${entry.name} does not exist: the team has no projects yet; create a Project named ${entry.name} first, or remove it from spec.projects`
          : `project ${entry.name} does not exist; create a Project named ${entry.name} first, or use one of: ${known.join(', ')}`,
      );
      continue;
    }
    const envNames = project.spec.environments.map((e) => e.name);
    for (const env of entry.environments ?? []) {
      if (!envNames.includes(env)) {
        problems.push(`project ${entry.name} has no environment ${JSON.stringify(env)}; it has ${envNames.join(', ')}`);
      }
    }
  }
  return problems;
}

/** Everything wrong with a role + scope against the team's projects (empty: fine). */
export function scopeProblems(role: Role, scope: readonly ProjectScope[] | undefined, projects: readonly ProjectLike[]): string[] {
  const teamWide = teamWideScopeProblem(role, scope);
  return teamWide !== undefined ? [teamWide] : scopeReferenceProblems(scope, projects);
}

/** A short human rendering of where a role applies: `the whole team`, `shop (staging), wiki`, `no projects`. */
export function describeScope(role: Role, scope: readonly ProjectScope[] | undefined): string {
  if (!hasProjectAccess(role)) return 'no projects';
  if (isTeamWideRole(role) || isUnscoped(scope)) return 'the whole team';
  return (scope ?? [])
    .map((entry) => (entry.environments === undefined || entry.environments.length === 0 ? entry.name : `${entry.name} (${entry.environments.join(', ')})`))
    .join(', ');
}

/** An access-review question (`kubectl roster can-i EMAIL VERB [--project P --environment E]`). */
export interface AccessQuery {
  readonly permission: Permission;
  readonly project?: string;
  readonly environment?: string;
}

export interface AccessDecision {
  readonly allowed: boolean;
  /** Why, in words a person can act on. */
  readonly reason: string;
}

function describePermission(permission: Permission): string {
  return ROLE_MATRIX.find((row) => row.permission === permission)?.description ?? permission;
}

/**
 * Answers an access review from the matrix and the scope. With a project but no
 * environment, a scoped role is allowed only if its scope covers every environment of the
 * project (a partial answer would overstate it); the reason says where it does apply.
 */
export function reviewAccess(role: Role, scope: readonly ProjectScope[] | undefined, projects: readonly ProjectLike[], query: AccessQuery): AccessDecision {
  const { permission, project, environment } = query;
  const what = `${permission} (${describePermission(permission)})`;
  if (environment !== undefined && project === undefined) {
    return { allowed: false, reason: `environment ${environment} needs its project: name the project too` };
  }
  if (project !== undefined) {
    const problems = scopeReferenceProblems([{ name: project, environments: environment === undefined ? undefined : [environment] }], projects);
    if (problems[0] !== undefined) return { allowed: false, reason: problems[0] };
  }

  const grant = grantOf(role, permission);
  if (grant === 'no') return { allowed: false, reason: `role ${role} does not grant ${what}` };
  if (grant === 'yes') return { allowed: true, reason: `role ${role} grants ${what} team-wide` };

  const where = describeScope(role, scope);
  const targets = accessTargets(role, scope, projects);
  if (project === undefined) {
    if (isUnscoped(scope)) return { allowed: true, reason: `role ${role} grants ${what} in every project of the team` };
    return targets.length > 0
      ? { allowed: true, reason: `role ${role} grants ${what} within its scope: ${where}` }
      : { allowed: false, reason: `role ${role} is scoped to ${where}, which names no existing environment` };
  }
  const inProject = targets.filter((t) => t.project === project).map((t) => t.environment);
  if (environment !== undefined) {
    return inProject.includes(environment)
      ? { allowed: true, reason: `role ${role} grants ${what} in ${project}/${environment} (scope: ${where})` }
      : { allowed: false, reason: `role ${role} is scoped to ${where}, which does not include ${project}/${environment}` };
  }
  const all = projects.find((p) => p.metadata.name === project)?.spec.environments.map((e) => e.name) ?? [];
  if (inProject.length === all.length) {
    return { allowed: true, reason: `role ${role} grants ${what} in every environment of ${project} (scope: ${where})` };
  }
  if (inProject.length === 0) {
    return { allowed: false, reason: `role ${role} is scoped to ${where}, which does not include project ${project}` };
  }
  return {
    allowed: false,
    reason: `role ${role} grants ${what} only in ${inProject.join(', ')} of ${project}; ask about one environment`,
  };
}
