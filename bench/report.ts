/**
 * The benchmark's results: their JSON shape (bench/results.json), the target checks of issue 5, and the
 * Markdown tables printed at the end (pasted into the README as they are).
 */
import { writeFile } from 'node:fs/promises';
import type { Summary } from './measure.js';
import { round } from './measure.js';
import type { ServeLoadResult } from './serve-load.js';

export interface SideResult {
  /** Wall time of one collection, ms. */
  wallMs: Summary;
  /** CPU (user+system) of the bench process plus its reaped children (the tools), ms. */
  cpuMs: Summary;
  /** CPU of the spawned tools only (cutime+cstime), ms. */
  childCpuMs: Summary;
  /** CPU containerd spent answering, ms (utime+stime delta of the containerd process). */
  runtimeCpuMs: Summary;
  spawns: number[];
  runtimeCalls: number[];
  series: number;
  bytes: number;
}

export interface SetupResult {
  /** Pods created at this level (on top of the previous level's). */
  created: number;
  createSeconds: number;
  /** runPod (sandbox + 2 containers + status) latency per pod, ms, with `concurrency` at once. */
  perPodMs: Summary;
  injectSeconds: number;
  concurrency: number;
}

export interface LevelResult {
  pods: number;
  containers: number;
  setup: SetupResult;
  baseline: SideResult;
  agent: SideResult & {
    /** collect() alone (without the metrics pipeline), ms. */
    collectMs: Summary;
    /** Pods the agent reported with an active partition + bandwidth verdict (must equal `pods`). */
    activeChaosPods: number;
    maxConcurrentTools: number;
    /** VmRSS of the agent worker process after its last collection at this level, and its collections so far. */
    rssBytes: number;
    collectionsSoFar: number;
  };
  /** Ratio of medians baseline / agent. */
  speedup: number;
  cpuRatio: number;
  serve: ServeLoadResult | null;
  /** RSS of the bench process (where the baseline ran) at the end of the rounds. */
  benchRssBytes: number;
  loadavg: { min: number; mean: number; max: number; n: number };
}

export interface TargetCheck {
  name: string;
  target: string;
  measured: string;
  pass: boolean;
}

export interface BenchResults {
  date: string;
  machine: { cpus: number; model: string; kernel: string; node: string; memTotalMB: number };
  config: {
    podCounts: number[];
    containersPerPod: number;
    rounds: number;
    quick: boolean;
    connections: number;
    loadSeconds: number;
    serveIntervalMs: number;
    minCollections: number;
    netnsConcurrency: number;
  };
  containerdStartSeconds: number;
  levels: LevelResult[];
  targets: TargetCheck[];
  teardownSeconds: number | null;
  loadavg: { min: number; mean: number; max: number; n: number };
  notes: string[];
}

const fmt = (v: number, d = 0): string => (Number.isFinite(v) ? round(v, d).toFixed(d) : 'n/a');
const span = (s: Summary, d = 0): string => `${fmt(s.median, d)} [${fmt(s.min, d)}–${fmt(s.max, d)}]`;
const uniq = (xs: number[]): string => [...new Set(xs)].join('/');
const mb = (b: number): string => fmt(b / (1 << 20), 1);
const kb = (b: number): string => fmt(b / 1024, 0);

/**
 * Checks of issue 5. Linear growth: agent wall time per pod at the largest N is at most 1.25x the per-pod time
 * at the smallest N >= 10 (a super-linear collector would show a growing per-pod cost).
 */
export function checkTargets(levels: LevelResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const at110 = levels.find((l) => l.pods === 110) ?? levels[levels.length - 1];
  if (at110) {
    checks.push({ name: `collection speed-up at ${at110.pods} pods`, target: '>= 3x (ratio of medians)', measured: `${fmt(at110.speedup, 2)}x`, pass: at110.speedup >= 3 });
    if (at110.serve) {
      const s = at110.serve.load;
      checks.push({ name: `scrape p99 at ${at110.pods} pods, ${s.connections} clients`, target: '< 50 ms, 0 errors', measured: `${s.latencyMs.p99} ms, ${s.errors + s.non2xx} errors`, pass: s.latencyMs.p99 < 50 && s.errors + s.non2xx === 0 });
      checks.push({ name: `serve RSS at ${at110.pods} pods`, target: '< 120 MB', measured: `${mb(at110.serve.memory.rssBytes)} MB after ${at110.serve.collections} collections`, pass: at110.serve.memory.rssBytes < 120 * (1 << 20) });
    }
  }
  const sized = levels.filter((l) => l.pods >= 10);
  if (sized.length >= 2) {
    const first = sized[0]!;
    const last = sized[sized.length - 1]!;
    const perPod = (l: LevelResult): number => l.agent.wallMs.median / l.pods;
    const growth = perPod(last) / perPod(first);
    checks.push({
      name: 'collection time grows linearly',
      target: `ms/pod at ${last.pods} <= 1.25x ms/pod at ${first.pods}`,
      measured: sized.map((l) => `${l.pods}: ${fmt(perPod(l), 2)} ms/pod`).join(', '),
      pass: growth <= 1.25,
    });
  }
  const calls = levels.flatMap((l) => l.agent.runtimeCalls);
  checks.push({
    name: 'runtime calls per steady-state collection',
    target: 'independent of pod count',
    measured: levels.map((l) => `${l.pods}: ${uniq(l.agent.runtimeCalls)}`).join(', '),
    pass: calls.length > 0 && new Set(calls).size === 1,
  });
  return checks;
}

