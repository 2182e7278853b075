// Projects: report how many people can reach the project and whether each environment's
// namespace may be reached by the team (SPEC §7: it exists and a cluster admin assigned it to
// this team). Access itself is reconciled per Membership and for the owner; a project change
// re-queues them (see the watches in src/operator.ts). Gather here, decide in project/plan.ts.
import type { Project } from '../api/generated.ts';
import { resources } from '../api/resources.ts';
import type { ReconcileResult } from '../runtime/controller.ts';
import { index, splitKey, teamKeyOf, type OperatorContext } from './context.ts';
import { writeStatusWon } from './objects.ts';
import { planProject, type ProjectFacts } from './project/plan.ts';

export { environmentsCondition } from './project/plan.ts';

export function gatherProject(ctx: OperatorContext, project: Project): ProjectFacts {
  const namespace = project.metadata.namespace ?? '';
  const team = ctx.caches.teams.get(namespace, project.spec.team);
  const backend = team ? ctx.identity(team.spec.identity?.backend ?? 'default') : undefined;
  return {
    project,
    now: ctx.now(),
    team,
    memberships: ctx.caches.memberships.byIndex(index.byTeam, teamKeyOf(project)),
    backend: backend ? { name: backend.name, type: backend.type } : undefined,
    assignment: () => ctx.tenancy.split(namespace, project.spec.environments),
  };
}

export async function reconcileProject(ctx: OperatorContext, key: string): Promise<ReconcileResult> {
  const [namespace, name] = splitKey(key);
  const project = ctx.caches.projects.get(namespace, name);
  if (!project) return { kind: 'done' };
  const status = planProject(gatherProject(ctx, project));
  if (!status) return { kind: 'done' };
  await writeStatusWon(ctx.client, resources.project, project, status, false);
  return { kind: 'done' };
}
