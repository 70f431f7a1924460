/**
 * Builds FRESH families per collection from a Snapshot (families.ts, so vanished pods disappear), keeps the
 * long-lived instruments (histograms, counters, prom-client's default process/nodejs metrics) in a prom-client
 * registry, and renders both per collection into the exposition variants scrapers want (exposition.ts), so that
 * answering a scrape costs a buffer write.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { CallObserver } from '../runtime/types.js';
import type { CollectorResult, Snapshot } from '../snapshot.js';
import type { BpmReport } from '../proc/bpm.js';
import { BpmStartCounter, registerBpmMetrics } from './bpm.js';
import { registerCompatMetrics } from './compat.js';
import type { CompatLabelCache } from './compat-labels.js';
import { ContainerStatsCache, registerContainerStatsMetrics } from './container-stats.js';
import { registerInjectionMetrics, type FirstSeenLookup } from './injection.js';
import type { HeldPod } from './injection-tracker.js';
import { registerKubeMetrics } from './kube.js';
import { PodBlockCache } from './pod-blocks.js';
import { registerQdiscMetrics } from './qdisc.js';
import { RenderedMetrics, type ExpositionDemand, type ExpositionFormat, type RenderedBody } from './exposition.js';
import { renderBody } from './exposition-body.js';
import { BodyPool } from './body-pool.js';
import { readRegistry, type FamilyData } from './render-text.js';
import { CollectionFamilies } from './families.js';
import { DEFAULT_SLICE_MS, Slicer } from './slicer.js';
import { registerRuntimeMetrics, runtimeRequestHistogram } from './runtime.js';
import { netnsInstruments, registerSelfMetrics, type CommandObservation } from './self.js';
import { replaceOpenFdsGauge } from './open-fds.js';

/**
 * How often prom-client's event-loop delay histogram (nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds)
 * samples, ms. Its default, 10 ms, is a libuv timer waking the event loop 100 times a second for the agent's whole
 * life: 10.7 ms of CPU per second on an idle process here (perf_hooks.monitorEventLoopDelay alone); in serve at 110
 * pods, V8's threads included, ~270 ms per 15 s collection interval, about what a collection costs. At 100 ms it
 * costs ~1 ms per second. The delays
 * it records include the interval (prom-client's documented behaviour): their minimum is ~0.1 s by construction, and
 * a block shorter than the interval is seen only when a sample falls due during it.
 */
export const EVENT_LOOP_PRECISION_MS = 100;

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
  /** Pods held through a runtime outage (InjectionTracker.held): their injection and drift series go on; none: no pod held. */
  held?: readonly HeldPod[];
  /** --compat-metrics: repeat the Chaos Mesh series once per container. */
  compatMetrics: boolean;
  /** --max-rules-per-pod: iptables rules exported per pod at most (chaos chains first). */
  maxRulesPerPod?: number;
  /** The compat series' label texts kept across collections (compat-labels.ts); none: built afresh. */
  compatCache?: CompatLabelCache;
  /** The per-pod and per-container lines kept across collections (pod-blocks.ts, container-stats.ts); none: built afresh. */
  lineCaches?: LineCaches;
}

/** The exposition's caches other than the compat labels, kept by a pipeline from one collection to the next. */
export class LineCaches {
  readonly injection = new PodBlockCache();
  readonly qdisc = new PodBlockCache();
  readonly containers = new ContainerStatsCache();
}

