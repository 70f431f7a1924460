/**
 * `npm run bench`: the node-scale benchmark of issue 5, as root on this machine.
 *
 * 1. Starts a real containerd (test/helpers/containerd.ts) and, for each N in --pods (default 10, 50, 110; 250
 *    with --large), grows to N real pods of 2 containers (runPod, 8 at a time) and puts Chaos-Mesh-style state into
 *    each new pod's namespace (bench/inject.ts).
 * 2. At each N: a warm-up of both collectors (and a check that the agent sees every pod's partition + bandwidth
 *    and the baseline every container), then --rounds rounds alternating chaos-daemon's collection
 *    (bench/baseline.ts, in this process) and the agent's (bench/agent.ts, in a worker process of its own),
 *    order flipped every round: wall time, CPU (collector process + its tools, and containerd's), spawns,
 *    runtime calls, series.
 * 3. At each N: the real `serve` in its own process under 50 concurrent /metrics clients for 10 s while it
 *    collects every 2 s (bench/serve-load.ts): latency, errors, RSS after 10 collections, series and bytes.
 * 4. Tears everything down (pods, containerd, serve), prints Markdown tables and target checks, and writes
 *    bench/results.json (bench/results-quick.json for --quick).
 *
 * Flags: --pods N (repeatable, or a comma list), --large, --rounds R (default 5), --quick (N=3, 1 round, 2 s of
 * load, 3 collections), --out PATH. Exit 0 when the run completed (targets are reported, not enforced), 1 on
 * failure, 2 on bad flags.
 */
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../agent/config.js';
import { AgentError, UsageError, errorMessage } from '../agent/errors.js';
import { startContainerd, type ContainerdHarness, type TestPod } from '../test/helpers/containerd.js';
import { AgentProcess, type AgentSample } from './agent.js';
import { ChaosDaemonBaseline, type BaselineResult } from './baseline.js';
import { chaosLayout, injectChaos, MEMBERS_PER_SET } from './inject.js';
import { LoadSampler, cpuSince, cpuSnapshot, mapLimit, processCpuMs, round, shippedNodeFlags, summarize } from './measure.js';
import { checkTargets, renderTables, writeResults, type BenchResults, type LevelResult } from './report.js';
import { liveServeChildren, runServeLoad, type ServeLoadResult } from './serve-load.js';

const CONTAINERS = ['app', 'sidecar'];
const SETUP_CONCURRENCY = 8;
let agentCollections = 0;
const NAMESPACE = 'bench';

interface Args {
  pods: number[];
  rounds: number;
  quick: boolean;
  out: string;
  loadSeconds: number;
  connections: number;
  intervalMs: number;
  minCollections: number;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function parseFlags(argv: string[]): Args {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        pods: { type: 'string', multiple: true },
        large: { type: 'boolean', default: false },
        rounds: { type: 'string' },
        quick: { type: 'boolean', default: false },
        out: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(errorMessage(err), { cause: err });
  }
  if (values.help) {
    process.stdout.write('Usage: npm run bench -- [--pods N]... [--large] [--rounds R] [--quick] [--out PATH]\n');
    process.exit(0);
  }
  const int = (flag: string, v: string, min: number, max: number): number => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`--${flag}: expected a whole number in ${min}..${max}, got "${v}"`);
    return Number(v);
  };
  const quick = values.quick === true;
  let pods = (values.pods ?? []).flatMap((p) => p.split(',')).map((p) => int('pods', p.trim(), 1, 250));
  if (pods.length === 0) pods = quick ? [3] : [10, 50, 110];
  if (values.large) pods.push(250);
  pods = [...new Set(pods)].sort((a, b) => a - b);
  const rounds = values.rounds !== undefined ? int('rounds', values.rounds, 1, 100) : quick ? 1 : 5;
  return {
    pods,
    rounds,
    quick,
    out: values.out ? resolve(values.out) : join(repoRoot, 'bench', quick ? 'results-quick.json' : 'results.json'),
    loadSeconds: quick ? 2 : 10,
    connections: 50,
    intervalMs: quick ? 1000 : 2000,
    minCollections: quick ? 3 : 10,
  };
}

