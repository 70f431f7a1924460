/**
 * The benchmark's results: their JSON shape (bench/results.json), the target checks of issue 9, and the Markdown
 * table printed at the end (pasted into the README as it is).
 */
import { writeFile } from 'node:fs/promises';
import type { CorpusName } from './inject.js';
import type { Summary } from './measure.js';
import { round, summarize } from './measure.js';
import type { Floor } from './load-clients.js';
import type { LoadResult, ServeLoadResult } from './serve-load.js';

export interface SideResult {
  /** Wall time of one collection, ms. */
  wallMs: Summary;
  /** CPU (user+system) of the collecting process, every thread, plus its reaped children (the tools), ms. */
  cpuMs: Summary;
  /** CPU of the spawned tools only (cutime+cstime), ms. */
  childCpuMs: Summary;
  /**
   * Of cpuMs, the kernel's part (system time of the process and of its reaped children), ms: what the reads cost in
   * syscalls alone, a floor no user-space change lowers. Absent from results written before 2026-11-30 15:00 UTC.
   */
  kernelCpuMs?: Summary;
  /** CPU containerd spent answering, ms (utime+stime delta of the containerd process). */
  runtimeCpuMs: Summary;
  spawns: number[];
  runtimeCalls: number[];
  series: number;
  bytes: number;
}

export interface SetupResult {
  /** Pods created for this row (on top of those already there). */
  created: number;
  createSeconds: number;
  /** runPod (sandbox + 2 containers + status) latency per pod, ms, with `concurrency` at once. */
  perPodMs: Summary | null;
  /** Time to bring the new pods (or, for a corpus applied in place, every pod) to the row's state. */
  injectSeconds: number;
  concurrency: number;
}

export interface AgentSide extends SideResult {
  /** collect() alone (without the metrics pipeline), ms. */
  collectMs: Summary;
  /** CPU the netlink reader threads spent, ms (their own clocks), and the rest of the process. */
  readerCpuMs: Summary;
  otherCpuMs: Summary;
  /** Namespace reads per collection, and reads `auto` redid through the tools. */
  reads: number[];
  fallbacks: number[];
  /** Pods by verdict in the last collection. */
  verdicts: Record<string, number>;
  /** VmRSS of the agent worker process after its last collection of this row, and its collections so far. */
  rssBytes: number;
  collectionsSoFar: number;
}

export interface RowResult {
  corpus: CorpusName;
  pods: number;
  containers: number;
  setup: SetupResult;
  baseline: SideResult;
  agent: AgentSide;
  /** Ratios of medians baseline / agent. */
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
    corpora: CorpusName[];
    containersPerPod: number;
    rounds: number;
    warmups: number;
    quick: boolean;
    connections: number;
    loadSeconds: number;
    idleCollections: number;
    serveIntervalMs: number;
    minCollections: number;
    netnsConcurrency: number;
    reader: string;
  };
  containerdStartSeconds: number;
  rows: RowResult[];
  targets: TargetCheck[];
  teardownSeconds: number | null;
  loadavg: { min: number; mean: number; max: number; n: number };
  notes: string[];
}

const fmt = (v: number, d = 0): string => (Number.isFinite(v) ? round(v, d).toFixed(d) : 'n/a');
const span = (s: Summary, d = 0): string => `${fmt(s.median, d)} [${fmt(s.min, d)}–${fmt(s.max, d)}]`;
const uniq = (xs: number[]): string => [...new Set(xs)].join('/');
const mb = (b: number): string => fmt(b / (1 << 20), 1);

/** Requests of one load phase that failed: errors, non-2xx answers, timeouts. */
function failures(l: LoadResult): number {
  return l.errors + l.non2xx + l.timeouts;
}

/** `p50 / p99 / max` of one load phase, with its failures. */
function latencies(l: LoadResult): string {
  const bad = failures(l);
  return `${l.latencyMs.p50} / ${l.latencyMs.p99} / ${l.latencyMs.max}${bad ? ` (${bad} errors)` : ''}`;
}

/** serve's windows of one phase, as summaries of the longest block and of the CPU per collection. */
export function windowsOf(serve: ServeLoadResult | null, phase: 'idle' | 'load'): { block: Summary; cpu: Summary } | null {
  const w = serve?.windows.filter((x) => x.phase === phase) ?? [];
  if (w.length === 0) return null;
  const perFiring = serve?.probeMsPerFiring ?? 0;
  return { block: summarize(w.map((x) => x.maxBlockMs)), cpu: summarize(w.map((x) => x.cpuMs - (x.firings ?? 0) * perFiring)) };
}

