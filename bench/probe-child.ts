/**
 * Node processes started with the bench's loop probe (bench/loop-probe.ts) preloaded, as serve is, and what the
 * bench reads from them: the probe's lines, its own cost (calibrateProbe) and the event loop's floor on this machine
 * (measureLoopFloor).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { AgentError } from '../agent/errors.js';
import { onLines, stopChild, track } from './children.js';
import { shippedEnv, shippedNodeFlags } from './measure.js';

/** bench/loop-probe.ts's account of a window's longest gap, ms. */
export interface ProbeGap {
  /** The longest gap less the timer's resolution, as maxBlockMs. */
  gapMs: number;
  /** Of it, the main thread runnable but not running: another thread (of any process) on its CPU, or the hypervisor. */
  runqMs: number;
  /**
   * The window's longest gap less its run-queue wait and the resolution: the thread's own work or a blocking call,
   * or the hypervisor holding the virtual CPU (loop-probe.ts): an upper bound of the thread's own blocks.
   */
  ownMaxMs: number;
  /**
   * The main thread's CPU within the longest gap, and the most of it within any gap of the window, ms
   * (CLOCK_THREAD_CPUTIME_ID; loop-probe.ts): the loop's own work, as against sleep past the timer or the hypervisor.
   * Absent from results written before 2026-12-02's second session.
   */
  cpuMs?: number;
  cpuMaxMs?: number;
  /**
   * The loop's busy time within the longest gap, and the most of it within any gap of the window, ms: the gap less the
   * time libuv spent waiting in epoll (performance.eventLoopUtilization's idle: a wake-up late from the timer counts
   * there, and so does a wait for a CPU until epoll has returned; a preemption after it counts as busy).
   */
  activeMs?: number;
  activeMaxMs?: number;
  /** When that gap ended, ms since serve started (performance.now(); --trace-gc's lines use the same origin, roughly). */
  cpuMaxAt?: number;
}

/** One line of bench/loop-probe.ts (`LOOPPROBE {json}` on stderr), or null for any other line. */
export interface ProbeLine {
  maxBlockMs: number;
  p99BlockMs: number;
  firings: number;
  cpuMs: number;
  childrenCpuMs: number;
  /** /proc/stat's steal over the window, every CPU, ms (10 ms ticks; absent before 2026-12-02's second session). */
  stealMs?: number;
  worst?: ProbeGap;
}

export function probeLine(line: string): ProbeLine | null {
  return line.startsWith('LOOPPROBE ') ? (JSON.parse(line.slice(10)) as ProbeLine) : null;
}

/**
 * `node ARGS` started as the bench starts serve: the shipped V8 flags and environment, the loop probe preloaded,
 * stderr piped; behind `wrap` (a command and its arguments, e.g. chrt) when given.
 */
export async function spawnProbed(repoRoot: string, args: readonly string[], wrap: readonly string[] = []): Promise<ChildProcess> {
  const probe = pathToFileURL(join(repoRoot, 'dist', 'bench', 'loop-probe.js')).href;
  const argv = [...wrap, process.execPath, ...(await shippedNodeFlags(repoRoot)), '--import', probe, ...args];
  return spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...(await shippedEnv(repoRoot)) } });
}

/**
 * What the loop probe itself costs per firing of its timer, ms: an otherwise idle node, started as serve is
 * (spawnProbed), measured over one probe window of ~4 s. The probe's RESOLUTION_MS timer fires ~470 times a second
 * (44-57 µs each in the bench of 2026-11-30, 21-29 ms of CPU per second), all of it counted in serve's windows: at a
 * 2 s interval 39-54 ms per collection that the agent does not spend in production. The report subtracts firings x this.
 */
