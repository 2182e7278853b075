// The Grafana dashboard (deploy/grafana/roster.json) as the chart ships it: a ConfigMap for
// Grafana's sidecar when grafana.dashboards.enabled, and every PromQL query in it naming only
// metrics a running operator really exports (scraped from a real operator's /metrics, with
// histograms as their _bucket/_sum/_count series).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { projectRoot } from '../../../controlplane/harness.ts';
import { startOperator, type OperatorProcess } from '../support/operator.ts';
import { find, renderChart } from './helm.ts';

const kubeconfig = inject('kubeconfigPath');
const source = readFileSync(join(projectRoot, 'deploy', 'grafana', 'roster.json'), 'utf8');

interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: string | { query: string } }> };
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression selects: identifiers that are neither functions, keywords, labels nor strings. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values, legend templates
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges ([5m], [$__rate_interval])
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping labels
    .replace(/\$\w+/g, ' '); // Grafana variables
  const names: string[] = [];
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = stripped.slice(m.index + m[0].length).trimStart();
    if (after.startsWith('(')) continue; // a function
    if (PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}

/** Sample names /metrics serves, from its `# TYPE` lines (a family exists even before its first sample). */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(`${name}${suffix}`);
    else names.add(name!);
  }
  return names;
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

function queriesOf(dashboard: Dashboard): Array<{ where: string; expr: string }> {
  const panelQueries = allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
  const variableQueries = dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const query = typeof v.query === 'string' ? v.query : v.query.query;
      // label_values(metric{…}, label): the metric is what must exist.
      return { where: `variable $${v.name}`, expr: /^label_values\((.*),\s*\w+\)$/.exec(query)?.[1] ?? query };
    });
  return [...panelQueries, ...variableQueries];
}

describe('metricNames (the PromQL reader the check relies on)', () => {
  it('finds metric names and skips functions, grouping labels, matchers, ranges and variables', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (controller, le) (rate(controller_runtime_reconcile_time_seconds_bucket{job=~"$job", controller=~"a|b"}[$__rate_interval])))',
      ),
    ).toEqual(['controller_runtime_reconcile_time_seconds_bucket']);
    expect(metricNames('sum by (namespace, team) (roster_removals_held{job=~"$job"}) > 0')).toEqual(['roster_removals_held']);
    expect(metricNames('rate(a_total[5m]) / on (pod) group_left b_total')).toEqual(['a_total', 'b_total']);
  });
});

describe('the Grafana dashboard in the chart', () => {
  it('is off by default', async () => {
    const objects = await renderChart();
    expect(objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard !== undefined)).toEqual([]);
  });

  it("ships deploy/grafana/roster.json in a ConfigMap labelled for Grafana's sidecar", async () => {
    const objects = await renderChart({ grafana: { dashboards: { enabled: true, annotations: { grafana_folder: 'Operators' } } } });
    const configMap = find(objects, 'ConfigMap', 'roster-dashboard') as unknown as {
      metadata: { namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
      data: Record<string, string>;
    };
    expect(configMap.metadata.labels.grafana_dashboard).toBe('1');
    expect(configMap.metadata.annotations).toEqual({ grafana_folder: 'Operators' });
    expect(configMap.metadata.namespace).toBe('roster-system');
    expect(JSON.parse(configMap.data['roster.json']!)).toEqual(JSON.parse(source));
    // The chart carries a copy (Helm reads files inside the chart only): it must be the same file.
    expect(readFileSync(join(projectRoot, 'charts', 'roster', 'dashboards', 'roster.json'), 'utf8')).toBe(source);
    const elsewhere = await renderChart({ grafana: { dashboards: { enabled: true, namespace: 'monitoring' } } });
    expect(find(elsewhere, 'ConfigMap', 'roster-dashboard').metadata.namespace).toBe('monitoring');
  });

  it('has the panels the issue asks for', () => {
    const dashboard = JSON.parse(source) as Dashboard;
    const used = new Set(queriesOf(dashboard).flatMap((q) => metricNames(q.expr)));
    for (const name of [
      'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_errors_total',
      'workqueue_depth',
      'workqueue_queue_duration_seconds_bucket',
      'workqueue_unfinished_work_seconds',
      'workqueue_longest_running_processor_seconds',
      'controller_runtime_webhook_latency_seconds_bucket',
      'roster_admission_denials_total',
      'roster_mails_sent_total',
      'roster_mails_failed_total',
      'roster_identity_backend_errors_total',
      'roster_removals_held',
      'rest_client_requests_total',
      'rest_client_request_duration_seconds_bucket',
    ]) {
      expect(used, name).toContain(name);
    }
  });
});

describe('every query in the dashboard against a running operator', () => {
  let operator: OperatorProcess | undefined;
  beforeAll(async () => {
    operator = await startOperator({ kubeconfigPath: kubeconfig, config: { webhook: { enabled: false } } });
  }, 120_000);
  afterAll(async () => {
    await operator?.kill('SIGTERM');
  });

  it('names only metrics the operator exports', async () => {
    const res = await fetch(`http://127.0.0.1:${operator!.probesPort}/metrics`);
    expect(res.status).toBe(200);
    const exported = exportedNames(await res.text());
    expect(exported).toContain('controller_runtime_reconcile_total'); // the scrape is the real thing
    const queries = queriesOf(JSON.parse(source) as Dashboard);
    expect(queries.length).toBeGreaterThan(20);
    const unknown = queries.flatMap((q) =>
      metricNames(q.expr)
        .filter((n) => !exported.has(n))
        .map((n) => `${q.where}: ${n}`),
    );
    expect(unknown).toEqual([]);
    for (const q of queries) expect(metricNames(q.expr).length, `${q.where} selects no metric: ${q.expr}`).toBeGreaterThan(0);
  });
});
