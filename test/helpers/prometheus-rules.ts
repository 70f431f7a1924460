/**
 * The alerting rules shipped in deploy/prometheusrule.yaml, as the plain rule groups Prometheus and promtool read
 * (prometheus-operator loads `spec.groups` of a PrometheusRule into Prometheus unchanged).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './repo.js';

export interface AlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroupSpec {
  name: string;
  interval?: string;
  rules: AlertingRule[];
}

/** `spec.groups` of the one PrometheusRule in `file` (default deploy/prometheusrule.yaml). */
export function shippedRuleGroups(file = join(repoRoot(), 'deploy', 'prometheusrule.yaml')): RuleGroupSpec[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
  const rules = docs.map((d) => d.toJS() as { kind?: string; spec?: { groups?: RuleGroupSpec[] } }).filter((d) => d.kind === 'PrometheusRule');
  if (rules.length !== 1 || !Array.isArray(rules[0]!.spec?.groups)) throw new Error(`${file}: expected one PrometheusRule with spec.groups`);
  return rules[0]!.spec!.groups!;
}

/** Every alerting rule of the groups, in order. */
export function alertingRules(groups: RuleGroupSpec[]): AlertingRule[] {
  return groups.flatMap((g) => g.rules.filter((r) => typeof r.alert === 'string'));
}
