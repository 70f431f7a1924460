/**
 * Builds a FRESH prom-client Registry per collection from a Snapshot (so vanished pods disappear), keeps the
 * long-lived instruments (histograms, counters, prom-client's default process/nodejs metrics) in a separate
 * registry, and renders both once per collection into the Prometheus text and OpenMetrics formats, plain and
 * gzipped, so that answering a scrape costs a buffer write.
 */
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { CallObserver } from '../runtime/types.js';
import type { CollectorResult, Snapshot } from '../snapshot.js';
import type { BpmReport } from '../proc/bpm.js';
import { BpmStartCounter, registerBpmMetrics } from './bpm.js';
import { registerCompatMetrics } from './compat.js';
import { registerContainerStatsMetrics } from './container-stats.js';
import { registerInjectionMetrics, type FirstSeenLookup } from './injection.js';
import { registerKubeMetrics } from './kube.js';
import { registerQdiscMetrics } from './qdisc.js';
import { countSamples, renderText } from './render-text.js';
import { Slicer } from './slicer.js';
import { registerRuntimeMetrics, runtimeRequestHistogram } from './runtime.js';
import { netnsInstruments, registerSelfMetrics, type CommandObservation } from './self.js';

const gzip = promisify(gzipCb);

/**
 * prom-client's default metrics that are gauges named like counters (`promtool check metrics`: non-counter metrics
 * should not have "_total" suffix). Dropped: their value is the sum of nodejs_active_{handles,requests,resources}
 * by type, which stay.
 */
export const GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;

export interface MetricsInput {
  snapshot: Snapshot;
  /** chaos-daemon's background processes from the collection's /proc scan; null when it failed or was off. */
  bpm: BpmReport | null;
  /** Collectors run outside collection.ts, for chaos_daemon_scrape_collector_*. */
  extraCollectors: CollectorResult[];
  firstSeen: FirstSeenLookup;
  /** --compat-metrics: repeat the Chaos Mesh series once per container. */
  compatMetrics: boolean;
  /** --max-rules-per-pod: iptables rules exported per pod at most (chaos chains first). */
  maxRulesPerPod?: number;
}

/** One collection's metrics, rendered once. */
export interface RenderedMetrics {
  prometheus: Buffer;
  prometheusGzip: Buffer;
  openMetrics: Buffer;
  openMetricsGzip: Buffer;
  /** Number of samples (lines that are not comments) in the Prometheus rendering. */
  samples: number;
}

/** A fresh registry holding one collection's series; yields to the event loop between slices of work. */
export async function buildCollectionRegistry(input: MetricsInput, signal?: AbortSignal): Promise<Registry> {
  const slicer = new Slicer(undefined, signal);
  const registry = new Registry();
  registerRuntimeMetrics(registry, input.snapshot);
  await slicer.point();
  registerInjectionMetrics(registry, input.snapshot, input.firstSeen, input.maxRulesPerPod);
  registerKubeMetrics(registry, input.snapshot);
  await slicer.point();
  registerQdiscMetrics(registry, input.snapshot);
  await slicer.point();
  await registerCompatMetrics(registry, input.snapshot, { perContainer: input.compatMetrics, slicer, ...(input.maxRulesPerPod !== undefined ? { maxRulesPerPod: input.maxRulesPerPod } : {}) });
  registerContainerStatsMetrics(registry, input.snapshot);
  registerBpmMetrics(registry, input.bpm);
  registerSelfMetrics(registry, input.snapshot, input.extraCollectors);
  return registry;
}

/** Instruments that live as long as the process: request/command histograms, error counter, default metrics. */
export class PersistentMetrics {
  readonly registry = new Registry();
  /** CallObserver for Inventory: feeds chaos_daemon_runtime_request_duration_seconds. */
  readonly onCall: CallObserver;
  /** onCommand of the NetnsReader (tools reader runs): feeds chaos_daemon_netns_command_duration_seconds and chaos_daemon_netns_errors_total. */
  readonly onCommand: (c: CommandObservation) => void;
  /** chaos_daemon_bpm_controlled_process_total. */
  readonly bpmStarts: BpmStartCounter;
  /** onFallback for NetnsReader: feeds chaos_daemon_netns_reader_fallbacks_total. */
  readonly onFallback: (reason: string) => void;
  /** onRead for NetnsReader: feeds chaos_daemon_netns_read_duration_seconds and netlink failures of chaos_daemon_netns_errors_total. */
  readonly onRead: (e: { reader: string; seconds: number; failures: string[] }) => void;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      for (const name of GAUGES_NAMED_TOTAL) this.registry.removeSingleMetric(name);
    }
    this.onCall = runtimeRequestHistogram(this.registry).observe;
    const netns = netnsInstruments(this.registry);
    this.onCommand = netns.observe;
    this.onFallback = netns.fallback;
    this.onRead = netns.read;
    this.bpmStarts = new BpmStartCounter(this.registry);
  }

  /** Render a collection registry together with the long-lived one; calls are serialised. */
  render(collection: Registry, signal?: AbortSignal): Promise<RenderedMetrics> {
    const run = this.queue.then(() => renderBoth(Registry.merge([collection, this.registry]), signal));
    this.queue = run.catch(() => undefined); // the caller gets the rejection; the queue only keeps order
    return run;
  }
}

/**
 * Render a registry in both formats (render-text.ts: prom-client's public API, in slices that yield to the event
 * loop), then gzip both on the thread pool. The texts' strings are dropped once copied to buffers.
 */
export async function renderBoth(reg: Registry, signal?: AbortSignal): Promise<RenderedMetrics> {
  const promText = await renderText(reg, signal ? { openMetrics: false, signal } : { openMetrics: false });
  const samples = countSamples(promText);
  const prometheus = Buffer.from(promText, 'utf8');
  const openMetrics = Buffer.from(await renderText(reg, signal ? { openMetrics: true, signal } : { openMetrics: true }), 'utf8');
  const [prometheusGzip, openMetricsGzip] = await Promise.all([gzip(prometheus), gzip(openMetrics)]);
  return { prometheus, prometheusGzip, openMetrics, openMetricsGzip, samples };
}
