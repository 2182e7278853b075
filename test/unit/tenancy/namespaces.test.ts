// The tenancy rule (SPEC §7) with plain data: which namespaces a team may reach.
import { describe, expect, it } from 'vitest';
import { namespaceAssignment, RESERVED_NAMESPACES, splitByAssignment, teamNamespaceProblem, type TenancyPolicy } from '../../../src/tenancy/namespaces.ts';

const policy: TenancyPolicy = { namespaceLabel: 'roster.dev/team', operatorNamespace: 'roster-system' };
const assignedTo = (control: string) => ({ labels: { 'roster.dev/team': control }, holdsTeam: false });

describe('namespaceAssignment', () => {
  it('lets a team reach a namespace the platform labelled for it', () => {
    expect(namespaceAssignment(policy, 'acme', 'shop-prod', assignedTo('acme'))).toEqual({ kind: 'assigned' });
  });

  it('refuses an unlabelled namespace and says the exact kubectl label command', () => {
    const a = namespaceAssignment(policy, 'acme', 'shop-prod', { labels: {}, holdsTeam: false });
    expect(a).toMatchObject({ kind: 'refused', reason: 'NotAssigned' });
    expect(a.kind === 'refused' && a.message).toContain('`kubectl label namespace shop-prod roster.dev/team=acme`');
  });

  it("refuses another team's namespace without suggesting to take it over", () => {
    const a = namespaceAssignment(policy, 'acme', 'globex-prod', assignedTo('globex'));
    expect(a).toMatchObject({ kind: 'refused', reason: 'AssignedElsewhere' });
    expect(a.kind === 'refused' && a.message).toContain('assigned to the team in namespace globex');
  });

  it.each(RESERVED_NAMESPACES)('refuses %s whatever its labels say', (ns) => {
    expect(namespaceAssignment(policy, 'acme', ns, assignedTo('acme'))).toMatchObject({ kind: 'refused', reason: 'Reserved' });
  });

  it("refuses the operator's namespace even when labelled for the team", () => {
    expect(namespaceAssignment(policy, 'acme', 'roster-system', assignedTo('acme'))).toMatchObject({ kind: 'refused', reason: 'OperatorNamespace' });
  });

  it("refuses the team's own control namespace, and any namespace holding a Team", () => {
    expect(namespaceAssignment(policy, 'acme', 'acme', assignedTo('acme'))).toMatchObject({ kind: 'refused', reason: 'ControlNamespace' });
    expect(namespaceAssignment(policy, 'acme', 'globex', { labels: { 'roster.dev/team': 'acme' }, holdsTeam: true })).toMatchObject({
      kind: 'refused',
      reason: 'ControlNamespace',
    });
  });

  it('calls a namespace that does not exist missing, not assigned', () => {
    const a = namespaceAssignment(policy, 'acme', 'shop-next', { labels: undefined, holdsTeam: false });
    expect(a.kind).toBe('missing');
  });

  it('reads the configured label key, not a hard-coded one', () => {
    const custom = { ...policy, namespaceLabel: 'platform.example.com/tenant' };
    expect(namespaceAssignment(custom, 'acme', 'shop-prod', assignedTo('acme')).kind).toBe('refused');
    expect(namespaceAssignment(custom, 'acme', 'shop-prod', { labels: { 'platform.example.com/tenant': 'acme' }, holdsTeam: false }).kind).toBe('assigned');
  });
});

describe('splitByAssignment', () => {
  it('keeps only reachable targets and says why for the others', () => {
    const facts: Record<string, ReturnType<typeof assignedTo> | { labels: undefined; holdsTeam: false }> = {
      'shop-prod': assignedTo('acme'),
      'kube-system': assignedTo('acme'),
      'shop-next': { labels: undefined, holdsTeam: false },
    };
    const report = splitByAssignment([{ namespace: 'shop-prod' }, { namespace: 'kube-system' }, { namespace: 'shop-next' }], (ns) =>
      namespaceAssignment(policy, 'acme', ns, facts[ns]!),
    );
    expect(report.reachable.map((t) => t.namespace)).toEqual(['shop-prod']);
    expect(report.refused.map((r) => [r.target.namespace, r.reason])).toEqual([['kube-system', 'Reserved']]);
    expect(report.missing.map((m) => m.target.namespace)).toEqual(['shop-next']);
  });
});

describe('teamNamespaceProblem', () => {
  it('refuses Teams in system namespaces and in the operator namespace', () => {
    expect(teamNamespaceProblem(policy, 'kube-system')).toContain('system namespace');
    expect(teamNamespaceProblem(policy, 'roster-system')).toContain("operator's own namespace");
    expect(teamNamespaceProblem(policy, 'acme')).toBeUndefined();
  });
});