export async function calibrateProbe(repoRoot: string, windowMs = 4000): Promise<number> {
  const child = await spawnProbed(repoRoot, ['-e', `setTimeout(() => {}, ${windowMs + 5000})`]);
  let err = '';
  const lines: ProbeLine[] = [];
  onLines(child.stderr!, (l) => {
    err = (err + l + '\n').slice(-8192);
    const p = probeLine(l);
    if (p !== null) lines.push(p);
  });
  try {
    await sleep(1000); // past node's start-up
    process.kill(child.pid!, 'SIGUSR2');
    await sleep(windowMs);
    process.kill(child.pid!, 'SIGUSR2');
    await sleep(200);
    if (lines.length < 2 || lines[1]!.firings === 0) throw new AgentError('BENCH_PROBE', `probe calibration saw ${lines.length} windows: ${err.slice(-500)}`);
    return (lines[1]!.cpuMs - lines[0]!.cpuMs) / lines[1]!.firings;
  } finally {
    await stopChild(child);
  }
}


/** One window of an empty event loop (measureLoopFloor), ms. */
export interface FloorWindow {
  maxBlockMs: number;
  worst?: ProbeGap;
}

/** The event loop's floor: empty node processes' windows, measured with serve stopped. */
export interface LoopFloor {
  intervalMs: number;
  /** An empty node at the priority serve runs at: what any event loop on this machine, with its pods, sees. */
  windows: FloorWindow[];
  /**
   * The same, run at the same time under SCHED_FIFO (chrt -f 1), which no thread of normal priority delays: its
   * blocks are the kernel's interrupts and the hypervisor taking the virtual CPU away. Absent when chrt failed
   * (not root).
   */
  rtWindows?: FloorWindow[];
}

/** An empty event loop: the probe (preloaded) and a timer that never fires, so that node stays up. */
const EMPTY_LOOP = ['-e', 'setInterval(() => {}, 1 << 30)'];

/**
 * `windows` windows of `intervalMs` of two empty node processes started as serve is (spawnProbed), one of them under
 * SCHED_FIFO: what the bench's loop-block measurement gives for an event loop that does nothing, on this machine,
 * with its pods, in the same run. Measured after serve stopped (as the scrape floor), so that neither disturbs the
 * other.
 */
export async function measureLoopFloor(repoRoot: string, windows: number, intervalMs: number): Promise<LoopFloor> {
  const start = async (wrap: string[]): Promise<{ child: ChildProcess; lines: ProbeLine[]; exited: () => boolean }> => {
    const child = track(await spawnProbed(repoRoot, EMPTY_LOOP, wrap));
    const lines: ProbeLine[] = [];
    let gone = false;
    child.once('exit', () => void (gone = true));
    onLines(child.stderr!, (l) => {
      const p = probeLine(l);
      if (p !== null) lines.push(p);
    }, 1 << 16);
    return { child, lines, exited: () => gone };
  };
  const plain = await start([]);
  const rt = await start(['chrt', '-f', '1']);
  try {
    await sleep(1500); // past node's start-up (a chrt that failed has exited by now)
    const live = [plain, rt].filter((p) => !p.exited());
    if (plain.exited()) throw new AgentError('BENCH_PROBE', 'the loop floor\'s node exited at start');
    for (let i = 0; i <= windows; i++) {
      for (const p of live) if (!p.exited()) process.kill(p.child.pid!, 'SIGUSR2');
      if (i < windows) await sleep(intervalMs);
    }
    await sleep(200);
    const of = (p: { lines: ProbeLine[] }): FloorWindow[] => p.lines.slice(1, windows + 1).map((l) => ({ maxBlockMs: l.maxBlockMs, ...(l.worst ? { worst: l.worst } : {}) }));
    if (plain.lines.length < windows + 1) throw new AgentError('BENCH_PROBE', `the loop floor saw ${plain.lines.length - 1} of ${windows} windows`);
    return { intervalMs, windows: of(plain), ...(rt.lines.length >= windows + 1 ? { rtWindows: of(rt) } : {}) };
  } finally {
    await stopChild(plain.child);
    await stopChild(rt.child);
  }
}
