// The Project controller's decision, as a pure function: how many people reach the project and
// whether each environment's namespace may be reached by the team (SPEC §7), from facts
// gathered once (gather.ts). The executor (../project.ts) writes the status it returns.
import type { Membership, Project, ProjectStatus, Team } from '../../api/generated.ts';
import { ConditionType, setCondition, withKstatusConditions, type ConditionInput } from '../../domain/conditions.ts';
import { accessTargets } from '../../domain/scope.ts';
import type { AssignmentReport } from '../../tenancy/namespaces.ts';

export interface Environment {
  readonly name: string;
  readonly namespace: string;
}

export interface ProjectFacts {
  readonly project: Project;
  readonly now: Date;
  readonly team: Team | undefined;
  readonly memberships: readonly Membership[];
  /** The team's identity backend, when the operator configures it: only `kubernetes` grants namespace access. */
  readonly backend: { readonly name: string; readonly type: string } | undefined;
  /** Which environment namespaces the team may reach (asked only when namespace access is granted). */
  readonly assignment: () => AssignmentReport<Environment>;
}

/** EnvironmentsAssigned: True when every environment's namespace is the team's to use. */
export function environmentsCondition(report: AssignmentReport<Environment>): ConditionInput {
  const problems = [...report.refused, ...report.missing].map((p) => `${p.target.name}: ${p.message}`);
  if (report.refused.length) {
    return {
      type: ConditionType.EnvironmentsAssigned,
      status: 'False',
      reason: 'NamespaceNotAssigned',
      message: `nobody gets access in these environments: ${problems.join('; ')}`,
    };
  }
  if (report.missing.length) {
    return {
      type: ConditionType.EnvironmentsAssigned,
      status: 'False',
      reason: 'NamespaceMissing',
      message: `nobody gets access in these environments yet: ${problems.join('; ')}`,
    };
  }
  return {
    type: ConditionType.EnvironmentsAssigned,
    status: 'True',
    reason: 'Assigned',
    message: `all ${report.reachable.length} environment namespace(s) are assigned to the team`,
  };
}

/** The status the project should have; undefined when there is nothing to decide (deleted). */
export function planProject(facts: ProjectFacts): ProjectStatus | undefined {
  const { project, team, now } = facts;
  if (project.metadata.deletionTimestamp) return undefined;
  const generation = project.metadata.generation;
  const active = facts.memberships.filter((m) => m.status?.phase === 'Active');
  const reaching = active.filter((m) => accessTargets(m.spec.role, m.spec.projects, [project]).length > 0).length;
  const ownerActive = team?.status?.owner?.phase === 'Active' ? 1 : 0;
  // Namespace access comes from the kubernetes backend alone (it binds only assigned
  // namespaces); for the group backends environments are names of scopes.
  const assigned: ConditionInput =
    facts.backend && facts.backend.type !== 'kubernetes'
      ? {
          type: ConditionType.EnvironmentsAssigned,
          status: 'True',
          reason: 'NoNamespaceAccess',
          message: `identity backend ${facts.backend.name} grants no namespace access; environments are scopes of its groups`,
        }
      : environmentsCondition(facts.assignment());
  const ready: ConditionInput = !team
    ? {
        type: ConditionType.Ready,
        status: 'False',
        reason: 'TeamNotFound',
        message: `team ${project.spec.team} does not exist in namespace ${project.metadata.namespace}`,
      }
    : assigned.status !== 'True'
      ? { type: ConditionType.Ready, status: 'False', reason: assigned.reason, message: assigned.message }
      : { type: ConditionType.Ready, status: 'True', reason: 'Reconciled', message: `${project.spec.environments.length} environment(s)` };
  const conditions = setCondition(setCondition(project.status?.conditions, assigned, generation, now), ready, generation, now);
  return { observedGeneration: generation, members: reaching + ownerActive, conditions: withKstatusConditions('Project', conditions, generation, now) };
}
