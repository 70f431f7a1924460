/**
 * Prometheus' own tools on the shipped rules and dashboard, without root or a server (promtool 2.42, Debian's
 * prometheus package):
 * - `promtool check rules` on the rule groups of deploy/prometheusrule.yaml, and on a broken rule (it must fail);
 * - `promtool test rules` on test/deploy/rules-tests/alerts.test.yaml: every alert fires when it should, with its
 *   labels and annotations rendered, and stays silent when it should not; every alert of the PrometheusRule must
 *   have such cases (a new alert without tests fails here), and the tests must catch a rule that never fires or
 *   fires without waiting for its `for`;
 * - every dashboard query and variable selector parses with Prometheus' PromQL parser (as recording rules given to
 *   `promtool check rules`), earlier than test/deploy/prometheus.test.ts, which needs root.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { describeIntegration } from '../helpers/env.js';
import { alertingRules, shippedRuleGroups, type RuleGroupSpec } from '../helpers/prometheus-rules.js';
import { promtool } from '../helpers/promtool.js';
import { panelQueries, queryVariables, substitute } from './dashboard-queries.js';
import { REPO, repoText, type Obj } from './deploy-files.js';

const TESTS = 'test/deploy/rules-tests/alerts.test.yaml';

interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[];
}

describeIntegration('promtool on the shipped rules and dashboard', { commands: ['promtool'] }, () => {
  let dir: string;
  const groups = shippedRuleGroups();

  /** Run the unit tests against `rules`, in a directory of their own (runs can go in parallel). */
  async function unitTests(rules: RuleGroupSpec[]): Promise<{ code: number; out: string }> {
    const run = await mkdtemp(join(dir, 'run-'));
    await copyFile(join(REPO, TESTS), join(run, 'alerts.test.yaml'));
    await writeFile(join(run, 'prometheus-rules.yml'), JSON.stringify({ groups: rules }, null, 2));
    const r = await promtool(['test', 'rules', 'alerts.test.yaml'], { cwd: run });
    return { code: r.code, out: r.stdout + r.stderr };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cna-promtool-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('promtool check rules accepts the PrometheusRule\'s groups and rejects a broken rule', async () => {
    const file = join(dir, 'check.yml');
    await writeFile(file, JSON.stringify({ groups }, null, 2));
    const ok = await promtool(['check', 'rules', file]);
    expect([ok.code, ok.stdout.trim().split('\n').at(-1), ok.stderr]).toEqual([0, `  SUCCESS: ${alertingRules(groups).length} rules found`, '']);
    const broken = structuredClone(groups);
    broken[0]!.rules[0]!.expr = 'max_over_time(chaos_daemon_runtime_up) == 0';
    await writeFile(file, JSON.stringify({ groups: broken }, null, 2));
    const bad = await promtool(['check', 'rules', file]);
    expect(bad.code).toBe(1);
    expect(bad.stdout + bad.stderr).toContain('expected type range vector in call to function "max_over_time", got instant vector');
  });

  it('promtool test rules: every alert fires when it should, rendered, and is silent when it should be', async () => {
    const r = await unitTests(groups);
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('every alert has a firing case with labels and rendered annotations, and a silent case', () => {
    const tests = (parse(repoText(TESTS)) as { tests: { alert_rule_test?: AlertTest[] }[] }).tests.flatMap((t) => t.alert_rule_test ?? []);
    const missing: string[] = [];
    for (const a of alertingRules(groups)) {
      const mine = tests.filter((t) => t.alertname === a.alert);
      const firing = mine.filter((t) => t.exp_alerts.length > 0);
      if (firing.length === 0) missing.push(`${a.alert}: no case where it fires`);
      for (const t of firing) {
        for (const e of t.exp_alerts) {
          for (const [k, v] of Object.entries(a.labels ?? {})) if (e.exp_labels?.[k] !== v) missing.push(`${a.alert} at ${t.eval_time}: label ${k} not asserted`);
          for (const k of Object.keys(a.annotations ?? {})) if (!e.exp_annotations?.[k]) missing.push(`${a.alert} at ${t.eval_time}: annotation ${k} not asserted`);
          for (const v of Object.values(e.exp_annotations ?? {})) if (v.includes('{{')) missing.push(`${a.alert}: unrendered template in ${v}`);
        }
      }
      if (!mine.some((t) => t.exp_alerts.length === 0)) missing.push(`${a.alert}: no case where it stays silent`);
    }
    expect(missing).toEqual([]);
  });

  it('the unit tests catch each alert made dead or made to skip its `for`', async () => {
    const mutations = alertingRules(groups).flatMap((a) => [
      { name: `${a.alert} never fires`, alert: a.alert, change: (r: Obj) => void (r.expr = 'vector(1) == 0') },
      { name: `${a.alert} fires without waiting`, alert: a.alert, change: (r: Obj) => void delete r.for },
    ]);
    // promtool test rules mostly waits (about 0.9 s wall, 0.2 s CPU): all mutations at once.
    const results = await Promise.all(mutations.map(async (m) => {
      const mutated = structuredClone(groups);
      m.change(mutated.flatMap((g) => g.rules).find((r) => r.alert === m.alert)!);
      return { m, r: await unitTests(mutated) };
    }));
    expect(results.filter(({ r }) => r.code === 0).map(({ m }) => m.name)).toEqual([]);
    for (const { m, r } of results) expect(r.out, m.name).toContain(`alertname: ${m.alert}`);
  });

  it('every dashboard query and variable selector parses with Prometheus\' PromQL parser', async () => {
    const dash = JSON.parse(repoText('deploy/grafana-dashboard.json')) as Obj;
    // Variables stand for regexes inside label matchers; the interval macros for durations.
    const vars = Object.fromEntries(queryVariables(dash).map((v) => [v.name, '.*']));
    const macros = { rateInterval: '5m', interval: '1m', range: '1h' };
    const exprs = [
      ...panelQueries(dash).map((q) => substitute(q.expr, vars, macros)),
      ...queryVariables(dash).map((v) => substitute(v.selector, vars, macros)),
    ];
    expect(exprs.length).toBeGreaterThanOrEqual(25);
    const file = join(dir, 'dashboard.yml');
    const asRules = (es: string[]) => JSON.stringify({ groups: [{ name: 'dashboard', rules: es.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] });
    await writeFile(file, asRules(exprs));
    const r = await promtool(['check', 'rules', file]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    await writeFile(file, asRules([...exprs, 'sum by (node (chaos_daemon_runtime_up)']));
    expect((await promtool(['check', 'rules', file])).code).toBe(1);
  });
});
