/**
 * The agent's own collection path, in the bench process, wired exactly as `serve` / `metrics` wire it
 * (agent/metrics/node-collector.ts + MetricsPipeline): Config from the real flag parser, one long-lived Inventory
 * (CRI clients and their caches) and one NetnsReader shared by every collection, then `collect()` (discovery of
 * runtimes and pods, every namespace read once, parse, fingerprint, container stats) and `pipeline.process()`
 * (bpm /proc scan, injection tracker, fresh registry, Prometheus + OpenMetrics rendering, gzip).
 * Built here instead of through createNodeCollector only to read Inventory.requestCount() and NetnsReader.spawns.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { collect, namedNetnsDir } from '../agent/collection.js';
import { VerdictMemo } from '../agent/collect/verdict-memo.js';
import { ProcScanMemo } from '../agent/collect/proc.js';
import { loadConfig, type Config } from '../agent/config.js';
import { AgentError } from '../agent/errors.js';
import { silentLogger } from '../agent/log.js';
import { ExpositionDemand, type ExpositionVariant } from '../agent/metrics/exposition.js';
import { MetricsPipeline } from '../agent/metrics/pipeline.js';
import { PersistentMetrics } from '../agent/metrics/registry.js';
import { createNetnsReader, type NetnsReader } from '../agent/netns/read.js';
import { exporterRootReader } from '../agent/metrics/node-collector.js';
import type { RootReader } from '../agent/proc/root-reader.js';
import { Inventory } from '../agent/runtime/inventory.js';
import { CgroupStatsReader, OWN_CGROUP_ROOT, hostCgroupRoot } from '../agent/runtime/cgroup-stats.js';
import { collectionSoftDeadlineMs } from '../agent/scheduler.js';
import type { Snapshot } from '../agent/snapshot.js';
import { onLines } from './children.js';
import { LoopBlocks } from './loop-blocks.js';
import { cpuSince, cpuSnapshot, type CpuDelta } from './measure.js';

/** What Prometheus 2.x negotiates (bench/serve-load.ts sends its Accept header). */
const PROMETHEUS_SCRAPE: ExpositionVariant = { format: 'openmetrics', gzip: true };

export interface AgentSample {
  /** collect() + pipeline.process(), milliseconds. */
  wallMs: number;
  /** The snapshot's own duration (collect() only). */
  collectMs: number;
  /** CPU of the whole process (main thread + netlink reader threads) and of the tools it waited for. */
  cpu: CpuDelta;
  /** Split of the collection: collect() (runtime, namespace reads, fingerprint) and the metrics pipeline. */
  phases: { collectCpuMs: number; pipelineWallMs: number; pipelineCpuMs: number };
  /** CPU the netlink reader threads reported for their reads (schedstat of each thread), ms. */
  readerCpuMs: number;
  /** Namespace reads and, among them, reads `auto` redid through the tools (by reason). */
  reads: number;
  fallbacks: number;
  fallbackReasons: Record<string, number>;
  /** Pods by verdict. */
  verdicts: Record<string, number>;
  spawns: number;
  runtimeCalls: number;
  pods: number;
  /** Samples of the rendering, and bytes of its OpenMetrics text (what a Prometheus scrape reads, before gzip). */
  series: number;
  bytes: number;
  /** Pods whose verdict is active with both partition and bandwidth found. */
  activeChaosPods: number;
  /** Human sentences: pod errors and failed collectors. */
  errors: string[];
  /** The concurrency the runner reached. */
  maxActive: number;
  /** Longest event-loop block per phase, ms (only with the loop-blocks probe on: bench/loop-blocks.ts). */
  loopBlocks?: Record<string, number>;
}

export class InProcessAgent {
  readonly cfg: Config;
  readonly inventory: Inventory;
  private readonly cgroups: CgroupStatsReader;
  readonly reader: NetnsReader;
  readonly rootReader: RootReader;
  private readonly pipeline: MetricsPipeline;
  private readerCpuSeconds = 0;
  private readonly blocks: LoopBlocks | null;
  private readonly verdicts = new VerdictMemo();
  private readonly procScans = new ProcScanMemo();
  lastSnapshot: Snapshot | null = null;

