/**
 * The queries of deploy/grafana-dashboard.json as Grafana sends them to Prometheus: every target of every panel
 * (rows' nested panels included), and the `label_values(selector, label)` template variables, with variables and
 * Grafana's interval macros substituted the way Grafana does for a Prometheus data source (a multi-value variable
 * becomes its regex-escaped values, `(a|b)` for several).
 */
import type { Obj } from './deploy-files.js';

export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
}

export interface QueryVariable {
  name: string;
  selector: string;
  label: string;
}

/** Every target of every panel, in dashboard order. */
export function panelQueries(dash: Obj): PanelQuery[] {
  const out: PanelQuery[] = [];
  const walk = (panels: Obj[]): void => {
    for (const p of panels) {
      for (const t of (p.targets ?? []) as Obj[]) out.push({ panel: String(p.title), refId: String(t.refId), expr: String(t.expr) });
      if (Array.isArray(p.panels)) walk(p.panels as Obj[]);
    }
  };
  walk(dash.panels as Obj[]);
  return out;
}

/** The selector and label of a `label_values(selector, label)` variable query. */
export function labelValuesQuery(query: string): { selector: string; label: string } {
  const m = /^\s*label_values\(\s*(.+)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(query);
  if (!m) throw new Error(`not a label_values(selector, label) query: ${query}`);
  return { selector: m[1]!, label: m[2]! };
}

/** The dashboard's query variables, in order (a later one may use an earlier one). */
export function queryVariables(dash: Obj): QueryVariable[] {
  return ((dash.templating?.list ?? []) as Obj[])
    .filter((v) => v.type === 'query')
    .map((v) => ({ name: String(v.name), ...labelValuesQuery(typeof v.query === 'string' ? v.query : String(v.query.query)) }));
}

/** Grafana's regex escaping of a variable value used inside a =~ matcher. */
function regexEscape(v: string): string {
  return v.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&');
}

/** What Grafana puts in place of a multi-value variable with these values selected. */
export function formatMulti(values: readonly string[]): string {
  const esc = values.map(regexEscape);
  return esc.length === 1 ? esc[0]! : `(${esc.join('|')})`;
}

export interface Macros {
  rateInterval: string;
  interval: string;
  range: string;
}

/** `expr` with $var, ${var} and [[var]] replaced by `vars` (already formatted) and Grafana's interval macros. */
export function substitute(expr: string, vars: Record<string, string>, macros: Macros): string {
  const builtins: Record<string, string> = { __rate_interval: macros.rateInterval, __interval: macros.interval, __range: macros.range };
  return expr.replace(/\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const v = builtins[name] ?? vars[name];
    if (v === undefined) throw new Error(`unknown variable $${name} in ${expr}`);
    return v;
  });
}
