/**
 * A pod's lines in a set of per-pod families (injection.ts, qdisc.ts), rendered once and reused while the series
 * they hold are unchanged. At 110 pods most pods' verdicts, truncations, tc parameters and qdisc statistics do not
 * change between two collections, and building their label texts, index maps, lines and joins again every
 * collection was most of what those families cost.
 *
 * How a pod's blocks are made, and why a kept one cannot be stale: the concern's emitter (a module-level function
 * of the pod's report) emits the pod's series in order, each as its family, its value and its label values after
 * namespace and pod. Every collection the emitter runs into a recorder that keeps exactly that sequence (numbers in
 * a Float64Array, label values in an array, a fixed width per series, so two sequences are equal only when every
 * series is). The blocks are rendered FROM the recorded sequence alone (replayed into fresh Families with the
 * concern's set or add semantics, then written as lines), never from the report: so they are a pure function of
 * (namespace, pod, the family specs, the sequence), and the kept blocks are reused only when all of these compare
 * equal (strings and specs with ===, numbers with ===: a NaN never equals itself, so it is always rendered again,
 * merely slower; -0 and 0 compare equal and both print `0`). Any value or label that changed, a series that
 * appeared, vanished or moved renders the pod's blocks again.
 *
 * The families must hold the pod's series only (their first labels are namespace and pod, pods are distinct: the
 * caller skips a pod listed twice), so a family's text is its pods' blocks in pod order, as a Family would print.
 */
import { AgentError } from '../errors.js';
import { Family, type FamilyType } from './families.js';
import { KeptEntries } from './kept-entries.js';
import { formatValue } from './render-text.js';
import { sameFirst } from '../same-items.js';

/** One of the families a pod's series go into. Its first two labels are namespace and pod. */
export interface PodFamilySpec {
  readonly name: string;
  readonly type: FamilyType;
  readonly labelNames: readonly string[];
  /** Series with equal labels: summed (a Family's add) instead of the last value kept in the first position (set). */
  readonly add: boolean;
}

/** Label values a series may carry after namespace and pod. */
const MAX_REST = 3;

/** Where an emitter writes a pod's series. */
export interface PodSeriesSink {
  /** One series of `specs[family]`: its value, then its label values after namespace and pod, in declared order. */
  series(family: number, value: number, a?: string, b?: string, c?: string): void;
}

/**
 * Emits a pod's series for `arg` (a module-level function: a closure made per pod would be one more object and a
 * recompilation after each full GC, see README "V8 and per-call closures").
 */
export type PodEmitter<A> = (sink: PodSeriesSink, arg: A) => void;

/** The sequence of series an emitter produced: (family, value) pairs and MAX_REST label slots per series. */
class Recorder implements PodSeriesSink {
  nums = new Float64Array(256);
  strs: (string | undefined)[] = [];
  count = 0;

  series(family: number, value: number, a?: string, b?: string, c?: string): void {
    const n = this.count;
    if (2 * n + 2 > this.nums.length) {
      const grown = new Float64Array(this.nums.length * 2);
      grown.set(this.nums);
      this.nums = grown;
    }
    this.nums[2 * n] = family;
    this.nums[2 * n + 1] = value;
    const s = n * MAX_REST;
    this.strs[s] = a;
    this.strs[s + 1] = b;
    this.strs[s + 2] = c;
    this.count = n + 1;
  }

  same(e: PodBlocks): boolean {
    const n = this.count;
    return e.count === n && sameFirst(this.nums, e.nums, 2 * n) && sameFirst(this.strs, e.strs, n * MAX_REST);
  }
}

/** A pod's kept blocks and the sequence they were rendered from. */
export interface PodBlocks {
  readonly namespace: string;
  readonly name: string;
  readonly specs: readonly PodFamilySpec[];
  readonly count: number;
  readonly nums: Float64Array;
  readonly strs: readonly (string | undefined)[];
  /** Per spec: the pod's lines in that family (each preceded by a newline) and how many. */
  readonly blocks: readonly string[];
  readonly lines: readonly number[];
}

export class PodBlockCache {
  private readonly entries = new KeptEntries<PodBlocks>();
  private readonly recorder = new Recorder();
  /** Pods whose blocks were reused / rendered, since the cache was made (tests, measurements). */
  hits = 0;
  misses = 0;

  /** Starts a collection (see KeptEntries). */
  begin(): void {
    this.entries.begin();
  }

  /**
   * The pod's blocks, one per spec (`key`: the pod's `${namespace}\0${name}`, which the entry's own namespace and
   * name are checked against): the kept ones when `emit` produces the same sequence as they were rendered from.
   */
  blocks<A>(key: string, namespace: string, name: string, specs: readonly PodFamilySpec[], emit: PodEmitter<A>, arg: A): PodBlocks {
    const r = this.recorder;
    r.count = 0;
    emit(r, arg);
    const kept = this.entries.get(key);
    if (kept !== undefined && kept.namespace === namespace && kept.name === name && kept.specs === specs && r.same(kept)) {
      this.hits += 1;
      this.entries.keep(key, kept);
      return kept;
    }
    this.misses += 1;
    const made = render(namespace, name, specs, r);
    this.entries.keep(key, made);
    return made;
  }
}

/** The blocks of the recorded sequence: replayed into one Family per spec, each written as its lines. */
function render(namespace: string, name: string, specs: readonly PodFamilySpec[], r: Recorder): PodBlocks {
  const families = specs.map((s) => new Family(s.name, '', s.type, s.labelNames));
  for (let k = 0; k < r.count; k++) {
    const f = r.nums[2 * k]!;
    const spec = specs[f];
    const family = families[f];
    if (spec === undefined || family === undefined) throw new AgentError('METRICS_LABELS', `pod series for family ${f}: only ${specs.length} families`);
    const labels = [namespace, name];
    for (let j = 0; j < spec.labelNames.length - 2; j++) {
      const v = j < MAX_REST ? r.strs[k * MAX_REST + j] : undefined;
      if (v === undefined) throw new AgentError('METRICS_LABELS', `${spec.name}: label ${spec.labelNames[j + 2]!} missing`);
      labels.push(v);
    }
    if (spec.add) family.add(labels, r.nums[2 * k + 1]!);
    else family.set(labels, r.nums[2 * k + 1]!);
  }
  const blocks: string[] = [];
  const lines: number[] = [];
  for (const family of families) {
    const out: string[] = ['']; // each line preceded by a newline (BlockFamily.addLines)
    for (let i = 0; i < family.size; i++) out.push(`${family.name}${family.series[i]!} ${formatValue(family.values[i]!)}`);
    blocks.push(out.join('\n'));
    lines.push(family.size);
  }
  return { namespace, name, specs, count: r.count, nums: r.nums.slice(0, 2 * r.count), strs: r.strs.slice(0, r.count * MAX_REST), blocks, lines };
}
