/**
 * bench/run.ts's rows: at each N the corpus's state checked on both sides after the warm-ups (verify), then
 * chaos-daemon's and the agent's collections each in a block of their own, then serve under load (measureRow), in
 * the order runRows grows and replaces the pods; and the bench's progress log.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError } from '../agent/errors.js';
import type { ContainerdHarness, TestPod } from '../test/helpers/containerd.js';
import type { AgentProcess, WorkerSample } from './agent.js';
import type { BaselineResult, ChaosDaemonBaseline } from './baseline.js';
import { MEMBERS_PER_SET, MESH_RULES_IPV4, type CorpusName } from './inject.js';
import { LoadSampler, cpuSince, cpuSnapshot, processCpuMs, round, summarize } from './measure.js';
import { CONTAINERS, SETUP_CONCURRENCY, applyToAll, growPods, removeAll } from './pods.js';
import type { RowResult, SetupResult } from './report.js';
import { runServeLoad, type ServeLoadResult } from './serve-load.js';
import { repoRoot, type Args } from './run-flags.js';

let agentCollections = 0;
/** serve's unmeasured collections before the idle and load phases (its start-up windows are still reported apart). */
const SERVE_WARMUPS = 15;
/** Idle time between chaos-daemon's block and the agent's, ms (its forked processes reaped, the node quiet). */
const SETTLE_MS = 10_000;

export const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

/** The warm-up results must show the corpus's state on both sides, or the figures would compare nothing. */
function verify(corpus: CorpusName, n: number, agent: WorkerSample, base: BaselineResult): void {
  const problems: string[] = [];
  if (agent.pods !== n) problems.push(`agent saw ${agent.pods} pods, expected ${n}`);
  if (agent.errors.length) problems.push(`agent errors: ${agent.errors.slice(0, 3).join('; ')}`);
  if ((agent.verdicts.unknown ?? 0) > 0) problems.push(`agent verdict unknown for ${agent.verdicts.unknown} pods`);
  const containers = n * CONTAINERS.length;
  if (base.containers !== containers) problems.push(`baseline visited ${base.containers} containers, expected ${containers}`);
  if (base.errors.length) problems.push(`baseline errors: ${base.errors.slice(0, 3).join('; ')}`);
  const expect = (what: string, got: number, want: number): void => {
    if (got !== want) problems.push(`${what}: ${got}, expected ${want}`);
  };
  if (corpus === 'chaos') {
    expect('agent pods with an active partition + bandwidth', agent.activeChaosPods, n);
    expect('baseline ipset members', base.ipsetMembers, containers * (2 * MEMBERS_PER_SET + 2));
    expect('baseline rules', base.rules, containers * 6);
  } else {
    expect(`agent pods with verdict clean (${JSON.stringify(agent.verdicts)})`, agent.verdicts.clean ?? 0, n);
    expect('baseline ipset members', base.ipsetMembers, 0);
    expect('baseline rules', base.rules, corpus === 'mesh' ? containers * MESH_RULES_IPV4 : 0);
  }
  if (problems.length) throw new AgentError('BENCH_VERIFY', `${corpus} N=${n}: ${problems.join(' | ')}`);
}