export function renderTables(r: BenchResults): string {
  const out: string[] = [];
  out.push(`Benchmark ${r.date} — ${r.machine.cpus} × ${r.machine.model}, kernel ${r.machine.kernel}, node ${r.machine.node}; ` +
    `${r.config.rounds} rounds per N (alternating), load average during the run ${r.loadavg.mean} (min ${r.loadavg.min}, max ${r.loadavg.max})`);
  out.push('');
  out.push('One full collection (median [min–max] over rounds; CPU = collector process + its tools; runtime CPU = containerd):');
  out.push('');
  out.push('| pods (containers) | chaos-daemon ms | agent ms | speed-up | CPU ms daemon / agent | runtime CPU ms daemon / agent | nsenter runs daemon / agent | runtime calls daemon / agent | series daemon / agent |');
  out.push('|---|---|---|---|---|---|---|---|---|');
  for (const l of r.levels) {
    out.push(`| ${l.pods} (${l.containers}) | ${span(l.baseline.wallMs)} | ${span(l.agent.wallMs)} | ${fmt(l.speedup, 2)}x | ` +
      `${fmt(l.baseline.cpuMs.median)} / ${fmt(l.agent.cpuMs.median)} | ${fmt(l.baseline.runtimeCpuMs.median)} / ${fmt(l.agent.runtimeCpuMs.median)} | ` +
      `${uniq(l.baseline.spawns)} / ${uniq(l.agent.spawns)} | ${uniq(l.baseline.runtimeCalls)} / ${uniq(l.agent.runtimeCalls)} | ${l.baseline.series} / ${l.agent.series} |`);
  }
  const served = r.levels.filter((l) => l.serve);
  if (served.length) {
    out.push('');
    out.push(`\`serve\` (separate process, --interval ${r.config.serveIntervalMs} ms) under ${r.config.connections} concurrent /metrics clients for ${r.config.loadSeconds} s (Prometheus headers: OpenMetrics, gzip):`);
    out.push('');
    out.push('| pods | requests | p50 ms | p99 ms | max ms | errors | collections during load | RSS MB at first collection | RSS MB (peak) after N collections | /metrics series | bytes (gzip) |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const l of served) {
      const s = l.serve!;
      out.push(`| ${l.pods} | ${s.load.requests} | ${s.load.latencyMs.p50} | ${s.load.latencyMs.p99} | ${s.load.latencyMs.max} | ${s.load.errors + s.load.non2xx + s.load.timeouts} | ` +
        `${s.load.collectionsDuringLoad} | ${mb(s.memoryAtReady.rssBytes)} | ${mb(s.memory.rssBytes)} (${mb(s.memory.hwmBytes)}) after ${s.collections} | ${s.series} | ${kb(s.bytes)} KiB (${kb(s.gzipBytes)} KiB) |`);
    }
  }
  out.push('');
  out.push(`Agent worker RSS after its collections: ${r.levels.map((l) => `${l.pods} pods: ${mb(l.agent.rssBytes)} MB after ${l.agent.collectionsSoFar}`).join(', ')}; ` +
    `bench process (baseline) RSS: ${r.levels.map((l) => `${mb(l.benchRssBytes)} MB`).join(', ')}.`);
  out.push('');
  out.push('Setup: ' + r.levels.map((l) => `+${l.setup.created} pods in ${fmt(l.setup.createSeconds, 1)} s (runPod ${span(l.setup.perPodMs)} ms, ${l.setup.concurrency} at once), chaos state in ${fmt(l.setup.injectSeconds, 1)} s`).join('; ') +
    `; containerd start ${fmt(r.containerdStartSeconds, 1)} s; teardown ${r.teardownSeconds === null ? 'n/a' : `${fmt(r.teardownSeconds, 1)} s`}.`);
  out.push('');
  out.push('Targets:');
  for (const t of r.targets) out.push(`- [${t.pass ? 'PASS' : 'MISS'}] ${t.name}: ${t.measured} (target ${t.target})`);
  for (const n of r.notes) out.push(`- note: ${n}`);
  return out.join('\n') + '\n';
}

export async function writeResults(path: string, r: BenchResults): Promise<void> {
  await writeFile(path, JSON.stringify(r, null, 2) + '\n');
}