/**
 * What the probe's schedstat sampler saw of serve's windows of one phase (bench/loop-probe.ts; null for results
 * written before it): how many windows' longest gap was 10 ms or more (`over`), the run-queue wait in each of those
 * gaps (`overRunq`: the main thread runnable but not running: another thread on its CPU, or the hypervisor), and the longest gap less its run-queue
 * wait in any window (`ownMax`: the thread's own work, a blocking call, or the hypervisor holding the virtual CPU).
 */
export function runQueue(serve: ServeLoadResult | null, phase: 'idle' | 'load'): { over: number; overRunq: number[]; ownMax: number } | null {
  const w = (serve?.windows ?? []).filter((x) => x.phase === phase);
  if (w.length === 0 || w.some((x) => x.worst === undefined)) return null;
  const over = w.filter((x) => x.worst!.gapMs >= 10);
  return { over: over.length, overRunq: over.map((x) => x.worst!.runqMs), ownMax: Math.max(...w.map((x) => x.worst!.ownMaxMs)) };
}

/**
 * What the loop did in its busiest gap between two firings of the probe's timer, over serve's windows of one phase
 * (bench/loop-probe.ts; null for results written before it recorded them): `busyMax` the most time outside epoll in
 * one gap (the loop's own work and every wait inside it: preempted, a GC's join, a blocking call), `cpuMax` the most
 * CPU the main thread ran in one gap, `stealMs` /proc/stat's steal over the windows (every CPU).
 */
export function loopWork(serve: ServeLoadResult | null, phase: 'idle' | 'load'): { windows: number; busyMax: number; busyOver: number; cpuMax: number; stealMs: number } | null {
  const w = (serve?.windows ?? []).filter((x) => x.phase === phase);
  if (w.length === 0 || w.some((x) => x.worst?.activeMaxMs === undefined || x.worst.cpuMaxMs === undefined)) return null;
  const busy = w.map((x) => x.worst!.activeMaxMs!);
  return { windows: w.length, busyMax: Math.max(...busy), busyOver: busy.filter((b) => b >= 10).length, cpuMax: Math.max(...w.map((x) => x.worst!.cpuMaxMs!)), stealMs: w.reduce((a, x) => a + (x.stealMs ?? 0), 0) };
}

const label = (r: RowResult): string => `${r.corpus} ${r.pods}`;

/**
 * Longest block and windows >= 10 ms of the loop floor's empty node, its longest busy time in one gap (null: not
 * recorded), and the same for the one under SCHED_FIFO (null: not measured).
 */
export function loopFloorOf(serve: ServeLoadResult | null): { max: number; over: number; busyMax: number | null; rtMax: number | null; rtOver: number | null } | null {
  const f = serve?.loopFloor;
  if (!f || f.windows.length === 0) return null;
  const max = (w: { maxBlockMs: number }[]): number => Math.max(...w.map((x) => x.maxBlockMs));
  const over = (w: { maxBlockMs: number }[]): number => w.filter((x) => x.maxBlockMs >= 10).length;
  const busy = f.windows.map((w) => w.worst?.activeMaxMs);
  const rt = f.rtWindows && f.rtWindows.length > 0 ? f.rtWindows : null;
  return { max: max(f.windows), over: over(f.windows), busyMax: busy.every((b) => b !== undefined) ? Math.max(...(busy as number[])) : null,
    rtMax: rt ? max(rt) : null, rtOver: rt ? over(rt) : null };
}

/** `; an empty node X ms (N over 10, busy at most B), under SCHED_FIFO Y (M)`, or nothing when the row has no loop floor. */
function loopFloorText(serve: ServeLoadResult | null): string {
  const f = loopFloorOf(serve);
  if (!f) return '';
  const busyText = f.busyMax !== null ? `, busy at most ${fmt(f.busyMax, 1)}` : '';
  return `; an empty node ${fmt(f.max, 1)} ms (${f.over} over 10${busyText})${f.rtMax !== null ? `, under SCHED_FIFO ${fmt(f.rtMax, 1)} (${f.rtOver})` : ''}`;
}

