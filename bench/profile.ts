/**
 * Where one collection's CPU goes: `node dist/bench/profile.js [--pods 110] [--corpus chaos|clean|mesh]
 * [--collections 20] [--reader auto] [--cpu-prof DIR]`. Starts a real containerd with N pods of 2 containers
 * carrying the corpus's state (bench/inject.ts), then drives the agent's collection in a process of its own
 * (bench/agent-worker.ts, wired as `serve` wires it, the shipped V8 flags) and prints the median [min-max] of:
 * wall and CPU of the whole collection, of collect() (runtime, namespace reads, fingerprint) and of the metrics
 * pipeline, the CPU the netlink reader threads reported for their reads, and the rest (the main thread). With
 * --cpu-prof DIR, that process runs under `node --cpu-prof` and writes one .cpuprofile per thread (main and each
 * reader) into DIR at exit, covering only its start and the collections; bench/cpuprofile-top.ts prints their
 * hottest functions. `--threads` adds the CPU of each thread of that process per collection (bench/thread-cpu.ts).
 * `--node-flag=--perf-basic-prof` (repeatable) passes a flag to that process, e.g. for
 * `perf record -g -- node dist/bench/profile.js ...` (on-CPU samples of every thread, JS frames named).
 * `--agent-flag=--netns-concurrency=1` (repeatable) passes a flag to the agent, as serve's command line would.
 * Tears everything down, also on failure or SIGINT, at any point: a SIGINT during the setup stops it from creating
 * more pods, lets those being created finish, then removes every pod (the harness's stop(): containerd-turns.ts).
 *
 * To profile repeatedly against the same pods: `--hold` sets them up, prints the CRI endpoint and waits for SIGINT;
 * `--endpoint unix://...` then profiles against that containerd without setting anything up. `--pause-ms N`
 * idles N ms between collections, as serve does between intervals (V8's idle-time GCs then run between them). `--loop-blocks` adds
 * the event loop's longest block per collection by phase (collector or pipeline; bench/loop-blocks.ts), which
 * costs CPU of its own: do not read CPU figures from such a run.
 */
import { parseArgs } from 'node:util';
import { AgentError, errorMessage } from '../agent/errors.js';
import { startContainerd, type ContainerdHarness } from '../test/helpers/containerd.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentProcess } from './agent.js';
import { CORPORA, applyCorpus, type CorpusName } from './inject.js';
import { mapLimit, round, shippedEnv, shippedNodeFlags, summarize } from './measure.js';
import { labelThreads, sampleThreads, threadDeltas, type ThreadSample } from './thread-cpu.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const log = (m: string): void => void process.stderr.write(`[profile ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

/** Held pods' containers outlive a working day (the default command, `sleep 3600`, exits after an hour). */
const HELD_COMMAND = ['/bin/sleep', '172800'];