const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

async function preflight(): Promise<void> {
  if (process.getuid?.() !== 0) throw new AgentError('BENCH_PREFLIGHT', 'the benchmark needs root (containerd, nsenter, iptables)');
  const dirs = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  const missing: string[] = [];
  for (const tool of ['containerd', 'ctr', 'runc', 'nsenter', 'iptables-legacy-save', 'iptables-legacy-restore', 'ipset', 'tc', 'nft']) {
    let found = false;
    for (const d of dirs) {
      try {
        await access(join(d, tool), constants.X_OK);
        found = true;
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'EACCES') throw err;
      }
    }
    if (!found) missing.push(tool);
  }
  if (missing.length) throw new AgentError('BENCH_PREFLIGHT', `missing tools on PATH: ${missing.join(', ')} (see the README's setup)`);
  try {
    await access(join(repoRoot, 'dist', 'agent', 'cli.js'));
  } catch (err) {
    throw new AgentError('BENCH_PREFLIGHT', 'dist/agent/cli.js missing: run `npm run build` (npm run bench does)', { cause: err });
  }
}

async function machine(): Promise<BenchResults['machine']> {
  const mem = await readFile('/proc/meminfo', 'utf8');
  const total = Number(/^MemTotal:\s+(\d+) kB/m.exec(mem)?.[1] ?? 0);
  return { cpus: cpus().length, model: cpus()[0]?.model.trim() ?? 'unknown', kernel: release(), node: process.version, memTotalMB: Math.round(total / 1024) };
}

/** Grow the pod set to `target` (runPod 8 at a time), then put the chaos state into the new pods. */
async function growPods(h: ContainerdHarness, pods: TestPod[], target: number): Promise<LevelResult['setup']> {
  const from = pods.length;
  const indices = Array.from({ length: target - from }, (_, k) => from + k);
  const perPod: number[] = [];
  const t0 = performance.now();
  const created = await mapLimit(indices, SETUP_CONCURRENCY, async (i) => {
    const s = performance.now();
    const pod = await h.runPod({ name: `bench-${String(i).padStart(3, '0')}`, namespace: NAMESPACE, containers: CONTAINERS });
    perPod.push(performance.now() - s);
    return pod;
  });
  const createSeconds = (performance.now() - t0) / 1000;
  const failures: string[] = [];
  for (const r of created) {
    if (r.status === 'fulfilled') pods.push(r.value);
    else failures.push(errorMessage(r.reason));
  }
  if (failures.length) throw new AgentError('BENCH_SETUP', `${failures.length} of ${indices.length} pods failed to start: ${failures.slice(0, 3).join('; ')}`);
  log(`+${indices.length} pods in ${createSeconds.toFixed(1)} s; injecting chaos state`);
  const layout = chaosLayout();
  const t1 = performance.now();
  const injected = await mapLimit(pods.slice(from), SETUP_CONCURRENCY, (p) => injectChaos(p.netnsPath, layout));
  const bad = injected.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad.length) throw new AgentError('BENCH_SETUP', `chaos state failed in ${bad.length} pods: ${errorMessage(bad[0]!.reason)}`);
  return { created: indices.length, createSeconds, perPodMs: summarize(perPod), injectSeconds: (performance.now() - t1) / 1000, concurrency: SETUP_CONCURRENCY };
}

