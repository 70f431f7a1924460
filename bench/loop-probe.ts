/**
 * Bench-only instrumentation preloaded into the real `serve` (`node <shipped flags> --import
 * dist/bench/loop-probe.js bin/chaos-node-agent.js serve ...`; never part of the shipped agent): how long the event
 * loop was blocked, window by window. perf_hooks.monitorEventLoopDelay with a RESOLUTION_MS timer records the time
 * between two firings of that timer; the longest block in a window is the longest of them minus the resolution.
 *
 * On SIGUSR2 it writes one line `LOOPPROBE {json}` to stderr and starts a new window: the window's longest block
 * and p99 (ms), the timer firings it saw, and the process's CPU (user+system of every thread, ms) and reaped
 * children's CPU (ms) so far. bench/serve-load.ts sends SIGUSR2 each time serve logs "collection published", so a
 * window is one collection interval: the collection, its rendering and whatever scrapes arrived meanwhile.
 *
 * Main thread only: node gives a preloaded module (--import) to every worker thread too, and until 2026-12-01 the probe
 * also ran its 2 ms timer in the agent's reader thread (~500 firings a second there, CPU serve does not spend in
 * production, and a second busy thread competing with the event loop it measures on 2 cores).
 *
 * Its own cost: about 500 firings per second of each of its two timers (the histogram's, and the schedstat sampler's
 * below), which serve's CPU in each window includes; bench/probe-child.ts calibrateProbe measures the whole probe per
 * firing of the histogram's timer and the report subtracts it.
 */
