// The Project planner with plain data: members who reach it, and whether its environments are the team's.
import { describe, expect, it } from 'vitest';
import type { Membership, Project, Team } from '../../../../src/api/generated.ts';
import { planProject, type Environment, type ProjectFacts } from '../../../../src/controllers/project/plan.ts';
import type { AssignmentReport } from '../../../../src/tenancy/namespaces.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const staging = { name: 'staging', namespace: 'shop-staging' };
const production = { name: 'production', namespace: 'shop-prod' };
const project: Project = {
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Project',
  metadata: { name: 'shop', namespace: 'acme', generation: 3 },
  spec: { team: 'acme', environments: [staging, production] },
};
const team: Team = {
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Team',
  metadata: { name: 'acme', namespace: 'acme' },
  spec: { owner: { email: 'liam@acme.com' }, seats: 5 },
  status: { owner: { email: 'liam@acme.com', phase: 'Active' } },
};
const member = (name: string, spec: Partial<Membership['spec']>, phase: NonNullable<Membership['status']>['phase'] = 'Active'): Membership => ({
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Membership',
  metadata: { name, namespace: 'acme' },
  spec: { team: 'acme', email: `${name}@acme.com`, role: 'developer', ...spec },
  status: { phase },
});
const allAssigned: AssignmentReport<Environment> = { reachable: [staging, production], refused: [], missing: [] };

function facts(extra: Partial<ProjectFacts> = {}): ProjectFacts {
  return { project, now: NOW, team, memberships: [], backend: { name: 'default', type: 'kubernetes' }, assignment: () => allAssigned, ...extra };
}
const condition = (status: ReturnType<typeof planProject>, type: string) => status?.conditions?.find((c) => c.type === type);

describe('the Project planner', () => {
  it('counts the active people whose scope reaches the project, and the active owner', () => {
    const status = planProject(
      facts({
        memberships: [
          member('riley', { projects: [{ name: 'shop', environments: ['staging'] }] }),
          member('noah', { role: 'admin' }),
          member('ines', { projects: [{ name: 'blog' }] }), // another project
          member('sam', {}, 'Invited'), // not yet accepted
        ],
      }),
    );
    expect(status?.members).toBe(3);
    expect(status?.observedGeneration).toBe(3);
    expect(condition(status, 'Ready')).toMatchObject({ status: 'True', reason: 'Reconciled' });
  });

  it('names an environment whose namespace is not assigned, and is not Ready', () => {
    const report: AssignmentReport<Environment> = {
      reachable: [staging],
      refused: [{ target: production, reason: 'NotAssigned', message: 'namespace shop-prod is not labelled roster.dev/team=acme' }],
      missing: [],
    };
    const status = planProject(facts({ assignment: () => report }));
    expect(condition(status, 'EnvironmentsAssigned')).toMatchObject({ status: 'False', reason: 'NamespaceNotAssigned' });
    expect(condition(status, 'EnvironmentsAssigned')?.message).toContain('production: namespace shop-prod is not labelled');
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'NamespaceNotAssigned' });
  });

  it('does not ask about namespaces for a group backend, which grants none', () => {
    const status = planProject(facts({ backend: { name: 'corp-ldap', type: 'ldap' }, assignment: () => expect.unreachable('no namespace check') }));
    expect(condition(status, 'EnvironmentsAssigned')).toMatchObject({ status: 'True', reason: 'NoNamespaceAccess' });
  });

  it('says when the team is missing, and writes nothing for a deleted project', () => {
    expect(condition(planProject(facts({ team: undefined })), 'Ready')).toMatchObject({ status: 'False', reason: 'TeamNotFound' });
    expect(planProject(facts({ project: { ...project, metadata: { ...project.metadata, deletionTimestamp: NOW.toISOString() } } }))).toBeUndefined();
  });
});