/** `pods` pods of 2 containers in `h`, each namespace brought to `corpus`; none started once `signal` is aborted. */
async function setUp(h: ContainerdHarness, pods: number, corpus: CorpusName, hold: boolean, signal: AbortSignal): Promise<void> {
  const t0 = performance.now();
  const created = await mapLimit(Array.from({ length: pods }, (_, i) => i), 8, (i) => {
    signal.throwIfAborted();
    return h.runPod({ name: `prof-${String(i).padStart(3, '0')}`, namespace: 'bench', containers: ['app', 'sidecar'], ...(hold ? { command: HELD_COMMAND } : {}) });
  });
  signal.throwIfAborted();
  const ok = created.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<{ netnsPath: string }>).value);
  if (ok.length !== pods) throw new AgentError('BENCH_SETUP', `${pods - ok.length} pods failed`);
  const inj = await mapLimit(ok, 8, (p) => {
    signal.throwIfAborted();
    return applyCorpus(p.netnsPath, corpus);
  });
  signal.throwIfAborted();
  const bad = inj.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad) throw new AgentError('BENCH_SETUP', `corpus ${corpus}: ${errorMessage(bad.reason)}`, { cause: bad.reason });
  log(`${pods} pods (${corpus}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Aborted by the first SIGINT. */
const interrupted = new AbortController();

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pods: { type: 'string', default: '110' },
      corpus: { type: 'string', default: 'chaos' },
      collections: { type: 'string', default: '20' },
      reader: { type: 'string', default: 'auto' },
      'cpu-prof': { type: 'string' },
      'node-flag': { type: 'string', multiple: true },
      'agent-flag': { type: 'string', multiple: true },
      hold: { type: 'boolean', default: false },
      'loop-blocks': { type: 'boolean', default: false },
      threads: { type: 'boolean', default: false },
      'pause-ms': { type: 'string', default: '0' },
      warmups: { type: 'string', default: '2' },
      endpoint: { type: 'string' },
    },
  });
  const pods = Number(values.pods);
  const collections = Number(values.collections);
  const corpus = values.corpus as CorpusName;
  if (!CORPORA.includes(corpus)) throw new AgentError('BENCH_USAGE', `--corpus: one of ${CORPORA.join(', ')}`);
  let h: ContainerdHarness | null = null;
  let agent: AgentProcess | null = null;
  // Once: the SIGINT handler and the failure path may both get here.
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => (stopping ??= (async () => {
    await agent?.stop();
    if (h) await h.stop();
  })());
  // The harness's containerd (started, or starting) and its pods (created, or being created), set up so far.
  let setup: Promise<unknown> = Promise.resolve();
  process.on('SIGINT', () => {
    if (interrupted.signal.aborted) return log('still tearing down');
    log('SIGINT: tearing down');
    interrupted.abort(new AgentError('BENCH_INTERRUPTED', 'interrupted by SIGINT'));
    // The setup first stops where it is (its pods being created finish: they are the harness's to remove).
    void Promise.allSettled([setup])
      .then(stop)
      .catch((err: unknown) => log(`teardown: ${errorMessage(err)}`))
      .finally(() => process.exit(130));
  });
  try {
    let endpoint = values.endpoint;
    if (endpoint === undefined) {
      const ready = (async (): Promise<ContainerdHarness> => {
        const started = await startContainerd({ name: 'profile' });
        h = started;
        interrupted.signal.throwIfAborted();
        await setUp(started, pods, corpus, values.hold === true, interrupted.signal);
        return started;
      })();
      setup = ready;
      endpoint = (await ready).endpoint;
      if (values.hold) {
        log(`holding ${pods} pods (${corpus}) at ${endpoint}; SIGINT tears down`);
        await new Promise(() => undefined);
      }
    }


    const prof = values['cpu-prof'] !== undefined ? ['--cpu-prof', '--cpu-prof-dir', resolve(values['cpu-prof'])] : [];
    agent = new AgentProcess(join(repoRoot, 'dist', 'bench', 'agent-worker.js'), endpoint, 300_000, [...(await shippedNodeFlags(repoRoot)), ...prof, ...(values['node-flag'] ?? [])], ['--reader', values.reader!, ...(values['agent-flag'] ?? []), ...(values['loop-blocks'] ? ['--bench-loop-blocks'] : [])], await shippedEnv(repoRoot));
    agent.start();
    log(`agent process pid ${agent.pid}`);
    const pid = agent.pid!;
    let early: Set<number> | null = null;
    if (values.threads) {
      await new Promise((r) => setTimeout(r, 500)); // Node's and V8's own threads are up
      early = new Set(sampleThreads(pid).keys());
    }
    const perThread = new Map<number, ThreadSample[]>();
    const rows: Record<string, number[]> = { wall: [], cpu: [], collectWall: [], collectCpu: [], pipelineWall: [], pipelineCpu: [], workerCpu: [], mainCpu: [] };
    const blocks: Record<string, number[]> = {};
    const pauseMs = Number(values['pause-ms']);
    const warmups = Number(values.warmups);
    if (!Number.isInteger(warmups) || warmups < 0) throw new AgentError('BENCH_USAGE', '--warmups: a whole number');
    for (let i = 0; i < collections + warmups; i++) {
      // Idle between measured collections, as serve is between intervals and the bench's agent between rounds (V8
      // does its idle-time and memory-reducing GCs then); warm-ups run back to back, as the bench's do.
      if (pauseMs > 0 && i >= warmups) await new Promise((r) => setTimeout(r, pauseMs));
      const before = early ? sampleThreads(pid) : null;
      const s = await agent.collectOnce();
      const cpu = s.cpu;
      if (i < warmups) continue; // warm-up: caches, JIT, reader threads
      if (before) for (const [tid, d] of threadDeltas(before, sampleThreads(pid))) (perThread.get(tid) ?? perThread.set(tid, []).get(tid)!).push(d);
      rows.wall!.push(s.wallMs);
      rows.cpu!.push(cpu.totalMs);
      rows.collectWall!.push(s.collectMs);
      rows.collectCpu!.push(s.phases.collectCpuMs);
      rows.pipelineWall!.push(s.phases.pipelineWallMs);
      rows.pipelineCpu!.push(s.phases.pipelineCpuMs);
      rows.workerCpu!.push(s.readerCpuMs);
      rows.mainCpu!.push(cpu.totalMs - s.readerCpuMs);
      for (const [phase, ms] of Object.entries(s.loopBlocks ?? {})) (blocks[phase] ??= []).push(ms);
      if (s.errors.length) log(`errors: ${s.errors.slice(0, 3).join('; ')}`);
      if (s.fallbacks > 0) log(`fallbacks: ${s.fallbacks}`);
    }
    process.stdout.write(`${pods} pods, corpus ${corpus}, ${collections} collections (median [min-max], ms)\n`);
    for (const [k, v] of Object.entries(rows)) {
      const s = summarize(v);
      process.stdout.write(`${k.padEnd(14)} ${round(s.median, 1)} [${round(s.min, 1)}-${round(s.max, 1)}]\n`);
    }
    if (early) printThreads(pid, early, perThread, collections);
    if (values['loop-blocks']) {
      process.stdout.write(`longest event-loop block per collection by phase (ms; collections with a block > 3 ms / ${collections}):\n`);
      for (const [phase, v] of Object.entries(blocks)) {
        const s = summarize(v);
        process.stdout.write(`  ${phase.padEnd(12)} ${round(s.median, 1)} [${round(s.min, 1)}-${round(s.max, 1)}] in ${v.length}\n`);
      }
    }
  } finally {
    // Interrupted: the SIGINT handler's teardown (the same one) says how it went.
    await stop().catch((err: unknown) => void (interrupted.signal.aborted || log(`teardown: ${errorMessage(err)}`)));
  }
}

/** Per-thread CPU per collection, by label and by thread (median [min-max] ms, reads per collection). */
function printThreads(pid: number, early: ReadonlySet<number>, perThread: Map<number, ThreadSample[]>, n: number): void {
  const totals = new Map<number, ThreadSample>();
  for (const [tid, v] of perThread) totals.set(tid, v.reduce((a, d) => ({ cpuNs: a.cpuNs + d.cpuNs, syscr: a.syscr + d.syscr, rchar: a.rchar + d.rchar })));
  const labels = labelThreads(pid, early, totals);
  const byLabel = new Map<string, number[]>();
  for (const [tid, v] of perThread) {
    const l = labels.get(tid)!;
    const sums = byLabel.get(l) ?? new Array<number>(v.length).fill(0);
    v.forEach((d, i) => (sums[i] = (sums[i] ?? 0) + d.cpuNs / 1e6));
    byLabel.set(l, sums);
  }
  process.stdout.write(`CPU per collection by thread (schedstat, ms; median [min-max] over ${n})\n`);
  for (const [l, v] of byLabel) {
    const s = summarize(v);
    // Medians by blocks of 10 collections: V8's compiler threads (startup) keep compiling for tens of collections.
    const blocks = [];
    for (let i = 0; i + 10 <= v.length; i += 10) blocks.push(round(summarize(v.slice(i, i + 10)).median, 0));
    process.stdout.write(`  ${l.padEnd(12)} ${round(s.median, 1)} [${round(s.min, 1)}-${round(s.max, 1)}]${blocks.length > 1 ? `  by 10: ${blocks.join(' ')}` : ''}\n`);
  }
  for (const [tid, v] of [...perThread].sort((a, b) => a[0] - b[0])) {
    const s = summarize(v.map((d) => d.cpuNs / 1e6));
    const t = totals.get(tid)!;
    if (t.cpuNs === 0) continue;
    process.stdout.write(`    ${String(tid).padEnd(8)} ${labels.get(tid)!.padEnd(12)} ${round(s.median, 1)} [${round(s.min, 1)}-${round(s.max, 1)}]  read() ${Math.round(t.syscr / v.length)}/collection, ${Math.round(t.rchar / v.length / 1024)} KiB\n`);
  }
}

main().catch((err: unknown) => {
  if (interrupted.signal.aborted) return; // the SIGINT handler tears down and exits
  process.stderr.write(`profile: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