async function measureRow(
  corpus: CorpusName,
  n: number,
  args: Args,
  h: ContainerdHarness,
  agent: AgentProcess,
  baseline: ChaosDaemonBaseline,
  setup: SetupResult,
): Promise<RowResult> {
  const sampler = new LoadSampler();
  sampler.start();
  const tag = `${corpus} N=${n}`;
  log(`${tag}: ${args.warmups} warm-up collections`);
  // The first agent pass after new pods resolves them (cache fill), the next ones warm the JIT and reader threads.
  let warmAgent = await agent.collectOnce();
  for (let i = 1; i < args.warmups; i++) warmAgent = await agent.collectOnce();
  agentCollections += args.warmups;
  const warmBase = await baseline.collect();
  verify(corpus, n, warmAgent, warmBase);

  const b = { wall: [] as number[], cpu: [] as number[], child: [] as number[], kernel: [] as number[], rt: [] as number[], spawns: [] as number[], calls: [] as number[], last: warmBase };
  const a = {
    wall: [] as number[], collect: [] as number[], cpu: [] as number[], child: [] as number[], kernel: [] as number[], rt: [] as number[], spawns: [] as number[], calls: [] as number[],
    reader: [] as number[], other: [] as number[], reads: [] as number[], fallbacks: [] as number[], last: warmAgent, rss: 0,
  };
  const runtimeCpu = async (): Promise<number> => (await processCpuMs(h.pid)) ?? NaN;

  const runBaseline = async (): Promise<void> => {
    const rt0 = await runtimeCpu();
    const cpu0 = cpuSnapshot();
    const t0 = performance.now();
    const r = await baseline.collect();
    const wall = performance.now() - t0;
    const cpu = cpuSince(cpu0);
    b.rt.push((await runtimeCpu()) - rt0);
    b.wall.push(wall);
    b.cpu.push(cpu.totalMs);
    b.child.push(cpu.childrenMs);
    b.kernel.push(cpu.kernelMs);
    b.spawns.push(r.spawns);
    b.calls.push(r.runtimeCalls);
    b.last = r;
    if (r.errors.length) throw new AgentError('BENCH_BASELINE', `baseline errors: ${r.errors.slice(0, 3).join('; ')}`);
  };
  const runAgent = async (): Promise<void> => {
    const rt0 = await runtimeCpu();
    const s = await agent.collectOnce();
    a.rt.push((await runtimeCpu()) - rt0);
    a.wall.push(s.wallMs);
    a.collect.push(s.collectMs);
    a.cpu.push(s.cpu.totalMs);
    a.child.push(s.cpu.childrenMs);
    a.kernel.push(s.cpu.kernelMs);
    a.reader.push(s.readerCpuMs);
    a.other.push(s.cpu.totalMs - s.readerCpuMs);
    a.spawns.push(s.spawns);
    a.calls.push(s.runtimeCalls);
    a.reads.push(s.reads);
    a.fallbacks.push(s.fallbacks);
    a.rss = s.rssBytes;
    agentCollections += 1;
    a.last = s;
    if (s.errors.length) throw new AgentError('BENCH_AGENT', `agent errors: ${s.errors.slice(0, 3).join('; ')}`);
  };

  // Each side is measured in a block of its own, every collection 2 s (serve's interval in the bench) after the
  // previous one of its side, as each runs in production: chaos-daemon's scrapes, a settle, one unmeasured agent
  // collection (it idled through chaos-daemon's block), then the agent's. Interleaved (until 07:15 UTC 2026-11-30),
  // the agent's collections that followed one of chaos-daemon's (~2,600 processes forked and reaped at 110 pods)
  // cost far more than in serve: with every one of them 2 s after one (07:00 UTC run), 528 ms CPU median at 110
  // chaos pods against serve's 369 in the same run; with the order flipped and no pause (04:22 UTC run), 328-401
  // after chaos-daemon's and 249-250 right after its own.
  for (let r = 0; r < args.rounds; r++) {
    await sleep(args.intervalMs);
    await runBaseline();
    log(`${tag}: chaos-daemon ${r + 1}/${args.rounds}: ${Math.round(b.wall.at(-1)!)} ms ${Math.round(b.cpu.at(-1)!)} ms CPU`);
  }
  await sleep(SETTLE_MS);
  await agent.collectOnce();
  agentCollections += 1;
  for (let r = 0; r < args.rounds; r++) {
    await sleep(args.intervalMs);
    await runAgent();
    log(`${tag}: agent ${r + 1}/${args.rounds}: ${Math.round(a.wall.at(-1)!)} ms ${Math.round(a.cpu.at(-1)!)} ms CPU (readers ${Math.round(a.reader.at(-1)!)})`);
  }

  const benchRssBytes = process.memoryUsage().rss;
  log(`${tag}: serve`);
  const serve: ServeLoadResult = await runServeLoad({
    repoRoot,
    endpoint: h.endpoint,
    intervalMs: args.intervalMs,
    idleCollections: args.idleCollections,
    warmCollections: args.quick ? 1 : SERVE_WARMUPS,
    loadSeconds: args.loadSeconds,
    connections: args.connections,
    minCollections: args.minCollections,
    timeoutMs: 300_000,
    onProgress: (m) => log(`${tag}: ${m}`),
  });
  const idle = serve.windows.filter((w) => w.phase === 'idle');
  log(`${tag}: loop block per collection ${idle.map((w) => w.maxBlockMs.toFixed(1)).join(' ')} ms; scrape p50 ${serve.load.latencyMs.p50} ms, p99 ${serve.load.latencyMs.p99} ms, ` +
    `max ${serve.load.latencyMs.max} ms, ${serve.load.requests} requests, errors ${serve.load.errors + serve.load.non2xx}; ` +
    `RSS ${(serve.memory.rssBytes / 2 ** 20).toFixed(1)} MiB (HWM ${(serve.memory.hwmBytes / 2 ** 20).toFixed(1)}) after ${serve.collections} collections; fallbacks ${serve.fallbacks}`);

  const baselineWall = summarize(b.wall);
  const agentWall = summarize(a.wall);
  const baselineCpu = summarize(b.cpu);
  const agentCpu = summarize(a.cpu);
  return {
    corpus,
    pods: n,
    containers: n * CONTAINERS.length,
    setup,
    baseline: {
      wallMs: baselineWall,
      cpuMs: baselineCpu,
      childCpuMs: summarize(b.child),
      kernelCpuMs: summarize(b.kernel),
      runtimeCpuMs: summarize(b.rt),
      spawns: b.spawns,
      runtimeCalls: b.calls,
      series: b.last.series,
      bytes: b.last.bytes,
    },
    agent: {
      wallMs: agentWall,
      collectMs: summarize(a.collect),
      cpuMs: agentCpu,
      childCpuMs: summarize(a.child),
      kernelCpuMs: summarize(a.kernel),
      runtimeCpuMs: summarize(a.rt),
      readerCpuMs: summarize(a.reader),
      otherCpuMs: summarize(a.other),
      spawns: a.spawns,
      runtimeCalls: a.calls,
      reads: a.reads,
      fallbacks: a.fallbacks,
      verdicts: a.last.verdicts,
      series: a.last.series,
      bytes: a.last.bytes,
      rssBytes: a.rss,
      collectionsSoFar: agentCollections,
    },
    speedup: round(baselineWall.median / agentWall.median, 3),
    cpuRatio: round(baselineCpu.median / agentCpu.median, 3),
    serve,
    benchRssBytes,
    loadavg: sampler.stop(),
  };
}

