/**
 * Every metric name used by the dashboard's queries and variables and by the alert expressions exists in what
 * the agent exports, so renaming a metric breaks this test. The exported names come from a real `metrics`
 * run against a real containerd pod with Chaos Mesh state (test/deploy/exporter-metrics.ts).
 */
import { beforeAll, expect, it } from 'vitest';
import { describeIntegration } from '../helpers/env.js';
import { byKind, repoText, yamlDocs, type Obj } from './deploy-files.js';
import { exposedMetricsText, exposedNames, ISSUE4_METRICS } from './exporter-metrics.js';
import { checkPromql, grafanaToPromql, labelValuesSelector } from './promql.js';

/** Series Prometheus itself attaches to every target. */
const SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

interface Query {
  where: string;
  expr: string;
}

function dashboardQueries(dash: Obj): Query[] {
  const out: Query[] = [];
  const walk = (panels: Obj[]): void => {
    for (const p of panels) {
      for (const t of (p.targets ?? []) as Obj[]) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: grafanaToPromql(t.expr) });
      if (Array.isArray(p.panels)) walk(p.panels);
    }
  };
  walk(dash.panels);
  for (const v of dash.templating.list as Obj[]) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    out.push({ where: `variable $${v.name}`, expr: labelValuesSelector(q).selector });
  }
  return out;
}

function alertQueries(rule: Obj): Query[] {
  return (rule.spec.groups as Obj[]).flatMap((g) =>
    (g.rules as Obj[]).map((r) => ({ where: `alert ${r.alert ?? r.record}`, expr: String(r.expr) })),
  );
}

function unknownNames(queries: Query[], exported: Set<string>): string[] {
  const bad: string[] = [];
  for (const q of queries) {
    const { errors, metricNames } = checkPromql(q.expr);
    if (errors.length) bad.push(`${q.where}: ${errors.join('; ')}`);
    for (const n of metricNames) if (!exported.has(n) && !SYNTHETIC.has(n)) bad.push(`${q.where}: ${n}`);
  }
  return bad;
}

const dash = JSON.parse(repoText('deploy/grafana-dashboard.json')) as Obj;
const rule = byKind(yamlDocs('deploy/prometheusrule.yaml'), 'PrometheusRule');

describeIntegration('metric names in the dashboard and alerts', {
  root: true, commands: ['containerd', 'runc', 'ctr', 'nsenter', 'iptables-legacy-save', 'ipset', 'tc'],
}, () => {
  let exported = new Set<string>();
  let text = '';
  beforeAll(async () => {
    text = (await exposedMetricsText()).text;
    exported = exposedNames(text);
  }, 180_000);

  it('every metric family of issue 4 is really exported, with its type', () => {
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const wrong = ISSUE4_METRICS.filter(([name, type]) => types.get(name) !== type).map(([n, t]) => `${n}: want ${t}, got ${types.get(n) ?? 'absent'}`);
    expect(wrong).toEqual([]);
  });

  it('dashboard queries and variables use only exported metrics', () => {
    const qs = dashboardQueries(dash);
    expect(qs.length).toBeGreaterThanOrEqual(25);
    expect(unknownNames(qs, exported)).toEqual([]);
  });

  it('alert expressions use only exported metrics', () => {
    expect(unknownNames(alertQueries(rule), exported)).toEqual([]);
  });

  it('the alerts reference exactly the metrics they are about', () => {
    const used = new Set(alertQueries(rule).flatMap((q) => checkPromql(q.expr).metricNames));
    expect([...used].sort()).toEqual([
      'chaos_daemon_injection_active',
      'chaos_daemon_injection_first_seen_timestamp_seconds',
      'chaos_daemon_last_collection_timestamp_seconds',
      'chaos_daemon_runtime_up',
      'chaos_daemon_scrape_collector_success',
      'up',
    ]);
  });

  it('a renamed or misspelt metric is reported', () => {
    const qs = alertQueries(rule).map((q) => ({ ...q, expr: q.expr.replace(/chaos_daemon_runtime_up\b/g, 'chaos_daemon_runtime_available') }));
    expect(unknownNames(qs, exported)).toEqual([
      'alert ChaosNodeAgentNoRuntime: chaos_daemon_runtime_available',
      'alert ChaosNodeAgentRuntimeDown: chaos_daemon_runtime_available',
      'alert ChaosNodeAgentRuntimeDown: chaos_daemon_runtime_available',
    ]);
    const histogramBase = [{ where: 'q', expr: 'histogram_quantile(0.9, rate(chaos_daemon_runtime_request_duration_seconds[5m]))' }];
    expect(unknownNames(histogramBase, exported)).toEqual(['q: chaos_daemon_runtime_request_duration_seconds']);
  });

  it('the exported-name set follows the exposition format (histogram families, counters)', () => {
    expect(exported.has('chaos_daemon_runtime_request_duration_seconds_bucket')).toBe(true);
    expect(exported.has('chaos_daemon_runtime_request_duration_seconds_count')).toBe(true);
    expect(exported.has('chaos_daemon_runtime_request_duration_seconds')).toBe(false);
    expect(exported.has('process_cpu_seconds_total')).toBe(true);
    expect(exported.has('process_resident_memory_bytes')).toBe(true);
    for (const [name, type] of ISSUE4_METRICS) expect(type === 'counter', name).toBe(name.endsWith('_total'));
  });
});