/** `, loop block less run-queue wait max idle X / scrapers Y ms` (runQueue), or nothing for older results. */
function ownBlocks(serve: ServeLoadResult | null): string {
  const idle = runQueue(serve, 'idle');
  const load = runQueue(serve, 'load');
  const work = loopWork(serve, 'idle');
  return (idle ? `, loop block less run-queue wait max idle ${fmt(idle.ownMax, 1)}${load ? ` / scrapers ${fmt(load.ownMax, 1)}` : ''} ms` : '') +
    (work ? `, steal while idle ${fmt(work.stealMs)} ms of ${work.windows} windows` : '');
}

/** Checks of issue 9 ("Benchmark"). */
export function checkTargets(rows: RowResult[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const chaos = rows.filter((r) => r.corpus === 'chaos');
  const top = chaos.find((r) => r.pods === 110) ?? chaos[chaos.length - 1];
  if (top) {
    checks.push({ name: `CPU per collection at ${top.pods} pods (chaos)`, target: '>= 20x lower than chaos-daemon (stretch 50x)', measured: `${fmt(top.cpuRatio, 1)}x (${fmt(top.baseline.cpuMs.median)} / ${fmt(top.agent.cpuMs.median)} ms` +
      (top.agent.kernelCpuMs ? `; the agent's kernel time alone ${fmt(top.agent.kernelCpuMs.median)} ms of the ${fmt(top.baseline.cpuMs.median / 20)} ms 20x allows` : '') + ')', pass: top.cpuRatio >= 20 });
    checks.push({ name: `collection wall at ${top.pods} pods (chaos)`, target: '>= 20x faster than chaos-daemon', measured: `${fmt(top.speedup, 1)}x (${fmt(top.baseline.wallMs.median)} / ${fmt(top.agent.wallMs.median)} ms)`, pass: top.speedup >= 20 });
  }
  const served = rows.filter((r) => r.serve);
  if (served.length) {
    // One check per load phase: p99 < 50 ms and no failure on every row served (a row without the phase fails it).
    // Each row's floor (the same loads on a static server answering serve's bytes, bench/load-clients.ts) is quoted.
    const p99Check = (name: string, phase: (s: ServeLoadResult) => LoadResult | undefined, floorOf: (f: Floor) => LoadResult): void => {
      const rows = served.flatMap((r) => { const l = phase(r.serve!); return l ? [{ r, v: l.latencyMs.p99, e: failures(l), f: r.serve!.floor ? floorOf(r.serve!.floor).latencyMs.p99 : null }] : []; });
      if (rows.length === 0) return;
      checks.push({ name, target: '< 50 ms, 0 errors, every row', measured: rows.map((x) => `${label(x.r)}: ${x.v} ms${x.f !== null ? ` (floor ${x.f})` : ''}${x.e ? ` (${x.e} errors)` : ''}`).join(', '), pass: rows.length === served.length && rows.every((x) => x.v < 50 && x.e === 0) });
    };
    p99Check(`scrape p99, ${served[0]!.serve!.load.connections} concurrent scrapers, collections running`, (s) => s.load, (f) => f.load);
    const paced = served.find((r) => r.serve!.paced)?.serve!.paced;
    if (paced) {
      const how = paced.client === 'scrapers' ? `one request every ${fmt(1000 / paced.ratePerConnection)} ms each` : `${paced.ratePerConnection}/s each in autocannon's 1 s bursts`;
      p99Check(`scrape p99, ${paced.connections} paced scrapers (${how}), collections running`, (s) => s.paced, (f) => f.paced);
    }
    const rss = served.map((r) => ({ r, rss: r.serve!.memory.rssBytes, hwm: r.serve!.memory.hwmBytes }));
    checks.push({ name: 'serve RSS (VmRSS / VmHWM)', target: '< 100 MB, every row (judged in MiB: 2^20 bytes, as every run since the first)', measured: rss.map((x) => `${label(x.r)}: ${mb(x.rss)} / ${mb(x.hwm)} MiB`).join(', '), pass: rss.every((x) => x.rss < 100 * (1 << 20) && x.hwm < 100 * (1 << 20)) });
    const loop = served.map((r) => ({ r, w: windowsOf(r.serve, 'idle'), q: runQueue(r.serve, 'idle') }));
    checks.push({ name: 'event-loop max block per collection (serve, no scrapers)', target: '< 10 ms, every collection of every row',
      measured: loop.map((x) => `${label(x.r)}: ${x.w ? fmt(x.w.block.max, 1) : 'n/a'} ms${x.q ? ` (${x.q.over} over 10 ms, of which waiting for a CPU ${x.q.overRunq.map((v) => fmt(v, 1)).join('/') || '-'} ms; own ${fmt(x.q.ownMax, 1)}${loopFloorText(x.r.serve)})` : ''}`).join(', '),
      pass: loop.every((x) => x.w !== null && x.w.block.max < 10) });
    // The same windows less the time the loop slept in epoll (a wake-up late from the timer, and a wait for a CPU
    // until epoll returned): the agent's event loop at work or kept from it (preempted, a GC's join, a blocking call).
    // Only for results with the probe's busy account.
    const work = served.map((r) => ({ r, k: loopWork(r.serve, 'idle') }));
    if (work.every((x) => x.k !== null)) {
      checks.push({ name: 'event-loop busy time between two timer firings (serve, no scrapers)', target: '< 10 ms, every collection of every row',
        measured: work.map((x) => `${label(x.r)}: ${fmt(x.k!.busyMax, 1)} ms (${x.k!.busyOver} over 10; the main thread's CPU in one gap at most ${fmt(x.k!.cpuMax, 1)})`).join(', '),
        pass: work.every((x) => x.k!.busyMax < 10) });
    }
  }
  const fb = rows.map((r) => ({ r, agent: r.agent.fallbacks.reduce((a, b) => a + b, 0), serve: r.serve?.fallbacks ?? 0 }));
  checks.push({ name: 'reader fallbacks (agent collections / serve metric)', target: '0 on every corpus', measured: fb.map((x) => `${label(x.r)}: ${x.agent}/${x.serve}`).join(', '), pass: fb.every((x) => x.agent === 0 && x.serve === 0) });
  const calls = chaos.flatMap((r) => r.agent.runtimeCalls);
  checks.push({ name: 'runtime calls per steady-state collection', target: 'independent of pod count', measured: chaos.map((r) => `${r.pods}: ${uniq(r.agent.runtimeCalls)}`).join(', '), pass: calls.length > 0 && new Set(calls).size === 1 });
  return checks;
}

export function renderTables(r: BenchResults): string {
  const out: string[] = [];
  out.push(`Benchmark ${r.date} — ${r.machine.cpus} × ${r.machine.model}, kernel ${r.machine.kernel}, node ${r.machine.node}; ` +
    `--reader ${r.config.reader}, --netns-concurrency ${r.config.netnsConcurrency}; ${r.config.warmups} warm-up + ${r.config.rounds} measured collections per side and row (chaos-daemon's, then the agent's, each ${r.config.serveIntervalMs / 1000} s after the previous one); ` +
    `load average during the run ${r.loadavg.mean} (min ${r.loadavg.min}, max ${r.loadavg.max})`);
  out.push('');
  out.push('Median [min–max] over rounds (serve: over collections). CPU = the collecting process, every thread, plus the tools it ran; ' +
    'agent CPU split = netlink reader threads / the rest. serve: the shipped launcher and V8 flags, --interval ' +
    `${r.config.serveIntervalMs} ms, its CPU per collection net of the bench's loop probe (its timer's firings x their calibrated cost, when recorded); loop block = the event loop's longest block in each collection interval with nobody scraping, then with ` +
    `${r.config.connections} scrapers; scrape latency with ${r.config.connections} concurrent scrapers for ${r.config.loadSeconds} s (Prometheus headers, gzip), ` +
    'closed loop (autocannon, each sends its next request on the answer: they saturate the 2 cores they share with serve' +
    `${r.rows.some((row) => row.serve?.load.keepsBodies === false) ? '; the bodies not built into strings, bench/autocannon.ts' : ''}), ` +
    'then paced (bench/scrapers.ts: each on its own connection, one request every 100 ms); ' +
    'floor = the same two loads on a plain node:http server answering serve\'s last /metrics bytes, serve stopped; ' +
    'loop floor = the same probe on empty node processes, one under SCHED_FIFO, as many windows as serve\'s idle ones, serve stopped; ' +
    'loop block less run-queue wait = the longest gap of the probe\'s timer less the time the event loop\'s thread was runnable but not running: another thread on its CPU, or the hypervisor (its schedstat; bench/loop-probe.ts): its own work, a blocking call, or the hypervisor holding the virtual CPU; ' +
    'fallbacks = namespaces read through the tools (agent collections / serve\'s chaos_daemon_netns_reader_fallbacks_total).');
  out.push('');
  out.push('| corpus | pods | chaos-daemon ms | agent ms | wall × | chaos-daemon CPU ms | agent CPU ms | CPU × | agent CPU readers / rest ms | serve CPU ms per collection | loop block ms idle | loop block ms 50 scrapers | scrape p50 / p99 / max ms | paced scrape p50 / p99 / max ms | RSS / HWM MiB | fallbacks | verdicts |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const row of r.rows) {
    const s = row.serve;
    const idle = windowsOf(s, 'idle');
    const load = windowsOf(s, 'load');
    const verdicts = Object.entries(row.agent.verdicts).sort().map(([k, v]) => `${k} ${v}`).join(', ');
    out.push(`| ${row.corpus} | ${row.pods} | ${span(row.baseline.wallMs)} | ${span(row.agent.wallMs)} | ${fmt(row.speedup, 1)} | ` +
      `${span(row.baseline.cpuMs)} | ${span(row.agent.cpuMs)} | ${fmt(row.cpuRatio, 1)} | ${fmt(row.agent.readerCpuMs.median)} / ${fmt(row.agent.otherCpuMs.median)} | ` +
      `${idle ? span(idle.cpu) : 'n/a'} | ${idle ? span(idle.block, 1) : 'n/a'} | ${load ? span(load.block, 1) : 'n/a'} | ` +
      `${s ? latencies(s.load) : 'n/a'} | ` +
      `${s?.paced ? latencies(s.paced) : 'n/a'} | ` +
      `${s ? `${mb(s.memory.rssBytes)} / ${mb(s.memory.hwmBytes)}` : 'n/a'} | ${row.agent.fallbacks.reduce((a, b) => a + b, 0)} / ${s ? s.fallbacks : 'n/a'} | ${verdicts} |`);
  }
  out.push('');
  out.push('Per row: ' + r.rows.map((row) => `${label(row)}: nsenter runs ${uniq(row.baseline.spawns)} / ${uniq(row.agent.spawns)}, runtime calls ${uniq(row.baseline.runtimeCalls)} / ${uniq(row.agent.runtimeCalls)}, ` +
    `containerd CPU ${fmt(row.baseline.runtimeCpuMs.median)} / ${fmt(row.agent.runtimeCpuMs.median)} ms, ` +
    (row.baseline.kernelCpuMs && row.agent.kernelCpuMs ? `of the CPU in the kernel ${fmt(row.baseline.kernelCpuMs.median)} / ${fmt(row.agent.kernelCpuMs.median)} ms, ` : '') +
    `series ${row.baseline.series} / ${row.agent.series}` +
    ownBlocks(row.serve) +
    (row.serve?.floor ? `, scrape floor p50 / p99 / max closed ${latencies(row.serve.floor.load)} paced ${latencies(row.serve.floor.paced)} ms` : '') +
    (row.serve ? `, serve /metrics ${row.serve.series} series ${fmt(row.serve.bytes / 1024)} KiB (gzip ${fmt(row.serve.gzipBytes / 1024)} KiB), serve RSS at first collection ${mb(row.serve.memoryAtReady.rssBytes)} MiB after ${row.serve.collections} collections ${mb(row.serve.memory.rssBytes)} MiB` : '') +
    `, agent worker RSS ${mb(row.agent.rssBytes)} MiB`).join('; ') + ' (chaos-daemon / agent).');
  out.push('');
  out.push('Setup: ' + r.rows.map((row) => `${label(row)}: +${row.setup.created} pods in ${fmt(row.setup.createSeconds, 1)} s` +
    `${row.setup.perPodMs ? ` (runPod ${span(row.setup.perPodMs)} ms, ${row.setup.concurrency} at once)` : ''}, state in ${fmt(row.setup.injectSeconds, 1)} s`).join('; ') +
    `; containerd start ${fmt(r.containerdStartSeconds, 1)} s; teardown ${r.teardownSeconds === null ? 'n/a' : `${fmt(r.teardownSeconds, 1)} s`}.`);
  out.push('');
  out.push('Targets (issue 9):');
  for (const t of r.targets) out.push(`- [${t.pass ? 'MET' : 'MISSED'}] ${t.name}: ${t.measured} (target ${t.target})`);
  for (const n of r.notes) out.push(`- note: ${n}`);
  return out.join('\n') + '\n';
}

export async function writeResults(path: string, r: BenchResults): Promise<void> {
  await writeFile(path, JSON.stringify(r, null, 2) + '\n');
}