  constructor(endpoint: string, extraFlags: string[] = [], opts: { loopBlocks?: boolean } = {}) {
    this.blocks = opts.loopBlocks ? new LoopBlocks() : null;
    this.blocks?.start();
    this.cfg = loadConfig(['metrics', '--runtime-endpoint', endpoint, ...extraFlags], {});
    const log = silentLogger();
    const persistent = new PersistentMetrics();
    this.inventory = new Inventory(this.cfg, { log, onCall: persistent.onCall });
    this.cgroups = new CgroupStatsReader({ cgroupRoot: hostCgroupRoot(this.cfg.hostRoot), procRoot: this.cfg.procRoot, ownCgroupRoot: OWN_CGROUP_ROOT });
    // The hooks node-collector.ts gives the reader, plus the reader threads' CPU.
    this.reader = createNetnsReader(this.cfg, {
      log,
      onCommand: (r) => persistent.onCommand({ tool: r.tool, seconds: r.seconds, ok: r.error === null, reason: r.error?.reason ?? null }),
      onFallback: (reason) => persistent.onFallback(reason),
      onRead: (e) => {
        persistent.onRead(e);
        this.readerCpuSeconds += e.cpuSeconds;
      },
    });
    this.rootReader = exporterRootReader(this.reader, log, true); // as serve
    // Rendered as for a Prometheus server scraping it: OpenMetrics, gzip (serve renders what its scrapers ask for).
    const demand = new ExpositionDemand([PROMETHEUS_SCRAPE]);
    this.pipeline = new MetricsPipeline({ compatMetrics: this.cfg.compatMetrics, maxRulesPerPod: this.cfg.maxRulesPerPod, persistent, demand, log });
  }

  async collectOnce(): Promise<AgentSample> {
    const calls0 = this.inventory.requestCount();
    const spawns0 = this.reader.spawns;
    const fallbacks0 = new Map(this.reader.fallbacks);
    const readerCpu0 = this.readerCpuSeconds;
    const cpu0 = cpuSnapshot();
    const t0 = performance.now();
    const snapshot = await collect(
      { inventory: this.inventory, reader: this.reader, rootReader: this.rootReader, procRoot: this.cfg.procRoot, log: silentLogger(), namedNetnsDir: namedNetnsDir(this.cfg.hostRoot), verdicts: this.verdicts, procScans: this.procScans, cgroups: this.cgroups },
      { deadlineMs: collectionSoftDeadlineMs(this.cfg.intervalMs) },
    );
    const cpu1 = cpuSnapshot();
    const t1 = performance.now();
    const { metrics } = await this.pipeline.process(snapshot);
    const t2 = performance.now();
    const bytes = metrics.bytes; // the gzip's input, given back to the pool once gzipped
    const wallMs = t2 - t0;
    // Worker threads are in this process's CPU; the tools (when read through them) are reaped children.
    const cpu = cpuSince(cpu0);
    const fallbackReasons: Record<string, number> = {};
    for (const [reason, n] of this.reader.fallbacks) {
      const d = n - (fallbacks0.get(reason) ?? 0);
      if (d > 0) fallbackReasons[reason] = d;
    }
    const verdicts: Record<string, number> = {};
    for (const p of snapshot.pods) verdicts[p.chaos.verdict] = (verdicts[p.chaos.verdict] ?? 0) + 1;
    this.lastSnapshot = snapshot;
    // Loops, not per-call closures: this harness runs in the measured process, and V8 recompiles a per-call closure
    // every few collections (agent/chaos/processes.ts).
    const errors: string[] = [];
    let activeChaosPods = 0;
    for (const c of snapshot.collectors) if (!c.success) errors.push(`collector ${c.collector}: ${c.error ?? 'failed'}`);
    for (const p of snapshot.pods) {
      for (const e of p.errors) errors.push(`${p.namespace}/${p.name}: ${e}`);
      if (p.chaos.verdict === 'active' && p.chaos.kinds.includes('partition') && p.chaos.kinds.includes('bandwidth')) activeChaosPods++;
    }
    return {
      wallMs,
      collectMs: snapshot.durationSeconds * 1000,
      cpu,
      phases: { collectCpuMs: cpuSince(cpu0, cpu1).totalMs, pipelineWallMs: wallMs - (t1 - t0), pipelineCpuMs: cpuSince(cpu1).totalMs },
      readerCpuMs: (this.readerCpuSeconds - readerCpu0) * 1000,
      reads: snapshot.reads ?? 0,
      fallbacks: Object.values(fallbackReasons).reduce((a, b) => a + b, 0),
      fallbackReasons,
      verdicts,
      // Processes launched for the collection (one nsenter per tool run by the tools reader; 0 over netlink).
      spawns: this.reader.spawns - spawns0,
      runtimeCalls: this.inventory.requestCount() - calls0,
      pods: snapshot.pods.length,
      series: metrics.samples,
      bytes,
      activeChaosPods,
      errors,
      maxActive: this.cfg.netnsConcurrency,
      ...(this.blocks ? { loopBlocks: this.blocks.take(t0, t1, t2, snapshot.collectors) } : {}),
    };
  }