/** Fresh families holding one collection's series; yields to the event loop between slices of work. */
export async function buildCollectionFamilies(input: MetricsInput, signal?: AbortSignal): Promise<CollectionFamilies> {
  const slicer = new Slicer(undefined, signal);
  const registry = new CollectionFamilies();
  const caches = input.lineCaches ?? new LineCaches();
  registerRuntimeMetrics(registry, input.snapshot);
  await slicer.point();
  await registerInjectionMetrics(registry, input.snapshot, input.firstSeen, input.maxRulesPerPod, slicer, caches.injection, input.held);
  await slicer.point();
  registerKubeMetrics(registry, input.snapshot, input.held);
  await slicer.point();
  await registerQdiscMetrics(registry, input.snapshot, slicer, caches.qdisc);
  await slicer.point();
  await registerCompatMetrics(registry, input.snapshot, {
    perContainer: input.compatMetrics, slicer,
    ...(input.maxRulesPerPod !== undefined ? { maxRulesPerPod: input.maxRulesPerPod } : {}),
    ...(input.compatCache ? { cache: input.compatCache } : {}),
  });
  await slicer.point();
  await registerContainerStatsMetrics(registry, input.snapshot, slicer, caches.containers);
  await slicer.point();
  registerBpmMetrics(registry, input.bpm);
  registerSelfMetrics(registry, input.snapshot, input.extraCollectors);
  // Rendering follows at once with a fresh slice of its own: the rest of this one is not carried into it.
  await slicer.point();
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
  /**
   * onRead for NetnsReader: feeds chaos_daemon_netns_read_duration_seconds, netlink failures of
   * chaos_daemon_netns_errors_total and chaos_daemon_netns_reads_unchanged_total.
   */
  readonly onRead: (e: { reader: string; seconds: number; failures: string[]; unchanged?: boolean }) => void;
  /** The bodies' backings, reused once a collection's exposition is retired (body-pool.ts, scheduler.ts). */
  readonly bodies = new BodyPool();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_PRECISION_MS });
      for (const name of GAUGES_NAMED_TOTAL) this.registry.removeSingleMetric(name);
      replaceOpenFdsGauge(this.registry);
    }
    this.onCall = runtimeRequestHistogram(this.registry).observe;
    const netns = netnsInstruments(this.registry);
    this.onCommand = netns.observe;
    this.onFallback = netns.fallback;
    this.onRead = netns.read;
    this.bpmStarts = new BpmStartCounter(this.registry);
  }

  /**
   * A collection's families followed by the long-lived registry, as an exposition: the variants `demand` wants are
   * rendered now (aborted with `signal`), any other on its first request. Renderings are serialised.
   */
  render(collection: CollectionFamilies, signal?: AbortSignal, demand: ExpositionDemand | null = null): Promise<RenderedMetrics> {
    const serialise = <T>(run: () => Promise<T>): Promise<T> => {
      const p = this.queue.then(run);
      this.queue = p.catch(() => undefined); // the caller gets the rejection; the queue only keeps order
      return p;
    };
    return renderRegistry(this.registry, { ...(signal ? { signal } : {}), demand, serialise, collection, pool: this.bodies });
  }
}

/**
 * A registry, after the collection's families if any, as an exposition (exposition.ts, exposition-body.ts), in
 * slices that yield to the event loop. Only the renderings made up front are bound to `signal`; a later scrape's is
 * not. `serialise` orders renderings that share instruments.
 */
export async function renderRegistry(
  reg: Registry,
  opts: {
    signal?: AbortSignal;
    demand?: ExpositionDemand | null;
    serialise?: <T>(run: () => Promise<T>) => Promise<T>;
    collection?: CollectionFamilies;
    /** Synchronous work between two yields to the event loop (default DEFAULT_SLICE_MS). */
    sliceMs?: number;
    /** Where the bodies' buffers come from (default: fresh ones). */
    pool?: BodyPool;
  } = {},
): Promise<RenderedMetrics> {
  let upFront = true;
  const serialise = opts.serialise ?? (<T>(run: () => Promise<T>) => run());
  const families = opts.collection?.families ?? [];
  // The registry is read once, by the first rendering, and every variant (made now or on a later first request)
  // writes that reading: one collection publishes the same values whatever the format (render-text.ts readRegistry).
  let reading: Promise<FamilyData[]> | null = null;
  const render = (format: ExpositionFormat): Promise<RenderedBody> => {
    const slicer = new Slicer(opts.sliceMs ?? DEFAULT_SLICE_MS, upFront ? opts.signal : undefined);
    const pool = opts.pool;
    const take = pool ? (size: number) => pool.take(size) : undefined;
    return serialise(async () => renderBody(families, await (reading ??= readRegistry(reg, slicer)), format === 'openmetrics', slicer, take));
  };
  try {
    return await RenderedMetrics.create(render, opts.demand ?? null);
  } finally {
    upFront = false;
  }
}
