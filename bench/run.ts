/**
 * `npm run bench`: the node-scale benchmark of issue 9, as root on this machine.
 *
 * 1. Starts a real containerd (test/helpers/containerd.ts) and, for each N in --pods (default 10, 50, 110; 250
 *    with --large), grows to N real pods of 2 containers (runPod, 8 at a time) and puts Chaos Mesh's partition +
 *    bandwidth state into each new pod's namespace (bench/inject.ts): the `chaos` rows.
 * 2. Then, at the largest N, the other corpora on fresh pods: every pod removed and N new ones created: `clean`
 *    (nothing written into them), then `mesh` (Istio's nat rules written into every one of them).
 * 3. Each row: --warmups collections of the agent (caches, JIT, reader threads) and one of chaos-daemon's, checked
 *    (both sides see the same pods and state; the agent's verdicts are what the corpus holds, never unknown), then
 *    --rounds collections of chaos-daemon's (bench/baseline.ts, in this process), then, after a settle, --rounds of
 *    the agent's (bench/agent.ts, in a process of its own with the shipped V8 flags), each side in a block of its
 *    own and every collection after an idle pause of serve's interval (as each runs in production): wall time, CPU
 *    (the collecting process with every thread, plus its tools; containerd's apart), reader threads' CPU, spawns,
 *    runtime calls, fallbacks, verdicts, series.
 * 4. Each row: the real `serve` in its own process (bench/serve-load.ts): after SERVE_WARMUPS warm-up collections, the event
 *    loop's longest block per collection and serve's CPU per collection with nobody scraping, then 50 concurrent
 *    /metrics clients for 10 s while it collects every 2 s, then VmRSS / VmHWM after 10 collections, series, bytes
 *    and fallbacks.
 * 5. Tears everything down (pods, containerd, serve), prints one Markdown table and the target checks, and writes
 *    bench/results.json (bench/results-quick.json for --quick).
 *
 * Flags: --pods N (repeatable, or a comma list), --large, --corpora LIST (chaos,clean,mesh), --rounds R (default 11: the
 * agent's CPU per collection swings with V8's mark-compacts, one every ~2 collections at 110 pods, e.g. 106-185 ms in
 * the 5 rounds of 10:02 UTC 2026-11-30, so 5 samples gave a median that moved by +-15 ms from run to run),
 * --warmups W (default 60: V8 keeps compiling the collection's code on its background threads for ~50 collections,
 * 131 48 45 41 20 24 ms of V8 thread CPU per collection by blocks of 10 at 110 chaos pods (bench/profile.ts
 * --threads, 22:40 UTC 2026-11-29); steady state is what the targets are about; 30 until then, when per-call closures
 * on hot paths were recompiled every few collections for ever, agent/chaos/processes.ts), --reader MODE (default auto), --quick (N=3, 1 round, 2 warm-ups, 3 idle collections,
 * 2 s of load), --out PATH. Exit 0 when the run completed (targets are reported, not enforced), 1 on failure, 2 on
 * bad flags.
 */
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../agent/config.js';
import { AgentError, UsageError, errorMessage } from '../agent/errors.js';
import { startContainerd, type ContainerdHarness } from '../test/helpers/containerd.js';
import { AgentProcess } from './agent.js';
import { ChaosDaemonBaseline } from './baseline.js';
import { LoadSampler, shippedEnv, shippedNodeFlags } from './measure.js';
import { CONTAINERS } from './pods.js';
import { checkTargets, renderTables, writeResults, type BenchResults, type RowResult } from './report.js';
import { liveChildren } from './children.js';
import { parseFlags, repoRoot, type Args } from './run-flags.js';
import { log, runRows } from './run-rows.js';