  close(): void {
    this.blocks?.stop();
    void this.reader.close();
    void this.rootReader.close();
    this.inventory.close();
    this.cgroups.close();
    this.procScans.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The same agent in a process of its own (bench/agent-worker.ts): its RSS, and so its fork() cost per tool, is
// that of a real agent rather than the bench's (which also holds the harness, the baseline and autocannon).

export interface WorkerSample extends AgentSample {
  /** VmRSS of the worker process after this collection, bytes. */
  rssBytes: number;
}

export class AgentProcess {
  private child: ChildProcess | null = null;
  private waiting: { resolve: (s: WorkerSample) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  private stderr = '';

  constructor(
    private readonly workerPath: string,
    private readonly endpoint: string,
    private readonly requestTimeoutMs = 300_000,
    /** V8 flags for the worker: the agent's shipped ones (bin/node-flags.js), so its RSS is the agent's. */
    private readonly nodeFlags: readonly string[] = [],
    /** Agent flags for the worker's Config (e.g. --reader nsenter). */
    private readonly agentFlags: readonly string[] = [],
    /** Environment on top of PATH: the image's (measure.ts shippedEnv: MALLOC_ENV), so its RSS and CPU are the agent's. */
    private readonly env: Readonly<Record<string, string>> = {},
  ) {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  start(): void {
    const child = spawn(process.execPath, [...this.nodeFlags, this.workerPath, this.endpoint, ...this.agentFlags], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...this.env },
    });
    this.child = child;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => {
      this.stderr = (this.stderr + c).slice(-8192);
    });
    const overflow = (n: number): void => this.fail(new AgentError('BENCH_WORKER', `agent worker printed ${n} characters without a newline (at most 16 MiB)`));
    onLines(child.stdout!, (line) => this.answer(line), 16 << 20, overflow);
    child.once('exit', (code, sig) => this.fail(new AgentError('BENCH_WORKER', `agent worker exited (${code ?? sig}): ${this.stderr.slice(-2000)}`)));
    child.once('error', (err) => this.fail(new AgentError('BENCH_WORKER', `agent worker: ${err.message}`, { cause: err })));
  }

  /** One line of the worker's stdout: the answer to the collection awaited, if any. */
  private answer(line: string): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = null;
    clearTimeout(w.timer);
    try {
      const msg = JSON.parse(line) as { ok: true; sample: WorkerSample } | { ok: false; error: string };
      if (msg.ok) w.resolve(msg.sample);
      else w.reject(new AgentError('BENCH_WORKER', `agent worker: ${msg.error}`));
    } catch (err) {
      w.reject(new AgentError('BENCH_WORKER', `agent worker printed invalid JSON: ${line.slice(0, 200)}`, { cause: err }));
    }
  }

  private fail(err: Error): void {
    const w = this.waiting;
    this.waiting = null;
    if (w) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  collectOnce(): Promise<WorkerSample> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.reject(new AgentError('BENCH_WORKER', `agent worker not running: ${this.stderr.slice(-2000)}`));
    if (this.waiting) return Promise.reject(new AgentError('BENCH_WORKER', 'a collection is already running'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new AgentError('BENCH_WORKER', `no answer from the agent worker within ${this.requestTimeoutMs} ms`)), this.requestTimeoutMs);
      this.waiting = { resolve, reject, timer };
      child.stdin!.write('collect\n');
    });
  }

  /** Ask the worker to exit; SIGKILL (by PID) if it has not after 5 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stdin!.end('exit\n');
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Emergency stop (signal handler). */
  kill(): void {
    const child = this.child;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  }
}
