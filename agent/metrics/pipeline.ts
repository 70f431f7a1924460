/**
 * What happens to each finished collection: the injection tracker update (first-seen times and started/ended
 * events), the bpm start counter, fresh families (families.ts), their rendering into the exposition variants wanted
 * (exposition.ts). (The bpm report comes with the snapshot: it is built from the collection's one /proc scan.)
 */
import type { Logger } from '../log.js';
import type { CollectorResult, Snapshot } from '../snapshot.js';
import { CompatLabelCache } from './compat-labels.js';
import { InjectionTracker, type InjectionEvent } from './injection-tracker.js';
import type { ExpositionDemand, RenderedMetrics } from './exposition.js';
import { buildCollectionFamilies, LineCaches, type PersistentMetrics } from './registry.js';

export interface PipelineOptions {
  compatMetrics: boolean;
  /** --max-rules-per-pod. */
  maxRulesPerPod?: number;
  persistent: PersistentMetrics;
  /** Which exposition variants to render with each collection (serve: what scrapers asked for); none: the text only. */
  demand?: ExpositionDemand;
  log: Logger;
}

export interface Processed {
  metrics: RenderedMetrics;
  events: InjectionEvent[];
  collectors: CollectorResult[];
}

export class MetricsPipeline {
  readonly tracker = new InjectionTracker();
  /** Label texts of the compat series, reused while a pod's rules are unchanged (compat-labels.ts). */
  readonly compatLabels = new CompatLabelCache();
  /** Per-pod and per-container lines, reused while their inputs are unchanged (pod-blocks.ts, container-stats.ts). */
  readonly lineCaches = new LineCaches();

  constructor(private readonly opts: PipelineOptions) {}

  async process(snapshot: Snapshot, signal?: AbortSignal): Promise<Processed> {
    const collectors: CollectorResult[] = [];
    const bpm = snapshot.bpm ?? null;
    this.opts.persistent.bpmStarts.observe(bpm);
    const events = this.tracker.observe(snapshot);
    const families = await buildCollectionFamilies({
      snapshot,
      bpm,
      extraCollectors: collectors,
      firstSeen: (ns, pod, kind) => this.tracker.firstSeen(ns, pod, kind),
      held: this.tracker.held,
      compatMetrics: this.opts.compatMetrics,
      compatCache: this.compatLabels,
      lineCaches: this.lineCaches,
      ...(this.opts.maxRulesPerPod !== undefined ? { maxRulesPerPod: this.opts.maxRulesPerPod } : {}),
    }, signal);
    const metrics = await this.opts.persistent.render(families, signal, this.opts.demand ?? null);
    return { metrics, events, collectors };
  }
}