async function preflight(): Promise<void> {
  if (process.getuid?.() !== 0) throw new AgentError('BENCH_PREFLIGHT', 'the benchmark needs root (containerd, nsenter, iptables)');
  const dirs = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  const missing: string[] = [];
  for (const tool of ['containerd', 'ctr', 'runc', 'nsenter', 'iptables-legacy-save', 'iptables-legacy-restore', 'ip6tables-legacy-restore', 'ipset', 'tc', 'nft']) {
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
  for (const f of [join('dist', 'agent', 'cli.js'), join('dist', 'bench', 'loop-probe.js')]) {
    try {
      await access(join(repoRoot, f));
    } catch (err) {
      throw new AgentError('BENCH_PREFLIGHT', `${f} missing: run \`npm run build\` (npm run bench does)`, { cause: err });
    }
  }
}

async function machine(): Promise<BenchResults['machine']> {
  const mem = await readFile('/proc/meminfo', 'utf8');
  const total = Number(/^MemTotal:\s+(\d+) kB/m.exec(mem)?.[1] ?? 0);
  return { cpus: cpus().length, model: cpus()[0]?.model.trim() ?? 'unknown', kernel: release(), node: process.version, memTotalMB: Math.round(total / 1024) };
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
      for (const c of liveChildren) if (c.pid !== undefined && c.exitCode === null) process.kill(c.pid, 'SIGKILL');
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

  const rows: RowResult[] = [];
  let containerdStartSeconds = 0;
  let teardownSeconds: number | null = null;
  const notes: string[] = [];
  let failure: unknown = null;
  try {
    log(`pods ${args.pods.join(', ')}; corpora ${args.corpora.join(', ')}; ${args.warmups} warm-ups + ${args.rounds} rounds; ${args.connections} clients for ${args.loadSeconds} s; ` +
      `load average ${loadavg()[0]?.toFixed(2)}`);
    const t0 = performance.now();
    harness = await startContainerd({ name: 'bench' });
    containerdStartSeconds = (performance.now() - t0) / 1000;
    log(`containerd pid ${harness.pid} at ${harness.endpoint} (${containerdStartSeconds.toFixed(1)} s)`);
    agent = new AgentProcess(join(repoRoot, 'dist', 'bench', 'agent-worker.js'), harness.endpoint, 300_000, await shippedNodeFlags(repoRoot), ['--reader', args.reader], await shippedEnv(repoRoot));
    agent.start();
    baseline = new ChaosDaemonBaseline({ endpoint: harness.endpoint, socketPath: harness.socket });
    await runRows(args, harness, agent, baseline, rows);
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
      corpora: args.corpora,
      containersPerPod: CONTAINERS.length,
      rounds: args.rounds,
      warmups: args.warmups,
      quick: args.quick,
      connections: args.connections,
      loadSeconds: args.loadSeconds,
      idleCollections: args.idleCollections,
      serveIntervalMs: args.intervalMs,
      minCollections: args.minCollections,
      netnsConcurrency: loadConfig(['metrics'], {}).netnsConcurrency,
      reader: args.reader,
    },
    containerdStartSeconds,
    rows,
    targets: checkTargets(rows),
    teardownSeconds,
    loadavg: overall.stop(),
    notes: [
      'Agent collection measured in a process of its own (bench/agent-worker.ts: Inventory + NetnsReader + collect() + MetricsPipeline, as serve wires them, the shipped V8 flags); CPU = that process (main thread and netlink reader threads) + the tools it ran; reader CPU = the reader threads\' own CPU clocks.',
      'Baseline: chaos-daemon collectNetworkMetrics reproduced in the bench process (CRI instead of containerd\'s native API, nsenter instead of nsexec, iptables-legacy-save; tools forked by one small sh, as cheap as Go\'s vfork-based os/exec); see bench/baseline.ts.',
      `serve: the shipped launcher plus bench/loop-probe.ts (--import; monitorEventLoopDelay at 2 ms, a window per collection), whose timer's CPU (calibrated per firing on an idle node, bench/probe-child.ts calibrateProbe) is subtracted from serve's CPU per collection.`,
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