import { openSync, readFileSync, readSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';
import { libc } from '../agent/netns/netlink/libc.js';

export const RESOLUTION_MS = 2;

const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
if (isMainThread) delay.enable();

/** cutime + cstime of /proc/self/stat (children already waited for), ms. */
function childrenCpuMs(): number {
  const text = readFileSync('/proc/self/stat', 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
}

const ms = (ns: number): number => Math.round(ns / 1e3) / 1e3;

/**
 * The run-queue wait of the window's longest gap between two firings of a second RESOLUTION_MS timer, from the main
 * thread's /proc/thread-self/schedstat read at each firing (its second field: ns the thread spent runnable but not
 * running: another thread held its CPU, or the hypervisor held the virtual CPU after the thread woke; the kernel adds
 * a wait when the thread gets its CPU, so every wait that ended before a read is in it). `ownMaxMs` is the window's
 * longest gap less its run-queue wait and the resolution: the event loop's own work (its JS, a GC pause, a blocking
 * call), or the hypervisor holding the virtual CPU while the thread slept or ran, which the guest cannot see (perf
 * sched showed the main thread asleep in epoll_wait 18-26 ms past its 2 ms timer; a SCHED_FIFO sleeper overshoots
 * 10 ms too): an upper bound of the thread's own blocks.
 *
 * `cpuMs` is the thread's CPU within the gap, exact (clock_gettime(CLOCK_THREAD_CPUTIME_ID) through the agent's own
 * libc binding, which serve's main thread loads anyway: agent/file-pages.ts; schedstat's first field lags by up to a
 * scheduler tick, 4 ms here). A gap with little of it was spent asleep past the timer, on a run queue, or with the
 * virtual CPU held by the hypervisor (this kernel accounts steal apart: stolen time is in no field of the thread); a
 * gap with nearly all of it was the loop's own work. `cpuMaxMs` is the most of it in any gap of the window.
 *
 * `activeMs` is the gap less the time libuv spent in epoll_wait meanwhile (performance.eventLoopUtilization's idle):
 * the loop at work or kept from it once epoll had returned (preempted, a GC waiting for its helpers, a blocking call).
 * A wake-up late from the timer, and a wait for a CPU before epoll returned, are epoll's: an idle loop that wakes late
 * was not blocked. `activeMaxMs` is the most of it in any gap of the window. `stealMs` on each line is /proc/stat's
 * steal over the window (every CPU): the hypervisor running something else while this machine wanted its CPUs.
 */
interface Gap {
  gapMs: number;
  runqMs: number;
  cpuMs: number;
  activeMs: number;
}
const schedFd = isMainThread ? openSync('/proc/thread-self/schedstat', 'r') : -1;
const schedBuf = Buffer.alloc(128);
/** ns spent runnable, waiting on a run queue (schedstat's second field). */
function runDelayNs(): number {
  const n = readSync(schedFd, schedBuf, 0, schedBuf.length, 0);
  return Number(schedBuf.toString('latin1', 0, n).split(' ')[1]);
}
const cpuNs = isMainThread ? libc().threadCpuNanos : (): number => 0;
let last = { t: 0n, run: 0, wait: 0, idle: 0 };
let worst: Gap = { gapMs: 0, runqMs: 0, cpuMs: 0, activeMs: 0 };
let ownMaxMs = 0;
let cpuMaxMs = 0;
let activeMaxMs = 0;
/** When the gap with the most CPU ended, ms since the process started (performance.now(), as --trace-gc's clock). */
let cpuMaxAt = 0;
function sample(): void {
  const t = process.hrtime.bigint();
  const run = cpuNs();
  const wait = runDelayNs();
  const idle = performance.eventLoopUtilization().idle;
  if (last.t !== 0n) {
    const gapMs = Number(t - last.t) / 1e6;
    const runqMs = (wait - last.wait) / 1e6;
    const cpuMs = (run - last.run) / 1e6;
    const activeMs = gapMs - (idle - last.idle);
    if (activeMs > activeMaxMs) activeMaxMs = activeMs;
    if (gapMs > worst.gapMs) worst = { gapMs, runqMs, cpuMs, activeMs };
    ownMaxMs = Math.max(ownMaxMs, gapMs - runqMs - RESOLUTION_MS);
    if (cpuMs > cpuMaxMs) {
      cpuMaxMs = cpuMs;
      cpuMaxAt = performance.now();
    }
  }
  last = { t, run, wait, idle };
}

/** The steal column of /proc/stat's first line (every CPU; ticks of 10 ms), ms: time the hypervisor ran something else. */
function stealMs(): number {
  const f = readFileSync('/proc/stat', 'latin1').slice(0, 200).split('\n')[0]!.trim().split(/ +/);
  return Number(f[8] ?? 0) * 10;
}
let stealAt = isMainThread ? stealMs() : 0;
if (isMainThread) setInterval(sample, RESOLUTION_MS).unref();
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

if (isMainThread) process.on('SIGUSR2', () => {
  const max = delay.count > 0 ? Math.max(0, ms(delay.max) - RESOLUTION_MS) : 0;
  const p99 = delay.count > 0 ? Math.max(0, ms(delay.percentile(99)) - RESOLUTION_MS) : 0;
  const count = delay.count;
  delay.reset();
  const cpu = process.cpuUsage();
  const gap = { gapMs: r3(Math.max(0, worst.gapMs - RESOLUTION_MS)), runqMs: r3(worst.runqMs), cpuMs: r3(worst.cpuMs), activeMs: r3(worst.activeMs), activeMaxMs: r3(activeMaxMs), ownMaxMs: r3(Math.max(0, ownMaxMs)), cpuMaxMs: r3(cpuMaxMs), cpuMaxAt: Math.round(cpuMaxAt) };
  worst = { gapMs: 0, runqMs: 0, cpuMs: 0, activeMs: 0 };
  ownMaxMs = 0;
  cpuMaxMs = 0;
  activeMaxMs = 0;
  const steal = stealMs();
  const stealDelta = steal - stealAt;
  stealAt = steal;
  process.stderr.write(`LOOPPROBE ${JSON.stringify({ t: Date.now(), maxBlockMs: max, p99BlockMs: p99, firings: count, cpuMs: (cpu.user + cpu.system) / 1000, childrenCpuMs: childrenCpuMs(), stealMs: stealDelta, worst: gap })}\n`);
});
