/**
 * Renders a prom-client Registry to the Prometheus text format 0.0.4 or to OpenMetrics 1.0, through prom-client's
 * public, typed API only: the families are listed with `getMetricsAsArray()`, each one's values read with
 * `getSingleMetric(name).get()`, and the lines are formatted here. Nothing in the registry is mutated (prom-client's
 * own OpenMetrics path, `metrics()` after `setContentType`, renames counters in place and would leave them renamed
 * for the next text rendering), so both formats can be rendered from the same registry in any order.
 *
 * Work is cut into slices that yield to the event loop (Slicer): between families, and every SERIES_PER_SLICE series
 * inside a family (chaos_daemon_iptables_packets has thousands at 110 pods), so scrapes are answered while a
 * collection renders.
 *
 * The Prometheus text output is byte for byte what prom-client's `registry.metrics()` prints (families in
 * registration order, HELP/TYPE first, label order as stored), except that NaN is written `NaN` (prom-client writes
 * `Nan`). OpenMetrics differs from the text format in: counters are declared without `_total` and their samples
 * carry it, `"` is escaped in HELP, and the exposition ends with `# EOF`.
 */
import type { MetricObjectWithValues, MetricValueWithName, Registry } from 'prom-client';
import { escapeLabelValue } from './families.js';
import { DEFAULT_SLICE_MS, Slicer } from './slicer.js';

export interface RenderTextOptions {
  openMetrics: boolean;
  /** Synchronous work allowed between two yields to the event loop (default DEFAULT_SLICE_MS). */
  sliceMs?: number;
  signal?: AbortSignal;
  /** Share the time slice of a caller's own loop (sliceMs and signal are then ignored). */
  slicer?: Slicer;
}

/** A family as prom-client's Metric.get() returns it (histograms: `metricName` _bucket/_sum/_count, `le` in labels). */
export type FamilyData = Pick<MetricObjectWithValues<MetricValueWithName<string>>, 'name' | 'help' | 'type' | 'values'>;
type SampleData = FamilyData['values'][number];

/** Series formatted between two slicer points inside one family. */
const SERIES_PER_SLICE = 256;

export function escapeHelp(s: string, openMetrics: boolean): string {
  const t = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return openMetrics ? t.replace(/"/g, '\\"') : t;
}

/** Go's ParseFloat spellings, accepted by both parsers: NaN, +Inf, -Inf; other numbers as JavaScript prints them. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * One sample's line. The labels are written in a plain loop over the label object's own keys, in Object.entries'
 * order (for...in on the plain objects prom-client makes: no inherited enumerable keys), without the entries and
 * parts arrays: the registry has a few hundred samples (histogram buckets) rendered every collection.
 */
function sampleLine(sampleName: string, s: SampleData): string {
  let labels = '';
  const obj = s.labels as Record<string, string | number | undefined>;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    const v = obj[k];
    if (v === undefined) continue;
    labels += `${labels === '' ? '{' : ','}${k}="${typeof v === 'string' ? escapeLabelValue(v) : String(v)}"`;
  }
  return `${sampleName}${labels === '' ? '' : `${labels}}`} ${formatValue(s.value)}`;
}

/** One family's lines (HELP, TYPE, samples), joined by newlines, without a trailing newline. */
export async function formatFamily(data: FamilyData, openMetrics: boolean, slicer: Slicer): Promise<string> {
  const counterOm = openMetrics && String(data.type) === 'counter';
  const family = counterOm ? data.name.replace(/_total$/, '') : data.name;
  const lines = [`# HELP ${family} ${escapeHelp(data.help, openMetrics)}`, `# TYPE ${family} ${data.type}`];
  const values = data.values;
  for (let i = 0; i < values.length; i++) {
    if (i > 0 && i % SERIES_PER_SLICE === 0 && slicer.due) await slicer.point();
    const s = values[i]!;
    const base = s.metricName ?? family;
    lines.push(sampleLine(counterOm ? `${base}_total` : base, s));
  }
  return lines.join('\n');
}

export async function renderText(registry: Registry, opts: RenderTextOptions): Promise<string> {
  const slicer = opts.slicer ?? new Slicer(opts.sliceMs ?? DEFAULT_SLICE_MS, opts.signal);
  return joinParts(await registryParts(await readRegistry(registry, slicer), opts.openMetrics, slicer), opts.openMetrics);
}

/**
 * One reading of every family of the registry (`get()`), in registration order: what one collection publishes, in
 * every variant it is rendered to. Reading is not free of effects: a gauge's collect() runs, and prom-client's
 * event-loop delay gauges reset their histogram on each read, so a second read right after the first saw an empty
 * one (nodejs_eventloop_lag_min_seconds 9223372036.85, mean NaN in the second variant). Samples are copied: a counter's
 * get() hands out its live entries, which later increments would change under a variant rendered later.
 */
export async function readRegistry(registry: Registry, slicer: Slicer): Promise<FamilyData[]> {
  const out: FamilyData[] = [];
  for (const { name } of registry.getMetricsAsArray()) {
    if (slicer.due) await slicer.point();
    const metric = registry.getSingleMetric(name);
    if (!metric) continue; // removed while rendering
    const data = await metric.get();
    const values: SampleData[] = [];
    for (const v of data.values) values.push({ ...v });
    out.push({ name: data.name, help: data.help, type: data.type, values });
  }
  return out;
}

/** Each family read (readRegistry) as formatFamily renders it, in registration order. */
export async function registryParts(data: readonly FamilyData[], openMetrics: boolean, slicer: Slicer): Promise<string[]> {
  const parts: string[] = [];
  for (const family of data) {
    if (slicer.due) await slicer.point();
    parts.push(await formatFamily(family, openMetrics, slicer));
  }
  return parts;
}

/** Families' texts (formatFamily, render-families.ts) as one exposition. */
export function joinParts(parts: readonly string[], openMetrics: boolean): string {
  return openMetrics ? `${parts.join('\n')}\n# EOF\n` : `${parts.join('\n\n')}\n`;
}

/** Samples (lines that are neither empty nor comments) in an exposition text, without splitting it. */
export function countSamples(text: string): number {
  let samples = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end > start && text.charCodeAt(start) !== 35 /* # */) samples += 1;
    start = end + 1;
  }
  return samples;
}
