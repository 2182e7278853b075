import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Project } from '../../../src/api/generated.ts';
import { ROLES } from '../../../src/domain/roles.ts';
import {
  accessNamespaces,
  accessTargets,
  describeScope,
  isUnscoped,
  reviewAccess,
  scopeProblems,
  scopeReferenceProblems,
  teamWideScopeProblem,
  type ProjectScope,
} from '../../../src/domain/scope.ts';

function project(name: string, envs: Record<string, string>): Project {
  const environments = Object.entries(envs).map(([env, namespace]) => ({ name: env, namespace }));
  const [first, ...rest] = environments;
  if (!first) throw new Error('a project needs an environment');
  return {
    apiVersion: 'roster.dev/v1alpha1',
    kind: 'Project',
    metadata: { name, namespace: 'acme' },
    spec: { team: 'acme', environments: [first, ...rest] },
  };
}

const shop = project('shop', { production: 'shop-prod', staging: 'shop-staging' });
const wiki = project('wiki', { production: 'wiki-prod' });
const projects = [wiki, shop];

const ALL = [
  { project: 'shop', environment: 'production', namespace: 'shop-prod' },
  { project: 'shop', environment: 'staging', namespace: 'shop-staging' },
  { project: 'wiki', environment: 'production', namespace: 'wiki-prod' },
];

describe('accessTargets', () => {
  it('gives team-wide roles every environment of every project, sorted', () => {
    expect(accessTargets('owner', undefined, projects)).toEqual(ALL);
    expect(accessTargets('admin', undefined, projects)).toEqual(ALL);
  });

  it('gives unscoped developers and observers everything', () => {
    expect(accessTargets('developer', undefined, projects)).toEqual(ALL);
    expect(accessTargets('observer', [], projects)).toEqual(ALL);
  });

  it('gives billing nothing, scoped or not', () => {
    expect(accessTargets('billing', undefined, projects)).toEqual([]);
    expect(accessTargets('billing', [{ name: 'shop' }], projects)).toEqual([]);
  });

  it('ignores a scope on a team-wide role (admission refuses it; access stays team-wide)', () => {
    expect(accessTargets('admin', [{ name: 'shop', environments: ['staging'] }], projects)).toEqual(ALL);
  });

  it('limits a scoped role to the listed projects, all their environments by default', () => {
    expect(accessTargets('developer', [{ name: 'shop' }], projects)).toEqual(ALL.slice(0, 2));
    expect(accessTargets('developer', [{ name: 'shop', environments: [] }], projects)).toEqual(ALL.slice(0, 2));
  });

  it('limits to listed environments: a staging developer cannot touch production', () => {
    const targets = accessTargets('developer', [{ name: 'shop', environments: ['staging'] }], projects);
    expect(targets).toEqual([{ project: 'shop', environment: 'staging', namespace: 'shop-staging' }]);
  });

  it('combines several projects and skips ones or environments that do not exist', () => {
    const scope: ProjectScope[] = [{ name: 'wiki' }, { name: 'blog' }, { name: 'shop', environments: ['qa', 'production'] }];
    expect(accessTargets('observer', scope, projects)).toEqual([ALL[0], ALL[2]]);
  });

  it('merges duplicate entries for a project, "all" winning', () => {
    expect(
      accessTargets(
        'developer',
        [
          { name: 'shop', environments: ['staging'] },
          { name: 'shop', environments: ['production'] },
        ],
        projects,
      ),
    ).toEqual(ALL.slice(0, 2));
    expect(accessTargets('developer', [{ name: 'shop', environments: ['staging'] }, { name: 'shop' }], projects)).toEqual(ALL.slice(0, 2));
  });

  it("keeps the project's own environment order", () => {
    const p = project('api', { staging: 'api-stg', production: 'api-prod' });
    expect(accessTargets('admin', undefined, [p]).map((t) => t.environment)).toEqual(['staging', 'production']);
  });

  it('a scoped role never reaches more than the unscoped one', () => {
    const envNames = fc.constantFrom('production', 'staging', 'qa');
    const scopeArb = fc.array(fc.record({ name: fc.constantFrom('shop', 'wiki', 'blog'), environments: fc.option(fc.array(envNames), { nil: undefined }) }), {
      maxLength: 4,
    });
    fc.assert(
      fc.property(fc.constantFrom(...ROLES), scopeArb, (role, scope) => {
        const scoped = accessTargets(role, scope, projects);
        const whole = accessTargets(role, undefined, projects);
        for (const t of scoped) expect(whole).toContainEqual(t);
        expect(new Set(scoped.map((t) => `${t.project}/${t.environment}`)).size).toBe(scoped.length);
      }),
    );
  });
});

describe('accessNamespaces', () => {
  it('de-duplicates and sorts namespaces shared by environments', () => {
    const shared = project('blog', { production: 'web', staging: 'web' });
    expect(accessNamespaces(accessTargets('admin', undefined, [shop, shared]))).toEqual(['shop-prod', 'shop-staging', 'web']);
  });
});

