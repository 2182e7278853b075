// `kubectl roster plan` without a cluster: its exit codes for usage errors (1, since 2 means
// "changes"), -o markdown only for plan, and the rendering of a plan.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/app.ts';
import { renderMarkdown, renderText, type PlanReport } from '../../../src/cli/commands/plan.ts';
import type { Connection } from '../../../src/cli/cluster.ts';
import { planTeam } from '../../../src/domain/access-plan.ts';
import { DEFAULT_BRAKE } from '../../../src/domain/removal-brake.ts';
import type { KubeClient } from '../../../src/runtime/kube-client.ts';
import { membership, project, team } from './fixtures.ts';

async function cli(argv: string[], connect?: () => Promise<Connection>) {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    io: { out: (t) => void (out += t), err: (t) => void (err += t) },
    connect: connect ?? (() => Promise.reject(new Error('must not connect'))),
  });
  return { code, out, err };
}

describe('plan on the command line', () => {
  it('exits 1, not 2, on a usage error: 2 means "changes"', async () => {
    const missing = await cli(['plan']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^error: plan needs --filename PATH/);
    const unknown = await cli(['plan', '-f', 'x', '--prnue']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('did you mean --prune?');
    expect((await cli(['plan', '-f', 'x', '--brake-max-fraction', '2'])).err).toMatch(/--brake-max-fraction takes a number from 0 to 1/);
  });

  it('other commands refuse -o markdown before doing anything, and keep exit 2 for usage errors', async () => {
    const run = await cli(['seats', 'acme', '-o', 'markdown']);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/-o markdown is only for plan/);
  });

  it('refuses files without roster objects, with exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roster-plan-'));
    writeFileSync(join(dir, 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: { name: x }\n');
    const connect = async (): Promise<Connection> => ({ client: { close() {} } as KubeClient, namespace: 'acme', server: 'https://api.test' });
    const run = await cli(['plan', '-f', dir], connect);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/no roster objects \(roster\.dev\/v1alpha1\) in /);
    const missing = await cli(['plan', '-f', join(dir, 'nope.yaml')], connect);
    expect(missing).toMatchObject({ code: 1 });
    expect(missing.err).toMatch(/cannot read .*nope\.yaml/);
  });
});

describe('rendering', () => {
  const NOW = new Date('2026-06-01T12:00:00Z');
  const facts = new Map([['shop-production', { labels: { 'roster.dev/team': 'ns' }, holdsTeam: false }]]);
  const base = {
    controlNamespace: 'ns',
    team: team('acme', 'liam@acme.com', { ownerPhase: 'Active', seats: 5 }),
    invitations: [],
    projects: [project('shop', 'acme', ['production'])],
    namespaces: facts,
    policy: { namespaceLabel: 'roster.dev/team', operatorNamespace: 'roster-system' },
    now: NOW,
  };
  const riley = membership('riley', 'acme', 'riley@acme.com', 'developer', { phase: 'Active' });
  const result = planTeam(
    { ...base, memberships: [riley] },
    { ...base, memberships: [{ ...riley, spec: { ...riley.spec, role: 'observer' } }, membership('nina', 'acme', 'nina@acme.com', 'observer')] },
    DEFAULT_BRAKE,
  );
  const report: PlanReport = {
    changes: true,
    denied: true,
    prune: false,
    teams: [
      {
        controlNamespace: 'ns',
        team: 'acme',
        seats: result.seats,
        people: result.people.filter((p) => p.kind !== 'unchanged'),
        unchanged: 1,
        overSeatLimit: [],
      },
    ],
    objects: [
      { kind: 'Membership', namespace: 'ns', name: 'nina', action: 'create', allowed: true, warnings: [] },
      {
        kind: 'Membership',
        namespace: 'ns',
        name: 'x|y',
        action: 'create',
        allowed: false,
        message: 'team acme has 5 of 5 seats in use; raise spec.seats or remove a member',
        warnings: ['careful'],
      },
    ],
    ignored: [],
  };

  it('says per person what changes, seats, and the verdicts', () => {
    const text = renderText(report);
    expect(text).toContain('  + nina@acme.com: new observer, the whole team; invitation mailed; no access until accepted\n');
    expect(text).toContain('  ~ riley@acme.com: role developer → observer\n      - deploy in shop/production (namespace shop-production)\n');
    expect(text).toContain('  seats: 2/5 (3 available) → 3/5 (2 available)\n');
    expect(text).toMatch(/create membership\/x\|y -n ns +denied: team acme has 5 of 5 seats in use/);
    expect(text).toContain('      warning: careful\n');
    expect(text.trimEnd().split('\n').at(-1)).toBe('Plan: 1 invitation(s) to mail, 0 gaining access, 1 losing access, 0 held by the brake; 1 denied.');
  });

  it('renders markdown tables with pipes escaped', () => {
    const md = renderMarkdown(report);
    expect(md).toContain('| ~ | riley@acme.com | role developer → observer |  | deploy in shop/production (namespace shop-production) |');
    expect(md).toContain(
      '| create | `membership/x|y` (ns) | **denied**: team acme has 5 of 5 seats in use; raise spec.seats or remove a member<br>warning: careful |',
    );
  });
});

describe('warnings from the API server', () => {
  it('reads the text of Warning headers, quotes unescaped', async () => {
    const { parseWarningHeaders } = await import('../../../src/runtime/kube-client.ts');
    expect(parseWarningHeaders(['299 - "environment staging: namespace x does not exist yet"', '299 - "say \\"hi\\""'])).toEqual([
      'environment staging: namespace x does not exist yet',
      'say "hi"',
    ]);
    expect(parseWarningHeaders(undefined)).toEqual([]);
  });
});
