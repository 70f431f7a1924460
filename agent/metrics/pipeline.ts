/**
 * What happens to each finished collection: the bpm /proc scan (its own timed collector), the injection
 * tracker update (first-seen times and started/ended events), a fresh registry, one rendering.
 */
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { CollectorResult, Snapshot } from '../snapshot.js';
import { scanBpm, type BpmScan } from './bpm.js';
import { InjectionTracker, type InjectionEvent } from './injection-tracker.js';
import { buildCollectionRegistry, type PersistentMetrics, type RenderedMetrics } from './registry.js';

export interface PipelineOptions {
  procRoot: string;
  compatMetrics: boolean;
  /** --max-rules-per-pod. */
  maxRulesPerPod?: number;
  persistent: PersistentMetrics;
  log: Logger;
  /** Scan /proc for chaos-daemon descendants (default true). */
  bpm?: boolean;
}

export interface Processed {
  metrics: RenderedMetrics;
  events: InjectionEvent[];
  collectors: CollectorResult[];
}

export class MetricsPipeline {
  readonly tracker = new InjectionTracker();
  private bpmFailing = false;

  constructor(private readonly opts: PipelineOptions) {}

  async process(snapshot: Snapshot, signal?: AbortSignal): Promise<Processed> {
    const collectors: CollectorResult[] = [];
    let bpm: BpmScan | null = null;
    if (this.opts.bpm ?? true) {
      const t0 = performance.now();
      try {
        bpm = await scanBpm(this.opts.procRoot, signal);
        collectors.push({ collector: 'bpm', success: true, seconds: (performance.now() - t0) / 1000 });
        if (this.bpmFailing) this.opts.log.info({ collector: 'bpm' }, 'bpm scan recovered');
        this.bpmFailing = false;
      } catch (err) {
        if (signal?.aborted) throw err;
        const error = errorMessage(err);
        collectors.push({ collector: 'bpm', success: false, seconds: (performance.now() - t0) / 1000, error });
        if (!this.bpmFailing) this.opts.log.warn({ collector: 'bpm', err: error }, 'bpm scan failed');
        this.bpmFailing = true;
      }
    }
    const events = this.tracker.observe(snapshot);
    const registry = await buildCollectionRegistry({
      snapshot,
      bpm,
      extraCollectors: collectors,
      firstSeen: (ns, pod, kind) => this.tracker.firstSeen(ns, pod, kind),
      compatMetrics: this.opts.compatMetrics,
      ...(this.opts.maxRulesPerPod !== undefined ? { maxRulesPerPod: this.opts.maxRulesPerPod } : {}),
    }, signal);
    const metrics = await this.opts.persistent.render(registry, signal);
    return { metrics, events, collectors };
  }
}