describe('scope validation', () => {
  it('isUnscoped: omitted or empty', () => {
    expect(isUnscoped(undefined)).toBe(true);
    expect(isUnscoped([])).toBe(true);
    expect(isUnscoped([{ name: 'shop' }])).toBe(false);
  });

  it('refuses project scopes on team-wide roles, saying what to do instead', () => {
    expect(teamWideScopeProblem('admin', [{ name: 'shop' }])).toBe(
      'role admin is team-wide and takes no projects; remove spec.projects, or use role developer or observer to scope access',
    );
    expect(teamWideScopeProblem('billing', [{ name: 'shop' }])).toMatch(/^role billing is team-wide/);
    expect(teamWideScopeProblem('admin', [])).toBeUndefined();
    expect(teamWideScopeProblem('developer', [{ name: 'shop' }])).toBeUndefined();
  });

  it('names unknown projects and lists the ones that exist', () => {
    expect(scopeReferenceProblems([{ name: 'blog' }], projects)).toEqual([
      'project blog does not exist; create a Project named blog first, or use one of: shop, wiki',
    ]);
    expect(scopeReferenceProblems([{ name: 'blog' }], [])).toEqual([
      'project blog does not exist: the team has no projects yet; create a Project named blog first, or remove it from spec.projects',
    ]);
  });

  it('names environments a project does not have and lists the ones it has', () => {
    expect(scopeReferenceProblems([{ name: 'shop', environments: ['qa', 'staging', 'dev'] }], projects)).toEqual([
      'project shop has no environment "qa"; it has production, staging',
      'project shop has no environment "dev"; it has production, staging',
    ]);
  });

  it('finds nothing wrong with a good scope', () => {
    expect(scopeProblems('developer', [{ name: 'shop', environments: ['staging'] }, { name: 'wiki' }], projects)).toEqual([]);
    expect(scopeProblems('observer', undefined, projects)).toEqual([]);
  });

  it('reports the team-wide problem alone (references are moot then)', () => {
    expect(scopeProblems('admin', [{ name: 'blog' }], projects)).toHaveLength(1);
    expect(scopeProblems('admin', [{ name: 'blog' }], projects)[0]).toMatch(/team-wide/);
  });
});

describe('describeScope', () => {
  it('renders scopes for mails and the CLI', () => {
    expect(describeScope('admin', undefined)).toBe('the whole team');
    expect(describeScope('developer', [])).toBe('the whole team');
    expect(describeScope('billing', undefined)).toBe('no projects');
    expect(describeScope('developer', [{ name: 'shop', environments: ['staging'] }, { name: 'wiki' }])).toBe('shop (staging), wiki');
  });
});

describe('reviewAccess', () => {
  const stagingDev: ProjectScope[] = [{ name: 'shop', environments: ['staging'] }];

  it('denies what the role does not grant, naming the permission', () => {
    const d = reviewAccess('observer', undefined, projects, { permission: 'deploy', project: 'shop', environment: 'staging' });
    expect(d.allowed).toBe(false);
    expect(d.reason).toBe('role observer does not grant deploy (deploy, manage environments, plugins/themes, domains, snapshots)');
  });

  it('allows team-wide grants anywhere', () => {
    expect(reviewAccess('admin', undefined, projects, { permission: 'deploy', project: 'shop', environment: 'production' }).allowed).toBe(true);
    expect(reviewAccess('billing', undefined, projects, { permission: 'billing' })).toEqual({
      allowed: true,
      reason: 'role billing grants billing (view and manage billing, invoices, payment methods) team-wide',
    });
  });

  it('checks a scoped developer environment by environment', () => {
    expect(reviewAccess('developer', stagingDev, projects, { permission: 'deploy', project: 'shop', environment: 'staging' }).allowed).toBe(true);
    const prod = reviewAccess('developer', stagingDev, projects, { permission: 'deploy', project: 'shop', environment: 'production' });
    expect(prod.allowed).toBe(false);
    expect(prod.reason).toBe('role developer is scoped to shop (staging), which does not include shop/production');
    expect(reviewAccess('developer', stagingDev, projects, { permission: 'view', project: 'wiki' }).allowed).toBe(false);
  });

  it('with a project but no environment, allows only full coverage and says where it applies', () => {
    const partial = reviewAccess('developer', stagingDev, projects, { permission: 'deploy', project: 'shop' });
    expect(partial).toEqual({
      allowed: false,
      reason:
        'role developer grants deploy (deploy, manage environments, plugins/themes, domains, snapshots) only in staging of shop; ask about one environment',
    });
    expect(reviewAccess('developer', [{ name: 'shop' }], projects, { permission: 'deploy', project: 'shop' }).allowed).toBe(true);
  });

  it('without a project, answers whether the role holds it somewhere in its scope', () => {
    expect(reviewAccess('developer', undefined, projects, { permission: 'deploy' }).reason).toMatch(/in every project of the team$/);
    expect(reviewAccess('developer', stagingDev, projects, { permission: 'deploy' }).allowed).toBe(true);
    expect(reviewAccess('developer', [{ name: 'blog' }], projects, { permission: 'deploy' }).allowed).toBe(false);
  });

  it('refuses questions about places that do not exist, and environments without a project', () => {
    expect(reviewAccess('admin', undefined, projects, { permission: 'view', project: 'blog' }).reason).toMatch(/^project blog does not exist/);
    expect(reviewAccess('admin', undefined, projects, { permission: 'view', project: 'shop', environment: 'qa' }).reason).toBe(
      'project shop has no environment "qa"; it has production, staging',
    );
    expect(reviewAccess('admin', undefined, projects, { permission: 'view', environment: 'staging' })).toEqual({
      allowed: false,
      reason: 'environment staging needs its project: name the project too',
    });
  });
});