/** The warm-up results must show the injected state, or the figures would compare nothing. */
function verify(n: number, agent: AgentSample, base: BaselineResult): void {
  const problems: string[] = [];
  if (agent.pods !== n) problems.push(`agent saw ${agent.pods} pods, expected ${n}`);
  if (agent.activeChaosPods !== n) problems.push(`agent found partition + bandwidth in ${agent.activeChaosPods} of ${n} pods`);
  if (agent.errors.length) problems.push(`agent errors: ${agent.errors.slice(0, 3).join('; ')}`);
  const containers = n * CONTAINERS.length;
  if (base.containers !== containers) problems.push(`baseline visited ${base.containers} containers, expected ${containers}`);
  if (base.errors.length) problems.push(`baseline errors: ${base.errors.slice(0, 3).join('; ')}`);
  const members = containers * (2 * MEMBERS_PER_SET + 2);
  if (base.ipsetMembers !== members) problems.push(`baseline counted ${base.ipsetMembers} ipset members, expected ${members}`);
  if (problems.length) throw new AgentError('BENCH_VERIFY', `N=${n}: ${problems.join(' | ')}`);
}

async function measureLevel(
  n: number,
  args: Args,
  h: ContainerdHarness,
  agent: AgentProcess,
  baseline: ChaosDaemonBaseline,
  setup: LevelResult['setup'],
): Promise<LevelResult> {
  const sampler = new LoadSampler();
  sampler.start();
  log(`N=${n}: warm-up`);
  const warmAgent = await agent.collectOnce();
  agentCollections += 1;
  const warmBase = await baseline.collect();
  // A second agent pass: the first one after new pods resolves them (cache fill); steady state starts now.
  await agent.collectOnce();
  agentCollections += 1;
  verify(n, warmAgent, warmBase);

  const b = { wall: [] as number[], cpu: [] as number[], child: [] as number[], rt: [] as number[], spawns: [] as number[], calls: [] as number[], last: warmBase };
  const a = { wall: [] as number[], collect: [] as number[], cpu: [] as number[], child: [] as number[], rt: [] as number[], spawns: [] as number[], calls: [] as number[], last: warmAgent, maxActive: 0, rss: 0 };
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
    a.spawns.push(s.spawns);
    a.calls.push(s.runtimeCalls);
    a.maxActive = Math.max(a.maxActive, s.maxActive);
    a.rss = s.rssBytes;
    agentCollections += 1;
    a.last = s;
    if (s.errors.length) throw new AgentError('BENCH_AGENT', `agent errors: ${s.errors.slice(0, 3).join('; ')}`);
  };

  for (let r = 0; r < args.rounds; r++) {
    const order = r % 2 === 0 ? [runBaseline, runAgent] : [runAgent, runBaseline];
    for (const step of order) await step();
    log(`N=${n}: round ${r + 1}/${args.rounds}: chaos-daemon ${Math.round(b.wall.at(-1)!)} ms, agent ${Math.round(a.wall.at(-1)!)} ms`);
  }

  const benchRssBytes = process.memoryUsage().rss;
  let serve: ServeLoadResult | null = null;
  log(`N=${n}: serve under load`);
  serve = await runServeLoad({
    repoRoot,
    endpoint: h.endpoint,
    intervalMs: args.intervalMs,
    loadSeconds: args.loadSeconds,
    connections: args.connections,
    minCollections: args.minCollections,
    timeoutMs: 300_000,
    onProgress: (m) => log(`N=${n}: ${m}`),
  });
  log(`N=${n}: scrape p50 ${serve.load.latencyMs.p50} ms, p99 ${serve.load.latencyMs.p99} ms, max ${serve.load.latencyMs.max} ms, ` +
    `${serve.load.requests} requests, errors ${serve.load.errors + serve.load.non2xx}; RSS ${(serve.memory.rssBytes / 2 ** 20).toFixed(1)} MB after ${serve.collections} collections`);

  const baselineWall = summarize(b.wall);
  const agentWall = summarize(a.wall);
  const baselineCpu = summarize(b.cpu);
  const agentCpu = summarize(a.cpu);
  return {
    pods: n,
    containers: n * CONTAINERS.length,
    setup,
    baseline: {
      wallMs: baselineWall,
      cpuMs: baselineCpu,
      childCpuMs: summarize(b.child),
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
      runtimeCpuMs: summarize(a.rt),
      spawns: a.spawns,
      runtimeCalls: a.calls,
      series: a.last.series,
      bytes: a.last.bytes,
      activeChaosPods: a.last.activeChaosPods,
      maxConcurrentTools: a.maxActive,
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

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseFlags(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  await preflight();
  const overall = new LoadSampler();
  overall.start();

  let harness: ContainerdHarness | null = null;
  let agent: AgentProcess | null = null;
  let baseline: ChaosDaemonBaseline | null = null;
  let teardown: Promise<number | null> | null = null;
  const cleanup = (): Promise<number | null> => {
    teardown ??= (async () => {
      for (const c of liveServeChildren) if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
      await agent?.stop().catch((err: unknown) => {
        log(`agent worker stop: ${errorMessage(err)}`);
        agent?.kill();
      });
      baseline?.close();
      if (!harness) return null;
      log('teardown: removing pods and stopping containerd');
      const t0 = performance.now();
      await harness.stop();
      return (performance.now() - t0) / 1000;
    })();
    return teardown;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: tearing down`);
    cleanup().then(
      () => process.exit(130),
      (err: unknown) => {
        log(`teardown failed: ${errorMessage(err)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const levels: LevelResult[] = [];
  let containerdStartSeconds = 0;
  let teardownSeconds: number | null = null;
  const notes: string[] = [];
  let failure: unknown = null;
  try {
    log(`pods ${args.pods.join(', ')}; ${args.rounds} rounds; ${args.connections} clients for ${args.loadSeconds} s; load average ${loadavg()[0]?.toFixed(2)}`);
    const t0 = performance.now();
    harness = await startContainerd({ name: 'bench' });
    containerdStartSeconds = (performance.now() - t0) / 1000;
    log(`containerd pid ${harness.pid} at ${harness.endpoint} (${containerdStartSeconds.toFixed(1)} s)`);
    agent = new AgentProcess(join(repoRoot, 'dist', 'bench', 'agent-worker.js'), harness.endpoint, 300_000, await shippedNodeFlags(repoRoot));
    agent.start();
    baseline = new ChaosDaemonBaseline({ endpoint: harness.endpoint, socketPath: harness.socket });
    const pods: TestPod[] = [];
    for (const n of args.pods) {
      log(`N=${n}: creating ${n - pods.length} pods (${SETUP_CONCURRENCY} at once)`);
      const setup = await growPods(harness, pods, n);
      levels.push(await measureLevel(n, args, harness, agent, baseline, setup));
    }
  } catch (err) {
    failure = err;
    notes.push(`run failed: ${errorMessage(err)}`);
  } finally {
    try {
      teardownSeconds = await cleanup();
    } catch (err) {
      notes.push(`teardown failed: ${errorMessage(err)}`);
      log(`teardown failed: ${errorMessage(err)}`);
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const results: BenchResults = {
    date: new Date().toISOString(),
    machine: await machine(),
    config: {
      podCounts: args.pods,
      containersPerPod: CONTAINERS.length,
      rounds: args.rounds,
      quick: args.quick,
      connections: args.connections,
      loadSeconds: args.loadSeconds,
      serveIntervalMs: args.intervalMs,
      minCollections: args.minCollections,
      netnsConcurrency: loadConfig(['metrics'], {}).netnsConcurrency,
    },
    containerdStartSeconds,
    levels,
    targets: checkTargets(levels),
    teardownSeconds,
    loadavg: overall.stop(),
    notes: [
      'Agent collection measured in a process of its own (bench/agent-worker.ts: Inventory + NetnsRunner + collect() + MetricsPipeline, as serve wires them), CPU = that process + its tools; serve RSS from /proc/<pid>/status VmRSS of the separate `serve` process.',
      'Baseline: chaos-daemon collectNetworkMetrics reproduced in the bench process (CRI instead of containerd\'s native API, nsenter instead of nsexec, iptables-legacy-save; tools forked by one small sh, as cheap as Go\'s vfork-based os/exec); see bench/baseline.ts.',
      ...notes,
    ],
  };
  process.stdout.write(renderTables(results));
  await writeResults(args.out, results);
  log(`results written to ${args.out}`);
  if (failure !== null) throw failure;
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
