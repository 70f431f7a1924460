/**
 * Renders a prom-client Registry to text exactly as `registry.metrics()` does (Prometheus text 0.0.4, or
 * OpenMetrics 1.0 with `# EOF` and counters named without `_total` on their HELP/TYPE lines), but one metric
 * family at a time, yielding to the event loop (setImmediate) whenever `sliceMs` of synchronous work has passed.
 * registry.metrics() formats every family in one run of microtasks: ~6k series at 110 pods blocked scrapes for
 * tens of milliseconds per format. Families are formatted in registration order, as metrics() does.
 *
 * OpenMetrics rendering renames counters IN PLACE (metric.name loses `_total`, as prom-client does); the names
 * are restored before returning, also on failure. Families of more than a few hundred series are formatted in
 * chunks (formatFamily), still by prom-client's own formatter. Callers must not render the same metrics concurrently
 * (PersistentMetrics.render serialises).
 */
import { Registry, type Metric } from 'prom-client';
import { Slicer } from './slicer.js';

export interface RenderTextOptions {
  openMetrics: boolean;
  /** Synchronous work allowed between two yields to the event loop (default 4 ms). */
  sliceMs?: number;
  signal?: AbortSignal;
  /** Share the time slice of a caller's own loop (sliceMs and signal are then ignored). */
  slicer?: Slicer;
}

/** What prom-client's metric.get() / getForPromString() resolve to (MetricObjectWithValues). */
interface FamilyData {
  name: string;
  values?: unknown[];
  [k: string]: unknown;
}

/** prom-client's Registry.getMetricsAsString (public in its JS, missing from its typings): formats what get() returns. */
interface FamilyFormatter {
  getMetricsAsString(metric: { get(): Promise<FamilyData> }): Promise<string>;
  contentType: string;
}

/** Series formatted per slice of a large family (chaos_daemon_iptables_packets has thousands at 110 pods). */
const SERIES_PER_CHUNK = 256;

/**
 * One family, formatted by prom-client itself in chunks of SERIES_PER_CHUNK series with a slicer point between
 * chunks: each chunk is formatted from a copy of the family's data holding only its values, and every chunk but
 * the first loses its `# HELP` and `# TYPE` lines (one line each: prom-client escapes newlines in HELP).
 */
async function formatFamily(formatter: FamilyFormatter, metric: Metric, slicer: Slicer): Promise<string> {
  const m = metric as unknown as { getForPromString?: () => Promise<FamilyData>; get(): Promise<FamilyData> };
  const data = typeof m.getForPromString === 'function' ? await m.getForPromString() : await m.get();
  const values = data.values ?? [];
  if (values.length <= SERIES_PER_CHUNK) return formatter.getMetricsAsString({ get: async () => data });
  const out: string[] = [];
  for (let i = 0; i < values.length; i += SERIES_PER_CHUNK) {
    if (i > 0) await slicer.point();
    const text = await formatter.getMetricsAsString({ get: async () => ({ ...data, values: values.slice(i, i + SERIES_PER_CHUNK) }) });
    if (i === 0) out.push(text);
    else out.push(text.slice(text.indexOf('\n', text.indexOf('\n') + 1) + 1));
  }
  return out.join('\n');
}

export async function renderText(registry: Registry, opts: RenderTextOptions): Promise<string> {
  const slicer = opts.slicer ?? new Slicer(opts.sliceMs ?? 4, opts.signal);
  const formatter = registry as unknown as FamilyFormatter & { setContentType(t: string): void };
  const metrics = registry.getMetricsAsArray() as unknown as (Metric & { name: string; type: string })[];
  const names = metrics.map((m) => m.name);
  const previousType = formatter.contentType;
  formatter.setContentType(opts.openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE);
  const parts: string[] = [];
  try {
    for (const metric of metrics) {
      await slicer.point();
      if (opts.openMetrics && metric.type === 'counter') metric.name = metric.name.replace(/_total$/, '');
      parts.push(await formatFamily(formatter, metric, slicer));
    }
  } finally {
    metrics.forEach((m, i) => {
      m.name = names[i]!;
    });
    formatter.setContentType(previousType);
  }
  return opts.openMetrics ? `${parts.join('\n')}\n# EOF\n` : `${parts.join('\n\n')}\n`;
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
