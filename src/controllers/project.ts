// Projects: report how many people can reach the project and whether its environments'
// namespaces exist. Access itself is reconciled per Membership and for the owner; a
// project change re-queues them (see the watches in src/operator.ts).
import type { ProjectStatus } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import { ConditionType, setCondition } from '../domain/conditions.ts';
import { accessTargets } from '../domain/scope.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { isConflict } from '../runtime/kube-client.ts';
import { writeStatus } from '../runtime/status.ts';
import { index, splitKey, type OperatorContext } from './context.ts';

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
  const status: ProjectStatus = {
    observedGeneration: generation,
    members: reaching + ownerActive,
    conditions: setCondition(
      project.status?.conditions,
      team
        ? { type: ConditionType.Ready, status: 'True', reason: 'Reconciled', message: `${project.spec.environments.length} environment(s)` }
        : { type: ConditionType.Ready, status: 'False', reason: 'TeamNotFound', message: `team ${project.spec.team} does not exist in namespace ${namespace}` },
      generation,
      now,
    ),
  };
  try {
    await writeStatus(ctx.client, resources.project, project, status);
  } catch (e) {
    if (!isConflict(e)) throw e;
  }
  return { kind: 'done' };
}
