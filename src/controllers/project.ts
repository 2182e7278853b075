// Projects: report how many people can reach the project and whether each environment's
// namespace may be reached by the team (SPEC §7: it exists and a cluster admin assigned it to
// this team). Access itself is reconciled per Membership and for the owner; a project change
// re-queues them (see the watches in src/operator.ts).
import type { ProjectStatus } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import { ConditionType, setCondition, withKstatusConditions, type ConditionInput } from '../domain/conditions.ts';
import { accessTargets } from '../domain/scope.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { isConflict } from '../runtime/kube-client.ts';
import { writeStatus } from '../runtime/status.ts';
import type { AssignmentReport } from '../tenancy/namespaces.ts';
import { index, splitKey, type OperatorContext } from './context.ts';

interface Environment {
  readonly name: string;
  readonly namespace: string;
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

export async function reconcileProject(ctx: OperatorContext, key: string): Promise<ReconcileResult> {
  const [namespace, name] = splitKey(key);
  const project = ctx.caches.projects.get(namespace, name);
  if (!project || project.metadata.deletionTimestamp) return { kind: 'done' };
  const now = ctx.now();
  const generation = project.metadata.generation;
  const team = ctx.caches.teams.get(namespace, project.spec.team);
  const teamKey = `${namespace}/${project.spec.team}`;
  const active = ctx.caches.memberships.byIndex(index.byTeam, teamKey).filter((m) => m.status?.phase === 'Active');
  const reaching = active.filter((m) => accessTargets(m.spec.role, m.spec.projects, [project]).length > 0).length;
  const ownerActive = team?.status?.owner?.phase === 'Active' ? 1 : 0;
  // Namespace access comes from the kubernetes backend alone (it binds only assigned
  // namespaces); for the group backends environments are names of scopes.
  const backend = team ? ctx.identity(team.spec.identity?.backend ?? 'default') : undefined;
  const assigned: ConditionInput =
    backend && backend.type !== 'kubernetes'
      ? {
          type: ConditionType.EnvironmentsAssigned,
          status: 'True',
          reason: 'NoNamespaceAccess',
          message: `identity backend ${backend.name} grants no namespace access; environments are scopes of its groups`,
        }
      : environmentsCondition(ctx.tenancy.split(namespace, project.spec.environments));
  let conditions = setCondition(project.status?.conditions, assigned, generation, now);
  conditions = setCondition(
    conditions,
    !team
      ? { type: ConditionType.Ready, status: 'False', reason: 'TeamNotFound', message: `team ${project.spec.team} does not exist in namespace ${namespace}` }
      : assigned.status !== 'True'
        ? { type: ConditionType.Ready, status: 'False', reason: assigned.reason, message: assigned.message }
        : { type: ConditionType.Ready, status: 'True', reason: 'Reconciled', message: `${project.spec.environments.length} environment(s)` },
    generation,
    now,
  );
  const status: ProjectStatus = {
    observedGeneration: generation,
    members: reaching + ownerActive,
    conditions: withKstatusConditions('Project', conditions, generation, now),
  };
  try {
    await writeStatus(ctx.client, resources.project, project, status);
  } catch (e) {
    if (!isConflict(e)) throw e;
  }
  return { kind: 'done' };
}
