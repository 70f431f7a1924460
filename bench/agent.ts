/**
 * The agent's own collection path, in the bench process, wired exactly as `serve` / `metrics` wire it
 * (agent/metrics/node-collector.ts + MetricsPipeline): Config from the real flag parser, one long-lived Inventory
 * (CRI clients and their caches) and one NetnsRunner shared by every collection, then `collect()` (discovery of
 * runtimes and pods, every namespace read once, parse, fingerprint, container stats) and `pipeline.process()`
 * (bpm /proc scan, injection tracker, fresh registry, Prometheus + OpenMetrics rendering, gzip).
 * Built here instead of through createNodeCollector only to read Inventory.requestCount() and NetnsRunner.spawns.
 */
import { collect } from '../agent/collection.js';
import { loadConfig, type Config } from '../agent/config.js';
import { silentLogger } from '../agent/log.js';
import { MetricsPipeline } from '../agent/metrics/pipeline.js';
import { PersistentMetrics } from '../agent/metrics/registry.js';
import { NetnsRunner } from '../agent/netns/exec.js';
import { Inventory } from '../agent/runtime/inventory.js';
import type { Snapshot } from '../agent/snapshot.js';
import { cpuSince, cpuSnapshot, type CpuDelta } from './measure.js';

export interface AgentSample {
  /** collect() + pipeline.process(), milliseconds. */
  wallMs: number;
  /** The snapshot's own duration (collect() only). */
  collectMs: number;
  cpu: CpuDelta;
  spawns: number;
  runtimeCalls: number;
  pods: number;
  /** Samples and bytes of the Prometheus rendering. */
  series: number;
  bytes: number;
  /** Pods whose verdict is active with both partition and bandwidth found. */
  activeChaosPods: number;
  /** Human sentences: pod errors and failed collectors. */
  errors: string[];
  /** The concurrency the runner reached. */
  maxActive: number;
}

export class InProcessAgent {
  readonly cfg: Config;
  readonly inventory: Inventory;
  readonly runner: NetnsRunner;
  private readonly pipeline: MetricsPipeline;
  lastSnapshot: Snapshot | null = null;

  constructor(endpoint: string, extraFlags: string[] = []) {
    this.cfg = loadConfig(['metrics', '--runtime-endpoint', endpoint, ...extraFlags], {});
    const log = silentLogger();
    const persistent = new PersistentMetrics();
    this.inventory = new Inventory(this.cfg, { log, onCall: persistent.onCall });
    this.runner = new NetnsRunner({
      nsenterPath: this.cfg.nsenterPath,
      concurrency: this.cfg.netnsConcurrency,
      timeoutMs: this.cfg.commandTimeoutMs,
      maxOutputBytes: this.cfg.maxOutputBytes,
      onCommand: persistent.onCommand,
    });
    this.pipeline = new MetricsPipeline({ procRoot: this.cfg.procRoot, compatMetrics: this.cfg.compatMetrics, persistent, log });
  }

  async collectOnce(): Promise<AgentSample> {
    const calls0 = this.inventory.requestCount();
    const spawns0 = this.runner.spawns;
    this.runner.maxActive = 0;
    const cpu0 = cpuSnapshot();
    const t0 = performance.now();
    const snapshot = await collect({ inventory: this.inventory, runner: this.runner, procRoot: this.cfg.procRoot, log: silentLogger() });
    const { metrics } = await this.pipeline.process(snapshot);
    const wallMs = performance.now() - t0;
    const cpu = cpuSince(cpu0);
    this.lastSnapshot = snapshot;
    const errors = [
      ...snapshot.collectors.filter((c) => !c.success).map((c) => `collector ${c.collector}: ${c.error ?? 'failed'}`),
      ...snapshot.pods.flatMap((p) => p.errors.map((e) => `${p.namespace}/${p.name}: ${e}`)),
    ];
    return {
      wallMs,
      collectMs: snapshot.durationSeconds * 1000,
      cpu,
      spawns: this.runner.spawns - spawns0,
      runtimeCalls: this.inventory.requestCount() - calls0,
      pods: snapshot.pods.length,
      series: metrics.samples,
      bytes: metrics.prometheus.length,
      activeChaosPods: snapshot.pods.filter((p) => p.chaos.verdict === 'active' && p.chaos.kinds.includes('partition') && p.chaos.kinds.includes('bandwidth')).length,
      errors,
      maxActive: this.runner.maxActive,
    };
  }

  close(): void {
    this.runner.killAll();
    this.inventory.close();
  }
}
