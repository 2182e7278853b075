// Admission's half of SPEC §7: Project environments only in namespaces assigned to the team,
// one Team per namespace, no Team in a system namespace.
import { describe, expect, it } from 'vitest';
import { validateProject, validateTeam, type AdmissionView, type Change, type RuleContext } from '../../../src/admission/validators.ts';
import type { Project, Team } from '../../../src/api/generated.ts';
import type { NamespaceFacts } from '../../../src/tenancy/namespaces.ts';
import { NOW, project, team } from './fixtures.ts';

const ctx: RuleContext = { now: NOW, tenancy: { namespaceLabel: 'roster.dev/team', operatorNamespace: 'roster-system' } };
const user = { username: 'riley@acme.com', groups: [] };
const create = <T>(object: T): Change<T> => ({ operation: 'CREATE', object, user, requestUid: 'req' });
const update = <T>(object: T, oldObject: T): Change<T> => ({ operation: 'UPDATE', object, oldObject, user, requestUid: 'req' });
const view = (namespaces: Record<string, NamespaceFacts>, extra: Partial<AdmissionView> = {}): AdmissionView => ({
  team: team(),
  memberships: [],
  invitations: [],
  projects: [],
  reservations: [],
  namespaces: new Map(Object.entries(namespaces)),
  ...extra,
});
const withEnv = (p: Project, env: string, namespace: string): Project => ({
  ...p,
  spec: { ...p.spec, environments: [{ name: env, namespace }] as Project['spec']['environments'] },
});
const assigned = (control: string): NamespaceFacts => ({ labels: { 'roster.dev/team': control }, holdsTeam: false });

describe('Project environments', () => {
  it('admits an environment in a namespace assigned to the team', () => {
    expect(validateProject(create(withEnv(project('shop'), 'prod', 'shop-prod')), view({ 'shop-prod': assigned('acme') }), ctx).allowed).toBe(true);
  });

  it.each([
    ['kube-system', assigned('acme'), 'system namespace'],
    ['roster-system', assigned('acme'), "operator's own namespace"],
    ['acme', assigned('acme'), "team's own roster objects"],
    ['globex-prod', assigned('globex'), 'assigned to the team in namespace globex'],
    ['shop-prod', { labels: {}, holdsTeam: false }, 'kubectl label namespace shop-prod roster.dev/team=acme'],
  ] as const)('denies %s and says what to do', (ns, facts, expected) => {
    const verdict = validateProject(create(withEnv(project('shop'), 'prod', ns)), view({ [ns]: facts }), ctx);
    expect(verdict.allowed).toBe(false);
    expect(!verdict.allowed && verdict.message).toContain(expected);
  });

  it('admits a namespace that does not exist yet, with a warning', () => {
    const verdict = validateProject(create(withEnv(project('shop'), 'prod', 'shop-next')), view({}), ctx);
    expect(verdict.allowed).toBe(true);
    expect(verdict.allowed && verdict.warnings.join()).toContain('does not exist yet');
  });

  it('judges only environments an update adds or moves (an unrelated edit is not blocked by a label removed since)', () => {
    const old = withEnv(project('shop'), 'prod', 'shop-prod');
    const edited = { ...old, spec: { ...old.spec, displayName: 'Shop' } };
    expect(validateProject(update(edited, old), view({ 'shop-prod': { labels: {}, holdsTeam: false } }), ctx).allowed).toBe(true);
    const moved = withEnv(old, 'prod', 'kube-system');
    expect(validateProject(update(moved, old), view({ 'kube-system': assigned('acme') }), ctx).allowed).toBe(false);
  });
});

describe('Teams and namespaces', () => {
  it('denies a second Team in a namespace', () => {
    const second: Team = { ...team(), metadata: { ...team().metadata, name: 'acme-2' } };
    const verdict = validateTeam(create(second), view({}, { teamsInNamespace: [team()] }), ctx);
    expect(verdict.allowed).toBe(false);
    expect(!verdict.allowed && verdict.message).toContain('already holds team acme');
  });

  it('denies a Team in kube-system', () => {
    const t: Team = { ...team(), metadata: { ...team().metadata, namespace: 'kube-system' } };
    expect(validateTeam(create(t), view({}, { teamsInNamespace: [] }), ctx).allowed).toBe(false);
  });

  it('admits the first Team in a namespace', () => {
    expect(validateTeam(create(team()), view({}, { teamsInNamespace: [] }), ctx).allowed).toBe(true);
  });
});
