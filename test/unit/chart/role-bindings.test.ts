// The role → ClusterRole mapping is decided once, in src/domain/role-bindings.ts. The Helm
// chart is YAML and keeps its own copy (values.yaml defaults, the team role names its RBAC
// and fence templates list), and the README names the defaults: these tests make every copy
// equal the TypeScript, so a change in one place fails until all agree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../../src/config.ts';
import { DEFAULT_NAMESPACE_CLUSTER_ROLES, TEAM_CLUSTER_ROLES } from '../../../src/domain/role-bindings.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

describe('role → ClusterRole defaults: one source, every copy equal', () => {
  it("the chart's operator.roleBindings defaults are the TypeScript defaults", () => {
    const values = parse(read('charts/roster/values.yaml')) as { operator: { roleBindings: unknown } };
    expect(values.operator.roleBindings).toEqual(DEFAULT_NAMESPACE_CLUSTER_ROLES);
  });

  it("the operator config's defaults are the TypeScript defaults", () => {
    const config = parseConfig({ namespace: 'roster-system', publicUrl: 'https://roster.example.com', mail: { from: 'roster@example.com' } });
    expect(config.roleBindings).toEqual(DEFAULT_NAMESPACE_CLUSTER_ROLES);
  });

  it('the team ClusterRoles the chart grants bind/escalate on and fences are the TypeScript ones', () => {
    for (const template of ['charts/roster/templates/rbac.yaml', 'charts/roster/templates/operator-fence.yaml']) {
      const line = /\$teamRoles := list ((?:"[^"]+" ?)+)/.exec(read(template));
      expect(line, template).not.toBeNull();
      expect(
        [...line![1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]),
        template,
      ).toEqual(Object.values(TEAM_CLUSTER_ROLES));
    }
    const rendered = [...read('charts/roster/templates/team-clusterroles.yaml').matchAll(/^ {2}name: (\S+)$/gm)].map((m) => m[1]);
    expect(rendered).toEqual(Object.values(TEAM_CLUSTER_ROLES));
  });

  it('the README names the defaults', () => {
    const readme = read('README.md');
    const { admin, developer, observer } = DEFAULT_NAMESPACE_CLUSTER_ROLES;
    expect(readme).toContain(`| \`roleBindings\` | admin → \`${admin}\`, developer → \`${developer}\`, observer → \`${observer}\` |`);
    expect(readme.replace(/\s+/g, ' ')).toContain(`owner and admin → ClusterRole \`${admin}\`, developer → \`${developer}\`, observer → \`${observer}\``);
    expect(readme.replace(/\s+/g, ' ')).toContain(
      Object.values(TEAM_CLUSTER_ROLES)
        .map((r) => `\`${r}\``)
        .join(', '),
    );
  });
});
