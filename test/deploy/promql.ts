/**
 * PromQL checks for the alert expressions and dashboard queries, with Prometheus' own Lezer grammar
 * (@prometheus-io/lezer-promql, the parser behind the Prometheus UI's editor). It is a syntax parser; on top
 * of it this checks the one type rule that bites most often in hand-written rules: range-vector functions
 * (rate, max_over_time...) must get a range selector or subquery.
 */
import { parser } from '@prometheus-io/lezer-promql';

export interface PromqlCheck {
  /** Syntax/type problems, empty when the expression is fine. */
  errors: string[];
  /** Metric names of every vector/range selector, in order of appearance. */
  metricNames: string[];
}

const RANGE_FUNCTIONS = new Set([
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'changes', 'resets', 'predict_linear',
  'holt_winters', 'double_exponential_smoothing', 'avg_over_time', 'min_over_time', 'max_over_time',
  'sum_over_time', 'count_over_time', 'quantile_over_time', 'stddev_over_time', 'stdvar_over_time',
  'last_over_time', 'present_over_time', 'absent_over_time', 'mad_over_time',
]);

export function checkPromql(expr: string): PromqlCheck {
  const errors: string[] = [];
  const metricNames: string[] = [];
  if (expr.trim() === '') return { errors: ['empty expression'], metricNames };
  const tree = parser.parse(expr);
  tree.iterate({
    enter(ref) {
      if (ref.type.isError) {
        errors.push(`syntax error at ${ref.from}: ${JSON.stringify(expr.slice(Math.max(0, ref.from - 20), ref.from + 20))}`);
        return;
      }
      if (ref.name === 'VectorSelector') {
        const id = ref.node.getChild('Identifier');
        if (id) metricNames.push(expr.slice(id.from, id.to));
      }
      if (ref.name === 'FunctionCall') {
        const fnId = ref.node.getChild('FunctionIdentifier');
        const body = ref.node.getChild('FunctionCallBody');
        const fn = fnId ? expr.slice(fnId.from, fnId.to) : '';
        if (RANGE_FUNCTIONS.has(fn) && body) {
          const args: string[] = [];
          for (let c = body.firstChild; c; c = c.nextSibling) if (!['(', ')', ','].includes(c.name)) args.push(c.name);
          const arg = fn === 'quantile_over_time' ? args[1] : args[0];
          if (arg !== 'MatrixSelector' && arg !== 'SubqueryExpr') errors.push(`${fn}() needs a range vector, got ${arg ?? 'nothing'}`);
        }
      }
    },
  });
  return { errors, metricNames };
}

/**
 * Grafana template variables in a query, replaced by values that keep it valid PromQL: $__rate_interval etc.
 * stand for a duration; $node / ${node} sit inside label-matcher strings and stay as they are.
 */
export function grafanaToPromql(expr: string): string {
  return expr.replace(/\$(?:__rate_interval|__interval|__range)\b|\$\{__(?:rate_interval|interval|range)\}/g, '5m');
}

/** The series selector inside a Grafana `label_values(selector, label)` variable query. */
export function labelValuesSelector(query: string): { selector: string; label: string } {
  const m = /^\s*label_values\(\s*(.+)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(query);
  if (!m) throw new Error(`not a label_values(selector, label) query: ${query}`);
  return { selector: m[1]!, label: m[2]! };
}