/** The rows to measure, in order: chaos at each N (growing), then clean and mesh on fresh pods at the largest N. */
export async function runRows(args: Args, h: ContainerdHarness, agent: AgentProcess, baseline: ChaosDaemonBaseline, rows: RowResult[]): Promise<void> {
  const pods: TestPod[] = [];
  if (args.corpora.includes('chaos')) {
    for (const n of args.pods) {
      log(`chaos N=${n}: creating ${n - pods.length} pods (${SETUP_CONCURRENCY} at once)`);
      rows.push(await measureRow('chaos', n, args, h, agent, baseline, await growPods(h, pods, n, 'chaos', log)));
    }
  }
  const others = args.corpora.filter((c) => c !== 'chaos');
  if (others.length === 0) return;
  const top = args.pods[args.pods.length - 1]!;
  if (pods.length > 0) {
    log(`removing ${pods.length} pods for fresh ones`);
    await removeAll(h, pods);
  }
  const setup = await growPods(h, pods, top, 'clean', log);
  if (others.includes('clean')) rows.push(await measureRow('clean', top, args, h, agent, baseline, setup));
  if (others.includes('mesh')) {
    log(`mesh N=${top}: Istio nat rules into every pod`);
    const injectSeconds = await applyToAll(pods, 'mesh');
    const meshSetup = others.includes('clean') ? { created: 0, createSeconds: 0, perPodMs: null, injectSeconds, concurrency: SETUP_CONCURRENCY } : { ...setup, injectSeconds };
    rows.push(await measureRow('mesh', top, args, h, agent, baseline, meshSetup));
  }
}
