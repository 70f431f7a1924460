/**
 * The collection's metric families: a small model of our own instead of prom-client, because the collection's
 * series are rebuilt from scratch every collection and rendered once or twice, so prom-client's per-series work
 * (a label object per sample, label-name validation and a sorted-key hash per set(), `Object.values` copies per
 * get()) bought nothing and cost about half of the metrics pipeline at 110 pods. prom-client keeps the long-lived
 * instruments (histograms, counters, default process metrics: registry.ts PersistentMetrics).
 *
 * A family holds its series in first-set order with label values in declared order (what prom-client printed:
 * every caller passed its labels in declared order). Setting the same label values again overwrites the value
 * (a gauge's set) or adds to it (add: a counter's inc, or sums of inputs that map onto one series), in the
 * series' first position, as prom-client did. Every family gets a HELP text; names and units follow the
 * conventions in docs (base units, `_total` counters).
 */
import { AgentError } from '../errors.js';

/** Note appended to the HELP of every metric built from the cached collection (not computed at scrape time). */
export const CACHED = '(cached: from the last background collection, see chaos_daemon_last_collection_timestamp_seconds)';

export type FamilyType = 'gauge' | 'counter';

const NEEDS_ESCAPE = /[\\\n"]/;

/** A label value as the exposition writes it between quotes: `\`, newline and `"` escaped. */
export function escapeLabelValue(v: string): string {
  // Most values (names, IDs, numbers) have nothing to escape: one scan instead of three replaces.
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * `name="value"` pairs joined by commas, values escaped, without braces: a part of a series' label text. Escaped
 * values hold no bare `"`, so the text of a fixed list of names is an unambiguous encoding of the values.
 */
export function labelPairs(names: readonly string[], values: readonly string[], from = 0): string {
  let out = '';
  for (let i = 0; i < values.length; i++) out += `${i === 0 ? '' : ','}${names[from + i]!}="${escapeLabelValue(values[i]!)}"`;
  return out;
}

/** The pairs of a family's first labels, built once for several series (and families that start with the same labels). */
export interface LabelPrefix {
  readonly names: readonly string[];
  readonly pairs: string;
}

export function labelPrefix(names: readonly string[], values: readonly string[]): LabelPrefix {
  return { names, pairs: labelPairs(names, values) };
}

export class Family {
  /**
   * Each series' label text as the exposition writes it after the metric name (`{a="x",b="y"}`, '' without
   * labels), in first-set order. It is also the series' identity: equal label values give equal texts, different
   * ones different texts (labelPairs).
   */
  readonly series: string[] = [];
  readonly values: number[] = [];
  private readonly index = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: FamilyType,
    readonly labelNames: readonly string[],
  ) {}

  /** Sets the series' value (a gauge). Label values in declared order. */
  set(labelValues: readonly string[], value: number): void {
    this.setText(this.text(labelValues), value);
  }

  /**
   * Adds to the series' value, creating it at `value` (a counter's inc; sums of inputs that map onto one series).
   * On a counter, as prom-client's inc: a negative amount or an infinity throws (NaN passes, as it did).
   */
  add(labelValues: readonly string[], value: number): void {
    this.addText(this.text(labelValues), value);
  }

  /** set() with the values of the first labels as a prefix (`rest`: the values of the labels after them). */
  setAfter(prefix: LabelPrefix, rest: readonly string[], value: number): void {
    this.setText(this.textAfter(prefix, rest), value);
  }

  /** set() with the label text built by the caller: `{` + labelPairs(labelNames, values) + `}`. */
  setText(labelText: string, value: number): void {
    const i = this.index.get(labelText);
    if (i === undefined) this.append(labelText, value);
    else this.values[i] = value;
  }

  /** add() with the label text built by the caller (see setText). */
  addText(labelText: string, value: number): void {
    if (this.type === 'counter' && ((value !== 0 && !Number.isNaN(value) && !Number.isFinite(value)) || value < 0)) {
      throw new AgentError('METRICS_COUNTER', `${this.name}: a counter cannot be increased by ${String(value)}`);
    }
    const i = this.index.get(labelText);
    if (i === undefined) this.append(labelText, value);
    else this.values[i] = this.values[i]! + value;
  }

  get size(): number {
    return this.values.length;
  }

  private text(labelValues: readonly string[]): string {
    if (labelValues.length !== this.labelNames.length) {
      throw new AgentError('METRICS_LABELS', `${this.name}: ${labelValues.length} label values for labels ${this.labelNames.join(',')}`);
    }
    return labelValues.length === 0 ? '' : `{${labelPairs(this.labelNames, labelValues)}}`;
  }

  private textAfter(prefix: LabelPrefix, rest: readonly string[]): string {
    const k = prefix.names.length;
    let ok = k + rest.length === this.labelNames.length;
    for (let i = 0; ok && i < k; i++) ok = prefix.names[i] === this.labelNames[i];
    if (!ok) throw new AgentError('METRICS_LABELS', `${this.name}: labels ${prefix.names.join(',')} + ${rest.length} values for labels ${this.labelNames.join(',')}`);
    return rest.length === 0 ? `{${prefix.pairs}}` : `{${prefix.pairs},${labelPairs(this.labelNames, rest, k)}}`;
  }

  private append(labelText: string, value: number): void {
    this.index.set(labelText, this.values.length);
    this.series.push(labelText);
    this.values.push(value);
  }
}

/**
 * A family whose samples come as blocks of lines rendered by the caller (`name{labels} value` lines in the
 * exposition's text, each PRECEDED by a newline: the family's text is its head and its blocks written one after
 * the other, a piece each), each block's series distinct from every other's: the caller guarantees it
 * (compat.ts, pod-blocks.ts: one block per pod, pods distinct, series deduplicated inside a pod). A gauge's lines
 * are the same in both formats, and so are a counter's when its name ends in `_total` (OpenMetrics declares it
 * without the suffix and its samples carry it again), so a block serves both; a counter named otherwise is refused.
 */
export class BlockFamily {
  readonly blocks: string[] = [];
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly type: FamilyType = 'gauge',
  ) {
    if (type === 'counter' && !name.endsWith('_total')) {
      throw new AgentError('METRICS_LABELS', `${name}: a counter rendered in blocks must end in _total (its OpenMetrics samples would differ)`);
    }
  }

  /** `text`: `series` lines, each preceded by a newline (`\nname{..} 1\nname{..} 2`). */
  addLines(text: string, series: number): void {
    if (series === 0) return;
    this.blocks.push(text);
    this.count += series;
  }

  get size(): number {
    return this.count;
  }
}

export type AnyFamily = Family | BlockFamily;

/** One collection's families, in registration order (the exposition's order). */
export class CollectionFamilies {
  readonly families: AnyFamily[] = [];
  private readonly names = new Set<string>();

  register<F extends AnyFamily>(family: F): F {
    if (this.names.has(family.name)) throw new AgentError('METRICS_DUPLICATE', `metric ${family.name} registered twice`);
    this.names.add(family.name);
    this.families.push(family);
    return family;
  }
}

export function gauge(set: CollectionFamilies, name: string, help: string, labelNames: readonly string[]): Family {
  return set.register(new Family(name, help, 'gauge', labelNames));
}

export function counter(set: CollectionFamilies, name: string, help: string, labelNames: readonly string[]): Family {
  return set.register(new Family(name, help, 'counter', labelNames));
}
